"""Warnings through the real console (预警发布 · 叫应): the duty officer drafts an orange rainstorm
warning over two towns (picked on the editor beside the map), sends it for review; the duty
leader approves and the commander signs (through the API: each a different person); the officer
publishes it in the browser and watches the 叫应 board fill, live, as the called people
acknowledge on their phones (a second browser context opening the link of the SMS the local
gateway received, and pressing 确认收到). A second press says it was acknowledged before; a wrong
link says so, in words; the desk's and the phone's pages read in Chinese."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import free_port, served_demo
from tests.e2e.conftest import bearer, phone_context, shot, sign_in
from tests.e2e.test_zh_cn_screen_walk import Walk, known_names

ZHUKOU = "331126101000"  # 竹口镇
HUANGTIAN = "331126100000"  # 黄田镇
HEADLINE = "端到端：竹口镇、黄田镇暴雨橙色预警"
ACK_LINK = re.compile(r"/ack/([A-Za-z0-9_-]{16,})")


class SmsGateway(BaseHTTPRequestHandler):
    """An SMS gateway as the province's would answer: every message taken is kept."""

    received: list[dict[str, str]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(min(length, 1_000_000)) or b"{}")
        with SmsGateway.lock:
            SmsGateway.received.append({"to": str(body.get("to")), "text": str(body.get("text"))})
        answer = json.dumps({"id": f"gw-{len(SmsGateway.received)}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def warning_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo server whose SMS channel is a local gateway (no voice gateway: a 叫应 call falls
    back from voice to SMS at once, with the person's link in the text)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), SmsGateway)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    gateway = f"http://127.0.0.1:{httpd.server_address[1]}/sms"
    try:
        with served_demo(
            tmp_path_factory.mktemp("e2e-warnings"), YINGJI_SMS_GATEWAY_URL=gateway
        ) as base:
            yield base
    finally:
        httpd.shutdown()


def draft_in_the_editor(page: Page, base: str) -> str:
    """The officer fills the editor: type, level, headline, texts, two towns; saves the draft."""
    page.goto(f"{base}/warnings/new")
    form = page.get_by_test_id("warning-form")
    expect(form).to_be_visible()
    page.get_by_test_id("field-type").click()
    page.locator(".el-select-dropdown__item:visible", has_text="暴雨").first.click()
    page.get_by_test_id("field-level").locator("[data-level=orange]").click()
    page.get_by_test_id("field-headline").fill(HEADLINE)
    page.get_by_test_id("field-description").fill(
        "预计未来6小时竹口镇、黄田镇累计降雨量将达100毫米以上，山洪、地质灾害风险高。"
    )
    page.get_by_test_id("field-instruction").fill(
        "请立即组织危险区域人员转移，村（社区）责任人逐户落实。"
    )
    page.get_by_test_id("field-issuer").fill("庆元县应急管理局")
    page.get_by_test_id("field-area-desc").fill("竹口镇、黄田镇")
    towns = page.get_by_test_id("area-towns")
    for code in (ZHUKOU, HUANGTIAN):
        towns.locator(f"[data-adcode='{code}']").click()
    expect(page.get_by_test_id("area-summary")).to_contain_text("2")
    with page.expect_response(
        lambda r: r.url.endswith("/api/v1/warnings") and r.request.method == "POST"
    ) as created:
        page.get_by_test_id("save-warning").click()
    assert created.value.ok, created.value.text()
    warning = created.value.json()
    assert warning["level"] == "orange" and warning["type_code"] == "rainstorm"
    assert sorted(warning["area_adcodes"]) == sorted([ZHUKOU, HUANGTIAN])
    page.wait_for_url(f"**/warnings/{warning['id']}")
    return str(warning["id"])


def step_in_the_browser(page: Page, step: str, state_words: str) -> None:
    button = page.get_by_test_id(f"step-{step}")
    expect(button).to_be_visible()
    button.click()
    if step == "publish":  # confirmed in a dialog: everyone in the area is notified
        page.locator(".el-message-box__btns .el-button--primary").click()
    expect(page.get_by_test_id("warning-state")).to_have_text(state_words)


def step_by_api(base: str, username: str, warning_id: str, step: str) -> None:
    headers = bearer(base, username)
    url = f"{base}/api/v1/warnings/{warning_id}"
    version = httpx.get(url, headers=headers).json()["version"]
    answer = httpx.post(f"{url}/{step}", headers=headers, json={"version": version})
    assert answer.status_code == 200, answer.text


def called_people(base: str, warning_id: str) -> dict[str, tuple[str, str]]:
    """Mobile → (name, town) of the people who must acknowledge, from the frozen recipient list
    (read as an administrator)."""
    admin = bearer(base, "admin")
    people: dict[str, tuple[str, str]] = {}
    offset = 0
    while True:
        page = httpx.get(
            f"{base}/api/v1/warnings/{warning_id}/recipients",
            headers=admin,
            params={"offset": offset, "limit": 200},
        ).json()
        for r in page["items"]:
            sms = [w["address"] for w in r["channels"] if w["channel"] == "sms"]
            if r["must_ack"] and sms:
                people[sms[0]] = (r["name"], r["town_adcode"] or "")
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return people


def ack_tokens(base: str, warning_id: str) -> list[tuple[str, str, str]]:
    """(name, town, token) of the people who must acknowledge: their links as the SMS gateway
    received them, matched to the recipients by mobile; waits until 竹口镇 has two and 黄田镇
    one."""
    people = called_people(base, warning_id)
    assert people, "nobody must acknowledge the warning"
    found: dict[str, tuple[str, str, str]] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with SmsGateway.lock:
            messages = list(SmsGateway.received)
        for message in messages:
            link = ACK_LINK.search(message["text"])
            if link and message["to"] in people:
                found[message["to"]] = (*people[message["to"]], link.group(1))
        in_zhukou = sum(town == ZHUKOU for _, town, _ in found.values())
        if in_zhukou >= 2 and HUANGTIAN in {town for _, town, _ in found.values()}:
            break
        time.sleep(0.5)
    return list(found.values())


def test_an_orange_warning_over_two_towns_fills_the_board_as_people_acknowledge(
    warning_server: str, browser: Browser
) -> None:
    server = warning_server
    walk = Walk(known_names(server, bearer(server, "admin")))
    desk = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = desk.new_page()
    sign_in(page, server, "duty_officer")
    page.goto(f"{server}/warnings")
    expect(page.get_by_test_id("new-warning")).to_be_visible()

    warning_id = draft_in_the_editor(page, server)
    shot(page, "warning-draft")
    step_in_the_browser(page, "submit", "待审核")
    # 审核 and 签发 by two other people; the author is not offered them
    expect(page.get_by_test_id("step-approve")).to_have_count(0)
    step_by_api(server, "duty_leader", warning_id, "approve")
    step_by_api(server, "commander", warning_id, "sign")
    page.reload()
    step_in_the_browser(page, "publish", "已发布")

    board = page.get_by_test_id("call-board")
    expect(board).to_be_visible()
    called = page.get_by_test_id("board-called")
    answered = page.get_by_test_id("board-answered")
    expect(called).not_to_have_text("0", timeout=15_000)
    expect(answered).to_have_text("0")
    for code in (ZHUKOU, HUANGTIAN):
        expect(board.locator(f"[data-town='{code}']")).to_be_visible()
    shot(page, "warning-board-before")

    tokens = ack_tokens(server, warning_id)
    towns = {town for _, town, _ in tokens}
    assert {ZHUKOU, HUANGTIAN} <= towns, towns
    # one person of each town, and one more of 竹口镇, answer from their phones
    chosen = [
        next(t for t in tokens if t[1] == ZHUKOU),
        next(t for t in tokens if t[1] == HUANGTIAN),
    ]
    chosen.append(next(t for t in tokens if t[1] == ZHUKOU and t not in chosen))
    phone = phone_context(browser)
    mobile = phone.new_page()
    for n, (name, _town, token) in enumerate(chosen, start=1):
        mobile.goto(f"{server}/ack/{token}")
        expect(mobile.get_by_test_id("ack-headline")).to_have_text(HEADLINE)
        expect(mobile.locator(".band")).to_contain_text("暴雨橙色预警")
        if n == 1:
            walk.read(mobile, "phone /ack/:token")
            shot(mobile, "warning-ack-phone")
        mobile.get_by_test_id("ack-button").click()
        expect(mobile.get_by_test_id("ack-done")).to_contain_text("已确认收到")
        if n == 1:
            walk.read(mobile, "phone /ack/:token acknowledged")
        # the desk's board follows without a reload
        expect(answered).to_have_text(str(n), timeout=10_000)
        expect(board.locator("li[data-state=answered]", has_text=name).first).to_be_visible()

    # the same link again: acknowledged before
    mobile.goto(f"{server}/ack/{chosen[0][2]}")
    expect(mobile.get_by_test_id("ack-done")).to_contain_text("此前已确认收到")
    expect(mobile.get_by_test_id("ack-button")).to_have_count(0)
    # a made-up link
    mobile.goto(f"{server}/ack/not-a-real-token-000000000000")
    expect(mobile.get_by_role("alert")).to_contain_text("链接无效")
    phone.close()

    zhukou_row = board.locator(f"[data-town='{ZHUKOU}']")
    expect(zhukou_row.locator("li[data-state=answered]")).to_have_count(2)
    shot(page, "warning-board-after")
    walk.read(page, "officer /warnings/:id board")

    # the recipients list is the frozen one; the exports are offered
    page.get_by_role("tab", name="接收人").click()
    expect(page.get_by_test_id("recipients").locator("tbody tr").first).to_be_visible()
    walk.read(page, "officer /warnings/:id recipients")
    page.get_by_role("tab", name="投递").click()
    expect(page.get_by_test_id("deliveries").locator("tbody tr").first).to_be_visible()
    walk.read(page, "officer /warnings/:id deliveries")
    for export in ("export-recipients", "export-evidence-docx", "export-evidence-xlsx"):
        expect(page.get_by_test_id(export)).to_be_visible()
    evidence = page.get_by_test_id("export-evidence-xlsx").get_attribute("href")
    assert evidence == f"/api/v1/warnings/{warning_id}/evidence.xlsx"
    with page.expect_download() as download:
        page.get_by_test_id("export-evidence-xlsx").click()
    assert download.value.suggested_filename.endswith(".xlsx")

    # in force: the list's third tab shows it
    page.goto(f"{server}/warnings?tab=in_force")
    expect(page.get_by_test_id("warning-list")).to_contain_text(HEADLINE)
    desk.close()
    assert not walk.found, "Latin words on the Chinese screens:\n" + "\n".join(
        f"  {screen}: {', '.join(sorted(words))}" for screen, words in walk.found.items()
    )
