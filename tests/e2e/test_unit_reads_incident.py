"""The responding unit sees what it is responding to (issue 16): on a phone, the fire brigade's
liaison reads the call on its order card — what was said, who called and the number, who is
trapped — opens the incident from the card and reads the reports, the photo, the other units on
it and the notes meant for units, with no button of the centre's."""

from __future__ import annotations

import base64
import uuid

import httpx
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import PNG, bearer, phone_context, shot, sign_in

DESCRIPTION = "安南乡一民房起火，有人被困，浓烟很大"


def fire_call(base: str, officer: dict[str, str]) -> str:
    """A 119 call with a photo, verified and dispatched by the routing table; the incident id."""
    answer = httpx.post(
        f"{base}/api/v1/intake/reports",
        headers=officer,
        json={
            "channel": "hotline_119",
            "external_id": f"e2e-unit-read-{uuid.uuid4().hex[:12]}",
            "text": DESCRIPTION,
            "address": "安南乡",
            "reporter_name": "李四",
            "reporter_phone": "13900002222",
            "casualties": {"trapped": 2},
            "category_code": "accident.fire",
            "attachments": [
                {
                    "filename": "scene.png",
                    "content_type": "image/png",
                    "data_base64": base64.b64encode(PNG).decode(),
                }
            ],
        },
    )
    answer.raise_for_status()
    assert answer.json()["created"], answer.json()  # a new incident, not a duplicate
    incident: str = answer.json()["incident_id"]
    for step in ("verify", "dispatch"):
        httpx.post(f"{base}/api/v1/incidents/{incident}/{step}", headers=officer).raise_for_status()
    httpx.post(
        f"{base}/api/v1/incidents/{incident}/notes",
        headers=officer,
        json={"text": "请从村口北侧进入，南侧道路已封闭", "for_units": True},
    ).raise_for_status()
    httpx.post(
        f"{base}/api/v1/incidents/{incident}/notes",
        headers=officer,
        json={"text": "中心内部：已报带班领导"},
    ).raise_for_status()
    return incident


def test_liaison_opens_the_incident_from_its_order_card_and_reads_the_call(
    server: str, browser: Browser
) -> None:
    incident = fire_call(server, bearer(server, "duty_officer"))
    phone = phone_context(browser)
    page = phone.new_page()
    sign_in(page, server, "liaison_fire", home="inbox")

    card = page.get_by_test_id("inbox-order").filter(has_text=DESCRIPTION)
    expect(card).to_be_visible()
    expect(card.get_by_test_id("order-description")).to_have_text(DESCRIPTION)
    expect(card.get_by_test_id("order-caller")).to_contain_text("李四")
    expect(card.get_by_test_id("order-caller").locator("a[href='tel:13900002222']")).to_be_visible()
    expect(card.get_by_test_id("order-casualties")).to_contain_text("被困 2")
    shot(page, "unit-order-card-phone")

    card.get_by_test_id("order-incident-link").click()
    page.wait_for_url(f"**/incidents/{incident}")
    expect(page.get_by_test_id("incident-header")).to_be_visible()
    expect(page.get_by_text("未找到该事件")).to_have_count(0)
    reports = page.get_by_test_id("incident-reports")
    expect(reports).to_contain_text(DESCRIPTION)
    expect(reports.get_by_test_id("report-caller")).to_contain_text("13900002222")
    expect(reports.get_by_test_id("report-attachment").locator("img")).to_be_visible()
    # the other units on it, by name, with their stages
    orders = page.get_by_test_id("incident-orders")
    expect(orders).to_contain_text("消防")
    expect(orders.locator("li.order").nth(1)).to_be_visible()
    expect(orders).not_to_contain_text("未知单位")
    # the note meant for units, not the centre's own
    timeline = page.get_by_test_id("incident-timeline")
    expect(timeline).to_contain_text("请从村口北侧进入")
    expect(timeline).not_to_contain_text("中心内部")
    # read-only: none of the centre's buttons
    expect(page.get_by_test_id("incident-actions")).to_have_count(0)
    expect(page.get_by_test_id("action-dispatch")).to_have_count(0)
    expect(page.get_by_test_id("action-close")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "unit-incident-phone")
    phone.close()
