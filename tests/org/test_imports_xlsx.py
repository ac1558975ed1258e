"""Division and unit imports take .xlsx workbooks too: typed cells read as the CSV text they
stand for, the same checks by line, all rows or none; a workbook that is not one, or that
inflates too far, is refused before it is read."""

from __future__ import annotations

import io
import zipfile

import httpx
from sqlalchemy import func, select

from tests.factories import bearer, make_county_with_two_towns
from yingji.core import tabular
from yingji.core.db import Database
from yingji.org.models import Division, LinkageUnit


async def count(db: Database, model: type) -> int:
    async with db.unit_of_work(readonly=True) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def workbook(header: list[str], *rows: list[object]) -> bytes:
    return tabular.write_xlsx([tabular.Sheet("sheet", header, rows)])


async def post(
    client: httpx.AsyncClient, who: dict[str, str], path: str, body: bytes
) -> httpx.Response:
    return await client.post(
        path, headers=who, files={"file": ("upload.xlsx", body, tabular.XLSX_TYPE)}
    )


async def test_divisions_import_from_xlsx_with_adcodes_typed_as_numbers(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    body = workbook(
        ["adcode", "name", "level", "parent_adcode", "centroid_lon", "centroid_lat"],
        [331126101201, "甲村", "village", 331126101000, 119.01, 27.51],
        ["331126101202", "乙村", "village", "331126101000", None, None],
    )
    answer = await post(client, admin, "/api/v1/divisions:import", body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"created": 2, "updated": 0, "errors": []}
    async with db.unit_of_work(readonly=True) as session:
        village = await session.get(Division, "331126101201")
    assert village is not None and village.parent_adcode == "331126101000"


async def test_xlsx_unit_import_with_a_bad_row_names_its_line_and_stores_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    before = await count(db, LinkageUnit)
    body = workbook(
        ["code", "name", "kind", "tier", "division_adcode"],
        ["R1", "甲镇救援队", "rescue_team", 1, 331126101000],
        ["R2", "乙镇救援队", "rescue_team", "high", 331126102000],
    )
    refused = await post(client, admin, "/api/v1/units:import", body)
    assert refused.status_code == 422, refused.text
    errors = refused.json()["error"]["details"]["errors"]
    assert [(e["line"], e["field"], e["code"]) for e in errors] == [(3, "tier", "number")]
    assert await count(db, LinkageUnit) == before


async def test_a_zip_that_inflates_too_far_is_refused_unread(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (tabular.XLSX_MAX_INFLATED + 1))
    refused = await post(client, admin, "/api/v1/units:import", out.getvalue())
    assert refused.status_code == 422
    [problem] = refused.json()["error"]["details"]["errors"]
    assert (problem["line"], problem["code"]) == (0, "xlsx_too_large")


async def test_a_zip_that_is_no_workbook_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hi")
    refused = await post(client, admin, "/api/v1/divisions:import", out.getvalue())
    assert refused.status_code == 422
    assert [e["code"] for e in refused.json()["error"]["details"]["errors"]] == ["not_xlsx"]


def test_a_sheet_beyond_the_column_bound_is_one_problem() -> None:
    wide = [f"c{i}" for i in range(tabular.MAX_COLUMNS + 1)]
    read = tabular.read_xlsx(workbook(wide, ["x"] * len(wide)))
    assert read.problem is not None and read.problem.code == "too_many_columns"
    assert read.records == []


def test_formula_looking_text_is_exported_as_text_and_reads_back_unchanged() -> None:
    body = workbook(["名称"], ['=HYPERLINK("http://x","y")'], ["@SUM(A1)"])
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet
    read = tabular.read_xlsx(body)
    assert [r["名称"] for _, r in read.records] == ['=HYPERLINK("http://x","y")', "@SUM(A1)"]
