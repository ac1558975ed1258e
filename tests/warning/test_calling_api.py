"""The 叫应 routes: the public link (read, acknowledge, unknown links throttled), acknowledging in
the app, the acknowledgements list and the board, call plans and 六问 spot checks — each with who
may and who may not (another town's desk gets 404)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.factories import bearer, deliver_events
from tests.warning.calling_helpers import (
    VILLAGE_A1,
    World,
    make_world,
    minutes,
    publish,
    run_timers,
)
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.warning import calling_api
from yingji.warning.models import CallPlan, SpotCheck, WarningAck

API = "/api/v1/warnings"


@pytest.fixture
async def world(app: Any, db: Database) -> World:
    return await make_world(db)


@pytest.fixture(autouse=True)
def fresh_limiter() -> None:
    calling_api.LIMITER = calling_api.MissLimiter()


async def count(db: Database, model: Any) -> int:
    async with db.unit_of_work(readonly=True) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_public_link_reads_and_acknowledges_without_signing_in(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    published = await publish(db, world)
    token = published.recipients["村主任"].token
    page = await client.get(f"{API}/ack/{token}")
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["acknowledged"] is False and body["must_ack"] is True
    assert body["warning"]["level"] == "orange"
    assert body["warning"]["headline"] == "暴雨橙色预警"
    assert body["name"] == "村主任"
    assert page.headers["content-type"].startswith("application/json")

    first = await client.post(f"{API}/ack/{token}")
    assert first.status_code == 200
    assert first.json()["status"] == "acknowledged"
    second = await client.post(f"{API}/ack/{token}")
    assert second.json()["status"] == "already_acknowledged"
    assert second.json()["acked_at"] == first.json()["acked_at"]
    assert (await client.get(f"{API}/ack/{token}")).json()["acknowledged"] is True
    assert await count(db, WarningAck) == 1


async def test_unknown_links_are_404_then_throttled(
    client: httpx.AsyncClient, db: Database, world: World, clock: ManualClock
) -> None:
    published = await publish(db, world)
    for bad in ("x" * 30, "short", "bad%20chars%21%21%21%21%21%21%21%21"):
        response = await client.post(f"{API}/ack/{bad}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ack_not_found"
    assert await count(db, WarningAck) == 0
    for _ in range(calling_api.LIMITER.limit - 3):
        await client.get(f"{API}/ack/{'y' * 32}")
    throttled = await client.post(f"{API}/ack/{published.recipients['村主任'].token}")
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "too_many_attempts"
    assert await count(db, WarningAck) == 0
    clock.advance(minutes(2))  # the window passed
    ok = await client.post(f"{API}/ack/{published.recipients['村主任'].token}")
    assert ok.status_code == 200


async def test_acknowledging_in_the_app_is_for_the_recipient_only(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    published = await publish(db, world, user_recipient="duty_leader")
    anonymous = await client.post(f"{API}/{published.warning_id}/ack")
    assert anonymous.status_code == 401
    stranger = await client.post(
        f"{API}/{published.warning_id}/ack", headers=await bearer(client, "desk")
    )
    assert stranger.status_code == 404
    assert stranger.json()["error"]["code"] == "warning_not_found"
    mine = await client.post(
        f"{API}/{published.warning_id}/ack", headers=await bearer(client, "duty_leader")
    )
    assert mine.status_code == 200, mine.text
    assert mine.json()["status"] == "acknowledged"
    async with db.unit_of_work(readonly=True) as session:
        ack = (await session.scalars(select(WarningAck))).one()
    assert (ack.via, ack.user_id) == ("app", world.users["duty_leader"])


async def test_acks_and_board_by_town_for_the_warnings_desk_only(
    client: httpx.AsyncClient, db: Database, world: World, clock: ManualClock
) -> None:
    published = await publish(db, world, informed=("甲镇长",))
    await deliver_events(db)
    await client.post(f"{API}/ack/{published.recipients['乙镇长'].token}")
    clock.advance(minutes(10))
    await run_timers(db)
    desk = await bearer(client, "desk")

    acks = (await client.get(f"{API}/{published.warning_id}/acks", headers=desk)).json()
    assert [(a["name"], a["via"]) for a in acks["items"]] == [("乙镇长", "link")]

    board = await client.get(f"{API}/{published.warning_id}/board", headers=desk)
    assert board.status_code == 200, board.text
    data = board.json()
    assert data["totals"] == {
        "called": 3,
        "answered": 1,
        "overdue": 2,
        "escalated": 0,
        "exhausted": 0,
    }
    towns = {t["town_adcode"]: t for t in data["towns"]}
    assert towns["331126101000"]["town_name"] == "甲镇"
    assert towns["331126101000"]["called"] == 2  # the informed 甲镇长 is not on the board
    assert towns["331126102000"]["answered"] == 1
    people = {p["name"]: p for t in data["towns"] for p in t["people"]}
    assert people["甲干部"]["overdue"] is True and people["甲干部"]["call_step"] == 1
    assert people["乙镇长"]["call_state"] == "answered"

    for path in ("acks", "board", "evidence.xlsx", "evidence.docx"):
        other = await client.get(
            f"{API}/{published.warning_id}/{path}", headers=await bearer(client, "other_desk")
        )
        assert other.status_code == 404, path
        assert (await client.get(f"{API}/{published.warning_id}/{path}")).status_code == 401


STEPS = {
    "positions": ["town_head", "village_head"],
    "channels": ["voice", "sms"],
    "wait_minutes": 5,
    "repeats": 1,
    "escalate_to": ["duty_leader"],
}


async def test_call_plans_are_validated_scoped_and_versioned(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    desk = await bearer(client, "desk")
    plan = {"division_adcode": "331126", "level": "red", "name": "县红色方案", "steps": STEPS}
    created = await client.post(f"{API}/call-plans", json=plan, headers=desk)
    assert created.status_code == 201, created.text
    plan_id = created.json()["id"]
    assert created.json()["steps"]["wait_minutes"] == 5

    before = await count(db, CallPlan)
    for bad_steps, code in (
        ({**STEPS, "wait_minutes": 0}, "validation_failed"),
        ({**STEPS, "channels": ["pigeon"]}, "validation_failed"),
        ({**STEPS, "channels": ["sms", "sms"]}, "validation_failed"),
        ({**STEPS, "escalate_to": ["mayor"]}, "validation_failed"),
        ({**STEPS, "positions": []}, "validation_failed"),
    ):
        response = await client.post(
            f"{API}/call-plans",
            json={**plan, "level": "orange", "steps": bad_steps},
            headers=desk,
        )
        assert response.status_code == 422, bad_steps
        assert response.json()["error"]["code"] == code
    duplicate = await client.post(f"{API}/call-plans", json=plan, headers=desk)
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "call_plan_exists"
    assert await count(db, CallPlan) == before

    officer = await client.post(
        f"{API}/call-plans", json={**plan, "level": "blue"}, headers=await bearer(client, "officer")
    )
    assert officer.status_code == 403
    other = await bearer(client, "other_desk")
    listed = (await client.get(f"{API}/call-plans", headers=other)).json()["items"]
    assert plan_id not in {p["id"] for p in listed}
    assert {p["division_adcode"] for p in listed} == {None}  # the defaults
    assert (
        await client.patch(f"{API}/call-plans/{plan_id}", json={"version": 1}, headers=other)
    ).status_code == 404
    outside = await client.post(
        f"{API}/call-plans", json={**plan, "division_adcode": "331126101000"}, headers=other
    )
    assert outside.status_code == 404
    default_id = listed[0]["id"]
    readonly = await client.patch(
        f"{API}/call-plans/{default_id}", json={"version": 1, "name": "x"}, headers=desk
    )
    assert readonly.status_code == 403
    assert readonly.json()["error"]["code"] == "call_plan_default_readonly"

    changed = await client.patch(
        f"{API}/call-plans/{plan_id}",
        json={"version": 1, "steps": {**STEPS, "repeats": 3}},
        headers=desk,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2 and changed.json()["steps"]["repeats"] == 3
    stale = await client.patch(
        f"{API}/call-plans/{plan_id}", json={"version": 1, "name": "旧"}, headers=desk
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "stale_version"
    assert (await client.delete(f"{API}/call-plans/{plan_id}", headers=desk)).status_code == 204
    assert (await client.delete(f"{API}/call-plans/{plan_id}", headers=desk)).status_code == 404


def answers(*failed: str) -> list[dict[str, Any]]:
    return [
        {
            "question": f"q{i}",
            "ok": f"q{i}" not in failed,
            "note": "未转移" if f"q{i}" in failed else "",
        }
        for i in range(1, 7)
    ]


async def test_spot_checks_record_six_answers_for_a_village_in_the_area(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    published = await publish(db, world)
    url = f"{API}/{published.warning_id}/spot-checks"
    officer = await bearer(client, "officer")
    body = {"village_adcode": VILLAGE_A1, "person_name": "村主任", "answers": answers("q3")}
    created = await client.post(url, json=body, headers=officer)
    assert created.status_code == 201, created.text
    assert created.json()["passed"] is False
    assert [a["question"] for a in created.json()["answers"]] == [f"q{i}" for i in range(1, 7)]

    for bad in (
        {**body, "answers": answers()[:5]},
        {**body, "answers": [*answers()[:5], {"question": "q1", "ok": True}]},
        {**body, "village_adcode": "33112610100"},
        {**body, "person_name": ""},
    ):
        response = await client.post(url, json=bad, headers=officer)
        assert response.status_code == 422, bad
    unknown = await client.post(
        url, json={**body, "village_adcode": "110101001001"}, headers=officer
    )
    assert unknown.status_code == 404
    assert await count(db, SpotCheck) == 1

    liaison = await client.post(url, json=body, headers=await bearer(client, "town_a"))
    assert liaison.status_code == 403
    other = await client.post(url, json=body, headers=await bearer(client, "other_desk"))
    assert other.status_code == 404
    listed = (await client.get(url, headers=officer)).json()["items"]
    assert [(c["village_adcode"], c["passed"]) for c in listed] == [(VILLAGE_A1, False)]
