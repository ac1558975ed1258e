"""Every word an operator reads is Chinese: the duty officer, the administrator and the fire
brigade's liaison walk every screen in zh-CN — the intake desk after filing a call (the receipt
with its reasons), the situation board with its live feed, an incident page with a timeline,
the inbox, the supervision board, the KPIs (应急类 and 服务类), the service cases (服务类事务) and a
service case's page, the warnings (list, editor, a published one with its
叫应 board), the notifications, the call plans, the administration pages, the audit log and a
phone's 叫应 page — and no run of Latin letters shows that is not a name, a number, a code the
user typed or a short allow-list (GeoJSON, CSV, KPI …). The visible text is
``document.body.innerText`` plus the title, placeholder and aria-label of visible elements, and
the page's title."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import bearer, shot, sign_in

#: Latin words an operator may read in the Chinese interface: formats, standards, units,
#: Roman level numerals.
ALLOWED = {
    "GeoJSON",
    "CSV",
    "Excel",
    "xlsx",
    "KPI",
    "API",
    "WGS",
    "GCJ",
    "GPS",
    "IP",
    "ID",
    "Word",
    "HTML",
    "PDF",
    "I",
    "II",
    "III",
    "IV",
    "CAP",  # the warning exchange standard (下载 CAP 报文)
    "MapLibre",
    "OpenStreetMap",
    "English",  # the language switch names English in English
    "Ctrl",  # keys as printed on the keyboard
    "Alt",
    "Enter",
    "Esc",
}
#: A run of Latin letters, with the digits, dots, dashes, underscores and slashes that glue it
#: into one token (accident.fire, duty_officer, D003, hotline_119).
LATIN = re.compile(r"[A-Za-z0-9_./\-]*[A-Za-z][A-Za-z0-9_./\-]*")
#: Codes the platform shows as codes: incident numbers (20261206-E7154C), unit codes (D003,
#: T101, V331126101001), external ids the desk makes (desk-…), and UUIDs the receipt names.
CODES = (
    re.compile(r"^\d{8}-[0-9A-F]{6}$"),
    re.compile(r"^[A-Z]\d+$"),
    re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$"),
    # warning numbers (YJ-W-20261207-0003; received: YJ-R-20261207-3AF0C1)
    re.compile(r"^YJ-W-\d{8}-\d+$"),
    re.compile(r"^YJ-R-\d{8}-[0-9A-Fa-f]{6}$"),
    # resource request numbers (SQ20261207-2E07DB), which the notifications list names
    re.compile(r"^SQ\d{8}-[0-9A-F]{6}$"),
)

VISIBLE_TEXT = """() => {
  const parts = [document.title, document.body.innerText];
  for (const el of document.querySelectorAll('[title], [placeholder], [aria-label]')) {
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    const hidden = style.visibility === 'hidden' || style.display === 'none';
    if (!box.width || !box.height || hidden) continue;
    for (const name of ['title', 'placeholder', 'aria-label']) {
      const value = el.getAttribute(name);
      if (value) parts.push(value);
    }
  }
  return parts.join('\\n');
}"""


class Walk:
    """The screens walked, and every foreign word each showed."""

    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.found: dict[str, set[str]] = {}

    def foreign(self, text: str) -> set[str]:
        words = set()
        for token in LATIN.findall(text):
            token = token.strip("./-_")
            if not token or not re.search(r"[A-Za-z]", token):
                continue
            if token in ALLOWED or token in self.names or any(c.match(token) for c in CODES):
                continue
            words.add(token)
        return words

    def read(self, page: Page, screen: str) -> None:
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(400)  # lazy panels and live data settle
        words = self.foreign(page.evaluate(VISIBLE_TEXT))
        if words:
            self.found[screen] = words

    def visit(self, page: Page, base: str, path: str, screen: str) -> None:
        page.goto(f"{base}{path}")
        self.read(page, screen)


def known_names(base: str, admin: dict[str, str]) -> set[str]:
    """Names and codes as users type them: usernames, unit codes, and the category codes an
    administrator writes in the routing and deadline tables (and their CSV imports)."""
    users = httpx.get(f"{base}/api/v1/users?limit=200", headers=admin).json()["items"]
    units = httpx.get(f"{base}/api/v1/units?limit=500", headers=admin).json()["items"]
    categories = httpx.get(f"{base}/api/v1/intake/categories", headers=admin).json()
    codes = {c["code"] for c in categories} | {c["parent_code"] for c in categories}
    return {u["username"] for u in users} | {u["code"] for u in units} | codes


def open_incident_with_a_timeline(base: str) -> tuple[str, str]:
    """A fire reported, verified, raised to III and dispatched by the table; the brigade signs."""
    officer = bearer(base, "duty_officer")
    answer = httpx.post(
        f"{base}/api/v1/intake/reports",
        headers=officer,
        json={
            "channel": "hotline_119",
            "external_id": "walk-1",
            "text": "官塘中心学校旁边一栋民房着火了，有人被困",
            "address": "官塘中心学校",
            "category_code": "accident.fire",
        },
    )
    answer.raise_for_status()
    incident = answer.json()["incident_id"]
    url = f"{base}/api/v1/incidents/{incident}"
    httpx.post(f"{url}/verify", headers=officer, json={}).raise_for_status()
    httpx.post(
        f"{url}/level", headers=officer, json={"level": "III", "reason": "现场有3人被困"}
    ).raise_for_status()
    orders = httpx.post(f"{url}/dispatch", headers=officer)
    orders.raise_for_status()
    liaison = bearer(base, "liaison_fire")
    mine = httpx.get(f"{base}/api/v1/orders?mine=true", headers=liaison).json()
    for order in mine["items"] if isinstance(mine, dict) else mine:
        if order["incident_id"] == incident:
            httpx.post(f"{base}/api/v1/orders/{order['id']}/sign", headers=liaison)
    number = httpx.get(url, headers=officer).json()["number"]
    return incident, number


def open_a_service_case(base: str) -> str:
    """A 12345 call about a water cut: a service case (服务类事务), verified and dispatched."""
    officer = bearer(base, "duty_officer")
    answer = httpx.post(
        f"{base}/api/v1/intake/reports",
        headers=officer,
        json={
            "channel": "hotline_12345",
            "external_id": "walk-service-1",
            "text": "竹口镇某小区家里停水两天了，什么时候来水",
        },
    )
    answer.raise_for_status()
    case = str(answer.json()["incident_id"])
    url = f"{base}/api/v1/incidents/{case}"
    httpx.post(f"{url}/verify", headers=officer, json={}).raise_for_status()
    httpx.post(f"{url}/dispatch", headers=officer).raise_for_status()
    return case


def publish_a_warning(base: str) -> str:
    """An orange rainstorm warning over 竹口镇, drafted by the officer, approved by the duty
    leader, signed by the commander and published: its id."""
    officer = bearer(base, "duty_officer")
    answer = httpx.post(
        f"{base}/api/v1/warnings",
        headers=officer,
        json={
            "type_code": "rainstorm",
            "level": "orange",
            "headline": "竹口镇暴雨橙色预警",
            "description": "预计未来6小时累计降雨量将达100毫米以上",
            "instruction": "请立即组织危险区域人员转移",
            "issuer": "庆元县应急管理局",
            "area_desc": "竹口镇",
            "area": None,
            "area_adcodes": ["331126101000"],
            "onset_at": None,
            "expires_at": None,
        },
    )
    answer.raise_for_status()
    warning = answer.json()
    url = f"{base}/api/v1/warnings/{warning['id']}"
    for username, step in (
        ("duty_officer", "submit"),
        ("duty_leader", "approve"),
        ("commander", "sign"),
        ("duty_officer", "publish"),
    ):
        headers = bearer(base, username)
        version = httpx.get(url, headers=headers).json()["version"]
        httpx.post(f"{url}/{step}", headers=headers, json={"version": version}).raise_for_status()
    return str(warning["id"])


def file_a_call_at_the_desk(page: Page) -> None:
    """The second call about the fire, typed at the desk: the receipt says why it joined."""
    page.get_by_label("警情描述").fill("学校旁边的房子起火了，冒黑烟")
    address = page.get_by_label("事发地点")
    address.press_sequentially("官塘中心学", delay=40)
    page.locator(".el-autocomplete-suggestion li", has_text="官塘中心学校").first.click()
    with page.expect_response(lambda r: r.url.endswith("/api/v1/intake/reports") and r.ok):
        page.get_by_label("警情描述").press("Control+Enter")
    expect(page.get_by_test_id("receipt-reason")).not_to_be_empty()


def test_every_screen_reads_in_chinese_for_the_officer_the_admin_and_the_liaison(
    server: str, browser: Browser
) -> None:
    admin_headers = bearer(server, "admin")
    walk = Walk(known_names(server, admin_headers))
    incident, _number = open_incident_with_a_timeline(server)
    warning = publish_a_warning(server)
    service_case = open_a_service_case(server)
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()

    # the duty officer: desk (with a receipt), board (with live events), incident, supervision, KPI
    sign_in(page, server, "duty_officer", "intake")
    walk.read(page, "officer /intake")
    file_a_call_at_the_desk(page)
    walk.read(page, "officer /intake receipt")
    shot(page, "walk-intake-receipt")
    page.goto(f"{server}/map")
    page.wait_for_load_state("networkidle")
    httpx.post(
        f"{server}/api/v1/incidents/{incident}/notes",
        headers=bearer(server, "duty_officer"),
        json={"text": "已通知村干部到场"},
    )
    page.wait_for_timeout(1500)  # the note's event reaches the live feed
    walk.read(page, "officer /map")
    shot(page, "walk-map")
    walk.visit(page, server, f"/incidents/{incident}", "officer /incidents/:id")
    expect(page.get_by_test_id("incident-timeline").locator("li").first).to_be_visible()
    shot(page, "walk-incident")
    for path in ("/supervision", "/kpi", "/kpi?kind=service", "/service-cases"):
        walk.visit(page, server, path, f"officer {path}")
    walk.visit(page, server, f"/incidents/{service_case}", "officer /incidents/:id (service)")
    # the warnings: the list's tabs, the editor, a published warning with its board, notifications
    for path in (
        "/warnings",
        "/warnings?tab=received",
        "/warnings?tab=in_force",
        "/warnings/new",
        f"/warnings/{warning}",
        "/notifications",
        # the duty desk: the duty home, the roster, check-in and 查岗, reporting and its inbox
        "/duty",
        "/duty/roster",
        "/duty/attendance",
        "/duty/reports",
        "/duty/inbox",
    ):
        walk.visit(page, server, path, f"officer {path}")
    shot(page, "walk-notifications")
    page.goto(f"{server}/warnings/{warning}")
    page.wait_for_load_state("networkidle")
    for tab in ("接收人", "投递", "六问抽查"):
        page.get_by_role("tab", name=tab).click()
        walk.read(page, f"officer /warnings/:id {tab}")
    context.clear_cookies()

    # the administrator: every administration page, the audit log, and the board
    sign_in(page, server, "admin")
    for path in (
        "/admin/units",
        "/admin/users",
        "/admin/divisions",
        "/admin/routing",
        "/admin/deadlines",
        "/admin/audit",
        "/map",
        "/warnings/call-plans",
    ):
        walk.visit(page, server, path, f"admin {path}")
    page.goto(f"{server}/admin/audit")
    page.wait_for_load_state("networkidle")
    page.locator(".el-table__expand-icon").first.click()
    walk.read(page, "admin /admin/audit expanded")
    shot(page, "walk-audit")
    context.clear_cookies()

    # the fire brigade's liaison: the inbox and the incident its order is about
    sign_in(page, server, "liaison_fire")
    for path in ("/inbox", f"/incidents/{incident}", "/map", "/nowhere"):
        walk.visit(page, server, path, f"liaison {path}")
    context.clear_cookies()

    # a phone, signed in nowhere, with a link that is not (or no longer) valid; the page of a
    # good link, before and after 确认收到, is walked by tests/e2e/test_warnings_console.py
    walk.visit(page, server, "/ack/no-such-token-0000000000000000", "phone /ack/:token")
    expect(page.get_by_role("alert")).to_be_visible()
    context.close()

    assert not walk.found, "Latin words on the Chinese screens:\n" + "\n".join(
        f"  {screen}: {', '.join(sorted(words))}" for screen, words in walk.found.items()
    )
