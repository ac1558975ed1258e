"""The incident lifecycle through the API: transitions, levels, timeline, merge, split, scope,
and the statutory first report (首报) deadline under a controllable clock."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
import pytest

from tests.factories import bearer, make_county_with_two_towns, make_user
from yingji.app import install_jobs
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.events import Bus
from yingji.core.timers import TimerWorker, handlers


async def open_incident(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    external_id: str,
    text: str = "甲镇一仓库着火，浓烟很大",
    lon: float = 119.05,
    lat: float = 27.55,
    **extra: object,
) -> str:
    answer = await client.post(
        "/api/v1/intake/reports",
        headers=headers,
        json={
            "channel": "hotline_119",
            "external_id": external_id,
            "text": text,
            "lon": lon,
            "lat": lat,
            **extra,
        },
    )
    assert answer.status_code == 201, answer.text
    incident_id: str = answer.json()["incident_id"]
    return incident_id


async def post(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    path: str,
    body: dict[str, object] | None = None,
) -> httpx.Response:
    return await client.post(f"/api/v1/incidents/{path}", headers=headers, json=body)


@pytest.fixture
async def officer(client: httpx.AsyncClient, db: Database) -> dict[str, str]:
    await make_county_with_two_towns(db)
    return await bearer(client, "county")


async def test_incident_goes_through_its_states_and_refuses_illegal_moves(
    client: httpx.AsyncClient, officer: dict[str, str]
) -> None:
    incident = await open_incident(client, officer, "lc-1")
    early = await post(client, officer, f"{incident}/control")
    assert early.status_code == 409 and early.json()["error"]["code"] == "invalid_transition"
    assert early.json()["error"]["details"]["state"] == "reported"
    for action, state in (
        ("verify", "verified"),
        ("control", "controlled"),
        ("close", "closed"),
        ("archive", "archived"),
    ):
        moved = await post(client, officer, f"{incident}/{action}")
        assert moved.status_code == 200, moved.text
        assert moved.json()["state"] == state
    again = await post(client, officer, f"{incident}/verify")
    assert again.status_code == 409
    timeline = (await client.get(f"/api/v1/incidents/{incident}/timeline", headers=officer)).json()
    assert [e["kind"] for e in timeline] == [
        "opened",
        "verified",
        "controlled",
        "closed",
        "archived",
    ]
    assert all(e["actor_name"] == "county" for e in timeline)


async def test_cancelling_needs_a_reason_and_is_only_for_early_states(
    client: httpx.AsyncClient, officer: dict[str, str]
) -> None:
    incident = await open_incident(client, officer, "lc-2")
    missing = await post(client, officer, f"{incident}/cancel", {"kind": "false_report"})
    assert missing.status_code == 422
    cancelled = await post(
        client,
        officer,
        f"{incident}/cancel",
        {"kind": "false_report", "reason": "报警人承认是恶作剧"},
    )
    assert cancelled.json()["state"] == "cancelled"
    assert "误报" in cancelled.json()["cancel_reason"]
    listed = (await client.get("/api/v1/incidents?state=cancelled", headers=officer)).json()
    assert [i["id"] for i in listed["items"]] == [incident]


async def test_level_change_is_logged_with_reason_and_person(
    client: httpx.AsyncClient, officer: dict[str, str]
) -> None:
    incident = await open_incident(client, officer, "lc-3")
    raised = await post(
        client, officer, f"{incident}/level", {"level": "II", "reason": "发现10人被困"}
    )
    assert raised.json()["level"] == "II" and raised.json()["level_reason"] == "发现10人被困"
    same = await post(client, officer, f"{incident}/level", {"level": "II", "reason": "x"})
    assert same.json()["error"]["code"] == "level_unchanged"
    timeline = (await client.get(f"/api/v1/incidents/{incident}/timeline", headers=officer)).json()
    change = timeline[-1]
    assert change["kind"] == "level_changed" and change["actor_name"] == "county"
    assert change["data"] == {"from": "IV", "to": "II", "reason": "发现10人被困"}
    assert "升级" in change["summary"]


async def test_merge_moves_reports_and_split_takes_one_out(
    client: httpx.AsyncClient, officer: dict[str, str]
) -> None:
    a = await open_incident(
        client, officer, "m-1", text="甲镇东山脚下山体滑坡", lon=119.01, lat=27.51
    )
    b = await open_incident(
        client, officer, "m-2", text="乙镇河水上涨漫过公路", lon=119.19, lat=27.59
    )
    merged = await post(client, officer, f"{b}/merge", {"into_incident_id": a})
    assert merged.status_code == 200 and merged.json()["report_count"] == 2
    gone = (await client.get(f"/api/v1/incidents/{b}", headers=officer)).json()
    assert gone["state"] == "cancelled" and gone["merged_into_id"] == a
    reports = (await client.get(f"/api/v1/incidents/{a}/reports", headers=officer)).json()
    assert reports["total"] == 2
    flood = next(r for r in reports["items"] if "河水" in r["text"])
    split = await post(client, officer, f"{a}/split", {"report_id": flood["id"]})
    assert split.status_code == 201
    assert split.json()["id"] not in (a, b) and split.json()["report_count"] == 1
    after = (await client.get(f"/api/v1/incidents/{a}", headers=officer)).json()
    assert after["report_count"] == 1
    last = await post(
        client,
        officer,
        f"{a}/split",
        {"report_id": next(r["id"] for r in reports["items"] if r is not flood)},
    )
    assert last.json()["error"]["code"] == "last_report"


async def test_town_users_see_only_their_towns_incidents(
    client: httpx.AsyncClient, officer: dict[str, str], db: Database
) -> None:
    in_a = await open_incident(client, officer, "s-1", lon=119.05, lat=27.55)
    in_b = await open_incident(client, officer, "s-2", text="乙镇着火", lon=119.15, lat=27.55)
    await make_user(db, "viewer_a", roles=["viewer"], division="331126101000")
    town_a = await bearer(client, "viewer_a")
    assert (await client.get(f"/api/v1/incidents/{in_a}", headers=town_a)).status_code == 200
    hidden = await client.get(f"/api/v1/incidents/{in_b}", headers=town_a)
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "incident_not_found"
    assert (
        await client.get(f"/api/v1/incidents/{in_b}/timeline", headers=town_a)
    ).status_code == 404
    listed = (await client.get("/api/v1/incidents", headers=town_a)).json()
    assert [i["id"] for i in listed["items"]] == [in_a]
    geo = (await client.get("/api/v1/incidents.geojson", headers=town_a)).json()
    assert [f["id"] for f in geo["features"]] == [in_a]
    assert geo["features"][0]["geometry"]["coordinates"] == [119.05, 27.55]
    write = await post(client, await bearer(client, "town_a"), f"{in_b}/verify")
    assert write.status_code == 403  # a liaison may not verify at all


async def test_unreported_level_iii_incident_alerts_the_duty_leader_after_the_deadline(
    client: httpx.AsyncClient, officer: dict[str, str], db: Database, clock: ManualClock
) -> None:
    await make_user(db, "leader", roles=["duty_leader"], division="331126")
    await make_user(db, "other_leader", roles=["duty_leader"], division="331126102000")
    incident = await open_incident(
        client, officer, "fr-1", casualties={"dead": 3, "injured": 0, "missing": 0, "trapped": 0}
    )
    verified = (await post(client, officer, f"{incident}/verify")).json()
    assert verified["level"] == "III" and verified["first_report_due_at"] is not None
    bus = Bus()
    install_jobs(bus, db)
    await bus.start(db, run_relay=False)
    worker = TimerWorker(db, handler_map=handlers())
    try:
        clock.advance(timedelta(minutes=59))
        assert await worker.run_due() == 0
        clock.advance(timedelta(minutes=2))
        assert await worker.run_due() == 1
        for sub in bus.subscriptions:
            await bus.deliver_durable(sub)
    finally:
        await bus.stop()
    timeline = (await client.get(f"/api/v1/incidents/{incident}/timeline", headers=officer)).json()
    # the duty domain flags its 首报 due row (漏报) beside it, without a second alert
    assert [e["kind"] for e in timeline][-2:] == ["first_report_overdue", "report_flagged"]
    leader = await bearer(client, "leader")
    told = (await client.get("/api/v1/notifications", headers=leader)).json()
    assert [n["kind"] for n in told["items"]] == ["first_report_overdue"]
    assert told["items"][0]["subject_id"] == incident
    other = (
        await client.get("/api/v1/notifications", headers=await bearer(client, "other_leader"))
    ).json()
    assert other["total"] == 0  # the incident is in town A, not in that leader's town


async def test_first_report_in_time_means_no_alert(
    client: httpx.AsyncClient, officer: dict[str, str], clock: ManualClock, db: Database
) -> None:
    incident = await open_incident(client, officer, "fr-2")
    await post(client, officer, f"{incident}/verify")
    raised = await post(client, officer, f"{incident}/level", {"level": "II", "reason": "扩大"})
    assert raised.json()["first_report_due_at"] is not None
    sent = await post(client, officer, f"{incident}/first-report", {"text": "书面首报内容"})
    assert sent.json()["first_report_at"] is not None
    clock.advance(timedelta(hours=2))
    assert await TimerWorker(db, handler_map=handlers()).run_due() == 0
    await asyncio.sleep(0)
    kinds = [
        e["kind"]
        for e in (
            await client.get(f"/api/v1/incidents/{incident}/timeline", headers=officer)
        ).json()
    ]
    assert "first_report_overdue" not in kinds and "first_reported" in kinds


async def test_first_report_deadline_follows_the_most_specific_rule(
    client: httpx.AsyncClient, officer: dict[str, str], db: Database
) -> None:
    admin = await bearer(client, "admin")
    rules = (await client.get("/api/v1/reporting-deadlines", headers=officer)).json()
    assert {(r["category_prefix"], r["level"]) for r in rules} >= {
        ("", "III"),
        ("public_health", "III"),
    }
    changed = await client.put(
        "/api/v1/reporting-deadlines",
        headers=admin,
        json={
            "category_prefix": "accident.fire",
            "level": "III",
            "phone_minutes": 15,
            "written_minutes": 35,
            "basis": "本省: 较大 35 分钟书面",
        },
    )
    assert changed.status_code == 200
    incident = await open_incident(
        client, officer, "dl-1", casualties={"dead": 3, "injured": 0, "missing": 0, "trapped": 0}
    )
    verified = (await post(client, officer, f"{incident}/verify")).json()
    due = datetime.fromisoformat(verified["first_report_due_at"])
    assert due - datetime.fromisoformat(verified["verified_at"]) == timedelta(minutes=35)
    refused = await client.put(
        "/api/v1/reporting-deadlines",
        headers=officer,
        json={"level": "III", "phone_minutes": 1, "written_minutes": 1},
    )
    assert refused.status_code == 403
