"""Deliveries as rows: one outbound message, one delivery per recipient on its first channel (the
rest are its fallbacks), written with Core bulk inserts.

Minimal version written by the workflow part (issue 19, B) so publication is testable on its own
branch; the channels part (C) owns this module and its sender worker replaces it at merge. Only
the contract is here: ``DeliverySpec``, ``enqueue``, ``cancel_queued``, ``list_deliveries``,
``counts``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import JSON, Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock
from yingji.core.db import dialect_of, rows_affected
from yingji.core.ids import new_id
from yingji.notify.models import Delivery, DeliveryState, OutboundMessage

#: rows per INSERT statement (bounded parameters per statement on every dialect)
_CHUNK = 2000


@dataclass(frozen=True)
class DeliverySpec:
    """One recipient of a message: their ways to be reached in order (the first is tried)."""

    recipient_ref: str
    name: str
    channels: Sequence[tuple[str, str]]  # (channel, address)
    user_id: uuid.UUID | None = None
    ack_token: str | None = None
    step: int = 0


async def enqueue(
    session: AsyncSession,
    *,
    subject_type: str,
    subject_id: object,
    kind: str,
    content: Mapping[str, Any],
    scope_path: str | None,
    items: Sequence[DeliverySpec],
) -> uuid.UUID:
    """One OutboundMessage and one queued Delivery per item with a channel, due now; returns the
    message's id. ``scope_path`` is kept by the channels part (who sees the receipts)."""
    del scope_path  # the channels part's sender uses it; nothing to keep here
    now = clock.now()
    message_id = new_id()
    subject = str(subject_id)
    await session.execute(
        insert(OutboundMessage).values(
            id=message_id,
            subject_type=subject_type,
            subject_id=subject,
            kind=kind,
            content=dict(content),
            created_at=now,
        )
    )
    rows: list[dict[str, Any]] = [
        {
            "message_id": message_id,
            "subject_id": subject,
            "recipient_ref": item.recipient_ref,
            "step": item.step,
            "user_id": item.user_id,
            "name": item.name[:200],
            "channel": item.channels[0][0],
            "address": item.channels[0][1][:500],
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
    await _write(session, cast(Table, Delivery.__table__), rows)
    return message_id


async def _write(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """Rows in bulk: the driver's binary COPY on PostgreSQL, Core inserts elsewhere (the
    database gives the ids)."""
    if not rows:
        return
    if dialect_of(session) != "postgresql":
        for start in range(0, len(rows), _CHUNK):
            await session.execute(insert(table), rows[start : start + _CHUNK])
        return
    columns = list(rows[0])
    as_json = {c.name for c in table.columns if isinstance(c.type, JSON)}
    records = [
        tuple(json.dumps(row[c], ensure_ascii=False) if c in as_json else row[c] for c in columns)
        for row in rows
    ]
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection  # asyncpg's connection
    await driver.copy_records_to_table(table.name, records=records, columns=columns)


async def cancel_queued(
    session: AsyncSession, *, subject_id: object, recipient_ref: str | None = None
) -> int:
    """Cancel the deliveries of ``subject_id`` not yet sent (queued); returns how many."""
    stmt = update(Delivery).where(
        Delivery.subject_id == str(subject_id), Delivery.state == DeliveryState.QUEUED.value
    )
    if recipient_ref is not None:
        stmt = stmt.where(Delivery.recipient_ref == recipient_ref)
    result = await session.execute(
        stmt.values(state=DeliveryState.CANCELLED.value).execution_options(
            synchronize_session=False
        )
    )
    return rows_affected(result)


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    recipient_ref: str
    name: str
    channel: str
    address: str
    step: int
    state: str
    tries: int
    error: str | None
    created_at: Any
    sent_at: Any
    delivered_at: Any


async def list_deliveries(
    session: AsyncSession,
    *,
    subject_id: object,
    state: str | None = None,
    recipient_ref: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[DeliveryRow], int]:
    """A page of the deliveries of ``subject_id`` (oldest first) and how many there are."""
    where = [Delivery.subject_id == str(subject_id)]
    if state is not None:
        where.append(Delivery.state == state)
    if recipient_ref is not None:
        where.append(Delivery.recipient_ref == recipient_ref)
    total = int(await session.scalar(select(func.count(Delivery.id)).where(*where)) or 0)
    rows = await session.execute(
        select(
            Delivery.id,
            Delivery.recipient_ref,
            Delivery.name,
            Delivery.channel,
            Delivery.address,
            Delivery.step,
            Delivery.state,
            Delivery.tries,
            Delivery.error,
            Delivery.created_at,
            Delivery.sent_at,
            Delivery.delivered_at,
        )
        .where(*where)
        .order_by(Delivery.id)
        .offset(offset)
        .limit(limit)
    )
    return [DeliveryRow(**row._mapping) for row in rows], total


async def counts(session: AsyncSession, *, subject_id: object) -> dict[str, int]:
    """How many deliveries of ``subject_id`` are in each state."""
    rows = await session.execute(
        select(Delivery.state, func.count(Delivery.id))
        .where(Delivery.subject_id == str(subject_id))
        .group_by(Delivery.state)
    )
    return {state: int(n) for state, n in rows}
