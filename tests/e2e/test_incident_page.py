"""The incident page drives a fire from verification to the callback: the officer verifies,
raises the level with a reason, sees the dispatch plan with each unit's reason, unticks one and
dispatches; the liaisons sign and complete through the API and the page follows live. The
page's map outlines the incident's division around its point, over the base map when one is
configured."""

from __future__ import annotations

import time
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import Tiles, bearer, phone_context, shot, sign_in
from tests.factories import report

# 半源村, 竹口镇: far from the demo's own incidents, so the report opens a new incident
SPOT = {"lon": 118.8513, "lat": 27.7538}


def report_fire(
    base: str, headers: dict[str, str], external_id: str, text: str, **extra: object
) -> dict[str, Any]:
    """A 119 fire call as the desk files it; the answer (``incident_id``, ``duplicate``)."""
    created = httpx.post(
        f"{base}/api/v1/intake/reports",
        headers=headers,
        json={
            "channel": "hotline_119",
            "external_id": external_id,
            "text": text,
            "category_code": "accident.fire",
            **extra,
        },
    )
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    return answer


def order_act(base: str, headers: dict[str, str], order_id: str, action: str) -> None:
    httpx.post(f"{base}/api/v1/orders/{order_id}/{action}", headers=headers).raise_for_status()


def test_officer_takes_a_fire_from_verification_to_callback_live(
    server: str, browser: Browser
) -> None:
    officer = bearer(server, "duty_officer")
    created = report_fire(
        server,
        officer,
        "e2e-incident-page-1",
        "半源村一民房着火，火势较大，有人员被困",
        reporter_name="李先生",
        reporter_phone="13900001111",
        **SPOT,
    )
    assert created["duplicate"] is False
    incident = created["incident_id"]

    context = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    sign_in(page, server, "duty_officer")
    page.goto(f"{server}/incidents/{incident}")
    expect(page.get_by_test_id("incident-state")).to_have_text("已接报")
    expect(page.get_by_test_id("incident-map")).to_be_visible()
    page.evaluate("window.__sameDocument = true")  # gone if the page ever reloads

    # 核实
    page.get_by_test_id("action-verify").click()
    expect(page.get_by_test_id("incident-state")).to_have_text("已核实")
    expect(page.locator("[data-kind=verified]")).to_be_visible()

    # a level change to the same level fails: translated message, nothing changes
    page.get_by_test_id("action-level").click()
    page.get_by_label("原因").fill("复核")
    page.get_by_test_id("dialog-submit").click()
    expect(page.get_by_test_id("dialog-error")).to_have_text("级别未变化")
    expect(page.get_by_test_id("incident-level")).to_contain_text("Ⅳ级")
    expect(page.locator("[data-kind=level_changed]")).to_have_count(0)

    # 升级 to III with the reason
    page.get_by_test_id("level-options").get_by_text("Ⅲ级 较大").click()
    expect(page.get_by_test_id("level-direction")).to_have_text("升级")
    page.get_by_label("原因").fill("有人员被困，升级为较大")
    page.get_by_test_id("dialog-submit").click()
    expect(page.get_by_test_id("incident-level")).to_contain_text("Ⅲ级")
    expect(page.locator("[data-kind=level_changed]")).to_contain_text("有人员被困")
    expect(page.get_by_test_id("action-firstReport")).to_be_visible()  # 首报 is now due

    # 派单: the plan with each unit's reason, before anything is issued
    page.get_by_test_id("action-dispatch").click()
    plan = page.get_by_test_id("dispatch-plan")
    fire = plan.locator("li", has_text="庆元县消防救援大队")
    expect(fire).to_contain_text("火灾：消防救援大队主办")
    expect(plan.locator("li", has_text="竹口镇人民政府")).to_contain_text("属地乡镇协办")
    village = plan.locator("li", has_text="属地村协办")
    expect(village).to_be_visible()
    assert httpx.get(f"{server}/api/v1/incidents/{incident}/orders", headers=officer).json() == []
    bureau = plan.locator("li", has_text="较大及以上：应急管理局协办")  # because of level III
    expect(bureau).to_be_visible()
    # the officer keeps the brigade and the town: unticks the village, the bureau and any unit
    # a rule added by another test brought in
    rows = plan.locator("li")
    for index in range(rows.count()):
        row = rows.nth(index)
        text = row.inner_text()
        if "庆元县消防救援大队" in text or "竹口镇人民政府" in text:
            continue
        row.get_by_test_id("plan-unit").click()
        expect(row).to_have_class("off")
    expect(page.get_by_test_id("dispatch-chosen")).to_contain_text("2")
    page.get_by_test_id("dispatch-chosen").click()
    orders_box = page.get_by_test_id("incident-orders")
    expect(orders_box.locator("li.order")).to_have_count(2)
    expect(orders_box.locator("li.order[data-stage=issued]")).to_have_count(2)
    expect(orders_box.get_by_test_id("order-countdown").first).to_contain_text("待签收")
    expect(page.get_by_test_id("incident-state")).to_have_text("处置中")

    orders = httpx.get(f"{server}/api/v1/incidents/{incident}/orders", headers=officer).json()
    units = {
        u["code"]: u["id"]
        for u in httpx.get(f"{server}/api/v1/units?limit=1000", headers=officer).json()["items"]
    }
    by_unit = {o["unit_id"]: o["id"] for o in orders}
    assert set(by_unit) == {units["D003"], units["T101"]}  # the fire brigade and 竹口镇
    fire_order, town_order = by_unit[units["D003"]], by_unit[units["T101"]]

    # the fire brigade's liaison signs: the stage changes on the page without reload
    fire_liaison = bearer(server, "liaison_fire")
    order_act(server, fire_liaison, fire_order, "sign")
    fire_row = page.get_by_test_id(f"order-{fire_order}")
    expect(fire_row).to_have_attribute("data-stage", "signed", timeout=5000)
    expect(fire_row.get_by_test_id("order-stage")).to_have_text("已签收")
    expect(fire_row.get_by_test_id("order-countdown")).to_contain_text("待到场")
    expect(page.locator("[data-kind=order_signed]")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    shot(page, "incident-desktop")

    # both units complete: the page prompts the officer to close
    order_act(server, fire_liaison, fire_order, "complete")
    town_liaison = bearer(server, "liaison_zhukou")
    order_act(server, town_liaison, town_order, "sign")
    order_act(server, town_liaison, town_order, "complete")
    expect(page.locator("li.order[data-stage=completed]")).to_have_count(2, timeout=5000)
    expect(page.get_by_test_id("ready-to-close")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True

    # 办结, then 回访
    page.get_by_test_id("action-close").click()
    page.get_by_test_id("dialog-submit").click()
    expect(page.get_by_test_id("incident-state")).to_have_text("已办结")
    page.get_by_test_id("action-callback").click()
    page.get_by_label("回访记录").fill("报警人表示满意")
    page.get_by_test_id("dialog-submit").click()
    expect(page.locator("[data-kind=callback_done]")).to_contain_text("满意")
    expect(page.get_by_test_id("action-callback")).to_have_count(0)
    context.close()

    phone = phone_context(browser)
    page = phone.new_page()
    sign_in(page, server, "duty_officer")
    page.goto(f"{server}/incidents/{incident}")
    expect(page.get_by_test_id("incident-state")).to_have_text("已办结")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px phone"
    shot(page, "incident-phone")
    phone.close()


def test_closing_with_an_open_order_lists_it_and_ends_it_once_confirmed(
    server: str, browser: Browser
) -> None:
    officer = bearer(server, "duty_officer")
    incident = report_fire(
        server,
        officer,
        "e2e-incident-page-close-open",
        "半源村一柴房冒烟，已自行扑灭",
        lon=SPOT["lon"] + 0.004,
        lat=SPOT["lat"] + 0.004,
    )["incident_id"]
    base = f"{server}/api/v1/incidents/{incident}"
    httpx.post(f"{base}/verify", headers=officer).raise_for_status()
    units = {
        u["code"]: u["id"]
        for u in httpx.get(f"{server}/api/v1/units?limit=1000", headers=officer).json()["items"]
    }
    dispatched = httpx.post(
        f"{base}/dispatch",
        headers=officer,
        json={"units": [{"unit_id": units["D003"], "role": "lead"}]},
    )
    assert dispatched.status_code == 201, dispatched.text
    order = dispatched.json()[0]["id"]

    context = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    sign_in(page, server, "duty_officer")
    page.goto(f"{server}/incidents/{incident}")
    expect(page.get_by_test_id(f"order-{order}")).to_have_attribute("data-stage", "issued")

    # the first 确定 is refused by the server: the dialog lists the open order, nothing changes
    page.get_by_test_id("action-close").click()
    page.get_by_test_id("dialog-submit").click()
    listed = page.get_by_test_id("live-order")
    expect(listed).to_have_count(1)
    expect(listed).to_have_text("庆元县消防救援大队：待签收")
    expect(page.get_by_test_id("dialog-error")).to_have_count(0)
    expect(page.get_by_test_id("incident-state")).to_have_text("处置中")
    shot(page, "incident-close-open-orders")

    # confirmed: the incident closes and the order ends with it
    expect(page.get_by_test_id("dialog-submit")).to_have_text("结束派单并办结")
    page.get_by_test_id("dialog-submit").click()
    expect(page.get_by_test_id("incident-state")).to_have_text("已办结")
    row = page.get_by_test_id(f"order-{order}")
    expect(row).to_have_attribute("data-stage", "closed_with_incident", timeout=5000)
    expect(row.get_by_test_id("order-stage")).to_have_text("随事件结束")
    expect(page.locator("[data-kind=order_closed_with_incident]")).to_be_visible()
    ended = httpx.get(f"{server}/api/v1/orders/{order}", headers=officer).json()
    assert ended["stage"] == "closed_with_incident" and ended["next_deadline"] is None


# 举水乡: no other test reports there
JUSHUI = "331126201000"
# What the incident page's map shows once it is still: its bounds, the divisions its outline
# layer draws, its base layer (if any) and whether the incident's pin is on it.
INCIDENT_MAP = """() => {
  const el = document.querySelector('[data-testid=incident-map]')
  const map = el && el.yjMap
  if (!map || !map.loaded() || map.isMoving()) return null
  const b = map.getBounds()
  const outline = map.getLayer('incident-division')
    ? map.queryRenderedFeatures({ layers: ['incident-division'] }).map((f) => f.properties.adcode)
    : []
  const base = map.getLayer('base-0') && {
    shown: map.getLayoutProperty('base-0', 'visibility') !== 'none',
    loaded: map.isSourceLoaded('base-0'),
  }
  return {
    bounds: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()],
    outline: [...new Set(outline)],
    base: base || null,
    pin: el.querySelectorAll('.incident-pin').length,
  }
}"""


def village_incident(base: str, headers: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """An incident reported at the centre of a village of 举水乡, and that village."""
    villages = httpx.get(
        f"{base}/api/v1/divisions.geojson?level=village&parent={JUSHUI}", headers=headers
    ).json()["features"]
    lon, lat = villages[0]["properties"]["centroid"]
    created = httpx.post(
        f"{base}/api/v1/intake/reports",
        headers=headers,
        json=report("e2e-incident-map-1", "村口山体滑坡，道路被堵", lon=lon, lat=lat),
    )
    assert created.status_code in (200, 201), created.text
    incident = httpx.get(
        f"{base}/api/v1/incidents/{created.json()['incident_id']}", headers=headers
    ).json()
    division = httpx.get(
        f"{base}/api/v1/divisions/{incident['division_adcode']}", headers=headers
    ).json()
    return incident["id"], division


def settled_incident_map(page: Page) -> dict[str, Any]:
    """The incident map's state once it has drawn an outline (or, after 10 s, as it is)."""
    state: dict[str, Any] | None = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = page.evaluate(INCIDENT_MAP) or state
        if state and state["outline"] and (state["base"] is None or state["base"]["loaded"]):
            break
        page.wait_for_timeout(250)
    assert state is not None, "the incident map never settled"
    return state


def assert_division_outlined(state: dict[str, Any], division: dict[str, Any]) -> None:
    west, south, east, north = state["bounds"]
    xs, ys = [], []
    for ring in division["boundary"]["coordinates"]:
        for x, y in ring if division["boundary"]["type"] == "Polygon" else ring[0]:
            xs.append(x)
            ys.append(y)
    assert state["outline"] == [division["adcode"]], state
    assert west <= min(xs) and east >= max(xs) and south <= min(ys) and north >= max(ys), (
        f"the outline of {division['name']} is not all in view: {state['bounds']}"
    )
    assert state["pin"] == 1


def open_incident_map(browser: Browser, base: str, incident: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    sign_in(page, base, "duty_officer")
    page.goto(f"{base}/incidents/{incident}")
    expect(page.get_by_test_id("incident-map")).to_be_visible()
    return context, page


def test_incident_map_outlines_the_incidents_village_without_a_base_map(
    server: str, browser: Browser
) -> None:
    incident, division = village_incident(server, bearer(server, "duty_officer"))
    assert division["level"] == "village"
    context, page = open_incident_map(browser, server, incident)
    state = settled_incident_map(page)
    shot(page, "incident-map-offline")
    assert state["base"] is None
    assert_division_outlined(state, division)
    context.close()


def test_incident_map_draws_outline_and_point_over_the_configured_base_map(
    server_with_base_layer: str, browser: Browser
) -> None:
    base = server_with_base_layer
    incident, division = village_incident(base, bearer(base, "duty_officer"))
    Tiles.requested.clear()
    context, page = open_incident_map(browser, base, incident)
    state = settled_incident_map(page)
    shot(page, "incident-map-base")
    assert state["base"] == {"shown": True, "loaded": True}, state
    assert Tiles.requested, "the incident map asked the tile server for nothing"
    assert_division_outlined(state, division)
    context.close()
