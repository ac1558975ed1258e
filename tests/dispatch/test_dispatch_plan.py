"""派单预案: the dispatch plan previews exactly the units "dispatch by the table" issues, each
with the rule that chose it, and changes nothing."""

from __future__ import annotations

import httpx

from tests.dispatch import test_order_flows
from tests.factories import bearer

fire_incident = test_order_flows.fire_incident
world = test_order_flows.world  # the county, units and routing of the order-flow tests


async def test_plan_names_the_units_the_table_dispatches_to_with_their_reasons(
    client: httpx.AsyncClient, world: dict
) -> None:
    incident = await fire_incident(client, world["officer"], "plan-1")
    plan = await client.get(f"/api/v1/incidents/{incident}/dispatch-plan", headers=world["officer"])
    assert plan.status_code == 200, plan.text
    body = plan.json()
    assert body["dispatchable"] is True and body["state"] == "verified"
    units = world["units"]
    planned = {u["unit_id"]: u for u in body["units"]}
    assert list(planned) == [units["FIRE"], units["TA"]]
    assert planned[units["FIRE"]]["role"] == "lead" and planned[units["TA"]]["role"] == "co"
    assert "消防主办" in planned[units["FIRE"]]["reason"]
    assert "属地乡镇" in planned[units["TA"]]["reason"]
    assert not any(u["has_open_order"] for u in body["units"])

    dispatched = await client.post(
        f"/api/v1/incidents/{incident}/dispatch", headers=world["officer"]
    )
    issued = {o["unit_id"]: o["chosen_by"] for o in dispatched.json()}
    assert issued == {u["unit_id"]: u["reason"] for u in body["units"]}


async def test_plan_changes_nothing_and_marks_units_that_already_hold_an_order(
    client: httpx.AsyncClient, world: dict
) -> None:
    incident = await fire_incident(client, world["officer"], "plan-2")
    url = f"/api/v1/incidents/{incident}/dispatch-plan"
    await client.get(url, headers=world["officer"])
    orders = await client.get(f"/api/v1/incidents/{incident}/orders", headers=world["officer"])
    assert orders.json() == []
    state = await client.get(f"/api/v1/incidents/{incident}", headers=world["officer"])
    assert state.json()["state"] == "verified"

    await client.post(
        f"/api/v1/incidents/{incident}/dispatch",
        headers=world["officer"],
        json={"units": [{"unit_id": world["units"]["FIRE"], "role": "lead"}]},
    )
    after = (await client.get(url, headers=world["officer"])).json()
    held = {u["unit_id"]: u["has_open_order"] for u in after["units"]}
    assert held == {world["units"]["FIRE"]: True, world["units"]["TA"]: False}
    assert after["state"] == "responding" and after["dispatchable"] is True


async def test_plan_of_a_cancelled_incident_says_it_is_not_dispatchable(
    client: httpx.AsyncClient, world: dict
) -> None:
    answer = await client.post(
        "/api/v1/intake/reports",
        headers=world["officer"],
        json={
            "channel": "hotline_119",
            "external_id": "plan-3",
            "text": "甲镇着火",
            "lon": 119.05,
            "lat": 27.55,
            "category_code": "accident.fire",
        },
    )
    incident = answer.json()["incident_id"]
    await client.post(
        f"/api/v1/incidents/{incident}/cancel",
        headers=world["officer"],
        json={"kind": "false_report", "reason": "误报"},
    )
    plan = (
        await client.get(f"/api/v1/incidents/{incident}/dispatch-plan", headers=world["officer"])
    ).json()
    assert plan["state"] == "cancelled" and plan["dispatchable"] is False


async def test_plan_of_an_incident_outside_your_area_is_not_found(
    client: httpx.AsyncClient, world: dict
) -> None:
    incident = await fire_incident(client, world["officer"], "plan-4")
    other_town = await bearer(client, "town_b")
    plan = await client.get(f"/api/v1/incidents/{incident}/dispatch-plan", headers=other_town)
    assert plan.status_code == 404


async def test_the_orders_of_an_incident_outside_your_area_are_not_found(
    client: httpx.AsyncClient, world: dict
) -> None:
    incident = await fire_incident(client, world["officer"], "plan-5")
    units = world["units"]
    other_town = await client.get(f"/api/v1/incidents/{incident}/orders", headers=world["town_b"])
    assert other_town.status_code == 404
    assert other_town.json()["error"]["code"] == "incident_not_found"
    # an incident of one's own area with no orders yet is an empty list
    mine = await client.get(f"/api/v1/incidents/{incident}/orders", headers=world["town_a"])
    assert (mine.status_code, mine.json()) == (200, [])
    await client.post(f"/api/v1/incidents/{incident}/dispatch", headers=world["officer"])
    assert (
        await client.get(f"/api/v1/incidents/{incident}/orders", headers=world["town_b"])
    ).status_code == 404
    # a unit outside the area holding an order on the incident sees every unit's order on it
    fire = await client.get(f"/api/v1/incidents/{incident}/orders", headers=world["fire"])
    assert fire.status_code == 200
    assert {o["unit_id"] for o in fire.json()} == {units["FIRE"], units["TA"]}
    water = await client.get(f"/api/v1/incidents/{incident}/orders", headers=world["water"])
    assert water.status_code == 404


async def test_an_inactive_unit_gets_no_order_by_choice_by_transfer_or_by_the_table(
    client: httpx.AsyncClient, world: dict
) -> None:
    admin = await bearer(client, "admin")
    units = world["units"]
    retired = await client.patch(
        f"/api/v1/units/{units['WATER']}", headers=admin, json={"active": False}
    )
    assert retired.status_code == 200 and retired.json()["active"] is False
    incident = await fire_incident(client, world["officer"], "plan-6")
    chosen = await client.post(
        f"/api/v1/incidents/{incident}/dispatch",
        headers=world["officer"],
        json={"units": [{"unit_id": units["WATER"], "role": "lead"}]},
    )
    assert chosen.status_code == 422
    assert chosen.json()["error"]["code"] == "unit_inactive"
    assert chosen.json()["error"]["details"] == {"unit_id": units["WATER"]}
    # the table's lead unit, retired too, is skipped: the plan and dispatch name only the town
    await client.patch(f"/api/v1/units/{units['FIRE']}", headers=admin, json={"active": False})
    plan = await client.get(f"/api/v1/incidents/{incident}/dispatch-plan", headers=world["officer"])
    assert [u["unit_id"] for u in plan.json()["units"]] == [units["TA"]]
    issued = await client.post(f"/api/v1/incidents/{incident}/dispatch", headers=world["officer"])
    assert [o["unit_id"] for o in issued.json()] == [units["TA"]]
    moved = await client.post(
        f"/api/v1/orders/{issued.json()[0]['id']}/transfer",
        headers=world["town_a"],
        json={"to_unit_id": units["WATER"], "reason": "水源问题"},
    )
    assert moved.status_code == 422 and moved.json()["error"]["code"] == "unit_inactive"
    held = await client.get(f"/api/v1/incidents/{incident}/orders", headers=world["officer"])
    assert [o["unit_id"] for o in held.json()] == [units["TA"]]


async def test_a_rule_when_trapped_names_its_unit_only_when_people_are_trapped(
    client: httpx.AsyncClient, world: dict
) -> None:
    admin = await bearer(client, "admin")
    units = world["units"]
    rule = {
        "category_prefix": "accident.fire",
        "role": "co",
        "unit_id": units["WATER"],
        "when_trapped": True,
        "note": "火灾有人被困",
    }
    added = await client.post("/api/v1/routing-rules", headers=admin, json=rule)
    assert added.status_code == 201 and added.json()["when_trapped"] is True

    async def planned(eid: str, trapped: int) -> list[str]:
        answer = await client.post(
            "/api/v1/intake/reports",
            headers=world["officer"],
            json={
                "channel": "hotline_119",
                "external_id": eid,
                "text": "甲镇一仓库着火了",
                "lon": 119.05 + trapped / 100,
                "lat": 27.55,
                "category_code": "accident.fire",
                "casualties": {"trapped": trapped},
            },
        )
        incident = answer.json()["incident_id"]
        plan = await client.get(
            f"/api/v1/incidents/{incident}/dispatch-plan", headers=world["officer"]
        )
        return [u["unit_id"] for u in plan.json()["units"]]

    assert await planned("trap-0", 0) == [units["FIRE"], units["TA"]]
    assert await planned("trap-2", 2) == [units["FIRE"], units["TA"], units["WATER"]]
