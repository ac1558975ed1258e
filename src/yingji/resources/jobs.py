"""Stock alerts (库存预警) as timers: a batch about to expire and an item below its minimum tell
the warehouse's owning unit, once.

- ``resources.stock_watch`` runs every morning (07:00 local): it alerts each item below its
  minimum and schedules one ``resources.batch_expiring`` timer per batch that expires within
  the setting's days (``YINGJI_RESOURCE_EXPIRY_ALERT_DAYS``, 30 by default), keyed by the
  batch and its expiry date: a fired timer is the record that the batch was alerted, so a
  batch is alerted once (again only if its expiry date is corrected).
- ``resources.stock_check`` checks one item of one warehouse as soon as stock left it (an
  issue of supplies). An item is alerted once per fall below its minimum: ``alerted_at`` is set
  with a compare-and-set, and cleared when a refill brings it back to the minimum.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock, reasons, timers
from yingji.core.changes import record_change
from yingji.core.db import Database, rows_affected
from yingji.core.events import DomainEvent, EventScope
from yingji.core.timers import TimerFiring
from yingji.resources import allocation, flows
from yingji.resources.models import (
    Resource,
    ResourceKind,
    StockBatch,
    StockMinimum,
    SupplyItem,
)
from yingji.settings import get_settings

STOCK_WATCH_TIMER = "resources.stock_watch"
EXPIRY_TIMER = "resources.batch_expiring"
STOCK_CHECK_TIMER = allocation.STOCK_CHECK_TIMER
#: the morning hour (local) the daily watch runs
WATCH_AT = time(7, 0)


def _next_watch(after: datetime) -> datetime:
    local = after.astimezone(clock.LOCAL_TZ)
    moment = datetime.combine(local.date(), WATCH_AT, tzinfo=clock.LOCAL_TZ)
    if moment <= local:
        moment += timedelta(days=1)
    return moment.astimezone(UTC)


async def ensure_stock_watch(session: AsyncSession) -> None:
    """The daily watch is scheduled (the next morning) once there is a warehouse to watch,
    unless it already is: at start (reference data) and when a warehouse is added."""
    warehouse = await session.scalar(
        select(Resource.id).where(Resource.kind == ResourceKind.WAREHOUSE.value).limit(1)
    )
    if warehouse is None:
        return
    open_one = await session.scalar(
        select(func.count())
        .select_from(timers.Timer)
        .where(timers.Timer.kind == STOCK_WATCH_TIMER, timers.Timer.state.in_(timers.OPEN_STATES))
    )
    if not open_one:
        due = _next_watch(clock.now())
        await timers.schedule(
            session, kind=STOCK_WATCH_TIMER, subject="stock", key=due.isoformat(), due_at=due
        )


class WatchNewWarehouses:
    """A warehouse added (``resource.created``) starts the daily watch if it is not running;
    an event that says its resource is of another kind costs nothing."""

    name = "resources.watch_new_warehouses"
    types = ("resource.created",)

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(self, event: DomainEvent) -> None:
        said = event.payload.get("after") or event.payload.get("resource") or {}
        kind = said.get("kind") if isinstance(said, dict) else None
        if kind is not None and kind != ResourceKind.WAREHOUSE.value:
            return
        async with self.db.unit_of_work() as session:
            await ensure_stock_watch(session)


class CheckStockOnChange:
    """Stock received or corrected, or minimums set (the registry's events): the items they
    touch are checked against their minimums at once (a correction down may fall below one; a
    receipt that refills clears the last alert)."""

    name = "resources.check_stock_on_change"
    types = ("resource.stock.received", "resource.stock.corrected", "resource.minimums.set")

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(self, event: DomainEvent) -> None:
        after = event.payload.get("after") or {}
        pairs: list[tuple[str, str]] = []
        if event.type == "resource.minimums.set":
            pairs = [(event.subject_id, item) for item in after.get("minimums") or {}]
        elif after.get("warehouse_id") and after.get("item_id"):
            pairs = [(str(after["warehouse_id"]), str(after["item_id"]))]
        if not pairs:
            return
        async with self.db.unit_of_work() as session:
            for warehouse_id, item_id in pairs:
                await check_minimum(
                    session, warehouse_id=uuid.UUID(warehouse_id), item_id=uuid.UUID(item_id)
                )


async def watch_stock(session: AsyncSession, firing: TimerFiring) -> None:
    """The daily watch: below-minimum items alerted, expiring batches given their alert timer,
    and the next watch scheduled."""
    now = clock.now()
    soon = clock.now().astimezone(clock.LOCAL_TZ).date() + timedelta(
        days=get_settings().resource_expiry_alert_days
    )
    batches = (
        await session.execute(
            select(StockBatch.id, StockBatch.expires_on).where(
                StockBatch.quantity > 0,
                StockBatch.expires_on.is_not(None),
                StockBatch.expires_on <= soon,
            )
        )
    ).all()
    for batch_id, expires_on in batches:
        if expires_on is None:
            continue
        already = await session.scalar(
            select(func.count())
            .select_from(timers.Timer)
            .where(
                timers.Timer.kind == EXPIRY_TIMER,
                timers.Timer.subject == str(batch_id),
                timers.Timer.key == expires_on.isoformat(),
            )
        )
        if not already:
            await timers.schedule(
                session,
                kind=EXPIRY_TIMER,
                subject=batch_id,
                key=expires_on.isoformat(),
                due_at=now,
            )
    minima = (await session.execute(select(StockMinimum.warehouse_id, StockMinimum.item_id))).all()
    for warehouse_id, item_id in minima:
        await check_minimum(session, warehouse_id=warehouse_id, item_id=item_id)
    due = _next_watch(max(now, firing.due_at))
    await timers.schedule(
        session, kind=STOCK_WATCH_TIMER, subject="stock", key=due.isoformat(), due_at=due
    )


async def check_stock(session: AsyncSession, firing: TimerFiring) -> None:
    """``resources.stock_check``: one item of one warehouse, after stock left it."""
    await check_minimum(
        session, warehouse_id=uuid.UUID(firing.subject), item_id=uuid.UUID(firing.key)
    )


async def check_minimum(
    session: AsyncSession, *, warehouse_id: uuid.UUID, item_id: uuid.UUID
) -> bool:
    """Alert the owning unit if the item fell below its minimum and was not alerted since it
    last stood at or above it; returns whether an alert went out."""
    minimum = await session.scalar(
        select(StockMinimum).where(
            StockMinimum.warehouse_id == warehouse_id, StockMinimum.item_id == item_id
        )
    )
    if minimum is None:
        return False
    on_hand = int(
        await session.scalar(
            select(func.coalesce(func.sum(StockBatch.quantity), 0)).where(
                StockBatch.warehouse_id == warehouse_id, StockBatch.item_id == item_id
            )
        )
        or 0
    )
    if on_hand >= minimum.minimum:
        if minimum.alerted_at is not None:
            await session.execute(
                update(StockMinimum)
                .where(StockMinimum.id == minimum.id)
                .values(alerted_at=None, updated_at=clock.now())
            )
        return False
    claimed = await session.execute(
        update(StockMinimum)
        .where(StockMinimum.id == minimum.id, StockMinimum.alerted_at.is_(None))
        .values(alerted_at=clock.now(), updated_at=clock.now())
    )
    if not rows_affected(claimed):
        return False
    warehouse = await session.get(Resource, warehouse_id)
    item = await session.get(SupplyItem, item_id)
    if warehouse is None or item is None:
        return False
    await _alert(
        session,
        warehouse,
        action="resource.stock.below_minimum",
        why=reasons.reason(
            "stock.below_minimum",
            warehouse=warehouse.name,
            item=item.name,
            quantity=on_hand,
            minimum=minimum.minimum,
            unit=item.unit_of_measure,
        ),
        title=f"库存低于下限 {warehouse.name}",
        body=f"{item.name}：现有 {on_hand}{item.unit_of_measure}，下限 {minimum.minimum}"
        f"{item.unit_of_measure}",
        facts={"item_id": str(item.id), "quantity": on_hand, "minimum": minimum.minimum},
    )
    return True


async def alert_expiring(session: AsyncSession, firing: TimerFiring) -> None:
    """``resources.batch_expiring``: the batch is alerted, if it still holds stock and still
    expires on the date its timer was keyed by."""
    batch = await session.get(StockBatch, uuid.UUID(firing.subject))
    if batch is None or batch.quantity <= 0 or batch.expires_on is None:
        return
    if batch.expires_on.isoformat() != firing.key:
        return
    warehouse = await session.get(Resource, batch.warehouse_id)
    item = await session.get(SupplyItem, batch.item_id)
    if warehouse is None or item is None:
        return
    today = clock.now().astimezone(clock.LOCAL_TZ).date()
    days = (batch.expires_on - today).days
    await _alert(
        session,
        warehouse,
        action="resource.stock.expiring",
        why=reasons.reason(
            "stock.expiring",
            warehouse=warehouse.name,
            item=item.name,
            batch=batch.batch_no,
            quantity=batch.quantity,
            unit=item.unit_of_measure,
            expires_on=batch.expires_on.isoformat(),
            days=days,
        ),
        title=f"物资临期 {warehouse.name}",
        body=f"{item.name} 批次 {batch.batch_no}（{batch.quantity}{item.unit_of_measure}）"
        f"将于 {_day(batch.expires_on)} 到期",
        facts={
            "item_id": str(item.id),
            "batch_id": str(batch.id),
            "expires_on": batch.expires_on.isoformat(),
        },
    )


def _day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


async def _alert(
    session: AsyncSession,
    warehouse: Resource,
    *,
    action: str,
    why: reasons.Why,
    title: str,
    body: str,
    facts: dict[str, Any],
) -> None:
    """An alert about ``warehouse``: audit, event and a notice to its owning unit's people (to
    its division's desk when no one there has an account)."""
    people = await allocation.unit_people(session=session, resource=warehouse)
    if not people:
        people = await allocation.deciders_of(
            session=session, division_path=warehouse.division_path
        )
    units = tuple(str(u) for u in (warehouse.owner_unit_id,) if u is not None)
    after = {"warehouse_id": str(warehouse.id), "why": why, **facts}
    await record_change(
        session,
        action=action,
        subject_type="resource",
        subject_id=warehouse.id,
        before=None,
        after=after,
        audience=EventScope(division_path=warehouse.division_path, unit_ids=units),
        payload={
            "after": after,
            "why": why,
            "resource": {"id": str(warehouse.id), "name": warehouse.name},
            "notices": [
                {
                    "kind": action.rsplit(".", 1)[-1],
                    "title": title,
                    "body": body,
                    "user_ids": people,
                    "subject_type": "resource",
                    "subject_id": str(warehouse.id),
                    "said": {"why": why},
                }
            ]
            if people
            else [],
        },
    )


class TeamUnitMirror:
    """A rescue_team unit created or changed through org → its team row follows; the demo
    seeded (its units are written without events of their own) → every team unit its row."""

    name = "resources.team_unit_mirror"
    types = ("org.unit.created", "org.unit.updated", "org.demo_seeded")

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(self, event: DomainEvent) -> None:
        async with self.db.unit_of_work() as session:
            if event.type == "org.demo_seeded":
                await flows.ensure_team_rows(session)
            else:
                await flows.mirror_team_unit(session=session, unit_id=uuid.UUID(event.subject_id))
