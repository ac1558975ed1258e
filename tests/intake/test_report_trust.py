"""统一接警 and trust: a report's time is the server's."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from tests.factories import bearer, make_county_with_two_towns
from yingji.core import clock as clock_module
from yingji.core.clock import ManualClock
from yingji.core.db import Database


def report(external_id: str, text: str, **extra: object) -> dict[str, object]:
    return {"channel": "hotline_119", "external_id": external_id, "text": text, **extra}


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
