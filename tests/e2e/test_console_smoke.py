"""The browser app signs in, shows the county's map and organisation, and updates live."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import DEMO_PASSWORD, shot, sign_in


def test_wrong_password_shows_a_translated_message_not_json(server: str, browser: Browser) -> None:
    page = browser.new_page(locale="zh-CN")
    page.goto(f"{server}/login")
    page.fill("input[name=username]", "duty_officer")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    error = page.get_by_test_id("login-error")
    expect(error).to_be_visible()
    assert "{" not in error.inner_text() and "invalid_credentials" not in error.inner_text()
    shot(page, "login-error-desktop")
    page.close()


def test_commander_sees_the_county_map_and_live_events(server: str, browser: Browser) -> None:
    context = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    with page.expect_response(lambda r: "/api/v1/divisions.geojson" in r.url and r.ok):
        sign_in(page, server, "commander")
    expect(page.locator("canvas.maplibregl-canvas")).to_be_visible()
    page.wait_for_timeout(1500)  # let the boundaries paint before the screenshot
    shot(page, "map-desktop")
    # a change made elsewhere appears in the live feed without reloading
    token = httpx.post(
        f"{server}/api/v1/auth/token", data={"username": "admin", "password": DEMO_PASSWORD}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    unit = httpx.get(f"{server}/api/v1/units?q=竹口镇", headers=headers).json()["items"][0]
    httpx.patch(
        f"{server}/api/v1/units/{unit['id']}", headers=headers, json={"phone": "0578-6123456"}
    ).raise_for_status()
    expect(
        page.get_by_text("org.unit.updated").or_(page.get_by_text(unit["name"])).first
    ).to_be_visible(timeout=5000)
    context.close()


def test_admin_sees_the_linkage_units_of_the_demo_county(server: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, server, "admin")
    page.wait_for_url("**/admin/**")
    page.goto(f"{server}/admin/units")
    expect(page.get_by_text("县消防救援大队").first).to_be_visible()
    shot(page, "smoke-admin-units-desktop")
    context.close()


def test_town_liaison_on_a_phone_sees_only_its_town(server: str, browser: Browser) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page = context.new_page()
    sign_in(page, server, "liaison_zhukou")
    page.wait_for_url("**/inbox")  # a liaison's home is the unit inbox
    with page.expect_response(lambda r: "/api/v1/divisions.geojson" in r.url and r.ok) as info:
        page.goto(f"{server}/map")
    features = info.value.json()["features"]
    assert {f["properties"]["name"] for f in features} == {"竹口镇"}
    expect(page.locator("canvas.maplibregl-canvas")).to_be_visible()
    page.wait_for_timeout(1000)
    shot(page, "map-phone")
    context.close()
