"""Supplies through the HTTP API: the catalogue, batches received into a warehouse, counts
corrected with a reason at the quantity read, minimums, and per-item totals."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select, update

from tests.factories import bearer, make_user
from tests.resources.test_registry_api import TOWN_A, TOWN_B, create, make_desks, warehouse
from yingji.core.audit import AuditEntry
from yingji.core.db import Database
from yingji.resources.models import StockBatch


async def item(
    client: httpx.AsyncClient, headers: dict[str, str], code: str, name: str, unit: str = "顶"
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/supply-items",
        headers=headers,
        json={"code": code, "name": name, "unit_of_measure": unit, "category": "生活类"},
    )
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def receive(
    client: httpx.AsyncClient, headers: dict[str, str], warehouse_id: str, **body: Any
) -> httpx.Response:
    return await client.post(f"/api/v1/resources/{warehouse_id}/stock", headers=headers, json=body)


async def test_the_catalogue_is_kept_by_the_desk_and_read_by_everyone(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    cmd = await bearer(client, "cmd")
    tent = await item(client, cmd, "TENT", "帐篷")
    await item(client, cmd, "JACKET", "救生衣", "件")
    taken = await client.post(
        "/api/v1/supply-items",
        headers=cmd,
        json={"code": "TENT", "name": "又一个帐篷", "unit_of_measure": "顶"},
    )
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "item_exists"
    for username in ("county", "town_a"):
        refused = await client.post(
            "/api/v1/supply-items",
            headers=await bearer(client, username),
            json={"code": "X", "name": "x", "unit_of_measure": "个"},
        )
        assert refused.status_code == 403, username
    for bad in ({"code": "has space"}, {"unit_of_measure": ""}, {"name": "x" * 201}):
        body = {"code": "OK", "name": "好", "unit_of_measure": "个", **bad}
        assert (
            await client.post("/api/v1/supply-items", headers=cmd, json=body)
        ).status_code == 422
    liaison = await bearer(client, "town_a")
    listed = (await client.get("/api/v1/supply-items?q=帐", headers=liaison)).json()
    assert listed == {"items": [{**tent}], "total": 1}
    assert (await client.get("/api/v1/supply-items", headers=liaison)).json()["total"] == 2


async def test_received_batches_add_up_per_item_with_reserved_and_minimum(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    cmd = await bearer(client, "cmd")
    wh = await create(client, cmd, warehouse())
    tent = await item(client, cmd, "TENT", "帐篷")
    water = await item(client, cmd, "WATER", "饮用水", "箱")
    late = await receive(
        client,
        cmd,
        wh["id"],
        item_id=tent["id"],
        batch_no="B2",
        quantity=60,
        expires_on="2028-01-01",
    )
    assert late.status_code == 201, late.text
    early = await receive(
        client,
        cmd,
        wh["id"],
        item_id=tent["id"],
        batch_no="B1",
        quantity=40,
        expires_on="2027-01-01",
    )
    assert early.json()["available"] == 40
    again = await receive(client, cmd, wh["id"], item_id=tent["id"], batch_no="B1", quantity=5)
    assert again.status_code == 409 and again.json()["error"]["code"] == "batch_exists"
    async with db.unit_of_work() as session:
        await session.execute(
            update(StockBatch).where(StockBatch.batch_no == "B1").values(reserved=30)
        )
    minimums = await client.put(
        f"/api/v1/resources/{wh['id']}/minimums",
        headers=cmd,
        json={
            "items": [
                {"item_id": tent["id"], "minimum": 50},
                {"item_id": water["id"], "minimum": 10},
            ]
        },
    )
    assert minimums.status_code == 200, minimums.text
    stock = (await client.get(f"/api/v1/resources/{wh['id']}/stock", headers=cmd)).json()
    assert [(b["batch_no"], b["available"]) for b in stock["batches"]] == [("B1", 10), ("B2", 60)]
    totals = {t["item"]["code"]: t for t in stock["totals"]}
    assert {k: v for k, v in totals["TENT"].items() if k != "item"} == {
        "quantity": 100,
        "reserved": 30,
        "available": 70,
        "minimum": 50,
        "below_minimum": False,
    }
    assert totals["WATER"]["quantity"] == 0 and totals["WATER"]["below_minimum"] is True
    replaced = await client.put(
        f"/api/v1/resources/{wh['id']}/minimums",
        headers=cmd,
        json={"items": [{"item_id": tent["id"], "minimum": 120}]},
    )
    totals = {t["item"]["code"]: t for t in replaced.json()["totals"]}
    assert set(totals) == {"TENT"} and totals["TENT"]["below_minimum"] is True
    unknown = await client.put(
        f"/api/v1/resources/{wh['id']}/minimums",
        headers=cmd,
        json={"items": [{"item_id": str(uuid.uuid4()), "minimum": 1}]},
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "item_not_found"
    for bad in ({"quantity": 0}, {"quantity": -1}, {"batch_no": ""}, {"expires_on": "soon"}):
        body = {"item_id": tent["id"], "batch_no": "B9", "quantity": 1, **bad}
        assert (await receive(client, cmd, wh["id"], **body)).status_code == 422, bad
    ghost = await receive(
        client, cmd, wh["id"], item_id=str(uuid.uuid4()), batch_no="B9", quantity=1
    )
    assert ghost.status_code == 422 and ghost.json()["error"]["code"] == "item_not_found"


async def test_a_count_is_corrected_at_the_quantity_read_and_never_below_what_is_promised(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    cmd = await bearer(client, "cmd")
    wh = await create(client, cmd, warehouse())
    tent = await item(client, cmd, "TENT", "帐篷")
    batch = (
        await receive(client, cmd, wh["id"], item_id=tent["id"], batch_no="B1", quantity=100)
    ).json()
    url = f"/api/v1/resources/{wh['id']}/stock/{batch['id']}"
    counted = await client.patch(
        url,
        headers=cmd,
        json={"quantity": 97, "expected_quantity": 100, "reason": "stocktake", "note": "月度盘点"},
    )
    assert counted.status_code == 200, counted.text
    assert counted.json()["quantity"] == 97
    stale = await client.patch(
        url, headers=cmd, json={"quantity": 90, "expected_quantity": 100, "reason": "damaged"}
    )
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_quantity"
    assert stale.json()["error"]["details"]["quantity"] == 97
    async with db.unit_of_work() as session:
        await session.execute(update(StockBatch).values(reserved=50))
    below = await client.patch(
        url, headers=cmd, json={"quantity": 40, "expected_quantity": 97, "reason": "lost"}
    )
    assert below.status_code == 409 and below.json()["error"]["code"] == "below_reserved"
    assert below.json()["error"]["details"]["reserved"] == 50
    no_reason = await client.patch(url, headers=cmd, json={"quantity": 96, "expected_quantity": 97})
    assert no_reason.status_code == 422
    odd_reason = await client.patch(
        url, headers=cmd, json={"quantity": 96, "expected_quantity": 97, "reason": "magic"}
    )
    assert odd_reason.status_code == 422
    officer = await bearer(client, "county")
    refused = await client.patch(
        url, headers=officer, json={"quantity": 96, "expected_quantity": 97, "reason": "found"}
    )
    assert refused.status_code == 403
    async with db.unit_of_work(readonly=True) as session:
        quantity = await session.scalar(select(StockBatch.quantity))
        corrected = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "resource.stock.corrected")
            )
        ).all()
    assert quantity == 97
    assert len(corrected) == 1
    assert corrected[0].before is not None and corrected[0].before["quantity"] == 100
    assert corrected[0].after is not None
    assert corrected[0].after["quantity"] == 97 and corrected[0].after["reason"] == "stocktake"


async def test_stock_belongs_to_warehouses_in_ones_own_jurisdiction(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    cmd = await bearer(client, "cmd")
    theirs = await create(client, cmd, warehouse("WH-B", TOWN_B))
    tent = await item(client, cmd, "TENT", "帐篷")
    batch = (
        await receive(client, cmd, theirs["id"], item_id=tent["id"], batch_no="B1", quantity=10)
    ).json()
    leader_a = await bearer(client, "leader_a")
    base = f"/api/v1/resources/{theirs['id']}"
    assert (await client.get(f"{base}/stock", headers=leader_a)).status_code == 404
    hidden = await receive(
        client, leader_a, theirs["id"], item_id=tent["id"], batch_no="B2", quantity=1
    )
    assert hidden.status_code == 404
    hidden = await client.patch(
        f"{base}/stock/{batch['id']}",
        headers=leader_a,
        json={"quantity": 1, "expected_quantity": 10, "reason": "lost"},
    )
    assert hidden.status_code == 404
    hidden = await client.put(f"{base}/minimums", headers=leader_a, json={"items": []})
    assert hidden.status_code == 404
    expert = await create(
        client,
        cmd,
        {
            "kind": "expert",
            "code": "EX-1",
            "name": "李工",
            "division_adcode": TOWN_B,
            "attrs": {"specialties": ["flood"]},
        },
    )
    not_stocked = await client.get(f"/api/v1/resources/{expert['id']}/stock", headers=cmd)
    assert not_stocked.status_code == 422
    assert not_stocked.json()["error"]["code"] == "not_a_warehouse"
    not_stocked = await receive(
        client, cmd, expert["id"], item_id=tent["id"], batch_no="B", quantity=1
    )
    assert not_stocked.json()["error"]["code"] == "not_a_warehouse"
    cmd_b = await bearer(client, "cmd_b")
    stock = (await client.get(f"{base}/stock", headers=cmd_b)).json()
    assert [t["quantity"] for t in stock["totals"]] == [10]


async def test_stock_is_kept_by_the_desk_roles_and_refused_to_the_others(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    await make_user(db, "officer_a", roles=["duty_officer"], division=TOWN_A)
    leader_a = await bearer(client, "leader_a")
    wh = await create(client, leader_a, warehouse())
    tent = await item(client, leader_a, "TENT", "帐篷")
    received = await receive(
        client, leader_a, wh["id"], item_id=tent["id"], batch_no="B1", quantity=5
    )
    assert received.status_code == 201
    for username in ("officer_a", "town_a"):
        other = await bearer(client, username)
        refused = await receive(
            client, other, wh["id"], item_id=tent["id"], batch_no="B2", quantity=1
        )
        assert refused.status_code == 403, username
        refused = await client.put(
            f"/api/v1/resources/{wh['id']}/minimums",
            headers=other,
            json={"items": [{"item_id": tent["id"], "minimum": 1}]},
        )
        assert refused.status_code == 403, username
        readable = await client.get(f"/api/v1/resources/{wh['id']}/stock", headers=other)
        assert readable.status_code == 200, username
        assert [t["quantity"] for t in readable.json()["totals"]] == [5]
