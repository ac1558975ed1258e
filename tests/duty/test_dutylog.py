"""值班日志 and 值班日报 through the API: typed entries with time and author, linked to incidents
and orders the author may read; bounds; the day's report as a .docx."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from docx import Document

from tests.duty.handover_setup import COUNTY, TOWN_A, TOWN_B, Desk, make_desk
from tests.duty.test_handover import act, open_handover, open_incident
from tests.factories import make_unit
from yingji.core.clock import ManualClock
from yingji.core.db import Database

NOW = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)  # 11:00 in China


@pytest.fixture
async def desk(client: httpx.AsyncClient, db: Database, clock: ManualClock) -> Desk:
    clock.set(NOW)
    return await make_desk(client, db)


async def write(
    client: httpx.AsyncClient, headers: dict[str, str], **body: object
) -> httpx.Response:
    entry = {"division_adcode": COUNTY, "kind": "call_received", "text": "接群众电话", **body}
    return await client.post("/api/v1/duty/log", headers=headers, json=entry)


async def test_entries_are_typed_dated_signed_and_linked_to_what_they_concern(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: ManualClock
) -> None:
    officer, admin = desk.headers["county"], desk.headers["admin"]
    await make_unit(db, "FIRE", division=COUNTY, tier=1)
    units = {
        u["code"]: u["id"]
        for u in (await client.get("/api/v1/units", headers=admin)).json()["items"]
    }
    rule = {"category_prefix": "accident.fire", "role": "lead", "unit_id": units["FIRE"]}
    assert (await client.post("/api/v1/routing-rules", headers=admin, json=rule)).status_code == 201
    fire = await open_incident(client, officer, "log-1")
    await client.post(f"/api/v1/incidents/{fire}/verify", headers=officer)
    orders = (await client.post(f"/api/v1/incidents/{fire}/dispatch", headers=officer)).json()
    other = await open_incident(client, officer, "log-2", lon=119.15)  # town B

    call = await write(client, officer, incident_id=fire, at=(NOW - timedelta(hours=1)).isoformat())
    assert call.status_code == 201, call.text
    assert call.json()["author_name"] and call.json()["incident_number"]
    passed = await write(
        client, officer, kind="instruction_passed", text="传达县领导指示", order_id=orders[0]["id"]
    )
    assert passed.json()["incident_id"] == fire  # the order's incident
    mismatch = await write(client, officer, incident_id=other, order_id=orders[0]["id"])
    assert mismatch.status_code == 422
    assert mismatch.json()["error"]["code"] == "order_not_of_incident"
    old = await write(client, officer, at=(NOW - timedelta(days=3)).isoformat())
    assert old.status_code == 422 and old.json()["error"]["code"] == "log_time_out_of_range"
    assert (await write(client, officer, kind="gossip")).status_code == 422
    assert (await write(client, officer, text="长" * 2001)).status_code == 422
    assert (await write(client, officer, text="")).status_code == 422

    page = await client.get("/api/v1/duty/log", params={"division": COUNTY}, headers=officer)
    assert [e["kind"] for e in page.json()["items"]] == ["instruction_passed", "call_received"]
    assert page.json()["total"] == 2
    calls = await client.get(
        "/api/v1/duty/log",
        params={"division": COUNTY, "kind": "call_received", "incident_id": fire},
        headers=officer,
    )
    assert [e["text"] for e in calls.json()["items"]] == ["接群众电话"]


async def test_who_may_write_and_read_the_log_and_another_towns_rows_are_not_found(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    h = desk.headers
    county_fire = await open_incident(client, h["county"], "log-3", lon=119.15)  # town B
    assert (await write(client, h["viewer"])).status_code == 403
    assert (await write(client, h["town_a"], division_adcode=TOWN_A)).status_code == 403
    assert (await write(client, h["officer_a"])).status_code == 404  # the county is above it
    assert (await write(client, h["officer_a"], division_adcode=TOWN_B)).status_code == 404
    linked = await write(client, h["officer_a"], division_adcode=TOWN_A, incident_id=county_fire)
    assert linked.status_code == 404 and linked.json()["error"]["code"] == "incident_not_found"
    mine = await write(client, h["officer_a"], division_adcode=TOWN_A)
    assert mine.status_code == 201
    hidden = await client.get(
        "/api/v1/duty/log", params={"division": TOWN_B}, headers=h["officer_a"]
    )
    assert hidden.status_code == 404
    seen = await client.get("/api/v1/duty/log", params={"division": TOWN_A}, headers=h["viewer"])
    assert seen.json()["total"] == 1
    refused = await client.get("/api/v1/duty/log", params={"division": TOWN_A}, headers=h["town_a"])
    assert refused.status_code == 403


async def test_the_daily_report_holds_the_days_log_incidents_and_handover(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    officer = desk.headers["county"]
    fire = await open_incident(client, officer, "log-4")
    await write(client, officer, text="接报甲镇仓库火情<b>", incident_id=fire)
    handover = (await open_handover(client, officer)).json()
    handover = (await act(client, officer, handover, "sign-out", notes="火情处置中")).json()
    await act(client, desk.headers["relief"], handover, "sign-in")  # not rostered: refused
    await act(client, desk.headers["leader"], handover, "sign-in")
    answer = await client.get(
        "/api/v1/duty/daily-report.docx",
        params={"division": COUNTY, "date": "2026-07-01"},
        headers=desk.headers["viewer"],
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert answer.headers["x-content-type-options"] == "nosniff"
    doc = Document(io.BytesIO(answer.content))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    text = "\n".join([p.text for p in doc.paragraphs] + cells)
    assert "庆元县值班日报" in text and "接报甲镇仓库火情<b>" in text
    number = (await client.get(f"/api/v1/incidents/{fire}", headers=officer)).json()["number"]
    assert number in cells
    assert "交班说明：火情处置中" in text and "带班甲" in text and "已交接" in text
    empty = await client.get(
        "/api/v1/duty/daily-report.docx",
        params={"division": COUNTY, "date": "2026-06-30"},
        headers=officer,
    )
    assert number not in "\n".join(
        c.text for t in Document(io.BytesIO(empty.content)).tables for r in t.rows for c in r.cells
    )
    far = await client.get(
        "/api/v1/duty/daily-report.docx",
        params={"division": COUNTY, "date": "0001-01-01"},
        headers=officer,
    )
    assert far.status_code == 422
    hidden = await client.get(
        "/api/v1/duty/daily-report.docx",
        params={"division": TOWN_B},
        headers=desk.headers["officer_a"],
    )
    assert hidden.status_code == 404


async def test_text_with_characters_xml_cannot_carry_still_gives_a_daily_report(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    officer = desk.headers["county"]
    typed = await write(client, officer, text="接报\x0b甲镇\x1f火情\ufffe")
    assert typed.status_code == 201, typed.text
    answer = await client.get(
        "/api/v1/duty/daily-report.docx",
        params={"division": COUNTY, "date": "2026-07-01"},
        headers=officer,
    )
    assert answer.status_code == 200, answer.text
    cells = [
        c.text for t in Document(io.BytesIO(answer.content)).tables for r in t.rows for c in r.cells
    ]
    assert "接报甲镇火情" in cells
