"""The whole loop in two browsers at once: a duty officer at the intake desk and the fire
brigade's liaison on a phone. The officer takes a call, sees the second call about the same fire
offered as a duplicate and joins it, verifies and dispatches; the liaison's inbox shows the order
live and they sign, arrive, send feedback with a photo and complete, while the officer's incident
page follows each step without reload; the officer closes, records the callback, and the KPI page
counts the brigade's order."""

from __future__ import annotations

import math
import re

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import PNG, bearer, shot, sign_in

PLACE = "百山祖卫生院"  # a gazetteer place no other browser test reports from
POSITION = {"longitude": 119.1339, "latitude": 27.7350}  # beside it


def brigade_kpi(base: str) -> dict:
    figures = httpx.get(f"{base}/api/v1/kpi/units", headers=bearer(base, "duty_officer"))
    figures.raise_for_status()
    rows = [f for f in figures.json() if f["name"] == "庆元县消防救援大队"]
    return rows[0] if rows else {"acceptance": {"numerator": 0}}  # no order yet this month


def take_call(page: Page, caller: str, text: str, typed_address: str) -> None:
    page.get_by_label("报警人").fill(caller)
    page.get_by_label("警情描述").fill(text)
    address = page.get_by_label("事发地点")
    address.fill("")
    address.press_sequentially(typed_address, delay=40)
    page.locator(".el-autocomplete-suggestion li", has_text=PLACE).first.click()


def test_officer_and_liaison_play_the_whole_loop_live(server: str, browser: Browser) -> None:
    desk = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
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
    signed_before = brigade_kpi(server)["acceptance"]["numerator"]
    officer = desk.new_page()
    liaison = phone.new_page()
    sign_in(officer, server, "duty_officer", "intake")
    sign_in(liaison, server, "liaison_fire", "inbox")
    expect(liaison.get_by_text("实时")).to_be_visible()  # the inbox's live connection is up

    # 接警: the first call opens an incident
    take_call(officer, "周先生", "百山祖卫生院后面的仓库着火了，火很大", "百山祖卫")
    with officer.expect_response(
        lambda r: r.url.endswith("/api/v1/intake/reports") and r.ok
    ) as sent:
        officer.get_by_test_id("intake-submit").click()
    first = sent.value.json()
    assert first["created"] and not first["duplicate"], first
    incident = first["incident_id"]
    receipt = officer.get_by_test_id("intake-receipt")
    link = receipt.get_by_test_id("receipt-incident")
    expect(link).to_have_text(re.compile(r"^\s*\d{8}-[0-9A-Za-z]+\s*$"))  # the incident's number
    number = link.inner_text().strip()

    # a second call about the same fire, in other words: offered as a duplicate, joined in a click
    take_call(officer, "吴女士", "卫生院那边有间库房起火，冒了好多烟", "百山祖卫")
    candidate = officer.get_by_test_id("duplicate-candidate").filter(has_text=number)
    expect(candidate).to_be_visible()
    expect(candidate.get_by_test_id("candidate-distance")).to_contain_text("米")
    with officer.expect_response(
        lambda r: r.url.endswith("/api/v1/intake/reports") and r.ok
    ) as sent:
        candidate.get_by_test_id("join-candidate").click()
    assert sent.value.json()["incident_id"] == incident
    expect(receipt.get_by_test_id("receipt-incident")).to_have_text(number)

    # to the incident page: verify and dispatch by the routing table
    receipt.get_by_test_id("receipt-incident").click()
    officer.wait_for_url(f"**/incidents/{incident}")
    expect(officer.get_by_test_id("incident-state")).to_have_text("已接报")
    officer.evaluate("window.__sameDocument = true")  # gone if the page ever reloads
    officer.get_by_test_id("action-verify").click()
    expect(officer.get_by_test_id("incident-state")).to_have_text("已核实")
    officer.get_by_test_id("action-dispatch").click()
    plan = officer.get_by_test_id("dispatch-plan")
    expect(plan.locator("li", has_text="庆元县消防救援大队")).to_contain_text("主办")
    officer.get_by_test_id("dispatch-by-table").click()  # the plan as the table gives it
    expect(officer.get_by_test_id("incident-state")).to_have_text("处置中")

    orders = httpx.get(
        f"{server}/api/v1/incidents/{incident}/orders", headers=bearer(server, "duty_officer")
    ).json()
    brigade_unit = bearer(server, "liaison_fire")
    mine = httpx.get(f"{server}/api/v1/orders", headers=brigade_unit).json()["items"]
    order_id = next(o["id"] for o in mine if o["incident_id"] == incident)
    assert order_id in {o["id"] for o in orders}
    row = officer.get_by_test_id(f"order-{order_id}")
    expect(row).to_have_attribute("data-stage", "issued")

    # the liaison's inbox shows the order live, with a notification
    card = liaison.get_by_test_id("inbox-order").filter(has_text=PLACE)
    expect(card).to_be_visible(timeout=10_000)
    expect(liaison.locator(".inbox-new-order")).to_be_visible()
    shot(liaison, "loop-inbox-phone")

    # each step on the phone shows on the officer's page without reload
    card.locator("[data-action=sign]").click()
    expect(row).to_have_attribute("data-stage", "signed", timeout=5000)
    card.locator("[data-action=arrive]").click()
    expect(row).to_have_attribute("data-stage", "arrived", timeout=5000)
    card.locator("[data-action=feedback]").click()
    liaison.get_by_label("反馈内容").fill("到场，明火已压制，正在排查")
    liaison.get_by_label("现场照片").set_input_files(
        {"name": "scene.png", "mimeType": "image/png", "buffer": PNG}
    )
    with liaison.expect_response(lambda r: "/photos" in r.url and r.status == 201):
        liaison.get_by_test_id("dialog-submit").click()
    expect(card).to_contain_text("已反馈 1 次")
    expect(officer.locator("[data-kind=order_feedback]").first).to_be_visible(timeout=5000)
    # the officer opens the order and sees the photo from the scene
    row.get_by_test_id("order-detail-toggle").click()
    photo = row.get_by_test_id("feedback-photo").locator("img")
    expect(photo).to_be_visible()
    officer.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=photo.element_handle()
    )
    card.locator("[data-action=complete]").click()
    liaison.get_by_test_id("dialog-submit").click()
    expect(row).to_have_attribute("data-stage", "completed", timeout=5000)
    shot(officer, "loop-incident-desktop")

    # the other units of the plan finish through the API; the officer is prompted to close
    for other in orders:
        if other["id"] == order_id:
            continue
        unit = httpx.get(
            f"{server}/api/v1/orders/{other['id']}", headers=bearer(server, "duty_officer")
        ).json()
        assert unit["stage"] == "issued"
        admin = bearer(server, "admin")
        for action in ("sign", "complete"):
            httpx.post(
                f"{server}/api/v1/orders/{other['id']}/{action}", headers=admin
            ).raise_for_status()
    expect(officer.get_by_test_id("ready-to-close")).to_be_visible(timeout=5000)
    officer.get_by_test_id("action-close").click()
    officer.get_by_test_id("dialog-submit").click()
    expect(officer.get_by_test_id("incident-state")).to_have_text("已办结")
    officer.get_by_test_id("action-callback").click()
    officer.get_by_label("回访记录").fill("报警人表示满意")
    officer.get_by_test_id("dialog-submit").click()
    expect(officer.locator("[data-kind=callback_done]")).to_be_visible()
    assert officer.evaluate("window.__sameDocument") is True

    # the KPI page counts the brigade's signed order, as the server computes it
    officer.goto(f"{server}/kpi")
    brigade = brigade_kpi(server)
    assert brigade["acceptance"]["numerator"] == signed_before + 1
    shown = math.floor(brigade["acceptance"]["rate"] * 1000 + 0.5) / 10
    line = officer.get_by_test_id("kpi-units").locator("tr").filter(has_text="县消防救援大队")
    expect(line.first.locator("[data-rate=acceptance]")).to_have_text(f"{shown:g}%")
    expect(line.first).to_contain_text(f"{signed_before + 1}/")
    desk.close()
    phone.close()
