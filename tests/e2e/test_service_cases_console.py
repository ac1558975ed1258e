"""服务类事务 in the console: a 12345 call about a water cut opens a service case, which the duty
officer finds on 服务类事务 (in Chinese, with its orders' progress and its 回访 state) and not on
the situation board; its page shows no level and offers no 首报; and the KPI page's switch
应急类 / 服务类 shows the service orders' figures apart from the emergencies', kept in the URL."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import bearer, shot, sign_in


def report(base: str, headers: dict[str, str], **body: object) -> str:
    """A call taken through the intake API, verified and dispatched by the routing table."""
    answer = httpx.post(f"{base}/api/v1/intake/reports", headers=headers, json=body)
    answer.raise_for_status()
    incident = str(answer.json()["incident_id"])
    url = f"{base}/api/v1/incidents/{incident}"
    httpx.post(f"{url}/verify", headers=headers, json={}).raise_for_status()
    httpx.post(f"{url}/dispatch", headers=headers).raise_for_status()
    return incident


def test_a_water_cut_is_a_service_case_listed_apart_and_counted_apart(
    server: str, browser: Browser
) -> None:
    officer = bearer(server, "duty_officer")
    case = report(
        server,
        officer,
        channel="hotline_12345",
        external_id="svc-e2e-1",
        text="官塘中心学校旁边的小区家里停水两天了，什么时候来水",
        address="官塘中心学校",
    )
    fire = report(
        server,
        officer,
        channel="hotline_119",
        external_id="svc-e2e-2",
        # 淤上乡: no other browser test reports a fire there (the screen walk's fire is at
        # 官塘中心学校, and would join this one if it stood beside it)
        text="淤上乡一栋民房着火了，浓烟很大",
        address="淤上乡",
        category_code="accident.fire",
    )
    assert case != fire
    read = httpx.get(f"{server}/api/v1/incidents/{case}", headers=officer).json()
    assert read["kind"] == "service" and read["category_code"].startswith("service.")
    number = read["number"]
    orders = httpx.get(f"{server}/api/v1/incidents/{case}/orders", headers=officer).json()
    assert orders and all(o["stage"] == "issued" for o in orders)
    fire_number = httpx.get(f"{server}/api/v1/incidents/{fire}", headers=officer).json()["number"]
    admin = bearer(server, "admin")
    units = httpx.get(f"{server}/api/v1/units?limit=500", headers=admin).json()["items"]
    name = {u["code"]: u["name"] for u in units}
    water, brigade = name["D038"], name["D003"]  # 供排水公司 (service lead), 消防救援大队

    context = browser.new_context(
        viewport={"width": 1600, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    sign_in(page, server, "duty_officer", "intake")

    # 服务类事务: from the side menu; the case with its category, town, progress and 回访 state
    page.get_by_role("link", name="服务类事务").click()
    page.wait_for_url("**/service-cases")
    listed = page.get_by_test_id("service-case-list")
    row = listed.locator(".el-table__row", has_text=number)
    expect(row).to_be_visible()
    expect(row).to_contain_text("停水")
    expect(row.get_by_test_id("service-category")).to_contain_text(re.compile("[\u4e00-\u9fff]"))
    expect(row.get_by_test_id("service-category")).not_to_contain_text("service")
    n = len(orders)
    expect(row.get_by_test_id("service-progress")).to_have_text(f"已签收 0/{n} · 已办结 0/{n}")
    expect(row.get_by_test_id("service-callback")).to_have_text("未办结")
    expect(listed).not_to_contain_text(fire_number)  # the fire is an emergency, not listed here
    shot(page, "service-cases")

    # the case page: a service case, no level, no 首报, no level change
    row.locator("td").nth(1).click()
    page.wait_for_url(f"**/incidents/{case}")
    header = page.get_by_test_id("incident-header")
    expect(header.get_by_test_id("incident-kind-service")).to_have_text("服务类")
    expect(header.get_by_test_id("incident-level")).to_have_count(0)
    expect(header).not_to_contain_text("首报")
    expect(page.get_by_test_id("action-level")).to_have_count(0)

    # the situation board lists the fire, never the service case
    page.goto(f"{server}/map")
    board = page.get_by_test_id("board-list")
    expect(board.locator(f'a[href="/incidents/{fire}"]')).to_have_count(1)
    expect(board.locator(f'a[href="/incidents/{case}"]')).to_have_count(0)
    expect(board).not_to_contain_text("停水")

    # KPIs: 应急类 by default (the brigade's fire order), 服务类 on the switch (the water company)
    page.goto(f"{server}/kpi")
    table = page.get_by_test_id("kpi-units")
    expect(table).to_contain_text(brigade)
    expect(table).not_to_contain_text(water)
    page.get_by_test_id("kpi-kind").get_by_text("服务类").click()
    page.wait_for_url(re.compile(r".*/kpi\?.*kind=service"))
    expect(table).to_contain_text(water)
    expect(table).not_to_contain_text(brigade)
    shot(page, "kpi-service")
    # the kind is in the URL: a reload (or a shared link) stays on 服务类
    page.reload()
    expect(page.get_by_test_id("kpi-units")).to_contain_text(water)
    expect(page.get_by_test_id("kpi-kind").locator(".is-active")).to_have_text("服务类")
    context.close()
