"""Stock alerts through the timer worker under a ManualClock: a batch expiring within 30 days
and an item below its minimum tell the warehouse's owning unit, once (per batch, per fall)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.factories import bearer, deliver_events, make_county_with_two_towns
from tests.resources.request_factories import (
    COUNTY,
    make_batch,
    make_minimum,
    make_resource,
    make_world,
)
from yingji.core.changes import record_change
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.events import EventScope
from yingji.core.timers import PENDING, Timer, TimerWorker, handlers
from yingji.resources import jobs
from yingji.resources.models import StockBatch

API = "/api/v1/resource-requests"


@pytest.fixture
async def world(client: httpx.AsyncClient, db: Database) -> dict[str, Any]:
    made = await make_world(client, db)
    async with db.unit_of_work() as session:  # what a start does once there are warehouses
        await jobs.ensure_stock_watch(session)
    return made


async def next_watch(db: Database) -> datetime:
    """When the daily stock watch next runs."""
    async with db.unit_of_work(readonly=True) as session:
        due = await session.scalar(
            select(Timer.due_at).where(Timer.kind == jobs.STOCK_WATCH_TIMER, Timer.state == PENDING)
        )
    assert due is not None, "the stock watch is always scheduled"
    return due


async def run_timers(db: Database) -> None:
    worker = TimerWorker(db, handler_map=handlers())
    while await worker.run_due():
        pass


async def alerts(client: httpx.AsyncClient, username: str) -> list[dict[str, Any]]:
    """The stock alerts ``username`` was told of (signed in afresh: the clock moves on)."""
    headers = await bearer(client, username)
    items = (await client.get("/api/v1/notifications", headers=headers)).json()["items"]
    return [n for n in items if n["kind"] in ("expiring", "below_minimum")]


async def test_a_batch_expiring_within_30_days_alerts_the_owning_unit_once(
    client: httpx.AsyncClient, db: Database, world: dict[str, Any], clock: ManualClock
) -> None:
    morning = await next_watch(db)
    day = clock.now().date()
    store, tents = world["town_store"], world["tents"]
    await make_batch(
        db,
        warehouse=store,
        item=tents,
        batch_no="SOON",
        quantity=40,
        expires_on=day + timedelta(days=20),
    )
    await make_batch(
        db,
        warehouse=store,
        item=tents,
        batch_no="LATER",
        quantity=40,
        expires_on=day + timedelta(days=45),
    )
    clock.set(morning)
    await run_timers(db)
    await deliver_events(db)
    told = await alerts(client, "town_a")  # the liaison of the town's unit (the owner)
    assert [(n["kind"], n["title"]) for n in told] == [("expiring", "物资临期 甲镇仓库")]
    assert "SOON" in told[0]["body"]
    assert await alerts(client, "a_leader") == []  # its owner is told, not every desk

    # the next mornings: SOON is not told again; LATER is, once it comes within 30 days
    for _ in range(20):
        clock.set(await next_watch(db))
        await run_timers(db)
    await deliver_events(db)
    bodies = [n["body"] for n in await alerts(client, "town_a")]
    assert len(bodies) == 2
    assert sum("LATER" in b for b in bodies) == 1


async def test_stock_falling_below_its_minimum_alerts_once_per_fall(
    client: httpx.AsyncClient, db: Database, world: dict[str, Any], clock: ManualClock
) -> None:
    store, tents = world["town_store"], world["tents"]
    batch = await make_batch(db, warehouse=store, item=tents, batch_no="B1", quantity=150)
    await make_minimum(db, warehouse=store, item=tents, minimum=100)

    async def issue(quantity: int) -> None:
        body = {"target": "supply", "item_id": tents, "quantity": quantity}
        asker, decider = await bearer(client, "a_officer"), await bearer(client, "a_leader")
        asked = (await client.post(API, headers=asker, json=body)).json()
        for name in ("approve", "issue"):
            answer = await client.post(f"{API}/{asked['id']}/{name}", headers=decider)
            assert answer.status_code == 200, answer.text
        await run_timers(db)  # the check after stock left is due at once

    await issue(40)  # 110 left: not below
    await deliver_events(db)
    assert await alerts(client, "town_a") == []
    await issue(30)  # 80 left: below 100
    await issue(10)  # 70: still the same fall
    clock.set(await next_watch(db))
    await run_timers(db)  # the morning watch does not tell it again either
    await deliver_events(db)
    told = await alerts(client, "town_a")
    assert [(n["kind"], n["title"]) for n in told] == [("below_minimum", "库存低于下限 甲镇仓库")]
    assert "现有 80顶" in told[0]["body"]

    # a refill brings it back above; the next fall is a new one
    async with db.unit_of_work() as session:
        await session.execute(
            update(StockBatch).where(StockBatch.id == uuid.UUID(batch)).values(quantity=200)
        )
    clock.set(await next_watch(db))
    await run_timers(db)
    await issue(120)
    await deliver_events(db)
    assert len(await alerts(client, "town_a")) == 2


async def test_the_daily_watch_starts_with_the_first_warehouse(
    client: httpx.AsyncClient, db: Database
) -> None:
    """(``client``: the app is running, so its subscribers read the events from here on.)"""

    async def watches() -> int:
        async with db.unit_of_work(readonly=True) as session:
            found = await session.scalars(
                select(Timer.id).where(Timer.kind == jobs.STOCK_WATCH_TIMER)
            )
            return len(found.all())

    await make_county_with_two_towns(db)
    async with db.unit_of_work() as session:
        await jobs.ensure_stock_watch(session)  # no warehouse yet: nothing to watch
    assert await watches() == 0
    store = await make_resource(
        db, kind="warehouse", code="W1", division=COUNTY, status="open", name="县储备库"
    )
    async with db.unit_of_work() as session:
        await record_change(
            session,
            action="resource.created",
            subject_type="resource",
            subject_id=store,
            before=None,
            after={"kind": "warehouse", "name": "县储备库"},
            audience=EventScope(division_path="330000/331126/"),
        )
    await deliver_events(db)
    assert await watches() == 1
    await deliver_events(db)
    async with db.unit_of_work() as session:
        await jobs.ensure_stock_watch(session)
    assert await watches() == 1  # never two


async def test_a_stock_count_corrected_below_the_minimum_alerts_and_a_receipt_rearms_it(
    client: httpx.AsyncClient, db: Database, world: dict[str, Any]
) -> None:
    """Through the registry's stock routes: their events are checked against the minimums."""
    store, tents, desk = world["town_store"], world["tents"], world["county_cmd"]
    stock = f"/api/v1/resources/{store}/stock"
    received = await client.post(
        stock, headers=desk, json={"item_id": tents, "batch_no": "B1", "quantity": 150}
    )
    assert received.status_code == 201, received.text
    minimums = await client.put(
        f"/api/v1/resources/{store}/minimums",
        headers=desk,
        json={"items": [{"item_id": tents, "minimum": 100}]},
    )
    assert minimums.status_code == 200, minimums.text
    await deliver_events(db)
    assert await alerts(client, "town_a") == []  # 150 on hand, minimum 100

    async def count(batch: str, read: int, counted: int) -> None:
        answer = await client.patch(
            f"{stock}/{batch}",
            headers=desk,
            json={"quantity": counted, "expected_quantity": read, "reason": "damaged"},
        )
        assert answer.status_code == 200, answer.text
        await deliver_events(db)  # the check, whose alert event …
        await deliver_events(db)  # … is then delivered as notices

    await count(received.json()["id"], 150, 60)
    assert [n["kind"] for n in await alerts(client, "town_a")] == ["below_minimum"]
    await count(received.json()["id"], 60, 50)  # the same fall
    assert len(await alerts(client, "town_a")) == 1
    refill = await client.post(
        stock, headers=desk, json={"item_id": tents, "batch_no": "B2", "quantity": 100}
    )
    assert refill.status_code == 201, refill.text
    await deliver_events(db)
    await count(refill.json()["id"], 100, 10)  # 60 on hand: a new fall
    assert len(await alerts(client, "town_a")) == 2
