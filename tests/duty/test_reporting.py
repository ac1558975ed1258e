"""Statutory reporting (信息报送) through the API: a 首报 drafted, signed, sent up, opened and
acknowledged above; deadlines as due rows flagged 漏报 and 迟报 under a manual clock; a 续报
brought forward by a level change; the 终报 owed on closing; corrections; 领导批示; the board,
the counts by town; and who may and who may not."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import datetime, timedelta

import httpx
import pytest

from tests.factories import bearer, deliver_events, make_county_with_two_towns, make_user
from tests.incidents.test_incident_lifecycle import open_incident, post
from yingji.core.clock import LOCAL_TZ, ManualClock
from yingji.core.db import Database
from yingji.core.timers import TimerWorker, handlers

DEAD_3 = {"dead": 3, "injured": 0, "missing": 0, "trapped": 0}


@pytest.fixture
async def desks(client: httpx.AsyncClient, db: Database) -> dict[str, dict[str, str]]:
    """The county desk (officer, leader) below the province desk (officer, leader)."""
    await make_county_with_two_towns(db)
    await make_user(db, "county_leader", roles=["duty_leader"], division="331126")
    await make_user(db, "prov", roles=["duty_officer"], division="330000", display_name="省值班员")
    await make_user(db, "prov_leader", roles=["duty_leader"], division="330000")
    await make_user(db, "viewer_b", roles=["viewer"], division="331126102000")
    names = ("county", "county_leader", "prov", "prov_leader", "town_a", "viewer_b")
    return {name: await bearer(client, name) for name in names}


async def verified_incident(
    client: httpx.AsyncClient, db: Database, headers: dict[str, str], external_id: str
) -> str:
    incident = await open_incident(client, headers, external_id, casualties=DEAD_3)
    verified = (await post(client, headers, f"{incident}/verify")).json()
    assert verified["level"] == "III", verified
    await deliver_events(db)  # duty's subscriber starts the dues
    return incident


async def dues(
    client: httpx.AsyncClient, headers: dict[str, str], state: str = "due"
) -> list[dict[str, object]]:
    answer = await client.get(
        f"/api/v1/duty/reports/due?division=331126&state={state}", headers=headers
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, object]] = answer.json()["items"]
    return items


async def draft(
    client: httpx.AsyncClient, headers: dict[str, str], incident: str, kind: str, **extra: object
) -> dict[str, object]:
    answer = await client.post(
        "/api/v1/duty/reports",
        headers=headers,
        json={"incident_id": incident, "kind": kind, **extra},
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, object] = answer.json()
    return body


async def sign_and_send(
    client: httpx.AsyncClient, desks: dict[str, dict[str, str]], report: dict[str, object]
) -> dict[str, object]:
    path = f"/api/v1/duty/reports/{report['id']}"
    signed = await client.post(
        f"{path}/approve", headers=desks["county_leader"], json={"version": report["version"]}
    )
    assert signed.status_code == 200, signed.text
    sent = await client.post(
        f"{path}/send", headers=desks["county"], json={"version": signed.json()["version"]}
    )
    assert sent.status_code == 200, sent.text
    body: dict[str, object] = sent.json()
    return body


async def test_first_report_is_signed_sent_up_opened_and_acknowledged_above(
    client: httpx.AsyncClient, db: Database, desks: dict[str, dict[str, str]]
) -> None:
    county, prov = desks["county"], desks["prov"]
    incident = await verified_incident(client, db, county, "rp-1")
    owed = await dues(client, county)
    assert sorted((d["kind"], d["seq"]) for d in owed) == [
        ("first", 1),
        ("followup", 1),
        ("phone", 1),
    ]
    first = await draft(client, county, incident, "first", measures="消防已到场扑救")
    assert first["state"] == "draft" and first["dead"] == 3  # prefilled from the incident
    assert first["division_adcode"] == "331126" and first["to_division_adcode"] == "330000"
    again = await client.post(
        "/api/v1/duty/reports", headers=county, json={"incident_id": incident, "kind": "first"}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "report_exists"
    path = f"/api/v1/duty/reports/{first['id']}"
    unsigned = await client.post(f"{path}/send", headers=county, json={"version": 1})
    assert unsigned.json()["error"]["code"] == "report_not_approved"
    officer_signs = await client.post(f"{path}/approve", headers=county, json={"version": 1})
    assert officer_signs.status_code == 403  # 签发 is the leader's (duty.approve)
    # a draft is the desk's alone: the level above does not see it yet
    assert (await client.get(path, headers=prov)).status_code == 404
    sent = await sign_and_send(client, desks, first)
    assert sent["state"] == "sent" and sent["approver_name"] == "county_leader"
    assert sent["late"] is False and sent["docx_sha256"]
    incident_now = (await client.get(f"/api/v1/incidents/{incident}", headers=county)).json()
    assert incident_now["first_report_at"] is not None  # the incidents' 首报 is recorded
    assert [d["kind"] for d in await dues(client, county)] == ["phone", "followup"]
    # the county's desk has no inbox above itself; the province's has the report
    assert (
        await client.get("/api/v1/duty/inbox?division=330000", headers=county)
    ).status_code == 404
    inbox = (await client.get("/api/v1/duty/inbox", headers=prov)).json()["items"]
    assert [r["id"] for r in inbox] == [first["id"]]
    assert (
        await client.post(f"/api/v1/duty/inbox/{first['id']}/acknowledge", headers=county)
    ).status_code == 404  # the desk does not acknowledge its own report
    opened = (await client.post(f"/api/v1/duty/inbox/{first['id']}/open", headers=prov)).json()
    assert opened["state"] == "opened" and opened["opened_at"] and opened["receiver"]
    acked = await client.post(f"/api/v1/duty/inbox/{first['id']}/acknowledge", headers=prov)
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "acknowledged" and acked.json()["acked_by_name"] == "省值班员"
    twice = await client.post(f"/api/v1/duty/inbox/{first['id']}/acknowledge", headers=prov)
    assert twice.json()["error"]["code"] == "report_acknowledged"
    document = await client.get(f"{path}/document.docx", headers=prov)
    assert document.headers["x-content-type-options"] == "nosniff"
    xml = zipfile.ZipFile(io.BytesIO(document.content)).read("word/document.xml").decode()
    assert (
        "庆元县应急管理局" in xml and "突发事件信息首报" in xml and "签发人：county_leader" in xml
    )
    assert "消防已到场扑救" in xml and str(first["number"]) in xml
    assert hashlib.sha256(document.content).hexdigest() == sent["docx_sha256"]  # same bytes
    timeline = (await client.get(f"/api/v1/incidents/{incident}/timeline", headers=county)).json()
    codes = [e["code"] for e in timeline]
    assert "duty.report_sent.first" in codes and "duty.report_acknowledged.first" in codes
    await deliver_events(db)
    told = (await client.get("/api/v1/notifications", headers=county)).json()["items"]
    assert "report_acknowledged" in [n["kind"] for n in told]
    above = (await client.get("/api/v1/notifications", headers=prov)).json()["items"]
    assert "report_received" in [n["kind"] for n in above]


async def test_missed_followup_is_flagged_missing_then_late_and_the_cadence_goes_on(
    client: httpx.AsyncClient, db: Database, desks: dict[str, dict[str, str]], clock: ManualClock
) -> None:
    county = desks["county"]
    incident = await verified_incident(client, db, county, "rp-2")
    await sign_and_send(client, desks, await draft(client, county, incident, "first"))
    await sign_and_send(client, desks, await draft(client, county, incident, "phone"))
    worker = TimerWorker(db, handler_map=handlers())
    clock.advance(timedelta(hours=5, minutes=59))
    assert await worker.run_due() == 0
    clock.advance(timedelta(minutes=2))  # the first 续报 was due 6 h after verification
    assert await worker.run_due() == 1
    missing = await dues(client, county, "missing")
    assert [(d["kind"], d["seq"]) for d in missing] == [("followup", 1)]
    assert [(d["kind"], d["seq"]) for d in await dues(client, county)] == [("followup", 2)]
    await deliver_events(db)
    leader = (await client.get("/api/v1/notifications", headers=desks["county_leader"])).json()
    assert [n["kind"] for n in leader["items"]] == ["report_missing"]
    followup = await draft(client, county, incident, "followup", next_steps="继续搜救")
    sent = await sign_and_send(client, desks, followup)
    assert sent["seq"] == 1 and sent["late"] is True  # 迟报: answers the missed one
    assert [(d["kind"], d["seq"]) for d in await dues(client, county, "late")] == [("followup", 1)]
    board = (await client.get("/api/v1/duty/reports/board?division=331126", headers=county)).json()
    assert [d["state"] for d in board["late"]] == ["late"] and board["missing"] == []
    assert {r["kind"] for r in board["sent"]} == {"first", "phone", "followup"}
    month = clock.now().astimezone(LOCAL_TZ)
    stats = await client.get(
        f"/api/v1/duty/reports/stats?month={month:%Y-%m}&division=331126", headers=county
    )
    row = stats.json()["items"]
    assert [(r["division_adcode"], r["name"]) for r in row] == [("331126101000", "甲镇")]
    assert row[0]["late"] == 1 and row[0]["met"] == 2 and row[0]["due"] == 1
    timeline = (await client.get(f"/api/v1/incidents/{incident}/timeline", headers=county)).json()
    assert "duty.report_flagged.missing.followup" in [e["code"] for e in timeline]
    assert "duty.report_flagged.late.followup" in [e["code"] for e in timeline]


async def test_level_change_brings_the_followup_forward_and_closing_owes_the_final_report(
    client: httpx.AsyncClient, db: Database, desks: dict[str, dict[str, str]], clock: ManualClock
) -> None:
    county = desks["county"]
    incident = await verified_incident(client, db, county, "rp-3")
    raised = await post(client, county, f"{incident}/level", {"level": "II", "reason": "扩大"})
    assert raised.status_code == 200
    await deliver_events(db)
    followup = next(d for d in await dues(client, county) if d["kind"] == "followup")
    assert followup["seq"] == 1
    due_in = datetime.fromisoformat(str(followup["due_at"])) - clock.now()
    assert due_in <= timedelta(minutes=60)  # within the written deadline, not 6 hours
    closed = await client.post(f"/api/v1/incidents/{incident}/close", headers=county, json={})
    assert closed.status_code == 200, closed.text
    await deliver_events(db)
    assert [(d["kind"], d["seq"]) for d in await dues(client, county)] == [
        ("phone", 1),
        ("first", 1),
        ("final", 1),
    ]
    final = next(d for d in await dues(client, county) if d["kind"] == "final")
    final_at = datetime.fromisoformat(str(final["due_at"]))
    assert timedelta(days=9, hours=23) < final_at - clock.now() <= timedelta(days=10)


async def test_a_jurisdiction_sets_its_own_cadence(
    client: httpx.AsyncClient, db: Database, desks: dict[str, dict[str, str]]
) -> None:
    admin = await bearer(client, "admin")
    rule = {
        "division_adcode": "331126",
        "level": "III",
        "phone_minutes": 10,
        "written_minutes": 20,
        "followup_hours": 1,
        "final_days": 3,
    }
    assert (
        await client.put("/api/v1/reporting-deadlines", headers=admin, json=rule)
    ).status_code == 200
    incident = await verified_incident(client, db, desks["county"], "rp-4")
    detail = (await client.get(f"/api/v1/incidents/{incident}", headers=desks["county"])).json()
    verified_at = datetime.fromisoformat(detail["verified_at"])
    owed = {d["kind"]: d for d in await dues(client, desks["county"])}
    gap = {k: datetime.fromisoformat(str(d["due_at"])) - verified_at for k, d in owed.items()}
    assert gap == {
        "phone": timedelta(minutes=10),
        "first": timedelta(minutes=20),
        "followup": timedelta(hours=1),
    }
    listed = (await client.get("/api/v1/reporting-deadlines", headers=desks["county"])).json()
    mine = [r for r in listed if r["division_adcode"] == "331126"]
    assert [(r["followup_hours"], r["final_days"]) for r in mine] == [(1, 3)]


async def test_a_correction_keeps_the_wrong_report_readable_and_instructions_come_down(
    client: httpx.AsyncClient, db: Database, desks: dict[str, dict[str, str]]
) -> None:
    county, prov = desks["county"], desks["prov"]
    incident = await verified_incident(client, db, county, "rp-5")
    first = await sign_and_send(client, desks, await draft(client, county, incident, "first"))
    unexplained = await client.post(
        "/api/v1/duty/reports",
        headers=county,
        json={"incident_id": incident, "kind": "followup", "corrects_id": first["id"]},
    )
    assert unexplained.json()["error"]["code"] == "correction_needs_reason"
    fix = await draft(
        client,
        county,
        incident,
        "followup",
        corrects_id=first["id"],
        correction_reason="死亡人数核实为2人",
        dead=2,
    )
    await sign_and_send(client, desks, fix)
    wrong = (await client.get(f"/api/v1/duty/reports/{first['id']}", headers=county)).json()
    assert wrong["state"] == "corrected" and wrong["dead"] == 3  # still readable as sent
    refused = await client.post(
        f"/api/v1/duty/reports/{first['id']}/instructions", headers=prov, json={"text": "x"}
    )
    assert refused.status_code == 403  # 批示 is a leader's (duty.approve)
    from_below = await client.post(
        f"/api/v1/duty/reports/{first['id']}/instructions",
        headers=county_leader_of(desks),
        json={"text": "自批"},
    )
    assert from_below.status_code == 404  # the desk does not instruct itself
    issued = await client.post(
        f"/api/v1/duty/reports/{first['id']}/instructions",
        headers=desks["prov_leader"],
        json={"text": "全力搜救，防止次生灾害"},
    )
    assert issued.status_code == 201, issued.text
    open_ones = (await client.get("/api/v1/duty/instructions", headers=county)).json()["items"]
    assert [i["text"] for i in open_ones] == ["全力搜救，防止次生灾害"]
    done = await client.post(
        f"/api/v1/duty/instructions/{open_ones[0]['id']}/carry-out",
        headers=county,
        json={"note": "已增派救援力量"},
    )
    assert done.status_code == 200 and done.json()["carried_out_at"]
    assert (await client.get("/api/v1/duty/instructions", headers=county)).json()["items"] == []


def county_leader_of(desks: dict[str, dict[str, str]]) -> dict[str, str]:
    return desks["county_leader"]


async def test_who_may_and_who_may_not(
    client: httpx.AsyncClient, db: Database, desks: dict[str, dict[str, str]]
) -> None:
    county = desks["county"]
    incident = await verified_incident(client, db, county, "rp-6")
    for name in ("town_a",):
        headers = desks[name]
        assert (
            await client.get("/api/v1/duty/reports/board?division=331126", headers=headers)
        ).status_code == 403
        written = await client.post(
            "/api/v1/duty/reports",
            headers=headers,
            json={"incident_id": incident, "kind": "first"},
        )
        assert written.status_code == 403
    viewer = desks["viewer_b"]  # duty.read in town B only
    assert (
        await client.get("/api/v1/duty/reports/board?division=331126", headers=viewer)
    ).status_code == 404
    assert (
        await client.get("/api/v1/duty/reports/board?division=331126102000", headers=viewer)
    ).json()["due"] == []
    report = await draft(client, county, incident, "first")
    assert (
        await client.get(f"/api/v1/duty/reports/{report['id']}", headers=viewer)
    ).status_code == 404
    bad = await client.post(
        "/api/v1/duty/reports",
        headers=county,
        json={"incident_id": incident, "kind": "followup", "dead": -1},
    )
    assert bad.status_code == 422
    stale = await client.patch(
        f"/api/v1/duty/reports/{report['id']}", headers=county, json={"version": 9, "dead": 4}
    )
    assert stale.json()["error"]["code"] == "stale_version"
    edited = await client.patch(
        f"/api/v1/duty/reports/{report['id']}", headers=county, json={"version": 1, "dead": 4}
    )
    assert edited.json()["dead"] == 4 and edited.json()["version"] == 2
