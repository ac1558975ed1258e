"""Exports of a database: the import's own layout in .xlsx and CSV (so an export edited in a
spreadsheet imports back), GeoJSON for maps; only the rows the reader sees, with the list's
filters; text that looks like a formula never runs."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
from openpyxl import load_workbook

from tests.factories import bearer
from tests.resources.test_import_sheets import HEADER, finished, people, xlsx
from yingji.core.db import Database

ROWS = [
    ["W1", "甲镇仓库", "331126101000", "正常", 119.01, 27.51, "乡镇级", '=HYPERLINK("x")'],
    ["W2", "乙镇仓库", "331126102000", "停用", 119.11, 27.52, "乡镇级", "李四"],
]


async def stocked(client: httpx.AsyncClient, db: Database) -> dict[str, str]:
    await people(db)
    chief = await bearer(client, "chief")
    job = await finished(client, db, chief, xlsx(HEADER, *ROWS))
    assert job["state"] == "done", job
    return chief


async def test_an_xlsx_export_is_the_import_layout_and_imports_back_unchanged(
    client: httpx.AsyncClient, db: Database
) -> None:
    chief = await stocked(client, db)
    got = await client.get("/api/v1/resources:export?kind=warehouse&format=xlsx", headers=chief)
    assert got.status_code == 200
    assert 'filename="warehouse.xlsx"' in got.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet1.xml").decode()
    sheet = load_workbook(io.BytesIO(got.content), read_only=True).worksheets[0]
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert header[:4] == ["编号", "名称", "行政区划代码", "状态"]
    assert rows[0][:4] == ["W1", "甲镇仓库", "331126101000", "正常"]
    assert rows[0][header.index("仓库级别")] == "乡镇级"
    assert rows[0][header.index("保管员")] == '=HYPERLINK("x")'
    again = await finished(client, db, chief, got.content)
    assert (again["state"], again["created"], again["updated"]) == ("done", 0, 2)


async def test_a_csv_export_neutralises_formula_text_and_imports_back(
    client: httpx.AsyncClient, db: Database
) -> None:
    chief = await stocked(client, db)
    got = await client.get("/api/v1/resources:export?kind=warehouse&format=csv", headers=chief)
    text = got.content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and text.splitlines()[0].startswith("编号,名称")
    again = await finished(client, db, chief, got.content, name="w.csv")
    assert (again["state"], again["updated"]) == ("done", 2)
    back = await client.get("/api/v1/resources:export?kind=warehouse&format=csv", headers=chief)
    assert back.content == got.content


async def test_a_town_exports_only_its_own_rows_and_filters_apply(
    client: httpx.AsyncClient, db: Database
) -> None:
    await stocked(client, db)
    chief_a = await bearer(client, "chief_a")
    mine = await client.get("/api/v1/resources:export?kind=warehouse&format=csv", headers=chief_a)
    codes = [line.split(",")[0] for line in mine.content.decode("utf-8-sig").splitlines()[1:]]
    assert codes == ["W1"]
    chief = await bearer(client, "chief")
    closed = await client.get(
        "/api/v1/resources:export?kind=warehouse&format=csv&status=closed", headers=chief
    )
    codes = [line.split(",")[0] for line in closed.content.decode("utf-8-sig").splitlines()[1:]]
    assert codes == ["W2"]
    nowhere = await client.get(
        "/api/v1/resources:export?kind=warehouse&format=csv&division=331126999000", headers=chief
    )
    assert nowhere.content.decode("utf-8-sig").splitlines()[1:] == []


async def test_a_geojson_export_has_a_point_feature_per_resource_with_machine_keys(
    client: httpx.AsyncClient, db: Database
) -> None:
    chief = await stocked(client, db)
    got = await client.get("/api/v1/resources:export?kind=warehouse&format=geojson", headers=chief)
    assert got.headers["content-type"].startswith("application/geo+json")
    collection = json.loads(got.content)
    first = collection["features"][0]
    assert first["geometry"] == {"type": "Point", "coordinates": [119.01, 27.51]}
    assert (first["properties"]["code"], first["properties"]["grade"]) == ("W1", "town")
    assert first["properties"]["status"] == "open"


async def test_exports_and_templates_need_a_signed_in_reader(
    client: httpx.AsyncClient, db: Database
) -> None:
    await people(db)
    for url in (
        "/api/v1/resources:export?kind=warehouse",
        "/api/v1/resources:template?kind=warehouse",
    ):
        assert (await client.get(url)).status_code == 401
    bad = await client.get(
        "/api/v1/resources:export?kind=warehouse&bbox=1,2,3", headers=await bearer(client, "chief")
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_bbox"
