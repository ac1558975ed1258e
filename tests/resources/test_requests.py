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
    early = await client.post(f"{API}/{asked['id']}/arrive", headers=world["a_officer"])
    assert (early.status_code, early.json()["error"]["code"]) == (409, "request_invalid_transition")
    wrong = await client.post(f"{API}/{asked['id']}/issue", headers=world["county_cmd"])
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (409, "step_not_for_target")
    await step(client, world["a_officer"], asked, "dispatch", expect=403)  # the asker's desk
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
    audit = (
        await client.get(
            "/api/v1/audit",
            headers=world["a_leader"],  # the asking town's desk reads its request's trail
            params={"subject_type": "resource_request", "subject_id": asked["id"]},
        )
    ).json()
    assert sorted(e["action"] for e in audit["items"]) == sorted(
        f"resource.request.{s}"
        for s in ("created", "approved", "dispatched", "arrived", "returned")
    )
    # the team's people read the request their notices link to; another town's desk does not
    url = f"{API}/{asked['id']}"
    assert (await client.get(url, headers=world["team_liaison"])).json()["state"] == "returned"
    assert (await client.get(url, headers=world["b_leader"])).status_code == 404
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
    await make_batch(
        db,
        warehouse=store,
        item=tents,
        batch_no="LATE",
        quantity=60,
        expires_on=day + timedelta(days=300),
    )
    await make_batch(
        db,
        warehouse=store,
        item=tents,
        batch_no="SOON",
        quantity=50,
        expires_on=day + timedelta(days=40),
    )
    await make_batch(
        db,
        warehouse=store,
        item=tents,
        batch_no="GONE",
        quantity=100,
        expires_on=day - timedelta(days=1),
    )
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


async def test_a_request_the_town_cannot_meet_goes_to_the_county_and_follows_its_outcome(
    client: httpx.AsyncClient, db: Database, world: dict[str, Any]
) -> None:
    store, tents = world["county_store"], world["tents"]
    await make_batch(db, warehouse=store, item=tents, batch_no="C1", quantity=500)
    incident = await open_incident(client, world["a_officer"], "flood-2")
    asked = await ask(
        client,
        world["a_officer"],
        target="supply",
        item_id=tents,
        quantity=200,
        incident_id=incident,
    )
    assert asked["to_division_adcode"] == TOWN_A  # the town's own desk decides first
    # the town holds no tents: its desk cannot promise them
    refused = await client.post(f"{API}/{asked['id']}/approve", headers=world["a_leader"])
    assert refused.json()["error"]["code"] == "insufficient_stock"
    upward = await step(client, world["a_leader"], asked, "forward", expect=201, note="本镇无库存")
    assert (upward["from_division_adcode"], upward["to_division_adcode"]) == (TOWN_A, COUNTY)
    assert upward["forwarded_from_id"] == asked["id"]
    original = (await client.get(f"{API}/{asked['id']}", headers=world["a_officer"])).json()
    assert (original["state"], original["forwarded_to_id"]) == ("forwarded", upward["id"])
    assert original["why"]["code"] == "request.forwarded"
    # the county's desk sees it coming in; the town's desk cannot decide it
    incoming = (
        await client.get(API, headers=world["county_cmd"], params={"direction": "incoming"})
    ).json()
    assert upward["id"] in [r["id"] for r in incoming["items"]]
    await step(client, world["a_leader"], upward, "approve", expect=403)
    await step(client, world["a_leader"], asked, "approve", expect=409)  # forwarded

    await step(client, world["county_cmd"], upward, "approve")
    original = (await client.get(f"{API}/{asked['id']}", headers=world["a_officer"])).json()
    assert (original["state"], original["warehouse_id"]) == ("approved", store)
    assert original["actions"] == ["cancel"]
    assert (await client.get(f"{API}/{upward['id']}", headers=world["county_cmd"])).json()[
        "actions"
    ] == ["issue", "cancel"]
    # issued by the county on the town's request: taken on the county's, which holds the tents
    await step(client, world["a_leader"], asked, "issue", expect=403)  # not the town's to give
    await step(client, world["county_cmd"], asked, "issue")
    # the town receives on its own request; the step lands on the county's, which holds the tents
    received = await step(client, world["a_officer"], asked, "receive")
    assert received["state"] == "received"
    assert (await client.get(f"{API}/{upward['id']}", headers=world["county_cmd"])).json()[
        "state"
    ] == "received"
    assert await batches(db, store) == {"C1": (300, 0)}
    await deliver_events(db)
    kinds_told = [n["title"][:4] for n in await told(client, world["a_officer"])]
    assert any(t.startswith("审批通过") for t in kinds_told)


async def test_the_last_level_has_no_one_above_to_forward_to(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    asked = await ask(
        client, world["prov_cmd"], target="supply", item_id=world["tents"], quantity=5
    )
    refused = await client.post(f"{API}/{asked['id']}/forward", headers=world["prov_cmd"])
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "no_division_above")


async def test_who_may_ask_decide_and_read_a_request(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    body = {"target": "supply", "item_id": world["tents"], "quantity": 10}
    # a unit's liaison holds no resource.request
    denied = await client.post(API, headers=world["town_a"], json=body)
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "permission_denied")
    asked = await ask(client, world["a_officer"], **body)
    # a duty officer asks but does not decide
    await step(client, world["a_officer"], asked, "approve", expect=403)
    # the town's duty leader decides; the county commander (above) may too
    assert (
        "approve"
        in (await client.get(f"{API}/{asked['id']}", headers=world["a_leader"])).json()["actions"]
    )
    # another town's desk neither reads nor decides it
    assert (await client.get(f"{API}/{asked['id']}", headers=world["b_leader"])).status_code == 404
    await step(client, world["b_leader"], asked, "reject", expect=404)
    listed = (await client.get(API, headers=world["b_leader"])).json()
    assert listed == {"items": [], "total": 0}
    rejected = await step(client, world["a_leader"], asked, "reject", reason="不需要")
    assert rejected["why"] == {"code": "request.rejected", "params": {"text": "不需要"}}
    assert rejected["actions"] == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"target": "supply", "quantity": 0}, 422, "validation_failed"),
        ({"target": "supply", "quantity": 1_000_001}, 422, "validation_failed"),
        ({"target": "unit"}, 422, "resource_required"),
        ({"target": "unit", "kind": "warehouse"}, 422, "validation_failed"),
        ({"target": "supply", "quantity": 3}, 422, "item_required"),
        (
            {"target": "supply", "item_id": "00000000-0000-0000-0000-000000000001"},
            404,
            "item_not_found",
        ),
        (
            {"target": "unit", "resource_id": "00000000-0000-0000-0000-000000000001"},
            404,
            "resource_not_found",
        ),
        ({"target": "unit", "note": "x" * 2001, "kind": "expert"}, 422, "validation_failed"),
        ({"target": "unit", "kind": "expert", "lon": 200}, 422, "validation_failed"),
        ({"target": "unit", "kind": "expert", "lon": 119.0}, 422, "validation_failed"),
        ({"target": "unit", "kind": "expert", "surprise": 1}, 422, "validation_failed"),
    ],
)
async def test_a_bad_request_is_refused_with_a_code_and_nothing_is_stored(
    client: httpx.AsyncClient,
    world: dict[str, Any],
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    answer = await client.post(API, headers=world["county"], json=body)
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    assert (await client.get(API, headers=world["admin"])).json()["total"] == 0


async def test_a_warehouse_is_not_requested_whole(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    answer = await client.post(
        API, headers=world["county"], json={"target": "unit", "resource_id": world["county_store"]}
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "not_requestable")


async def test_an_incidents_allocations_show_what_is_promised_and_out_with_places(
    client: httpx.AsyncClient, db: Database, world: dict[str, Any]
) -> None:
    store, tents = world["county_store"], world["tents"]
    await make_batch(db, warehouse=store, item=tents, batch_no="C1", quantity=50)
    incident = await open_incident(client, world["a_officer"], "flood-3")
    team = await ask(
        client, world["a_officer"], target="unit", resource_id=world["team"], incident_id=incident
    )
    supplies = await ask(
        client,
        world["a_officer"],
        target="supply",
        item_id=tents,
        quantity=20,
        warehouse_id=store,
        incident_id=incident,
    )
    await ask(client, world["a_officer"], target="unit", kind="expert", incident_id=incident)
    await step(client, world["county_cmd"], team, "approve")
    await step(client, world["county_cmd"], team, "dispatch")
    await step(client, world["county_cmd"], supplies, "approve")
    url = f"/api/v1/incidents/{incident}/allocations"
    held = (await client.get(url, headers=world["a_officer"])).json()
    by_target = {a["target"]: a for a in held}
    assert set(by_target) == {"unit", "supply"}  # the expert is not promised yet
    assert by_target["unit"]["state"] == "out"
    assert by_target["unit"]["resource"]["name"] == "县水上救援队"
    assert (by_target["unit"]["resource"]["lon"], by_target["unit"]["lat"]) == (119.1, 27.55)
    assert (by_target["supply"]["state"], by_target["supply"]["quantity"]) == ("held", 20)
    assert by_target["supply"]["warehouse"]["name"] == "县储备库"
    assert by_target["supply"]["item_name"] == "帐篷"
    await step(client, world["a_officer"], team, "return")
    assert len((await client.get(url, headers=world["a_officer"])).json()) == 1
    assert (
        len((await client.get(url, headers=world["a_officer"], params={"released": True})).json())
        == 2
    )
    # another town reads neither the incident nor its allocations
    assert (await client.get(url, headers=world["b_leader"])).status_code == 404


async def test_a_team_set_back_to_standby_by_hand_is_still_not_promised_twice(
    client: httpx.AsyncClient, db: Database, world: dict[str, Any]
) -> None:
    first = await ask(client, world["county"], target="unit", resource_id=world["team"])
    second = await ask(client, world["county"], target="unit", resource_id=world["team"])
    await step(client, world["county_cmd"], first, "approve")
    team = (await client.get(f"/api/v1/resources/{world['team']}", headers=world["admin"])).json()
    edited = await client.patch(
        f"/api/v1/resources/{world['team']}",
        headers=world["admin"],
        json={"status": "standby", "version": team["version"]},
    )
    assert edited.status_code == 200, edited.text
    refused = await client.post(f"{API}/{second['id']}/approve", headers=world["county_cmd"])
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "resource_unavailable")
