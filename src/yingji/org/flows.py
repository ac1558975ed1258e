"""Use cases of the organisation domain: each writes, audits and emits in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit, clock, metrics, security
from yingji.core.changes import record_change
from yingji.core.db import savepoint
from yingji.core.errors import DomainError, PermissionDenied, ValidationFailed
from yingji.core.events import EventScope
from yingji.core.security import Permission, Principal, Role
from yingji.org import imports, service
from yingji.org.models import Division, LinkageUnit, Person, UserAccount


def _require_area(principal: Principal, path: str) -> None:
    if not principal.scope.covers_area(path):
        raise PermissionDenied("outside_scope", "that lies outside your jurisdiction")


# --- divisions -----------------------------------------------------------------------------------


async def _check_drawing(
    session: AsyncSession, principal: Principal, parent_adcode: str | None
) -> None:
    """An area administrator draws only inside a boundary of its own area: the nearest bounded
    ancestor of what it draws lies in its area. (Under an unbounded one it could draw anywhere
    that ancestor's own ancestors hold, and take the reports of every place it covers.)"""
    if principal.scope.everything:
        return
    container = await service.bounded_ancestor(session=session, adcode=parent_adcode)
    if container is None or not principal.scope.covers_area(container.path):
        raise ValidationFailed(
            "parent_boundary_required",
            "a boundary is drawn inside a boundary of your area; ask the administrator above "
            "to draw your area's boundary first",
            {"parent_adcode": parent_adcode},
        )


async def create_division(
    *, session: AsyncSession, principal: Principal, data: dict[str, Any]
) -> Division:
    if data.get("parent_adcode"):
        parent = await service.get_division(
            session=session, adcode=data["parent_adcode"], scope=principal.scope
        )
        if parent is None:
            raise ValidationFailed(
                "parent_not_found", f"no parent division {data['parent_adcode']}"
            )
        _require_area(principal, parent.path)
    elif not principal.scope.everything:
        raise PermissionDenied("outside_scope", "only a national administrator adds a root")
    if data.get("boundary") is not None:
        await _check_drawing(session, principal, data.get("parent_adcode"))
    division = await service.create_division(session=session, data=data)
    await record_change(
        session,
        action="org.division.created",
        subject_type="division",
        subject_id=division.adcode,
        before=None,
        after=audit.snapshot(division, service.DIVISION_FIELDS),
        audience=EventScope(division_path=division.path),
    )
    return division


async def update_division(
    *,
    session: AsyncSession,
    principal: Principal,
    adcode: str,
    data: dict[str, Any],
    with_children: bool = True,
) -> Division:
    """Rename or redraw a division of one's area. The boundary of the area itself is drawn by
    the administrator above (it is what the area administrator is trusted within)."""
    division = await service.get_division_or_raise(
        session=session, adcode=adcode, scope=principal.scope
    )
    if data.get("boundary") is not None and not principal.scope.everything:
        parent = (
            await service.get_division(session=session, adcode=division.parent_adcode)
            if division.parent_adcode
            else None
        )
        if parent is None or not principal.scope.covers_area(parent.path):
            raise PermissionDenied(
                "outside_scope",
                "the boundary of your own area is drawn by the administrator above",
                {"adcode": adcode},
            )
        await _check_drawing(session, principal, division.parent_adcode)
    before = audit.snapshot(division, service.DIVISION_FIELDS)
    await service.update_division(
        session=session, division=division, data=data, with_children=with_children
    )
    await record_change(
        session,
        action="org.division.updated",
        subject_type="division",
        subject_id=adcode,
        before=before,
        after=audit.snapshot(division, service.DIVISION_FIELDS),
        audience=EventScope(division_path=division.path),
    )
    return division


# --- units ---------------------------------------------------------------------------------------


async def create_unit(
    *, session: AsyncSession, principal: Principal, data: dict[str, Any]
) -> LinkageUnit:
    division = await service.get_division(
        session=session, adcode=data["division_adcode"], scope=principal.scope
    )
    if division is None:
        raise ValidationFailed("division_not_found", f"no division {data['division_adcode']}")
    unit = await service.create_unit(session=session, data=data)
    await record_change(
        session,
        action="org.unit.created",
        subject_type="unit",
        subject_id=unit.id,
        before=None,
        after=audit.snapshot(unit, service.UNIT_FIELDS),
        audience=EventScope(division_path=unit.division_path, unit_ids=(str(unit.id),)),
    )
    return unit


def _unit_audience(unit: LinkageUnit) -> EventScope:
    return EventScope(division_path=unit.division_path, unit_ids=(str(unit.id),))


async def update_unit(
    *, session: AsyncSession, principal: Principal, unit_id: uuid.UUID, data: dict[str, Any]
) -> LinkageUnit:
    unit = await service.get_unit_or_raise(session=session, unit_id=unit_id, scope=principal.scope)
    if data.get("division_adcode"):
        target = await service.get_division(
            session=session, adcode=data["division_adcode"], scope=principal.scope
        )
        if target is None:
            raise ValidationFailed("division_not_found", f"no division {data['division_adcode']}")
    before = audit.snapshot(unit, service.UNIT_FIELDS)
    was_in = _unit_audience(unit)
    await service.update_unit(session=session, unit=unit, data=data)
    await record_change(
        session,
        action="org.unit.updated",
        subject_type="unit",
        subject_id=unit.id,
        before=before,
        after=audit.snapshot(unit, service.UNIT_FIELDS),
        audience=_unit_audience(unit),
        previous_audience=was_in,
    )
    return unit


# --- people --------------------------------------------------------------------------------------


async def create_person(
    *, session: AsyncSession, principal: Principal, data: dict[str, Any]
) -> Person:
    unit = await service.get_unit_or_raise(
        session=session, unit_id=data["unit_id"], scope=principal.scope
    )
    person = await service.create_person(session=session, data=data)
    await record_change(
        session,
        action="org.person.created",
        subject_type="person",
        subject_id=person.id,
        before=None,
        after=audit.snapshot(person, service.PERSON_FIELDS),
        audience=EventScope(division_path=unit.division_path, unit_ids=(str(unit.id),)),
    )
    return person


async def update_person(
    *, session: AsyncSession, principal: Principal, person_id: uuid.UUID, data: dict[str, Any]
) -> Person:
    person = await service.get_person_or_raise(
        session=session, person_id=person_id, scope=principal.scope
    )
    unit = await service.get_unit_or_raise(session=session, unit_id=person.unit_id)
    before = audit.snapshot(person, service.PERSON_FIELDS)
    await service.update_person(session=session, person=person, data=data)
    await record_change(
        session,
        action="org.person.updated",
        subject_type="person",
        subject_id=person.id,
        before=before,
        after=audit.snapshot(person, service.PERSON_FIELDS),
        audience=EventScope(division_path=unit.division_path, unit_ids=(str(unit.id),)),
    )
    return person


# --- users ---------------------------------------------------------------------------------------


async def _user_audience(session: AsyncSession, user: UserAccount) -> EventScope:
    """A user account's change goes to those who manage users and whose area holds it (as the
    users list shows it); an account with no area only to administrators of everything."""
    path = None
    if user.division_adcode:
        division = await service.get_division(session=session, adcode=user.division_adcode)
        path = division.path if division else None
    unit_ids: tuple[str, ...] = ()
    if user.unit_id:
        unit = await service.get_unit(session=session, unit_id=user.unit_id)
        if unit is not None:
            unit_ids = (str(unit.id),)
            path = path or unit.division_path
    return EventScope(division_path=path, unit_ids=unit_ids, permission=Permission.USER_MANAGE)


async def _check_grant(
    session: AsyncSession,
    principal: Principal,
    roles: list[str],
    division_adcode: str | None,
    unit_code: str | None,
) -> None:
    """An administrator grants only inside its own scope, and only a full admin makes admins."""
    if principal.scope.everything:
        return
    if Role.ADMIN.value in roles and (division_adcode is None and unit_code is None):
        raise PermissionDenied("outside_scope", "only a national administrator makes one")
    division, unit = await service.resolve_user_scope(
        session=session, division_adcode=division_adcode, unit_code=unit_code
    )
    for path in (division.path if division else None, unit.division_path if unit else None):
        if path is not None:
            _require_area(principal, path)


async def create_user(
    *, session: AsyncSession, principal: Principal | None, data: dict[str, Any]
) -> UserAccount:
    """Create an account; ``principal`` None is the command line on the server itself."""
    roles = [str(role) for role in data["roles"]]
    if principal is not None:
        await _check_grant(
            session, principal, roles, data.get("division_adcode"), data.get("unit_code")
        )
    user = await service.create_user(
        session=session,
        username=data["username"],
        password=data["password"],
        roles=roles,
        display_name=data.get("display_name"),
        division_adcode=data.get("division_adcode"),
        unit_code=data.get("unit_code"),
    )
    await record_change(
        session,
        action="org.user.created",
        subject_type="user",
        subject_id=user.id,
        before=None,
        after=audit.snapshot(user, service.USER_FIELDS),
        audience=await _user_audience(session, user),
    )
    return user


async def update_user(
    *, session: AsyncSession, principal: Principal, user_id: uuid.UUID, data: dict[str, Any]
) -> UserAccount:
    user = await service.get_user_or_raise(session=session, user_id=user_id, scope=principal.scope)
    before = audit.snapshot(user, service.USER_FIELDS)
    was_in = await _user_audience(session, user)
    roles = [str(r) for r in data["roles"]] if data.get("roles") else list(user.roles)
    if "division_adcode" in data or "unit_code" in data or data.get("roles"):
        await _check_grant(
            session, principal, roles, data.get("division_adcode"), data.get("unit_code")
        )
    if data.get("roles"):
        user.roles = sorted({Role(r).value for r in roles})
    if "division_adcode" in data or "unit_code" in data:
        division, unit = await service.resolve_user_scope(
            session=session,
            division_adcode=data.get("division_adcode"),
            unit_code=data.get("unit_code"),
        )
        user.division_adcode = division.adcode if division else None
        user.unit_id = unit.id if unit else None
    if data.get("display_name"):
        user.display_name = data["display_name"]
    if data.get("password"):
        user.password_hash = await security.hash_password(data["password"])
    if data.get("active") is not None:
        user.active = bool(data["active"])
    user.updated_at = clock.now()
    await session.flush()
    after = audit.snapshot(user, service.USER_FIELDS)
    if data.get("password"):
        after["password_changed"] = True
    await record_change(
        session,
        action="org.user.updated",
        subject_type="user",
        subject_id=user.id,
        before=before,
        after=after,
        audience=await _user_audience(session, user),
        previous_audience=was_in,
    )
    return user


# --- signing in ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignInPolicy:
    max_failures: int
    window: timedelta
    lockout: timedelta
    ttl: timedelta


@dataclass(frozen=True)
class SignInResult:
    """Either a token and principal, or why not: failures are committed too (throttling)."""

    token: str | None = None
    principal: Principal | None = None
    error: str | None = None
    retry_after: int = 0


def _throttle_keys(username: str, ip: str | None) -> tuple[list[str], list[str]]:
    return [f"user:{username.lower()}"], [f"ip:{ip}"] if ip else []


async def sign_in(
    *,
    session: AsyncSession,
    username: str,
    password: str,
    kind: str,
    ip: str | None,
    user_agent: str | None,
    policy: SignInPolicy,
) -> SignInResult:
    """Check a password and open a session or token; count failures and lock out repeaters.

    Per username, ``max_failures`` within the window locks that name; per address four times
    as many lock the address, so one office behind a NAT is not locked by one person.
    """
    user_keys, ip_keys = _throttle_keys(username, ip)
    locked_until = await service.throttle_state(session=session, keys=user_keys + ip_keys)
    if locked_until is not None:
        metrics.login_failures.inc()
        return SignInResult(error="too_many_attempts", retry_after=_seconds_until(locked_until))
    user = await service.get_user_by_username(session=session, username=username)
    valid = await security.verify_password(
        user.password_hash if user else security.DUMMY_HASH, password
    )
    if user is None or not valid or not user.active:
        metrics.login_failures.inc()
        locked = await service.count_failure(
            session=session,
            keys=user_keys,
            max_failures=policy.max_failures,
            window=policy.window,
            lockout=policy.lockout,
        )
        locked_ip = await service.count_failure(
            session=session,
            keys=ip_keys,
            max_failures=policy.max_failures * 4,
            window=policy.window,
            lockout=policy.lockout,
        )
        await audit.record(
            session,
            action="auth.sign_in_failed",
            subject_type="user",
            subject_id=username[:64],
            after={"kind": kind},
        )
        until = max((t for t in (locked, locked_ip) if t is not None), default=None)
        if until is not None:
            return SignInResult(error="too_many_attempts", retry_after=_seconds_until(until))
        return SignInResult(error="invalid_credentials")
    await service.clear_failures(session=session, keys=user_keys)
    if security.password_needs_rehash(user.password_hash):
        user.password_hash = await security.hash_password(password)
    user.last_login_at = clock.now()
    token = await service.open_auth_session(
        session=session, user=user, kind=kind, ttl=policy.ttl, ip=ip, user_agent=user_agent
    )
    await audit.record(
        session,
        action="auth.signed_in",
        subject_type="user",
        subject_id=user.id,
        after={"kind": kind},
        context=audit.RequestContext(
            actor_id=str(user.id),
            actor_name=user.username,
            ip=ip,
            request_id=audit.current_context.get().request_id,
        ),
    )
    principal = await service.principal_for_user(session=session, user=user, auth=kind)
    return SignInResult(token=token, principal=principal)


def _seconds_until(moment: datetime) -> int:
    return max(int((moment - clock.now()).total_seconds()) + 1, 1)


async def sign_out(*, session: AsyncSession, principal: Principal, token: str) -> None:
    await service.revoke_auth_session(session=session, token=token)
    await audit.record(
        session, action="auth.signed_out", subject_type="user", subject_id=principal.user_id
    )


# --- imports -------------------------------------------------------------------------------------

Progress = Callable[[int, int], None]


def _no_progress(_done: int, _total: int) -> None:
    return None


async def _import_rows(
    session: AsyncSession,
    parsed: imports.Parsed,
    write: Callable[[int, dict[str, Any]], Awaitable[bool]],
    progress: Progress,
    finish: Callable[[], Awaitable[list[imports.LineError]]] | None = None,
) -> tuple[int, int]:
    """Write every row or none: collect each line's error (and those ``finish`` finds once every
    row is written), then fail whole if any."""
    errors = list(parsed.errors)
    created = updated = 0
    total = len(parsed.rows)
    for done, (line, row) in enumerate(parsed.rows, start=1):
        try:
            async with savepoint(session):
                if await write(line, row):
                    created += 1
                else:
                    updated += 1
        except DomainError as exc:
            errors.append(imports.LineError(line, None, f"{exc.code}: {exc.message}"))
        progress(done, total)
    if finish is not None and not errors:
        errors.extend(await finish())
    if errors:
        errors.sort(key=lambda e: e.line)
        raise ValidationFailed(
            "import_failed",
            f"{len(errors)} problem(s) found; nothing was imported",
            {"errors": [e.as_dict() for e in errors[:1000]], "error_count": len(errors)},
        )
    return created, updated


async def import_divisions(
    *,
    session: AsyncSession,
    principal: Principal | None,
    parsed: imports.Parsed,
    progress: Progress = _no_progress,
) -> tuple[int, int]:
    """Create or update divisions from a parsed file; all-or-nothing. Returns (created, updated).

    Each line is checked as the API checks it (a boundary inside its parent's, clear of its
    siblings'). Whether a redrawn boundary still holds its children is checked once every line
    is written, so a file may redraw a town and its villages together."""
    actor = principal or security.SYSTEM
    redrawn: list[tuple[int, str]] = []

    async def write(line: int, row: dict[str, Any]) -> bool:
        existing = await service.get_division(session=session, adcode=row["adcode"])
        if existing is None:
            await create_division(session=session, principal=actor, data=row)
            return True
        await update_division(
            session=session,
            principal=actor,
            adcode=row["adcode"],
            data={k: v for k, v in row.items() if v is not None},
            with_children=False,
        )
        if row.get("boundary") is not None:
            redrawn.append((line, row["adcode"]))
        return False

    async def children_held() -> list[imports.LineError]:
        errors = []
        for line, adcode in redrawn:
            division = await service.get_division_or_raise(session=session, adcode=adcode)
            try:
                await service.check_children_held(session=session, division=division)
            except DomainError as exc:
                errors.append(imports.LineError(line, "boundary", f"{exc.code}: {exc.message}"))
        return errors

    return await _import_rows(session, parsed, write, progress, children_held)


async def import_units(
    *,
    session: AsyncSession,
    principal: Principal | None,
    parsed: imports.Parsed,
    progress: Progress = _no_progress,
) -> tuple[int, int]:
    """Create or update linkage units from a parsed file; all-or-nothing."""
    actor = principal or security.SYSTEM

    async def write(_line: int, row: dict[str, Any]) -> bool:
        existing = await service.get_unit_by_code(session=session, code=row["code"])
        if existing is None:
            await create_unit(session=session, principal=actor, data=row)
            return True
        await update_unit(
            session=session,
            principal=actor,
            unit_id=existing.id,
            data={
                k: v for k, v in row.items() if v is not None and k not in ("code", "parent_code")
            },
        )
        return False

    return await _import_rows(session, parsed, write, progress)
