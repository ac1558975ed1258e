"""In-app notifications (create once per dedupe key, list, mark read); the ways to reach a
person and the broadcast devices near an area."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from yingji.core import clock
from yingji.core.errors import NotFound
from yingji.notify.models import BroadcastDevice, ContactPoint, Notification


async def create(
    *,
    session: AsyncSession,
    user_id: uuid.UUID,
    kind: str,
    title: str,
    body: str,
    subject_type: str | None,
    subject_id: str | None,
    dedupe_key: str,
    at: datetime | None = None,
) -> Notification | None:
    """A notification, unless one with ``dedupe_key`` exists (handlers run at least once);
    ``at``: when what it tells of happened (default now)."""
    if await session.scalar(select(Notification.id).where(Notification.dedupe_key == dedupe_key)):
        return None
    notification = Notification(
        user_id=user_id,
        kind=kind,
        title=title,
        body=body,
        subject_type=subject_type,
        subject_id=subject_id,
        dedupe_key=dedupe_key,
        created_at=at or clock.now(),
    )
    session.add(notification)
    await session.flush()
    return notification


async def list_for(
    *, session: AsyncSession, user_id: uuid.UUID, unread_only: bool, offset: int, limit: int
) -> tuple[list[Notification], int]:
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.scalars(
        stmt.order_by(Notification.created_at.desc()).offset(offset).limit(limit)
    )
    return list(rows.all()), total


async def mark_read(
    *, session: AsyncSession, user_id: uuid.UUID, notification_id: uuid.UUID
) -> Notification:
    notification = await session.get(Notification, notification_id)
    if notification is None or notification.user_id != user_id:
        raise NotFound("notification_not_found", "no such notification")
    await session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.read_at.is_(None))
        .values(read_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    await session.refresh(notification)
    return notification


async def contact_points_of(
    *, session: AsyncSession, person_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str, str]]]:
    """Each person's ways to be reached as (channel, address), in their order of preference
    (people with none are absent). The in-app channel has no row: an account is enough."""
    found: dict[uuid.UUID, list[tuple[str, str]]] = {}
    ids = list(person_ids)
    for start in range(0, len(ids), 5000):  # bound the IN list
        rows = await session.execute(
            select(ContactPoint.person_id, ContactPoint.channel, ContactPoint.address)
            .where(ContactPoint.person_id.in_(ids[start : start + 5000]))
            .order_by(ContactPoint.person_id, ContactPoint.priority, ContactPoint.channel)
        )
        for person_id, channel, address in rows:
            found.setdefault(person_id, []).append((channel, address))
    return found


async def devices_near(
    *,
    session: AsyncSession,
    bbox: tuple[float, float, float, float] | None,
    division_paths: Sequence[str] = (),
) -> list[BroadcastDevice]:
    """Active broadcast devices inside ``bbox`` (min_lon, min_lat, max_lon, max_lat) or in any of
    the divisions at ``division_paths`` (their subtrees); the caller keeps those inside its area."""
    where: list[ColumnElement[bool]] = []
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        where.append(
            (BroadcastDevice.lon >= min_lon)
            & (BroadcastDevice.lon <= max_lon)
            & (BroadcastDevice.lat >= min_lat)
            & (BroadcastDevice.lat <= max_lat)
        )
    where.extend(BroadcastDevice.division_path.startswith(path) for path in division_paths)
    if not where:
        return []
    rows = await session.scalars(
        select(BroadcastDevice)
        .where(BroadcastDevice.active.is_(True), or_(*where))
        .order_by(BroadcastDevice.code)
    )
    return list(rows.all())


async def contact_points_where(
    *, session: AsyncSession, person_ids: Select[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str, str]]]:
    """``contact_points_of`` for the people a query names (one query, no list of ids: the
    100,000-recipient path of a warning)."""
    found: dict[uuid.UUID, list[tuple[str, str]]] = {}
    rows = await session.execute(
        select(ContactPoint.person_id, ContactPoint.channel, ContactPoint.address)
        .where(ContactPoint.person_id.in_(person_ids.scalar_subquery()))
        .order_by(ContactPoint.person_id, ContactPoint.priority, ContactPoint.channel)
    )
    for person_id, channel, address in rows:
        found.setdefault(person_id, []).append((channel, address))
    return found
