"""派单 through the API: routing, stages, deadlines and escalation under a controllable clock,
transfer under 首接负责制, concurrent signs, return, completion, callback."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from tests.factories import (
    PASSWORD,
    bearer,
    deliver_events,
    make_county_with_two_towns,
    make_unit,
    make_user,
)
from yingji.app import install_jobs
from yingji.core import clock as clock_module
from yingji.core import security
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.events import Bus, DomainEvent, OutboxEvent
from yingji.core.timers import TimerWorker, handlers
from yingji.notify import jobs as notify_jobs
from yingji.org.models import UserAccount


@pytest.fixture
async def world(client: httpx.AsyncClient, db: Database) -> dict[str, dict[str, str]]:
    """County with towns A and B; a fire brigade; routing: fire → brigade (lead) + town (co)."""
    await make_county_with_two_towns(db)
    await make_unit(db, "FIRE", division="331126", tier=1, lon=119.06, lat=27.6)
    await make_unit(db, "WATER", division="331126", tier=1)
    await make_user(db, "fire_liaison", roles=["unit_liaison"], unit="FIRE")
    await make_user(db, "water_liaison", roles=["unit_liaison"], unit="WATER")
    await make_user(db, "leader", roles=["duty_leader"], division="331126")
    admin = await bearer(client, "admin")
    units = {
        u["code"]: u["id"]
        for u in (await client.get("/api/v1/units", headers=admin)).json()["items"]
    }
    for rule in (
        {
            "category_prefix": "accident.fire",
            "role": "lead",
            "unit_id": units["FIRE"],
            "note": "火灾：消防主办",
        },
        {"category_prefix": "accident.fire", "role": "co", "selector": "town", "note": "属地乡镇"},
    ):
        assert (
            await client.post("/api/v1/routing-rules", headers=admin, json=rule)
        ).status_code == 201
    return {
        "units": units,
        "officer": await bearer(client, "county"),
        "fire": await bearer(client, "fire_liaison"),
        "town_a": await bearer(client, "town_a"),
        "town_b": await bearer(client, "town_b"),
        "water": await bearer(client, "water_liaison"),
        "leader": await bearer(client, "leader"),
    }


async def fire_incident(client: httpx.AsyncClient, officer: dict[str, str], eid: str) -> str:
    answer = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json={
            "channel": "hotline_119",
            "external_id": eid,
            "text": "甲镇一仓库着火了，浓烟很大",
            "lon": 119.05,
            "lat": 27.55,
            "category_code": "accident.fire",
        },
    )
    incident: str = answer.json()["incident_id"]
    assert (
        await client.post(f"/api/v1/incidents/{incident}/verify", headers=officer)
    ).status_code == 200
    return incident


async def dispatched(
    client: httpx.AsyncClient, world: dict, eid: str = "f-1"
) -> tuple[str, dict[str, dict]]:
    incident = await fire_incident(client, world["officer"], eid)
    answer = await client.post(f"/api/v1/incidents/{incident}/dispatch", headers=world["officer"])
    assert answer.status_code == 201, answer.text
    by_unit = {o["unit_id"]: o for o in answer.json()}
    return incident, by_unit


async def act(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    order: str,
    action: str,
    body: dict | None = None,
) -> httpx.Response:
    return await client.post(f"/api/v1/orders/{order}/{action}", headers=headers, json=body)


async def test_dispatch_by_the_routing_table_says_why_each_unit_was_chosen(
    client: httpx.AsyncClient, world: dict
) -> None:
    incident, orders = await dispatched(client, world)
    units = world["units"]
    assert set(orders) == {units["FIRE"], units["TA"]}
    assert orders[units["FIRE"]]["role"] == "lead" and orders[units["TA"]]["role"] == "co"
    assert "消防主办" in orders[units["FIRE"]]["chosen_by"]
    assert orders[units["FIRE"]]["next_deadline"]["stage"] == "sign"
    state = (await client.get(f"/api/v1/incidents/{incident}", headers=world["officer"])).json()
    assert state["state"] == "responding"
    again = await client.post(f"/api/v1/incidents/{incident}/dispatch", headers=world["officer"])
    assert again.json()["error"]["code"] == "already_dispatched"
    nobody = await client.post(
        "/api/v1/routing-rules",
        headers=await bearer(client, "admin"),
        json={"role": "co", "unit_id": str(incident)},
    )
    assert nobody.status_code == 422 and nobody.json()["error"]["code"] == "unit_not_found"
    chosen = await client.post(
        f"/api/v1/incidents/{incident}/dispatch",
        headers=world["officer"],
        json={"units": [{"unit_id": units["WATER"], "role": "co"}]},
    )
    assert chosen.status_code == 201 and "chosen by county" in chosen.json()[0]["chosen_by"]


async def test_order_moves_through_its_stages_and_refuses_illegal_ones(
    client: httpx.AsyncClient, world: dict
) -> None:
    _, orders = await dispatched(client, world)
    order = orders[world["units"]["FIRE"]]["id"]
    fire = world["fire"]
    early = await act(client, fire, order, "complete")
    assert early.status_code == 409 and early.json()["error"]["code"] == "invalid_stage"
    assert (await act(client, fire, order, "feedback", {"text": "x"})).status_code == 422
    assert (await act(client, fire, order, "sign")).json()["stage"] == "signed"
    assert (await act(client, fire, order, "sign")).status_code == 409
    arrived = await act(client, fire, order, "arrive", {"lon": 119.051, "lat": 27.551})
    assert arrived.json()["stage"] == "arrived" and arrived.json()["arrive_lon"] == 119.051
    for text in ("火势已控制", "正在清理现场"):
        assert (await act(client, fire, order, "feedback", {"text": text})).status_code == 200
    done = await act(client, fire, order, "complete", {"note": "明火扑灭"})
    assert done.json()["stage"] == "completed" and done.json()["feedback_count"] == 2
    assert done.json()["complete_late"] is False and done.json()["next_deadline"] is None
    other_unit = await act(client, world["town_b"], orders[world["units"]["TA"]]["id"], "sign")
    assert other_unit.status_code == 404  # not its order, and it may not even see it


async def test_deadlines_remind_then_supervise_up_the_chain_and_stop_when_done(
    client: httpx.AsyncClient, world: dict, db: Database, clock: ManualClock
) -> None:
    _, orders = await dispatched(client, world)
    fire_order = orders[world["units"]["FIRE"]]["id"]
    worker = TimerWorker(db, handler_map=handlers())
    # accident.fire, tier 1: sign within 3 min; remind at 80 %, supervise at 3 min, centre +5 min
    clock.advance(timedelta(seconds=140))
    await worker.run_due()
    detail = (await client.get(f"/api/v1/orders/{fire_order}", headers=world["officer"])).json()
    assert [(e["stage"], e["kind"]) for e in detail["escalations"]] == []
    clock.advance(timedelta(seconds=5))
    await worker.run_due()
    detail = (await client.get(f"/api/v1/orders/{fire_order}", headers=world["officer"])).json()
    assert [(e["stage"], e["kind"]) for e in detail["escalations"]] == [("sign", "remind")]
    clock.advance(timedelta(seconds=40))
    await worker.run_due()
    clock.advance(timedelta(minutes=5))
    await worker.run_due()
    detail = (await client.get(f"/api/v1/orders/{fire_order}", headers=world["officer"])).json()
    assert [e["kind"] for e in detail["escalations"] if e["stage"] == "sign"] == [
        "remind",
        "supervise_unit",
        "supervise_center",
    ]
    await deliver_events(db)  # the notifications go out as the relay hands the events on
    told_unit = (await client.get("/api/v1/notifications", headers=world["fire"])).json()
    assert {"order_issued", "remind", "supervise_unit"} <= {n["kind"] for n in told_unit["items"]}
    told_leader = (await client.get("/api/v1/notifications", headers=world["leader"])).json()
    # both orders (brigade and town) let the sign deadline pass: the centre hears of each once
    assert sorted(n["subject_id"] for n in told_leader["items"]) == sorted(
        o["id"] for o in orders.values()
    )
    assert {n["kind"] for n in told_leader["items"]} == {"supervise_center"}
    timeline = (
        await client.get(
            f"/api/v1/incidents/{detail['incident_id']}/timeline", headers=world["officer"]
        )
    ).json()
    assert {"remind", "supervise_unit", "supervise_center"} <= {e["kind"] for e in timeline}
    # the unit signs late, then completes: no escalation of those stages follows
    signed = await act(client, world["fire"], fire_order, "sign")
    assert signed.json()["sign_late"] is True
    await act(client, world["fire"], fire_order, "complete")
    before = len(detail["escalations"])
    clock.advance(timedelta(hours=13))  # past every deadline of the order (not the token)
    await worker.run_due()
    after = (await client.get(f"/api/v1/orders/{fire_order}", headers=world["officer"])).json()
    assert len(after["escalations"]) == before


async def test_transfer_keeps_the_first_unit_responsible_until_the_new_unit_signs(
    client: httpx.AsyncClient, world: dict
) -> None:
    _, orders = await dispatched(client, world)
    town_order = orders[world["units"]["TA"]]["id"]
    town = world["town_a"]
    await act(client, town, town_order, "sign")
    moved = await act(
        client,
        town,
        town_order,
        "transfer",
        {"to_unit_id": world["units"]["WATER"], "reason": "涉及水利设施"},
    )
    assert moved.status_code == 201
    new_order = moved.json()["id"]
    assert moved.json()["responsible_unit_id"] == world["units"]["TA"]
    inbox = (await client.get("/api/v1/orders?open=true&mine=true", headers=town)).json()
    assert {o["id"] for o in inbox["items"]} == {town_order, new_order}
    still = await act(client, town, town_order, "feedback", {"text": "已先行处置，等待移交"})
    assert still.status_code == 200  # 先受理、先处置、后移交
    second = await act(
        client, town, town_order, "transfer", {"to_unit_id": world["units"]["FIRE"], "reason": "x"}
    )
    assert second.json()["error"]["code"] == "transfer_pending"
    signed = await act(client, world["water"], new_order, "sign")
    assert signed.json()["responsible_unit_id"] == world["units"]["WATER"]
    first = (await client.get(f"/api/v1/orders/{town_order}", headers=town)).json()
    assert first["stage"] == "transferred"
    inbox = (await client.get("/api/v1/orders?open=true&mine=true", headers=town)).json()
    assert inbox["total"] == 0


async def test_two_concurrent_signs_of_one_order_one_wins_one_conflicts(
    client: httpx.AsyncClient, world: dict
) -> None:
    _, orders = await dispatched(client, world)
    order = orders[world["units"]["FIRE"]]["id"]
    first, second = await asyncio.gather(
        act(client, world["fire"], order, "sign"), act(client, world["fire"], order, "sign")
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    loser = first if first.status_code == 409 else second
    assert loser.json()["error"]["code"] == "invalid_stage"


async def test_returned_order_tells_the_centre_and_the_unit_can_be_dispatched_again(
    client: httpx.AsyncClient, world: dict, db: Database
) -> None:
    incident, orders = await dispatched(client, world)
    order = orders[world["units"]["TA"]]["id"]
    missing = await act(client, world["town_a"], order, "return", {})
    assert missing.status_code == 422
    back = await act(client, world["town_a"], order, "return", {"reason": "不属本镇管辖"})
    assert back.json()["stage"] == "returned" and back.json()["return_reason"] == "不属本镇管辖"
    await deliver_events(db)
    told = (await client.get("/api/v1/notifications", headers=world["officer"])).json()
    assert [n["kind"] for n in told["items"]] == ["order_returned"]
    assert (
        told["items"][0]["subject_type"] == "incident"
        and told["items"][0]["subject_id"] == incident
    )
    again = await client.post(
        f"/api/v1/incidents/{incident}/dispatch",
        headers=world["officer"],
        json={"units": [{"unit_id": world["units"]["TA"], "role": "co"}]},
    )
    assert again.status_code == 201


async def test_completing_every_order_prompts_closing_and_closing_opens_the_callback(
    client: httpx.AsyncClient, world: dict, db: Database
) -> None:
    incident, orders = await dispatched(client, world)
    bus = Bus()
    install_jobs(bus, db)
    await bus.start(db, run_relay=False)
    try:
        for unit, headers in (
            (world["units"]["FIRE"], world["fire"]),
            (world["units"]["TA"], world["town_a"]),
        ):
            await act(client, headers, orders[unit]["id"], "sign")
            await act(client, headers, orders[unit]["id"], "complete")
        timeline = (
            await client.get(f"/api/v1/incidents/{incident}/timeline", headers=world["officer"])
        ).json()
        assert timeline[-1]["kind"] == "ready_to_close"
        for sub in bus.subscriptions:
            await bus.deliver_durable(sub)
        told = (await client.get("/api/v1/notifications", headers=world["officer"])).json()
        assert [n["kind"] for n in told["items"]] == ["ready_to_close"]
        assert told["items"][0]["subject_id"] == incident
        early = await client.post(
            f"/api/v1/incidents/{incident}/callback",
            headers=world["officer"],
            json={"reachable": True, "reached": True},
        )
        assert early.json()["error"]["code"] == "incident_not_closed"
        await client.post(f"/api/v1/incidents/{incident}/close", headers=world["officer"])
        for sub in bus.subscriptions:
            await bus.deliver_durable(sub)
    finally:
        await bus.stop()
    done = await client.post(
        f"/api/v1/incidents/{incident}/callback",
        headers=world["officer"],
        json={"reachable": True, "reached": True, "satisfied": True, "note": "报警人表示满意"},
    )
    assert done.status_code == 200 and done.json()["satisfied"] is True
    twice = await client.post(
        f"/api/v1/incidents/{incident}/callback",
        headers=world["officer"],
        json={"reachable": True, "reached": True},
    )
    assert twice.json()["error"]["code"] == "callback_done"


async def test_supervision_board_lists_overdue_orders_and_reminds_on_click(
    client: httpx.AsyncClient, world: dict, clock: ManualClock
) -> None:
    _, orders = await dispatched(client, world)
    board = (
        await client.get("/api/v1/supervision?within_minutes=1", headers=world["officer"])
    ).json()
    assert board == []
    clock.advance(timedelta(minutes=4))
    board = (await client.get("/api/v1/supervision", headers=world["officer"])).json()
    assert {o["id"] for o in board} == {o["id"] for o in orders.values()}
    assert all(
        o["next_deadline"]["seconds_left"] < 0
        for o in board
        if o["unit_id"] == world["units"]["FIRE"]
    )
    fire_order = orders[world["units"]["FIRE"]]["id"]
    assert (await act(client, world["officer"], fire_order, "remind")).status_code == 200
    detail = (await client.get(f"/api/v1/orders/{fire_order}", headers=world["officer"])).json()
    assert [(e["kind"], e["manual"]) for e in detail["escalations"]] == [("remind", True)]
    assert (await act(client, world["fire"], fire_order, "remind")).status_code == 403


async def test_kpis_and_the_monthly_bulletin_reflect_the_orders(
    client: httpx.AsyncClient,
    world: dict,
    clock: ManualClock,
) -> None:
    import io

    import docx

    _, orders = await dispatched(client, world)
    fire_order = orders[world["units"]["FIRE"]]["id"]
    await act(client, world["fire"], fire_order, "sign")
    await act(client, world["fire"], fire_order, "feedback", {"text": "到达途中"})
    rates = (await client.get("/api/v1/kpi/units", headers=world["leader"])).json()
    by_code = {r["code"]: r for r in rates}
    assert by_code["FIRE"]["acceptance"]["numerator"] == 1
    assert by_code["FIRE"]["feedback"]["rate"] == 1.0
    assert by_code["TA"]["acceptance"]["rate"] == 0.0
    month = clock.now().strftime("%Y-%m")
    answer = await client.get(f"/api/v1/reports/bulletin?month={month}", headers=world["leader"])
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    tables = docx.Document(io.BytesIO(answer.content)).tables
    assert "单位" in [cell.text for cell in tables[0].rows[0].cells]
    html = await client.get(
        f"/api/v1/reports/bulletin?month={month}&format=html", headers=world["leader"]
    )
    assert "单位FIRE" in html.text
    bad = await client.get("/api/v1/reports/bulletin?month=2026-13", headers=world["leader"])
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_month"
    assert (await client.get("/api/v1/kpi/units", headers=world["fire"])).status_code == 200


async def test_a_new_orders_event_names_the_incident_the_role_and_the_sign_deadline(
    client: httpx.AsyncClient, world: dict, db: Database
) -> None:
    incident, orders = await dispatched(client, world)
    town_order = orders[world["units"]["TA"]]
    moved = await act(
        client,
        world["town_a"],
        town_order["id"],
        "transfer",
        {"to_unit_id": world["units"]["WATER"], "reason": "涉及水利设施"},
    )
    assert moved.status_code == 201
    shown = (await client.get(f"/api/v1/incidents/{incident}", headers=world["officer"])).json()
    async with db.unit_of_work(readonly=True) as session:
        emitted = {
            (e.type, e.subject_id): e.payload
            for e in (
                await session.scalars(
                    select(OutboxEvent).where(OutboxEvent.type.like("dispatch.order_%"))
                )
            ).all()
        }
    issued = emitted[("dispatch.order_issued", town_order["id"])]
    about = {"id": incident, "number": shown["number"], "title": shown["title"]}
    assert issued["incident"] == about
    assert issued["order"]["role"] == "co"
    assert _instant(issued["sign_due_at"]) == _instant(town_order["sign_due_at"])
    handed = emitted[("dispatch.order_transfer_requested", moved.json()["id"])]
    assert handed["incident"] == about
    assert (handed["from_unit"], handed["reason"]) == ("单位TA", "涉及水利设施")
    assert _instant(handed["sign_due_at"]) == _instant(moved.json()["sign_due_at"])


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def make_account_without_unit(db: Database, username: str, role: str, division: str) -> None:
    """An account made before a liaison or field worker needed a unit (the API refuses it now)."""
    async with db.unit_of_work() as session:
        now = clock_module.now()
        session.add(
            UserAccount(
                username=username,
                display_name=username,
                password_hash=await security.hash_password(PASSWORD),
                roles=[role],
                division_adcode=division,
                unit_id=None,
                active=True,
                created_at=now,
                updated_at=now,
            )
        )


@pytest.mark.parametrize("role", ["field_worker", "unit_liaison"])
async def test_a_worker_or_liaison_without_a_unit_acts_on_no_units_order(
    client: httpx.AsyncClient, world: dict, db: Database, role: str
) -> None:
    await make_account_without_unit(db, "no_unit", role, "331126101000")
    _, orders = await dispatched(client, world)
    stray = await bearer(client, "no_unit")
    fire_order = orders[world["units"]["FIRE"]]["id"]
    town_order = orders[world["units"]["TA"]]["id"]
    # it sees the orders of its town, and acts on none of them
    assert (await client.get(f"/api/v1/orders/{fire_order}", headers=stray)).status_code == 200
    for order, action, body in (
        (fire_order, "sign", None),
        (town_order, "sign", None),
        (town_order, "return", {"reason": "不属本镇管辖"}),
    ):
        refused = await act(client, stray, order, action, body)
        assert refused.status_code == 403, (action, refused.text)
        assert refused.json()["error"]["code"] == "acting_needs_unit"
    assert (await act(client, world["fire"], fire_order, "sign")).status_code == 200
    for action, body in (
        ("arrive", {"lon": 119.051, "lat": 27.551}),
        ("feedback", {"text": "到场"}),
        ("transfer", {"to_unit_id": world["units"]["WATER"], "reason": "x"}),
        ("complete", {"note": "x"}),
    ):
        refused = await act(client, stray, fire_order, action, body)
        assert refused.status_code == 403, (action, refused.text)
        assert refused.json()["error"]["code"] == "acting_needs_unit"
    detail = (await client.get(f"/api/v1/orders/{fire_order}", headers=world["officer"])).json()
    assert detail["stage"] == "signed" and detail["feedback_count"] == 0


async def test_the_centre_still_acts_for_a_unit_that_cannot(
    client: httpx.AsyncClient, world: dict
) -> None:
    _, orders = await dispatched(client, world)
    town_order = orders[world["units"]["TA"]]["id"]
    centre = await bearer(client, "admin")  # no unit, and it dispatches
    signed = await act(client, centre, town_order, "sign")
    assert signed.status_code == 200, signed.text
    fed = await act(client, centre, town_order, "feedback", {"text": "电话告知已到场"})
    assert fed.status_code == 200, fed.text


async def test_an_order_event_delivered_twice_tells_the_unit_once(
    client: httpx.AsyncClient, world: dict, db: Database
) -> None:
    _, orders = await dispatched(client, world)
    fire_order = orders[world["units"]["FIRE"]]["id"]
    async with db.unit_of_work(readonly=True) as session:
        row = await session.scalar(
            select(OutboxEvent).where(
                OutboxEvent.type == "dispatch.order_issued", OutboxEvent.subject_id == fire_order
            )
        )
    assert row is not None
    event = DomainEvent.from_row(row)
    notices = notify_jobs.Notices(db)
    await notices(event)
    await notices(event)  # the relay delivers at least once: a crash may hand it on again
    told = (await client.get("/api/v1/notifications", headers=world["fire"])).json()
    assert [(n["kind"], n["subject_id"]) for n in told["items"]] == [("order_issued", fire_order)]
    assert told["items"][0]["title"].startswith("新派单 ")


async def test_two_concurrent_callbacks_of_one_incident_one_is_recorded_one_conflicts(
    client: httpx.AsyncClient, world: dict, db: Database
) -> None:
    incident, orders = await dispatched(client, world)
    for unit, headers in (
        (world["units"]["FIRE"], world["fire"]),
        (world["units"]["TA"], world["town_a"]),
    ):
        await act(client, headers, orders[unit]["id"], "sign")
        await act(client, headers, orders[unit]["id"], "complete")
    closed = await client.post(f"/api/v1/incidents/{incident}/close", headers=world["officer"])
    assert closed.status_code == 200, closed.text
    await deliver_events(db)  # the closing opens the callback task

    async def call_back(note: str) -> httpx.Response:
        return await client.post(
            f"/api/v1/incidents/{incident}/callback",
            headers=world["officer"],
            json={"reachable": True, "reached": True, "satisfied": True, "note": note},
        )

    first, second = await asyncio.gather(call_back("甲"), call_back("乙"))
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    loser = first if first.status_code == 409 else second
    assert loser.json()["error"]["code"] == "callback_done"
    winner = first if first.status_code == 200 else second
    async with db.unit_of_work(readonly=True) as session:
        audited = (
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.type == "dispatch.callback_done")
            )
        ).all()
    assert [e.payload["summary"] for e in audited] == [
        f"回访：已联系，满意（{winner.json()['note']}）"
    ]
