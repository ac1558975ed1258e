"""The resources console (资源库) through the real UI: an import with one bad row stores
nothing and shows the problem with its row and column; the corrected file imports; the rows
are browsed, filtered, edited in the form drawn from the catalogue and exported; a warehouse
keeps its stock; a viewer only browses; every resources screen reads in Chinese."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from openpyxl import Workbook, load_workbook
from playwright.sync_api import Browser, Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.conftest import bearer, shot, sign_in
from tests.e2e.test_zh_cn_screen_walk import LATIN, Walk, known_names

HEADERS = [
    "编号",
    "名称",
    "行政区划代码",
    "状态",
    "地址",
    "经度",
    "纬度",
    "联系人",
    "联系电话",
    "容纳人数",
    "场所类型",
]
GOOD_ROWS = [
    [
        "E2E-SH-1",
        "端到端避难所一",
        "331126101000",
        "已开放",
        "竹口镇中心小学",
        119.05,
        27.71,
        "张三",
        "0578-6000101",
        300,
        "室内",
    ],
    [
        "E2E-SH-2",
        "端到端避难所二",
        "331126101000",
        "未启用",
        "竹口镇文化广场",
        119.06,
        27.72,
        "李四",
        "0578-6000102",
        800,
        "室外",
    ],
]


def xlsx(rows: list[list[object]]) -> bytes:
    """A workbook as an office keeps it: the Chinese headers, then one row per shelter."""
    book = Workbook()
    sheet = book.active
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def choose(page: Page, select: Locator, option: str) -> None:
    """Open an Element Plus select and pick the option with the text ``option`` (a click that
    lands while the select is still settling is tried again)."""
    item = page.locator(".el-select-dropdown__item:visible", has_text=option).first
    for _ in range(3):
        select.click(force=True)
        try:
            item.wait_for(state="visible", timeout=3000)
            break
        except PlaywrightTimeout:
            continue
    item.click()


def csv(rows: list[list[object]]) -> bytes:
    lines = [",".join(HEADERS)] + [",".join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


SHANGHAI = ZoneInfo("Asia/Shanghai")  # the browser's time zone (the expiry tag counts days there)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_shelter_import_with_a_bad_row_stores_nothing_then_the_good_file_imports(
    server: str, browser: Browser
) -> None:
    headers = bearer(server, "commander")
    mine = {"kind": "shelter", "q": "端到端避难所"}
    context = browser.new_context(
        viewport={"width": 1600, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    sign_in(page, server, "commander")

    # the menu 资源 leads to the registry; the shelters' tab
    page.get_by_role("navigation").get_by_role("link", name="资源库").click()
    expect(page.get_by_test_id("resources-table")).to_be_visible()
    page.get_by_role("tab", name="避难场所").click()
    page.wait_for_url("**/resources/shelter")

    # --- one bad row (the capacity of the second shelter is words): nothing is stored
    bad = [GOOD_ROWS[0], [*GOOD_ROWS[1][:9], "很多", "室外"]]
    page.get_by_test_id("resource-import").click()
    page.get_by_test_id("resource-import-file").set_input_files(
        files=[{"name": "避难场所.xlsx", "mimeType": XLSX, "buffer": xlsx(bad)}]
    )
    page.get_by_test_id("resource-import-start").click()
    problems = page.get_by_test_id("resource-import-problems")
    expect(problems).to_be_visible(timeout=20_000)
    first = problems.locator("tbody tr").first
    expect(first.locator("td").nth(0)).to_have_text("3")  # the sheet's row: header is row 1
    expect(first.locator("td").nth(1)).to_have_text("容纳人数")
    expect(first.locator("td").nth(2)).to_contain_text("“很多”不是数字")
    expect(problems).to_contain_text("未导入任何数据")
    assert "{" not in problems.inner_text()
    expect(page.get_by_test_id("resource-import-state")).to_have_text("导入失败")
    shot(page, "resources-import-error-desktop")
    stored = httpx.get(f"{server}/api/v1/resources", params=mine, headers=headers).json()
    assert stored["total"] == 0, stored

    # --- the corrected file (CSV this time) imports both rows, with progress to the end
    page.get_by_test_id("resource-import-file").set_input_files(
        files=[{"name": "避难场所.csv", "mimeType": "text/csv", "buffer": csv(GOOD_ROWS)}]
    )
    page.get_by_test_id("resource-import-start").click()
    expect(page.get_by_test_id("resource-import-done")).to_contain_text("新增 2 条", timeout=20_000)
    expect(problems).to_be_hidden()
    expect(page.get_by_test_id("resource-import-state")).to_have_text("导入完成")
    page.get_by_role("button", name="关闭").last.click()
    stored = httpx.get(f"{server}/api/v1/resources", params=mine, headers=headers).json()
    assert stored["total"] == 2
    by_code = {r["code"]: r for r in stored["items"]}
    assert by_code["E2E-SH-1"]["status"] == "open"
    assert by_code["E2E-SH-2"]["attrs"] == {"capacity": 800, "shelter_type": "outdoor"}

    # --- the list finds them by text and status, words in Chinese
    page.get_by_test_id("resource-search").fill("端到端避难所")
    table = page.get_by_test_id("resources-table")
    expect(table.locator("tbody tr")).to_have_count(2)
    row = table.locator("tr", has_text="E2E-SH-1")
    expect(row).to_contain_text("已开放")
    expect(row).to_contain_text("300")
    status = page.get_by_role("combobox", name="状态", exact=True)
    choose(page, status, "未启用")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("E2E-SH-2")
    choose(page, status, "全部状态")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(page.get_by_test_id("resource-map").locator(".resource-pin")).to_have_count(2)
    shot(page, "resources-shelters-desktop")

    # --- an edit through the form: a bad phone is refused there, then the capacity is saved
    page.get_by_role("button", name="编辑 端到端避难所一").click()
    form = page.get_by_test_id("resource-form")
    expect(form.get_by_label("编号")).to_have_value("E2E-SH-1")
    expect(form.get_by_label("编号")).to_be_disabled()
    expect(form.locator(".el-form-item", has_text="场所类型")).to_contain_text("室内")
    phone = form.get_by_label("联系电话")
    phone.fill("not a phone")
    page.get_by_test_id("resource-save").click()
    expect(form.locator(".el-form-item__error")).to_contain_text("“not a phone”格式不正确")
    phone.fill("0578-6000109")
    capacity = form.get_by_label("容纳人数")
    capacity.fill("350")
    capacity.press("Tab")
    page.get_by_test_id("resource-save").click()
    expect(form).to_be_hidden()
    expect(row).to_contain_text("350")
    edited = httpx.get(
        f"{server}/api/v1/resources/{by_code['E2E-SH-1']['id']}", headers=headers
    ).json()
    assert edited["attrs"]["capacity"] == 350
    assert edited["contact_phone"] == "0578-6000109"
    assert edited["version"] == by_code["E2E-SH-1"]["version"] + 1

    # --- the export follows the list's filters
    page.get_by_test_id("resource-export").click()
    with page.expect_download() as download:
        page.get_by_test_id("resource-export-csv").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "E2E-SH-1" in text and "E2E-SH-2" in text
    assert "编号" in text.splitlines()[0]
    context.close()


def test_a_viewer_browses_but_cannot_change_the_registry(server: str, browser: Browser) -> None:
    context = browser.new_context(
        viewport={"width": 1400, "height": 900}, locale="en", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    page.add_init_script("localStorage.setItem('yingji.locale', 'en')")
    sign_in(page, server, "viewer")
    page.goto(f"{server}/resources/warehouse")
    expect(page.get_by_test_id("resources-table")).to_be_visible()
    expect(page.get_by_role("tab", name="Warehouses")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_text("You can only look")).to_be_visible()
    expect(page.get_by_test_id("resource-new")).to_have_count(0)
    expect(page.get_by_test_id("resource-import")).to_have_count(0)
    expect(page.get_by_test_id("resource-export")).to_be_visible()
    context.close()


def test_a_warehouse_is_created_in_the_form_and_keeps_its_stock(
    server: str, browser: Browser
) -> None:
    headers = bearer(server, "commander")
    context = browser.new_context(
        viewport={"width": 1600, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    sign_in(page, server, "commander")
    page.goto(f"{server}/resources/warehouse")

    # --- a warehouse through the form drawn from the catalogue
    page.get_by_test_id("resource-new").click()
    form = page.get_by_test_id("resource-form")
    form.get_by_label("编号").fill("E2E-WH-1")
    form.get_by_label("名称").fill("端到端物资仓库")
    division = form.get_by_label("行政区划代码")
    division.click(force=True)
    division.fill("竹口")
    page.locator(".el-select-dropdown__item:visible", has_text="竹口镇").first.click()
    form.get_by_label("保管员").fill("王五")
    choose(page, form.get_by_label("仓库级别"), "乡镇级")
    page.get_by_test_id("resource-save").click()
    expect(form).to_be_hidden()
    row = page.get_by_test_id("resources-table").locator("tr", has_text="E2E-WH-1")
    expect(row).to_contain_text("端到端物资仓库")
    expect(row).to_contain_text("乡镇级")
    expect(row).to_contain_text("王五")

    # --- its stock: a batch of a new item, a minimum above it, a counted correction
    row.get_by_role("button", name="库存 端到端物资仓库").click()
    page.wait_for_url("**/stock")
    expect(page.get_by_role("heading", name="端到端物资仓库 · 库存")).to_be_visible()
    page.get_by_test_id("stock-receive").click()
    receive = page.get_by_test_id("stock-receive-form")
    receive.get_by_role("button", name="新物资").click()
    receive.get_by_label("物资编码").fill("E2E-TENT")
    receive.get_by_label("物资名称").fill("端到端帐篷")
    receive.get_by_label("计量单位").fill("顶")
    receive.get_by_label("批次号").fill("B-2026-01")
    receive.get_by_label("数量").fill("120")
    page.get_by_test_id("stock-receive-save").click()
    expect(receive).to_be_hidden()
    totals = page.get_by_test_id("stock-totals")
    tent = totals.locator("tr", has_text="端到端帐篷")
    expect(tent).to_contain_text("120")
    expect(tent).not_to_contain_text("低于最低库存")

    page.get_by_test_id("stock-minimums").click()
    page.get_by_label("最低库存 端到端帐篷").fill("200")
    page.get_by_test_id("stock-minimums-save").click()
    expect(tent).to_contain_text("低于最低库存")

    batch = page.get_by_test_id("stock-batches").locator("tr", has_text="B-2026-01")
    batch.get_by_role("button", name="盘点修正 B-2026-01").click()
    correct = page.get_by_test_id("stock-correct-form")
    correct.get_by_label("数量").fill("117")
    choose(page, correct.get_by_label("修正原因"), "破损")
    correct.get_by_label("说明").fill("盘点发现破损 3 顶")
    page.get_by_test_id("stock-correct-save").click()
    expect(correct).to_be_hidden()
    expect(batch).to_contain_text("117")
    shot(page, "resources-stock-desktop")

    # --- the stock sheet: its template, then an import of a new item's batch near expiry
    page.get_by_role("link", name="返回仓库列表").click()
    page.wait_for_url("**/resources/warehouse")
    page.get_by_test_id("resource-template").click()
    with page.expect_download() as download:
        page.get_by_test_id("stock-template-xlsx").click()
    book = io.BytesIO(Path(download.value.path()).read_bytes())
    sheet = load_workbook(book, read_only=True).worksheets[0]
    header = [c for c in next(sheet.iter_rows(values_only=True)) if c]
    assert header[:2] == ["仓库编号", "物资编码"] and "有效期至" in header
    # the served app and the browser both judge "expires within 30 days" by the real clock (an
    # e2e server has no ManualClock), so the batch is dated from the real date too
    soon = (datetime.now(SHANGHAI).date() + timedelta(days=10)).isoformat()
    stock_csv = (
        "仓库编号,物资编码,物资名称,计量单位,批次号,数量,有效期至\n"
        f"E2E-WH-1,E2E-WATER,端到端饮用水,箱,W-2026-01,50,{soon}\n"
    )
    page.get_by_test_id("stock-import").click()
    page.get_by_test_id("resource-import-file").set_input_files(
        files=[{"name": "库存.csv", "mimeType": "text/csv", "buffer": stock_csv.encode()}]
    )
    page.get_by_test_id("resource-import-start").click()
    expect(page.get_by_test_id("resource-import-done")).to_contain_text("新增 1 条", timeout=20_000)
    page.get_by_role("button", name="关闭").last.click()
    page.get_by_test_id("resources-table").locator("tr", has_text="E2E-WH-1").get_by_role(
        "button", name="库存 端到端物资仓库"
    ).click()
    water = page.get_by_test_id("stock-batches").locator("tr", has_text="W-2026-01")
    expect(water).to_contain_text("端到端饮用水")
    expect(water).to_contain_text("50")
    expect(water).to_contain_text("30 天内过期")

    warehouse = httpx.get(
        f"{server}/api/v1/resources", params={"kind": "warehouse", "q": "E2E-WH-1"}, headers=headers
    ).json()["items"][0]
    assert warehouse["attrs"] == {"grade": "town", "keeper": "王五"}
    stock = httpx.get(f"{server}/api/v1/resources/{warehouse['id']}/stock", headers=headers).json()
    totals_by_code = {t["item"]["code"]: t for t in stock["totals"]}
    tent_total = totals_by_code["E2E-TENT"]
    assert (tent_total["quantity"], tent_total["minimum"], tent_total["below_minimum"]) == (
        117,
        200,
        True,
    )
    assert totals_by_code["E2E-WATER"]["quantity"] == 50
    context.close()


#: format names the import and export words show as offices write them
FORMATS = {"Excel", "xlsx", "UTF-8", "GB18030", "Polygon", "MultiPolygon"}


def test_every_resources_screen_reads_in_chinese(server: str, browser: Browser) -> None:
    headers = bearer(server, "commander")
    names = known_names(server, bearer(server, "admin")) | FORMATS
    kinds = [
        k["kind"]
        for k in httpx.get(f"{server}/api/v1/resources/kinds", headers=headers).json()["kinds"]
    ]
    for kind in kinds:
        page_of = httpx.get(
            f"{server}/api/v1/resources", params={"kind": kind, "limit": 1000}, headers=headers
        ).json()
        # what the offices typed (codes, models such as DJI M300 RTK, stream links) is data
        for r in page_of["items"]:
            typed = json.dumps([r["code"], r["name"], r["address"], r["attrs"]], ensure_ascii=False)
            names |= {t.strip("./-_") for t in LATIN.findall(typed)}
    walk = Walk(names)
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    sign_in(page, server, "commander")
    for kind in kinds:
        walk.visit(page, server, f"/resources/{kind}", f"/resources/{kind}")
        page.get_by_test_id("resource-new").click()
        expect(page.get_by_test_id("resource-form")).to_be_visible()
        walk.read(page, f"/resources/{kind} form")
        page.keyboard.press("Escape")
        expect(page.get_by_test_id("resource-form")).to_be_hidden()
        page.get_by_test_id("resource-import").click()
        walk.read(page, f"/resources/{kind} import")
        page.keyboard.press("Escape")
    warehouse = httpx.post(
        f"{server}/api/v1/resources",
        headers=headers,
        json={
            "kind": "warehouse",
            "code": "WALK-WH",
            "name": "巡检仓库",
            "division_adcode": "331126",
        },
    ).json()
    walk.visit(page, server, f"/resources/warehouse/{warehouse['id']}/stock", "stock")
    context.close()
    assert not walk.found, "Latin words on the Chinese screens:\n" + "\n".join(
        f"  {screen}: {', '.join(sorted(words))}" for screen, words in walk.found.items()
    )
