"""Statutory reporting (信息报送): the reports a division's duty desk sends up about an incident
(电话报告, 首报, 续报, 终报), the deadlines they answer and the instructions that come back down.

Who reports: the *reporting desk* of an incident is the nearest county, city or province on its
division path (a town's incident is reported by its county), and it reports to that desk's
parent division (the level above). A report is written as a draft with the structured fields,
approved (签发, ``duty.approve``), then sent: it lands in the parent's inbox, where the first
reader above records the receipt (已阅) and a person acknowledges it (签收). A phone report is
recorded after the call and sent without approval.

Deadlines are ``duty_report_due`` rows, one per report owed, from the incident's reporting rule
(``incidents.service.reporting_rule``: jurisdiction × category × level): the phone report and
the written 首报 when a level III+ incident is verified, a 续报 every ``followup_hours`` while the
incident is open and sooner on a level or casualty change, the 终报 within ``final_days`` of
closing. Each has a timer; the written 首报 keeps the incidents domain's own timer (its overdue
event flags the due row here). A deadline passing with nothing sent flags 漏报 (missing); a
report sent after its deadline flags 迟报 (late). Both tell the on-duty leader
(``core.on_duty``, else every duty leader covering the desk) through the event's notices.

A report whose figures prove wrong is corrected by a later one naming it (``corrects_id``) with a
reason: the corrected one is marked 误报-corrected and stays readable.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit, clock, timers
from yingji.core.bulletin_sections import BulletinSection
from yingji.core.changes import record_change
from yingji.core.db import InsertUnlessTaken, blank_row
from yingji.core.errors import Conflict, NotFound, ValidationFailed
from yingji.core.events import EventScope
from yingji.core.ids import new_id
from yingji.core.on_duty import Position, on_duty
from yingji.core.security import Permission, Principal, Role, Scope
from yingji.duty.models import (
    LeaderInstruction,
    ReportDue,
    ReportDueState,
    ReportKind,
    ReportState,
    StatutoryReport,
)
from yingji.incidents import flows as incident_flows
from yingji.incidents import service as incidents
from yingji.org import service as org

REPORT_DUE_TIMER = "duty.report_due"
#: the levels of division that keep a duty desk and report up
DESK_LEVELS = frozenset({"province", "city", "county"})
#: the states of a report that has gone up
SENT_STATES = (
    ReportState.SENT,
    ReportState.OPENED,
    ReportState.ACKNOWLEDGED,
    ReportState.CORRECTED,
)
OPEN_DUE_STATES = (ReportDueState.DUE, ReportDueState.MISSING)
KIND_ZH = {"phone": "电话报告", "first": "首报", "followup": "续报", "final": "终报"}
FLAG_ZH = {"late": "迟报", "missing": "漏报"}
REPORT_FIELDS = (
    "number",
    "kind",
    "seq",
    "state",
    "title",
    "level",
    "dead",
    "injured",
    "missing",
    "trapped",
    "loss_wan_yuan",
    "approver_name",
    "sent_at",
    "late",
    "opened_at",
    "acked_at",
    "corrects_id",
    "correction_reason",
)
#: the structured fields a draft takes (GB/T 35965.2's spirit)
CONTENT_FIELDS = (
    "title",
    "occurred_at",
    "place",
    "category_code",
    "level",
    "dead",
    "injured",
    "missing",
    "trapped",
    "loss_wan_yuan",
    "cause",
    "measures",
    "next_steps",
    "body",
)


@dataclass(frozen=True)
class Desk:
    """An incident's reporting desk and the level above it."""

    adcode: str
    name: str
    path: str
    parent_adcode: str | None
    parent_name: str | None
    parent_path: str | None


# --- where reports go ----------------------------------------------------------------------------


async def desk_of_path(session: AsyncSession, division_path: str | None) -> Desk | None:
    """The nearest county, city or province on ``division_path`` and its parent."""
    for adcode in [a for a in (division_path or "").split("/") if a][::-1]:
        division = await org.get_division(session=session, adcode=adcode)
        if division is None or division.level not in DESK_LEVELS:
            continue
        parent = (
            await org.get_division(session=session, adcode=division.parent_adcode)
            if division.parent_adcode
            else None
        )
        return Desk(
            adcode=division.adcode,
            name=division.name,
            path=division.path,
            parent_adcode=parent.adcode if parent else None,
            parent_name=parent.name if parent else None,
            parent_path=parent.path if parent else None,
        )
    return None


async def _paths(session: AsyncSession, *adcodes: str | None) -> dict[str, str]:
    wanted = {a for a in adcodes if a}
    return await org.division_paths(session=session, adcodes=wanted, scope=Scope(everything=True))


async def _user_ids(
    session: AsyncSession, path: str | None, positions: list[Position], roles: list[Role]
) -> list[str]:
    """Who is on duty on ``positions`` over ``path`` now; without a roster (or with nobody who
    has an account on it), every user with one of ``roles`` whose jurisdiction covers it."""
    if not path:
        return []
    found = await on_duty(session, division_path=path, positions=positions, at=clock.now())
    ids = [str(p.user_id) for p in found or [] if p.user_id is not None]
    if ids:
        return list(dict.fromkeys(ids))
    people: list[str] = []
    for role in roles:
        users = await org.users_covering(session=session, role=role, division_path=path)
        people.extend(str(u.id) for u in users)
    return list(dict.fromkeys(people))


# --- deadlines (duty_report_due) -----------------------------------------------------------------


async def _dues(session: AsyncSession, incident_id: uuid.UUID) -> list[ReportDue]:
    rows = await session.scalars(
        select(ReportDue)
        .where(ReportDue.incident_id == incident_id)
        .order_by(ReportDue.kind, ReportDue.seq)
    )
    return list(rows.all())


async def _add_due(
    session: AsyncSession,
    incident: incidents.Incident,
    desk: Desk,
    *,
    kind: ReportKind,
    seq: int,
    due_at: datetime,
    basis: dict[str, Any],
    timer: bool = True,
) -> ReportDue:
    due = ReportDue(
        incident_id=incident.id,
        division_adcode=desk.adcode,
        kind=kind,
        seq=seq,
        due_at=due_at,
        state=ReportDueState.DUE,
        basis=audit.jsonable(basis),
        created_at=clock.now(),
    )
    session.add(due)
    await session.flush()
    if timer:
        await timers.schedule(session, kind=REPORT_DUE_TIMER, subject=due.id, due_at=due_at)
    return due


async def _rule(session: AsyncSession, incident: incidents.Incident) -> Any:
    return await incidents.reporting_rule(
        session=session,
        category_code=incident.category_code,
        level=incident.level,
        division_path=incident.division_path,
    )


def _owes_reports(incident: incidents.Incident) -> bool:
    """A verified, open emergency of level III or above (a service case is never reported up)."""
    return (
        incident.kind != "service"
        and incidents.is_open(incident)
        and incident.verified_at is not None
        and incidents.level_at_least(incident.level, "III")
    )


async def start_dues(session: AsyncSession, *, incident_id: uuid.UUID) -> list[ReportDue]:
    """A verified level III+ incident owes the phone report, the written 首报 (due when the
    incidents domain's first-report deadline is) and its first 续报. Idempotent."""
    incident = await incidents.find_incident(session=session, incident_id=incident_id)
    if incident is None or not _owes_reports(incident):
        return []
    existing = await _dues(session, incident.id)
    if existing:
        return existing
    desk = await desk_of_path(session, incident.division_path)
    rule = await _rule(session, incident)
    if desk is None or rule is None:
        return []
    start = clock.as_utc(incident.verified_at or clock.now())
    first_due = incident.first_report_due_at
    written = (
        clock.as_utc(first_due) if first_due else start + timedelta(minutes=rule.written_minutes)
    )
    basis = {"code": "reporting.rule", "params": {"level": incident.level}}
    made = [
        await _add_due(
            session,
            incident,
            desk,
            kind=ReportKind.PHONE,
            seq=1,
            due_at=start + timedelta(minutes=rule.phone_minutes),
            basis=basis,
        ),
        # the incidents domain's first-report timer watches this one
        await _add_due(
            session,
            incident,
            desk,
            kind=ReportKind.FIRST,
            seq=1,
            due_at=written,
            basis=basis,
            timer=False,
        ),
    ]
    if rule.followup_hours:
        made.append(
            await _add_due(
                session,
                incident,
                desk,
                kind=ReportKind.FOLLOWUP,
                seq=1,
                due_at=start + timedelta(hours=rule.followup_hours),
                basis={"code": "reporting.cadence", "params": {"hours": rule.followup_hours}},
            )
        )
    return made


async def followup_on_change(
    session: AsyncSession, *, incident_id: uuid.UUID, code: str, params: dict[str, Any]
) -> ReportDue | None:
    """A level or casualty change owes a 续报 within the written deadline: the open 续报 due is
    brought forward (or one is added). Nothing when reporting has not started, or when the
    figures already went up."""
    incident = await incidents.find_incident(session=session, incident_id=incident_id)
    if incident is None or not incidents.is_open(incident):
        return None
    dues = await _dues(session, incident.id)
    if not dues:
        await start_dues(session, incident_id=incident_id)  # raised to III+ after verification
        return None
    if code == "reporting.casualty_change":
        last = await _last_sent(session, incident.id)
        figures = tuple(getattr(incident, f) for f in incidents.CASUALTY_FIELDS)
        if last is None or figures == tuple(getattr(last, f) for f in incidents.CASUALTY_FIELDS):
            return None
    rule = await _rule(session, incident)
    minutes = rule.written_minutes if rule else 60
    by = clock.now() + timedelta(minutes=minutes)
    desk = await desk_of_path(session, incident.division_path)
    if desk is None:
        return None
    open_followups = [
        d for d in dues if d.kind == ReportKind.FOLLOWUP and d.state == ReportDueState.DUE
    ]
    basis = {"code": code, "params": params}
    if open_followups:
        due = open_followups[0]
        if clock.as_utc(due.due_at) <= by:
            return due
        due.due_at, due.basis = by, audit.jsonable(basis)
        await timers.cancel(session, kind=REPORT_DUE_TIMER, subject=due.id)
        await timers.schedule(session, kind=REPORT_DUE_TIMER, subject=due.id, due_at=by)
        await session.flush()
        return due
    seq = 1 + max((d.seq for d in dues if d.kind == ReportKind.FOLLOWUP), default=0)
    return await _add_due(
        session, incident, desk, kind=ReportKind.FOLLOWUP, seq=seq, due_at=by, basis=basis
    )


async def _next_followup(
    session: AsyncSession, incident: incidents.Incident, after: ReportDue, base: datetime
) -> None:
    """The cadence goes on while the incident is open: the next 续报 ``followup_hours`` on."""
    if not incidents.is_open(incident):
        return
    rule = await _rule(session, incident)
    if rule is None or not rule.followup_hours:
        return
    dues = await _dues(session, incident.id)
    if any(d.kind == ReportKind.FOLLOWUP and d.state == ReportDueState.DUE for d in dues):
        return
    desk = await desk_of_path(session, incident.division_path)
    if desk is None:
        return
    seq = 1 + max((d.seq for d in dues if d.kind == ReportKind.FOLLOWUP), default=after.seq)
    await _add_due(
        session,
        incident,
        desk,
        kind=ReportKind.FOLLOWUP,
        seq=seq,
        due_at=base + timedelta(hours=rule.followup_hours),
        basis={"code": "reporting.cadence", "params": {"hours": rule.followup_hours}},
    )


async def incident_ended(
    session: AsyncSession, *, incident_id: uuid.UUID, closed: bool
) -> ReportDue | None:
    """Closed: the open 续报 dues are waived and the 终报 is owed within ``final_days``.
    Cancelled or merged away: every open due is waived."""
    incident = await incidents.find_incident(session=session, incident_id=incident_id)
    if incident is None:
        return None
    dues = await _dues(session, incident_id)
    if not dues:
        return None
    waive = [
        d
        for d in dues
        if d.state == ReportDueState.DUE and (not closed or d.kind == ReportKind.FOLLOWUP)
    ]
    for due in waive:
        due.state = ReportDueState.WAIVED
    await timers.cancel_many(session, kind=REPORT_DUE_TIMER, subjects=[d.id for d in waive])
    await session.flush()
    if not closed or any(d.kind == ReportKind.FINAL for d in dues):
        return None
    rule = await _rule(session, incident)
    desk = await desk_of_path(session, incident.division_path)
    if rule is None or not rule.final_days or desk is None:
        return None
    ended = clock.as_utc(incident.closed_at or clock.now())
    return await _add_due(
        session,
        incident,
        desk,
        kind=ReportKind.FINAL,
        seq=1,
        due_at=ended + timedelta(days=rule.final_days),
        basis={"code": "reporting.closing", "params": {"days": rule.final_days}},
    )


async def _flag(
    session: AsyncSession, incident: incidents.Incident, due: ReportDue, flag: str
) -> None:
    """迟报 / 漏报: recorded on the incident and told to the desk's on-duty leader."""
    desk_path = (await _paths(session, due.division_adcode)).get(due.division_adcode)
    leaders = await _user_ids(session, desk_path, [Position.LEADER], [Role.DUTY_LEADER])
    kind_zh, flag_zh = KIND_ZH.get(due.kind, due.kind), FLAG_ZH[flag]
    seq = f"第{due.seq}次" if due.kind == ReportKind.FOLLOWUP else ""
    title = f"{flag_zh}：{incident.number} {seq}{kind_zh}"
    body = f"{incident.title}：{seq}{kind_zh}时限 {_local(due.due_at)}，" + (
        "已过时限仍未报送，请立即督促报送。" if flag == "missing" else "已报送但超过时限。"
    )
    payload: dict[str, Any] = {
        "incident_id": str(incident.id),
        "kind": due.kind,
        "seq": due.seq,
        "flag": flag,
        "due_at": clock.as_utc(due.due_at).isoformat(),
        "number": incident.number,
        "title": incident.title,
    }
    # the written 首报's overdue alert is the incidents domain's own (notify.FirstReportOverdue)
    told_elsewhere = due.kind == ReportKind.FIRST and flag == "missing"
    if leaders and not told_elsewhere:
        payload["notices"] = [
            {
                "kind": f"report_{flag}",
                "title": title,
                "body": body,
                "user_ids": leaders,
                "subject_type": "incident",
                "subject_id": str(incident.id),
                "said": {"number": incident.number},
            }
        ]
    await record_change(
        session,
        action="duty.report_flagged",
        subject_type="duty_report_due",
        subject_id=due.id,
        before=None,
        after={"state": due.state, "flag": flag, "kind": due.kind, "seq": due.seq},
        audience=EventScope(division_path=desk_path or incident.division_path),
        timeline=incidents.timeline_entry(
            incident,
            code=f"duty.report_flagged.{flag}.{due.kind}",
            kind="report_flagged",
            summary=title,
            params={"seq": due.seq, "due_at": clock.as_utc(due.due_at).isoformat()},
        ),
        payload=payload,
    )


def _local(at: datetime | None) -> str:
    if at is None:
        return ""
    return clock.as_utc(at).astimezone(clock.LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


async def due_passed(session: AsyncSession, *, due_id: uuid.UUID) -> None:
    """A due's deadline passed (its timer, or the incidents domain's first-report overdue
    event): nothing sent → 漏报; a 续报's cadence goes on."""
    due = await session.get(ReportDue, due_id, with_for_update=True)
    if due is None or due.state != ReportDueState.DUE:
        return  # met, waived or flagged meanwhile
    incident = await incidents.find_incident(session=session, incident_id=due.incident_id)
    if incident is None:
        return
    due.state, due.flagged_at = ReportDueState.MISSING, clock.now()
    await session.flush()
    await _flag(session, incident, due, "missing")
    if due.kind == ReportKind.FOLLOWUP:
        await _next_followup(session, incident, due, clock.as_utc(due.due_at))


async def first_report_overdue(session: AsyncSession, *, incident_id: uuid.UUID) -> None:
    """The incidents domain's 首报 deadline passed: the 首报 due row is flagged."""
    due = await session.scalar(
        select(ReportDue).where(
            ReportDue.incident_id == incident_id,
            ReportDue.kind == ReportKind.FIRST,
            ReportDue.seq == 1,
        )
    )
    if due is not None:
        await due_passed(session, due_id=due.id)


# --- reports -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportContent:
    """What a draft says (validated by the route's schema)."""

    values: dict[str, Any]


def _snapshot(report: StatutoryReport) -> dict[str, Any]:
    return audit.snapshot(report, REPORT_FIELDS)


async def _last_sent(session: AsyncSession, incident_id: uuid.UUID) -> StatutoryReport | None:
    return await session.scalar(
        select(StatutoryReport)
        .where(
            StatutoryReport.incident_id == incident_id,
            StatutoryReport.state.in_(SENT_STATES),
            StatutoryReport.kind != ReportKind.PHONE,
        )
        .order_by(StatutoryReport.sent_at.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class Sides:
    """Where a report stands for a principal: it may write it (the principal works at the desk
    or below it) and/or receive it (the principal's area holds the level above)."""

    desk_path: str | None
    to_path: str | None
    writer: bool
    receiver: bool


async def sides(session: AsyncSession, scope: Scope, report: StatutoryReport) -> Sides:
    paths = await _paths(session, report.division_adcode, report.to_division_adcode)
    desk_path = paths.get(report.division_adcode)
    to_path = paths.get(report.to_division_adcode or "")
    return Sides(
        desk_path=desk_path,
        to_path=to_path,
        # the desk and those below it write; the levels above receive (an area above holds the
        # desk's area too, but does not write the desk's reports; everything does both)
        writer=desk_path is not None
        and scope.covers(division_path=desk_path)
        and (scope.everything or to_path is None or not scope.covers(division_path=to_path)),
        receiver=to_path is not None and scope.covers(division_path=to_path),
    )


async def get_report(
    session: AsyncSession, principal: Principal, report_id: uuid.UUID, *, lock: bool = False
) -> tuple[StatutoryReport, Sides]:
    """The report if the principal's area holds its desk or the level it went to (a report
    not yet sent is the desk's alone); else 404."""
    report = await session.get(StatutoryReport, report_id, with_for_update=lock)
    if report is not None:
        where = await sides(session, principal.scope, report)
        sent = report.state in SENT_STATES
        if where.writer or (where.receiver and sent):
            return report, where
    raise NotFound("report_not_found", f"no report {report_id}", {"report_id": str(report_id)})


async def _next_number(session: AsyncSession, adcode: str, year: int) -> tuple[str, int]:
    """``<desk adcode>-<year>-NNNN``: the desk's next number of the year (a unique column
    backs it; ``_store_report`` draws again while another report holds it)."""
    prefix = f"{adcode}-{year}-"
    last = await session.scalar(
        select(func.max(StatutoryReport.number)).where(
            StatutoryReport.number.startswith(prefix, autoescape=True)
        )
    )
    serial = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{serial:04d}", serial


_REPORT = cast(Table, StatutoryReport.__table__)
#: a new report's columns before its values (Core inserts apply no ORM defaults)
BLANK_REPORT = blank_row(_REPORT)
_INSERT_REPORT = InsertUnlessTaken(_REPORT, ["number"])
NUMBER_DRAWS = 8


async def _store_report(session: AsyncSession, report: StatutoryReport, year: int) -> None:
    """Insert a new report; while another one has its number (two drafts at once on one
    desk), the desk's next."""
    for _ in range(NUMBER_DRAWS):
        if await _INSERT_REPORT(session, report):
            return
        report.number, _ = await _next_number(session, report.division_adcode, year)
    raise Conflict("report_number_busy", "no free report number now; try again")


async def create_report(
    session: AsyncSession,
    principal: Principal,
    *,
    incident_id: uuid.UUID,
    kind: ReportKind,
    content: ReportContent,
    corrects_id: uuid.UUID | None = None,
    correction_reason: str | None = None,
) -> StatutoryReport:
    """A draft about an incident of the principal's area, prefilled from the incident where the
    content leaves a field out. A 续报 takes the next sequence number; one 首报, one 终报."""
    incident = await incidents.get_incident_or_raise(
        session=session, incident_id=incident_id, scope=principal.scope
    )
    desk = await desk_of_path(session, incident.division_path)
    if desk is None:
        raise ValidationFailed(
            "no_reporting_desk", "the incident lies in no county, city or province"
        )
    if (corrects_id is None) != (correction_reason is None):
        raise ValidationFailed(
            "correction_needs_reason", "a correction names the report it corrects and why"
        )
    if corrects_id is not None:
        corrected = await session.get(StatutoryReport, corrects_id)
        if corrected is None or corrected.incident_id != incident.id:
            raise NotFound("report_not_found", f"no report {corrects_id} on this incident")
        if corrected.state not in SENT_STATES or corrected.state == ReportState.CORRECTED:
            raise Conflict("report_not_correctable", "only a report sent up can be corrected")
        kind = ReportKind.FOLLOWUP
    taken = (
        await session.scalars(
            select(StatutoryReport.seq).where(
                StatutoryReport.incident_id == incident.id,
                StatutoryReport.division_adcode == desk.adcode,
                StatutoryReport.kind == kind,
            )
        )
    ).all()
    if taken and kind != ReportKind.FOLLOWUP:
        raise Conflict(
            "report_exists", f"this incident already has its {kind} report", {"kind": kind}
        )
    now = clock.now()
    year = now.astimezone(clock.LOCAL_TZ).year
    number, _ = await _next_number(session, desk.adcode, year)
    values = {
        "title": incident.title,
        "occurred_at": incident.first_reported_at,
        "place": incident.address,
        "category_code": incident.category_code,
        "level": incident.level,
        **{f: getattr(incident, f) for f in incidents.CASUALTY_FIELDS},
        **{k: v for k, v in content.values.items() if v is not None},
    }
    report = StatutoryReport(
        **{
            **BLANK_REPORT,
            **values,
            "id": new_id(),
            "number": number,
            "incident_id": incident.id,
            "kind": kind,
            "seq": 1 + max(taken, default=0),
            "division_adcode": desk.adcode,
            "to_division_adcode": desk.parent_adcode,
            "state": ReportState.DRAFT,
            "reporter_id": str(principal.user_id),
            "reporter_name": principal.display_name or principal.username,
            "corrects_id": corrects_id,
            "correction_reason": correction_reason,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
    )
    await _store_report(session, report, year)
    await _record(session, report, desk.path, "duty.report_drafted", None)
    return report


async def _record(
    session: AsyncSession,
    report: StatutoryReport,
    desk_path: str | None,
    action: str,
    before: dict[str, Any] | None,
    *,
    timeline: Any = None,
    extra: dict[str, Any] | None = None,
) -> None:
    after = _snapshot(report)
    await record_change(
        session,
        action=action,
        subject_type="duty_report",
        subject_id=report.id,
        before=before,
        after=after,
        audience=EventScope(division_path=desk_path, permission=Permission.DUTY_READ),
        timeline=timeline,
        payload={
            "report": {**after, "id": str(report.id), "incident_id": str(report.incident_id)},
            "incident_id": str(report.incident_id),
            "kind": report.kind,
            "seq": report.seq,
            **(extra or {}),
        },
    )


def _check_version(report: StatutoryReport, version: int) -> None:
    if report.version != version:
        raise Conflict(
            "stale_version",
            "the report changed since you read it",
            {"version": report.version},
        )


async def update_report(
    session: AsyncSession,
    principal: Principal,
    *,
    report_id: uuid.UUID,
    version: int,
    content: ReportContent,
) -> StatutoryReport:
    """Edit a draft (an approved report returns to draft when edited: it is signed again)."""
    report, where = await get_report(session, principal, report_id, lock=True)
    if not where.writer:
        raise NotFound("report_not_found", f"no report {report_id}")
    if report.state not in (ReportState.DRAFT, ReportState.APPROVED):
        raise Conflict("report_sent", "a report sent up is corrected by a later one")
    _check_version(report, version)
    before = _snapshot(report)
    for name, value in content.values.items():
        if name in CONTENT_FIELDS and value is not None:
            setattr(report, name, value)
    report.state = ReportState.DRAFT
    report.approver_id = report.approver_name = report.approved_at = None
    report.version += 1
    report.updated_at = clock.now()
    await session.flush()
    await _record(session, report, where.desk_path, "duty.report_updated", before)
    return report


async def approve_report(
    session: AsyncSession, principal: Principal, *, report_id: uuid.UUID, version: int
) -> StatutoryReport:
    """签发: the duty leader signs the draft; it may be sent."""
    report, where = await get_report(session, principal, report_id, lock=True)
    if not where.writer:
        raise NotFound("report_not_found", f"no report {report_id}")
    _check_version(report, version)
    if report.state != ReportState.DRAFT:
        raise Conflict("report_not_draft", f"a report that is {report.state} is not signed again")
    before = _snapshot(report)
    report.state = ReportState.APPROVED
    report.approver_id = str(principal.user_id)
    report.approver_name = principal.display_name or principal.username
    report.approved_at = clock.now()
    report.version += 1
    report.updated_at = clock.now()
    await session.flush()
    await _record(session, report, where.desk_path, "duty.report_approved", before)
    return report


async def _answer_due(
    session: AsyncSession, report: StatutoryReport, incident: incidents.Incident
) -> ReportDue | None:
    """The due row this report answers (its kind; a 续报 the earliest open one), met or late."""
    stmt = select(ReportDue).where(
        ReportDue.incident_id == report.incident_id,
        ReportDue.division_adcode == report.division_adcode,
        ReportDue.kind == report.kind,
        ReportDue.state.in_(OPEN_DUE_STATES),
    )
    due = await session.scalar(stmt.order_by(ReportDue.seq).limit(1).with_for_update())
    if due is None:
        return None
    now = clock.now()
    late = now > clock.as_utc(due.due_at)
    due.state = ReportDueState.LATE if late else ReportDueState.MET
    due.report_id, due.met_at = report.id, now
    report.due_at, report.late = due.due_at, late
    await session.flush()
    await timers.cancel(session, kind=REPORT_DUE_TIMER, subject=due.id)
    if late:
        await _flag(session, incident, due, "late")
    if due.kind == ReportKind.FOLLOWUP:
        await _next_followup(session, incident, due, now)
    return due


async def send_report(
    session: AsyncSession,
    principal: Principal,
    *,
    report_id: uuid.UUID,
    version: int,
    render: Any,
) -> StatutoryReport:
    """Send up: the signed report goes to the parent division's inbox (a phone report needs
    no signature). It answers its due row; a 首报 records the incident's first report; a
    correction marks the report it corrects. ``render(report) -> bytes`` gives the .docx whose
    SHA-256 is kept."""
    report, where = await get_report(session, principal, report_id, lock=True)
    if not where.writer:
        raise NotFound("report_not_found", f"no report {report_id}")
    _check_version(report, version)
    signed = report.state == ReportState.APPROVED
    if not signed and not (report.kind == ReportKind.PHONE and report.state == ReportState.DRAFT):
        raise Conflict("report_not_approved", "a report is signed (签发) before it is sent")
    if report.to_division_adcode is None or where.to_path is None:
        raise Conflict("no_level_above", "this desk has no level above to report to")
    incident = await incidents.get_incident_or_raise(
        session=session, incident_id=report.incident_id, scope=principal.scope
    )
    before = _snapshot(report)
    report.state, report.sent_at = ReportState.SENT, clock.now()
    report.version += 1
    report.updated_at = clock.now()
    await session.flush()
    await _answer_due(session, report, incident)
    if report.kind == ReportKind.FIRST and incident.first_report_at is None:
        await incident_flows.record_first_report(
            session=session,
            principal=principal,
            incident_id=incident.id,
            text=f"{report.number} {report.title}",
        )
    if report.corrects_id is not None:
        corrected = await session.get(StatutoryReport, report.corrects_id, with_for_update=True)
        if corrected is not None and corrected.state != ReportState.CORRECTED:
            old = _snapshot(corrected)
            corrected.state, corrected.updated_at = ReportState.CORRECTED, clock.now()
            corrected.version += 1
            await session.flush()
            await _record(
                session,
                corrected,
                where.desk_path,
                "duty.report_corrected",
                old,
                timeline=incidents.timeline_entry(
                    incident,
                    code="duty.report_corrected",
                    kind="report_corrected",
                    summary=f"误报更正：{corrected.number}（{report.correction_reason}）",
                    params={"number": corrected.number, "reason": report.correction_reason},
                ),
                extra={"by": str(report.id), "reason": report.correction_reason},
            )
    report.docx_sha256 = hashlib.sha256(render(report)).hexdigest()
    await session.flush()
    receivers = await _user_ids(
        session,
        where.to_path,
        [Position.CHIEF, Position.OFFICER, Position.LEADER],
        [Role.DUTY_OFFICER, Role.DUTY_LEADER],
    )
    kind_zh = KIND_ZH.get(report.kind, report.kind)
    seq = f"第{report.seq}次" if report.kind == ReportKind.FOLLOWUP else ""
    notices = (
        [
            {
                "kind": "report_received",
                "title": f"收到{seq}{kind_zh}：{report.title}",
                "body": f"{report.number}，请查阅签收。",
                "user_ids": receivers,
                "subject_type": "duty_report",
                "subject_id": str(report.id),
                "said": {"number": report.number},
            }
        ]
        if receivers
        else []
    )
    await _record(
        session,
        report,
        where.desk_path,
        "duty.report_sent",
        before,
        timeline=incidents.timeline_entry(
            incident,
            code=f"duty.report_sent.{report.kind}",
            kind="report_sent",
            summary=f"{seq}{kind_zh}已报送 {report.number}{'（迟报）' if report.late else ''}",
            params={"number": report.number, "seq": report.seq, "late": bool(report.late)},
        ),
        extra={"late": bool(report.late), **({"notices": notices} if notices else {})},
    )
    return report


async def open_report(
    session: AsyncSession, principal: Principal, *, report_id: uuid.UUID
) -> StatutoryReport:
    """已阅: the first reader above records the receipt (later openings change nothing)."""
    report, where = await get_report(session, principal, report_id, lock=True)
    if not where.receiver or report.state not in SENT_STATES:
        raise NotFound("report_not_found", f"no report {report_id} in your inbox")
    if report.opened_at is not None:
        return report
    before = _snapshot(report)
    report.opened_at, report.opened_by = clock.now(), str(principal.user_id)
    if report.state == ReportState.SENT:
        report.state = ReportState.OPENED
    report.version += 1
    await session.flush()
    await _record(session, report, where.desk_path, "duty.report_opened", before)
    return report


async def acknowledge_report(
    session: AsyncSession, principal: Principal, *, report_id: uuid.UUID
) -> StatutoryReport:
    """签收: a person above acknowledges the report; the reporter is told."""
    report, where = await get_report(session, principal, report_id, lock=True)
    if not where.receiver or report.state not in SENT_STATES:
        raise NotFound("report_not_found", f"no report {report_id} in your inbox")
    if report.acked_at is not None:
        raise Conflict("report_acknowledged", "the report was already acknowledged")
    before = _snapshot(report)
    now = clock.now()
    if report.opened_at is None:
        report.opened_at, report.opened_by = now, str(principal.user_id)
    report.acked_at, report.acked_by = now, str(principal.user_id)
    report.acked_by_name = principal.display_name or principal.username
    if report.state in (ReportState.SENT, ReportState.OPENED):
        report.state = ReportState.ACKNOWLEDGED
    report.version += 1
    await session.flush()
    incident = await incidents.find_incident(session=session, incident_id=report.incident_id)
    kind_zh = KIND_ZH.get(report.kind, report.kind)
    await _record(
        session,
        report,
        where.desk_path,
        "duty.report_acknowledged",
        before,
        timeline=None
        if incident is None
        else incidents.timeline_entry(
            incident,
            code=f"duty.report_acknowledged.{report.kind}",
            kind="report_acknowledged",
            summary=f"上级已签收{kind_zh} {report.number}（{report.acked_by_name}）",
            params={"number": report.number, "person": report.acked_by_name},
        ),
        extra={
            "notices": [
                {
                    "kind": "report_acknowledged",
                    "title": f"上级已签收：{report.title}",
                    "body": f"{report.number} 由 {report.acked_by_name} 签收。",
                    "user_ids": [report.reporter_id],
                    "subject_type": "duty_report",
                    "subject_id": str(report.id),
                    "said": {"number": report.number},
                }
            ]
        },
    )
    return report


# --- instructions (领导批示) ----------------------------------------------------------------------


async def issue_instruction(
    session: AsyncSession,
    principal: Principal,
    *,
    report_id: uuid.UUID,
    text: str,
    due_at: datetime | None,
) -> LeaderInstruction:
    """领导批示 from the level above on a report it received; tracked at the desk below."""
    report, where = await get_report(session, principal, report_id)
    if not where.receiver or report.state not in SENT_STATES:
        raise NotFound("report_not_found", f"no report {report_id} in your inbox")
    instruction = LeaderInstruction(
        report_id=report.id,
        incident_id=report.incident_id,
        from_division_adcode=report.to_division_adcode,
        to_division_adcode=report.division_adcode,
        text=text,
        author_id=str(principal.user_id),
        author_name=principal.display_name or principal.username,
        issued_at=clock.now(),
        due_at=due_at,
    )
    session.add(instruction)
    await session.flush()
    incident = await incidents.find_incident(session=session, incident_id=report.incident_id)
    desk_people = await _user_ids(
        session,
        where.desk_path,
        [Position.LEADER, Position.CHIEF],
        [Role.DUTY_LEADER],
    )
    await record_change(
        session,
        action="duty.instruction_issued",
        subject_type="duty_instruction",
        subject_id=instruction.id,
        before=None,
        after=_instruction_snapshot(instruction),
        audience=EventScope(division_path=where.desk_path, permission=Permission.DUTY_READ),
        timeline=None
        if incident is None
        else incidents.timeline_entry(
            incident,
            code="duty.instruction_issued",
            kind="instruction_issued",
            summary=f"领导批示（{instruction.author_name}）：{text[:200]}",
            params={"person": instruction.author_name, "text": text[:200]},
        ),
        payload={
            "instruction": _instruction_snapshot(instruction),
            "incident_id": str(report.incident_id),
            "notices": [
                {
                    "kind": "instruction_issued",
                    "title": f"领导批示：{report.title}",
                    "body": text[:500],
                    "user_ids": list(dict.fromkeys([report.reporter_id, *desk_people])),
                    "subject_type": "incident",
                    "subject_id": str(report.incident_id),
                    "said": {"number": report.number},
                }
            ],
        },
    )
    return instruction


def _instruction_snapshot(row: LeaderInstruction) -> dict[str, Any]:
    return audit.snapshot(
        row,
        (
            "report_id",
            "incident_id",
            "from_division_adcode",
            "to_division_adcode",
            "text",
            "author_name",
            "issued_at",
            "due_at",
            "carried_out_at",
            "carried_out_note",
        ),
    )


async def carry_out(
    session: AsyncSession, principal: Principal, *, instruction_id: uuid.UUID, note: str
) -> LeaderInstruction:
    """落实: the desk below records how the instruction was carried out."""
    row = await session.get(LeaderInstruction, instruction_id, with_for_update=True)
    path = (
        (await _paths(session, row.to_division_adcode)).get(row.to_division_adcode) if row else None
    )
    if row is None or path is None or not principal.scope.covers(division_path=path):
        raise NotFound("instruction_not_found", f"no instruction {instruction_id}")
    if row.carried_out_at is not None:
        raise Conflict("instruction_carried_out", "the instruction was already carried out")
    before = _instruction_snapshot(row)
    row.carried_out_at, row.carried_out_by = clock.now(), str(principal.user_id)
    row.carried_out_note = note
    await session.flush()
    incident = await incidents.find_incident(session=session, incident_id=row.incident_id)
    await record_change(
        session,
        action="duty.instruction_carried_out",
        subject_type="duty_instruction",
        subject_id=row.id,
        before=before,
        after=_instruction_snapshot(row),
        audience=EventScope(division_path=path, permission=Permission.DUTY_READ),
        timeline=None
        if incident is None
        else incidents.timeline_entry(
            incident,
            code="duty.instruction_carried_out",
            kind="instruction_carried_out",
            summary=f"批示已落实：{note[:200]}",
            params={"text": note[:200]},
        ),
        payload={"instruction": _instruction_snapshot(row), "incident_id": str(row.incident_id)},
    )
    return row


# --- reading: the handover's questions, the inbox, the board, the counts -------------------------


async def open_dues(session: AsyncSession, *, division_adcode: str) -> list[ReportDue]:
    """The reports a desk still owes (due or missing), soonest first (the handover lists them)."""
    rows = await session.scalars(
        select(ReportDue)
        .where(
            ReportDue.division_adcode == division_adcode,
            ReportDue.state.in_(OPEN_DUE_STATES),
        )
        .order_by(ReportDue.due_at)
    )
    return list(rows.all())


async def open_instructions(
    session: AsyncSession, *, division_adcode: str
) -> list[LeaderInstruction]:
    """The instructions that came down to a desk and are not carried out yet."""
    rows = await session.scalars(
        select(LeaderInstruction)
        .where(
            LeaderInstruction.to_division_adcode == division_adcode,
            LeaderInstruction.carried_out_at.is_(None),
        )
        .order_by(LeaderInstruction.issued_at)
    )
    return list(rows.all())


async def division_in_scope(session: AsyncSession, principal: Principal, adcode: str) -> Any:
    division = await org.get_division(session=session, adcode=adcode, scope=principal.scope)
    if division is None:
        raise NotFound("division_not_found", f"no division {adcode}", {"adcode": adcode})
    return division


def own_division(principal: Principal) -> str | None:
    parts = [p for p in (principal.scope.division_path or "").split("/") if p]
    return parts[-1] if parts else None


@dataclass(frozen=True)
class DueItem:
    due: ReportDue
    number: str
    title: str
    division_adcode: str | None


async def dues_under(
    session: AsyncSession,
    *,
    division_path: str,
    states: tuple[str, ...],
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 500,
) -> list[DueItem]:
    """The due rows of incidents in the area, with the incident's number and title."""
    facts = incidents.incident_facts()
    stmt = (
        select(ReportDue, facts.c.number, facts.c.title, facts.c.division_adcode)
        .join(facts, facts.c.id == ReportDue.incident_id)
        .where(
            facts.c.division_path.startswith(division_path, autoescape=True),
            ReportDue.state.in_(states),
        )
    )
    if since is not None:
        stmt = stmt.where(ReportDue.due_at >= since)
    if until is not None:
        stmt = stmt.where(ReportDue.due_at < until)
    rows = await session.execute(stmt.order_by(ReportDue.due_at).limit(limit))
    return [DueItem(due=r[0], number=r[1], title=r[2], division_adcode=r[3]) for r in rows]


async def reports_where(
    session: AsyncSession,
    *,
    division_path: str | None = None,
    to_division: str | None = None,
    incident_id: uuid.UUID | None = None,
    states: tuple[str, ...] | None = None,
    limit: int = 200,
) -> list[StatutoryReport]:
    stmt = select(StatutoryReport)
    if division_path is not None:
        facts = incidents.incident_facts()
        stmt = stmt.join(facts, facts.c.id == StatutoryReport.incident_id).where(
            facts.c.division_path.startswith(division_path, autoescape=True)
        )
    if to_division is not None:
        stmt = stmt.where(StatutoryReport.to_division_adcode == to_division)
    if incident_id is not None:
        stmt = stmt.where(StatutoryReport.incident_id == incident_id)
    if states is not None:
        stmt = stmt.where(StatutoryReport.state.in_(states))
    rows = await session.scalars(
        stmt.order_by(StatutoryReport.created_at.desc(), StatutoryReport.id).limit(limit)
    )
    return list(rows.all())


async def instructions_of(
    session: AsyncSession, *, report_ids: list[uuid.UUID]
) -> list[LeaderInstruction]:
    if not report_ids:
        return []
    rows = await session.scalars(
        select(LeaderInstruction)
        .where(LeaderInstruction.report_id.in_(report_ids))
        .order_by(LeaderInstruction.issued_at)
    )
    return list(rows.all())


@dataclass(frozen=True)
class TownCount:
    adcode: str
    name: str
    counts: dict[str, int]


async def monthly_counts(
    session: AsyncSession, *, division_path: str, month_start: datetime, month_end: datetime
) -> list[TownCount]:
    """Dues falling in the month in the area, counted by the division one level below it on the
    incident's path (by town for a county): owed, met, late, missing, still due."""
    items = await dues_under(
        session,
        division_path=division_path,
        states=tuple(ReportDueState),
        since=month_start,
        until=month_end,
        limit=100_000,
    )
    facts = incidents.incident_facts()
    ids = list({i.due.incident_id for i in items})
    paths: dict[uuid.UUID, str] = {}
    if ids:
        rows = await session.execute(
            select(facts.c.id, facts.c.division_path).where(facts.c.id.in_(ids))
        )
        paths = {r[0]: r[1] or "" for r in rows}
    depth = len([p for p in division_path.split("/") if p])
    tally: dict[str, Counter[str]] = {}
    for item in items:
        parts = [p for p in paths.get(item.due.incident_id, "").split("/") if p]
        town = parts[depth] if len(parts) > depth else parts[-1] if parts else ""
        counter = tally.setdefault(town, Counter())
        if item.due.state != ReportDueState.WAIVED:
            counter["owed"] += 1
        counter[item.due.state] += 1
    names: dict[str, str] = {}
    for adcode in tally:
        division = await org.get_division(session=session, adcode=adcode) if adcode else None
        names[adcode] = division.name if division else adcode
    keys = ("owed", "met", "late", "missing", "due")
    return [
        TownCount(adcode=a, name=names[a], counts={k: tally[a][k] for k in keys})
        for a in sorted(tally)
    ]


#: the bulletin's section (``core.bulletin_sections``): the same counts as the KPI page's
BULLETIN_TITLE = "信息报送情况"
BULLETIN_HEADER = ("乡镇（街道）", "应报", "按时", "迟报", "漏报")


async def bulletin_section(
    session: AsyncSession, *, since: datetime, until: datetime, scope: Scope
) -> BulletinSection | None:
    """信息报送情况 of the monthly bulletin: the reports owed in ``[since, until)`` in the
    reader's area, by the division one level below it (by town for a county), as
    :func:`monthly_counts` gives them to the KPI page; a scope without an area has none."""
    if scope.everything:
        path = ""
    elif scope.division_path:
        path = scope.division_path
    else:
        return None
    counts = await monthly_counts(session, division_path=path, month_start=since, month_end=until)
    keys = ("owed", "met", "late", "missing")
    rows = tuple((c.name, *(str(c.counts[k]) for k in keys)) for c in counts if c.counts["owed"])
    total = {k: sum(c.counts[k] for c in counts) for k in (*keys, "due")}
    if not rows:
        summary = "本月无应报送的信息（应报0件，迟报0件，漏报0件）。"
    else:
        still = f"，尚未到期{total['due']}件" if total["due"] else ""
        summary = (
            f"本月应报送信息{total['owed']}件，按时报送{total['met']}件，"
            f"迟报{total['late']}件，漏报{total['missing']}件{still}。"
        )
    return BulletinSection(title=BULLETIN_TITLE, summary=summary, header=BULLETIN_HEADER, rows=rows)
