"""单位待办 and 督办看板 through the API: a unit sees the incident it is ordered to, even outside
its own area; the supervision board carries the reminders already sent."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.dispatch.test_order_flows import act, dispatched, world  # noqa: F401 (fixture)
from yingji.core.clock import ManualClock


async def test_a_department_liaison_sees_the_title_and_place_of_its_orders_incident(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    incident, orders = await dispatched(client, world)
    # the brigade's scope is its unit, not the town: its inbox names the incident it is
    # ordered to (tests/incidents/test_unit_reads_its_incident.py: and it reads the incident)
    inbox = (await client.get("/api/v1/orders?mine=true", headers=world["fire"])).json()
    assert inbox["total"] == 1
    brief = inbox["items"][0]["incident"]
    assert brief["id"] == incident
    assert brief["title"] and brief["level"] and brief["state"] == "responding"
    assert (brief["lon"], brief["lat"]) == (119.05, 27.55)
    assert inbox["items"][0]["unit_name"] == inbox["items"][0]["responsible_unit_name"]
    assert inbox["items"][0]["unit_name"]


async def test_after_a_transfer_the_first_unit_sees_whom_it_handed_the_order_to(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    _, orders = await dispatched(client, world)
    units = world["units"]
    fire_order = orders[units["FIRE"]]["id"]
    moved = await act(
        client,
        world["fire"],
        fire_order,
        "transfer",
        {"to_unit_id": units["WATER"], "reason": "水"},
    )
    assert moved.status_code == 201, moved.text
    inbox = (await client.get("/api/v1/orders?mine=true", headers=world["fire"])).json()
    handed = next(o for o in inbox["items"] if o["transferred_from_id"] == fire_order)
    water = (await client.get(f"/api/v1/units/{units['WATER']}", headers=world["water"])).json()
    fire = (await client.get(f"/api/v1/units/{units['FIRE']}", headers=world["fire"])).json()
    assert (handed["unit_name"], handed["responsible_unit_name"]) == (water["name"], fire["name"])
    assert (
        handed["stage"] == "issued"
        and handed["incident"]["id"] == orders[units["FIRE"]]["incident_id"]
    )


async def test_a_unit_without_orders_gets_no_incident_details(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    await dispatched(client, world)
    inbox = (await client.get("/api/v1/orders?mine=true", headers=world["water"])).json()
    assert inbox == {"items": [], "total": 0}


async def test_supervision_board_shows_the_incident_and_the_reminders_sent(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
    clock: ManualClock,
) -> None:
    incident, orders = await dispatched(client, world)
    fire_order = orders[world["units"]["FIRE"]]["id"]
    clock.advance(timedelta(minutes=4))
    board = (await client.get("/api/v1/supervision", headers=world["leader"])).json()
    by_id = {o["id"]: o for o in board}
    assert by_id[fire_order]["incident"]["id"] == incident
    assert by_id[fire_order]["escalations"] == []
    assert by_id[fire_order]["next_deadline"]["stage"] == "sign"
    assert (await act(client, world["leader"], fire_order, "remind")).status_code == 200
    board = (await client.get("/api/v1/supervision", headers=world["leader"])).json()
    sent = {o["id"]: o for o in board}[fire_order]["escalations"]
    assert [(e["stage"], e["kind"], e["manual"]) for e in sent] == [("sign", "remind", True)]


async def test_a_department_may_hand_its_order_to_any_unit_of_the_county_but_itself(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    _, orders = await dispatched(client, world)
    units = world["units"]
    fire_order = orders[units["FIRE"]]["id"]
    # the brigade's own unit list holds only itself …
    own = (await client.get("/api/v1/units", headers=world["fire"])).json()
    assert [u["id"] for u in own["items"]] == [units["FIRE"]]
    # … but it may hand the order to the county's other units
    targets = await client.get(f"/api/v1/orders/{fire_order}/transfer-units", headers=world["fire"])
    assert targets.status_code == 200
    ids = {u["id"] for u in targets.json()}
    assert units["WATER"] in ids and units["TA"] in ids and units["FIRE"] not in ids
    named = await client.get(
        f"/api/v1/orders/{fire_order}/transfer-units?q=WATER", headers=world["fire"]
    )
    assert [u["id"] for u in named.json()] == [units["WATER"]]
    hidden = await client.get(f"/api/v1/orders/{fire_order}/transfer-units", headers=world["water"])
    assert hidden.status_code == 404
