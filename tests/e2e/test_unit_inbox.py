"""单位待办 on a phone, 督办看板 and 考核指标 on a desk, against a real server: a unit liaison gets
an order live, signs it, arrives with the phone's position, sends feedback with a photo from the
camera and completes; the duty leader reminds a late unit and downloads the monthly bulletin."""

from __future__ import annotations

import math
import re
import uuid

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import PNG, bearer, phone_context, shot, sign_in

POSITION = {"longitude": 119.06, "latitude": 27.6}


def dispatched_fire(
    base: str, officer: dict[str, str], text: str, address: str, lon: float, lat: float
) -> str:
    report = httpx.post(
        f"{base}/api/v1/intake/reports",
        headers=officer,
        json={
            "channel": "hotline_119",
            "external_id": f"e2e-inbox-{uuid.uuid4().hex[:12]}",
            "text": text,
            "address": address,
            "lon": lon,
            "lat": lat,
            "reporter_phone": "13900001111",
            "category_code": "accident.fire",
        },
    )
    report.raise_for_status()
    assert report.json()["created"], report.json()  # a new incident, not a duplicate
    incident = report.json()["incident_id"]
    httpx.post(f"{base}/api/v1/incidents/{incident}/verify", headers=officer).raise_for_status()
    httpx.post(f"{base}/api/v1/incidents/{incident}/dispatch", headers=officer).raise_for_status()
    title: str = httpx.get(f"{base}/api/v1/incidents/{incident}", headers=officer).json()["title"]
    return title


def card(page: Page, title: str):
    return page.get_by_test_id("inbox-order").filter(has_text=title)


def test_liaison_works_an_order_on_a_phone_and_the_leader_supervises_and_reports(
    server: str, browser: Browser
) -> None:
    officer = bearer(server, "duty_officer")
    first = dispatched_fire(
        server, officer, "竹口镇竹口村一民房起火，浓烟很大", "竹口镇竹口村", 118.8377, 27.6736
    )

    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        permissions=["geolocation"],
        geolocation=POSITION,
    )
    page = phone.new_page()
    sign_in(page, server, "liaison_fire")
    page.wait_for_url("**/inbox")
    # the brigade's scope is its unit, yet its order names the incident and the place
    order = card(page, first)
    expect(order).to_be_visible()
    expect(order).to_contain_text("竹口镇竹口村")
    expect(order.get_by_test_id("countdown")).to_contain_text("签收")
    expect(page.get_by_text("实时")).to_be_visible()

    # a second dispatch arrives live, with an in-page notification
    second = dispatched_fire(
        server, officer, "黄田镇黄田村仓库冒烟起火", "黄田镇黄田村", 118.9407, 27.6103
    )
    expect(card(page, second)).to_be_visible(timeout=10_000)
    notice = page.locator(".inbox-new-order")
    expect(notice).to_be_visible()
    # built on the phone from the order's fields: the incident, the role, the sign deadline
    expect(notice).to_contain_text(second)
    expect(notice).to_contain_text("（主办）")
    expect(notice).to_contain_text("前签收")
    page.wait_for_timeout(600)  # let the new card finish sliding in
    shot(page, "inbox-phone")

    order.locator("[data-action=sign]").click()
    expect(order.get_by_test_id("order-stage")).to_have_text("已签收")
    order.locator("[data-action=arrive]").click()
    expect(order.get_by_test_id("order-stage")).to_have_text("已到场")

    order.locator("[data-action=feedback]").click()
    dialog = page.get_by_test_id("order-dialog")
    page.get_by_label("反馈内容").fill("明火已扑灭，正在清理现场")
    page.get_by_label("现场照片").set_input_files(
        {"name": "scene.png", "mimeType": "image/png", "buffer": PNG}
    )
    with page.expect_response(lambda r: "/photos" in r.url and r.status == 201):
        page.get_by_test_id("dialog-submit").click()
    expect(dialog).to_be_hidden()
    expect(order).to_contain_text("已反馈 1 次")

    order.locator("[data-action=complete]").click()
    page.get_by_test_id("dialog-submit").click()
    expect(card(page, first)).to_have_count(0)  # the open list no longer holds it

    # what the server recorded: the position, the feedback with its photo, the completion
    orders = httpx.get(f"{server}/api/v1/orders", headers=bearer(server, "liaison_fire")).json()
    done = next(o for o in orders["items"] if o["incident"]["title"] == first)
    assert done["stage"] == "completed"
    assert (done["arrive_lon"], done["arrive_lat"]) == pytest.approx(
        (POSITION["longitude"], POSITION["latitude"]), abs=1e-6
    )
    detail = httpx.get(f"{server}/api/v1/orders/{done['id']}", headers=officer).json()
    photo = detail["feedback"][0]["attachments"][0]
    image = httpx.get(
        f"{server}/api/v1/orders/{done['id']}/photos/{photo['sha256']}", headers=officer
    )
    assert image.content == PNG
    phone.close()

    desk = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = desk.new_page()
    sign_in(page, server, "liaison_fire")
    page.wait_for_url("**/inbox")
    expect(card(page, second)).to_be_visible()
    page.get_by_text("全部", exact=True).click()
    expect(card(page, first)).to_contain_text("已办结")
    shot(page, "inbox-desktop")
    desk.close()

    leader = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = leader.new_page()
    sign_in(page, server, "duty_leader")
    page.wait_for_url(re.compile(r".*/(map|intake|inbox).*"))
    page.goto(f"{server}/supervision")
    table = page.get_by_test_id("supervision-table")
    row = table.locator("tr").filter(has_text=second).first
    expect(row).to_be_visible()
    row.get_by_test_id("remind").click()
    expect(row.get_by_test_id("escalations")).to_contain_text("催办")
    page.wait_for_load_state("networkidle")
    expect(row.get_by_test_id("escalations")).to_contain_text("催办")
    shot(page, "supervision-desktop")

    page.goto(f"{server}/kpi")
    units = page.get_by_test_id("kpi-units")
    brigade = units.locator("tr").filter(has_text="县消防救援大队").first
    expect(brigade).to_be_visible()
    # the rate the server computes for the brigade this month (its two orders, one signed)
    figures = httpx.get(f"{server}/api/v1/kpi/units", headers=bearer(server, "duty_leader")).json()
    mine = next(f for f in figures if f["name"] == "庆元县消防救援大队")
    assert mine["acceptance"]["numerator"] >= 1 and mine["orders"] >= 2
    shown = math.floor(mine["acceptance"]["rate"] * 1000 + 0.5) / 10
    expect(brigade.locator("[data-rate=acceptance]")).to_have_text(f"{shown:g}%")
    expect(page.get_by_test_id("kpi-chart")).to_be_visible()
    page.wait_for_timeout(800)  # let the bars animate in
    shot(page, "kpi-desktop")
    with page.expect_download() as info:
        page.get_by_test_id("bulletin-docx").click()
    download = info.value
    assert download.suggested_filename.endswith(".docx")
    with open(download.path(), "rb") as handle:
        assert handle.read(2) == b"PK"  # a Word file is a zip
    leader.close()

    small = phone_context(browser)
    page = small.new_page()
    sign_in(page, server, "duty_leader")
    page.wait_for_url(re.compile(r".*/(map|intake|inbox).*"))
    page.goto(f"{server}/kpi")
    expect(page.get_by_test_id("kpi-chart")).to_be_visible()
    page.wait_for_timeout(800)
    shot(page, "kpi-phone")
    small.close()


def test_liaison_without_a_position_returns_and_transfers_and_keeps_answering(
    server: str, browser: Browser
) -> None:
    officer = bearer(server, "duty_officer")
    returned = dispatched_fire(
        server, officer, "荷地镇荷地村柴房起火", "荷地镇荷地村", 119.2620, 27.6956
    )
    handed = dispatched_fire(
        server, officer, "龙溪乡龙溪村厂房起火", "龙溪乡龙溪村", 118.8448, 27.5706
    )
    phone = phone_context(browser)  # no geolocation permission: the position is refused
    page = phone.new_page()
    sign_in(page, server, "liaison_fire")
    page.wait_for_url("**/inbox")

    order = card(page, returned)
    order.locator("[data-action=return]").click()
    page.get_by_test_id("dialog-submit").click()
    expect(page.get_by_text("请填写此项")).to_be_visible()  # a reason is required
    page.get_by_label("原因").fill("不属于本单位职责")
    page.get_by_test_id("dialog-submit").click()
    expect(card(page, returned)).to_have_count(0)

    order = card(page, handed)
    order.locator("[data-action=sign]").click()
    expect(order.get_by_test_id("order-stage")).to_have_text("已签收")
    order.locator("[data-action=arrive]").click()
    expect(page.get_by_text("无法获取位置")).to_be_visible()
    expect(order.get_by_test_id("order-stage")).to_have_text("已到场")
    expect(order).to_contain_text("未记录位置")

    order_id = order.get_attribute("data-order-id")
    order = page.locator(f'[data-order-id="{order_id}"]')
    with page.expect_response(lambda r: "/transfer-units" in r.url) as units:
        order.locator("[data-action=transfer]").click()
    assert units.value.ok, units.value.status
    unit = page.get_by_test_id("transfer-unit")
    unit.click()
    unit.locator("input").press_sequentially("应急管理局")  # typing keeps the list open
    page.get_by_role("option", name="庆元县应急管理局").click()
    page.get_by_label("移交原因").fill("需应急管理局牵头")
    page.get_by_test_id("dialog-submit").click()
    # the order stays ours until the new unit signs (首接负责制)
    expect(order).to_contain_text("等待 庆元县应急管理局 签收")
    expect(order.locator("[data-action=transfer]")).to_have_count(0)
    first_contact = page.get_by_test_id("first-contact")
    expect(first_contact).to_contain_text("庆元县应急管理局")

    orders = httpx.get(f"{server}/api/v1/orders", headers=bearer(server, "liaison_fire")).json()
    mine = [o for o in orders["items"] if o["incident"]["title"] in (returned, handed)]
    by_stage = sorted((o["incident"]["title"] == handed, o["stage"]) for o in mine)
    assert by_stage == [(False, "returned"), (True, "arrived"), (True, "issued")]
    assert next(o for o in mine if o["stage"] == "arrived")["arrive_lon"] is None
    phone.close()


def test_the_supervision_board_turns_an_order_overdue_at_its_deadline_without_an_event(
    server: str, browser: Browser
) -> None:
    officer = bearer(server, "duty_officer")
    town = httpx.get(
        f"{server}/api/v1/divisions", headers=officer, params={"q": "左溪镇", "level": "town"}
    ).json()["items"][0]
    title = dispatched_fire(
        server,
        officer,
        "左溪镇一处柴草堆起火，督办计时",
        "左溪镇",
        town["centroid_lon"],
        town["centroid_lat"],
    )
    context = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    page.clock.install()  # the browser's clock, which the test moves on; the server's runs as ever
    sign_in(page, server, "duty_leader")
    page.goto(f"{server}/supervision")
    row = page.get_by_test_id("supervision-table").locator("tr").filter(has_text=title).first
    expect(row).to_be_visible()
    countdown = row.get_by_test_id("countdown")
    expect(countdown).not_to_have_attribute("data-state", "overdue")
    expect(countdown).to_contain_text("签收")
    overdue_before = int(page.get_by_test_id("count-overdue").locator("strong").inner_text())
    # the order owes its signature within the hour: an hour later it is overdue on screen, though
    # no event arrived (nobody signed, and the server's own clock has not moved)
    page.clock.fast_forward("01:00:00")
    expect(countdown).to_have_attribute("data-state", "overdue")
    expect(countdown).to_contain_text("超时")
    expect(row).to_have_class(re.compile(r"state-overdue"))
    assert int(page.get_by_test_id("count-overdue").locator("strong").inner_text()) > overdue_before
    shot(page, "supervision-overdue-by-the-clock")
    context.close()


def test_a_liaison_reading_english_is_told_of_a_new_order_in_english(
    server: str, browser: Browser
) -> None:
    officer = bearer(server, "duty_officer")
    town = httpx.get(
        f"{server}/api/v1/divisions", headers=officer, params={"q": "贤良镇", "level": "town"}
    ).json()["items"][0]
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-US", timezone_id="Asia/Shanghai"
    )
    context.add_init_script("localStorage.setItem('yingji.locale', 'en')")
    page = context.new_page()
    sign_in(page, server, "liaison_fire")
    page.wait_for_url("**/inbox")
    expect(page.get_by_text("Live", exact=True)).to_be_visible()
    title = dispatched_fire(
        server,
        officer,
        "贤良镇一处民房起火，屋顶冒烟",
        "贤良镇",
        town["centroid_lon"],
        town["centroid_lat"],
    )
    notice = page.locator(".inbox-new-order")
    expect(notice).to_be_visible(timeout=10_000)
    expect(notice).to_contain_text("New order")
    expect(notice).to_contain_text(f"{title} (Lead); sign by ")
    expect(notice).not_to_contain_text("派单")  # the server's Chinese summary is not shown
    page.wait_for_timeout(600)  # let the notice finish sliding in
    shot(page, "inbox-new-order-english")
    context.close()
