"""值班日志 — the duty log: typed entries (a call received, an instruction passed on, a report
sent, a visit, anything else) with their time and author, linked to an incident or an order
where they concern one. Entries are never edited or deleted (全程痕迹化): a wrong entry is
answered by a later one.

The division of an entry must lie in the author's scope; an incident or order it names must be
one the author may read (else *not found*, exactly as reading it would answer). An order names
its incident: an entry linked to an order is linked to the order's incident too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock
from yingji.core.changes import record_change
from yingji.core.errors import NotFound, ValidationFailed
from yingji.core.events import EventScope
from yingji.core.security import Permission, Principal, Scope
from yingji.dispatch import service as dispatch
from yingji.duty.models import DutyLogEntry, LogKind
from yingji.incidents import service as incidents
from yingji.org import service as org

#: how far back an entry may be dated (a shift's calls written up at its end), and how far ahead
#: (clocks of two machines)
BACKDATE_LIMIT = timedelta(days=2)
FUTURE_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class DivisionRef:
    """A division a duty desk works for: its code, name and path."""

    adcode: str
    name: str
    path: str


async def division_in_scope(*, session: AsyncSession, adcode: str, scope: Scope) -> DivisionRef:
    """The division ``adcode`` if ``scope`` covers it (its subtree), else *not found*."""
    division = await org.get_division(session=session, adcode=adcode)
    if division is None or not scope.covers(division_path=division.path):
        raise NotFound("division_not_found", f"no division {adcode}", {"adcode": adcode})
    return DivisionRef(adcode=division.adcode, name=division.name, path=division.path)


def audience(division_path: str) -> EventScope:
    """Who sees a duty change live: the desks over the division that read duty."""
    return EventScope(division_path=division_path, permission=Permission.DUTY_READ.value)


def snapshot(entry: DutyLogEntry) -> dict[str, Any]:
    return {
        "id": str(entry.id),
        "division_adcode": entry.division_adcode,
        "at": clock.as_utc(entry.at).isoformat(),
        "kind": entry.kind,
        "text": entry.text,
        "author_id": entry.author_id,
        "author_name": entry.author_name,
        "incident_id": str(entry.incident_id) if entry.incident_id else None,
        "order_id": str(entry.order_id) if entry.order_id else None,
    }


@dataclass(frozen=True)
class NewEntry:
    division_adcode: str
    kind: LogKind
    text: str
    at: datetime | None = None
    incident_id: uuid.UUID | None = None
    order_id: uuid.UUID | None = None


async def _links(
    session: AsyncSession, principal: Principal, entry: NewEntry
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """The incident and order an entry names, each readable by the author."""
    incident_id = entry.incident_id
    if entry.order_id is not None:
        order = await dispatch.get_order_or_raise(
            session=session, order_id=entry.order_id, scope=principal.scope
        )
        if incident_id is not None and incident_id != order.incident_id:
            raise ValidationFailed(
                "order_not_of_incident",
                "the order belongs to another incident",
                {"order_id": str(order.id), "incident_id": str(incident_id)},
            )
        incident_id = order.incident_id
    elif incident_id is not None:
        await incidents.get_incident_or_raise(
            session=session, incident_id=incident_id, scope=principal.scope
        )
    return incident_id, entry.order_id


async def add_entry(
    *, session: AsyncSession, principal: Principal, entry: NewEntry
) -> DutyLogEntry:
    """Write one log entry (dated ``entry.at``, default now) for the principal."""
    division = await division_in_scope(
        session=session, adcode=entry.division_adcode, scope=principal.scope
    )
    now = clock.now()
    at = clock.as_utc(entry.at) if entry.at is not None else now
    if at > now + FUTURE_SLACK or at < now - BACKDATE_LIMIT:
        raise ValidationFailed(
            "log_time_out_of_range",
            "an entry is dated at most two days back and not in the future",
            {"at": at.isoformat(), "now": now.isoformat()},
        )
    incident_id, order_id = await _links(session, principal, entry)
    row = DutyLogEntry(
        division_adcode=division.adcode,
        at=at,
        kind=entry.kind.value,
        text=entry.text,
        author_id=str(principal.user_id),
        author_name=principal.display_name,
        incident_id=incident_id,
        order_id=order_id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    await record_change(
        session,
        action="duty.log_entry_added",
        subject_type="duty_log_entry",
        subject_id=row.id,
        before=None,
        after=snapshot(row),
        audience=audience(division.path),
    )
    return row


@dataclass(frozen=True)
class LogFilter:
    division_adcode: str
    since: datetime | None = None
    until: datetime | None = None
    kind: LogKind | None = None
    incident_id: uuid.UUID | None = None


async def list_entries(
    *, session: AsyncSession, filters: LogFilter, offset: int = 0, limit: int = 100
) -> tuple[list[DutyLogEntry], int]:
    """A division's entries, newest first (the caller checked the division is in scope)."""
    stmt = select(DutyLogEntry).where(DutyLogEntry.division_adcode == filters.division_adcode)
    if filters.since is not None:
        stmt = stmt.where(DutyLogEntry.at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(DutyLogEntry.at < filters.until)
    if filters.kind is not None:
        stmt = stmt.where(DutyLogEntry.kind == filters.kind.value)
    if filters.incident_id is not None:
        stmt = stmt.where(DutyLogEntry.incident_id == filters.incident_id)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.scalars(
        stmt.order_by(DutyLogEntry.at.desc(), DutyLogEntry.created_at.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows.all()), total


async def incident_numbers(
    *, session: AsyncSession, ids: set[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str]]:
    """Number and title of the incidents entries name, by id."""
    found = await incidents.incidents_by_id(session=session, ids=sorted(ids))
    return {i: (inc.number, inc.title) for i, inc in found.items()}
