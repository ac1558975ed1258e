"""POST /api/v1/intake/candidates: possible duplicates of a draft report, as the officer types."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.factories import bearer, counts, make_county_with_two_towns
from yingji.core.clock import ManualClock
from yingji.core.db import Database

FIRE = "甲镇老街5号居民楼着火了，浓烟滚滚"


async def open_fire(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, object]:
    answer = await client.post(
        "/api/v1/intake/reports",
        headers=headers,
        json={
            "channel": "hotline_119",
            "external_id": "119-desk-1",
            "text": FIRE,
            "address": "甲镇老街5号",
            "lon": 119.05,
            "lat": 27.55,
        },
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, object] = answer.json()
    return body


async def test_draft_about_the_same_fire_lists_the_incident_with_distance_time_and_reason(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    first = await open_fire(client, officer)
    clock.advance(timedelta(minutes=7))
    answer = await client.post(
        "/api/v1/intake/candidates",
        headers=officer,
        json={"text": "老街那边一栋居民楼起火了，冒浓烟", "lon": 119.0512, "lat": 27.5507},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["category_code"] == "accident.fire"
    assert [c["incident_id"] for c in body["candidates"]] == [first["incident_id"]]
    best = body["candidates"][0]
    assert best["number"] and best["suggested"] is True
    assert 100 < best["distance_m"] < 160
    assert best["minutes"] == 7.0
    assert 0 < best["score"] <= 1 and "same category" in best["reason"]
    assert body["outcome"] in ("join", "suggest")
    # a preview stores nothing
    assert await counts(db) == (1, 1)


async def test_fire_in_the_other_town_or_hours_later_is_no_candidate(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    await open_fire(client, officer)
    far = await client.post(
        "/api/v1/intake/candidates",
        headers=officer,
        json={"text": "乙镇一居民楼着火，浓烟滚滚", "lon": 119.18, "lat": 27.58},
    )
    assert far.json()["candidates"] == [] and far.json()["outcome"] == "new"
    late = await client.post(
        "/api/v1/intake/candidates",
        headers=officer,
        json={
            "text": FIRE,
            "lon": 119.05,
            "lat": 27.55,
            "received_at": (clock.now() + timedelta(hours=12)).isoformat(),
        },
    )
    assert late.json()["candidates"] == [] and late.json()["outcome"] == "new"


async def test_draft_without_a_point_is_placed_by_its_address_like_a_report(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    first = await open_fire(client, officer)
    answer = await client.post(
        "/api/v1/intake/candidates",
        headers=officer,
        json={"text": "居民楼起火，冒浓烟", "address": "甲镇老街"},
    )
    body = answer.json()
    assert body["division_adcode"] == "331126101000" and body["lon"] is not None
    assert first["incident_id"] in [c["incident_id"] for c in body["candidates"]]


async def test_given_category_is_used_and_an_unknown_one_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    await open_fire(client, officer)
    flood = await client.post(
        "/api/v1/intake/candidates",
        headers=officer,
        json={"text": FIRE, "lon": 119.05, "lat": 27.55, "category_code": "natural.flood"},
    )
    assert flood.status_code == 200 and flood.json()["category_code"] == "natural.flood"
    assert flood.json()["candidates"] == []
    unknown = await client.post(
        "/api/v1/intake/candidates",
        headers=officer,
        json={"text": FIRE, "category_code": "no.such"},
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_category"


async def test_incidents_outside_the_callers_scope_are_not_offered(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    await open_fire(client, await bearer(client, "county"))
    other_town = await bearer(client, "town_b")
    answer = await client.post(
        "/api/v1/intake/candidates",
        headers=other_town,
        json={"text": FIRE, "lon": 119.05, "lat": 27.55},
    )
    assert answer.status_code == 200
    assert answer.json()["candidates"] == []
