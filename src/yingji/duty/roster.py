"""Rosters (排班): the positions of a division's 1+1+X+X duty, its shift patterns, the month a
rotation fills, edits and swaps (换班) with approval, the conflicts a roster holds, and who is on
duty at a moment (``core.on_duty``'s resolver and ``GET /duty/now``).

A seat is (position, label, seat number): one 带班领导, one 值班长, ``seats`` 值班员 and the
professional staff of each department (``label`` tells 水利 from 气象). A shift fills one seat for
one period; an empty seat is a shift with no person (a conflict, listed). Times of a pattern are
local (Asia/Shanghai); the shifts store UTC.

Every change is recorded with ``core.changes.record_change`` (audit row and event to the
division's desk); a swap's decision tells the person who asked, through the event's notices.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock
from yingji.core.changes import record_change
from yingji.core.clock import LOCAL_TZ, as_utc
from yingji.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from yingji.core.events import EventScope
from yingji.core.on_duty import OnDuty, Position
from yingji.core.security import Permission, Principal, Scope
from yingji.duty import attendance
from yingji.duty.models import (
    DutyPosition,
    DutyShift,
    ShiftPattern,
    ShiftState,
    ShiftSwap,
    SwapState,
)
from yingji.org import service as org

#: the order seats are listed in: the leader first, professional staff last
POSITION_ORDER = {p.value: i for i, p in enumerate(Position)}
#: the rest a person needs between two shifts when the shift has no pattern (hours)
DEFAULT_MIN_REST_HOURS = 8
#: how far around a period the conflict check looks for a person's other shifts
_NEIGHBOURHOOD = timedelta(days=8)
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class PatternKind(StrEnum):
    DAY_NIGHT = "day_night"  # 白班/夜班
    FULL_DAY = "full_day"  # 24 小时
    WEEKLY = "weekly"  # 周轮换 (a shift of 168 hours starting on Mondays)


class ConflictCode(StrEnum):
    EMPTY_SEAT = "empty_seat"  # a seat with nobody on it
    DOUBLE_BOOKED = "double_booked"  # one person in two places at once
    SHORT_REST = "short_rest"  # less rest between two shifts than the pattern asks


@dataclass(frozen=True, slots=True)
class ShiftSpec:
    """One shift of a pattern: its code, local start and length."""

    code: str
    start: time
    hours: int


@dataclass(frozen=True, slots=True)
class SeatRotation:
    """Who takes a seat's shifts in turn: the pattern's shift *n* (counted from
    :data:`ROTATION_EPOCH`) goes to ``people[(offset + n) % len(people)]``; no people leaves the
    seat empty."""

    position: Position
    label: str
    seat: int
    people: tuple[uuid.UUID, ...]
    offset: int = 0


@dataclass(frozen=True, slots=True)
class RosterConflict:
    code: ConflictCode
    shift_ids: tuple[uuid.UUID, ...]
    person_id: uuid.UUID | None
    person_name: str | None
    starts_at: datetime
    #: the rest between the two shifts (short_rest) and what the pattern asks, in hours
    rest_hours: float | None = None
    min_rest_hours: int | None = None

    def facts(self) -> dict[str, Any]:
        return {
            "code": self.code.value,
            "shift_ids": [str(s) for s in self.shift_ids],
            "person_id": str(self.person_id) if self.person_id else None,
            "person_name": self.person_name,
            "starts_at": self.starts_at.isoformat(),
            "rest_hours": self.rest_hours,
            "min_rest_hours": self.min_rest_hours,
        }


# --- divisions in scope --------------------------------------------------------------------------


async def division_path_in_scope(session: AsyncSession, *, adcode: str, scope: Scope) -> str:
    """The path of a division the principal's duty scope covers; 404 otherwise (another town's
    roster does not exist for a town's desk)."""
    path = await org.path_of_division(session=session, adcode=adcode)
    if path is None or not scope.covers(division_path=path):
        raise NotFound("division_not_found", f"no division {adcode}", {"adcode": adcode})
    return path


def audience(path: str) -> EventScope:
    return EventScope(division_path=path, permission=Permission.DUTY_READ.value)


# --- positions ----------------------------------------------------------------------------------


def position_facts(row: DutyPosition) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "division_adcode": row.division_adcode,
        "position": row.position,
        "label": row.label,
        "seats": row.seats,
        "unit_id": str(row.unit_id) if row.unit_id else None,
    }


def _position_key(row: DutyPosition) -> tuple[int, str]:
    return (POSITION_ORDER.get(row.position, 9), row.label)


async def list_positions(session: AsyncSession, *, division_adcode: str) -> list[DutyPosition]:
    rows = await session.scalars(
        select(DutyPosition).where(DutyPosition.division_adcode == division_adcode)
    )
    return sorted(rows.all(), key=_position_key)


@dataclass(frozen=True, slots=True)
class PositionSpec:
    position: Position
    label: str
    seats: int
    unit_id: uuid.UUID | None


def check_one_plus_one(specs: Sequence[PositionSpec]) -> None:
    """A 1+1+X+X duty: exactly one leader seat and one chief seat, at least one officer; two
    rows never share a position and label."""
    seen: set[tuple[str, str]] = set()
    seats: dict[Position, int] = defaultdict(int)
    for spec in specs:
        key = (spec.position.value, spec.label)
        if key in seen:
            raise ValidationFailed(
                "duty_position_repeated",
                "a position and label appear twice",
                {"position": spec.position.value, "label": spec.label},
            )
        seen.add(key)
        seats[spec.position] += spec.seats
    for position, wanted in ((Position.LEADER, 1), (Position.CHIEF, 1)):
        if seats[position] != wanted:
            raise ValidationFailed(
                "duty_positions_not_1_1_x_x",
                "a duty has exactly one leader seat and one chief seat",
                {"position": position.value, "seats": seats[position]},
            )
    if seats[Position.OFFICER] < 1:
        raise ValidationFailed(
            "duty_positions_not_1_1_x_x",
            "a duty has at least one officer seat",
            {"position": Position.OFFICER.value, "seats": 0},
        )


async def set_positions(
    session: AsyncSession, *, division_adcode: str, path: str, specs: Sequence[PositionSpec]
) -> list[DutyPosition]:
    """Replace a division's positions (shifts already generated keep their seats)."""
    check_one_plus_one(specs)
    for spec in specs:
        if (
            spec.unit_id is not None
            and await org.get_unit(session=session, unit_id=spec.unit_id) is None
        ):
            raise ValidationFailed("unit_not_found", "no such unit", {"unit_id": str(spec.unit_id)})
    before = [
        position_facts(p) for p in await list_positions(session, division_adcode=division_adcode)
    ]
    await session.execute(
        delete(DutyPosition).where(DutyPosition.division_adcode == division_adcode)
    )
    now = clock.now()
    rows = [
        DutyPosition(
            division_adcode=division_adcode,
            position=spec.position.value,
            label=spec.label,
            seats=spec.seats,
            unit_id=spec.unit_id,
            created_at=now,
            updated_at=now,
        )
        for spec in specs
    ]
    session.add_all(rows)
    await session.flush()
    rows.sort(key=_position_key)
    await record_change(
        session,
        action="duty.positions.set",
        subject_type="division",
        subject_id=division_adcode,
        before={"positions": before},
        after={"positions": [position_facts(p) for p in rows]},
        audience=audience(path),
    )
    return rows


# --- patterns -----------------------------------------------------------------------------------


def stored_specs(shifts: Sequence[Mapping[str, object]]) -> list[ShiftSpec]:
    """A stored pattern's shifts (its JSON column, written by :func:`create_pattern` from
    checked specs) as specs."""
    specs = []
    for item in shifts:
        match = _HHMM.fullmatch(str(item.get("start", "")))
        hours = item.get("hours")
        if match is None or not isinstance(hours, int):
            raise ValidationFailed("shift_pattern_invalid", "a stored shift is unreadable")
        start = time(int(match[1]), int(match[2]))
        specs.append(ShiftSpec(str(item.get("code", "")), start, hours))
    return specs


def check_specs(kind: PatternKind, specs: Sequence[ShiftSpec]) -> list[ShiftSpec]:
    """A pattern's shifts, checked: codes unique, lengths that tile a day (day and night), one
    day (24 h) or one week (weekly)."""
    specs = list(specs)
    if any(not spec.code or spec.hours < 1 for spec in specs):
        raise ValidationFailed("shift_pattern_invalid", "each shift has a code and hours")
    if len({s.code for s in specs}) != len(specs):
        raise ValidationFailed("shift_pattern_invalid", "shift codes repeat")
    wanted = {
        PatternKind.DAY_NIGHT: (2, 24),
        PatternKind.FULL_DAY: (1, 24),
        PatternKind.WEEKLY: (1, 168),
    }
    count, total = wanted[kind]
    if len(specs) != count or sum(s.hours for s in specs) != total:
        raise ValidationFailed(
            "shift_pattern_invalid",
            f"a {kind.value} pattern has {count} shift(s) of {total} hours in all",
            {"kind": kind.value, "shifts": count, "hours": total},
        )
    if kind is PatternKind.DAY_NIGHT:
        first, second = sorted(specs, key=lambda s: s.start)
        gap = (second.start.hour * 60 + second.start.minute) - (
            first.start.hour * 60 + first.start.minute
        )
        if gap != first.hours * 60:
            raise ValidationFailed(
                "shift_pattern_invalid", "the night shift starts when the day shift ends"
            )
    return specs


def pattern_facts(row: ShiftPattern) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "division_adcode": row.division_adcode,
        "name": row.name,
        "kind": row.kind,
        "shifts": row.shifts,
        "min_rest_hours": row.min_rest_hours,
    }


async def list_patterns(session: AsyncSession, *, division_adcode: str) -> list[ShiftPattern]:
    rows = await session.scalars(
        select(ShiftPattern)
        .where(ShiftPattern.division_adcode == division_adcode)
        .order_by(ShiftPattern.name)
    )
    return list(rows.all())


async def create_pattern(
    session: AsyncSession,
    *,
    division_adcode: str,
    path: str,
    name: str,
    kind: PatternKind,
    shifts: Sequence[ShiftSpec],
    min_rest_hours: int,
) -> ShiftPattern:
    specs = check_specs(kind, shifts)
    taken = await session.scalar(
        select(ShiftPattern.id).where(
            ShiftPattern.division_adcode == division_adcode, ShiftPattern.name == name
        )
    )
    if taken is not None:
        raise Conflict(
            "shift_pattern_exists", "the division has a pattern of that name", {"name": name}
        )
    now = clock.now()
    row = ShiftPattern(
        division_adcode=division_adcode,
        name=name,
        kind=kind.value,
        shifts=[
            {"code": s.code, "start": s.start.strftime("%H:%M"), "hours": s.hours} for s in specs
        ],
        min_rest_hours=min_rest_hours,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    await record_change(
        session,
        action="duty.pattern.created",
        subject_type="shift_pattern",
        subject_id=row.id,
        before=None,
        after=pattern_facts(row),
        audience=audience(path),
    )
    return row


async def get_pattern_or_raise(
    session: AsyncSession, *, pattern_id: uuid.UUID, division_adcode: str
) -> ShiftPattern:
    row = await session.get(ShiftPattern, pattern_id)
    if row is None or row.division_adcode != division_adcode:
        raise NotFound(
            "shift_pattern_not_found", "no such shift pattern", {"pattern_id": str(pattern_id)}
        )
    return row


# --- months and the generator -------------------------------------------------------------------


def month_bounds(month: str) -> tuple[date, datetime, datetime]:
    """``YYYY-MM`` → its first day and the UTC instants of its local start and end."""
    match = re.fullmatch(r"(\d{4})-(0[1-9]|1[0-2])", month)
    if match is None:
        raise ValidationFailed("invalid_month", "a month is YYYY-MM", {"month": month})
    first = date(int(match[1]), int(match[2]), 1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    start = datetime.combine(first, time(0), LOCAL_TZ)
    end = datetime.combine(following, time(0), LOCAL_TZ)
    return first, as_utc(start), as_utc(end)


#: the day the rotations count from (a Monday): shift *n* after it goes to the *n*-th person in
#: turn, so a month continues the rotation of the month before whenever it is generated
ROTATION_EPOCH = date(2000, 1, 3)


def shift_periods(
    kind: PatternKind, specs: Sequence[ShiftSpec], month: str
) -> list[tuple[int, str, datetime, datetime]]:
    """The (turn, code, start, end) of every shift a pattern starts in ``month``, in order; the
    turn counts the pattern's shifts since :data:`ROTATION_EPOCH`. A weekly rotation starts on
    the Mondays of the month; the others every day."""
    first, _, _ = month_bounds(month)
    ordered = sorted(specs, key=lambda s: s.start)
    periods: list[tuple[int, str, datetime, datetime]] = []
    day = first
    while day.month == first.month:
        days = (day - ROTATION_EPOCH).days
        if kind is PatternKind.WEEKLY:
            if day.weekday() == 0:
                start = as_utc(datetime.combine(day, ordered[0].start, LOCAL_TZ))
                periods.append(
                    (days // 7, ordered[0].code, start, start + timedelta(hours=ordered[0].hours))
                )
        else:
            for number, spec in enumerate(ordered):
                start = as_utc(datetime.combine(day, spec.start, LOCAL_TZ))
                turn = days * len(ordered) + number
                periods.append((turn, spec.code, start, start + timedelta(hours=spec.hours)))
        day += timedelta(days=1)
    return periods


@dataclass(frozen=True, slots=True)
class Seat:
    position: str
    label: str
    seat: int


def seats_of(positions: Iterable[DutyPosition]) -> list[Seat]:
    return [
        Seat(p.position, p.label, n)
        for p in sorted(positions, key=_position_key)
        for n in range(1, p.seats + 1)
    ]


async def _named_people(
    session: AsyncSession, *, person_ids: Iterable[uuid.UUID], scope: Scope
) -> dict[uuid.UUID, str]:
    """The names of people the principal may see; 422 ``person_not_found`` for any other."""
    names: dict[uuid.UUID, str] = {}
    for person_id in sorted(set(person_ids)):
        try:
            person = await org.get_person_or_raise(
                session=session, person_id=person_id, scope=scope
            )
        except NotFound as exc:
            raise ValidationFailed(
                "person_not_found", "no such person", {"person_id": str(person_id)}
            ) from exc
        names[person_id] = person.name
    return names


async def generate_month(
    session: AsyncSession,
    *,
    division_adcode: str,
    path: str,
    scope: Scope,
    pattern: ShiftPattern,
    month: str,
    rotations: Sequence[SeatRotation],
    replace: bool,
) -> list[DutyShift]:
    """Fill ``month`` from ``pattern`` and the seats' rotations: one shift per seat and period.
    A month that has shifts is refused unless ``replace``, which rewrites only what has not
    started and nobody checked in to (the past stays as it was)."""
    positions = await list_positions(session, division_adcode=division_adcode)
    if not positions:
        raise ValidationFailed("duty_positions_missing", "set the division's positions first")
    seats = seats_of(positions)
    rotation_of: dict[Seat, SeatRotation] = {}
    for rotation in rotations:
        seat = Seat(rotation.position.value, rotation.label, rotation.seat)
        if seat not in seats:
            raise ValidationFailed(
                "duty_seat_unknown",
                "the rotation names a seat the division does not have",
                {"position": seat.position, "label": seat.label, "seat": seat.seat},
            )
        rotation_of[seat] = rotation
    names = await _named_people(
        session, person_ids=[p for r in rotations for p in r.people], scope=scope
    )
    _, start, end = month_bounds(month)
    now = clock.now()
    in_month = and_(
        DutyShift.division_adcode == division_adcode,
        DutyShift.starts_at >= start,
        DutyShift.starts_at < end,
    )
    existing = await session.scalar(select(DutyShift.id).where(in_month).limit(1))
    if existing is not None and not replace:
        raise Conflict(
            "roster_month_exists", "the month has a roster; replace it or edit it", {"month": month}
        )
    kept: set[tuple[str, str, int, datetime]] = set()
    if replace:
        await session.execute(
            delete(DutyShift)
            .where(in_month, DutyShift.starts_at > now, DutyShift.state == ShiftState.SCHEDULED)
            .execution_options(synchronize_session=False)
        )
        for row in await session.execute(
            select(DutyShift.position, DutyShift.label, DutyShift.seat, DutyShift.starts_at).where(
                in_month
            )
        ):
            kept.add((row[0], row[1], row[2], as_utc(row[3])))
    periods = shift_periods(PatternKind(pattern.kind), stored_specs(pattern.shifts), month)
    made: list[DutyShift] = []
    for seat in seats:
        turn = rotation_of.get(seat)
        for turn_number, code, begins, ends in periods:
            if (seat.position, seat.label, seat.seat, begins) in kept or (
                replace and begins <= now
            ):
                continue
            person = (
                turn.people[(turn.offset + turn_number) % len(turn.people)]
                if turn is not None and turn.people
                else None
            )
            made.append(
                DutyShift(
                    division_adcode=division_adcode,
                    position=seat.position,
                    label=seat.label,
                    seat=seat.seat,
                    shift_code=code,
                    pattern_id=pattern.id,
                    starts_at=begins,
                    ends_at=ends,
                    person_id=person,
                    person_name=names.get(person) if person else None,
                    state=ShiftState.SCHEDULED,
                    created_at=now,
                    updated_at=now,
                )
            )
    session.add_all(made)
    await session.flush()
    await _arm_check_ins(session, made)
    await record_change(
        session,
        action="duty.roster.generated",
        subject_type="division",
        subject_id=division_adcode,
        before=None,
        after={
            "division_adcode": division_adcode,
            "month": month,
            "pattern_id": str(pattern.id),
            "shifts": len(made),
            "replaced": replace,
        },
        audience=audience(path),
    )
    return made


async def _arm_check_ins(session: AsyncSession, shifts: Sequence[DutyShift]) -> None:
    """Arm the check-in timers of the shifts that start soon (``attendance.ARM_AHEAD``) at once;
    the hourly arming timer takes the later ones when their time comes."""
    soon = clock.now() + attendance.ARM_AHEAD
    ids = [s.id for s in shifts if s.person_id is not None and as_utc(s.starts_at) <= soon]
    if ids:
        await attendance.arm(session, shift_ids=ids)


# --- reading a roster ---------------------------------------------------------------------------


def seat_order(shift: DutyShift) -> tuple[datetime, int, str, int]:
    return (as_utc(shift.starts_at), POSITION_ORDER.get(shift.position, 9), shift.label, shift.seat)


async def shifts_between(
    session: AsyncSession, *, division_adcode: str, start: datetime, end: datetime
) -> list[DutyShift]:
    rows = await session.scalars(
        select(DutyShift).where(
            DutyShift.division_adcode == division_adcode,
            DutyShift.starts_at >= start,
            DutyShift.starts_at < end,
        )
    )
    return sorted(rows.all(), key=seat_order)


async def _rest_hours(
    session: AsyncSession, pattern_ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, int]:
    ids = {p for p in pattern_ids if p is not None}
    if not ids:
        return {}
    rows = await session.execute(
        select(ShiftPattern.id, ShiftPattern.min_rest_hours).where(ShiftPattern.id.in_(ids))
    )
    return {row[0]: row[1] for row in rows}


async def find_conflicts(
    session: AsyncSession, *, shifts: Sequence[DutyShift]
) -> list[RosterConflict]:
    """The conflicts of ``shifts``: their empty seats, and for each person on them every pair of
    that person's shifts (in any division, a week around) that overlap or leave too little rest,
    where at least one of the pair is among ``shifts``."""
    found: list[RosterConflict] = [
        RosterConflict(ConflictCode.EMPTY_SEAT, (s.id,), None, None, as_utc(s.starts_at))
        for s in shifts
        if s.person_id is None
    ]
    people = {s.person_id for s in shifts if s.person_id is not None}
    if not people:
        return found
    ours = {s.id for s in shifts}
    start = min(as_utc(s.starts_at) for s in shifts) - _NEIGHBOURHOOD
    end = max(as_utc(s.ends_at) for s in shifts) + _NEIGHBOURHOOD
    theirs = list(
        (
            await session.scalars(
                select(DutyShift).where(
                    DutyShift.person_id.in_(people),
                    DutyShift.ends_at > start,
                    DutyShift.starts_at < end,
                )
            )
        ).all()
    )
    rest = await _rest_hours(session, (s.pattern_id for s in theirs))
    by_person: dict[uuid.UUID, list[DutyShift]] = defaultdict(list)
    for s in theirs:
        if s.person_id is not None:
            by_person[s.person_id].append(s)
    for person_id, rows in sorted(by_person.items(), key=lambda kv: str(kv[0])):
        rows.sort(key=lambda s: (as_utc(s.starts_at), str(s.id)))
        for a, b in zip(rows, rows[1:], strict=False):
            if a.id not in ours and b.id not in ours:
                continue
            gap = as_utc(b.starts_at) - as_utc(a.ends_at)
            wanted = max(
                rest.get(a.pattern_id, DEFAULT_MIN_REST_HOURS)
                if a.pattern_id
                else DEFAULT_MIN_REST_HOURS,
                rest.get(b.pattern_id, DEFAULT_MIN_REST_HOURS)
                if b.pattern_id
                else DEFAULT_MIN_REST_HOURS,
            )
            if gap < timedelta(0):
                found.append(
                    RosterConflict(
                        ConflictCode.DOUBLE_BOOKED,
                        (a.id, b.id),
                        person_id,
                        b.person_name,
                        as_utc(b.starts_at),
                    )
                )
            elif gap < timedelta(hours=wanted):
                found.append(
                    RosterConflict(
                        ConflictCode.SHORT_REST,
                        (a.id, b.id),
                        person_id,
                        b.person_name,
                        as_utc(b.starts_at),
                        rest_hours=round(gap.total_seconds() / 3600, 2),
                        min_rest_hours=wanted,
                    )
                )
    found.sort(key=lambda c: (c.starts_at, c.code.value))
    return found


# --- edits --------------------------------------------------------------------------------------


def shift_facts(shift: DutyShift) -> dict[str, Any]:
    return {
        "id": str(shift.id),
        "division_adcode": shift.division_adcode,
        "position": shift.position,
        "label": shift.label,
        "seat": shift.seat,
        "shift_code": shift.shift_code,
        "starts_at": as_utc(shift.starts_at).isoformat(),
        "ends_at": as_utc(shift.ends_at).isoformat(),
        "person_id": str(shift.person_id) if shift.person_id else None,
        "person_name": shift.person_name,
        "state": shift.state,
        "version": shift.version,
    }


async def get_shift_in_scope(
    session: AsyncSession, *, shift_id: uuid.UUID, scope: Scope
) -> tuple[DutyShift, str]:
    shift = await session.get(DutyShift, shift_id)
    path = (
        await org.path_of_division(session=session, adcode=shift.division_adcode)
        if shift is not None
        else None
    )
    if shift is None or path is None or not scope.covers(division_path=path):
        raise NotFound("shift_not_found", "no such shift", {"shift_id": str(shift_id)})
    return shift, path


async def _refuse_double_booking(session: AsyncSession, shifts: Sequence[DutyShift]) -> None:
    for conflict in await find_conflicts(session, shifts=shifts):
        if conflict.code is ConflictCode.DOUBLE_BOOKED:
            raise Conflict(
                "duty_double_booked",
                "the person is on another shift at that time",
                conflict.facts(),
            )


async def assign_shift(
    session: AsyncSession,
    *,
    shift: DutyShift,
    path: str,
    scope: Scope,
    version: int,
    person_id: uuid.UUID | None,
) -> DutyShift:
    """Put ``person_id`` (or nobody) on a shift that has not ended; one person is never on two
    shifts at once."""
    if shift.version != version:
        raise Conflict("stale_version", "the shift changed meanwhile", {"version": shift.version})
    if as_utc(shift.ends_at) <= clock.now():
        raise Conflict(
            "shift_over", "a shift that has ended stays as it was", {"shift_id": str(shift.id)}
        )
    names = await _named_people(session, person_ids=[person_id] if person_id else [], scope=scope)
    before = shift_facts(shift)
    changed = await session.execute(
        update(DutyShift)
        .where(DutyShift.id == shift.id, DutyShift.version == version)
        .values(
            person_id=person_id,
            person_name=names.get(person_id) if person_id else None,
            version=version + 1,
            updated_at=clock.now(),
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(changed, "rowcount", 1) != 1:
        raise Conflict("stale_version", "the shift changed meanwhile")
    await session.refresh(shift)
    await _refuse_double_booking(session, [shift])
    await _arm_check_ins(session, [shift])
    await record_change(
        session,
        action="duty.shift.assigned",
        subject_type="duty_shift",
        subject_id=shift.id,
        before=before,
        after=shift_facts(shift),
        audience=audience(path),
    )
    return shift


# --- swaps (换班) --------------------------------------------------------------------------------


def swap_facts(swap: ShiftSwap) -> dict[str, Any]:
    return {
        "id": str(swap.id),
        "division_adcode": swap.division_adcode,
        "shift_id": str(swap.shift_id),
        "with_shift_id": str(swap.with_shift_id) if swap.with_shift_id else None,
        "to_person_id": str(swap.to_person_id) if swap.to_person_id else None,
        "reason": swap.reason,
        "state": swap.state,
        "requested_by": swap.requested_by,
        "decided_by": swap.decided_by,
        "decision_note": swap.decision_note,
    }


def _open_for_swap(shift: DutyShift) -> None:
    if shift.state != ShiftState.SCHEDULED or as_utc(shift.starts_at) <= clock.now():
        raise Conflict(
            "shift_not_swappable",
            "only a shift that has not started can be swapped",
            {"shift_id": str(shift.id)},
        )


async def principal_person(session: AsyncSession, principal: Principal) -> uuid.UUID | None:
    """The person the principal's account belongs to, if linked."""
    return await org.person_of_user(session=session, user_id=principal.user_id)


async def request_swap(
    session: AsyncSession,
    *,
    principal: Principal,
    shift_id: uuid.UUID,
    with_shift_id: uuid.UUID | None,
    to_person_id: uuid.UUID | None,
    reason: str | None,
) -> ShiftSwap:
    """Ask for 换班: exchange two shifts of one seat type, or give a shift to another person.
    The person on either shift asks, or a roster manager; a roster manager decides."""
    if (with_shift_id is None) == (to_person_id is None):
        raise ValidationFailed("swap_target_required", "name either with_shift_id or to_person_id")
    shift, path = await get_shift_in_scope(session, shift_id=shift_id, scope=principal.scope)
    _open_for_swap(shift)
    involved = {shift.person_id}
    if with_shift_id is not None:
        other, _ = await get_shift_in_scope(session, shift_id=with_shift_id, scope=principal.scope)
        _open_for_swap(other)
        if other.id == shift.id or (other.position, other.label) != (shift.position, shift.label):
            raise ValidationFailed(
                "swap_seats_differ", "two shifts are exchanged only within one position"
            )
        if other.division_adcode != shift.division_adcode:
            raise ValidationFailed("swap_seats_differ", "two shifts of one division are exchanged")
        involved.add(other.person_id)
    else:
        await _named_people(
            session, person_ids=[to_person_id] if to_person_id else [], scope=principal.scope
        )
    if not principal.can(Permission.DUTY_ROSTER):
        me = await principal_person(session, principal)
        if me is None or me not in involved:
            raise PermissionDenied("not_your_shift", "ask to swap only a shift of your own")
    pending = await session.scalar(
        select(ShiftSwap.id).where(
            ShiftSwap.state == SwapState.REQUESTED,
            or_(
                ShiftSwap.shift_id.in_([shift.id, *([with_shift_id] if with_shift_id else [])]),
                ShiftSwap.with_shift_id.in_(
                    [shift.id, *([with_shift_id] if with_shift_id else [])]
                ),
            ),
        )
    )
    if pending is not None:
        raise Conflict(
            "swap_pending", "a swap of this shift awaits a decision", {"swap_id": str(pending)}
        )
    swap = ShiftSwap(
        division_adcode=shift.division_adcode,
        shift_id=shift.id,
        with_shift_id=with_shift_id,
        to_person_id=to_person_id,
        reason=reason,
        state=SwapState.REQUESTED,
        requested_by=str(principal.user_id),
        requested_at=clock.now(),
    )
    session.add(swap)
    await session.flush()
    await record_change(
        session,
        action="duty.swap.requested",
        subject_type="duty_swap",
        subject_id=swap.id,
        before=None,
        after=swap_facts(swap),
        audience=audience(path),
    )
    return swap


async def get_swap_in_scope(
    session: AsyncSession, *, swap_id: uuid.UUID, scope: Scope
) -> tuple[ShiftSwap, str]:
    swap = await session.get(ShiftSwap, swap_id)
    path = (
        await org.path_of_division(session=session, adcode=swap.division_adcode)
        if swap is not None
        else None
    )
    if swap is None or path is None or not scope.covers(division_path=path):
        raise NotFound("swap_not_found", "no such swap", {"swap_id": str(swap_id)})
    return swap, path


async def list_swaps(
    session: AsyncSession, *, division_adcode: str, state: SwapState | None
) -> list[ShiftSwap]:
    stmt = select(ShiftSwap).where(ShiftSwap.division_adcode == division_adcode)
    if state is not None:
        stmt = stmt.where(ShiftSwap.state == state.value)
    rows = await session.scalars(stmt.order_by(ShiftSwap.requested_at.desc()).limit(500))
    return list(rows.all())


async def _decide(
    session: AsyncSession, *, swap: ShiftSwap, principal: Principal, to: SwapState, note: str | None
) -> dict[str, Any]:
    before = swap_facts(swap)
    changed = await session.execute(
        update(ShiftSwap)
        .where(ShiftSwap.id == swap.id, ShiftSwap.state == SwapState.REQUESTED)
        .values(
            state=to.value,
            decided_by=str(principal.user_id),
            decided_at=clock.now(),
            decision_note=note,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(changed, "rowcount", 1) != 1:
        raise Conflict("swap_decided", "the swap was decided already", {"state": swap.state})
    await session.refresh(swap)
    return before


def _move(shift: DutyShift, person_id: uuid.UUID | None, name: str | None) -> None:
    shift.person_id = person_id
    shift.person_name = name
    shift.version += 1
    shift.updated_at = clock.now()


async def approve_swap(
    session: AsyncSession, *, swap: ShiftSwap, path: str, principal: Principal, note: str | None
) -> ShiftSwap:
    """Carry out a swap; refused (nothing changes) when a shift has started meanwhile or when
    it would put someone on two shifts at once."""
    before = await _decide(
        session, swap=swap, principal=principal, to=SwapState.APPROVED, note=note
    )
    shift = await session.get(DutyShift, swap.shift_id)
    if shift is None:
        raise NotFound("shift_not_found", "the swapped shift is gone")
    _open_for_swap(shift)
    changed = [shift]
    if swap.with_shift_id is not None:
        other = await session.get(DutyShift, swap.with_shift_id)
        if other is None:
            raise NotFound("shift_not_found", "the swapped shift is gone")
        _open_for_swap(other)
        mine = (shift.person_id, shift.person_name)
        _move(shift, other.person_id, other.person_name)
        _move(other, *mine)
        changed.append(other)
    else:
        names = await _named_people(
            session,
            person_ids=[swap.to_person_id] if swap.to_person_id else [],
            scope=principal.scope,
        )
        _move(shift, swap.to_person_id, names.get(swap.to_person_id) if swap.to_person_id else None)
    await session.flush()
    await _refuse_double_booking(session, changed)
    await _arm_check_ins(session, changed)
    await record_change(
        session,
        action="duty.swap.approved",
        subject_type="duty_swap",
        subject_id=swap.id,
        before=before,
        after={**swap_facts(swap), "shifts": [shift_facts(s) for s in changed]},
        audience=audience(path),
        payload={
            "before": before,
            "after": swap_facts(swap),
            "shifts": [shift_facts(s) for s in changed],
            "notices": [_decision_notice(swap, approved=True)],
        },
    )
    return swap


async def reject_swap(
    session: AsyncSession, *, swap: ShiftSwap, path: str, principal: Principal, note: str | None
) -> ShiftSwap:
    before = await _decide(
        session, swap=swap, principal=principal, to=SwapState.REJECTED, note=note
    )
    await record_change(
        session,
        action="duty.swap.rejected",
        subject_type="duty_swap",
        subject_id=swap.id,
        before=before,
        after=swap_facts(swap),
        audience=audience(path),
        payload={
            "before": before,
            "after": swap_facts(swap),
            "notices": [_decision_notice(swap, approved=False)],
        },
    )
    return swap


def _decision_notice(swap: ShiftSwap, *, approved: bool) -> dict[str, Any]:
    """The notification to the person who asked (``notify.jobs.Notices``)."""
    return {
        "kind": "duty_swap_approved" if approved else "duty_swap_rejected",
        "title": "换班申请已批准" if approved else "换班申请未批准",
        "body": swap.decision_note or "",
        "user_ids": [swap.requested_by],
        "subject_type": "duty_swap",
        "subject_id": str(swap.id),
    }


# --- who is on duty -----------------------------------------------------------------------------


async def seats_at(
    session: AsyncSession, *, division_adcode: str, at: datetime
) -> tuple[list[DutyShift], list[DutyShift]]:
    """The shifts of a division running at ``at`` and, per seat, the next one to start."""
    current = list(
        (
            await session.scalars(
                select(DutyShift).where(
                    DutyShift.division_adcode == division_adcode,
                    DutyShift.starts_at <= at,
                    DutyShift.ends_at > at,
                )
            )
        ).all()
    )
    upcoming = (
        await session.scalars(
            select(DutyShift)
            .where(
                DutyShift.division_adcode == division_adcode,
                DutyShift.starts_at > at,
                DutyShift.starts_at <= at + _NEIGHBOURHOOD,
            )
            .order_by(DutyShift.starts_at)
        )
    ).all()
    following: dict[tuple[str, str, int], DutyShift] = {}
    for shift in upcoming:
        following.setdefault((shift.position, shift.label, shift.seat), shift)
    return sorted(current, key=seat_order), sorted(following.values(), key=seat_order)


async def resolve_on_duty(
    session: AsyncSession,
    *,
    division_path: str,
    positions: Sequence[Position],
    at: datetime,
) -> list[OnDuty] | None:
    """``core.on_duty``'s resolver: the people on ``positions`` at ``at`` in the nearest division
    on ``division_path`` (itself, then its parents) that has someone on them then; ``None`` when
    no division on the path does (empty seats included), so the asker falls back to roles."""
    adcodes = [code for code in division_path.split("/") if code]
    if not adcodes or not positions:
        return None
    rows = (
        await session.scalars(
            select(DutyShift).where(
                DutyShift.division_adcode.in_(adcodes),
                DutyShift.position.in_([p.value for p in positions]),
                DutyShift.person_id.is_not(None),
                DutyShift.starts_at <= at,
                DutyShift.ends_at > at,
            )
        )
    ).all()
    for adcode in reversed(adcodes):
        found = sorted((s for s in rows if s.division_adcode == adcode), key=seat_order)
        if not found:
            continue
        accounts = {
            p.id: p.user_id
            for p in await org.people_by_ids(
                session=session, person_ids=[s.person_id for s in found if s.person_id]
            )
        }
        return [
            OnDuty(
                person_id=s.person_id,
                user_id=accounts.get(s.person_id) if s.person_id else None,
                name=s.person_name or "",
                position=Position(s.position),
                division_adcode=s.division_adcode,
                shift_id=s.id,
            )
            for s in found
        ]
    return None
