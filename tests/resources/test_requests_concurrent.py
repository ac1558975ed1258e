"""The last 100 tents are promised once: two deciders approving at the same moment, one gets
them, the other is told what is left (``insufficient_stock``, ``params.available``). Run on
SQLite and, with ``YINGJI_TEST_DATABASE_URL``, on PostgreSQL with two connections."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.factories import bearer, make_user
from tests.resources.request_factories import (
    COUNTY,
    batches,
    make_batch,
    make_world,
    status_of,
)
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.errors import Conflict
from yingji.org import service as org
from yingji.resources import allocation

API = "/api/v1/resource-requests"


@pytest.fixture
async def world(client: httpx.AsyncClient, db: Database) -> dict[str, Any]:
    made = await make_world(client, db)
    await make_user(db, "county_leader", roles=["duty_leader"], division=COUNTY)
    made["county_leader"] = await bearer(client, "county_leader")
    return made


async def two_requests(client: httpx.AsyncClient, world: dict[str, Any], **body: Any) -> list[str]:
    ids = []
    for _ in range(2):
        answer = await client.post(API, headers=world["county"], json=body)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    return ids


async def test_two_deciders_approving_the_last_100_tents_at_once_promise_them_once(
    client: httpx.AsyncClient, db: Database, world: dict[str, Any]
) -> None:
    store, tents = world["county_store"], world["tents"]
    await make_batch(db, warehouse=store, item=tents, batch_no="LAST", quantity=100)
    first, second = await two_requests(
        client, world, target="supply", item_id=tents, quantity=100, warehouse_id=store
    )
    answers = await asyncio.gather(
        client.post(f"{API}/{first}/approve", headers=world["county_cmd"]),
        client.post(f"{API}/{second}/approve", headers=world["county_leader"]),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    refused = next(a for a in answers if a.status_code == 409).json()["error"]
    assert refused["code"] == "insufficient_stock"
    assert refused["details"]["available"] == 0
    assert await batches(db, store) == {"LAST": (100, 100)}


async def test_a_reservation_waiting_on_anothers_is_refused_once_that_one_commits(
    db: Database, world: dict[str, Any]
) -> None:
    """The interleaving forced: both read 100 free before either writes; the second's
    compare-and-set finds the batch taken (PostgreSQL: it waits for the first's row lock, then
    matches nothing) and it reads again, so it never promises the same tents."""
    store, tents = world["county_store"], world["tents"]
    await make_batch(db, warehouse=store, item=tents, batch_no="LAST", quantity=100)
    async with db.unit_of_work() as session:
        cmd = await org.get_user_by_username(session=session, username="county_cmd")
        assert cmd is not None
        principal = await org.principal_for_user(session=session, user=cmd)
    ids = []
    async with db.unit_of_work() as session:
        for _ in range(2):
            made = await allocation.create_request(
                session=session,
                principal=principal,
                draft=allocation.RequestDraft(
                    target="supply", item_id=uuid.UUID(tents), quantity=100
                ),
            )
            ids.append(made.id)
    first_in = asyncio.Event()
    outcome: dict[str, Any] = {}

    async def approve_first() -> None:
        async with db.unit_of_work() as session:
            await allocation.approve(
                session=session,
                principal=principal,
                request_id=ids[0],
                approval=allocation.Approval(warehouse_id=uuid.UUID(store)),
            )
            first_in.set()
            await asyncio.sleep(0.3)  # the second is reading and waiting meanwhile
        outcome["first"] = "committed"

    async def approve_second() -> None:
        await first_in.wait()
        try:
            async with db.unit_of_work() as session:
                await allocation.approve(
                    session=session,
                    principal=principal,
                    request_id=ids[1],
                    approval=allocation.Approval(warehouse_id=uuid.UUID(store)),
                )
        except Conflict as refused:
            outcome["second"] = (refused.code, refused.details["available"])

    await asyncio.gather(approve_first(), approve_second())
    assert outcome == {"first": "committed", "second": ("insufficient_stock", 0)}
    assert await batches(db, store) == {"LAST": (100, 100)}


async def test_two_deciders_sending_the_same_team_at_once_send_it_once(
    client: httpx.AsyncClient, db: Database, world: dict[str, Any]
) -> None:
    first, second = await two_requests(client, world, target="unit", resource_id=world["team"])
    answers = await asyncio.gather(
        client.post(f"{API}/{first}/approve", headers=world["county_cmd"]),
        client.post(f"{API}/{second}/approve", headers=world["county_leader"]),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    refused = next(a for a in answers if a.status_code == 409).json()["error"]
    assert refused["code"] == "resource_unavailable"
    assert await status_of(db, world["team"]) == "deployed"


async def test_ten_deciders_at_once_for_20_tents_each_from_100_in_three_batches_promise_five(
    client: httpx.AsyncClient, db: Database, world: dict[str, Any], clock: ManualClock
) -> None:
    store, tents = world["county_store"], world["tents"]
    day = clock.now().date()
    for number, quantity, days in (("A", 30, 10), ("B", 30, 20), ("C", 40, 30)):
        await make_batch(
            db,
            warehouse=store,
            item=tents,
            batch_no=number,
            quantity=quantity,
            expires_on=day + timedelta(days=days),
        )
    ids = []
    for _ in range(10):
        answer = await client.post(
            API,
            headers=world["county"],
            json={"target": "supply", "item_id": tents, "quantity": 20},
        )
        ids.append(answer.json()["id"])
    deciders = [world["county_cmd"], world["county_leader"]]
    answers = await asyncio.gather(
        *(
            client.post(f"{API}/{request_id}/approve", headers=deciders[i % 2])
            for i, request_id in enumerate(ids)
        )
    )
    codes = sorted(
        "promised" if a.status_code == 200 else a.json()["error"]["code"] for a in answers
    )
    assert codes == ["insufficient_stock"] * 5 + ["promised"] * 5
    assert await batches(db, store) == {"A": (30, 30), "B": (30, 30), "C": (40, 40)}
