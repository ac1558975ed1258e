"""回溯: an incident's history as frames to play on its map — every timeline line, every report
where it was made, every unit where it arrived — in time order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock
from yingji.core.security import SYSTEM
from yingji.dispatch import service as dispatch
from yingji.incidents import service as incidents
from yingji.intake import service as intake

#: the reports one replay shows at most
MAX_REPORTS = 20_000
_TEXT = 120


@dataclass(frozen=True, slots=True)
class Frame:
    at: datetime
    #: ``timeline`` (a line of the timeline), ``report`` (a call or message, where it was made)
    #: or ``arrival`` (a unit on the scene)
    kind: str
    code: str
    params: dict[str, Any]
    summary: str
    lon: float | None
    lat: float | None
    ref_id: str | None


async def frames(session: AsyncSession, *, incident: incidents.Incident) -> list[Frame]:
    found: list[tuple[datetime, int, Frame]] = []
    for entry in await incidents.timeline(session=session, incident_id=incident.id):
        frame = Frame(
            at=clock.as_utc(entry.at),
            kind="timeline",
            code=entry.code,
            params=dict(entry.params or {}),
            summary=entry.summary,
            lon=None,
            lat=None,
            ref_id=str(entry.id),
        )
        found.append((frame.at, 1, frame))
    reports, _ = await intake.list_reports(
        session=session, scope=SYSTEM.scope, incident_id=incident.id, limit=MAX_REPORTS
    )
    for r in reports:
        frame = Frame(
            at=clock.as_utc(r.received_at),
            kind="report",
            code="report",
            params={"channel": r.channel},
            summary=r.text[:_TEXT],
            lon=r.lon,
            lat=r.lat,
            ref_id=str(r.id),
        )
        found.append((frame.at, 0, frame))
    orders = await dispatch.orders_of_incident(session=session, incident_id=incident.id)
    names = await dispatch.unit_names(session=session, unit_ids={o.unit_id for o in orders})
    for o in orders:
        if o.arrived_at is None:
            continue
        frame = Frame(
            at=clock.as_utc(o.arrived_at),
            kind="arrival",
            code="arrival",
            params={"unit": names.get(o.unit_id, "")},
            summary=names.get(o.unit_id, ""),
            lon=o.arrive_lon if o.arrive_lon is not None else incident.lon,
            lat=o.arrive_lat if o.arrive_lat is not None else incident.lat,
            ref_id=str(o.id),
        )
        found.append((frame.at, 2, frame))
    found.sort(key=lambda item: (item[0], item[1], item[2].ref_id or ""))
    return [frame for _, _, frame in found]
