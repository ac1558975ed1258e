"""信息报送 through the real console, on a demo server whose business clock runs 600× wall time
(``YINGJI_CLOCK_RATE=600`` in the local environment: a business hour is six seconds).

1. A 首报 written, sent up and acknowledged: the county's commander opens the reporting board,
   writes the 首报 of a verified level III fire in 竹口镇 in the editor (its preview follows the
   fields), signs and sends it; in a second browser context the city's duty officer (丽水市, the
   level above) opens it from the inbox (the receipt) and acknowledges it (签收), which the
   county's page then shows.
2. A missed 续报 flagged: the county sets its own cadence (one 续报 each business hour for level II)
   through the API; a level II incident is verified and nobody writes; six wall seconds later the
   board's 漏报 tab lists the 续报, and the incident's timeline says so in Chinese.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import served_demo
from tests.e2e.conftest import DEMO_PASSWORD, bearer, shot, sign_in

COUNTY, CITY, ZHUKOU = "331126", "331100", "331126101000"
SLOW = 10_080  # minutes: a week of business time, 17 wall minutes (nothing of test 1 falls due)


@pytest.fixture(scope="module")
def reporting_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_demo(tmp_path_factory.mktemp("reporting"), YINGJI_CLOCK_RATE="600") as base:
        admin = bearer(base, "admin")
        created = httpx.post(
            f"{base}/api/v1/users",
            headers=admin,
            json={
                "username": "city_officer",
                "display_name": "市值班员",
                "password": DEMO_PASSWORD,
                "roles": ["duty_officer"],
                "division_adcode": CITY,
            },
        )
        assert created.status_code == 201, created.text
        for level, followup in (("III", 720), ("II", 1)):
            rule = {
                "division_adcode": COUNTY,
                "level": level,
                "phone_minutes": SLOW,
                "written_minutes": SLOW,
                "followup_hours": followup,
                "final_days": 10,
                "basis": "端到端测试：本县时限",
            }
            answer = httpx.put(f"{base}/api/v1/reporting-deadlines", headers=admin, json=rule)
            assert answer.status_code == 200, answer.text
        yield base


def verified_incident(base: str, headers: dict[str, str], text: str, level: str) -> dict[str, Any]:
    town = httpx.get(f"{base}/api/v1/divisions/{ZHUKOU}", headers=headers).json()
    opened = httpx.post(
        f"{base}/api/v1/intake/reports",
        headers=headers,
        json={
            "channel": "hotline_119",
            "external_id": f"rep-{uuid.uuid4().hex[:8]}",
            "text": text,
            "category_code": "accident.fire",
            "lon": town["centroid_lon"],
            "lat": town["centroid_lat"],
        },
    )
    assert opened.status_code == 201, opened.text
    incident_id = opened.json()["incident_id"]
    path = f"{base}/api/v1/incidents/{incident_id}"
    incident = httpx.get(path, headers=headers).json()
    if incident["level"] != level:
        moved = httpx.post(
            f"{path}/level", headers=headers, json={"level": level, "reason": "端到端测试"}
        )
        assert moved.status_code == 200, moved.text
    verified = httpx.post(f"{path}/verify", headers=headers, json={})
    assert verified.status_code == 200, verified.text
    answer: dict[str, Any] = verified.json()
    return answer


def owed(base: str, headers: dict[str, str], incident_id: str, state: str) -> list[Any]:
    """The incident's due rows in ``state`` (the relay delivers the verification to the duty
    domain's subscriber a moment after the answer)."""
    deadline = time.monotonic() + 20
    while True:
        items = httpx.get(
            f"{base}/api/v1/duty/reports/due",
            headers=headers,
            params={"division": COUNTY, "state": state},
        ).json()["items"]
        mine = [d for d in items if d["incident_id"] == incident_id]
        if mine or time.monotonic() > deadline:
            return mine
        time.sleep(0.2)


def open_page(browser: Browser, base: str, username: str, home: str) -> Page:
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    sign_in(page, base, username)
    page.goto(f"{base}/{home}")
    return page


def test_a_first_report_is_written_sent_up_and_acknowledged_by_the_level_above(
    reporting_server: str, browser: Browser
) -> None:
    base = reporting_server
    commander = bearer(base, "commander")
    incident = verified_incident(base, commander, "竹口镇一厂房起火，3人死亡", "III")
    assert [d["kind"] for d in owed(base, commander, incident["id"], "due")].count("first") == 1

    county = open_page(browser, base, "commander", "duty/reports")
    row = county.get_by_test_id("due-list").locator("tr", has_text=incident["number"])
    row.filter(has_text="首报").get_by_test_id("write-first").click()
    county.wait_for_url("**/duty/reports/*")
    editor = county.get_by_test_id("report-editor")
    expect(editor.get_by_test_id("report-preview")).to_contain_text("庆元县应急管理局")
    county.get_by_test_id("field-measures").fill("消防救援大队已到场扑救")
    expect(county.get_by_test_id("preview-measures")).to_have_text("消防救援大队已到场扑救")
    expect(county.get_by_test_id("preview-casualties")).to_contain_text("死亡 3 人")
    county.get_by_test_id("report-save").click()
    county.get_by_test_id("report-approve").click()
    expect(editor.locator("[data-report-state=approved]")).to_be_visible()
    county.get_by_test_id("report-send").click()
    expect(editor.locator("[data-report-state=sent]")).to_be_visible()
    number = county.locator("h1").inner_text().split("·")[-1].strip()

    city = open_page(browser, base, "city_officer", "duty/inbox")
    city.get_by_test_id("report-inbox").locator("tr", has_text=number).click()
    city.wait_for_url("**/duty/reports/*")
    expect(city.get_by_test_id("report-receipt")).to_contain_text("已阅")  # the receipt
    expect(city.get_by_test_id("report-preview")).to_contain_text("消防救援大队已到场扑救")
    city.get_by_test_id("report-acknowledge").click()
    expect(city.locator("[data-report-state=acknowledged]")).to_be_visible()
    shot(city, "duty-reporting-acknowledged")

    county.reload()
    expect(county.get_by_test_id("report-receipt")).to_contain_text("市值班员")
    incident_now = httpx.get(f"{base}/api/v1/incidents/{incident['id']}", headers=commander)
    assert incident_now.json()["first_report_at"] is not None  # the incident's 首报 recorded
    county.context.close()
    city.context.close()


def test_a_missed_followup_is_flagged_on_the_controlled_clock(
    reporting_server: str, browser: Browser
) -> None:
    base = reporting_server
    commander = bearer(base, "commander")
    incident = verified_incident(base, commander, "竹口镇一仓库着火，10人被困", "II")
    followups = [d for d in owed(base, commander, incident["id"], "due") if d["kind"] == "followup"]
    assert [d["seq"] for d in followups] == [1]

    page = open_page(browser, base, "duty_officer", "duty/reports")
    page.get_by_role("tab", name="漏报").click()
    missed = page.get_by_test_id("due-list").locator("tr", has_text=incident["number"])
    # one business hour is six wall seconds: the flag arrives live on the board
    expect(missed.filter(has_text="第1次续报")).to_be_visible(timeout=30_000)
    expect(missed.filter(has_text="第1次续报").locator("[data-due-state=missing]")).to_be_visible()
    shot(page, "duty-reporting-missing")
    page.goto(f"{base}/incidents/{incident['id']}")
    expect(page.get_by_text("漏报：第1次续报超过时限")).to_be_visible()
    page.context.close()
