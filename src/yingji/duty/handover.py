"""交接班 — the handover at a shift change of a division's duty.

Opening a handover freezes what is open at that moment into ``open_items`` (the list both
officers sign for, kept as it was even when things move on): the division's open incidents
(those responding and those still being verified), orders past a stage deadline, reports owed
up (``duty_report_due`` rows due or missing), warnings in force over the division and 领导批示
not yet carried out. The outgoing officer adds notes and signs (交), then the incoming one adds
notes and signs (接): two different people. Who may sign a side: a person rostered on that side
of the change (a shift of the division ending at the change for the outgoing side, starting at
it for the incoming side), or a roster manager (``duty.roster``); when nobody was rostered on
the outgoing side, any desk member may sign it out.

The platform opens the handover itself at each shift change of a division's roster (a shift
of the division ends when another starts): one timer row per change (``duty.handover_open``,
subject the division, key the change), armed from the shifts by the same arming as the
check-in timers (``attendance.arm``: hourly for what changes within a day, and by the roster's
writers at once). It opens the handover unless one is already open for that change (a desk
opened it a little before); nobody has to start it.

A handover still unsigned :func:`unsigned_after` (``YINGJI_HANDOVER_UNSIGNED_MINUTES``, 30 by
default) past the change alerts the duty leader on duty (``core.on_duty``; the division's duty
leaders by role when no roster says who) through a timer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock, timers
from yingji.core.changes import record_change
from yingji.core.db import rows_affected
from yingji.core.errors import Conflict, InvalidTransition, NotFound, PermissionDenied
from yingji.core.on_duty import Position, on_duty
from yingji.core.security import SYSTEM, Permission, Principal, Role, Scope
from yingji.dispatch import service as dispatch
from yingji.duty.dutylog import DivisionRef, audience, division_in_scope
from yingji.duty.models import (
    DutyShift,
    Handover,
    HandoverState,
    LeaderInstruction,
    ReportDue,
    ReportDueState,
)
from yingji.incidents import service as incidents
from yingji.incidents.schemas import OPEN_STATES
from yingji.org import service as org
from yingji.settings import get_settings
from yingji.warning import service as warnings

HANDOVER_TIMER = "duty.handover_unsigned"  # never rename: stored in timer rows
#: opens the handover at a roster's shift change (subject: division, key: the change)
OPEN_TIMER = "duty.handover_open"  # never rename: stored in timer rows
#: a change is looked for this far either side of now when none is named
CHANGE_WINDOW = timedelta(hours=12)
#: each list of ``open_items`` holds at most this many rows (its count says how many there were)
MAX_ITEMS = 200
#: the seat that stands for a side of the change, in this order
SEAT_ORDER = (Position.CHIEF, Position.OFFICER, Position.LEADER, Position.PROFESSIONAL)

Side = Literal["out", "in"]


def snapshot(handover: Handover) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return clock.as_utc(moment).isoformat() if moment is not None else None

    return {
        "id": str(handover.id),
        "division_adcode": handover.division_adcode,
        "change_at": iso(handover.change_at),
        "state": handover.state,
        "notes_out": handover.notes_out,
        "notes_in": handover.notes_in,
        "signed_out_by": handover.signed_out_by,
        "signed_out_name": handover.signed_out_name,
        "signed_out_at": iso(handover.signed_out_at),
        "signed_in_by": handover.signed_in_by,
        "signed_in_name": handover.signed_in_name,
        "signed_in_at": iso(handover.signed_in_at),
        "version": handover.version,
    }


def overdue(handover: Handover, at: datetime) -> bool:
    """Unsigned (by either side) past ``UNSIGNED_AFTER`` after its change."""
    return handover.state != HandoverState.SIGNED and at >= alert_at(handover)


def unsigned_after() -> timedelta:
    """How long after the change a handover may stay unsigned before the duty leader is told
    (``YINGJI_HANDOVER_UNSIGNED_MINUTES``)."""
    return timedelta(minutes=get_settings().handover_unsigned_minutes)


def alert_at(handover: Handover) -> datetime:
    return clock.as_utc(handover.change_at) + unsigned_after()


# --- the roster around a change ------------------------------------------------------------------


def _seat_rank(shift: DutyShift) -> tuple[int, str, int]:
    order = [p.value for p in SEAT_ORDER]
    rank = order.index(shift.position) if shift.position in order else len(order)
    return rank, shift.label, shift.seat


async def shifts_at_change(
    *, session: AsyncSession, division_adcode: str, change_at: datetime
) -> tuple[list[DutyShift], list[DutyShift]]:
    """The division's shifts ending at the change (outgoing) and starting at it (incoming)."""
    rows = await session.scalars(
        select(DutyShift).where(
            DutyShift.division_adcode == division_adcode,
            (DutyShift.ends_at == change_at) | (DutyShift.starts_at == change_at),
        )
    )
    outgoing, incoming = [], []
    for shift in rows.all():
        if clock.as_utc(shift.ends_at) == change_at:
            outgoing.append(shift)
        if clock.as_utc(shift.starts_at) == change_at:
            incoming.append(shift)
    return sorted(outgoing, key=_seat_rank), sorted(incoming, key=_seat_rank)


async def nearest_change(
    *, session: AsyncSession, division_adcode: str, at: datetime
) -> datetime | None:
    """The shift change of the division's roster nearest ``at`` (within ``CHANGE_WINDOW``)."""
    starts = await session.scalars(
        select(DutyShift.starts_at)
        .where(
            DutyShift.division_adcode == division_adcode,
            DutyShift.starts_at > at - CHANGE_WINDOW,
            DutyShift.starts_at <= at + CHANGE_WINDOW,
        )
        .distinct()
    )
    moments = [clock.as_utc(s) for s in starts.all()]
    return min(moments, key=lambda m: (abs(m - at), m)) if moments else None


# --- what is open --------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return clock.as_utc(moment).isoformat() if moment is not None else None


def _capped(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(rows[:MAX_ITEMS])


async def _incidents(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    rows, _ = await incidents.list_incidents(
        session=session,
        scope=scope,
        filters=incidents.IncidentFilter(states=tuple(OPEN_STATES)),
        offset=0,
        limit=MAX_ITEMS,
    )
    return [
        {
            "id": str(i.id),
            "number": i.number,
            "title": i.title,
            "state": i.state,
            "level": i.level,
            "category_code": i.category_code,
            "first_reported_at": _iso(i.first_reported_at),
        }
        for i in rows
    ]


def _overdue_stage(order: Any, at: datetime) -> tuple[str, datetime | None]:
    """The first stage of an open order past its deadline at ``at``, and that deadline."""
    for stage, due, done in (
        ("sign", order.sign_due_at, order.signed_at),
        ("arrive", order.arrive_due_at, order.arrived_at),
        ("feedback", order.feedback_due_at, None),
        ("complete", order.complete_due_at, order.completed_at),
    ):
        if due is not None and done is None and clock.as_utc(due) <= at:
            return stage, clock.as_utc(due)
    return "complete", None


async def _orders(session: AsyncSession, scope: Scope, at: datetime) -> list[dict[str, Any]]:
    rows = await dispatch.open_and_soon_due(
        session=session, scope=scope, horizon=timedelta(0), limit=MAX_ITEMS
    )
    names = await dispatch.unit_names(session=session, unit_ids={o.unit_id for o in rows})
    of = await dispatch.incidents_of_orders(session=session, orders=rows)
    items = []
    for order in rows:
        stage, due = _overdue_stage(order, at)
        incident = of.get(order.incident_id)
        items.append(
            {
                "id": str(order.id),
                "incident_id": str(order.incident_id),
                "incident_number": incident.number if incident else None,
                "incident_title": incident.title if incident else None,
                "unit_name": names.get(order.unit_id, ""),
                "stage": order.stage,
                "overdue_stage": stage,
                "due_at": _iso(due),
            }
        )
    return items


async def _reports_due(session: AsyncSession, adcode: str) -> list[dict[str, Any]]:
    rows = (
        await session.scalars(
            select(ReportDue)
            .where(
                ReportDue.division_adcode == adcode,
                ReportDue.state.in_((ReportDueState.DUE, ReportDueState.MISSING)),
            )
            .order_by(ReportDue.due_at)
            .limit(MAX_ITEMS)
        )
    ).all()
    of = await incidents.incidents_by_id(session=session, ids=sorted({r.incident_id for r in rows}))
    return [
        {
            "id": str(r.id),
            "incident_id": str(r.incident_id),
            "incident_number": of[r.incident_id].number if r.incident_id in of else None,
            "incident_title": of[r.incident_id].title if r.incident_id in of else None,
            "kind": r.kind,
            "seq": r.seq,
            "due_at": _iso(r.due_at),
            "state": r.state,
        }
        for r in rows
    ]


async def _warnings(session: AsyncSession, path: str, at: datetime) -> list[dict[str, Any]]:
    rows = await warnings.warnings_in_force(
        session=session, division_path=path, at=at, limit=MAX_ITEMS
    )
    return [
        {
            "id": str(w.id),
            "number": w.number,
            "headline": w.headline,
            "type_code": w.type_code,
            "level": w.level,
            "expires_at": _iso(w.expires_at),
        }
        for w in rows
    ]


async def _instructions(session: AsyncSession, adcode: str) -> list[dict[str, Any]]:
    rows = (
        await session.scalars(
            select(LeaderInstruction)
            .where(
                LeaderInstruction.to_division_adcode == adcode,
                LeaderInstruction.carried_out_at.is_(None),
            )
            .order_by(LeaderInstruction.issued_at)
            .limit(MAX_ITEMS)
        )
    ).all()
    of = await incidents.incidents_by_id(session=session, ids=sorted({r.incident_id for r in rows}))
    return [
        {
            "id": str(r.id),
            "incident_id": str(r.incident_id),
            "incident_number": of[r.incident_id].number if r.incident_id in of else None,
            "text": r.text,
            "author_name": r.author_name,
            "issued_at": _iso(r.issued_at),
            "due_at": _iso(r.due_at),
        }
        for r in rows
    ]


async def open_items(
    *, session: AsyncSession, division: DivisionRef, at: datetime
) -> dict[str, Any]:
    """What is open over ``division`` at ``at`` (now, in practice): the handover's list."""
    scope = Scope(division_path=division.path)
    items = {
        "incidents": await _incidents(session, scope),
        "orders": await _orders(session, scope, at),
        "reports_due": await _reports_due(session, division.adcode),
        "warnings": await _warnings(session, division.path, at),
        "instructions": await _instructions(session, division.adcode),
    }
    return {
        "listed_at": at.isoformat(),
        "counts": {name: len(rows) for name, rows in items.items()},
        **{name: _capped(rows) for name, rows in items.items()},
    }


# --- opening, notes and signatures ---------------------------------------------------------------


async def get_handover_or_raise(
    *, session: AsyncSession, handover_id: uuid.UUID, scope: Scope
) -> tuple[Handover, DivisionRef]:
    handover = await session.get(Handover, handover_id, populate_existing=True)
    if handover is not None:
        try:
            division = await division_in_scope(
                session=session, adcode=handover.division_adcode, scope=scope
            )
        except NotFound:
            division = None
        if division is not None:
            return handover, division
    raise NotFound("handover_not_found", "no such handover", {"handover_id": str(handover_id)})


async def in_progress(*, session: AsyncSession, division_adcode: str) -> Handover | None:
    """The division's handover not yet signed by both (the latest change first)."""
    return await session.scalar(
        select(Handover)
        .where(
            Handover.division_adcode == division_adcode,
            Handover.state != HandoverState.SIGNED,
        )
        .order_by(Handover.change_at.desc())
        .limit(1)
    )


async def list_handovers(
    *, session: AsyncSession, division_adcode: str, limit: int
) -> list[Handover]:
    rows = await session.scalars(
        select(Handover)
        .where(Handover.division_adcode == division_adcode)
        .order_by(Handover.change_at.desc())
        .limit(limit)
    )
    return list(rows.all())


@dataclass(frozen=True)
class Opened:
    handover: Handover
    created: bool


async def open_handover(
    *,
    session: AsyncSession,
    principal: Principal,
    division_adcode: str,
    change_at: datetime | None,
) -> Opened:
    """Open the handover of the division's change at ``change_at`` (default: the roster's change
    nearest now, else now to the minute) and freeze what is open. A handover already open for
    the division (or for that change) is returned as it is: one handover at a time."""
    division = await division_in_scope(
        session=session, adcode=division_adcode, scope=principal.scope
    )
    now = clock.now()
    if change_at is None:
        current = await in_progress(session=session, division_adcode=division.adcode)
        if current is not None:
            return Opened(current, created=False)
        change_at = await nearest_change(
            session=session, division_adcode=division.adcode, at=now
        ) or now.replace(second=0, microsecond=0)
    change_at = clock.as_utc(change_at)
    existing = await session.scalar(
        select(Handover).where(
            Handover.division_adcode == division.adcode, Handover.change_at == change_at
        )
    )
    if existing is not None:
        return Opened(existing, created=False)
    return Opened(await _open(session, division, change_at, now), created=True)


async def _open(
    session: AsyncSession, division: DivisionRef, change_at: datetime, now: datetime
) -> Handover:
    """A new handover of ``division``'s change at ``change_at``, its list frozen at ``now`` and
    its unsigned alert armed."""
    outgoing, incoming = await shifts_at_change(
        session=session, division_adcode=division.adcode, change_at=change_at
    )
    handover = Handover(
        division_adcode=division.adcode,
        change_at=change_at,
        outgoing_shift_id=outgoing[0].id if outgoing else None,
        incoming_shift_id=incoming[0].id if incoming else None,
        open_items=await open_items(session=session, division=division, at=now),
        state=HandoverState.OPEN,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(handover)
    await session.flush()
    await timers.schedule(
        session,
        kind=HANDOVER_TIMER,
        subject=handover.id,
        due_at=max(alert_at(handover), now),
        payload={"division_adcode": division.adcode},
    )
    await record_change(
        session,
        action="duty.handover_opened",
        subject_type="duty_handover",
        subject_id=handover.id,
        before=None,
        after={**snapshot(handover), "counts": handover.open_items["counts"]},
        audience=audience(division.path),
    )
    return handover


# --- opened by the platform at each shift change -------------------------------------------------


async def arm_openings(
    session: AsyncSession,
    *,
    since: datetime,
    until: datetime,
    shift_ids: Sequence[uuid.UUID] | None = None,
) -> int:
    """Schedule the opening timer of every shift change in ``(since, until]`` (of the shifts
    named: at their starts and ends) that has no opening timer yet (in any state: a change
    is opened once) and no handover. A change is a moment when a shift of a division ends and
    another of it starts. Returns how many were armed (``attendance.arm`` calls this)."""
    window = or_(
        and_(DutyShift.starts_at > since, DutyShift.starts_at <= until),
        and_(DutyShift.ends_at > since, DutyShift.ends_at <= until),
    )
    named: set[tuple[str, datetime]] | None = None
    stmt = select(DutyShift.division_adcode, DutyShift.starts_at, DutyShift.ends_at).where(window)
    if shift_ids is not None:
        ids = sorted(set(shift_ids))
        if not ids:
            return 0
        mine = (
            await session.execute(
                select(DutyShift.division_adcode, DutyShift.starts_at, DutyShift.ends_at).where(
                    DutyShift.id.in_(ids)
                )
            )
        ).all()
        named = {(r[0], clock.as_utc(m)) for r in mine for m in (r[1], r[2])}
        stmt = stmt.where(DutyShift.division_adcode.in_(sorted({d for d, _ in named})))
    rows = (await session.execute(stmt)).all()
    starts = {(r[0], clock.as_utc(r[1])) for r in rows}
    ends = {(r[0], clock.as_utc(r[2])) for r in rows}
    changes = {c for c in starts & ends if since < c[1] <= until}
    if named is not None:
        changes &= named
    if not changes:
        return 0
    divisions = sorted({d for d, _ in changes})
    armed = {
        (r[0], r[1])
        for r in await session.execute(
            select(timers.Timer.subject, timers.Timer.key).where(
                timers.Timer.kind == OPEN_TIMER, timers.Timer.subject.in_(divisions)
            )
        )
    }
    opened = {
        (r[0], clock.as_utc(r[1]).isoformat())
        for r in await session.execute(
            select(Handover.division_adcode, Handover.change_at).where(
                Handover.division_adcode.in_(divisions), Handover.change_at > since
            )
        )
    }
    now = clock.now()
    fresh = [
        timers.NewTimer(
            subject=division,
            key=moment.isoformat(),
            due_at=max(moment, now),
            payload={"change_at": moment.isoformat()},
        )
        for division, moment in sorted(changes)
        if (division, moment.isoformat()) not in armed | opened
    ]
    return await timers.schedule_many(session, kind=OPEN_TIMER, timers=fresh)


async def open_on_time(session: AsyncSession, firing: timers.TimerFiring) -> None:
    """Timer ``duty.handover_open``: the platform opens the handover of the division's change
    (and so arms its unsigned alert) unless one is open for it already or the roster no longer
    changes then (a shift moved or removed since the timer was armed)."""
    change_at = clock.as_utc(datetime.fromisoformat(firing.key))
    try:
        division = await division_in_scope(
            session=session, adcode=firing.subject, scope=SYSTEM.scope
        )
    except NotFound:
        return
    outgoing, incoming = await shifts_at_change(
        session=session, division_adcode=division.adcode, change_at=change_at
    )
    if not outgoing or not incoming:
        return
    existing = await session.scalar(
        select(Handover.id).where(
            Handover.division_adcode == division.adcode, Handover.change_at == change_at
        )
    )
    if existing is None:
        await _open(session, division, change_at, clock.now())


async def _signer_shift(
    session: AsyncSession, principal: Principal, handover: Handover, side: Side
) -> DutyShift | None:
    """The principal's shift on ``side`` of the change; ``None`` when the principal may sign
    without one (a roster manager; anyone at the desk on an outgoing side nobody sat);
    *permission denied* otherwise."""
    outgoing, incoming = await shifts_at_change(
        session=session,
        division_adcode=handover.division_adcode,
        change_at=clock.as_utc(handover.change_at),
    )
    shifts = outgoing if side == "out" else incoming
    try:
        user = await org.get_user_or_raise(
            session=session, user_id=principal.user_id, scope=SYSTEM.scope
        )
        person_id = user.person_id
    except NotFound:  # the system itself, or an account removed meanwhile
        person_id = None
    mine = [s for s in shifts if person_id is not None and s.person_id == person_id]
    if mine:
        return mine[0]
    if principal.can(Permission.DUTY_ROSTER):
        return None
    if side == "out" and not any(s.person_id for s in shifts):
        return None
    raise PermissionDenied(
        "handover_not_on_shift",
        f"only a person rostered on the {'outgoing' if side == 'out' else 'incoming'} shift "
        "(or a roster manager) signs this side",
        {"side": side},
    )


async def _compare_and_set(
    session: AsyncSession,
    handover: Handover,
    *,
    version: int,
    states: Sequence[HandoverState],
    values: dict[str, Any],
) -> None:
    if handover.version != version:
        raise Conflict(
            "stale_version", "the handover changed since you read it", {"version": handover.version}
        )
    if handover.state not in states:
        raise InvalidTransition(
            "handover_invalid_state",
            f"the handover is {handover.state}",
            {"state": handover.state},
        )
    result = await session.execute(
        update(Handover)
        .where(
            Handover.id == handover.id,
            Handover.version == version,
            Handover.state.in_([s.value for s in states]),
        )
        .values(**values, version=version + 1, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if not rows_affected(result):
        raise Conflict("stale_version", "the handover changed meanwhile", {"id": str(handover.id)})
    await session.refresh(handover)


async def _record(
    session: AsyncSession, action: str, handover: Handover, division: DivisionRef, before: Any
) -> None:
    await record_change(
        session,
        action=action,
        subject_type="duty_handover",
        subject_id=handover.id,
        before=before,
        after=snapshot(handover),
        audience=audience(division.path),
    )


async def write_notes(
    *,
    session: AsyncSession,
    principal: Principal,
    handover: Handover,
    division: DivisionRef,
    side: Side,
    text: str,
    version: int,
) -> Handover:
    """The outgoing side's notes (until it signs) or the incoming side's (until it signs)."""
    await _signer_shift(session, principal, handover, side)
    before = snapshot(handover)
    if side == "out":
        states: tuple[HandoverState, ...] = (HandoverState.OPEN,)
        values = {"notes_out": text}
    else:
        states = (HandoverState.OPEN, HandoverState.SIGNED_OUT)
        values = {"notes_in": text}
    await _compare_and_set(session, handover, version=version, states=states, values=values)
    await _record(session, "duty.handover_noted", handover, division, before)
    return handover


async def sign_out(
    *,
    session: AsyncSession,
    principal: Principal,
    handover: Handover,
    division: DivisionRef,
    notes: str | None,
    version: int,
) -> Handover:
    """交: the outgoing officer signs (with their last notes)."""
    shift = await _signer_shift(session, principal, handover, "out")
    before = snapshot(handover)
    values: dict[str, Any] = {
        "state": HandoverState.SIGNED_OUT.value,
        "signed_out_by": str(principal.user_id),
        "signed_out_name": principal.display_name,
        "signed_out_at": clock.now(),
    }
    if shift is not None:
        values["outgoing_shift_id"] = shift.id
    if notes is not None:
        values["notes_out"] = notes
    await _compare_and_set(
        session, handover, version=version, states=(HandoverState.OPEN,), values=values
    )
    await _record(session, "duty.handover_signed_out", handover, division, before)
    return handover


async def sign_in(
    *,
    session: AsyncSession,
    principal: Principal,
    handover: Handover,
    division: DivisionRef,
    notes: str | None,
    version: int,
) -> Handover:
    """接: the incoming officer signs after the outgoing one; another person. The alert timer
    is cancelled with the signature."""
    if handover.state == HandoverState.OPEN:
        raise InvalidTransition(
            "handover_not_signed_out", "the outgoing officer signs first", {"state": handover.state}
        )
    if handover.signed_out_by == str(principal.user_id):
        raise Conflict(
            "handover_same_person",
            "the incoming officer is another person than the outgoing one",
            {"signed_out_by": handover.signed_out_by},
        )
    shift = await _signer_shift(session, principal, handover, "in")
    before = snapshot(handover)
    values: dict[str, Any] = {
        "state": HandoverState.SIGNED.value,
        "signed_in_by": str(principal.user_id),
        "signed_in_name": principal.display_name,
        "signed_in_at": clock.now(),
    }
    if shift is not None:
        values["incoming_shift_id"] = shift.id
    if notes is not None:
        values["notes_in"] = notes
    await _compare_and_set(
        session, handover, version=version, states=(HandoverState.SIGNED_OUT,), values=values
    )
    await timers.cancel(session, kind=HANDOVER_TIMER, subject=handover.id)
    await _record(session, "duty.handover_signed", handover, division, before)
    return handover


# --- the alert -----------------------------------------------------------------------------------


async def duty_leaders(
    *, session: AsyncSession, division_path: str, at: datetime
) -> list[uuid.UUID]:
    """The accounts of the duty leaders on duty over the division at ``at`` (the roster), else
    of every duty leader whose jurisdiction covers it (no roster)."""
    rostered = await on_duty(
        session, division_path=division_path, positions=(Position.LEADER,), at=at
    )
    if rostered is not None:
        ids = [p.user_id for p in rostered if p.user_id is not None]
        if ids:
            return list(dict.fromkeys(ids))
    people = await org.users_covering(
        session=session, role=Role.DUTY_LEADER, division_path=division_path
    )
    return [u.id for u in sorted(people, key=lambda u: u.username)]


async def alert_unsigned(session: AsyncSession, firing: timers.TimerFiring) -> None:
    """Timer ``duty.handover_unsigned``: a handover still unsigned past its time tells the duty
    leader (a notification) and every desk over the division (the event)."""
    handover = await session.get(Handover, uuid.UUID(firing.subject))
    if handover is None or handover.state == HandoverState.SIGNED:
        return
    division = await org.get_division(session=session, adcode=handover.division_adcode)
    if division is None:
        return
    now = clock.now()
    leaders = await duty_leaders(session=session, division_path=division.path, at=now)
    change = clock.as_utc(handover.change_at).astimezone(clock.LOCAL_TZ).strftime("%m-%d %H:%M")
    waiting = "交班人未签字" if handover.state == HandoverState.OPEN else "接班人未签字"
    await record_change(
        session,
        action="duty.handover_unsigned",
        subject_type="duty_handover",
        subject_id=handover.id,
        before=None,
        after=snapshot(handover),
        audience=audience(division.path),
        payload={
            "handover": snapshot(handover),
            "division_name": division.name,
            "notices": [
                {
                    "kind": "handover_unsigned",
                    "title": f"交接班未签字 {division.name} {change}",
                    "body": f"{division.name} {change} 的交接班超过"
                    f"{int(unsigned_after().total_seconds() // 60)}分钟仍未完成（{waiting}）。",
                    "user_ids": [str(u) for u in leaders],
                    "said": {"division_name": division.name, "change_at": _iso(handover.change_at)},
                }
            ],
        },
    )
