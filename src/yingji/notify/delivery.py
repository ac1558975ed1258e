"""Deliveries recorded for sending (the contract of issue 19's channels part).

MINIMAL CONTRACT VERSION, written by the 叫应 part so its tests run: ``enqueue`` records one
outbound message and one queued delivery per recipient (the first channel; the rest are the
fallbacks) in bulk; ``cancel_queued``, ``list_deliveries`` and ``counts`` read and stop them. The
channels part's module (sender worker, retries, fallbacks, receipts) replaces this file at merge
with the same signatures.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock
from yingji.core.db import rows_affected
from yingji.core.ids import new_id
from yingji.notify.models import Delivery, DeliveryState, OutboundMessage


@dataclass(frozen=True)
class DeliverySpec:
    """One recipient of a message: their ways to be reached in order (channel, address)."""

    recipient_ref: str
    name: str
    channels: Sequence[tuple[str, str]]
    user_id: uuid.UUID | None = None
    ack_token: str | None = None
    step: int = 0


async def enqueue(
    session: AsyncSession,
    *,
    subject_type: str,
    subject_id: object,
    kind: str,
    content: dict[str, Any],
    scope_path: str | None,  # noqa: ARG001 - the channels part's sender reads it
    items: Sequence[DeliverySpec],
) -> uuid.UUID:
    """One outbound message and one queued delivery per item with a channel (bulk insert)."""
    now = clock.now()
    message_id = new_id()
    await session.execute(
        insert(OutboundMessage).values(
            id=message_id,
            subject_type=subject_type,
            subject_id=str(subject_id),
            kind=kind,
            content=content,
            created_at=now,
        )
    )
    rows: list[dict[str, Any]] = [
        {
            "message_id": message_id,
            "subject_id": str(subject_id),
            "recipient_ref": item.recipient_ref,
            "step": item.step,
            "user_id": item.user_id,
            "name": item.name,
            "channel": item.channels[0][0],
            "address": item.channels[0][1],
            "fallbacks": [{"channel": c, "address": a} for c, a in item.channels[1:]],
            "ack_token": item.ack_token,
            "state": DeliveryState.QUEUED.value,
            "tries": 0,
            "due_at": now,
            "receipt": {},
            "created_at": now,
        }
        for item in items
        if item.channels
    ]
    if rows:
        await session.execute(insert(Delivery), rows)
    return message_id


async def cancel_queued(
    session: AsyncSession, *, subject_id: object, recipient_ref: str | None = None
) -> int:
    """Queued deliveries of the subject (or of one recipient of it) cancelled; how many."""
    stmt = update(Delivery).where(
        Delivery.subject_id == str(subject_id), Delivery.state == DeliveryState.QUEUED.value
    )
    if recipient_ref is not None:
        stmt = stmt.where(Delivery.recipient_ref == recipient_ref)
    result = await session.execute(stmt.values(state=DeliveryState.CANCELLED.value))
    return rows_affected(result)


async def list_deliveries(
    session: AsyncSession,
    *,
    subject_id: object,
    state: str | None = None,
    recipient_ref: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[Delivery], int]:
    """The subject's deliveries (oldest first) and how many match."""
    stmt = select(Delivery).where(Delivery.subject_id == str(subject_id))
    if state is not None:
        stmt = stmt.where(Delivery.state == state)
    if recipient_ref is not None:
        stmt = stmt.where(Delivery.recipient_ref == recipient_ref)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.scalars(stmt.order_by(Delivery.id).offset(offset).limit(limit))
    return list(rows.all()), total


async def counts(session: AsyncSession, *, subject_id: object) -> dict[str, int]:
    """How many of the subject's deliveries are in each state."""
    rows = await session.execute(
        select(Delivery.state, func.count())
        .where(Delivery.subject_id == str(subject_id))
        .group_by(Delivery.state)
    )
    return {state: int(n) for state, n in rows}
