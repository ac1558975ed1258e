"""Every reason and timeline entry a screen shows is data (``{code, params}``) that the web app
words in the reader's language; the timeline names people, not accounts."""

from __future__ import annotations

import httpx

from tests.dispatch import test_order_flows
from tests.factories import bearer, make_user
from yingji.core.db import Database

world = test_order_flows.world  # county, towns A/B, fire brigade, routing fire → brigade + town


async def test_a_report_answers_and_is_stored_with_coded_reasons(
    client: httpx.AsyncClient, world: dict
) -> None:
    officer = world["officer"]
    body = {
        "channel": "hotline_119",
        "text": "甲镇一仓库着火了，浓烟很大",
        "lon": 119.05,
        "lat": 27.55,
        "category_code": "accident.fire",
        "casualties": {"dead": 0, "injured": 0, "missing": 0, "trapped": 0},
    }
    first = await client.post(
        "/api/v1/intake/reports", headers=officer, json={**body, "external_id": "w-1"}
    )
    assert first.status_code == 201, first.text
    assert first.json()["why"] == {"code": "match.none", "params": {}}
    second = await client.post(
        "/api/v1/intake/reports", headers=officer, json={**body, "external_id": "w-2"}
    )
    why = second.json()["why"]
    assert why["code"] == "match.join", why
    evidence = why["params"]["evidence"]
    assert evidence["code"] == "match.evidence"
    assert evidence["params"]["affinity"] == "same" and evidence["params"]["distance_m"] == 0
    assert set(evidence["params"]["evidence"]) >= {"text", "place", "time", "prior"}

    report_id = second.json()["report_id"]
    stored = (await client.get(f"/api/v1/intake/reports/{report_id}", headers=officer)).json()
    assert stored["match_why"] == why
    level = stored["level_why"]
    assert level["code"] == "level.default" and level["params"]["category"] == "accident.fire"
    assert {"measure": ["dead", "missing"], "value": 0, "minimum": 3} in level["params"]["below"]

    incident_id = second.json()["incident_id"]
    incident = (await client.get(f"/api/v1/incidents/{incident_id}", headers=officer)).json()
    assert incident["level_why"] == level
    timeline = (
        await client.get(f"/api/v1/incidents/{incident_id}/timeline", headers=officer)
    ).json()
    opened, joined = timeline[0], timeline[1]
    assert opened["code"] == "incidents.opened"
    assert opened["params"] == {"channel": "hotline_119", "external_id": "w-1"}
    assert joined["code"] == "incidents.report_added" and joined["params"]["why"] == why


async def test_the_timeline_names_the_person_and_each_step_has_its_code(
    client: httpx.AsyncClient, db: Database, world: dict
) -> None:
    await make_user(
        db, "wangfang", roles=["duty_officer"], division="331126", display_name="王芳（值班员）"
    )
    officer = await bearer(client, "wangfang")
    incident = await test_order_flows.fire_incident(client, officer, "w-3")
    raised = await client.post(
        f"/api/v1/incidents/{incident}/level",
        headers=officer,
        json={"level": "III", "reason": "发现3人被困"},
    )
    assert raised.json()["level_why"] == {"code": "level.manual", "params": {"text": "发现3人被困"}}
    dispatched = await client.post(f"/api/v1/incidents/{incident}/dispatch", headers=officer)
    assert dispatched.status_code == 201, dispatched.text
    by_unit = {o["unit_id"]: o for o in dispatched.json()}
    fire = by_unit[world["units"]["FIRE"]]
    assert fire["chosen_why"]["code"] == "routing.rule"
    assert fire["chosen_why"]["params"]["note"] == "火灾：消防主办"

    timeline = (await client.get(f"/api/v1/incidents/{incident}/timeline", headers=officer)).json()
    codes = [e["code"] for e in timeline]
    assert codes[:3] == ["incidents.opened", "incidents.verified", "incidents.level_changed"]
    assert "dispatch.order_issued" in codes and codes[-1] == "incidents.responding"
    mine = [e for e in timeline if e["code"] != "incidents.opened"]
    assert {e["actor_name"] for e in mine} == {"王芳（值班员）"}
    level = timeline[2]["params"]
    assert (level["from"], level["to"], level["reason"]) == ("IV", "III", "发现3人被困")
    issued = [e for e in timeline if e["code"] == "dispatch.order_issued"]
    assert {e["params"]["unit"] for e in issued} == {u["name"] for u in await units(client, world)}
    assert all(e["params"]["why"]["code"] == "routing.rule" for e in issued)


async def test_the_dispatch_plan_gives_each_units_reason_as_a_code(
    client: httpx.AsyncClient, world: dict
) -> None:
    incident = await test_order_flows.fire_incident(client, world["officer"], "w-4")
    plan = await client.get(f"/api/v1/incidents/{incident}/dispatch-plan", headers=world["officer"])
    whys = [u["why"] for u in plan.json()["units"]]
    assert [w["code"] for w in whys] == ["routing.rule", "routing.rule"]
    assert [w["params"]["note"] for w in whys] == ["火灾：消防主办", "属地乡镇"]


async def units(client: httpx.AsyncClient, world: dict) -> list[dict]:
    admin = await bearer(client, "admin")
    listed = (await client.get("/api/v1/units", headers=admin)).json()["items"]
    return [u for u in listed if u["id"] in (world["units"]["FIRE"], world["units"]["TA"])]
