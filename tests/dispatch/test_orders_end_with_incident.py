"""An incident closed or cancelled before its orders are done ends them (closed_with_incident):
the officer confirms, the deadlines stop escalating in the same transaction, the orders leave the
supervision board and the unit's open inbox, and the KPIs judge them as of that moment."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select

from tests.dispatch.test_order_flows import act, dispatched, world
from tests.factories import bearer, deliver_events, make_user
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.events import OutboxEvent
from yingji.core.timers import OPEN_STATES as OPEN_TIMER_STATES
from yingji.core.timers import Timer, TimerWorker, handlers

__all__ = ["world"]  # the fixture, shared with test_order_flows

ENDED = "closed_with_incident"


async def incident_action(
    client: httpx.AsyncClient, headers: dict[str, str], incident: str, action: str, body: dict
) -> httpx.Response:
    return await client.post(f"/api/v1/incidents/{incident}/{action}", headers=headers, json=body)


async def order(client: httpx.AsyncClient, headers: dict[str, str], order_id: str) -> dict:
    answer = await client.get(f"/api/v1/orders/{order_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict = answer.json()
    return body


async def open_timers(db: Database, order_ids: list[str]) -> list[str]:
    async with db.unit_of_work(readonly=True) as session:
        rows = await session.scalars(
            select(Timer.key).where(
                Timer.subject.in_(order_ids), Timer.state.in_(OPEN_TIMER_STATES)
            )
        )
        return list(rows.all())


async def test_closing_with_open_orders_is_refused_until_confirmed_naming_each_order(
    client: httpx.AsyncClient, world: dict, db: Database
) -> None:
    incident, orders = await dispatched(client, world)
    officer = world["officer"]
    fire = orders[world["units"]["FIRE"]]["id"]
    assert (await act(client, world["fire"], fire, "sign")).status_code == 200
    refused = await incident_action(client, officer, incident, "close", {"reason": "火已扑灭"})
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "incident_has_live_orders"
    assert sorted((o["unit_name"], o["stage"]) for o in error["details"]["orders"]) == [
        ("单位FIRE", "signed"),
        ("单位TA", "issued"),
    ]
    assert {o["order_id"] for o in error["details"]["orders"]} == {o["id"] for o in orders.values()}
    # nothing changed: the incident is still responding, the orders open, their timers running
    state = (await client.get(f"/api/v1/incidents/{incident}", headers=officer)).json()["state"]
    assert state == "responding"
    assert {(await order(client, officer, o["id"]))["stage"] for o in orders.values()} == {
        "signed",
        "issued",
    }
    assert await open_timers(db, list({o["id"] for o in orders.values()}))


async def test_closing_with_an_unsigned_order_ends_it_and_no_supervision_follows(
    client: httpx.AsyncClient, world: dict, db: Database, clock: ManualClock
) -> None:
    incident, orders = await dispatched(client, world)
    officer, ids = world["officer"], [o["id"] for o in orders.values()]
    worker = TimerWorker(db, handler_map=handlers())
    clock.advance(timedelta(minutes=1))
    await worker.run_due()
    closed = await incident_action(
        client, officer, incident, "close", {"reason": "火已扑灭", "confirm_end_orders": True}
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "closed"
    ended_at = clock.now()
    for order_id in ids:
        detail = await order(client, officer, order_id)
        assert detail["stage"] == ENDED and detail["next_deadline"] is None
        assert detail["ended_at"] is not None
    assert await open_timers(db, ids) == []
    # eight minutes on (and a day on), the sign deadlines have passed: no 催办 or 督办 is sent
    for step in (timedelta(minutes=8), timedelta(days=1)):
        clock.advance(step)
        await worker.run_due()
    officer = await bearer(client, "county")  # signed in again: a day has passed
    for order_id in ids:
        assert (await order(client, officer, order_id))["escalations"] == []
    await deliver_events(db)
    told_leader = await client.get("/api/v1/notifications", headers=await bearer(client, "leader"))
    assert told_leader.json()["items"] == []
    fire = await bearer(client, "fire_liaison")
    told_unit = (await client.get("/api/v1/notifications", headers=fire)).json()
    assert [n["kind"] for n in told_unit["items"]] == ["order_closed_with_incident", "order_issued"]
    board = (await client.get("/api/v1/supervision", headers=officer)).json()
    assert board == []
    inbox = await client.get("/api/v1/orders?mine=true&open=true", headers=fire)
    assert inbox.json()["items"] == []
    timeline = (await client.get(f"/api/v1/incidents/{incident}/timeline", headers=officer)).json()
    endings = [e for e in timeline if e["kind"] == "order_closed_with_incident"]
    assert sorted(e["data"]["order_id"] for e in endings) == sorted(ids)
    assert {e["data"]["from_stage"] for e in endings} == {"issued"}
    async with db.unit_of_work(readonly=True) as session:
        events = (
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.type == "dispatch.order_closed_with_incident")
            )
        ).all()
    assert sorted(e.subject_id for e in events) == sorted(ids)
    audit = (await client.get("/api/v1/audit", headers=await bearer(client, "admin"))).json()
    assert {
        row["subject_id"]
        for row in audit["items"]
        if row["action"] == "dispatch.order_closed_with_incident"
    } == set(ids)
    assert clock.now() > ended_at


async def test_cancelling_a_dispatched_incident_ends_its_orders_once_confirmed(
    client: httpx.AsyncClient, world: dict, db: Database, clock: ManualClock
) -> None:
    incident, orders = await dispatched(client, world)
    officer, ids = world["officer"], [o["id"] for o in orders.values()]
    body = {"kind": "false_report", "reason": "到场核实无火情"}
    refused = await incident_action(client, officer, incident, "cancel", body)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "incident_has_live_orders"
    assert len(refused.json()["error"]["details"]["orders"]) == 2
    state = (await client.get(f"/api/v1/incidents/{incident}", headers=officer)).json()["state"]
    assert state == "responding"
    cancelled = await incident_action(
        client, officer, incident, "cancel", {**body, "confirm_end_orders": True}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert {(await order(client, officer, i))["stage"] for i in ids} == {ENDED}
    assert await open_timers(db, ids) == []
    clock.advance(timedelta(hours=2))
    await TimerWorker(db, handler_map=handlers()).run_due()
    assert all([(await order(client, officer, i))["escalations"] == [] for i in ids])
    assert (await client.get("/api/v1/supervision", headers=officer)).json() == []


async def test_merging_a_dispatched_incident_away_ends_its_orders_once_confirmed(
    client: httpx.AsyncClient, world: dict, db: Database
) -> None:
    incident, orders = await dispatched(client, world, "f-merge-1")
    other_report = await client.post(
        "/api/v1/intake/reports",
        headers=world["officer"],
        json={
            "channel": "hotline_119",
            "external_id": "f-merge-2",
            "text": "乙镇粮站起火",
            "lon": 119.15,
            "lat": 27.55,
            "category_code": "accident.fire",
        },
    )
    other = other_report.json()["incident_id"]
    assert other != incident
    officer, ids = world["officer"], [o["id"] for o in orders.values()]
    body = {"into_incident_id": other}
    refused = await incident_action(client, officer, incident, "merge", body)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "incident_has_live_orders"
    state = (await client.get(f"/api/v1/incidents/{incident}", headers=officer)).json()["state"]
    assert state == "responding"
    merged = await incident_action(
        client, officer, incident, "merge", {**body, "confirm_end_orders": True}
    )
    assert merged.status_code == 200, merged.text
    assert {(await order(client, officer, i))["stage"] for i in ids} == {ENDED}
    assert await open_timers(db, ids) == []


async def test_completed_orders_stay_completed_and_need_no_confirmation(
    client: httpx.AsyncClient, world: dict
) -> None:
    incident, orders = await dispatched(client, world)
    fire = orders[world["units"]["FIRE"]]["id"]
    town = orders[world["units"]["TA"]]["id"]
    for headers, order_id in ((world["fire"], fire), (world["town_a"], town)):
        assert (await act(client, headers, order_id, "sign")).status_code == 200
        assert (await act(client, headers, order_id, "complete")).status_code == 200
    closed = await incident_action(client, world["officer"], incident, "close", {})
    assert closed.status_code == 200, closed.text
    assert (await order(client, world["officer"], fire))["stage"] == "completed"


async def test_only_an_officer_of_the_incidents_area_closes_it(
    client: httpx.AsyncClient, world: dict, db: Database
) -> None:
    incident, orders = await dispatched(client, world)
    confirm = {"confirm_end_orders": True}
    # a unit acts on its own order, it does not close the incident
    unit = await incident_action(client, world["fire"], incident, "close", confirm)
    assert unit.status_code == 403
    # another town's officer does not find it, confirmed or not, and learns nothing of its orders
    await make_user(db, "officer_b", roles=["duty_officer"], division="331126102000")
    other = await bearer(client, "officer_b")
    for body in ({}, confirm):
        answer = await incident_action(client, other, incident, "close", body)
        assert answer.status_code == 404
        assert "orders" not in (answer.json()["error"].get("details") or {})
    cancel = {"kind": "other", "reason": "x", "confirm_end_orders": True}
    assert (await incident_action(client, other, incident, "cancel", cancel)).status_code == 404
    assert {(await order(client, world["officer"], o["id"]))["stage"] for o in orders.values()} == {
        "issued"
    }
    # a body that is not a yes or no changes nothing
    bad = await incident_action(
        client, world["officer"], incident, "close", {"confirm_end_orders": "maybe"}
    )
    assert bad.status_code == 422
    missing = await client.post(
        f"/api/v1/incidents/{uuid.uuid4()}/close", headers=world["officer"], json=confirm
    )
    assert missing.status_code == 404


async def test_kpis_judge_an_order_ended_with_its_incident_as_of_that_moment(
    client: httpx.AsyncClient, world: dict, clock: ManualClock
) -> None:
    """Sign within 3 min, arrive within 15. The brigade never signs: its sign deadline passed
    before the close at 4 min, so it still counts as missed, late by one minute measured to the
    close. The town signed in time; neither arrival (due at 15 min) is held against anyone."""
    incident, orders = await dispatched(client, world)
    town = orders[world["units"]["TA"]]["id"]
    clock.advance(timedelta(minutes=1))
    assert (await act(client, world["town_a"], town, "sign")).status_code == 200
    clock.advance(timedelta(minutes=3))
    body = {"confirm_end_orders": True}
    closed = await incident_action(client, world["officer"], incident, "close", body)
    assert closed.status_code == 200
    clock.advance(timedelta(hours=3))
    answer = await client.get("/api/v1/kpi/units", headers=world["leader"])
    rates = {r["code"]: r for r in answer.json()}

    def figures(code: str, name: str) -> tuple[int, int]:
        return rates[code][name]["numerator"], rates[code][name]["denominator"]

    assert [figures("FIRE", n) for n in ("acceptance", "punctuality")] == [(0, 1), (0, 1)]
    assert [figures("TA", n) for n in ("acceptance", "punctuality")] == [(1, 1), (1, 1)]
    for code in ("FIRE", "TA"):
        assert rates[code]["turnout"]["rate"] is None  # arrival not yet due at the close
        assert rates[code]["feedback"]["rate"] is None
        assert rates[code]["closed_with_incident"] == 1
    month = clock.now().strftime("%Y-%m")
    page = await client.get(
        f"/api/v1/reports/bulletin?month={month}&format=html", headers=world["leader"]
    )
    rows = [row for row in page.text.split("<tr>") if "<td>签收</td>" in row]
    assert len(rows) == 1 and "单位FIRE" in rows[0] and "<td>1分钟</td>" in rows[0]
    assert "<td>到场</td>" not in page.text and "<td>办结</td>" not in page.text
