"""HTTP routes of statutory reporting (信息报送): drafts, signing and sending up, the inbox of
reports from below with its receipt and acknowledgement, 领导批示, the reporting board, what is
due and the monthly counts by town."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from yingji.core import clock
from yingji.core.errors import ValidationFailed
from yingji.core.files import content_disposition
from yingji.core.instant import Instant
from yingji.core.security import Permission, Principal
from yingji.core.web import Require, Session
from yingji.duty import reporting, reporting_docx
from yingji.duty.models import (
    LeaderInstruction,
    ReportDueState,
    ReportKind,
    StatutoryReport,
)
from yingji.incidents import service as incidents
from yingji.org import service as org

router = APIRouter(prefix="/api/v1/duty", tags=["duty reporting"])

Reader = Annotated[Principal, Require(Permission.DUTY_READ)]
Writer = Annotated[Principal, Require(Permission.DUTY_REPORT)]
Approver = Annotated[Principal, Require(Permission.DUTY_APPROVE)]
Division = Annotated[str | None, Query(pattern=r"^\d{6}(\d{6})?$")]
Level = Literal["I", "II", "III", "IV"]

# --- shapes --------------------------------------------------------------------------------------


class StatutoryReportContent(BaseModel):
    """The structured fields of a report; a field left out keeps its value (a new draft takes
    the incident's)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    occurred_at: Instant | None = None
    place: str | None = Field(default=None, max_length=300)
    category_code: str | None = Field(default=None, max_length=64, pattern=r"^[a-z_.]+$")
    level: Level | None = None
    dead: int | None = Field(default=None, ge=0, le=100_000)
    injured: int | None = Field(default=None, ge=0, le=100_000)
    missing: int | None = Field(default=None, ge=0, le=100_000)
    trapped: int | None = Field(default=None, ge=0, le=100_000)
    loss_wan_yuan: float | None = Field(default=None, ge=0, le=100_000_000)
    cause: str | None = Field(default=None, max_length=4000)
    measures: str | None = Field(default=None, max_length=8000)
    next_steps: str | None = Field(default=None, max_length=4000)
    body: str | None = Field(default=None, max_length=20_000)


class StatutoryReportCreate(StatutoryReportContent):
    incident_id: uuid.UUID
    kind: ReportKind
    corrects_id: uuid.UUID | None = Field(
        default=None, description="the report this one corrects (误报); a 续报 then"
    )
    correction_reason: str | None = Field(default=None, min_length=2, max_length=500)


class StatutoryReportUpdate(StatutoryReportContent):
    version: int = Field(ge=1, le=1_000_000)


class ReportVersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=1_000_000)


class LeaderInstructionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4000)
    due_at: Instant | None = None


class InstructionCarryOutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=4000)


class LeaderInstructionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    report_id: uuid.UUID
    incident_id: uuid.UUID
    from_division_adcode: str | None
    to_division_adcode: str
    text: str
    author_name: str
    issued_at: datetime
    due_at: datetime | None
    carried_out_at: datetime | None
    carried_out_note: str | None


class StatutoryReportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    number: str
    incident_id: uuid.UUID
    kind: str
    seq: int
    division_adcode: str
    to_division_adcode: str | None
    state: str
    title: str
    occurred_at: datetime | None
    place: str | None
    category_code: str | None
    level: str | None
    dead: int
    injured: int
    missing: int
    trapped: int
    loss_wan_yuan: float | None
    cause: str | None
    measures: str | None
    next_steps: str | None
    body: str | None
    reporter_name: str
    approver_name: str | None
    approved_at: datetime | None
    due_at: datetime | None
    sent_at: datetime | None
    late: bool | None
    opened_at: datetime | None
    acked_at: datetime | None
    acked_by_name: str | None
    corrects_id: uuid.UUID | None
    correction_reason: str | None
    docx_sha256: str | None
    version: int
    created_at: datetime


class StatutoryReportDetail(StatutoryReportRead):
    desk_name: str
    to_name: str | None
    incident_number: str
    #: the principal's side: it writes (the desk) and/or receives (the level above)
    writer: bool
    receiver: bool
    instructions: list[LeaderInstructionRead]


class StatutoryReportPage(BaseModel):
    items: list[StatutoryReportRead]


class ReportDueRead(BaseModel):
    id: uuid.UUID
    incident_id: uuid.UUID
    incident_number: str
    incident_title: str
    kind: str
    seq: int
    due_at: datetime
    state: str
    report_id: uuid.UUID | None


class ReportDuePage(BaseModel):
    items: list[ReportDueRead]


class ReportingBoard(BaseModel):
    division_adcode: str
    due: list[ReportDueRead]
    late: list[ReportDueRead]
    missing: list[ReportDueRead]
    sent: list[StatutoryReportRead]


class ReportingTownCount(BaseModel):
    division_adcode: str
    name: str
    owed: int
    met: int
    late: int
    missing: int
    due: int


class ReportingStats(BaseModel):
    month: str
    division_adcode: str
    items: list[ReportingTownCount]


class LeaderInstructionPage(BaseModel):
    items: list[LeaderInstructionRead]


# --- helpers -------------------------------------------------------------------------------------


async def _division(session: Session, me: Principal, adcode: str | None) -> Any:
    code = adcode or reporting.own_division(me)
    if code is None:
        raise ValidationFailed("division_required", "name a division (?division=)")
    return await reporting.division_in_scope(session, me, code)


def _due_read(item: reporting.DueItem) -> ReportDueRead:
    due = item.due
    return ReportDueRead(
        id=due.id,
        incident_id=due.incident_id,
        incident_number=item.number,
        incident_title=item.title,
        kind=due.kind,
        seq=due.seq,
        due_at=due.due_at,
        state=due.state,
        report_id=due.report_id,
    )


async def _detail(
    session: Session, me: Principal, report: StatutoryReport
) -> StatutoryReportDetail:
    where = await reporting.sides(session, me.scope, report)
    desk = await org.get_division(session=session, adcode=report.division_adcode)
    to = (
        await org.get_division(session=session, adcode=report.to_division_adcode)
        if report.to_division_adcode
        else None
    )
    incident = await incidents.find_incident(session=session, incident_id=report.incident_id)
    instructions = await reporting.instructions_of(session, report_ids=[report.id])
    return StatutoryReportDetail.model_validate(
        {
            **StatutoryReportRead.model_validate(report).model_dump(),
            "desk_name": desk.name if desk else report.division_adcode,
            "to_name": to.name if to else None,
            "incident_number": incident.number if incident else "",
            "writer": where.writer,
            "receiver": where.receiver,
            "instructions": [LeaderInstructionRead.model_validate(i) for i in instructions],
        }
    )


async def _letterhead(session: Session, report: StatutoryReport) -> reporting_docx.Letterhead:
    desk = await org.get_division(session=session, adcode=report.division_adcode)
    to = (
        await org.get_division(session=session, adcode=report.to_division_adcode)
        if report.to_division_adcode
        else None
    )
    incident = await incidents.find_incident(session=session, incident_id=report.incident_id)
    return reporting_docx.Letterhead(
        desk_name=desk.name if desk else report.division_adcode,
        to_name=to.name if to else "",
        incident_number=incident.number if incident else "",
    )


# --- what is owed, the board, the counts ---------------------------------------------------------


@router.get(
    "/reports/due",
    response_model=ReportDuePage,
    summary="Reports owed by the desks of a division's area (default: due), soonest first",
    responses={404: {"description": "division_not_found (or outside your area)"}},
)
async def reports_due(
    session: Session,
    me: Reader,
    division: Division = None,
    state: Annotated[Literal["due", "late", "missing"], Query()] = "due",
) -> ReportDuePage:
    found = await _division(session, me, division)
    items = await reporting.dues_under(session, division_path=found.path, states=(state,))
    return ReportDuePage(items=[_due_read(i) for i in items])


@router.get(
    "/reports/board",
    response_model=ReportingBoard,
    summary="The reporting board of a division: reports due, sent, late (迟报) and missing (漏报)",
    responses={404: {"description": "division_not_found (or outside your area)"}},
)
async def reports_board(session: Session, me: Reader, division: Division = None) -> ReportingBoard:
    found = await _division(session, me, division)
    path = found.path
    due = await reporting.dues_under(session, division_path=path, states=(ReportDueState.DUE,))
    late = await reporting.dues_under(session, division_path=path, states=(ReportDueState.LATE,))
    missing = await reporting.dues_under(
        session, division_path=path, states=(ReportDueState.MISSING,)
    )
    sent = await reporting.reports_where(
        session, division_path=path, states=reporting.SENT_STATES, limit=100
    )
    return ReportingBoard(
        division_adcode=found.adcode,
        due=[_due_read(i) for i in due],
        late=[_due_read(i) for i in late[-100:]],
        missing=[_due_read(i) for i in missing],
        sent=[StatutoryReportRead.model_validate(r) for r in sent],
    )


@router.get(
    "/reports/stats",
    response_model=ReportingStats,
    summary="Reports owed in a month in a division's area, by the division one level below "
    "(by town for a county): owed, met, late, missing, still due",
    responses={404: {"description": "division_not_found (or outside your area)"}},
)
async def reports_stats(
    session: Session,
    me: Reader,
    month: Annotated[str, Query(pattern=r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$")],
    division: Division = None,
) -> ReportingStats:
    found = await _division(session, me, division)
    year, number = (int(x) for x in month.split("-"))
    start = datetime(year, number, 1, tzinfo=clock.LOCAL_TZ)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=clock.LOCAL_TZ)
    counts = await reporting.monthly_counts(
        session,
        division_path=found.path,
        month_start=clock.as_utc(start),
        month_end=clock.as_utc(end),
    )
    return ReportingStats(
        month=month,
        division_adcode=found.adcode,
        items=[
            ReportingTownCount(division_adcode=c.adcode, name=c.name, **c.counts) for c in counts
        ],
    )


# --- reports -------------------------------------------------------------------------------------


@router.get(
    "/reports",
    response_model=StatutoryReportPage,
    summary="Reports written by the desks of your area (one incident's with incident_id)",
)
async def list_reports(
    session: Session,
    me: Reader,
    incident_id: uuid.UUID | None = None,
    division: Division = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> StatutoryReportPage:
    if incident_id is not None:
        await incidents.get_incident_or_raise(
            session=session, incident_id=incident_id, scope=me.scope
        )
        rows = await reporting.reports_where(session, incident_id=incident_id, limit=limit)
        return StatutoryReportPage(items=[StatutoryReportRead.model_validate(r) for r in rows])
    found = await _division(session, me, division)
    rows = await reporting.reports_where(session, division_path=found.path, limit=limit)
    return StatutoryReportPage(items=[StatutoryReportRead.model_validate(r) for r in rows])


@router.post(
    "/reports",
    response_model=StatutoryReportDetail,
    status_code=201,
    summary="Draft a report (电话报告, 首报, 续报, 终报) about an incident of your area, "
    "prefilled from the incident; with corrects_id and a reason, a correction (误报)",
    responses={404: {"description": "incident_not_found"}, 409: {"description": "report_exists"}},
)
async def create_report(
    body: StatutoryReportCreate, session: Session, me: Writer
) -> StatutoryReportDetail:
    content = body.model_dump(
        exclude_unset=True, exclude={"incident_id", "kind", "corrects_id", "correction_reason"}
    )
    report = await reporting.create_report(
        session,
        me,
        incident_id=body.incident_id,
        kind=body.kind,
        content=reporting.ReportContent(values=content),
        corrects_id=body.corrects_id,
        correction_reason=body.correction_reason,
    )
    return await _detail(session, me, report)


@router.get(
    "/reports/{report_id}",
    response_model=StatutoryReportDetail,
    summary="One report: its desk's area reads it, the level above once it was sent",
    responses={404: {"description": "report_not_found"}},
)
async def get_report(report_id: uuid.UUID, session: Session, me: Reader) -> StatutoryReportDetail:
    report, _ = await reporting.get_report(session, me, report_id)
    return await _detail(session, me, report)


@router.patch(
    "/reports/{report_id}",
    response_model=StatutoryReportDetail,
    summary="Edit a draft (an approved one returns to draft and is signed again)",
    responses={404: {}, 409: {"description": "stale_version, report_sent"}},
)
async def update_report(
    report_id: uuid.UUID, body: StatutoryReportUpdate, session: Session, me: Writer
) -> StatutoryReportDetail:
    content = body.model_dump(exclude_unset=True, exclude={"version"})
    report = await reporting.update_report(
        session,
        me,
        report_id=report_id,
        version=body.version,
        content=reporting.ReportContent(values=content),
    )
    return await _detail(session, me, report)


@router.post(
    "/reports/{report_id}/approve",
    response_model=StatutoryReportDetail,
    summary="签发: the duty leader signs the draft",
    responses={404: {}, 409: {"description": "stale_version, report_not_draft"}},
)
async def approve_report(
    report_id: uuid.UUID, body: ReportVersionIn, session: Session, me: Approver
) -> StatutoryReportDetail:
    report = await reporting.approve_report(session, me, report_id=report_id, version=body.version)
    return await _detail(session, me, report)


@router.post(
    "/reports/{report_id}/send",
    response_model=StatutoryReportDetail,
    summary="Send the signed report up to the parent division's inbox (answers its deadline; "
    "a 首报 records the incident's first report)",
    responses={404: {}, 409: {"description": "report_not_approved, no_level_above"}},
)
async def send_report(
    report_id: uuid.UUID, body: ReportVersionIn, session: Session, me: Writer
) -> StatutoryReportDetail:
    report, _ = await reporting.get_report(session, me, report_id)
    head = await _letterhead(session, report)
    sent = await reporting.send_report(
        session,
        me,
        report_id=report_id,
        version=body.version,
        render=lambda r: reporting_docx.render(r, head),
    )
    return await _detail(session, me, sent)


@router.get(
    "/reports/{report_id}/document.docx",
    response_class=Response,
    summary="The report as a .docx in the official layout (红头, number, 报送单位, 签发人)",
    responses={200: {"content": {reporting_docx.DOCX_TYPE: {}}}, 404: {}},
)
async def report_docx(report_id: uuid.UUID, session: Session, me: Reader) -> Response:
    report, _ = await reporting.get_report(session, me, report_id)
    body = reporting_docx.render(report, await _letterhead(session, report))
    name = reporting_docx.filename(report)
    return Response(
        content=body,
        media_type=reporting_docx.DOCX_TYPE,
        headers={
            "Content-Disposition": content_disposition(name, reporting_docx.DOCX_TYPE),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


# --- the inbox of reports from below -------------------------------------------------------------


@router.get(
    "/inbox",
    response_model=StatutoryReportPage,
    summary="Reports sent up to a division (default: yours) from the desks below it",
    responses={404: {"description": "division_not_found (or outside your area)"}},
)
async def inbox(
    session: Session,
    me: Reader,
    division: Division = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> StatutoryReportPage:
    found = await _division(session, me, division)
    rows = await reporting.reports_where(
        session, to_division=found.adcode, states=reporting.SENT_STATES, limit=limit
    )
    return StatutoryReportPage(items=[StatutoryReportRead.model_validate(r) for r in rows])


@router.post(
    "/inbox/{report_id}/open",
    response_model=StatutoryReportDetail,
    summary="已阅: the receipt of a report from below, recorded when first opened above",
    responses={404: {"description": "not in your inbox"}},
)
async def open_report(report_id: uuid.UUID, session: Session, me: Reader) -> StatutoryReportDetail:
    report = await reporting.open_report(session, me, report_id=report_id)
    return await _detail(session, me, report)


@router.post(
    "/inbox/{report_id}/acknowledge",
    response_model=StatutoryReportDetail,
    summary="签收: a person above acknowledges a report from below (the reporter is told)",
    responses={404: {"description": "not in your inbox"}, 409: {}},
)
async def acknowledge_report(
    report_id: uuid.UUID, session: Session, me: Writer
) -> StatutoryReportDetail:
    report = await reporting.acknowledge_report(session, me, report_id=report_id)
    return await _detail(session, me, report)


# --- instructions (领导批示) ----------------------------------------------------------------------


@router.post(
    "/reports/{report_id}/instructions",
    response_model=LeaderInstructionRead,
    status_code=201,
    summary="领导批示 on a report received from below; tracked at its desk until carried out",
    responses={404: {"description": "not in your inbox"}},
)
async def issue_instruction(
    report_id: uuid.UUID, body: LeaderInstructionIn, session: Session, me: Approver
) -> LeaderInstruction:
    return await reporting.issue_instruction(
        session, me, report_id=report_id, text=body.text, due_at=body.due_at
    )


@router.get(
    "/instructions",
    response_model=LeaderInstructionPage,
    summary="Instructions that came down to a division's desk and are not yet carried out",
    responses={404: {"description": "division_not_found (or outside your area)"}},
)
async def open_instructions(
    session: Session, me: Reader, division: Division = None
) -> LeaderInstructionPage:
    found = await _division(session, me, division)
    rows = await reporting.open_instructions(session, division_adcode=found.adcode)
    return LeaderInstructionPage(items=[LeaderInstructionRead.model_validate(r) for r in rows])


@router.post(
    "/instructions/{instruction_id}/carry-out",
    response_model=LeaderInstructionRead,
    summary="落实: record how an instruction was carried out",
    responses={404: {}, 409: {"description": "instruction_carried_out"}},
)
async def carry_out(
    instruction_id: uuid.UUID, body: InstructionCarryOutIn, session: Session, me: Writer
) -> LeaderInstruction:
    return await reporting.carry_out(session, me, instruction_id=instruction_id, note=body.note)
