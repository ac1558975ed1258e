"""Passwords, tokens, CSRF, the principal and its data scope, roles and permissions.

The principal is who is acting and what it may see: its roles give permissions (each route
declares the one it needs) and its scope (a division subtree and/or a unit) limits the rows every
service query returns. Scope is applied in service queries through :meth:`Scope.clause`, once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, false, or_, true
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core.errors import PermissionDenied


class Role(StrEnum):
    ADMIN = "admin"
    COMMANDER = "commander"  # 指挥长
    DUTY_LEADER = "duty_leader"  # 带班领导
    DUTY_OFFICER = "duty_officer"  # 值班员
    UNIT_LIAISON = "unit_liaison"  # 联动单位联络员
    FIELD_WORKER = "field_worker"  # 网格员 / 现场人员
    EXPERT = "expert"  # 专家
    VIEWER = "viewer"


class Permission(StrEnum):
    ORG_READ = "org.read"
    ORG_WRITE = "org.write"
    USER_MANAGE = "user.manage"
    AUDIT_READ = "audit.read"
    # 共享表: the tables the whole platform shares (categories, deadlines, routing for
    # everywhere). Only an administrator whose scope is everything holds it.
    REFERENCE_WRITE = "reference.write"
    # The kernel (timers, event subscribers): also only an administrator of everything.
    SYSTEM_ADMIN = "system.admin"
    EVENTS_READ = "events.read"
    INCIDENT_READ = "incident.read"
    INCIDENT_WRITE = "incident.write"
    REPORT_CREATE = "report.create"
    DISPATCH_WRITE = "dispatch.write"
    ORDER_ACT = "order.act"
    KPI_READ = "kpi.read"


P = Permission
_READ = {P.ORG_READ, P.EVENTS_READ, P.INCIDENT_READ, P.KPI_READ}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.COMMANDER: frozenset(
        _READ | {P.INCIDENT_WRITE, P.DISPATCH_WRITE, P.REPORT_CREATE, P.AUDIT_READ}
    ),
    Role.DUTY_LEADER: frozenset(
        _READ | {P.INCIDENT_WRITE, P.DISPATCH_WRITE, P.REPORT_CREATE, P.AUDIT_READ}
    ),
    Role.DUTY_OFFICER: frozenset(_READ | {P.INCIDENT_WRITE, P.DISPATCH_WRITE, P.REPORT_CREATE}),
    Role.UNIT_LIAISON: frozenset(_READ | {P.ORDER_ACT, P.REPORT_CREATE}),
    Role.FIELD_WORKER: frozenset(
        {P.ORG_READ, P.EVENTS_READ, P.INCIDENT_READ, P.REPORT_CREATE, P.ORDER_ACT}
    ),
    Role.EXPERT: frozenset(_READ),
    Role.VIEWER: frozenset(_READ),
}


@dataclass(frozen=True)
class Scope:
    """What a principal may see: everything, or a division subtree and/or one unit."""

    everything: bool = False
    division_path: str | None = None
    unit_id: uuid.UUID | None = None
    # The area whose reference data (divisions, map) the principal works in: its division, or
    # the division its unit serves.
    area_path: str | None = None

    def covers(self, *, division_path: str | None = None, unit_id: object = None) -> bool:
        if self.everything:
            return True
        if self.division_path and division_path and division_path.startswith(self.division_path):
            return True
        return (
            self.unit_id is not None and unit_id is not None and str(unit_id) == str(self.unit_id)
        )

    def covers_area(self, division_path: str) -> bool:
        if self.everything:
            return True
        area = self.area_path or self.division_path
        return bool(area) and division_path.startswith(area or "")

    def area_clause(self, path_column: Any) -> ColumnElement[bool]:
        """A SQL condition limiting reference data (divisions) to the principal's area."""
        area = self.area_path or self.division_path
        if self.everything:
            return true()
        return path_column.startswith(area, autoescape=True) if area else false()

    def covers_any_unit(self, unit_ids: tuple[str, ...] | list[str]) -> bool:
        return self.unit_id is not None and str(self.unit_id) in {str(u) for u in unit_ids}

    def clause(self, path_column: Any = None, unit_column: Any = None) -> ColumnElement[bool]:
        """A SQL condition limiting rows to this scope."""
        if self.everything:
            return true()
        conditions: list[ColumnElement[bool]] = []
        if self.division_path and path_column is not None:
            conditions.append(path_column.startswith(self.division_path, autoescape=True))
        if self.unit_id is not None and unit_column is not None:
            conditions.append(unit_column == self.unit_id)
        return or_(*conditions) if conditions else false()


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    username: str
    display_name: str
    roles: frozenset[Role]
    scope: Scope
    unit_id: uuid.UUID | None = None
    auth: str = "session"  # "session" (cookie) or "bearer"
    permissions: frozenset[Permission] = field(default_factory=frozenset)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise PermissionDenied(
                "permission_denied",
                f"this action needs the permission {permission.value}",
                {"permission": permission.value},
            )


#: What only a principal whose scope is everything may hold, whatever its roles: an administrator
#: of an area changes what lies in its area, never what every area shares.
EVERYTHING_ONLY: frozenset[Permission] = frozenset({P.REFERENCE_WRITE, P.SYSTEM_ADMIN})


def permissions_for(
    roles: frozenset[Role] | set[Role], *, everything: bool = False
) -> frozenset[Permission]:
    """The permissions of ``roles``; those of :data:`EVERYTHING_ONLY` only when the principal's
    scope is everything."""
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    if not everything:
        granted -= EVERYTHING_ONLY
    return frozenset(granted)


SYSTEM = Principal(
    user_id=uuid.UUID(int=0),
    username="system",
    display_name="系统 system",
    roles=frozenset({Role.ADMIN}),
    scope=Scope(everything=True),
    permissions=frozenset(Permission),
)

# --- passwords ---------------------------------------------------------------------------------

_hasher = PasswordHasher()


def configure_hasher(*, cheap: bool) -> None:
    """Tests use cheap parameters so hundreds of users hash quickly; production never does."""
    global _hasher  # noqa: PLW0603 - one hasher per process
    _hasher = (
        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1) if cheap else PasswordHasher()
    )


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


# A hash of nothing in particular: verifying against it for an unknown user costs the same time
# as for a known one, so response time does not reveal which usernames exist.
DUMMY_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("not-a-password")

# --- tokens and CSRF -----------------------------------------------------------------------------


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_for(session_token: str, secret: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{session_token}".encode(), hashlib.sha256).hexdigest()


def csrf_matches(session_token: str, presented: str | None, secret: str) -> bool:
    return presented is not None and hmac.compare_digest(
        csrf_token_for(session_token, secret), presented
    )


# --- who is asking ------------------------------------------------------------------------------

Authenticator = Callable[[AsyncSession, str, str], Awaitable[Principal | None]]
_authenticator: Authenticator | None = None


def set_authenticator(fn: Authenticator) -> None:
    """The org domain tells the kernel how to turn a token into a principal."""
    global _authenticator  # noqa: PLW0603 - one authenticator per process
    _authenticator = fn


async def authenticate(session: AsyncSession, token: str, kind: str) -> Principal | None:
    if _authenticator is None:
        raise RuntimeError("no authenticator registered")
    return await _authenticator(session, token, kind)
