"""Use cases of the organisation domain: each writes, audits and emits in one transaction."""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit, clock, events, metrics, security, tabular
from yingji.core.changes import record_change
from yingji.core.db import savepoint
from yingji.core.errors import Conflict, DomainError, PermissionDenied, ValidationFailed
from yingji.core.events import EventScope
from yingji.core.security import Permission, Principal, Role
from yingji.org import imports, schemas, service
from yingji.org.models import Division, LinkageUnit, Person, UserAccount

log = logging.getLogger(__name__)


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
    *, session: AsyncSession, principal: Principal, data: schemas.DivisionCreate
) -> Division:
    if data.parent_adcode:
        parent = await service.get_division(
            session=session, adcode=data.parent_adcode, scope=principal.scope
        )
        if parent is None:
            raise ValidationFailed("parent_not_found", f"no parent division {data.parent_adcode}")
        _require_area(principal, parent.path)
    elif not principal.scope.everything:
        raise PermissionDenied("outside_scope", "only a national administrator adds a root")
    if data.boundary is not None:
        await _check_drawing(session, principal, data.parent_adcode)
    division = await service.create_division(session=session, data=data.model_dump())
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
    data: schemas.DivisionUpdate,
    with_children: bool = True,
) -> Division:
    """Rename or redraw a division of one's area. The boundary of the area itself is drawn by
    the administrator above (it is what the area administrator is trusted within)."""
    division = await service.get_division_or_raise(
        session=session, adcode=adcode, scope=principal.scope
    )
    if data.boundary is not None and not principal.scope.everything:
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
        session=session,
        division=division,
        data=data.model_dump(exclude_unset=True),
        with_children=with_children,
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
    *, session: AsyncSession, principal: Principal, data: schemas.UnitCreate
) -> LinkageUnit:
    division = await service.get_division(
        session=session, adcode=data.division_adcode, scope=principal.scope
    )
    if division is None:
        raise ValidationFailed("division_not_found", f"no division {data.division_adcode}")
    unit = await service.create_unit(session=session, data=data.model_dump())
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
    *, session: AsyncSession, principal: Principal, unit_id: uuid.UUID, data: schemas.UnitUpdate
) -> LinkageUnit:
    unit = await service.get_unit_or_raise(session=session, unit_id=unit_id, scope=principal.scope)
    if data.division_adcode:
        target = await service.get_division(
            session=session, adcode=data.division_adcode, scope=principal.scope
        )
        if target is None:
            raise ValidationFailed("division_not_found", f"no division {data.division_adcode}")
    before = audit.snapshot(unit, service.UNIT_FIELDS)
    was_in = _unit_audience(unit)
    await service.update_unit(session=session, unit=unit, data=data.model_dump(exclude_unset=True))
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
    *, session: AsyncSession, principal: Principal, data: schemas.PersonCreate
) -> Person:
    unit = await service.get_unit_or_raise(
        session=session, unit_id=data.unit_id, scope=principal.scope
    )
    person = await service.create_person(session=session, data=data.model_dump())
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
    *,
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    data: schemas.PersonUpdate,
) -> Person:
    person = await service.get_person_or_raise(
        session=session, person_id=person_id, scope=principal.scope
    )
    unit = await service.get_unit_or_raise(session=session, unit_id=person.unit_id)
    before = audit.snapshot(person, service.PERSON_FIELDS)
    await service.update_person(
        session=session, person=person, data=data.model_dump(exclude_unset=True)
    )
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


async def _user_area(session: AsyncSession, user: UserAccount | None) -> str | None:
    """The area an account's audit rows are filed under (none for a name that is no account)."""
    return None if user is None else (await _user_audience(session, user)).division_path


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
    *, session: AsyncSession, principal: Principal | None, data: schemas.UserCreate
) -> UserAccount:
    """Create an account; ``principal`` None is the command line on the server itself."""
    roles = [str(role) for role in data.roles]
    if principal is not None:
        await _check_grant(session, principal, roles, data.division_adcode, data.unit_code)
    user = await service.create_user(
        session=session,
        username=data.username,
        password=data.password,
        roles=roles,
        display_name=data.display_name,
        division_adcode=data.division_adcode,
        unit_code=data.unit_code,
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


@dataclass(frozen=True)
class _Standing:
    """What an account holds, as a change is judged against it."""

    active: bool
    roles: frozenset[str]
    division_adcode: str | None
    unit_id: uuid.UUID | None

    @classmethod
    def of(cls, user: UserAccount) -> _Standing:
        return cls(user.active, frozenset(user.roles), user.division_adcode, user.unit_id)


def _refuse_self_harm(principal: Principal, before: _Standing, user: UserAccount) -> None:
    """An administrator neither deactivates nor demotes itself (another administrator may):
    checked on the account as changed, against ``before``."""
    if principal.user_id != user.id:
        return
    after = _Standing.of(user)
    if before.active and not after.active:
        raise PermissionDenied("cannot_deactivate_self", "you cannot deactivate your own account")
    lost = sorted(before.roles - after.roles)
    moved = (before.division_adcode, before.unit_id) != (after.division_adcode, after.unit_id)
    if lost or moved:
        raise PermissionDenied(
            "cannot_demote_self",
            "you cannot take roles or scope from your own account",
            {"roles": lost},
        )


async def _scope_after(
    session: AsyncSession, user: UserAccount, change: schemas.UserUpdate
) -> tuple[str | None, str | None]:
    """The division adcode and unit code an account has after ``change``: those sent, else the
    ones it has (a change of roles alone is judged against the account's own scope)."""
    sent = change.model_fields_set
    division = change.division_adcode if "division_adcode" in sent else user.division_adcode
    if "unit_code" in sent:
        return division, change.unit_code
    unit = await service.get_unit(session=session, unit_id=user.unit_id) if user.unit_id else None
    return division, unit.code if unit else None


async def _apply_user_scope(
    session: AsyncSession, user: UserAccount, division_adcode: str | None, unit_code: str | None
) -> None:
    division, unit = await service.resolve_user_scope(
        session=session, division_adcode=division_adcode, unit_code=unit_code
    )
    user.division_adcode = division.adcode if division else None
    user.unit_id = unit.id if unit else None


async def update_user(
    *,
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    change: schemas.UserUpdate,
    current_token: str | None = None,
) -> UserAccount:
    """Change an account: the fields ``change`` was sent with. A new password or a
    deactivation ends every session and token of the account in the same transaction (a
    password changed on one's own account keeps ``current_token``, the session making the
    request). No change may leave the platform without an active administrator of everything."""
    user = await service.get_user_or_raise(session=session, user_id=user_id, scope=principal.scope)
    before = audit.snapshot(user, service.USER_FIELDS)
    standing = _Standing.of(user)
    was_in = await _user_audience(session, user)
    was_full_admin = service.is_full_administrator(user)
    if was_full_admin:
        await service.lock_full_administrators(session=session)
    roles = [str(r) for r in change.roles] if change.roles else list(user.roles)
    rescoped = bool({"division_adcode", "unit_code"} & change.model_fields_set)
    scope_after = await _scope_after(session, user, change)
    if rescoped or change.roles:
        await _check_grant(session, principal, roles, *scope_after)
    if change.roles:
        user.roles = sorted({Role(r).value for r in roles})
    if rescoped:
        await _apply_user_scope(session, user, *scope_after)
    if change.active is not None:
        user.active = change.active
    _refuse_self_harm(principal, standing, user)
    service.check_unit_roles(list(user.roles), user.unit_id)
    if change.display_name:
        user.display_name = change.display_name
    keep = current_token if principal.user_id == user.id else None
    revoked = await _change_password_and_end_sessions(session, user, change.password, keep)
    user.updated_at = clock.now()
    await session.flush()
    if was_full_admin and not service.is_full_administrator(user):
        await _keep_a_full_administrator(session)
    after = audit.snapshot(user, service.USER_FIELDS)
    if change.password:
        after["password_changed"] = True
    if revoked:
        after["sessions_revoked"] = revoked
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


async def _change_password_and_end_sessions(
    session: AsyncSession, user: UserAccount, password: str | None, keep_token: str | None
) -> int:
    """A new password ends the account's sessions and tokens (but ``keep_token``); an inactive
    account keeps none. Returns how many ended."""
    revoked = 0
    if password:
        await service.set_password(session=session, user=user, password=password)
        revoked += await service.revoke_user_sessions(
            session=session, user_id=user.id, keep_token=keep_token
        )
    if not user.active:
        revoked += await service.revoke_user_sessions(session=session, user_id=user.id)
    return revoked


async def _keep_a_full_administrator(session: AsyncSession) -> None:
    if await service.lock_full_administrators(session=session) == 0:
        raise Conflict(
            "last_administrator",
            "this would leave no active administrator of everything; make another one first",
        )


async def sign_out_everywhere(
    *, session: AsyncSession, principal: Principal, user_id: uuid.UUID | None = None
) -> int:
    """End every session and token of an account: one's own (``user_id`` None or one's own id),
    or, for an administrator, of an account in its scope (404 outside it). Returns how many."""
    target = user_id or principal.user_id
    if target != principal.user_id:
        principal.require(Permission.USER_MANAGE)
        await service.get_user_or_raise(session=session, user_id=target, scope=principal.scope)
    revoked = await service.revoke_user_sessions(session=session, user_id=target)
    account = await service.get_user_or_raise(
        session=session, user_id=target, scope=security.SYSTEM.scope
    )
    await audit.record(
        session,
        action="auth.signed_out_everywhere",
        subject_type="user",
        subject_id=target,
        area=await _user_area(session, account),
        after={"sessions_revoked": revoked},
    )
    await _announce_session_end(session, "auth.sessions_revoked", target)
    return revoked


async def _announce_session_end(session: AsyncSession, action: str, user_id: uuid.UUID) -> None:
    """Tell the live hub (and the account's own open pages) that sessions of the account ended,
    so its open ``/ws`` connections check theirs at once."""
    await events.emit(
        session,
        type=action,
        subject_type="user",
        subject_id=user_id,
        payload={},
        scope=EventScope(user_ids=(str(user_id),)),
        actor_id=audit.current_context.get().actor_id,
    )


# --- signing in ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignInPolicy:
    """How failed sign-ins are slowed and reported (``Settings.login_*``).

    Per name and address: ``free_failures`` in a run, then each failure delays the next attempt
    from there by ``delay``, doubled per failure up to ``max_delay``; a run ends ``window``
    after its last failure. The same name from another address is not delayed by it. Per
    address, any names: ``address_free_failures``, then the same delays, except for names that
    signed in from that address lately. Per name, any addresses: every ``alert_failures`` in a
    run alert the account's administrators; the name is never locked by others' failures."""

    free_failures: int
    delay: timedelta
    max_delay: timedelta
    window: timedelta
    address_free_failures: int
    alert_failures: int
    ttl: timedelta


@dataclass(frozen=True)
class SignInResult:
    """Either a token and principal, or why not: failures are committed too (throttling)."""

    token: str | None = None
    principal: Principal | None = None
    error: str | None = None
    retry_after: int = 0


def _refused(until: datetime) -> SignInResult:
    metrics.login_failures.inc()
    return SignInResult(error="too_many_attempts", retry_after=_seconds_until(until))


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
    """Check a password and open a session or token; slow down repeated failures.

    An attempt while a delay holds is refused unchecked (429). An unknown name is checked
    against a dummy hash as costly as a real one, so answers take as long either way.
    """
    pair, address = service.pair_key(username, ip), service.address_key(ip)
    rows = await service.throttle_rows(session=session, keys=[pair, address])
    until = service.delay_until(rows.get(pair))
    if until is None and not service.known_pair(rows.get(pair)):
        until = service.delay_until(rows.get(address))
    if until is not None:
        return _refused(until)
    user = await service.get_user_by_username(session=session, username=username)
    if user is None:
        await security.verify_unknown_user(password)
        valid = False
    else:
        valid = await security.verify_password(user.password_hash, password)
    if user is None or not valid or not user.active:
        return await _count_failure(session, username, user, ip, kind, policy)
    await service.count_success(session=session, key=pair)
    if security.password_needs_rehash(user.password_hash):
        user.password_hash = await security.hash_password(password)
    user.last_login_at = clock.now()
    token = await service.open_auth_session(
        session=session, user=user, kind=kind, ttl=policy.ttl, ip=ip, user_agent=user_agent
    )
    principal = await service.principal_for_user(session=session, user=user, auth=kind)
    await audit.record(
        session,
        action="auth.signed_in",
        subject_type="user",
        subject_id=user.id,
        area=principal.scope.area_path,
        after={"kind": kind},
        context=_sign_in_context(str(user.id), user.username, ip),
    )
    return SignInResult(token=token, principal=principal)


def _sign_in_context(
    actor_id: str | None, actor_name: str | None, ip: str | None
) -> audit.RequestContext:
    return audit.RequestContext(
        actor_id=actor_id,
        actor_name=actor_name,
        ip=ip,
        request_id=audit.current_context.get().request_id,
    )


async def _count_failure(
    session: AsyncSession,
    username: str,
    user: UserAccount | None,
    ip: str | None,
    kind: str,
    policy: SignInPolicy,
) -> SignInResult:
    metrics.login_failures.inc()
    delays = {"delay": policy.delay, "max_delay": policy.max_delay, "window": policy.window}
    pair = await service.count_failure(
        session=session,
        key=service.pair_key(username, ip),
        free=policy.free_failures,
        **delays,
    )
    await service.count_failure(
        session=session,
        key=service.address_key(ip),
        free=policy.address_free_failures,
        **delays,
    )
    name = await service.count_failure(
        session=session, key=service.name_key(username), window=policy.window
    )
    await service.forget_stale_throttles(session=session)
    await audit.record(
        session,
        action="auth.sign_in_failed",
        subject_type="user",
        subject_id=str(user.id) if user else username[:64],
        area=await _user_area(session, user),
        after={"kind": kind, "username": username[:64]},
        context=_sign_in_context(None, None, ip),
    )
    if name.failures % policy.alert_failures == 0:
        await _alert_repeated_failures(session, username, user, name.failures, ip, policy)
    until = service.delay_until(pair)
    if until is not None:
        return SignInResult(error="too_many_attempts", retry_after=_seconds_until(until))
    return SignInResult(error="invalid_credentials")


async def _alert_repeated_failures(
    session: AsyncSession,
    username: str,
    user: UserAccount | None,
    failures: int,
    ip: str | None,
    policy: SignInPolicy,
) -> None:
    """Many failed sign-ins of one name (from any addresses): an audit row, a log warning, and
    an event to each administrator whose scope holds the account, which notifies them."""
    minutes = int(policy.window.total_seconds() // 60)
    log.warning(
        "repeated failed sign-ins",
        extra={"username": username[:64], "failures": failures, "last_ip": ip, "known": bool(user)},
    )
    await audit.record(
        session,
        action="auth.repeated_failures",
        subject_type="user",
        subject_id=str(user.id) if user else username[:64],
        area=await _user_area(session, user),
        after={"username": username[:64], "failures": failures, "window_minutes": minutes},
        context=_sign_in_context(None, None, ip),
    )
    if user is None:
        return
    admins = tuple(
        str(admin.id) for admin in await service.administrators_of(session=session, user=user)
    )
    if not admins:
        return
    title = f"登录失败告警 {user.username}"
    notice = {
        "kind": "repeated_sign_in_failures",
        "title": title,
        "body": (
            f"账号 {user.username}（{user.display_name}）已连续登录失败 {failures} 次"
            f"（最近来自 {ip or '未知地址'}），可能有人在猜测密码。"
        ),
        "user_ids": list(admins),
        "said": {"username": user.username},
    }
    # to the account's administrators only; notify.jobs.Notices tells each of them
    await events.emit(
        session,
        type="auth.repeated_failures",
        subject_type="user",
        subject_id=user.id,
        payload={"username": user.username, "failures": failures, "notices": [notice]},
        scope=EventScope(user_ids=admins),
    )


def _seconds_until(moment: datetime) -> int:
    return max(math.ceil((moment - clock.now()).total_seconds()), 1)


async def sign_out(*, session: AsyncSession, principal: Principal, token: str) -> None:
    """End this session; the account's own open pages hear of it (their ``/ws`` checks)."""
    await service.revoke_auth_session(session=session, token=token)
    await record_change(
        session,
        action="auth.signed_out",
        subject_type="user",
        subject_id=principal.user_id,
        before=None,
        after=None,
        audience=EventScope(
            division_path=principal.scope.area_path, user_ids=(str(principal.user_id),)
        ),
    )


# --- imports -------------------------------------------------------------------------------------

_Change = TypeVar("_Change", bound=BaseModel)


def _given(change: type[_Change], row: dict[str, Any]) -> _Change:
    """A file's row (checked when parsed) as a change of the fields the row fills: a blank cell
    changes nothing."""
    given = {k: v for k, v in row.items() if v is not None and k in change.model_fields}
    return change.model_construct(_fields_set=set(given), **given)


Progress = Callable[[int, int], None]


def _no_progress(_done: int, _total: int) -> None:
    return None


async def _import_rows(
    session: AsyncSession,
    parsed: imports.Parsed,
    write: Callable[[int, dict[str, Any]], Awaitable[bool]],
    progress: Progress,
    finish: Callable[[], Awaitable[list[tabular.LineError]]] | None = None,
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
            errors.append(tabular.refused(line, None, exc))
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
            created = schemas.DivisionCreate.model_construct(**row)  # checked when parsed
            await create_division(session=session, principal=actor, data=created)
            return True
        await update_division(
            session=session,
            principal=actor,
            adcode=row["adcode"],
            data=_given(schemas.DivisionUpdate, row),
            with_children=False,
        )
        if row.get("boundary") is not None:
            redrawn.append((line, row["adcode"]))
        return False

    async def children_held() -> list[tabular.LineError]:
        errors = []
        for line, adcode in redrawn:
            division = await service.get_division_or_raise(session=session, adcode=adcode)
            try:
                await service.check_children_held(session=session, division=division)
            except DomainError as exc:
                errors.append(tabular.refused(line, "boundary", exc))
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
            created = schemas.UnitCreate.model_construct(**row)  # checked when parsed
            await create_unit(session=session, principal=actor, data=created)
            return True
        await update_unit(
            session=session,
            principal=actor,
            unit_id=existing.id,
            data=_given(schemas.UnitUpdate, row),
        )
        return False

    return await _import_rows(session, parsed, write, progress)
