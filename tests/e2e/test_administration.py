"""Administration through the real UI: units, users, the routing table, deadlines, division
imports (a bad file shows its problems by line and imports nothing) and exports."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.conftest import DEMO_PASSWORD, shot, sign_in

BAD_DIVISIONS = (
    "adcode,name,level,parent_adcode,centroid_lon,centroid_lat\n"
    "331126101900,试验镇,town,331126,,\n"
    "33112610X901,坏村,village,331126101900,,\n"
)
GOOD_DIVISIONS = (
    "adcode,name,level,parent_adcode,centroid_lon,centroid_lat\n"
    "331126101900,试验镇,town,331126,,\n"
    "331126101901,试验村,village,331126101900,,\n"
)


def api_headers(base: str) -> dict[str, str]:
    token = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": "admin", "password": DEMO_PASSWORD}
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def pick(page: Page, field: Locator, text: str, option: str) -> None:
    """Type into a (remote) select and choose the option whose text contains `option`."""
    field.click(force=True)
    if text:
        field.fill(text)
    page.locator(".el-select-dropdown__item:visible", has_text=option).first.click()
    page.wait_for_timeout(300)  # let the dropdown close before the next field


def test_administrator_edits_units_users_routing_and_deadlines(
    server: str, browser: Browser
) -> None:
    context = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    sign_in(page, server, "admin")

    # --- a new linkage unit, then an edit
    page.goto(f"{server}/admin/units")
    page.get_by_test_id("unit-new").click()
    form = page.get_by_test_id("unit-form")
    form.get_by_label("编码").fill("E2E01")
    form.get_by_label("名称").fill("端到端测试救援队")
    pick(page, form.get_by_label("类型"), "", "救援队伍")
    pick(page, form.get_by_label("梯队"), "", "二类")
    pick(page, form.get_by_label("所属区划"), "竹口", "竹口镇")
    form.get_by_label("电话").fill("0578-6000001")
    page.get_by_test_id("unit-save").click()
    expect(form).to_be_hidden()
    page.get_by_placeholder("名称或编码").fill("E2E01")
    table = page.get_by_test_id("units-table")
    row = table.locator("tr", has_text="E2E01")
    expect(row).to_contain_text("端到端测试救援队")
    expect(row).to_contain_text("0578-6000001")

    # a bad phone number is refused in the form and the table keeps the old one
    page.get_by_role("button", name="编辑 端到端测试救援队").click()
    form.get_by_label("电话").fill("not a phone")
    page.get_by_test_id("unit-save").click()
    expect(form.locator(".el-form-item__error")).to_be_visible()
    form.get_by_label("电话").fill("0578-6000002")
    pick(page, form.get_by_label("梯队"), "", "一类")
    expect(row).to_contain_text("救援队伍")
    pick(page, form.get_by_label("类型"), "", "部门")  # the kind is editable too
    page.get_by_test_id("unit-save").click()
    expect(form).to_be_hidden()
    expect(row).to_contain_text("0578-6000002")
    expect(row).to_contain_text("部门")
    expect(row).not_to_contain_text("救援队伍")
    shot(page, "admin-units-desktop")

    # units export as a CSV download that holds the new unit
    with page.expect_download() as download:
        page.get_by_test_id("unit-export-csv").click()
    path = download.value.path()
    assert download.value.suggested_filename == "units.csv"
    text = Path(path).read_text(encoding="utf-8-sig")
    assert text.startswith("code,name,kind,tier,division_adcode")
    assert "E2E01,端到端测试救援队,department,1,331126101000" in text

    # --- a user with a role
    page.goto(f"{server}/admin/users")
    page.get_by_test_id("user-new").click()
    user_form = page.get_by_test_id("user-form")
    user_form.get_by_label("用户名").fill("e2e_officer")
    user_form.get_by_label("姓名").fill("端到端值班员")
    user_form.get_by_label("初始密码").fill("e2e-password-1")
    pick(page, user_form.get_by_label("角色"), "", "值班员")
    page.keyboard.press("Escape")
    pick(page, user_form.get_by_label("所属区划"), "庆元", "庆元县")
    page.get_by_test_id("user-save").click()
    expect(user_form).to_be_hidden()
    user_row = page.get_by_test_id("users-table").locator("tr", has_text="e2e_officer")
    expect(user_row).to_contain_text("值班员")
    expect(user_row).to_contain_text("331126")
    # the same user name again: a translated refusal, never JSON, and the dialog stays open
    page.get_by_test_id("user-new").click()
    user_form.get_by_label("用户名").fill("e2e_officer")
    user_form.get_by_label("初始密码").fill("e2e-password-1")
    pick(page, user_form.get_by_label("角色"), "", "系统管理员")
    page.keyboard.press("Escape")
    page.get_by_test_id("user-save").click()
    error = user_form.get_by_test_id("form-error")
    expect(error).to_contain_text("用户名已被使用")
    assert "{" not in error.inner_text()
    page.get_by_role("button", name="取消").click()
    shot(page, "admin-users-desktop")

    # --- a routing rule
    page.goto(f"{server}/admin/routing")
    rules = page.get_by_test_id("rules-table")
    expect(rules.locator("tbody tr").first).to_be_visible()
    page.get_by_test_id("rule-add").click()
    rule_form = page.get_by_test_id("rule-form")
    pick(page, rule_form.get_by_label("事件类别"), "accident.fire", "accident.fire")
    pick(page, rule_form.get_by_label("事件等级"), "", "Ⅲ级")
    page.keyboard.press("Escape")
    rule_form.get_by_text("协办").click()
    pick(page, rule_form.get_by_label("单位", exact=True), "E2E01", "端到端测试救援队")
    rule_form.get_by_label("备注").fill("端到端规则：救援队协办")
    page.get_by_test_id("rule-save").click()
    expect(rule_form).to_be_hidden()
    added = rules.locator("tr", has_text="端到端规则：救援队协办")
    expect(added).to_contain_text("端到端测试救援队")
    expect(added).to_contain_text("III")
    # filtering by the role hides the lead rules
    pick(page, page.get_by_role("search").get_by_label("角色"), "", "协办")
    expect(added).to_be_visible()
    expect(rules.locator("tbody tr", has_text="主办")).to_have_count(0)
    shot(page, "admin-routing-desktop")
    # the rule is edited in the same dialog: a new note and the lead role
    added.get_by_role("button", name="编辑").click()
    expect(rule_form).to_be_visible()
    expect(rule_form.get_by_label("备注")).to_have_value("端到端规则：救援队协办")
    rule_form.get_by_label("备注").fill("端到端规则：救援队改为主办")
    rule_form.get_by_text("主办", exact=True).click()
    page.get_by_test_id("rule-save").click()
    expect(rule_form).to_be_hidden()
    page.get_by_role("search").get_by_role("button", name="清除筛选").click()
    edited = rules.locator("tr", has_text="端到端规则：救援队改为主办")
    expect(edited).to_contain_text("主办")
    expect(edited).to_contain_text("端到端测试救援队")
    expect(rules.locator("tr", has_text="端到端规则：救援队协办")).to_have_count(0)

    # --- a stage deadline
    headers = api_headers(server)
    first = min(
        httpx.get(f"{server}/api/v1/stage-deadlines", headers=headers).json(),
        key=lambda r: (r["category_prefix"], r["level"], r["tier"]),
    )
    page.goto(f"{server}/admin/deadlines")
    cell = page.get_by_test_id(f"stage-{first['id']}-sign_minutes").locator("input")
    cell.fill(str(first["sign_minutes"] + 3))
    cell.press("Tab")
    page.get_by_test_id(f"stage-save-{first['id']}").click()
    expect(page.get_by_test_id(f"stage-save-{first['id']}")).to_be_hidden()
    saved = next(
        r
        for r in httpx.get(f"{server}/api/v1/stage-deadlines", headers=headers).json()
        if r["id"] == first["id"]
    )
    assert saved["sign_minutes"] == first["sign_minutes"] + 3
    shot(page, "admin-deadlines-desktop")

    # --- a divisions import: a bad file shows its line problems and imports nothing
    page.goto(f"{server}/admin/divisions")
    page.get_by_test_id("division-import").click()
    page.get_by_test_id("import-file").set_input_files(
        files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": BAD_DIVISIONS.encode()}]
    )
    page.get_by_test_id("import-start").click()
    problems = page.get_by_test_id("import-problems")
    expect(problems).to_be_visible()
    expect(problems.locator("tbody tr").first).to_contain_text("3")
    expect(problems.locator("tbody tr").first).to_contain_text("adcode")
    expect(problems.locator("tbody tr").first).to_contain_text("格式不正确")
    missing = httpx.get(f"{server}/api/v1/divisions/331126101900", headers=headers)
    assert missing.status_code == 404
    shot(page, "admin-divisions-import-error-desktop")
    page.get_by_test_id("import-file").set_input_files(
        files=[{"name": "good.csv", "mimeType": "text/csv", "buffer": GOOD_DIVISIONS.encode()}]
    )
    page.get_by_test_id("import-start").click()
    expect(page.get_by_test_id("import-done")).to_contain_text("新增 2 条")
    expect(problems).to_be_hidden()
    village = httpx.get(f"{server}/api/v1/divisions/331126101901", headers=headers).json()
    assert village["name"] == "试验村" and village["parent_adcode"] == "331126101900"
    page.get_by_role("button", name="关闭").last.click()
    shot(page, "admin-divisions-desktop")
    context.close()


def test_admin_screens_do_not_break_on_a_phone(server: str, browser: Browser) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    sign_in(page, server, "admin")
    for screen, testid in (
        ("units", "units-table"),
        ("users", "users-table"),
        ("routing", "rules-table"),
        ("deadlines", "stage-table"),
    ):
        page.goto(f"{server}/admin/{screen}")
        expect(page.get_by_test_id(testid).locator("tbody tr").first).to_be_visible()
        expect(page.locator(".el-loading-mask:visible")).to_have_count(0)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"{screen} scrolls sideways: {width}px"
        shot(page, f"admin-{screen}-phone")
    context.close()


def test_a_viewer_sees_the_tables_without_edit_controls(server: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, server, "viewer")
    page.goto(f"{server}/admin/units")
    expect(page.get_by_test_id("units-table").locator("tbody tr").first).to_be_visible()
    expect(page.get_by_test_id("unit-new")).to_have_count(0)
    expect(page.get_by_text("您只能查看")).to_be_visible()
    page.goto(f"{server}/admin/routing")
    expect(page.get_by_test_id("rules-table").locator("tbody tr").first).to_be_visible()
    expect(page.get_by_test_id("rule-add")).to_have_count(0)
    expect(page.get_by_role("button", name="删除")).to_have_count(0)
    context.close()


def test_admin_tables_show_another_administrators_changes_without_a_refresh(
    server: str, browser: Browser
) -> None:
    context = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    sign_in(page, server, "admin")
    # the other administrator works through the API with a session of their own
    other = httpx.Client(base_url=f"{server}/api/v1", headers=api_headers(server))

    # --- units: a phone number changed elsewhere appears in the open table, on the same filter
    page.goto(f"{server}/admin/units")
    table = page.get_by_test_id("units-table")
    expect(table.locator("tbody tr").first).to_be_visible()
    unit = next(u for u in other.get("/units", params={"limit": 50}).json()["items"] if u["phone"])
    page.get_by_placeholder("名称或编码").fill(unit["code"])
    row = table.locator("tr", has_text=unit["code"])
    expect(table.locator("tbody tr")).to_have_count(1)  # the search has answered
    expect(row).to_contain_text(unit["phone"])
    try:
        other.patch(f"/units/{unit['id']}", json={"phone": "0578-6999999"})
        expect(row).to_contain_text("0578-6999999")
        expect(page.get_by_placeholder("名称或编码")).to_have_value(unit["code"])
    finally:
        other.patch(f"/units/{unit['id']}", json={"phone": unit["phone"]})

    # --- users: a renamed account
    page.goto(f"{server}/admin/users")
    users = page.get_by_test_id("users-table")
    expect(users.locator("tbody tr").first).to_be_visible()
    viewer = next(
        u
        for u in other.get("/users", params={"limit": 100}).json()["items"]
        if u["username"] == "viewer"
    )
    try:
        other.patch(f"/users/{viewer['id']}", json={"display_name": "他处改名的只读用户"})
        expect(users.locator("tr", has_text="他处改名的只读用户")).to_be_visible()
    finally:
        other.patch(f"/users/{viewer['id']}", json={"display_name": viewer["display_name"]})

    # --- routing: a rule added, changed and deleted elsewhere (inactive: it routes nothing)
    page.goto(f"{server}/admin/routing")
    rules = page.get_by_test_id("rules-table")
    expect(rules.locator("tbody tr").first).to_be_visible()
    rule = other.post(
        "/routing-rules",
        json={"role": "co", "selector": "village", "note": "他处添加的规则", "active": False},
    ).json()
    try:
        expect(rules.locator("tr", has_text="他处添加的规则")).to_be_visible()
        other.patch(f"/routing-rules/{rule['id']}", json={"note": "他处修改的规则"})
        expect(rules.locator("tr", has_text="他处修改的规则")).to_be_visible()
    finally:
        other.delete(f"/routing-rules/{rule['id']}")
    expect(rules.locator("tr", has_text="他处")).to_have_count(0)

    # --- deadlines: a stage deadline set elsewhere
    first = min(
        other.get("/stage-deadlines").json(),
        key=lambda r: (r["category_prefix"], r["level"], r["tier"]),
    )
    page.goto(f"{server}/admin/deadlines")
    cell = page.get_by_test_id(f"stage-{first['id']}-sign_minutes").locator("input")
    expect(cell).to_have_value(str(first["sign_minutes"]))
    body = {k: v for k, v in first.items() if k != "id"}
    try:
        other.put("/stage-deadlines", json={**body, "sign_minutes": first["sign_minutes"] + 1})
        expect(cell).to_have_value(str(first["sign_minutes"] + 1))
    finally:
        other.put("/stage-deadlines", json=body)

    # --- divisions: a town renamed elsewhere shows in the open tree, which stays open
    every = other.get("/divisions", params={"limit": 1000}).json()["items"]
    codes = {d["adcode"] for d in every}
    root = next(d for d in every if d["parent_adcode"] not in codes)
    child = other.get("/divisions", params={"parent": root["adcode"]}).json()["items"][0]
    page.goto(f"{server}/admin/divisions")
    tree = page.get_by_test_id("division-tree")
    tree.locator(".el-tree-node", has_text=root["name"]).locator(
        ".el-tree-node__expand-icon"
    ).first.click()
    expect(tree).to_contain_text(child["name"])
    try:
        other.patch(f"/divisions/{child['adcode']}", json={"name": f"{child['name']}（他处改名）"})
        expect(tree).to_contain_text(f"{child['name']}（他处改名）")
    finally:
        other.patch(f"/divisions/{child['adcode']}", json={"name": child["name"]})
    other.close()
    context.close()
