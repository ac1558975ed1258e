"""Resources on the one map: the board draws a kind's layer only once it is switched on (its
first render asks for none), with counts per kind; the incident page lists what is around a
flood with distances and minutes, the duty officer requests a rescue team and tents from it,
the commander approves and dispatches on the requests screen, the officer confirms the team's
arrival, and the incident page shows the steps on its timeline and the team on its map."""

from __future__ import annotations

import math
import re
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, Request, expect

from tests.e2e.conftest import bearer, shot, sign_in
from tests.e2e.test_zh_cn_screen_walk import Walk, known_names

COUNTY_WAREHOUSE = "庆元县应急物资储备库"


def resource_named(base: str, headers: dict[str, str], kind: str, name: str) -> dict[str, Any]:
    answer = httpx.get(
        f"{base}/api/v1/resources", params={"kind": kind, "q": name}, headers=headers
    )
    answer.raise_for_status()
    found: dict[str, Any] = next(r for r in answer.json()["items"] if r["name"] == name)
    return found


def moved(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """A point ``east_m`` east and ``north_m`` north of (lon, lat)."""
    dlat = north_m / 111_320
    dlon = east_m / (111_320 * math.cos(math.radians(lat)))
    return round(lon + dlon, 6), round(lat + dlat, 6)


def report_flood(base: str, headers: dict[str, str], lon: float, lat: float) -> str:
    answer = httpx.post(
        f"{base}/api/v1/intake/reports",
        headers=headers,
        json={
            "channel": "hotline_110",
            "external_id": "e2e-surroundings-1",
            "text": "城东路积水上涨，低洼处有群众被困",
            "category_code": "natural.flood",
            "lon": lon,
            "lat": lat,
        },
    )
    assert answer.status_code == 201, answer.text
    incident_id: str = answer.json()["incident_id"]
    return incident_id


def open_page(browser: Browser, base: str, username: str) -> Page:
    context = browser.new_context(
        viewport={"width": 1600, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    sign_in(page, base, username)
    return page


def test_board_draws_a_resource_layer_only_once_it_is_switched_on(
    server: str, browser: Browser
) -> None:
    page = open_page(browser, server, "commander")
    asked: list[str] = []

    def note(request: Request) -> None:
        if ":layer" in request.url or ":counts" in request.url:
            asked.append(request.url)

    page.on("request", note)
    page.goto(f"{server}/map")
    board = page.get_by_test_id("board-map")
    expect(board).to_have_attribute("data-incidents-rendered", "true", timeout=20_000)
    assert asked == []  # the first render carries no resource layer

    page.get_by_test_id("layers-button").click()
    switcher = page.get_by_test_id("layer-switcher")
    expect(switcher).to_be_visible()
    expect(switcher.get_by_text("物资仓库")).to_be_visible()
    expect(switcher.get_by_text("危险源")).to_be_visible()
    count = switcher.get_by_test_id("layer-count-warehouse")
    expect(count).to_have_text(re.compile(r"^[1-9]\d*$"))
    assert all(":counts" in url for url in asked)

    switcher.get_by_test_id("layer-warehouse").click()
    expect(board).to_have_attribute("data-resource-layers", re.compile(r"warehouse:[1-9]"))
    assert any(":layer" in url and "kind=warehouse" in url for url in asked)
    page.wait_for_function(  # drawn: the map shows the warehouses (points or clusters)
        """() => document.querySelector('[data-testid=board-map]').yjMap
             .queryRenderedFeatures({layers: ['res-warehouse-points', 'res-warehouse-clusters']})
             .length > 0""",
        timeout=10_000,
    )
    shot(page, "board-resource-layer")
    walk = Walk(known_names(server, bearer(server, "admin")))
    walk.read(page, "board with the layer switcher")
    assert walk.found == {}

    switcher.get_by_test_id("layer-warehouse").click()
    expect(board).to_have_attribute("data-resource-layers", "")
    page.context.close()


def test_officer_requests_a_team_from_the_incident_page_and_follows_it_to_arrival(
    server: str, browser: Browser
) -> None:
    officer = bearer(server, "duty_officer")
    warehouse = resource_named(server, officer, "warehouse", COUNTY_WAREHOUSE)
    incident = report_flood(server, officer, *moved(warehouse["lon"], warehouse["lat"], 300, 200))

    page = open_page(browser, server, "duty_officer")
    page.goto(f"{server}/incidents/{incident}")
    around = page.get_by_test_id("surroundings")
    teams = around.get_by_test_id("surroundings-teams")
    expect(teams.locator("li").first).to_be_visible(timeout=15_000)
    first_where = teams.locator("li").first.get_by_test_id("where")
    expect(first_where).to_contain_text("分钟")
    expect(first_where).to_contain_text(re.compile("米|公里"))
    expect(around.get_by_test_id("surroundings-needed")).to_contain_text("救生衣")
    stores = around.get_by_test_id("surroundings-warehouses")
    county = stores.locator("li.warehouse", has_text=COUNTY_WAREHOUSE)
    expect(county).to_contain_text("救灾帐篷")
    expect(county).to_contain_text("可用")
    expect(around.get_by_test_id("surroundings-shelters")).to_be_visible()
    expect(around.get_by_test_id("surroundings-hazards")).to_be_visible()
    expect(around.get_by_test_id("surroundings-cameras")).to_be_visible()

    # 申请 the nearest team, with a note
    team_row = teams.locator("li").first
    team = team_row.locator(".name").inner_text()
    team_row.get_by_test_id("request-unit").click()
    page.get_by_test_id("request-dialog").locator("textarea").fill("城东路低洼处转移群众")
    page.get_by_test_id("request-submit").click()
    expect(around.get_by_test_id("request-created")).to_contain_text("已提交申请")
    requests = page.get_by_test_id("incident-requests")
    team_request = requests.locator("li", has_text=team)
    expect(team_request.get_by_test_id("request-state")).to_have_text("待审批")
    expect(page.locator('[data-code="resource.request.created"]')).to_contain_text(team)

    # and 20 tents from the county's warehouse
    county.locator("li[data-item=救灾帐篷]").get_by_test_id("request-item").click()
    page.get_by_test_id("request-dialog").locator(".el-input-number input").fill("20")
    page.get_by_test_id("request-submit").click()
    expect(requests.locator("li", has_text="救灾帐篷")).to_contain_text("待审批")
    # and far more tents than the county holds
    county.locator("li[data-item=救灾帐篷]").get_by_test_id("request-item").click()
    page.get_by_test_id("request-dialog").locator(".el-input-number input").fill("5000")
    page.get_by_test_id("request-submit").click()
    expect(requests.locator("li", has_text="5000")).to_contain_text("待审批")
    shot(page, "incident-surroundings")

    # the commander decides: approve and dispatch the team, approve the tents
    desk = open_page(browser, server, "commander")
    desk.goto(f"{server}/resources/requests")
    row = desk.get_by_test_id("requests-table").locator("tr", has_text=team).first
    row.get_by_test_id("step-approve").click()
    expect(row.get_by_test_id("request-state")).to_have_text("已批准")
    row.get_by_test_id("step-dispatch").click()
    expect(row.get_by_test_id("request-state")).to_have_text("已出动")
    too_many = desk.get_by_test_id("requests-table").locator("tr", has_text="× 5000")
    too_many.get_by_test_id("step-approve").click()
    short = re.compile(r"库存不足，当前可用 \d+")
    expect(desk.get_by_test_id("requests-error")).to_have_text(short)
    expect(too_many.get_by_test_id("request-state")).to_have_text("待审批")
    tents = desk.get_by_test_id("requests-table").locator("tr", has_text="× 20").first
    tents.get_by_test_id("step-approve").click()
    expect(tents.get_by_test_id("request-state")).to_have_text("已批准")
    shot(desk, "requests-incoming")
    desk.context.close()

    # the incident page follows live; the officer confirms the team's arrival
    expect(team_request.get_by_test_id("request-state")).to_have_text("已出动", timeout=10_000)
    expect(page.locator('[data-code="resource.request.dispatched"]')).to_contain_text(team)
    expect(page.get_by_test_id("allocation-pin").first).to_be_attached()
    page.goto(f"{server}/resources/requests")
    mine = page.get_by_test_id("requests-table").locator("tr", has_text=team).first
    expect(mine.get_by_test_id("step-approve")).to_have_count(0)  # not the officer's to decide
    mine.get_by_test_id("step-arrive").click()
    expect(mine.get_by_test_id("request-state")).to_have_text("已到场")

    page.goto(f"{server}/incidents/{incident}")
    requests = page.get_by_test_id("incident-requests")
    expect(requests.locator("li", has_text=team).get_by_test_id("request-state")).to_have_text(
        "已到场"
    )
    expect(page.locator('[data-code="resource.request.arrived"]')).to_contain_text(team)
    expect(page.get_by_test_id("allocation-pin")).to_have_count(2)  # the team and the tents

    # every word of the new screens is Chinese (request numbers are codes)
    numbers = {
        r["number"]
        for r in httpx.get(
            f"{server}/api/v1/resource-requests", params={"incident_id": incident}, headers=officer
        ).json()["items"]
    }
    walk = Walk(known_names(server, bearer(server, "admin")) | numbers)
    walk.read(page, "incident page with surroundings and requests")
    walk.visit(page, server, "/resources/requests", "requests (sent)")
    page.get_by_test_id("requests-state").select_option("")
    walk.read(page, "requests (all states)")
    assert walk.found == {}
    page.context.close()
