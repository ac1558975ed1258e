"""到岗签到 (check-in) and 查岗 (spot checks) of a division's duty.

Check-in: the person rostered on a shift (their own account) or a roster manager over the
division checks in from an hour before the shift starts until it ends. A check-in timer per
shift (``duty.check_in_due``, at the start plus :data:`GRACE`) marks a shift nobody checked in
on as ``missed`` and tells the duty chief on duty over the division and the duty chief on duty
at the level above (``core.on_duty``; with no roster there, the duty leaders of that division).

The timers are armed from the shifts themselves (and with them the timers that open the
handover at each shift change, ``handover.arm_openings``), whoever wrote them (the roster's
generator, swaps, the .xlsx import): :func:`arm` schedules one for every scheduled shift that
starts within :data:`ARM_AHEAD` and has none, and the arming timer (``duty.check_in_arm``) runs
it every :data:`ARM_EVERY`. A shift written less than an hour before its start is armed by the
import (:func:`arm` with its ids) or by the next arming run, which fires at once if it is
already late.
The check-in timer re-reads the shift when it fires: a shift moved later is re-armed, one
checked in (or gone) is left alone.

查岗: the level above records that it called a division's duty phone: answered or not, by whom,
after how many seconds. Only divisions strictly below one's own are checked.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock, timers
from yingji.core.changes import record_change
from yingji.core.db import rows_affected
from yingji.core.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from yingji.core.events import EventScope
from yingji.core.on_duty import Position, on_duty
from yingji.core.security import SYSTEM, Permission, Principal, Role
from yingji.duty import handover
from yingji.duty.models import DutyShift, DutySpotCheck, ShiftState
from yingji.org import service as org

CHECK_IN_TIMER = "duty.check_in_due"
ARM_TIMER = "duty.check_in_arm"
#: a shift nobody checked in on by its start plus this is missed
GRACE = timedelta(minutes=15)
#: check-in opens this long before the shift starts
EARLY = timedelta(hours=1)
#: how often the arming timer runs, and how far ahead it arms
ARM_EVERY = timedelta(hours=1)
ARM_AHEAD = timedelta(hours=26)
#: a spot check is recorded at most this long after it was made
SPOT_CHECK_BACKDATE = timedelta(days=7)

POSITION_NAMES = {
    Position.LEADER.value: "带班领导",
    Position.CHIEF.value: "值班长",
    Position.OFFICER.value: "值班员",
    Position.PROFESSIONAL.value: "专业值班人员",
}


def shift_facts(shift: DutyShift) -> dict[str, Any]:
    """A shift as the events and audit rows carry it."""
    return {
        "id": str(shift.id),
        "division_adcode": shift.division_adcode,
        "position": shift.position,
        "label": shift.label,
        "seat": shift.seat,
        "shift_code": shift.shift_code,
        "starts_at": shift.starts_at.isoformat(),
        "ends_at": shift.ends_at.isoformat(),
        "person_id": None if shift.person_id is None else str(shift.person_id),
        "person_name": shift.person_name,
        "state": shift.state,
        "checked_in_at": None if shift.checked_in_at is None else shift.checked_in_at.isoformat(),
        "checked_in_by": shift.checked_in_by,
        "version": shift.version,
    }


def late(shift: DutyShift) -> bool:
    """Whether a check-in came after the start plus the grace (or is still missing then)."""
    moment = shift.checked_in_at or clock.now()
    return moment > clock.as_utc(shift.starts_at) + GRACE


async def _division_path(session: AsyncSession, adcode: str) -> str:
    path = await org.path_of_division(session=session, adcode=adcode)
    if path is None:
        raise NotFound("division_not_found", f"no division {adcode}", {"adcode": adcode})
    return path


async def person_of(session: AsyncSession, principal: Principal) -> uuid.UUID | None:
    """The person record of the principal's account, if it has one."""
    if principal.user_id == SYSTEM.user_id:
        return None
    try:
        user = await org.get_user_or_raise(
            session=session, user_id=principal.user_id, scope=SYSTEM.scope
        )
    except NotFound:
        return None
    return user.person_id


async def division_in_reach(session: AsyncSession, principal: Principal, adcode: str) -> str:
    """The path of ``adcode`` if the principal's scope covers it; otherwise it does not exist
    for them (404, never 403: another town's rows are not there)."""
    path = await org.path_of_division(session=session, adcode=adcode)
    if path is None or not principal.scope.covers(division_path=path):
        raise NotFound("division_not_found", f"no division {adcode}", {"adcode": adcode})
    return path


# --- reading shifts ------------------------------------------------------------------------------


async def list_shifts(
    *,
    session: AsyncSession,
    division_adcode: str,
    starts_from: datetime,
    starts_before: datetime,
    states: Sequence[str] = (),
    limit: int = 2000,
) -> list[DutyShift]:
    """The shifts of a division starting in ``[starts_from, starts_before)``, by start and seat."""
    stmt = select(DutyShift).where(
        DutyShift.division_adcode == division_adcode,
        DutyShift.starts_at >= starts_from,
        DutyShift.starts_at < starts_before,
    )
    if states:
        stmt = stmt.where(DutyShift.state.in_(list(states)))
    order = (DutyShift.starts_at, DutyShift.position, DutyShift.label, DutyShift.seat)
    return list((await session.scalars(stmt.order_by(*order).limit(limit))).all())


async def shifts_of_person(
    *,
    session: AsyncSession,
    person_id: uuid.UUID,
    ends_after: datetime,
    starts_before: datetime,
    limit: int = 2000,
) -> list[DutyShift]:
    """A person's shifts overlapping ``(ends_after, starts_before)``, by start."""
    stmt = (
        select(DutyShift)
        .where(
            DutyShift.person_id == person_id,
            DutyShift.ends_at > ends_after,
            DutyShift.starts_at < starts_before,
        )
        .order_by(DutyShift.starts_at, DutyShift.division_adcode)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


# --- check-in ------------------------------------------------------------------------------------


async def _may_check_in(
    session: AsyncSession, principal: Principal, shift: DutyShift, path: str
) -> bool:
    """Whether the principal checks in on their own shift (True) or as a roster manager over
    the division (False); anyone else is refused (404 outside their scope, 403 inside)."""
    if shift.person_id is not None and shift.person_id == await person_of(session, principal):
        return True
    if not principal.scope.covers(division_path=path):
        raise NotFound("shift_not_found", f"no shift {shift.id}")
    if not principal.can(Permission.DUTY_ROSTER):
        raise PermissionDenied(
            "check_in_not_yours",
            "only the person on the shift or a roster manager checks in on it",
            {"shift_id": str(shift.id)},
        )
    return False


async def check_in(
    *, session: AsyncSession, principal: Principal, shift_id: uuid.UUID, version: int | None
) -> DutyShift:
    """到岗签到: the rostered person (their own account) or a roster manager over the division
    checks in on a shift, from :data:`EARLY` before its start until its end. A shift marked
    missed can still be checked in on (a late arrival); the check-in says it was late."""
    shift = await session.get(DutyShift, shift_id)
    if shift is None:
        raise NotFound("shift_not_found", f"no shift {shift_id}")
    path = await _division_path(session, shift.division_adcode)
    own = await _may_check_in(session, principal, shift, path)
    if shift.person_id is None:
        raise Conflict("shift_seat_empty", "nobody is rostered on this shift")
    if shift.state == ShiftState.CHECKED_IN:
        raise InvalidTransition("already_checked_in", "this shift is already checked in on")
    now = clock.now()
    starts_at, ends_at = clock.as_utc(shift.starts_at), clock.as_utc(shift.ends_at)
    if now < starts_at - EARLY:
        opens = (starts_at - EARLY).isoformat()
        raise Conflict(
            "check_in_not_open", "check-in opens an hour before the shift", {"at": opens}
        )
    if now >= ends_at:
        raise Conflict("check_in_closed", "the shift has ended", {"at": ends_at.isoformat()})
    if version is not None and version != shift.version:
        raise Conflict(
            "version_conflict", "the shift changed meanwhile", {"version": shift.version}
        )
    before = shift_facts(shift)
    result = await session.execute(
        update(DutyShift)
        .where(
            DutyShift.id == shift.id,
            DutyShift.version == shift.version,
            DutyShift.state.in_([ShiftState.SCHEDULED.value, ShiftState.MISSED.value]),
        )
        .values(
            state=ShiftState.CHECKED_IN.value,
            checked_in_at=now,
            checked_in_by=str(principal.user_id),
            version=shift.version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if rows_affected(result) != 1:
        raise Conflict("version_conflict", "the shift changed meanwhile")
    await session.refresh(shift)
    await timers.cancel(session, kind=CHECK_IN_TIMER, subject=shift.id)
    after = shift_facts(shift)
    await record_change(
        session,
        action="duty.checked_in",
        subject_type="duty_shift",
        subject_id=shift.id,
        before=before,
        after=after,
        audience=EventScope(division_path=path),
        payload={"before": before, "after": after, "late": late(shift), "self": own},
    )
    return shift


# --- the missed check-in -------------------------------------------------------------------------


async def _users_on_duty(
    session: AsyncSession, *, adcode: str, path: str, at: datetime, exclude: set[str]
) -> list[str]:
    """The accounts to tell at one level: the duty chief on duty over the division (its own
    roster, not a parent's), or, with no roster there (or when the chief is the one who missed
    the check-in), the duty leaders of that division."""
    found = await on_duty(session, division_path=path, positions=(Position.CHIEF,), at=at)
    users = [
        str(person.user_id)
        for person in found or []
        if person.user_id is not None
        and person.division_adcode == adcode
        and str(person.user_id) not in exclude
    ]
    if users:
        return users
    leaders = await org.users_with_role_over(
        session=session, role=Role.DUTY_LEADER, division_path=path
    )
    return [
        str(user.id)
        for user in leaders
        if user.division_adcode == adcode and str(user.id) not in exclude
    ]


async def missed_notice(
    session: AsyncSession, shift: DutyShift, path: str, *, at: datetime
) -> list[dict[str, Any]]:
    """Whom a missed check-in is told to: the division's duty chief on duty and the level
    above's (never the person who missed it)."""
    own: set[str] = set()
    if shift.person_id is not None:
        own = {
            str(person.user_id)
            for person in await org.people_by_ids(session=session, person_ids=[shift.person_id])
            if person.user_id is not None
        }
    division = await org.get_division(session=session, adcode=shift.division_adcode)
    users = await _users_on_duty(
        session, adcode=shift.division_adcode, path=path, at=at, exclude=own
    )
    if division is not None and division.parent_adcode is not None:
        parent_path = path.removesuffix(f"{shift.division_adcode}/")
        users += await _users_on_duty(
            session, adcode=division.parent_adcode, path=parent_path, at=at, exclude=own
        )
    users = list(dict.fromkeys(users))
    if not users:
        return []
    name = division.name if division is not None else shift.division_adcode
    seat = POSITION_NAMES.get(shift.position, shift.position) + (
        f"（{shift.label}）" if shift.label else ""
    )
    start = clock.as_utc(shift.starts_at).astimezone(clock.LOCAL_TZ).strftime("%m-%d %H:%M")
    return [
        {
            "kind": "duty_check_in_missed",
            "title": f"未到岗签到 {name} {seat}",
            "body": f"{shift.person_name or '（空岗）'}：{start} 开始的班次未签到。",
            "user_ids": users,
            "said": {
                "division": name,
                "position": shift.position,
                "person_name": shift.person_name,
                "starts_at": shift.starts_at.isoformat(),
            },
        }
    ]


async def mark_missed(session: AsyncSession, firing: timers.TimerFiring) -> None:
    """The check-in timer: a shift still scheduled at its start plus the grace is missed; its
    division's duty chief and the level above are told. A shift moved later is re-armed."""
    shift = await session.get(DutyShift, uuid.UUID(firing.subject))
    if shift is None or shift.state != ShiftState.SCHEDULED or shift.person_id is None:
        return
    now = clock.now()
    due = clock.as_utc(shift.starts_at) + GRACE
    if due > now:
        await timers.schedule(session, kind=CHECK_IN_TIMER, subject=shift.id, due_at=due)
        return
    path = await _division_path(session, shift.division_adcode)
    before = shift_facts(shift)
    result = await session.execute(
        update(DutyShift)
        .where(
            DutyShift.id == shift.id,
            DutyShift.version == shift.version,
            DutyShift.state == ShiftState.SCHEDULED.value,
        )
        .values(state=ShiftState.MISSED.value, version=shift.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if rows_affected(result) != 1:
        return
    await session.refresh(shift)
    after = shift_facts(shift)
    payload: dict[str, Any] = {"before": before, "after": after}
    notices = await missed_notice(session, shift, path, at=now)
    if notices:
        payload["notices"] = notices
    await record_change(
        session,
        action="duty.check_in_missed",
        subject_type="duty_shift",
        subject_id=shift.id,
        before=before,
        after=after,
        audience=EventScope(division_path=path),
        payload=payload,
    )


async def arm(session: AsyncSession, *, shift_ids: Sequence[uuid.UUID] | None = None) -> int:
    """Schedule the check-in timer of every scheduled shift starting within :data:`ARM_AHEAD`
    (or of the shifts named) with a person on it and no timer open; a shift already past its
    grace fires at once (an empty seat is the roster's conflict, not a missed check-in).
    Returns how many were armed. The same run arms the handover openings of the shift changes
    of those shifts (``handover.arm_openings``: a change within the last :data:`ARM_EVERY` or
    the next :data:`ARM_AHEAD`)."""
    now = clock.now()
    await handover.arm_openings(
        session, since=now - ARM_EVERY, until=now + ARM_AHEAD, shift_ids=shift_ids
    )
    stmt = select(DutyShift.id, DutyShift.starts_at).where(
        DutyShift.state == ShiftState.SCHEDULED.value,
        DutyShift.person_id.is_not(None),
        DutyShift.ends_at > now,
    )
    if shift_ids is None:
        stmt = stmt.where(DutyShift.starts_at <= now + ARM_AHEAD)
    else:
        ids = sorted(set(shift_ids))
        if not ids:
            return 0
        stmt = stmt.where(DutyShift.id.in_(ids))
    rows = (await session.execute(stmt)).all()
    if not rows:
        return 0
    armed = set(
        (
            await session.scalars(
                select(timers.Timer.subject).where(
                    timers.Timer.kind == CHECK_IN_TIMER,
                    timers.Timer.state.in_(timers.OPEN_STATES),
                    timers.Timer.subject.in_([str(row.id) for row in rows]),
                )
            )
        ).all()
    )
    fresh = [
        timers.NewTimer(
            subject=str(row.id),
            key="",
            due_at=max(clock.as_utc(row.starts_at) + GRACE, now),
            payload={},
        )
        for row in rows
        if str(row.id) not in armed
    ]
    return await timers.schedule_many(session, kind=CHECK_IN_TIMER, timers=fresh)


async def ensure_arming(session: AsyncSession) -> None:
    """The arming timer is scheduled (idempotent; at start, as reference data)."""
    open_one = await session.scalar(
        select(timers.Timer.id)
        .where(timers.Timer.kind == ARM_TIMER, timers.Timer.state.in_(timers.OPEN_STATES))
        .limit(1)
    )
    if open_one is None:
        due = clock.now()
        await timers.schedule(
            session, kind=ARM_TIMER, subject="shifts", key=due.isoformat(), due_at=due
        )


async def arm_on_time(session: AsyncSession, _firing: timers.TimerFiring) -> None:
    """The arming timer: arm what starts soon, then run again in :data:`ARM_EVERY`."""
    await arm(session)
    due = clock.now() + ARM_EVERY
    await timers.schedule(
        session, kind=ARM_TIMER, subject="shifts", key=due.isoformat(), due_at=due
    )


# --- 查岗 ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpotCheckInput:
    """What the checker records: the division called, when, and the answer."""

    division_adcode: str
    answered: bool
    answered_by_name: str | None
    answer_seconds: int | None
    checked_at: datetime | None
    note: str | None


def _strictly_below(principal: Principal, path: str) -> bool:
    if principal.scope.everything:
        return True
    own = principal.scope.division_path
    return bool(own) and path.startswith(own or "") and path != own


async def _shift_on_duty(
    session: AsyncSession, *, adcode: str, at: datetime, answered_by: str | None
) -> DutyShift | None:
    """The shift the call reached: the one whose person answered, else the chief's, else any
    shift of the division then."""
    rows = (
        await session.scalars(
            select(DutyShift)
            .where(
                DutyShift.division_adcode == adcode,
                DutyShift.starts_at <= at,
                DutyShift.ends_at > at,
            )
            .order_by(DutyShift.position, DutyShift.label, DutyShift.seat)
        )
    ).all()
    if answered_by:
        for shift in rows:
            if shift.person_name == answered_by:
                return shift
    for position in (Position.CHIEF, Position.OFFICER, Position.LEADER):
        for shift in rows:
            if shift.position == position.value:
                return shift
    return rows[0] if rows else None


async def record_spot_check(
    *, session: AsyncSession, principal: Principal, data: SpotCheckInput
) -> DutySpotCheck:
    """查岗: the level above records a call to a division's duty below it."""
    path = await division_in_reach(session, principal, data.division_adcode)
    if not _strictly_below(principal, path):
        raise PermissionDenied(
            "spot_check_not_below",
            "spot checks are made by the level above, of divisions below one's own",
            {"division_adcode": data.division_adcode},
        )
    if data.answered != (data.answer_seconds is not None):
        raise ValidationFailed(
            "spot_check_answer_inconsistent",
            "an answered call has its seconds to answer, an unanswered one none",
        )
    if not data.answered and data.answered_by_name:
        raise ValidationFailed(
            "spot_check_answer_inconsistent", "an unanswered call has nobody who answered"
        )
    now = clock.now()
    at = clock.as_utc(data.checked_at) if data.checked_at is not None else now
    if at > now or at < now - SPOT_CHECK_BACKDATE:
        raise ValidationFailed(
            "spot_check_time", "a spot check is recorded within seven days, never ahead"
        )
    shift = await _shift_on_duty(
        session, adcode=data.division_adcode, at=at, answered_by=data.answered_by_name
    )
    check = DutySpotCheck(
        division_adcode=data.division_adcode,
        checked_at=at,
        checked_by=str(principal.user_id),
        checked_by_name=principal.display_name,
        checker_division_adcode=_own_adcode(principal),
        answered=data.answered,
        answered_by_name=data.answered_by_name,
        answer_seconds=data.answer_seconds,
        shift_id=None if shift is None else shift.id,
        note=data.note,
    )
    session.add(check)
    await session.flush()
    after = spot_check_facts(check)
    payload: dict[str, Any] = {"before": None, "after": after}
    if not data.answered:
        leaders = await org.users_with_role_over(
            session=session, role=Role.DUTY_LEADER, division_path=path
        )
        users = [str(u.id) for u in leaders if u.division_adcode == data.division_adcode]
        if users:
            division = await org.get_division(session=session, adcode=data.division_adcode)
            name = division.name if division is not None else data.division_adcode
            local = at.astimezone(clock.LOCAL_TZ).strftime("%m-%d %H:%M")
            payload["notices"] = [
                {
                    "kind": "duty_spot_check_unanswered",
                    "title": f"查岗未接听 {name}",
                    "body": f"{local} 上级查岗，值班电话无人接听。",
                    "user_ids": users,
                    "said": {"division": name, "checked_at": at.isoformat()},
                }
            ]
    await record_change(
        session,
        action="duty.spot_checked",
        subject_type="duty_spot_check",
        subject_id=check.id,
        before=None,
        after=after,
        audience=EventScope(division_path=path),
        payload=payload,
    )
    return check


def _own_adcode(principal: Principal) -> str | None:
    path = principal.scope.division_path
    if not path:
        return None
    parts = [part for part in path.split("/") if part]
    return parts[-1] if parts else None


def spot_check_facts(check: DutySpotCheck) -> dict[str, Any]:
    return {
        "id": str(check.id),
        "division_adcode": check.division_adcode,
        "checked_at": check.checked_at.isoformat(),
        "checked_by_name": check.checked_by_name,
        "checker_division_adcode": check.checker_division_adcode,
        "answered": check.answered,
        "answered_by_name": check.answered_by_name,
        "answer_seconds": check.answer_seconds,
        "shift_id": None if check.shift_id is None else str(check.shift_id),
        "note": check.note,
    }


async def list_spot_checks(
    *,
    session: AsyncSession,
    division_adcode: str,
    checked_from: datetime,
    checked_before: datetime,
    limit: int,
) -> list[DutySpotCheck]:
    """The spot checks of a division in ``[checked_from, checked_before)``, newest first."""
    rows = await session.scalars(
        select(DutySpotCheck)
        .where(
            DutySpotCheck.division_adcode == division_adcode,
            DutySpotCheck.checked_at >= checked_from,
            DutySpotCheck.checked_at < checked_before,
        )
        .order_by(DutySpotCheck.checked_at.desc(), DutySpotCheck.id)
        .limit(limit)
    )
    return list(rows.all())
