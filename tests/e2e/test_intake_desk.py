"""接警台: a duty officer takes a call about a fire, then a second call about the same fire in
other words, sees it offered as a duplicate with distance and time, and joins it in one click."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.e2e.conftest import DEMO_PASSWORD, bearer, shot, sign_in

PLACE = "官塘中心学校"  # a place of the demo county's gazetteer


def pick_address(page: Page, typed: str, place: str) -> None:
    address = page.get_by_label("事发地点")
    address.fill("")
    address.press_sequentially(typed, delay=40)
    page.locator(".el-autocomplete-suggestion li", has_text=place).first.click()
    expect(page.get_by_test_id("intake-point")).to_contain_text(
        re.compile(r"\d+\.\d{5}, \d+\.\d{5}")
    )


def test_officer_takes_a_call_and_joins_the_second_call_about_the_same_fire(
    server: str, browser: Browser
) -> None:
    context = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    sign_in(page, server, "duty_officer")
    page.wait_for_url("**/intake")
    expect(page.get_by_test_id("intake-map").locator("canvas")).to_be_visible()

    # first call: on the 119 line, typed by the keyboard, the address picked from the gazetteer
    page.get_by_test_id("intake-channel").click()
    page.locator(".el-select-dropdown__item", has_text="119 火警").click()
    page.get_by_label("报警人").fill("王先生")
    page.get_by_label("联系电话").fill("13905780000")
    page.get_by_label("警情描述").fill("官塘中心学校旁边一栋民房着火了，浓烟很大")
    suggestion = page.get_by_test_id("intake-suggestion")
    expect(suggestion.get_by_test_id("suggested-category")).to_contain_text("火灾")
    expect(suggestion.get_by_test_id("deciding-word").filter(has_text="着火")).to_be_visible()
    expect(suggestion.get_by_test_id("suggested-level")).to_contain_text("级")
    pick_address(page, "官塘中心", PLACE)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/intake/reports") and r.ok) as sent:
        page.get_by_label("警情描述").press("Control+Enter")
    first = sent.value.json()
    receipt = page.get_by_test_id("intake-receipt")
    expect(receipt.get_by_test_id("receipt-report")).to_have_text(first["report_id"])
    number_link = receipt.get_by_test_id("receipt-incident")
    expect(number_link).to_have_attribute("href", f"/incidents/{first['incident_id']}")
    expect(number_link).to_have_text(re.compile(r"^\s*\d{8}-[0-9A-Za-z]+\s*$"))
    number = number_link.inner_text().strip()
    expect(receipt.get_by_test_id("receipt-judgement")).not_to_be_empty()
    # the form is ready for the next call (the channel stays on the line the officer sits on)
    expect(page.get_by_label("警情描述")).to_have_value("")
    expect(page.get_by_label("报警人")).to_have_value("")
    expect(page.get_by_test_id("intake-channel")).to_contain_text("119 火警")

    # second call about the same fire, in other words: offered as a duplicate with distance/time
    page.get_by_label("报警人").fill("李女士")
    page.get_by_label("警情描述").fill("学校那边有间房子起火了，冒黑烟")
    pick_address(page, "官塘中心学", PLACE)
    card = page.get_by_test_id("duplicate-candidate").filter(has_text=number)
    expect(card).to_be_visible()
    # both calls picked the same gazetteer place: the same spot
    expect(card.get_by_test_id("candidate-distance")).to_have_text("相距 0 米")
    expect(card.get_by_test_id("candidate-minutes")).to_have_text(
        re.compile(r"时间相同|相差 \d+ 分钟")
    )
    shot(page, "intake-desktop")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/intake/reports") and r.ok) as sent:
        card.get_by_test_id("join-candidate").click()
    second = sent.value.json()
    receipt = page.get_by_test_id("intake-receipt")
    expect(receipt.get_by_test_id("receipt-report")).to_have_text(second["report_id"])
    expect(receipt.get_by_test_id("receipt-incident")).to_have_text(number)
    expect(receipt.get_by_test_id("receipt-judgement")).to_have_text("重复来电，已并入已有事件")

    token = httpx.post(
        f"{server}/api/v1/auth/token",
        data={"username": "duty_officer", "password": DEMO_PASSWORD},
    ).json()["access_token"]
    incident = httpx.get(
        f"{server}/api/v1/incidents/{first['incident_id']}",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert incident["report_count"] == 2
    report = httpx.get(
        f"{server}/api/v1/intake/reports/{second['report_id']}",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert report["incident_id"] == first["incident_id"]
    assert report["channel"] == "hotline_119" and report["reporter_name"] == "李女士"
    context.close()


def test_empty_description_is_refused_on_the_page_and_nothing_is_sent(
    server: str, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, server, "duty_officer")
    page.wait_for_url("**/intake")
    sent: list[str] = []
    page.on(
        "request",
        lambda r: sent.append(r.url) if r.url.endswith("/intake/reports") else None,
    )
    page.get_by_label("报警人").fill("赵先生")
    page.get_by_test_id("intake-submit").click()
    expect(page.get_by_text("请填写警情描述")).to_be_visible()
    expect(page.get_by_label("报警人")).to_have_value("赵先生")
    assert sent == []
    context.close()


def test_intake_desk_on_a_phone(server: str, browser: Browser) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page = context.new_page()
    sign_in(page, server, "duty_officer")
    page.wait_for_url("**/intake")
    page.get_by_label("警情描述").fill("河边有人落水了，快来人")
    expect(page.get_by_test_id("suggested-category")).not_to_have_text("")
    expect(page.get_by_test_id("deciding-word").first).to_be_visible()
    shot(page, "intake-phone")
    context.close()


def test_public_report_appears_live_and_is_accepted_from_the_side_list(
    server: str, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, server, "duty_officer")
    page.wait_for_url("**/intake")
    waiting = page.get_by_test_id("waiting-reports")
    expect(waiting).to_be_visible()
    page.wait_for_timeout(500)  # the live connection opens with the shell
    token = httpx.post(
        f"{server}/api/v1/auth/token",
        data={"username": "duty_officer", "password": DEMO_PASSWORD},
    ).json()["access_token"]
    sent = httpx.post(
        f"{server}/api/v1/intake/reports",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "channel": "public_web",
            "external_id": "web-e2e-desk-1",
            "text": "岭头中心学校门口路灯杆倒了，压到一辆电动车",
            "address": "岭头中心学校",
        },
    )
    assert sent.status_code == 201, sent.text
    item = waiting.locator("li", has_text="路灯杆倒了")
    expect(item).to_be_visible(timeout=5000)  # no reload: the /ws event brought it
    item.get_by_role("button", name="核实受理").click()
    expect(item).to_have_count(0)
    report = httpx.get(
        f"{server}/api/v1/intake/reports/{sent.json()['report_id']}",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert report["status"] == "accepted" and report["incident_id"]
    context.close()


def boxes_overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_placing_an_unlocated_call_on_the_map_keeps_the_map_in_its_column(
    server: str, browser: Browser
) -> None:
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    sign_in(page, server, "duty_officer")
    page.wait_for_url("**/intake")
    canvas = page.get_by_test_id("intake-map").locator("canvas")
    expect(canvas).to_be_visible()
    text = "有个小孩掉进河里了"
    page.get_by_label("警情描述").fill(text)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/intake/reports") and r.ok) as sent:
        page.get_by_test_id("intake-submit").click()
    report_id = sent.value.json()["report_id"]
    item = page.get_by_test_id("waiting-reports").locator("li", has_text=text)
    item.get_by_role("button", name="在地图上定位").click()
    expect(item.get_by_text("请在地图上点击此接报的位置")).to_be_visible()
    page.wait_for_timeout(300)

    # the map library's own classes survive the desk's "picking" hint
    engine = page.locator(
        "[data-testid=intake-map].maplibregl-map, [data-testid=intake-map] .maplibregl-map"
    )
    expect(engine).to_have_count(1)
    form = page.get_by_test_id("intake-form").bounding_box()
    drawn = canvas.bounding_box()
    assert form is not None and drawn is not None
    assert not boxes_overlap(form, drawn), (form, drawn)

    with page.expect_response(lambda r: r.url.endswith(f"/reports/{report_id}/locate") and r.ok):
        canvas.click(position={"x": drawn["width"] / 2, "y": drawn["height"] / 2})
    expect(item).to_have_count(0)
    report = httpx.get(
        f"{server}/api/v1/intake/reports/{report_id}", headers=bearer(server, "duty_officer")
    ).json()
    assert report["located"] is True and report["lon"] is not None
    context.close()


def test_intake_map_column_takes_a_third_of_a_1366_desk(server: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, server, "duty_officer")
    page.wait_for_url("**/intake")
    expect(page.get_by_test_id("intake-map").locator("canvas")).to_be_visible()
    desk = page.get_by_test_id("intake-desk").bounding_box()
    drawn = page.get_by_test_id("intake-map").bounding_box()
    form = page.get_by_test_id("intake-form").bounding_box()
    assert desk is not None and drawn is not None and form is not None
    assert drawn["width"] >= desk["width"] / 3, (drawn["width"], desk["width"])
    assert not boxes_overlap(form, drawn)
    context.close()


def test_half_typed_call_survives_a_reload_stays_with_its_officer_and_leaving_asks_first(
    server: str, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    dialogs: list[str] = []

    def answer(dialog: Dialog) -> None:
        dialogs.append(dialog.type)
        dialog.accept()

    page.on("dialog", answer)
    sign_in(page, server, "duty_officer")
    page.wait_for_url("**/intake")
    page.get_by_label("报警人").fill("钱女士")
    page.get_by_label("警情描述").fill("菜市场后面的仓库冒烟了")
    page.wait_for_timeout(400)  # the draft is kept as it is typed

    page.reload()
    expect(page.get_by_label("警情描述")).to_have_value("菜市场后面的仓库冒烟了")
    expect(page.get_by_label("报警人")).to_have_value("钱女士")
    assert "beforeunload" in dialogs  # the browser asked before the reload

    # a sidebar click asks first; staying keeps the form as it is
    page.get_by_role("navigation").get_by_role("link", name="一张图").click()
    warning = page.get_by_role("dialog").filter(has_text="尚未提交")
    expect(warning).to_be_visible()
    warning.get_by_role("button", name="留在接警台").click()
    expect(page).to_have_url(re.compile(r"/intake$"))
    expect(page.get_by_label("警情描述")).to_have_value("菜市场后面的仓库冒烟了")

    # another officer at the same browser does not see it
    context.clear_cookies()
    sign_in(page, server, "duty_leader")
    page.goto(f"{server}/intake")
    expect(page.get_by_test_id("intake-form")).to_be_visible()
    page.wait_for_timeout(300)
    expect(page.get_by_label("警情描述")).to_have_value("")
    expect(page.get_by_label("报警人")).to_have_value("")

    # back to the first officer: the draft waited; signing out forgets it
    context.clear_cookies()
    sign_in(page, server, "duty_officer", home="intake")
    expect(page.get_by_label("警情描述")).to_have_value("菜市场后面的仓库冒烟了")
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url("**/login**")
    sign_in(page, server, "duty_officer", home="intake")
    expect(page.get_by_test_id("intake-form")).to_be_visible()
    page.wait_for_timeout(300)
    expect(page.get_by_label("警情描述")).to_have_value("")
    context.close()


def test_nonsense_asks_the_officer_before_it_opens_an_incident(
    server: str, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, server, "duty_officer", home="intake")
    page.get_by_label("警情描述").fill("asdfgh 哈哈哈 ？？？ 123")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/intake/reports")) as asked:
        page.get_by_test_id("intake-submit").click()
    assert asked.value.status == 409
    question = page.get_by_role("dialog").filter(has_text="未能识别事件类别")
    expect(question).to_be_visible()
    with page.expect_response(lambda r: r.url.endswith("/api/v1/intake/reports")) as filed:
        question.get_by_role("button", name="仅登记接报，不立案").click()
    assert filed.value.status == 201
    receipt = page.get_by_test_id("intake-receipt")
    expect(receipt.get_by_test_id("receipt-judgement")).to_have_text("已登记接报，未立案")
    expect(receipt.get_by_test_id("receipt-incident")).to_have_count(0)
    assert filed.value.json()["incident_id"] is None
    context.close()


def test_the_channel_takes_one_key_and_is_remembered_for_the_officer(
    server: str, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, server, "duty_officer", home="intake")
    expect(page.get_by_label("警情描述")).to_be_focused()
    page.keyboard.press("Alt+3")
    expect(page.get_by_test_id("intake-channel")).to_contain_text("119 火警")
    page.reload()
    expect(page.get_by_test_id("intake-channel")).to_contain_text("119 火警")
    context.close()
