"""统一接警 and trust: a report's time is the server's, its receipt names only incidents the
reporter may read, and its numbers are numbers."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from tests.factories import bearer, make_county_with_two_towns, report
from yingji.core import clock as clock_module
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.incidents.models import Incident
from yingji.intake.models import Report


def public(external_id: str, **extra: object) -> dict[str, object]:
    return {
        "channel": "public_web",
        "external_id": external_id,
        "text": "河边有人落水",
        "reporter_phone": "13900000001",
        "lon": 119.05,
        "lat": 27.55,
        **extra,
    }


async def stored_report(db: Database, report_id: str) -> Report:
    async with db.unit_of_work(readonly=True) as session:
        found = await session.scalar(select(Report).where(Report.id == uuid.UUID(report_id)))
    assert found is not None
    return found


# --- received_at: the server's clock decides -----------------------------------------------------


async def test_back_dated_public_reports_count_against_the_hourly_limit(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    two_hours_ago = (clock.now() - timedelta(hours=2)).isoformat()
    answers = [
        await client.post(
            "/api/v1/intake/reports",
            headers=officer,
            json=public(f"web-back-{i}", received_at=two_hours_ago),
        )
        for i in range(4)
    ]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert answers[3].json()["error"]["code"] == "too_many_reports"
    # an hour of server time later the phone may report again, whatever the reports claimed
    clock.advance(timedelta(hours=1, minutes=1))
    later = await client.post(
        "/api/v1/intake/reports", headers=officer, json=public("web-back-9", received_at=None)
    )
    assert later.status_code == 201


async def test_a_report_claiming_a_time_in_the_future_does_not_escape_the_limit(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    tomorrow = (clock.now() + timedelta(days=1)).isoformat()
    sent = [
        (
            await client.post(
                "/api/v1/intake/reports",
                headers=officer,
                json=public(f"web-fut-{i}", received_at=tomorrow),
            )
        ).status_code
        for i in range(3)
    ]
    assert sent == [201, 201, 201]
    clock.advance(timedelta(minutes=30))
    fourth = await client.post("/api/v1/intake/reports", headers=officer, json=public("web-fut-4"))
    assert fourth.status_code == 429


async def test_a_time_outside_the_window_is_clamped_and_the_claimed_time_kept(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    now = clock.now()
    long_ago = datetime(now.year - 1, 3, 1, 8, 0, tzinfo=now.tzinfo)
    far_ahead = now + timedelta(days=2)
    old = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report(
            "119-t1", "甲镇老街居民楼着火", lon=119.05, lat=27.55, received_at=long_ago.isoformat()
        ),
    )
    ahead = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report(
            "119-t2", "乙镇水库边山体滑坡", lon=119.18, lat=27.58, received_at=far_ahead.isoformat()
        ),
    )
    fair = now - timedelta(hours=3)
    honest = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-t3", "甲镇学校门口有人打架", received_at=fair.isoformat()),
    )
    assert [a.status_code for a in (old, ahead, honest)] == [201, 201, 201]
    shown = {
        key: (
            await client.get(f"/api/v1/intake/reports/{a.json()['report_id']}", headers=officer)
        ).json()
        for key, a in (("old", old), ("ahead", ahead), ("honest", honest))
    }
    assert datetime.fromisoformat(shown["old"]["received_at"]) == now - timedelta(days=7)
    assert datetime.fromisoformat(shown["old"]["received_at_claimed"]) == long_ago
    assert datetime.fromisoformat(shown["ahead"]["received_at"]) == now + timedelta(minutes=5)
    assert datetime.fromisoformat(shown["ahead"]["received_at_claimed"]) == far_ahead
    assert datetime.fromisoformat(shown["honest"]["received_at"]) == fair
    assert shown["honest"]["received_at_claimed"] is None
    # the incident's number and first report time follow the clamped time
    local = clock_module.LOCAL_TZ
    for key, answer in (("old", old), ("ahead", ahead)):
        incident = (
            await client.get(f"/api/v1/incidents/{answer.json()['incident_id']}", headers=officer)
        ).json()
        moment = datetime.fromisoformat(shown[key]["received_at"])
        assert incident["number"].startswith(f"{moment.astimezone(local):%Y%m%d}-")
        assert datetime.fromisoformat(incident["first_reported_at"]) == moment


# --- the receipt names only what the reporter may read --------------------------------------------


async def test_a_town_reporter_is_not_told_the_county_incident_its_report_resembles(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    town = await bearer(client, "town_a")
    county_fire = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-s1", "老街5号居民楼着火了，浓烟很大"),
    )
    clock.advance(timedelta(minutes=4))
    from_town = await client.post(
        "/api/v1/intake/reports",
        headers=town,
        json=report("119-s2", "老街5号那栋居民楼着火，浓烟很大", lon=119.012, lat=27.512),
    )
    assert from_town.status_code == 201
    assert from_town.json()["suggestions"] == []
    # the officer, who may read both, sees the suggestion on the town's report
    seen = (
        await client.get(f"/api/v1/intake/reports/{from_town.json()['report_id']}", headers=officer)
    ).json()
    assert [s["incident_id"] for s in seen["suggestions"]] == [county_fire.json()["incident_id"]]
    mine = (
        await client.get(f"/api/v1/intake/reports/{from_town.json()['report_id']}", headers=town)
    ).json()
    assert mine["suggestions"] == []
    unreadable = await client.get(
        f"/api/v1/incidents/{county_fire.json()['incident_id']}", headers=town
    )
    assert unreadable.status_code == 404
    # nor does the town's own incident's report list name it
    own_incident = from_town.json()["incident_id"]
    listed = {
        who: (await client.get(f"/api/v1/incidents/{own_incident}/reports", headers=h)).json()
        for who, h in (("town", town), ("officer", officer))
    }
    assert [r["suggestions"] for r in listed["town"]["items"]] == [[]]
    assert [s["incident_id"] for s in listed["officer"]["items"][0]["suggestions"]] == [
        county_fire.json()["incident_id"]
    ]


async def test_a_report_joined_to_another_towns_incident_says_duplicate_without_naming_it(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    town = await bearer(client, "town_a")
    # a fire just across the line, in 乙镇
    first = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-j1", "界桥边一栋居民楼着火了，浓烟滚滚", lon=119.1004, lat=27.55),
    )
    assert first.status_code == 201
    clock.advance(timedelta(minutes=3))
    joined = await client.post(
        "/api/v1/intake/reports",
        headers=town,
        json=report("119-j2", "界桥边那栋居民楼起火了，冒浓烟", lon=119.0997, lat=27.5501),
    )
    assert joined.status_code == 201
    receipt = joined.json()
    assert receipt["duplicate"] is True
    assert receipt["incident_id"] is None
    assert all(s["incident_id"] != first.json()["incident_id"] for s in receipt["suggestions"])
    again = await client.post(
        "/api/v1/intake/reports",
        headers=town,
        json=report("119-j2", "界桥边那栋居民楼起火了，冒浓烟", lon=119.0997, lat=27.5501),
    )
    assert again.status_code == 200
    assert again.json()["duplicate"] is True and again.json()["incident_id"] is None
    mine = (await client.get(f"/api/v1/intake/reports/{receipt['report_id']}", headers=town)).json()
    assert mine["incident_id"] is None
    # the officer, who may read it, is told which incident it joined
    seen = (
        await client.get(f"/api/v1/intake/reports/{receipt['report_id']}", headers=officer)
    ).json()
    assert seen["incident_id"] == first.json()["incident_id"]


async def test_a_town_reporter_is_told_the_incident_of_its_own_town(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    town = await bearer(client, "town_a")
    first = await client.post(
        "/api/v1/intake/reports",
        headers=town,
        json=report("119-o1", "甲镇老街5号居民楼着火了，浓烟滚滚", lon=119.05, lat=27.55),
    )
    clock.advance(timedelta(minutes=3))
    second = await client.post(
        "/api/v1/intake/reports",
        headers=town,
        json=report("119-o2", "老街那边一栋居民楼起火了，冒浓烟", lon=119.0504, lat=27.5502),
    )
    assert first.json()["incident_id"] is not None
    assert second.json()["duplicate"] is True
    assert second.json()["incident_id"] == first.json()["incident_id"]


# --- casualties are whole numbers --------------------------------------------------------------


async def test_casualties_must_be_whole_numbers_not_booleans_or_text(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    for n, value in enumerate((True, False, "3", 2.5, None)):
        refused = await client.post(
            "/api/v1/intake/reports",
            headers=officer,
            json=report(f"119-c{n}", "厂房着火", casualties={"dead": value}),
        )
        assert refused.status_code == 422, value
        assert refused.json()["error"]["code"] == "validation_failed"
        preview = await client.post(
            "/api/v1/intake/classify",
            headers=officer,
            json={"text": "厂房着火", "casualties": {"injured": value}},
        )
        assert preview.status_code == 422, value
    async with db.unit_of_work(readonly=True) as session:
        assert (await session.scalars(select(Report))).all() == []
        assert (await session.scalars(select(Incident))).all() == []
    # a JSON number with a zero fraction is a whole number (JSON Schema's "integer")
    whole = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-c9", "厂房着火", casualties={"dead": 3.0, "trapped": 2}),
    )
    assert whole.status_code == 201
    stored = await stored_report(db, whole.json()["report_id"])
    assert (stored.dead, stored.trapped) == (3, 2)


async def test_the_classify_words_are_described_as_objects_in_the_openapi_document(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    words = schemas["ClassifyResult"]["properties"]["words"]
    assert words["type"] == "array"
    item = schemas[words["items"]["$ref"].rsplit("/", 1)[1]]
    assert item["type"] == "object"
    assert item["properties"]["word"]["type"] == "string"
    assert item["properties"]["weight"]["type"] == "number"
    assert set(item["required"]) == {"word", "weight"}
    answer = (
        await client.post(
            "/api/v1/intake/classify", headers=officer, json={"text": "厂房着火了，有浓烟"}
        )
    ).json()
    assert {"着火", "浓烟"} <= {w["word"] for w in answer["words"]}
    assert all(isinstance(w["weight"], float) for w in answer["words"])
