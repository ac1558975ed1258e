"""Timers of the incidents domain."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import security, timers
from yingji.incidents import flows, service


async def first_report_due(session: AsyncSession, firing: timers.TimerFiring) -> None:
    incident = await service.get_incident(
        session=session, incident_id=uuid.UUID(firing.subject), scope=security.SYSTEM.scope
    )
    if incident is None or not flows.needs_first_report(incident):
        return  # reported in time, closed, cancelled or lowered meanwhile: nothing to say
    await flows.flag_first_report_overdue(session=session, incident=incident)
