"""HTTP routes of 到岗签到 and 查岗, the month's grid (.xlsx) in and out, and a person's shifts
as iCalendar."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from yingji.core import clock, tabular
from yingji.core.errors import NotFound, ValidationFailed
from yingji.core.files import content_disposition
from yingji.core.security import Permission, Principal
from yingji.core.web import CurrentPrincipal, Require, Session
from yingji.duty import attendance, attendance_io
from yingji.duty.models import DutyShift, DutySpotCheck
from yingji.org import service as org

router = APIRouter(prefix="/api/v1/duty", tags=["duty · 到岗签到 · 查岗"])

Reader = Annotated[Principal, Require(Permission.DUTY_READ)]
Rosterer = Annotated[Principal, Require(Permission.DUTY_ROSTER)]
Checker = Annotated[Principal, Require(Permission.DUTY_CHECK)]
Adcode = Annotated[str, Query(pattern=r"^\d{6,12}$", description="the division's adcode")]
MONTH = r"^\d{4}-\d{2}$"


class ShiftAttendanceRead(BaseModel):
    """One seat of one shift with its check-in."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    division_adcode: str
    position: str = Field(description="leader | chief | officer | professional")
    label: str
    seat: int
    shift_code: str
    starts_at: datetime
    ends_at: datetime
    person_id: uuid.UUID | None
    person_name: str | None
    state: str = Field(description="scheduled | checked_in | missed")
    checked_in_at: datetime | None
    late: bool = Field(description="checked in (or still missing) after the start plus the grace")
    version: int


class ShiftAttendanceList(BaseModel):
    items: list[ShiftAttendanceRead]


class ShiftCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(None, ge=1, description="the shift's version as read (optional)")


class DutySpotCheckCreate(BaseModel):
    """查岗: the call made to a division's duty below one's own."""

    model_config = ConfigDict(extra="forbid")

    division_adcode: str = Field(pattern=r"^\d{6,12}$")
    answered: bool
    answered_by_name: str | None = Field(None, min_length=1, max_length=100)
    answer_seconds: int | None = Field(None, ge=0, le=600)
    checked_at: datetime | None = Field(
        None, description="when the call was made (default now; at most seven days back)"
    )
    note: str | None = Field(None, max_length=500)


class DutySpotCheckRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    division_adcode: str
    checked_at: datetime
    checked_by_name: str
    checker_division_adcode: str | None
    answered: bool
    answered_by_name: str | None
    answer_seconds: int | None
    shift_id: uuid.UUID | None
    note: str | None


class DutySpotCheckList(BaseModel):
    items: list[DutySpotCheckRead]


class RosterImportRead(BaseModel):
    """What an import changed: shifts created, seats given another person, seats emptied."""

    created: int
    updated: int
    cleared: int
    unchanged: int


def _shift(shift: DutyShift) -> ShiftAttendanceRead:
    return ShiftAttendanceRead.model_validate(
        {**attendance.shift_facts(shift), "late": attendance.late(shift)}
        | {"checked_in_at": shift.checked_in_at, "starts_at": shift.starts_at}
        | {"ends_at": shift.ends_at}
    )


def _window(
    start: datetime | None, end: datetime | None, *, back: timedelta, ahead: timedelta
) -> tuple[datetime, datetime]:
    now = clock.now()
    lo = clock.as_utc(start) if start is not None else now - back
    hi = clock.as_utc(end) if end is not None else now + ahead
    if hi <= lo or hi - lo > timedelta(days=93):
        raise ValidationFailed("window_invalid", "from before to, at most 93 days apart")
    return lo, hi


@router.get(
    "/shifts",
    response_model=ShiftAttendanceList,
    summary="A division's shifts with their check-ins (the missed list: state=missed)",
)
async def list_shifts(
    session: Session,
    me: Reader,
    division: Adcode,
    state: Annotated[Literal["scheduled", "checked_in", "missed"] | None, Query()] = None,
    starts_from: Annotated[datetime | None, Query(alias="from")] = None,
    starts_before: Annotated[datetime | None, Query(alias="to")] = None,
) -> Any:
    await attendance.division_in_reach(session, me, division)
    lo, hi = _window(starts_from, starts_before, back=timedelta(days=7), ahead=timedelta(days=2))
    shifts = await attendance.list_shifts(
        session=session,
        division_adcode=division,
        starts_from=lo,
        starts_before=hi,
        states=[state] if state else [],
    )
    return ShiftAttendanceList(items=[_shift(s) for s in shifts])


@router.get(
    "/my-shifts",
    response_model=ShiftAttendanceList,
    summary="The signed-in person's shifts from a day back to two days ahead (to check in)",
)
async def my_shifts(session: Session, me: CurrentPrincipal) -> Any:
    person_id = await attendance.person_of(session, me)
    if person_id is None:
        return ShiftAttendanceList(items=[])
    now = clock.now()
    shifts = await attendance.shifts_of_person(
        session=session,
        person_id=person_id,
        ends_after=now - timedelta(days=1),
        starts_before=now + timedelta(days=2),
    )
    return ShiftAttendanceList(items=[_shift(s) for s in shifts])


@router.post(
    "/shifts/{shift_id}/check-in",
    response_model=ShiftAttendanceRead,
    summary="到岗签到: check in on a shift (the person on it, or a roster manager over it)",
    responses={403: {}, 404: {}, 409: {}},
)
async def check_in(
    shift_id: uuid.UUID, session: Session, me: CurrentPrincipal, body: ShiftCheckIn | None = None
) -> Any:
    shift = await attendance.check_in(
        session=session,
        principal=me,
        shift_id=shift_id,
        version=None if body is None else body.version,
    )
    return _shift(shift)


@router.post(
    "/spot-checks",
    response_model=DutySpotCheckRead,
    status_code=201,
    summary="查岗: record a call to the duty of a division below one's own",
    responses={403: {}, 404: {}},
)
async def create_spot_check(session: Session, me: Checker, body: DutySpotCheckCreate) -> Any:
    check = await attendance.record_spot_check(
        session=session,
        principal=me,
        data=attendance.SpotCheckInput(
            division_adcode=body.division_adcode,
            answered=body.answered,
            answered_by_name=body.answered_by_name,
            answer_seconds=body.answer_seconds,
            checked_at=body.checked_at,
            note=body.note,
        ),
    )
    return _spot(check)


def _spot(check: DutySpotCheck) -> DutySpotCheckRead:
    return DutySpotCheckRead.model_validate(check)


@router.get(
    "/spot-checks",
    response_model=DutySpotCheckList,
    summary="A division's spot checks, newest first",
)
async def list_spot_checks(
    session: Session,
    me: Reader,
    division: Adcode,
    checked_from: Annotated[datetime | None, Query(alias="from")] = None,
    checked_before: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    await attendance.division_in_reach(session, me, division)
    lo, hi = _window(checked_from, checked_before, back=timedelta(days=31), ahead=timedelta(0, 1))
    checks = await attendance.list_spot_checks(
        session=session,
        division_adcode=division,
        checked_from=lo,
        checked_before=hi,
        limit=limit,
    )
    return DutySpotCheckList(items=[_spot(c) for c in checks])


def _attachment(body: bytes, media_type: str, name: str) -> Response:
    return Response(
        content=body,
        media_type=media_type,
        headers={
            "Content-Disposition": content_disposition(name, media_type),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/roster.xlsx",
    response_class=Response,
    summary="A division's month of duty as the office's grid (rows dates, columns seats)",
    responses={200: {"content": {tabular.XLSX_TYPE: {}}}, 404: {}},
)
async def export_roster(
    session: Session,
    me: Reader,
    division: Adcode,
    month: Annotated[str, Query(pattern=MONTH, description="YYYY-MM (Beijing time)")],
) -> Response:
    await attendance.division_in_reach(session, me, division)
    first = attendance_io.parse_month(month)
    if first is None:
        raise ValidationFailed("month_invalid", "the month is not YYYY-MM")
    body = await attendance_io.export_month(session=session, division_adcode=division, month=first)
    return _attachment(body, tabular.XLSX_TYPE, f"值班表-{division}-{month}.xlsx")


@router.post(
    "/roster.xlsx",
    response_model=RosterImportRead,
    summary="Import a division's month from the office's grid; any row's problem refuses it all",
    responses={403: {}, 404: {}, 422: {}},
)
async def import_roster(
    session: Session,
    me: Rosterer,
    division: Adcode,
    file: Annotated[UploadFile, File(description="the month's grid (.xlsx), at most 2 MiB")],
) -> Any:
    raw = await file.read(attendance_io.MAX_UPLOAD_BYTES + 1)
    result = await attendance_io.import_month(
        session=session, principal=me, division_adcode=division, raw=raw
    )
    return RosterImportRead(
        created=result.created,
        updated=result.updated,
        cleared=result.cleared,
        unchanged=result.unchanged,
    )


@router.get(
    "/people/{person_id}/roster.ics",
    response_class=Response,
    summary="A person's shifts as iCalendar (31 days back to 92 ahead by default)",
    responses={200: {"content": {"text/calendar": {}}}, 404: {}},
)
async def person_ics(
    person_id: uuid.UUID,
    session: Session,
    me: CurrentPrincipal,
    starts_from: Annotated[date | None, Query(alias="from")] = None,
    starts_before: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    own = await attendance.person_of(session, me) == person_id
    if own:
        found = await org.people_by_ids(session=session, person_ids=[person_id])
        if not found:
            raise NotFound("person_not_found", f"no person {person_id}")
        name = found[0].name
    else:
        me.require(Permission.DUTY_READ)
        person = await org.get_person_or_raise(session=session, person_id=person_id, scope=me.scope)
        name = person.name
    now = clock.now()
    lo = (
        datetime.combine(starts_from, datetime.min.time(), tzinfo=clock.LOCAL_TZ).astimezone(UTC)
        if starts_from
        else now - timedelta(days=31)
    )
    hi = (
        datetime.combine(starts_before, datetime.min.time(), tzinfo=clock.LOCAL_TZ).astimezone(UTC)
        if starts_before
        else now + timedelta(days=92)
    )
    if hi <= lo or hi - lo > timedelta(days=400):
        raise ValidationFailed("window_invalid", "from before to, at most 400 days apart")
    shifts = await attendance.shifts_of_person(
        session=session, person_id=person_id, ends_after=lo, starts_before=hi
    )
    names = await org.division_names(
        session=session, adcodes={shift.division_adcode for shift in shifts}
    )
    if not own:
        seen = await org.division_paths(
            session=session, adcodes={shift.division_adcode for shift in shifts}, scope=me.scope
        )
        shifts = [shift for shift in shifts if shift.division_adcode in seen]
    body = attendance_io.roster_ics(person_name=name, shifts=shifts, division_names=names)
    return Response(
        content=body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": content_disposition(f"值班-{name}.ics", "text/calendar"),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )
