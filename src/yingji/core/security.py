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
import string
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, false, or_, true
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core.db import in_list
from yingji.core.errors import PermissionDenied, ValidationFailed


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
    """The names of the permissions, which routes, events and the web app share. Which domain
    adds each one, and which roles hold it, the domain declares (``Domain.permissions``, handed
    over by :func:`declare_permissions` when the app or worker is built)."""

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
    RESOURCE_READ = "resource.read"
    RESOURCE_WRITE = "resource.write"
    RESOURCE_REQUEST = "resource.request"
    RESOURCE_APPROVE = "resource.approve"
    WARNING_READ = "warning.read"
    WARNING_DRAFT = "warning.draft"
    WARNING_REVIEW = "warning.review"
    WARNING_SIGN = "warning.sign"
    WARNING_PUBLISH = "warning.publish"
    WARNING_MANAGE = "warning.manage"
    WARNING_CHECK = "warning.check"
    # 值班值守: rosters, check-in, the duty log, handover; 查岗; 信息报送 written and approved
    DUTY_READ = "duty.read"
    DUTY_ROSTER = "duty.roster"
    DUTY_WRITE = "duty.write"
    DUTY_CHECK = "duty.check"
    DUTY_REPORT = "duty.report"
    DUTY_APPROVE = "duty.approve"
    # 一事一档: the case file read and built, the evaluation written
    ARCHIVE_READ = "archive.read"
    ARCHIVE_WRITE = "archive.write"


P = Permission
#: permission → (the domain that declared it, the roles that hold it)
_DECLARED: dict[Permission, tuple[str, frozenset[Role]]] = {}


def declare_permissions(owner: str, grants: Mapping[Permission, frozenset[Role]]) -> None:
    """The permissions domain ``owner`` adds, each with the roles that hold it. Declaring the
    same again is harmless; a permission declared by two domains is an error."""
    for permission, roles in grants.items():
        known = _DECLARED.get(permission)
        if known is not None and known != (owner, roles):
            raise ValueError(f"permission {permission.value!r} is already declared by {known[0]}")
        _DECLARED[permission] = (owner, frozenset(roles))


def role_permissions() -> dict[Role, frozenset[Permission]]:
    """What each role holds, from the declarations; an administrator holds every permission."""
    held: dict[Role, set[Permission]] = {role: set() for role in Role}
    for permission, (_, roles) in _DECLARED.items():
        for role in roles | {Role.ADMIN}:
            held[role].add(permission)
    return {role: frozenset(permissions) for role, permissions in held.items()}


@dataclass(frozen=True)
class Scope:
    """What a principal may see: everything, or a division subtree and/or one unit."""

    everything: bool = False
    division_path: str | None = None
    unit_id: uuid.UUID | None = None
    # The area whose reference data (divisions, map) the principal works in: its division, or
    # the division its unit serves.
    area_path: str | None = None
    # Incidents outside the area that the principal reads all the same: those its unit holds an
    # order on (live, or ended lately). Only the routes that read an incident add them
    # (``core.web.IncidentReader``); every other scope leaves this empty.
    incident_ids: frozenset[uuid.UUID] = frozenset()

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

    def with_incidents(self, incident_ids: frozenset[uuid.UUID]) -> Scope:
        """This scope, also reading ``incident_ids`` (and what belongs to them)."""
        return replace(self, incident_ids=self.incident_ids | incident_ids)

    def clause(
        self, path_column: Any = None, unit_column: Any = None, incident_column: Any = None
    ) -> ColumnElement[bool]:
        """A SQL condition limiting rows to this scope (``incident_column``: the incident a row
        belongs to, for the incidents of :attr:`incident_ids`)."""
        if self.everything:
            return true()
        conditions: list[ColumnElement[bool]] = []
        if self.division_path and path_column is not None:
            conditions.append(path_column.startswith(self.division_path, autoescape=True))
        if self.unit_id is not None and unit_column is not None:
            conditions.append(unit_column == self.unit_id)
        if self.incident_ids and incident_column is not None:
            conditions.append(incident_column.in_(in_list(sorted(self.incident_ids))))
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
    if not _DECLARED:
        raise RuntimeError("no permissions declared: build the app or worker from yingji.domains")
    granted: set[Permission] = set()
    for permission, (_, holders) in _DECLARED.items():
        if Role.ADMIN in roles or holders & roles:
            granted.add(permission)
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
# The hash an unknown user's password is checked against, made with the current hasher's
# parameters (built on first use, and again after :func:`configure_hasher`): checking it costs
# what checking a real one costs, so the time of an answer does not tell which names exist.
_dummy_hash: str | None = None


def configure_hasher(*, cheap: bool) -> None:
    """Tests use cheap parameters so hundreds of users hash quickly; production never does."""
    global _hasher, _dummy_hash  # noqa: PLW0603 - one hasher per process
    _hasher = (
        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1) if cheap else PasswordHasher()
    )
    _dummy_hash = None


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(_verify, _hasher, password_hash, password)


async def verify_unknown_user(password: str) -> None:
    """Spend on a sign-in with an unknown name what checking a real password would cost."""

    def check() -> None:
        global _dummy_hash  # noqa: PLW0603 - built once per hasher
        hasher = _hasher
        dummy = _dummy_hash
        if dummy is None:
            dummy = _dummy_hash = hasher.hash(secrets.token_urlsafe(16))
        _verify(hasher, dummy, password)

    await asyncio.to_thread(check)


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 200
_MIN_DISTINCT = 6
# Words and runs that make a password guessable however they are decorated with digits and
# symbols (``Password2026!``, ``qwerty@123``): compared after lower-casing, undoing common
# letter-for-symbol swaps and stripping leading and trailing digits and symbols.
_COMMON_WORDS = frozenset(
    {
        "password",
        "passw0rd",
        "passwort",
        "motdepasse",
        "admin",
        "administrator",
        "root",
        "system",
        "login",
        "welcome",
        "letmein",
        "iloveyou",
        "woaini",
        "woaini1314",
        "aini",
        "qwerty",
        "qwertyuiop",
        "asdfgh",
        "asdfghjkl",
        "zxcvbn",
        "zxcvbnm",
        "qazwsx",
        "qazwsxedc",
        "zaq12wsx",
        "1qaz2wsx",
        "1q2w3e4r",
        "1q2w3e4r5t",
        "abc",
        "abcd",
        "abcdef",
        "abcdefg",
        "abcdefgh",
        "abcdefghij",
        "monkey",
        "dragon",
        "master",
        "shadow",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "superman",
        "batman",
        "trustno1",
        "changeme",
        "default",
        "secret",
        "guest",
        "test",
        "tester",
        "user",
        "username",
        "yingji",
        "emergency",
        "china",
        "beijing",
        "shanghai",
        "huawei",
        "baidu",
        "taobao",
        "wangyi",
        "tencent",
    }
)
_RUNS = (
    "01234567890",
    "09876543210",
    "abcdefghijklmnopqrstuvwxyz",
    "zyxwvutsrqponmlkjihgfedcba",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "1qaz2wsx3edc4rfv5tgb",
    "1q2w3e4r5t6y7u8i9o0p",
)
_LEET = str.maketrans(
    {"@": "a", "4": "a", "0": "o", "1": "i", "!": "i", "3": "e", "$": "s", "5": "s"}
)
_EDGES = string.digits + string.punctuation + " "


def _character_kinds(password: str) -> int:
    kinds = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() or not c.isascii() for c in password),
    )
    return sum(kinds)


def _guessable(password: str) -> bool:
    lowered = password.lower()
    if any(lowered in run for run in _RUNS):
        return True
    core = lowered.strip(_EDGES)
    return not core or core in _COMMON_WORDS or core.translate(_LEET) in _COMMON_WORDS


def password_problems(password: str, *, username: str | None = None) -> list[str]:
    """Why ``password`` is refused (stable codes, empty when it is acceptable).

    ``too_short`` under :data:`PASSWORD_MIN_LENGTH` characters, ``too_long`` over
    :data:`PASSWORD_MAX_LENGTH`; ``contains_username``; ``common`` (a well-known password, a word
    such as ``password`` or ``admin`` decorated with digits and symbols, a keyboard or counting
    run); ``too_simple`` (one kind of character only, or fewer than six different characters).
    """
    problems: list[str] = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append("too_short")
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append("too_long")
    if username and len(username) >= 3 and username.lower() in password.lower():
        problems.append("contains_username")
    if _guessable(password):
        problems.append("common")
    if _character_kinds(password) < 2 or len(set(password)) < _MIN_DISTINCT:
        problems.append("too_simple")
    return problems


def check_password_policy(password: str, *, username: str | None = None) -> None:
    """Refuse a new password that breaks the policy (422 ``weak_password``, with the reasons)."""
    problems = password_problems(password, username=username)
    if problems:
        raise ValidationFailed(
            "weak_password",
            "the password is too weak: " + ", ".join(problems),
            {"reasons": problems, "min_length": PASSWORD_MIN_LENGTH},
        )


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
