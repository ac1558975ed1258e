"""申请 → 审批 → 出动 → 到场 → 归队 for teams, and 申请 → 审批 → 出库 → 签收 → 办结 for supplies,
through the API: promises by compare-and-set, earliest expiry first, forwarding to the level
above, the incident's timeline and allocations, notices, and who may do what."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.factories import deliver_events
from tests.resources.request_factories import (
    COUNTY,
    TOWN_A,
    batches,
    make_batch,
    make_world,
    open_incident,
    status_of,
)
from yingji.core.clock import ManualClock
from yingji.core.db import Database

API = "/api/v1/resource-requests"


@pytest.fixture
async def world(client: httpx.AsyncClient, db: Database) -> dict[str, Any]:
    return await make_world(client, db)


async def ask(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    answer = await client.post(API, headers=headers, json=body)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def step(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    request: dict[str, Any] | str,
    name: str,
    expect: int = 200,
    **body: Any,
) -> dict[str, Any]:
    request_id = request if isinstance(request, str) else request["id"]
    answer = await client.post(f"{API}/{request_id}/{name}", headers=headers, json=body or None)
    assert answer.status_code == expect, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def told(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (
        await client.get("/api/v1/notifications", headers=headers)
    ).json()["items"]
    return items


def today(clock: ManualClock) -> date:
    return clock.now().date()


async def test_a_team_goes_out_and_comes_back_on_the_incidents_timeline(
    client: httpx.AsyncClient, db: Database, world: dict[str, Any]
) -> None:
    incident = await open_incident(client, world["a_officer"], "flood-1")
    asked = await ask(
        client, world["a_officer"], target="unit", resource_id=world["team"], incident_id=incident
    )
    # the team is the county's: the county decides, not the town
    assert (asked["state"], asked["from_division_adcode"], asked["to_division_adcode"]) == (
        "requested",
        TOWN_A,
        COUNTY,
    )
    assert asked["actions"] == ["cancel"]
    await deliver_events(db)
    assert [n["kind"] for n in await told(client, world["county_cmd"])] == ["resource_request"]
    assert await told(client, world["a_leader"]) == []  # the town's desk does not decide it

    approved = await step(client, world["county_cmd"], asked, "approve", version=1)
    assert approved["state"] == "approved"
    assert [(a["state"], a["resource_id"]) for a in approved["allocations"]] == [
        ("held", world["team"])
    ]
    assert await status_of(db, world["team"]) == "deployed"
    await step(client, world["county_cmd"], asked, "dispatch")
    await step(client, world["a_officer"], asked, "arrive")
    back = await step(client, world["a_officer"], asked, "return")
    assert back["state"] == "returned"
    assert [a["state"] for a in back["allocations"]] == ["released"]
    assert await status_of(db, world["team"]) == "standby"

    timeline = (
        await client.get(f"/api/v1/incidents/{incident}/timeline", headers=world["a_officer"])
    ).json()
    codes = [e["code"] for e in timeline if e["code"].startswith("resource.")]
    assert codes == [
        "resource.request.created",
        "resource.request.approved",
        "resource.request.dispatched",
        "resource.request.arrived",
        "resource.request.returned",
    ]
    await deliver_events(db)
    team_told = [n["kind"] for n in await told(client, world["team_liaison"])]
    assert team_told.count("resource_allocation") == 3  # promised, sent, back
    assert "resource_request" in [n["kind"] for n in await told(client, world["a_officer"])]


async def test_a_team_is_never_promised_to_two_requests(
    client: httpx.AsyncClient, db: Database, world: dict[str, Any]
) -> None:
    first = await ask(client, world["county"], target="unit", resource_id=world["team"])
    second = await ask(client, world["county"], target="unit", resource_id=world["team"])
    await step(client, world["county_cmd"], first, "approve")
    refused = await client.post(f"{API}/{second['id']}/approve", headers=world["county_cmd"])
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert (error["code"], error["details"]["status"]) == ("resource_unavailable", "deployed")
    assert (await client.get(f"{API}/{second['id']}", headers=world["county"])).json()[
        "state"
    ] == "requested"
    # cancelling the first frees the team for the second
    await step(client, world["county"], first, "cancel")
    assert await status_of(db, world["team"]) == "standby"
    await step(client, world["county_cmd"], second, "approve")


async def test_supplies_are_reserved_earliest_expiry_first_and_issued_from_those_batches(
    client: httpx.AsyncClient, db: Database, world: dict[str, Any], clock: ManualClock
) -> None:
    store, tents = world["county_store"], world["tents"]
    day = today(clock)
    await make_batch(db, warehouse=store, item=tents, batch_no="LATE", quantity=60,
                     expires_on=day + timedelta(days=300))
    await make_batch(db, warehouse=store, item=tents, batch_no="SOON", quantity=50,
                     expires_on=day + timedelta(days=40))
    await make_batch(db, warehouse=store, item=tents, batch_no="GONE", quantity=100,
                     expires_on=day - timedelta(days=1))
    await make_batch(db, warehouse=store, item=tents, batch_no="UNDATED", quantity=10)
    asked = await ask(client, world["county"], target="supply", item_id=tents, quantity=80)
    approved = await step(client, world["county_cmd"], asked, "approve")
    assert approved["warehouse_id"] == store
    assert sorted((a["batch_no"], a["quantity"], a["state"]) for a in approved["allocations"]) == [
        ("LATE", 30, "held"),
        ("SOON", 50, "held"),
    ]
    assert await batches(db, store) == {
        "LATE": (60, 30),
        "SOON": (50, 50),
        "GONE": (100, 0),  # expired stock is never promised
        "UNDATED": (10, 0),
    }
    await step(client, world["county_cmd"], asked, "issue")
    assert (await batches(db, store))["SOON"] == (0, 0)
    assert (await batches(db, store))["LATE"] == (30, 0)
    await step(client, world["county"], asked, "receive")
    closed = await step(client, world["county"], asked, "close", returned_quantity=10)
    assert closed["state"] == "closed"
    assert {a["state"] for a in closed["allocations"]} == {"released"}
    # what came back unused went into the batch that expires last
    assert (await batches(db, store))["LATE"] == (40, 0)


async def test_what_cannot_be_promised_is_refused_with_what_is_left_and_nothing_changes(
    client: httpx.AsyncClient, db: Database, world: dict[str, Any]
) -> None:
    store, tents = world["county_store"], world["tents"]
    await make_batch(db, warehouse=store, item=tents, batch_no="B1", quantity=70)
    asked = await ask(
        client, world["county"], target="supply", item_id=tents, quantity=100, warehouse_id=store
    )
    refused = await client.post(f"{API}/{asked['id']}/approve", headers=world["county_cmd"])
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "insufficient_stock"
    assert (error["details"]["available"], error["details"]["requested"]) == (70, 100)
    assert await batches(db, store) == {"B1": (70, 0)}
    again = (await client.get(f"{API}/{asked['id']}", headers=world["county"])).json()
    assert (again["state"], again["allocations"], again["version"]) == ("requested", [], 1)


async def test_a_cancelled_promise_gives_its_reservation_back(
    client: httpx.AsyncClient, db: Database, world: dict[str, Any]
) -> None:
    store, tents = world["county_store"], world["tents"]
    await make_batch(db, warehouse=store, item=tents, batch_no="B1", quantity=100)
    asked = await ask(client, world["county"], target="supply", item_id=tents, quantity=100)
    await step(client, world["county_cmd"], asked, "approve")
    assert await batches(db, store) == {"B1": (100, 100)}
    cancelled = await step(client, world["county"], asked, "cancel", note="水退了")
    assert cancelled["state"] == "cancelled"
    assert cancelled["why"] == {
        "code": "request.noted",
        "params": {"step": "cancelled", "text": "水退了"},
    }
    assert await batches(db, store) == {"B1": (100, 0)}
    await step(client, world["county"], asked, "cancel", expect=409)
