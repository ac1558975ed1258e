"""查岗: the level above records calls to the duty of the divisions below it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest

from tests.duty.attendance_setup import COUNTY, TOWN_A, TOWN_B, make_duty_county, make_shift
from tests.factories import bearer, deliver_events
from yingji.core.clock import ManualClock
from yingji.core.db import Database


@pytest.fixture
async def people(db: Database, client: httpx.AsyncClient) -> dict[str, uuid.UUID]:
    return await make_duty_county(db)


async def test_the_county_records_a_spot_check_of_a_town_with_the_shift_that_answered(
    client: httpx.AsyncClient, db: Database, clock: ManualClock, people: dict[str, uuid.UUID]
) -> None:
    shift = await make_shift(
        db,
        division=TOWN_A,
        person_id=people["张三"],
        name="张三",
        starts_at=clock.now() - timedelta(hours=1),
    )
    leader = await bearer(client, "leader")
    made = await client.post(
        "/api/v1/duty/spot-checks",
        headers=leader,
        json={
            "division_adcode": TOWN_A,
            "answered": True,
            "answered_by_name": "张三",
            "answer_seconds": 12,
            "note": "<b>电话</b>",
        },
    )
    assert made.status_code == 201, made.text
    check = made.json()
    assert check["shift_id"] == str(shift) and check["checker_division_adcode"] == COUNTY
    assert check["note"] == "<b>电话</b>" and check["checked_at"].startswith("2026-07-01T08:00")
    # the town reads its own checks; another town does not see them
    listed = await client.get(
        "/api/v1/duty/spot-checks",
        params={"division": TOWN_A},
        headers=await bearer(client, "leader_a"),
    )
    assert [c["id"] for c in listed.json()["items"]] == [check["id"]]
    hidden = await client.get(
        "/api/v1/duty/spot-checks",
        params={"division": TOWN_A},
        headers=await bearer(client, "leader_b"),
    )
    assert hidden.status_code == 404


async def test_an_unanswered_spot_check_is_told_to_the_towns_duty_leaders(
    client: httpx.AsyncClient, db: Database, people: dict[str, uuid.UUID]
) -> None:
    made = await client.post(
        "/api/v1/duty/spot-checks",
        headers=await bearer(client, "leader"),
        json={"division_adcode": TOWN_B, "answered": False},
    )
    assert made.status_code == 201 and made.json()["shift_id"] is None
    await deliver_events(db)
    for username, kinds in (("leader_b", ["duty_spot_check_unanswered"]), ("leader_a", [])):
        told = await client.get("/api/v1/notifications", headers=await bearer(client, username))
        assert [n["kind"] for n in told.json()["items"]] == kinds


async def test_only_the_level_above_checks_and_only_below_itself(
    client: httpx.AsyncClient, people: dict[str, uuid.UUID]
) -> None:
    body = {"division_adcode": TOWN_A, "answered": True, "answer_seconds": 3}
    url = "/api/v1/duty/spot-checks"
    # a duty officer holds no duty.check
    officer = await client.post(url, headers=await bearer(client, "county"), json=body)
    assert officer.status_code == 403
    # a county checks its towns, never itself
    itself = await client.post(
        url, headers=await bearer(client, "leader"), json={**body, "division_adcode": COUNTY}
    )
    assert itself.status_code == 403 and itself.json()["error"]["code"] == "spot_check_not_below"
    # a town's leader does not reach the other town, nor its own level
    sideways = await client.post(
        url, headers=await bearer(client, "leader_b"), json={**body, "division_adcode": TOWN_A}
    )
    assert sideways.status_code == 404
    own = await client.post(url, headers=await bearer(client, "leader_a"), json=body)
    assert own.status_code == 403


async def test_a_spot_check_that_contradicts_itself_is_refused(
    client: httpx.AsyncClient, people: dict[str, uuid.UUID]
) -> None:
    leader = await bearer(client, "leader")
    cases: list[tuple[dict[str, object], str]] = [
        ({"answered": False}, "spot_check_answer_inconsistent"),
        ({"answer_seconds": None}, "spot_check_answer_inconsistent"),
        ({"checked_at": "2026-07-01T09:00:00Z"}, "spot_check_time"),  # ahead of now
        ({"checked_at": "2026-06-20T09:00:00Z"}, "spot_check_time"),  # over seven days back
        ({"answer_seconds": 601}, "validation_failed"),
    ]
    for change, code in cases:
        body = {"division_adcode": TOWN_A, "answered": True, "answer_seconds": 3, **change}
        refused = await client.post("/api/v1/duty/spot-checks", headers=leader, json=body)
        assert refused.status_code == 422, change
        assert refused.json()["error"]["code"] == code, change
    listed = await client.get(
        "/api/v1/duty/spot-checks", params={"division": TOWN_A}, headers=leader
    )
    assert listed.json()["items"] == []
