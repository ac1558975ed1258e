"""HTTP routes of the duty log (值班日志), handovers (交接班) and the daily duty report (值班日报).

Every route names a division (``division`` or the row's own): a division outside the caller's
scope, and any row of one, is *not found*.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from yingji.core import clock
from yingji.core.errors import ValidationFailed
from yingji.core.files import content_disposition
from yingji.core.instant import Instant
from yingji.core.security import Permission, Principal
from yingji.core.web import Require, Session
from yingji.duty import daily_report, dutylog, handover
from yingji.duty.models import DutyLogEntry, Handover, LogKind

router = APIRouter(prefix="/api/v1/duty", tags=["duty · 值班日志 · 交接班"])

Reader = Annotated[Principal, Require(Permission.DUTY_READ)]
Writer = Annotated[Principal, Require(Permission.DUTY_WRITE)]
ADCODE = r"^\d{6}(\d{6})?$"
Division = Annotated[str, Query(pattern=ADCODE, description="the division's adcode")]
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# --- schemas -------------------------------------------------------------------------------------


class LogEntryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    division_adcode: str = Field(pattern=ADCODE)
    kind: LogKind
    text: str = Field(min_length=1, max_length=2000)
    at: Instant | None = Field(
        default=None, description="when it happened (default now; at most two days back)"
    )
    incident_id: uuid.UUID | None = None
    order_id: uuid.UUID | None = Field(
        default=None, description="an order; the entry is linked to its incident too"
    )


class LogEntryRead(BaseModel):
    id: uuid.UUID
    division_adcode: str
    at: datetime
    kind: LogKind
    text: str
    author_id: str
    author_name: str
    incident_id: uuid.UUID | None
    incident_number: str | None
    order_id: uuid.UUID | None
    created_at: datetime


class LogPage(BaseModel):
    items: list[LogEntryRead]
    total: int


class HandoverOpen(BaseModel):
    model_config = ConfigDict(extra="forbid")

    division_adcode: str = Field(pattern=ADCODE)
    change_at: Instant | None = Field(
        default=None,
        description="the shift change; default: the roster's change nearest now, else now",
    )


class HandoverNotes(BaseModel):
    model_config = ConfigDict(extra="forbid")

    side: Literal["out", "in"]
    text: str = Field(max_length=4000)
    version: int = Field(ge=1, le=1_000_000)


class HandoverSign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notes: str | None = Field(default=None, max_length=4000)
    version: int = Field(ge=1, le=1_000_000)


class HandoverRead(BaseModel):
    id: uuid.UUID
    division_adcode: str
    change_at: datetime
    state: str = Field(description="open | signed_out | signed")
    overdue: bool = Field(description="still unsigned 30 minutes after the change")
    alert_at: datetime
    outgoing_shift_id: uuid.UUID | None
    incoming_shift_id: uuid.UUID | None
    open_items: dict[str, Any] = Field(
        description="frozen when opened: listed_at, counts, incidents, orders, reports_due, "
        "warnings, instructions"
    )
    notes_out: str | None
    notes_in: str | None
    signed_out_by: str | None
    signed_out_name: str | None
    signed_out_at: datetime | None
    signed_in_by: str | None
    signed_in_name: str | None
    signed_in_at: datetime | None
    version: int
    created_at: datetime


class HandoverList(BaseModel):
    items: list[HandoverRead]


class HandoverCurrent(BaseModel):
    handover: HandoverRead | None = Field(description="the handover not yet signed by both")
    last_signed: HandoverRead | None


def _handover(row: Handover) -> HandoverRead:
    return HandoverRead(
        id=row.id,
        division_adcode=row.division_adcode,
        change_at=clock.as_utc(row.change_at),
        state=row.state,
        overdue=handover.overdue(row, clock.now()),
        alert_at=handover.alert_at(row),
        outgoing_shift_id=row.outgoing_shift_id,
        incoming_shift_id=row.incoming_shift_id,
        open_items=row.open_items,
        notes_out=row.notes_out,
        notes_in=row.notes_in,
        signed_out_by=row.signed_out_by,
        signed_out_name=row.signed_out_name,
        signed_out_at=row.signed_out_at,
        signed_in_by=row.signed_in_by,
        signed_in_name=row.signed_in_name,
        signed_in_at=row.signed_in_at,
        version=row.version,
        created_at=row.created_at,
    )


def _entry(row: DutyLogEntry, numbers: dict[uuid.UUID, tuple[str, str]]) -> LogEntryRead:
    return LogEntryRead(
        id=row.id,
        division_adcode=row.division_adcode,
        at=row.at,
        kind=LogKind(row.kind),
        text=row.text,
        author_id=row.author_id,
        author_name=row.author_name,
        incident_id=row.incident_id,
        incident_number=numbers[row.incident_id][0] if row.incident_id in numbers else None,
        order_id=row.order_id,
        created_at=row.created_at,
    )


# --- the duty log --------------------------------------------------------------------------------


@router.post(
    "/log",
    response_model=LogEntryRead,
    status_code=201,
    summary="Write a duty log entry (值班日志), linked to an incident or order you may read",
)
async def add_log_entry(body: LogEntryCreate, session: Session, me: Writer) -> LogEntryRead:
    row = await dutylog.add_entry(
        session=session,
        principal=me,
        entry=dutylog.NewEntry(
            division_adcode=body.division_adcode,
            kind=body.kind,
            text=body.text,
            at=body.at,
            incident_id=body.incident_id,
            order_id=body.order_id,
        ),
    )
    ids = {row.incident_id} if row.incident_id else set()
    return _entry(row, await dutylog.incident_numbers(session=session, ids=ids))


@router.get(
    "/log",
    response_model=LogPage,
    summary="A division's duty log, newest first, with filters",
)
async def list_log(
    session: Session,
    me: Reader,
    division: Division,
    since: Instant | None = None,
    until: Instant | None = None,
    kind: LogKind | None = None,
    incident_id: uuid.UUID | None = None,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> LogPage:
    found = await dutylog.division_in_scope(session=session, adcode=division, scope=me.scope)
    rows, total = await dutylog.list_entries(
        session=session,
        filters=dutylog.LogFilter(
            division_adcode=found.adcode,
            since=since,
            until=until,
            kind=kind,
            incident_id=incident_id,
        ),
        offset=offset,
        limit=limit,
    )
    ids = {r.incident_id for r in rows if r.incident_id is not None}
    numbers = await dutylog.incident_numbers(session=session, ids=ids)
    return LogPage(items=[_entry(r, numbers) for r in rows], total=total)


# --- handovers -----------------------------------------------------------------------------------


@router.post(
    "/handovers",
    response_model=HandoverRead,
    summary="Open the handover of a shift change, listing what is open (交接班)",
    description="201 with a new handover; 200 with the one already open for the division "
    "(or for that change): a division has one handover at a time.",
    responses={201: {"description": "opened", "model": HandoverRead}},
)
async def open_handover(
    body: HandoverOpen, session: Session, me: Writer, response: Response
) -> HandoverRead:
    opened = await handover.open_handover(
        session=session,
        principal=me,
        division_adcode=body.division_adcode,
        change_at=body.change_at,
    )
    response.status_code = 201 if opened.created else 200
    return _handover(opened.handover)


@router.get(
    "/handovers",
    response_model=HandoverList,
    summary="A division's handovers, latest change first",
)
async def list_handovers(
    session: Session,
    me: Reader,
    division: Division,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> HandoverList:
    found = await dutylog.division_in_scope(session=session, adcode=division, scope=me.scope)
    rows = await handover.list_handovers(session=session, division_adcode=found.adcode, limit=limit)
    return HandoverList(items=[_handover(r) for r in rows])


@router.get(
    "/handovers/current",
    response_model=HandoverCurrent,
    summary="The division's handover in progress, and the last one signed",
)
async def current_handover(session: Session, me: Reader, division: Division) -> HandoverCurrent:
    found = await dutylog.division_in_scope(session=session, adcode=division, scope=me.scope)
    current = await handover.in_progress(session=session, division_adcode=found.adcode)
    signed = [
        r
        for r in await handover.list_handovers(
            session=session, division_adcode=found.adcode, limit=20
        )
        if r.state == "signed"
    ]
    return HandoverCurrent(
        handover=_handover(current) if current else None,
        last_signed=_handover(signed[0]) if signed else None,
    )


@router.get(
    "/handovers/{handover_id}",
    response_model=HandoverRead,
    summary="One handover with what was open at it",
)
async def get_handover(handover_id: uuid.UUID, session: Session, me: Reader) -> HandoverRead:
    row, _ = await handover.get_handover_or_raise(
        session=session, handover_id=handover_id, scope=me.scope
    )
    return _handover(row)


@router.post(
    "/handovers/{handover_id}/notes",
    response_model=HandoverRead,
    summary="Write the outgoing or incoming side's notes (until that side signs)",
)
async def write_notes(
    handover_id: uuid.UUID, body: HandoverNotes, session: Session, me: Writer
) -> HandoverRead:
    row, division = await handover.get_handover_or_raise(
        session=session, handover_id=handover_id, scope=me.scope
    )
    await handover.write_notes(
        session=session,
        principal=me,
        handover=row,
        division=division,
        side=body.side,
        text=body.text,
        version=body.version,
    )
    return _handover(row)


@router.post(
    "/handovers/{handover_id}/sign-out",
    response_model=HandoverRead,
    summary="交: the outgoing officer signs",
)
async def sign_out(
    handover_id: uuid.UUID, body: HandoverSign, session: Session, me: Writer
) -> HandoverRead:
    row, division = await handover.get_handover_or_raise(
        session=session, handover_id=handover_id, scope=me.scope
    )
    await handover.sign_out(
        session=session,
        principal=me,
        handover=row,
        division=division,
        notes=body.notes,
        version=body.version,
    )
    return _handover(row)


@router.post(
    "/handovers/{handover_id}/sign-in",
    response_model=HandoverRead,
    summary="接: the incoming officer signs, after the outgoing one and as another person",
)
async def sign_in(
    handover_id: uuid.UUID, body: HandoverSign, session: Session, me: Writer
) -> HandoverRead:
    row, division = await handover.get_handover_or_raise(
        session=session, handover_id=handover_id, scope=me.scope
    )
    await handover.sign_in(
        session=session,
        principal=me,
        handover=row,
        division=division,
        notes=body.notes,
        version=body.version,
    )
    return _handover(row)


# --- the daily duty report -----------------------------------------------------------------------


@router.get(
    "/daily-report.docx",
    summary="The day's duty report (值班日报) of a division as .docx",
    description="Who was on duty, the log, the incidents, the reports sent up and the "
    "handovers of one calendar day in China's time (default today).",
    response_class=Response,
    responses={200: {"content": {DOCX_TYPE: {}}}},
)
async def get_daily_report(
    session: Session,
    me: Reader,
    division: Division,
    day: Annotated[
        date | None, Query(alias="date", description="YYYY-MM-DD, China's time; default today")
    ] = None,
) -> Response:
    found = await dutylog.division_in_scope(session=session, adcode=division, scope=me.scope)
    on = day or clock.now().astimezone(clock.LOCAL_TZ).date()
    if not 2000 <= on.year <= 2999:
        raise ValidationFailed("date_out_of_range", "a day from 2000 on", {"date": on.isoformat()})
    content = daily_report.render(
        await daily_report.collect(session=session, division=found, day=on)
    )
    return Response(
        content=content,
        media_type=DOCX_TYPE,
        headers={
            "Content-Disposition": content_disposition(
                f"值班日报-{found.adcode}-{on}.docx", DOCX_TYPE
            ),
            "X-Content-Type-Options": "nosniff",
        },
    )
