"""Rosters through the API: 1+1+X+X positions, a month generated from a day/night rotation, the
conflicts it holds, edits, swaps asked by the person and decided by a manager, who is on duty
now — each with who may and who may not (another town's roster is 404)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.duty.roster_helpers import (
    API,
    COUNTY,
    TOWN_A,
    TOWN_B,
    County,
    day_night,
    make_county,
    roster_month,
    set_positions,
)
from tests.factories import bearer, deliver_events
from yingji.core.clock import ManualClock
from yingji.core.db import Database


@pytest.fixture
async def county(app: object, db: Database) -> County:
    return await make_county(db)


async def month_of(
    client: httpx.AsyncClient, headers: dict[str, str], month: str = "2026-08"
) -> dict[str, Any]:
    answer = await client.get(
        f"{API}/roster", params={"division": COUNTY, "month": month}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def shifts_of(body: dict[str, Any], position: str) -> list[dict[str, Any]]:
    return [s for s in body["shifts"] if s["position"] == position]


async def test_positions_are_one_leader_one_chief_and_officers(
    client: httpx.AsyncClient, county: County
) -> None:
    manager = await bearer(client, "manager")
    two_leaders = await client.put(
        f"{API}/positions",
        params={"division": COUNTY},
        headers=manager,
        json={
            "positions": [
                {"position": "leader", "seats": 2},
                {"position": "chief"},
                {"position": "officer"},
            ]
        },
    )
    assert two_leaders.status_code == 422
    assert two_leaders.json()["error"]["code"] == "duty_positions_not_1_1_x_x"
    assert (
        await client.get(f"{API}/positions", params={"division": COUNTY}, headers=manager)
    ).json()["items"] == []

    saved = await set_positions(client, manager)
    assert saved.status_code == 200, saved.text
    assert [(p["position"], p["label"]) for p in saved.json()["items"]] == [
        ("leader", ""),
        ("chief", ""),
        ("officer", ""),
        ("professional", "水利"),
    ]
    assert (await set_positions(client, await bearer(client, "county"))).status_code == 403
    town_leader = await bearer(client, "leader_a")
    assert (await set_positions(client, town_leader, TOWN_B)).status_code == 404
    assert (await set_positions(client, town_leader, TOWN_A)).status_code == 200
    assert (
        await client.get(f"{API}/positions", params={"division": COUNTY}, headers=town_leader)
    ).status_code == 404


async def test_a_pattern_must_tile_its_day(client: httpx.AsyncClient, county: County) -> None:
    manager = await bearer(client, "manager")
    gap = await client.post(
        f"{API}/patterns",
        headers=manager,
        json={
            "division_adcode": COUNTY,
            "name": "有空档",
            "kind": "day_night",
            "shifts": [
                {"code": "day", "start": "08:00", "hours": 12},
                {"code": "night", "start": "21:00", "hours": 12},
            ],
        },
    )
    assert gap.status_code == 422
    assert gap.json()["error"]["code"] == "shift_pattern_invalid"
    await day_night(client, manager)
    again = await client.post(
        f"{API}/patterns",
        headers=manager,
        json={
            "division_adcode": COUNTY,
            "name": "白夜班",
            "kind": "full_day",
            "shifts": [{"code": "day", "start": "08:30", "hours": 24}],
        },
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "shift_pattern_exists"


async def test_generator_fills_a_month_from_the_rotation_and_refuses_a_second_fill(
    client: httpx.AsyncClient, county: County
) -> None:
    made = await roster_month(
        client, county, leader=["L1", "L2"], chief=["C1", "C2"], officer=["O1", "O2"]
    )
    assert made.status_code == 201, made.text
    assert made.json()["created"] == 31 * 2 * 4  # 31 days, day and night, four seats
    body = await month_of(client, await bearer(client, "viewer"))
    leaders = shifts_of(body, "leader")
    assert len(leaders) == 62
    # 1 August 08:00 in Beijing is midnight UTC; the day shift ends when the night one starts
    assert leaders[0]["starts_at"] == "2026-08-01T00:00:00Z"
    assert leaders[0]["ends_at"] == leaders[1]["starts_at"] == "2026-08-01T12:00:00Z"
    assert [s["person_name"] for s in leaders[:4]] == ["甲", "乙", "甲", "乙"]
    conflicts = body["conflicts"]
    # the water-resources seat has nobody: 62 empty seats, nothing else
    assert {c["code"] for c in conflicts} == {"empty_seat"} and len(conflicts) == 62

    manager = await bearer(client, "manager")
    pattern = (
        await client.get(f"{API}/patterns", params={"division": COUNTY}, headers=manager)
    ).json()
    again = await client.post(
        f"{API}/roster/generate",
        headers=manager,
        json={
            "division_adcode": COUNTY,
            "month": "2026-08",
            "pattern_id": pattern["items"][0]["id"],
        },
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "roster_month_exists"
    officer = await bearer(client, "county")
    assert (
        await client.post(
            f"{API}/roster/generate",
            headers=officer,
            json={
                "division_adcode": COUNTY,
                "month": "2026-09",
                "pattern_id": pattern["items"][0]["id"],
            },
        )
    ).status_code == 403


async def test_conflicts_name_one_person_in_two_places_and_too_little_rest(
    client: httpx.AsyncClient, county: County
) -> None:
    made = await roster_month(
        client, county, leader=["L1"], chief=["L1", "C1"], officer=["O1", "O2"]
    )
    assert made.status_code == 201, made.text
    codes = {c["code"] for c in made.json()["conflicts"]}
    assert codes == {"empty_seat", "double_booked", "short_rest"}
    body = await month_of(client, await bearer(client, "manager"))
    short = [c for c in body["conflicts"] if c["code"] == "short_rest"]
    assert (
        short[0]["person_name"] == "甲"
        and short[0]["rest_hours"] == 0
        and short[0]["min_rest_hours"] == 8
    )


async def test_a_manager_edits_a_shift_but_never_into_two_places(
    client: httpx.AsyncClient, county: County, clock: ManualClock
) -> None:
    await roster_month(
        client, county, leader=["L1", "L2"], chief=["C1", "C2"], officer=["O1", "O2"]
    )
    manager = await bearer(client, "manager")
    body = await month_of(client, manager)
    chief = shifts_of(body, "chief")[0]
    url = f"{API}/shifts/{chief['id']}"
    doubled = await client.patch(
        url, headers=manager, json={"version": 1, "person_id": str(county.people["L1"])}
    )
    assert doubled.status_code == 409 and doubled.json()["error"]["code"] == "duty_double_booked"
    moved = await client.patch(
        url, headers=manager, json={"version": 1, "person_id": str(county.people["TA1"])}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["person_name"] == "庚" and moved.json()["version"] == 2
    stale = await client.patch(url, headers=manager, json={"version": 1, "person_id": None})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_version"
    town_leader = await bearer(client, "leader_a")
    assert (
        await client.patch(url, headers=town_leader, json={"version": 2, "person_id": None})
    ).status_code == 404
    clock.set(datetime(2026, 9, 1, tzinfo=UTC))
    manager = await bearer(client, "manager")  # a new token at the new time
    over = await client.patch(url, headers=manager, json={"version": 2, "person_id": None})
    assert over.status_code == 409 and over.json()["error"]["code"] == "shift_over"


async def test_the_person_on_a_shift_asks_a_swap_and_a_manager_approves_it(
    client: httpx.AsyncClient, db: Database, county: County
) -> None:
    await roster_month(
        client, county, leader=["L1", "L2"], chief=["C1", "C2"], officer=["O1", "O2"]
    )
    manager = await bearer(client, "manager")
    officers = shifts_of(await month_of(client, manager), "officer")
    mine, theirs = officers[0], officers[1]
    assert (mine["person_name"], theirs["person_name"]) == ("戊", "己")
    ask = {"shift_id": mine["id"], "with_shift_id": theirs["id"], "reason": "家中有事"}

    not_mine = await client.post(f"{API}/swaps", headers=await bearer(client, "desk"), json=ask)
    assert not_mine.status_code == 403 and not_mine.json()["error"]["code"] == "not_your_shift"
    assert (
        await client.post(f"{API}/swaps", headers=await bearer(client, "viewer"), json=ask)
    ).status_code == 403
    officer = await bearer(client, "county")
    asked = await client.post(f"{API}/swaps", headers=officer, json=ask)
    assert asked.status_code == 201, asked.text
    assert asked.json()["state"] == "requested"
    twice = await client.post(f"{API}/swaps", headers=officer, json=ask)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "swap_pending"

    swap = asked.json()["id"]
    assert (
        await client.post(f"{API}/swaps/{swap}/approve", headers=officer, json={})
    ).status_code == 403
    assert (
        await client.post(
            f"{API}/swaps/{swap}/approve", headers=await bearer(client, "leader_a"), json={}
        )
    ).status_code == 404
    approved = await client.post(
        f"{API}/swaps/{swap}/approve", headers=manager, json={"note": "同意"}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    after = shifts_of(await month_of(client, manager), "officer")
    assert (after[0]["person_name"], after[1]["person_name"]) == ("己", "戊")
    again = await client.post(f"{API}/swaps/{swap}/reject", headers=manager, json={})
    assert again.status_code == 409 and again.json()["error"]["code"] == "swap_decided"

    await deliver_events(db)
    told = (await client.get("/api/v1/notifications", headers=officer)).json()
    assert [n["kind"] for n in told["items"]] == ["duty_swap_approved"]
    listed = (await client.get(f"{API}/swaps", params={"division": COUNTY}, headers=manager)).json()
    assert [s["state"] for s in listed["items"]] == ["approved"]


async def test_a_swap_that_would_double_book_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, county: County
) -> None:
    await roster_month(
        client, county, leader=["L1", "L2"], chief=["C1", "C2"], officer=["O1", "O2"]
    )
    manager = await bearer(client, "manager")
    chief = shifts_of(await month_of(client, manager), "chief")[0]
    asked = await client.post(
        f"{API}/swaps",
        headers=manager,
        json={"shift_id": chief["id"], "to_person_id": str(county.people["L1"])},
    )
    assert asked.status_code == 201, asked.text
    refused = await client.post(
        f"{API}/swaps/{asked.json()['id']}/approve", headers=manager, json={}
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "duty_double_booked"
    assert shifts_of(await month_of(client, manager), "chief")[0]["person_name"] == "丙"
    pending = (
        await client.get(
            f"{API}/swaps", params={"division": COUNTY, "state": "requested"}, headers=manager
        )
    ).json()
    assert len(pending["items"]) == 1
    rejected = await client.post(
        f"{API}/swaps/{asked.json()['id']}/reject", headers=manager, json={"note": "冲突"}
    )
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"


async def test_now_names_who_sits_each_seat_and_who_comes_next(
    client: httpx.AsyncClient, county: County, clock: ManualClock
) -> None:
    await roster_month(
        client, county, leader=["L1", "L2"], chief=["C1", "C2"], officer=["O1", "O2"]
    )
    viewer = await bearer(client, "viewer")
    at = "2026-08-03T13:00:00+08:00"  # the day shift of 3 August (the 5th shift: 甲 again)
    now = await client.get(f"{API}/now", params={"division": COUNTY, "at": at}, headers=viewer)
    assert now.status_code == 200, now.text
    body = now.json()
    assert body["at"] == "2026-08-03T05:00:00Z"
    assert [(s["position"], s["person_name"]) for s in body["current"]] == [
        ("leader", "甲"),
        ("chief", "丙"),
        ("officer", "戊"),
        ("professional", None),
    ]
    assert [(s["position"], s["person_name"]) for s in body["next"]][:3] == [
        ("leader", "乙"),
        ("chief", "丁"),
        ("officer", "己"),
    ]
    assert {s["starts_at"] for s in body["next"]} == {"2026-08-03T12:00:00Z"}
    assert set(body["current"][0]) == {
        "shift_id", "position", "label", "seat", "person_id", "person_name",
        "starts_at", "ends_at", "state", "checked_in_at",
    }  # fmt: skip
    clock.set(datetime(2026, 8, 3, 13, tzinfo=UTC))  # 21:00 in Beijing: the night shift
    viewer = await bearer(client, "viewer")
    tonight = (await client.get(f"{API}/now", params={"division": COUNTY}, headers=viewer)).json()
    assert tonight["current"][0]["person_name"] == "乙"
    town = await bearer(client, "leader_a")
    assert (
        await client.get(f"{API}/now", params={"division": COUNTY}, headers=town)
    ).status_code == 404
    empty = (await client.get(f"{API}/now", params={"division": TOWN_A}, headers=town)).json()
    assert empty["current"] == [] and empty["next"] == []
    assert (
        await client.get(f"{API}/now", params={"division": "12"}, headers=viewer)
    ).status_code == 422
