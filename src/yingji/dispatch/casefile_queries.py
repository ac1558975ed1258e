"""What the case file (``archive``) reads from dispatch in one query: the feedback of many
orders. Read-only."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.dispatch.models import Feedback


async def feedback_of_orders(
    *, session: AsyncSession, order_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[Feedback]]:
    """The feedback of each of ``order_ids`` (every id present), oldest first."""
    found: dict[uuid.UUID, list[Feedback]] = {i: [] for i in order_ids}
    if not found:
        return found
    rows = await session.scalars(
        select(Feedback)
        .where(Feedback.order_id.in_(list(found)))
        .order_by(Feedback.at, Feedback.id)
    )
    for row in rows.all():
        found[row.order_id].append(row)
    return found
