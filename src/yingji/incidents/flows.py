"""Incident lifecycle: every transition through one flow with compare-and-set, a timeline row,
an audit row and an event, and the statutory first-report deadline as a timer."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit, clock, reasons, timers
from yingji.core.changes import record_change
from yingji.core.errors import Conflict, ValidationFailed
from yingji.core.events import EventScope
from yingji.core.security import Permission, Principal
from yingji.incidents import service
from yingji.incidents.models import Incident, ReportingDeadline
from yingji.incidents.schemas import OPEN_STATES, IncidentState, ReportingDeadlineIn

FIRST_REPORT_TIMER = "incidents.first_report_due"
LEVEL_NAMES = {"I": "特别重大", "II": "重大", "III": "较大", "IV": "一般"}


def snapshot(incident: Incident) -> dict[str, Any]:
    return audit.snapshot(incident, service.INCIDENT_FIELDS)


async def _load(session: AsyncSession, principal: Principal, incident_id: uuid.UUID) -> Incident:
    return await service.get_incident_or_raise(
        session=session, incident_id=incident_id, scope=principal.scope
    )


def needs_first_report(incident: Incident) -> bool:
    return (
        incident.state in OPEN_STATES
        and incident.kind != "service"  # a service case is never reported up
        and incident.verified_at is not None
        and incident.first_report_at is None
        and service.level_at_least(incident.level, "III")
    )


async def _sync_first_report_timer(
    session: AsyncSession, incident: Incident, fallback_minutes: int
) -> None:
    """首报: level III or above, once verified, must be reported up in writing in time."""
    if needs_first_report(incident):
        if incident.first_report_due_at is None:
            minutes = await service.written_deadline_minutes(
                session=session,
                category_code=incident.category_code,
                level=incident.level,
                fallback=fallback_minutes,
                division_path=incident.division_path,
            )
            due = clock.as_utc(incident.verified_at or clock.now()) + timedelta(minutes=minutes)
            incident.first_report_due_at = due
            await session.flush()
            await timers.schedule(
                session,
                kind=FIRST_REPORT_TIMER,
                subject=incident.id,
                due_at=due,
                payload={"level": incident.level},
            )
        return
    await timers.cancel(session, kind=FIRST_REPORT_TIMER, subject=incident.id)


async def verify(
    *,
    session: AsyncSession,
    principal: Principal,
    incident_id: uuid.UUID,
    note: str | None,
    first_report_minutes: int,
) -> Incident:
    incident = await _load(session, principal, incident_id)
    before = snapshot(incident)
    await service.transition(
        session=session,
        incident=incident,
        allowed_from=(IncidentState.REPORTED,),
        to=IncidentState.VERIFIED,
        values={"verified_at": clock.now()},
    )
    await _sync_first_report_timer(session, incident, first_report_minutes)
    await service.trace(
        session=session,
        incident=incident,
        action="incidents.verified",
        before=before,
        summary=f"核实{'：' + note if note else ''}",
        data={"note": note, "first_report_due_at": incident.first_report_due_at},
    )
    return incident


async def _move(
    session: AsyncSession,
    principal: Principal,
    incident_id: uuid.UUID,
    *,
    allowed_from: tuple[IncidentState, ...],
    to: IncidentState,
    summary: str,
    note: str | None = None,
    values: dict[str, Any] | None = None,
) -> Incident:
    """One lifecycle step: compare-and-set, then the three traces."""
    incident = await _load(session, principal, incident_id)
    before = snapshot(incident)
    await service.transition(
        session=session, incident=incident, allowed_from=allowed_from, to=to, values=values
    )
    if to in (IncidentState.CLOSED, IncidentState.CANCELLED):
        await timers.cancel(session, kind=FIRST_REPORT_TIMER, subject=incident.id)
    await service.trace(
        session=session,
        incident=incident,
        action=f"incidents.{to}",
        before=before,
        summary=f"{summary}{'：' + note if note else ''}",
        data={"note": note} if note else None,
    )
    return incident


async def control(
    *, session: AsyncSession, principal: Principal, incident_id: uuid.UUID, note: str | None
) -> Incident:
    return await _move(
        session,
        principal,
        incident_id,
        allowed_from=(IncidentState.VERIFIED, IncidentState.RESPONDING),
        to=IncidentState.CONTROLLED,
        summary="得到控制",
        note=note,
    )


async def close(
    *, session: AsyncSession, principal: Principal, incident_id: uuid.UUID, note: str | None
) -> Incident:
    return await _move(
        session,
        principal,
        incident_id,
        allowed_from=(IncidentState.VERIFIED, IncidentState.RESPONDING, IncidentState.CONTROLLED),
        to=IncidentState.CLOSED,
        summary="办结",
        note=note,
        values={"closed_at": clock.now()},
    )


async def archive(
    *, session: AsyncSession, principal: Principal, incident_id: uuid.UUID
) -> Incident:
    return await _move(
        session,
        principal,
        incident_id,
        allowed_from=(IncidentState.CLOSED,),
        to=IncidentState.ARCHIVED,
        summary="归档",
    )


CANCEL_KINDS = {"false_report": "误报", "duplicate": "重复", "other": "其他"}
# a false report may be found out after dispatch (the unit arrives to nothing): its open orders
# then end with it (``dispatch.flows.cancel_incident``)
CANCELLABLE = OPEN_STATES


async def cancel(
    *, session: AsyncSession, principal: Principal, incident_id: uuid.UUID, kind: str, reason: str
) -> Incident:
    incident = await _load(session, principal, incident_id)
    before = snapshot(incident)
    text = f"{CANCEL_KINDS.get(kind, kind)}：{reason}"
    await service.transition(
        session=session,
        incident=incident,
        allowed_from=CANCELLABLE,
        to=IncidentState.CANCELLED,
        values={"cancel_reason": text[:300]},
    )
    await timers.cancel(session, kind=FIRST_REPORT_TIMER, subject=incident.id)
    await service.trace(
        session=session,
        incident=incident,
        action="incidents.cancelled",
        before=before,
        summary=f"撤销：{text}",
        data={"kind": kind, "reason": reason},
    )
    return incident


async def change_level(
    *,
    session: AsyncSession,
    principal: Principal,
    incident_id: uuid.UUID,
    level: str,
    reason: str,
    first_report_minutes: int,
) -> Incident:
    incident = await _load(session, principal, incident_id)
    if incident.state not in OPEN_STATES:
        raise Conflict("incident_not_open", f"an incident that is {incident.state} keeps its level")
    if incident.level == level:
        raise ValidationFailed("level_unchanged", f"the incident is already level {level}")
    before = snapshot(incident)
    was = incident.level
    raised = service.level_at_least(level, was)
    incident.level, incident.level_reason = level, reason
    incident.level_why = reasons.reason("level.manual", text=reason)
    incident.updated_at = clock.now()
    await session.flush()
    await _sync_first_report_timer(session, incident, first_report_minutes)
    word = "升级" if raised else "降级"
    await service.trace(
        session=session,
        incident=incident,
        action="incidents.level_changed",
        before=before,
        summary=f"{word} {was} → {level} ({LEVEL_NAMES[level]})：{reason}",
        data={"from": was, "to": level, "reason": reason},
    )
    return incident


async def add_note(
    *,
    session: AsyncSession,
    principal: Principal,
    incident_id: uuid.UUID,
    text: str,
    for_units: bool = False,
) -> Incident:
    """A note on the timeline; one ``for_units`` is read by the units holding orders too."""
    incident = await _load(session, principal, incident_id)
    data: dict[str, Any] = {"text": text}
    if for_units:
        data["for_units"] = True
    await service.trace(
        session=session,
        incident=incident,
        action="incidents.noted",
        before=None,
        summary=text,
        data=data,
    )
    return incident


async def record_first_report(
    *, session: AsyncSession, principal: Principal, incident_id: uuid.UUID, text: str
) -> Incident:
    incident = await _load(session, principal, incident_id)
    if incident.first_report_at is not None:
        raise Conflict("first_report_exists", "the first report was already recorded")
    before = snapshot(incident)
    incident.first_report_at = clock.now()
    await session.flush()
    await timers.cancel(session, kind=FIRST_REPORT_TIMER, subject=incident.id)
    due = incident.first_report_due_at
    late = due is not None and incident.first_report_at > clock.as_utc(due)
    await service.trace(
        session=session,
        incident=incident,
        action="incidents.first_reported",
        before=before,
        summary=f"首报已报送{'（迟报）' if late else ''}",
        data={"text": text, "late": late},
    )
    return incident


async def mergeable(
    *, session: AsyncSession, principal: Principal, incident_id: uuid.UUID, into_id: uuid.UUID
) -> tuple[Incident, Incident]:
    """The two incidents of a merge (合并), both open and in ``principal``'s scope."""
    if incident_id == into_id:
        raise ValidationFailed("merge_into_itself", "an incident cannot be merged into itself")
    source = await _load(session, principal, incident_id)
    target = await _load(session, principal, into_id)
    for incident in (source, target):
        if incident.state not in OPEN_STATES:
            raise Conflict(
                "incident_not_open",
                f"incident {incident.number} is {incident.state}; merge open ones",
            )
    return source, target


async def merge(
    *,
    session: AsyncSession,
    source: Incident,
    target: Incident,
    reports: int,
    reason: str | None,
) -> Incident:
    """合并: ``source`` (whose ``reports`` reports moved to ``target``) is cancelled; its
    counts go to ``target``. The incidents come from :func:`mergeable`; the reports were moved
    by intake (``dispatch.flows.merge_incident`` orchestrates)."""
    source_before, target_before = snapshot(source), snapshot(target)
    service.absorb_counts(target, source)
    await service.transition(
        session=session,
        incident=source,
        allowed_from=OPEN_STATES,
        to=IncidentState.CANCELLED,
        values={
            "merged_into_id": target.id,
            "cancel_reason": f"重复：并入 {target.number}",
        },
    )
    await timers.cancel(session, kind=FIRST_REPORT_TIMER, subject=source.id)
    note = f"：{reason}" if reason else ""
    await service.trace(
        session=session,
        incident=source,
        action="incidents.merged_away",
        before=source_before,
        summary=f"并入 {target.number}{note}",
        data={"into": str(target.id), "reports": reports},
        params={"number": target.number, "reports": reports, "reason": reason},
    )
    await service.trace(
        session=session,
        incident=target,
        action="incidents.merged",
        before=target_before,
        summary=f"合并 {source.number} 的 {reports} 条接警{note}",
        data={"from": str(source.id), "reports": reports},
        params={"number": source.number, "reports": reports, "reason": reason},
    )
    return target


async def flag_first_report_overdue(*, session: AsyncSession, incident: Incident) -> None:
    """迟报: the deadline passed with no first report; the duty leaders are alerted."""
    due = incident.first_report_due_at
    await service.trace(
        session=session,
        incident=incident,
        action="incidents.first_report_overdue",
        before=None,
        summary=f"首报超时（时限 {due.isoformat() if due else '?'}）",
        data={
            "due_at": due,
            "level": incident.level,
            "number": incident.number,
            "title": incident.title,
        },
    )


# --- the reporting-deadline table ----------------------------------------------------------------


async def set_reporting_deadline(
    *, session: AsyncSession, deadline: ReportingDeadlineIn
) -> ReportingDeadline:
    """信息报送时限 of one jurisdiction, category prefix and level, added or replaced. The table
    is shared by the whole platform: the change goes to everyone who reads incidents."""
    row = await service.get_reporting_deadline(
        session=session,
        category_prefix=deadline.category_prefix,
        level=deadline.level,
        division_adcode=deadline.division_adcode,
    )
    before = audit.snapshot(row, service.REPORTING_DEADLINE_FIELDS) if row is not None else None
    row = await service.set_reporting_deadline(
        session=session,
        category_prefix=deadline.category_prefix,
        level=deadline.level,
        phone_minutes=deadline.phone_minutes,
        written_minutes=deadline.written_minutes,
        basis=deadline.basis,
        division_adcode=deadline.division_adcode,
        followup_hours=deadline.followup_hours,
        final_days=deadline.final_days,
    )
    await record_change(
        session,
        action="incidents.reporting_deadline_set",
        subject_type="reporting_deadline",
        subject_id=row.id,
        before=before,
        after=audit.snapshot(row, service.REPORTING_DEADLINE_FIELDS),
        # a table the whole platform shares: no area
        audience=EventScope(everywhere=True, permission=Permission.INCIDENT_READ),
    )
    return row
