"""HTTP routes of rosters (排班): positions, shift patterns, generating a month, the roster with
its conflicts, edits, swaps (换班) with approval, and who is on duty now (``GET /duty/now``).

Every route names its division; a division outside the principal's scope is 404."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from yingji.core import clock
from yingji.core.clock import as_utc
from yingji.core.on_duty import Position
from yingji.core.security import Permission, Principal, Scope
from yingji.core.web import Require, Session
from yingji.duty import roster
from yingji.duty.models import DutyPosition, DutyShift, ShiftPattern, ShiftSwap, SwapState
from yingji.org import service as org

router = APIRouter(prefix="/api/v1/duty", tags=["duty · 排班"])

Reader = Annotated[Principal, Require(Permission.DUTY_READ)]
Writer = Annotated[Principal, Require(Permission.DUTY_WRITE)]
Manager = Annotated[Principal, Require(Permission.DUTY_ROSTER)]
ADCODE = r"^\d{6}$|^\d{12}$"
Division = Annotated[str, Query(pattern=ADCODE, description="the division's adcode")]
Month = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM (local)")]
Label = Annotated[str, Field(default="", max_length=60)]


# --- schemas ------------------------------------------------------------------------------------


class DutyPositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: Position
    label: Label
    seats: int = Field(default=1, ge=1, le=20)
    unit_id: uuid.UUID | None = None


class DutyPositionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    positions: list[DutyPositionIn] = Field(min_length=3, max_length=40)


class DutyPositionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    division_adcode: str
    position: str
    label: str
    seats: int
    unit_id: uuid.UUID | None


class DutyPositionList(BaseModel):
    items: list[DutyPositionRead]


class ShiftPatternShiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=20, pattern=r"^[a-z0-9_]+$")
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    hours: int = Field(ge=1, le=168)

    def spec(self) -> roster.ShiftSpec:
        hour, minute = self.start.split(":")
        return roster.ShiftSpec(self.code, time(int(hour), int(minute)), self.hours)


class ShiftPatternShiftRead(BaseModel):
    code: str
    start: str
    hours: int


class ShiftPatternCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    division_adcode: str = Field(pattern=ADCODE)
    name: str = Field(min_length=1, max_length=60)
    kind: roster.PatternKind
    shifts: list[ShiftPatternShiftIn] = Field(min_length=1, max_length=2)
    min_rest_hours: int = Field(default=8, ge=0, le=72)


class ShiftPatternRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    division_adcode: str
    name: str
    kind: str
    shifts: list[ShiftPatternShiftRead]
    min_rest_hours: int


class ShiftPatternList(BaseModel):
    items: list[ShiftPatternRead]


class RosterRotationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: Position
    label: Label
    seat: int = Field(default=1, ge=1, le=20)
    people: list[uuid.UUID] = Field(default_factory=list, max_length=62)
    offset: int = Field(default=0, ge=0, le=1000)


class RosterGenerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    division_adcode: str = Field(pattern=ADCODE)
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    pattern_id: uuid.UUID
    rotations: list[RosterRotationIn] = Field(default_factory=list, max_length=80)
    replace: bool = False


class RosterShiftRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    division_adcode: str
    position: str
    label: str
    seat: int
    shift_code: str
    starts_at: datetime
    ends_at: datetime
    person_id: uuid.UUID | None
    person_name: str | None
    state: str
    checked_in_at: datetime | None
    version: int


class RosterConflictRead(BaseModel):
    code: str
    shift_ids: list[uuid.UUID]
    person_id: uuid.UUID | None
    person_name: str | None
    starts_at: datetime
    rest_hours: float | None
    min_rest_hours: int | None


class RosterRead(BaseModel):
    division_adcode: str
    month: str
    shifts: list[RosterShiftRead]
    conflicts: list[RosterConflictRead]


class RosterGenerateRead(BaseModel):
    division_adcode: str
    month: str
    created: int
    conflicts: list[RosterConflictRead]


class RosterShiftAssign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=2**31 - 1)
    person_id: uuid.UUID | None


class ShiftSwapCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shift_id: uuid.UUID
    with_shift_id: uuid.UUID | None = None
    to_person_id: uuid.UUID | None = None
    reason: str | None = Field(default=None, max_length=300)


class ShiftSwapDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=300)


class ShiftSwapRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    division_adcode: str
    shift_id: uuid.UUID
    with_shift_id: uuid.UUID | None
    to_person_id: uuid.UUID | None
    reason: str | None
    state: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None


class ShiftSwapList(BaseModel):
    items: list[ShiftSwapRead]


class DutySeat(BaseModel):
    shift_id: uuid.UUID
    position: str
    label: str
    seat: int
    person_id: uuid.UUID | None
    person_name: str | None
    starts_at: datetime
    ends_at: datetime
    state: str
    checked_in_at: datetime | None


class DutyNow(BaseModel):
    division_adcode: str
    at: datetime
    current: list[DutySeat]
    next: list[DutySeat]


class RosterCandidate(BaseModel):
    id: uuid.UUID
    name: str
    position: str | None
    unit_id: uuid.UUID


class RosterCandidateList(BaseModel):
    items: list[RosterCandidate]


def _conflicts(found: list[roster.RosterConflict]) -> list[RosterConflictRead]:
    return [
        RosterConflictRead(
            code=c.code.value,
            shift_ids=list(c.shift_ids),
            person_id=c.person_id,
            person_name=c.person_name,
            starts_at=c.starts_at,
            rest_hours=c.rest_hours,
            min_rest_hours=c.min_rest_hours,
        )
        for c in found
    ]


def _seat(shift: DutyShift) -> DutySeat:
    return DutySeat(
        shift_id=shift.id,
        position=shift.position,
        label=shift.label,
        seat=shift.seat,
        person_id=shift.person_id,
        person_name=shift.person_name,
        starts_at=as_utc(shift.starts_at),
        ends_at=as_utc(shift.ends_at),
        state=shift.state,
        checked_in_at=as_utc(shift.checked_in_at) if shift.checked_in_at else None,
    )


# --- positions and patterns ---------------------------------------------------------------------


@router.get(
    "/positions",
    response_model=DutyPositionList,
    responses={404: {}},
    summary="A division's duty positions (1 leader + 1 chief + X officers + X professional staff)",
)
async def get_positions(division: Division, session: Session, me: Reader) -> DutyPositionList:
    await roster.division_path_in_scope(session, adcode=division, scope=me.scope)
    rows = await roster.list_positions(session, division_adcode=division)
    return DutyPositionList(items=[DutyPositionRead.model_validate(r) for r in rows])


@router.put(
    "/positions",
    response_model=DutyPositionList,
    responses={403: {}, 404: {}, 422: {"description": "duty_positions_not_1_1_x_x"}},
    summary="Replace a division's duty positions (exactly one leader and one chief seat)",
)
async def put_positions(
    division: Division, body: DutyPositionsIn, session: Session, me: Manager
) -> DutyPositionList:
    path = await roster.division_path_in_scope(session, adcode=division, scope=me.scope)
    rows: list[DutyPosition] = await roster.set_positions(
        session,
        division_adcode=division,
        path=path,
        specs=[
            roster.PositionSpec(p.position, p.label, p.seats, p.unit_id) for p in body.positions
        ],
    )
    return DutyPositionList(items=[DutyPositionRead.model_validate(r) for r in rows])


@router.get(
    "/patterns",
    response_model=ShiftPatternList,
    responses={404: {}},
    summary="A division's shift patterns",
)
async def get_patterns(division: Division, session: Session, me: Reader) -> ShiftPatternList:
    await roster.division_path_in_scope(session, adcode=division, scope=me.scope)
    rows = await roster.list_patterns(session, division_adcode=division)
    return ShiftPatternList(items=[ShiftPatternRead.model_validate(r) for r in rows])


@router.post(
    "/patterns",
    response_model=ShiftPatternRead,
    status_code=201,
    responses={403: {}, 404: {}, 409: {"description": "shift_pattern_exists"}, 422: {}},
    summary="Add a shift pattern: day_night (two shifts tiling a day), full_day (24 h) or weekly "
    "(168 h from Mondays)",
)
async def create_pattern(body: ShiftPatternCreate, session: Session, me: Manager) -> ShiftPattern:
    path = await roster.division_path_in_scope(session, adcode=body.division_adcode, scope=me.scope)
    return await roster.create_pattern(
        session,
        division_adcode=body.division_adcode,
        path=path,
        name=body.name,
        kind=body.kind,
        shifts=[s.spec() for s in body.shifts],
        min_rest_hours=body.min_rest_hours,
    )


@router.get(
    "/candidates",
    response_model=RosterCandidateList,
    responses={404: {}},
    summary="The people of the units serving a division: whom a roster may name",
)
async def get_candidates(division: Division, session: Session, me: Reader) -> RosterCandidateList:
    path = await roster.division_path_in_scope(session, adcode=division, scope=me.scope)
    people, _ = await org.list_people(session=session, scope=Scope(division_path=path), limit=500)
    return RosterCandidateList(
        items=[
            RosterCandidate(id=p.id, name=p.name, position=p.position, unit_id=p.unit_id)
            for p in people
        ]
    )


# --- the roster ---------------------------------------------------------------------------------


@router.post(
    "/roster/generate",
    response_model=RosterGenerateRead,
    status_code=201,
    responses={
        403: {},
        404: {},
        409: {"description": "roster_month_exists"},
        422: {"description": "duty_positions_missing | duty_seat_unknown | person_not_found"},
    },
    summary="Fill a month from a pattern and each seat's rotation (people in turn); a month that "
    "has shifts needs replace=true, which rewrites only shifts that have not started",
)
async def generate(body: RosterGenerateIn, session: Session, me: Manager) -> RosterGenerateRead:
    path = await roster.division_path_in_scope(session, adcode=body.division_adcode, scope=me.scope)
    pattern = await roster.get_pattern_or_raise(
        session, pattern_id=body.pattern_id, division_adcode=body.division_adcode
    )
    made = await roster.generate_month(
        session,
        division_adcode=body.division_adcode,
        path=path,
        scope=me.scope,
        pattern=pattern,
        month=body.month,
        rotations=[
            roster.SeatRotation(r.position, r.label, r.seat, tuple(r.people), r.offset)
            for r in body.rotations
        ],
        replace=body.replace,
    )
    conflicts = await roster.find_conflicts(session, shifts=made) if made else []
    return RosterGenerateRead(
        division_adcode=body.division_adcode,
        month=body.month,
        created=len(made),
        conflicts=_conflicts(conflicts),
    )


@router.get(
    "/roster",
    response_model=RosterRead,
    responses={404: {}},
    summary="A division's roster for a month, with its conflicts (empty seats, one person in two "
    "places, too little rest between shifts)",
)
async def get_roster(division: Division, month: Month, session: Session, me: Reader) -> RosterRead:
    await roster.division_path_in_scope(session, adcode=division, scope=me.scope)
    _, start, end = roster.month_bounds(month)
    shifts = await roster.shifts_between(session, division_adcode=division, start=start, end=end)
    conflicts = await roster.find_conflicts(session, shifts=shifts)
    return RosterRead(
        division_adcode=division,
        month=month,
        shifts=[RosterShiftRead.model_validate(s) for s in shifts],
        conflicts=_conflicts(conflicts),
    )


@router.patch(
    "/shifts/{shift_id}",
    response_model=RosterShiftRead,
    responses={
        403: {},
        404: {},
        409: {"description": "stale_version | shift_over | duty_double_booked"},
        422: {"description": "person_not_found"},
    },
    summary="Put a person (or nobody) on a shift that has not ended",
)
async def assign_shift(
    shift_id: uuid.UUID, body: RosterShiftAssign, session: Session, me: Manager
) -> DutyShift:
    shift, path = await roster.get_shift_in_scope(session, shift_id=shift_id, scope=me.scope)
    return await roster.assign_shift(
        session,
        shift=shift,
        path=path,
        scope=me.scope,
        version=body.version,
        person_id=body.person_id,
    )


# --- swaps --------------------------------------------------------------------------------------


@router.get(
    "/swaps",
    response_model=ShiftSwapList,
    responses={404: {}},
    summary="A division's swap requests (换班), newest first",
)
async def get_swaps(
    division: Division,
    session: Session,
    me: Reader,
    state: Annotated[SwapState | None, Query()] = None,
) -> ShiftSwapList:
    await roster.division_path_in_scope(session, adcode=division, scope=me.scope)
    rows = await roster.list_swaps(session, division_adcode=division, state=state)
    return ShiftSwapList(items=[ShiftSwapRead.model_validate(r) for r in rows])


@router.post(
    "/swaps",
    response_model=ShiftSwapRead,
    status_code=201,
    responses={
        403: {"description": "not_your_shift"},
        404: {},
        409: {"description": "swap_pending | shift_not_swappable"},
        422: {"description": "swap_target_required | swap_seats_differ | person_not_found"},
    },
    summary="Ask for a swap: exchange two shifts of one position, or give a shift to someone; "
    "the person on the shift asks (or a roster manager)",
)
async def create_swap(body: ShiftSwapCreate, session: Session, me: Writer) -> ShiftSwap:
    return await roster.request_swap(
        session,
        principal=me,
        shift_id=body.shift_id,
        with_shift_id=body.with_shift_id,
        to_person_id=body.to_person_id,
        reason=body.reason,
    )


@router.post(
    "/swaps/{swap_id}/approve",
    response_model=ShiftSwapRead,
    responses={
        403: {},
        404: {},
        409: {"description": "swap_decided | shift_not_swappable | duty_double_booked"},
    },
    summary="Approve a swap: the shifts change hands (refused if it puts one person on two "
    "shifts at once)",
)
async def approve_swap(
    swap_id: uuid.UUID, body: ShiftSwapDecision, session: Session, me: Manager
) -> ShiftSwap:
    swap, path = await roster.get_swap_in_scope(session, swap_id=swap_id, scope=me.scope)
    return await roster.approve_swap(session, swap=swap, path=path, principal=me, note=body.note)


@router.post(
    "/swaps/{swap_id}/reject",
    response_model=ShiftSwapRead,
    responses={403: {}, 404: {}, 409: {"description": "swap_decided"}},
    summary="Reject a swap",
)
async def reject_swap(
    swap_id: uuid.UUID, body: ShiftSwapDecision, session: Session, me: Manager
) -> ShiftSwap:
    swap, path = await roster.get_swap_in_scope(session, swap_id=swap_id, scope=me.scope)
    return await roster.reject_swap(session, swap=swap, path=path, principal=me, note=body.note)


# --- who is on duty -----------------------------------------------------------------------------


@router.get(
    "/now",
    response_model=DutyNow,
    responses={404: {}},
    summary="Who is on duty in a division now (or at ``at``) and who comes next, seat by seat",
)
async def get_now(
    division: Division,
    session: Session,
    me: Reader,
    at: Annotated[datetime | None, Query(description="ISO 8601 with offset; now if absent")] = None,
) -> DutyNow:
    await roster.division_path_in_scope(session, adcode=division, scope=me.scope)
    moment = as_utc(at) if at is not None else clock.now()
    current, following = await roster.seats_at(session, division_adcode=division, at=moment)
    return DutyNow(
        division_adcode=division,
        at=moment,
        current=[_seat(s) for s in current],
        next=[_seat(s) for s in following],
    )
