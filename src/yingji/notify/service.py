"""In-app notifications: create (once per dedupe key), list, mark read."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock
from yingji.core.errors import NotFound
from yingji.notify.models import Notification


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
