"""服务类事务: a blocked drain or a water cut comes through the same intake, opens a service case
(never an emergency incident), is routed by its own rules with longer deadlines, and is counted
apart in the KPIs; the shipped routing and deadline tables cover every service category."""

from __future__ import annotations

import json
from importlib import resources

import httpx

from tests.factories import bearer, make_county_with_two_towns, make_unit, make_user
from yingji.core.db import Database
from yingji.intake.classify import Classifier, load_categories

REPORTS = "/api/v1/intake/reports"


def _data(name: str) -> dict[str, object]:
    text = resources.files("yingji").joinpath(f"data/{name}").read_text("utf-8")
    loaded: dict[str, object] = json.loads(text)
    return loaded


def test_service_words_classify_as_service_matters_and_emergencies_stay_emergencies() -> None:
    classifier = Classifier(load_categories())
    said = {
        "我们小区下水道堵了，污水外溢到路上": "service.drainage",
        "楼下广场舞每天晚上放到十点，太吵了扰民": "service.noise",
        "家里停水两天了，什么时候来水": "service.water_supply",
        "小区门口有一群流浪狗，很凶": "service.stray_animal",
        "人民路上井盖丢失了，很危险": "service.road_damage",
        "三楼厨房着火了，浓烟很大": "accident.fire",
    }
    for text, code in said.items():
        found = classifier.classify(text)
        assert found is not None and found.code == code, (text, found)


def test_every_service_category_has_a_routing_rule_and_longer_deadlines() -> None:
    codes = [c.code for c in load_categories() if c.code.startswith("service.")]
    rules = _data("routing_demo.json")["rules"]
    assert isinstance(rules, list)
    leads = {r["category_prefix"] for r in rules if r["role"] == "lead"}
    assert codes and all(code in leads for code in codes)
    rows = _data("stage_deadlines.json")["deadlines"]
    assert isinstance(rows, list)
    service = next(r for r in rows if r["category_prefix"] == "service")
    default = next(r for r in rows if r["category_prefix"] == "" and r["tier"] == 0)
    for stage in ("sign_minutes", "arrive_minutes", "feedback_minutes", "complete_minutes"):
        assert service[stage] > default[stage]


async def test_a_service_matter_opens_a_service_case_kept_out_of_incidents_and_counted_apart(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    await make_unit(db, "WATER", division="331126", tier=2)
    await make_user(db, "leader", roles=["duty_leader"], division="331126")
    officer, leader = await bearer(client, "county"), await bearer(client, "leader")
    sent = await client.post(
        REPORTS,
        headers=officer,
        json={
            "channel": "hotline_12345",
            "external_id": "s-1",
            "text": "甲镇幸福小区下水道堵了，污水外溢",
            "lon": 119.05,
            "lat": 27.55,
        },
    )
    assert sent.status_code == 201, sent.text
    case_id = sent.json()["incident_id"]
    case = (await client.get(f"/api/v1/incidents/{case_id}", headers=officer)).json()
    assert case["kind"] == "service" and case["category_code"] == "service.drainage"
    listed = (await client.get("/api/v1/incidents", headers=officer)).json()
    assert listed["total"] == 0
    services = (await client.get("/api/v1/incidents?kind=service", headers=officer)).json()
    assert [i["id"] for i in services["items"]] == [case_id]
    geo = (await client.get("/api/v1/incidents.geojson", headers=officer)).json()
    assert geo["features"] == []
    await client.post(f"/api/v1/incidents/{case_id}/verify", headers=officer, json={})
    units = {
        u["code"]: u["id"]
        for u in (await client.get("/api/v1/units", headers=await bearer(client, "admin"))).json()[
            "items"
        ]
    }
    dispatched = await client.post(
        f"/api/v1/incidents/{case_id}/dispatch",
        headers=officer,
        json={"units": [{"unit_id": units["WATER"], "role": "lead"}]},
    )
    assert dispatched.status_code in (200, 201), dispatched.text
    emergency = (await client.get("/api/v1/kpi/units", headers=leader)).json()
    service = (await client.get("/api/v1/kpi/units?kind=service", headers=leader)).json()
    assert emergency == []
    assert [r["code"] for r in service] == ["WATER"]
