"""统一接警 through the public API: idempotency, normalisation, matching, bad input."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from tests.factories import bearer, counts, make_county_with_two_towns, report
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.incidents import service as incidents_service
from yingji.incidents.models import Incident
from yingji.intake.models import Attachment

# a 1×1 PNG: attachments are decoded, so it must be a real one
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=="
)


async def first_fire_on_old_street(
    client: httpx.AsyncClient, db: Database, external_id: str
) -> tuple[dict[str, str], httpx.Response]:
    """The county with two towns, its officer, and the first call about a fire in 甲镇老街."""
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    first = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report(external_id, "甲镇老街5号居民楼着火了，浓烟滚滚", lon=119.0500, lat=27.5500),
    )
    return officer, first


async def test_same_channel_and_external_id_returns_the_stored_report(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    body = report("119-0001", "甲镇老街一居民楼着火，浓烟很大", lon=119.05, lat=27.55)
    first = await client.post("/api/v1/intake/reports", json=body, headers=officer)
    again = await client.post("/api/v1/intake/reports", json=body, headers=officer)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["report_id"] == again.json()["report_id"]
    assert first.json()["incident_id"] == again.json()["incident_id"]
    assert await counts(db) == (1, 1)


async def test_retries_racing_the_first_attempt_store_one_report(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    body = report("119-0002", "甲镇老街一居民楼着火，浓烟很大", lon=119.05, lat=27.55)
    answers = await asyncio.gather(
        *(client.post("/api/v1/intake/reports", json=body, headers=officer) for _ in range(6))
    )
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert len({a.json()["report_id"] for a in answers}) == 1
    assert len({a.json()["incident_id"] for a in answers}) == 1
    assert await counts(db) == (1, 1)


async def test_a_retry_after_its_incident_was_cancelled_stores_nothing_new(
    client: httpx.AsyncClient, db: Database
) -> None:
    """The retry is matched before its insert finds the stored report: with the first
    incident no longer open it would open another, which must not be left behind."""
    officer, first = await first_fire_on_old_street(client, db, "119-0009")
    incident = first.json()["incident_id"]
    cancelled = await client.post(
        f"/api/v1/incidents/{incident}/cancel",
        headers=officer,
        json={"kind": "false_report", "reason": "报警人承认是恶作剧"},
    )
    assert cancelled.status_code == 200
    again = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-0009", "甲镇老街5号居民楼着火了，浓烟滚滚", lon=119.0500, lat=27.5500),
    )
    assert again.status_code == 200
    assert again.json()["report_id"] == first.json()["report_id"]
    assert again.json()["incident_id"] == incident
    assert await counts(db) == (1, 1)


async def test_report_is_classified_located_and_levelled_with_its_reasons(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    answer = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report(
            "119-0002",
            "厂房着火了，有浓烟，三楼有人被困",
            lon=119.05,
            lat=27.55,
            casualties={"dead": 3, "injured": 0, "missing": 0, "trapped": 2},
        ),
    )
    assert answer.status_code == 201
    stored = (
        await client.get(f"/api/v1/intake/reports/{answer.json()['report_id']}", headers=officer)
    ).json()
    assert stored["category_code"] == "accident.fire"
    assert stored["category_source"] == "keywords"
    assert {"着火", "浓烟"} <= {word for word, _ in stored["category_words"]}
    assert stored["located"] and stored["division_adcode"] == "331126101000"
    assert stored["suggested_level"] == "III" and "3" in stored["level_reason"]


async def test_address_text_is_placed_through_the_gazetteer(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    placed = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-0003", "路边树倒了挡住了车道", address="乙镇政府门口"),
    )
    nowhere = await client.post(
        "/api/v1/intake/reports", headers=officer, json=report("119-0004", "有人打架")
    )
    placed_report = (
        await client.get(f"/api/v1/intake/reports/{placed.json()['report_id']}", headers=officer)
    ).json()
    assert placed_report["located"] and placed_report["division_adcode"] == "331126102000"
    assert placed_report["location_source"] == "division"
    waiting = (await client.get("/api/v1/intake/reports?located=false", headers=officer)).json()
    assert [r["id"] for r in waiting["items"]] == [nowhere.json()["report_id"]]
    located = await client.post(
        f"/api/v1/intake/reports/{nowhere.json()['report_id']}/locate",
        headers=officer,
        json={"lon": 119.05, "lat": 27.55},
    )
    assert located.json()["located"] and located.json()["division_adcode"] == "331126101000"


async def test_second_call_about_the_same_fire_joins_the_incident(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    officer, first = await first_fire_on_old_street(client, db, "119-0010")
    clock.advance(timedelta(minutes=6))
    second = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json={
            "channel": "hotline_110",
            "external_id": "110-77",
            "lon": 119.0512,
            "lat": 27.5507,
            "text": "老街那边一栋居民楼起火了，冒浓烟",
        },
    )
    assert second.status_code == 201
    assert second.json()["duplicate"] is True
    assert second.json()["incident_id"] == first.json()["incident_id"]
    assert second.json()["reason"]
    incident = (
        await client.get(f"/api/v1/incidents/{first.json()['incident_id']}", headers=officer)
    ).json()
    assert incident["report_count"] == 2
    # a fire far away in the other town is another incident
    other = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-0011", "乙镇一居民楼着火，浓烟滚滚", lon=119.18, lat=27.58),
    )
    assert other.json()["duplicate"] is False
    assert other.json()["incident_id"] != first.json()["incident_id"]


async def test_calls_about_one_fire_arriving_at_once_each_count_in_the_incident(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    officer, first = await first_fire_on_old_street(client, db, "119-0100")
    clock.advance(timedelta(minutes=3))
    calls = [
        report(
            f"110-{n}",
            "老街那边一栋居民楼起火了，冒浓烟，有人被困",
            lon=119.0504,
            lat=27.5502,
            casualties={"trapped": n},
        )
        for n in range(1, 9)
    ]
    answers = await asyncio.gather(
        *(client.post("/api/v1/intake/reports", headers=officer, json=c) for c in calls)
    )
    assert [a.status_code for a in answers] == [201] * 8
    assert {a.json()["incident_id"] for a in answers} == {first.json()["incident_id"]}
    incident = (
        await client.get(f"/api/v1/incidents/{first.json()['incident_id']}", headers=officer)
    ).json()
    # on PostgreSQL the joins run side by side: none may overwrite another's count
    assert incident["report_count"] == 9
    assert incident["trapped"] == 8


async def test_bad_input_gets_a_stable_code_and_stores_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")

    def attached(content_type: str, data: bytes) -> list[dict[str, str]]:
        return [
            {
                "filename": "a",
                "content_type": content_type,
                "data_base64": base64.b64encode(data).decode(),
            }
        ]

    cases = [
        ({"channel": "pager", "external_id": "x", "text": "着火"}, 422, "validation_failed"),
        (report("b1", "着火", lon=2.35, lat=48.85), 422, "validation_failed"),
        (report("b2", "着火", lon=119.0), 422, "validation_failed"),
        (report("b3", "x" * 4001), 422, "validation_failed"),
        (report("b4", "着火", category_code="accident.nonsense"), 422, "unknown_category"),
        (
            report("b5", "着火", attachments=attached("image/png", b"GIF89a")),
            422,
            "attachment_type_not_allowed",
        ),
        (
            report("b6", "着火", attachments=attached("application/x-msdownload", b"MZ")),
            422,
            "attachment_type_not_allowed",
        ),
        (report("b7", "着火", received_at="2026-07-01T08:00:00"), 422, "validation_failed"),
        (
            report(
                "b8",
                "着火",
                attachments=[{"filename": "a", "content_type": "image/png", "data_base64": "***"}],
            ),
            422,
            "validation_failed",
        ),
    ]
    for body, status, code in cases:
        response = await client.post("/api/v1/intake/reports", headers=officer, json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body
    malformed = await client.post(
        "/api/v1/intake/reports",
        content=b"{",
        headers={**officer, "Content-Type": "application/json"},
    )
    assert malformed.status_code == 422
    assert await counts(db) == (0, 0)


async def test_attachment_is_stored_and_served_back(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    photo = {
        "filename": "scene.png",
        "content_type": "image/png",
        "data_base64": base64.b64encode(PNG).decode(),
    }
    answer = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-0020", "着火了", attachments=[photo]),
    )
    assert answer.status_code == 201
    report_id = answer.json()["report_id"]
    listed = (
        await client.get(f"/api/v1/intake/reports/{report_id}/attachments", headers=officer)
    ).json()
    assert [(a["kind"], a["size"]) for a in listed] == [("photo", len(PNG))]
    raw = await client.get(
        f"/api/v1/intake/reports/{report_id}/attachments/{listed[0]['id']}", headers=officer
    )
    assert raw.content == PNG and raw.headers["content-type"] == "image/png"
    async with db.unit_of_work(readonly=True) as session:
        assert await session.scalar(select(func.count()).select_from(Attachment)) == 1


async def test_public_reports_wait_for_verification_and_are_rate_limited(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    public = {
        "channel": "public_web",
        "text": "河边有人落水",
        "reporter_phone": "13900000001",
        "lon": 119.05,
        "lat": 27.55,
    }
    answers = [
        await client.post(
            "/api/v1/intake/reports", headers=officer, json={**public, "external_id": f"web-{i}"}
        )
        for i in range(4)
    ]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert answers[3].json()["error"]["code"] == "too_many_reports"
    first = answers[0].json()
    assert first["status"] == "pending_verification" and first["incident_id"] is None
    accepted = await client.post(
        f"/api/v1/intake/reports/{first['report_id']}/accept", headers=officer
    )
    assert accepted.status_code == 200 and accepted.json()["incident_id"]
    assert accepted.json()["status"] == "accepted"


async def test_batch_takes_each_report_on_its_own(client: httpx.AsyncClient, db: Database) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    batch = {
        "reports": [
            report("batch-1", "甲镇山体滑坡，路被堵了", lon=119.02, lat=27.52),
            report("batch-2", "着火", category_code="accident.nonsense"),
            report("batch-1", "甲镇山体滑坡，路被堵了", lon=119.02, lat=27.52),
        ]
    }
    answer = await client.post("/api/v1/intake/reports:batch", headers=officer, json=batch)
    assert answer.status_code == 200
    body = answer.json()
    assert [i["status"] for i in body["items"]] == [201, 422, 200]
    assert body["items"][1]["error"]["code"] == "unknown_category"
    assert (body["created"], body["existing"], body["failed"]) == (1, 1, 1)
    too_many = await client.post(
        "/api/v1/intake/reports:batch",
        headers=officer,
        json={"reports": [report(f"x{i}", "着火") for i in range(501)]},
    )
    assert too_many.status_code == 422


async def test_classify_preview_says_which_words_decided(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    answer = (
        await client.post(
            "/api/v1/intake/classify",
            headers=officer,
            json={"text": "吃了喜酒以后十几个人上吐下泻", "casualties": {"injured": 12}},
        )
    ).json()
    assert answer["category_code"].startswith("public_health.")
    assert answer["words"] and answer["suggested_level"] in ("I", "II", "III", "IV")
    places = (await client.get("/api/v1/intake/gazetteer?q=甲镇", headers=officer)).json()
    assert places[0]["adcode"] == "331126101000"


async def test_report_placed_by_its_address_is_matched_by_division_and_takes_a_gps_point(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    """A town's centroid is no GPS fix: a fire reported by address is matched to a GPS report
    5 km from that centroid by division, and the incident then takes the measured point."""
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    by_address = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-0020", "老街居民楼着火了，浓烟很大", address="甲镇"),
    )
    incident_id = by_address.json()["incident_id"]
    opened = (await client.get(f"/api/v1/incidents/{incident_id}", headers=officer)).json()
    assert (opened["lon"], opened["lat"]) != (None, None)  # the town's centroid, for the map
    clock.advance(timedelta(minutes=5))
    by_gps = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-0021", "老街一栋居民楼着火，浓烟很大", lon=119.012, lat=27.512),
    )
    assert by_gps.status_code == 201
    assert by_gps.json()["incident_id"] == incident_id, by_gps.json()["reason"]
    assert "same town (no point)" in by_gps.json()["reason"]
    joined = (await client.get(f"/api/v1/incidents/{incident_id}", headers=officer)).json()
    assert (joined["lon"], joined["lat"]) == (119.012, 27.512)
    assert joined["report_count"] == 2
    async with db.unit_of_work(readonly=True) as session:
        incident = await session.get(Incident, uuid.UUID(incident_id))
        assert incident is not None and incident.location_source == "point"


async def test_a_measured_point_is_not_replaced_by_a_later_address(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    by_gps = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-0030", "老街居民楼着火了，浓烟很大", lon=119.012, lat=27.512),
    )
    clock.advance(timedelta(minutes=3))
    by_address = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-0031", "老街一栋居民楼着火，浓烟很大", address="甲镇"),
    )
    incident_id = by_gps.json()["incident_id"]
    assert by_address.json()["incident_id"] == incident_id, by_address.json()["reason"]
    incident = (await client.get(f"/api/v1/incidents/{incident_id}", headers=officer)).json()
    assert (incident["lon"], incident["lat"]) == (119.012, 27.512)


async def test_report_placed_nowhere_is_offered_the_incidents_of_the_centres_area(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    fire = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-0040", "老街5号居民楼着火了，浓烟很大", lon=119.012, lat=27.512),
    )
    clock.advance(timedelta(minutes=4))
    unplaced = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-0041", "老街5号那栋居民楼着火，浓烟很大"),
    )
    answer = unplaced.json()
    assert answer["duplicate"] is False  # a text alone does not join; the officer decides
    assert [s["incident_id"] for s in answer["suggestions"]] == [fire.json()["incident_id"]]


async def test_incident_placed_nowhere_is_offered_to_a_later_report_placed_in_a_town(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    unplaced = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-0050", "老街5号居民楼着火了，浓烟很大"),
    )
    clock.advance(timedelta(minutes=4))
    placed = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-0051", "老街5号那栋居民楼着火，浓烟很大", lon=119.012, lat=27.512),
    )
    suggested = [s["incident_id"] for s in placed.json()["suggestions"]]
    assert suggested == [unplaced.json()["incident_id"]]


async def test_gps_fix_outside_every_boundary_takes_its_division_from_the_address(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    answer = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-0060", "路边树倒了挡住了车道", address="乙镇", lon=118.99, lat=27.55),
    )
    stored = (
        await client.get(f"/api/v1/intake/reports/{answer.json()['report_id']}", headers=officer)
    ).json()
    assert (stored["lon"], stored["lat"]) == (118.99, 27.55)
    assert stored["location_source"] == "point" and stored["division_adcode"] == "331126102000"


async def test_an_incident_number_drawn_twice_in_a_day_is_drawn_again(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Numbers are random within their day: the second incident to draw a taken one gets
    another, and the report that opened it is answered 201 like any other."""
    officer, first = await first_fire_on_old_street(client, db, "119-0101")
    taken = (
        await client.get(f"/api/v1/incidents/{first.json()['incident_id']}", headers=officer)
    ).json()["number"]
    draws = iter([taken, taken, f"{taken[:9]}ABCDEF"])
    monkeypatch.setattr(incidents_service, "new_number", lambda _moment: next(draws))
    other = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("110-0102", "乙镇政府门口有人打架，有人受伤", address="乙镇政府门口"),
    )
    assert other.status_code == 201
    assert other.json()["incident_id"] != first.json()["incident_id"]
    number = (
        await client.get(f"/api/v1/incidents/{other.json()['incident_id']}", headers=officer)
    ).json()["number"]
    assert number == f"{taken[:9]}ABCDEF"
    assert await counts(db) == (2, 2)
