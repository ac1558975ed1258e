"""Statutory reporting's background work: the due timers, and the incident events that start,
bring forward and end the reports owed (``duty.reporting``)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core.db import Database
from yingji.core.events import DomainEvent
from yingji.core.timers import TimerFiring
from yingji.duty import reporting

REPORT_DUE_TIMER = reporting.REPORT_DUE_TIMER


async def report_due(session: AsyncSession, firing: TimerFiring) -> None:
    await reporting.due_passed(session, due_id=uuid.UUID(firing.subject))


def _incident_id(event: DomainEvent) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(event.subject_id))
    except ValueError:
        return None


class FollowIncidents:
    """An incident verified (or raised to level III) starts its dues; a level change or new
    casualty figures bring a 续报 forward; closing owes the 终报; cancelling waives them; the
    incidents domain's 首报 deadline passing flags the 首报 due. Each step is idempotent."""

    name = "duty.reporting_follows_incidents"
    types = (
        "incidents.verified",
        "incidents.level_changed",
        "incidents.report_added",
        "incidents.first_report_overdue",
        "incidents.closed",
        "incidents.cancelled",
        "incidents.merged_away",
    )

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(self, event: DomainEvent) -> None:
        incident_id = _incident_id(event)
        if incident_id is None or event.subject_type != "incident":
            return
        async with self.db.unit_of_work() as session:
            match event.type:
                case "incidents.verified":
                    await reporting.start_dues(session, incident_id=incident_id)
                case "incidents.level_changed":
                    await reporting.followup_on_change(
                        session,
                        incident_id=incident_id,
                        code="reporting.level_change",
                        params={"from": event.payload.get("from"), "to": event.payload.get("to")},
                    )
                case "incidents.report_added":
                    await reporting.followup_on_change(
                        session,
                        incident_id=incident_id,
                        code="reporting.casualty_change",
                        params={},
                    )
                case "incidents.first_report_overdue":
                    await reporting.first_report_overdue(session, incident_id=incident_id)
                case "incidents.closed":
                    await reporting.incident_ended(session, incident_id=incident_id, closed=True)
                case _:
                    await reporting.incident_ended(session, incident_id=incident_id, closed=False)
