"""Importing a database from a sheet (.xlsx or CSV): a background job that checks every row,
names each problem by line and column, and stores all rows or none; templates with the Chinese
headers offices use."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.factories import bearer, make_county_with_two_towns, make_user
from yingji.core import tabular
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.timers import TimerWorker, handlers
from yingji.resources import imports
from yingji.resources.models import Resource

HEADER = ["编号", "名称", "行政区划代码", "状态", "经度", "纬度", "仓库级别", "保管员"]


async def people(db: Database) -> None:
    await make_county_with_two_towns(db)
    await make_user(db, "chief", roles=["commander"], division="331126")
    await make_user(db, "chief_a", roles=["commander"], division="331126101000")
    await make_user(db, "chief_b", roles=["commander"], division="331126102000")
    await make_user(db, "watcher", roles=["viewer"], division="331126")


def xlsx(header: list[str], *rows: list[object]) -> bytes:
    return tabular.write_xlsx([tabular.Sheet("仓库", header, rows)])


async def upload(
    client: httpx.AsyncClient,
    who: dict[str, str],
    body: bytes,
    kind: str = "warehouse",
    name: str = "仓库.xlsx",
) -> httpx.Response:
    return await client.post(
        "/api/v1/resources:import",
        headers=who,
        data={"kind": kind},
        files={"file": (name, body, "application/octet-stream")},
    )


async def run_jobs(db: Database) -> None:
    """What the worker does: fire due timers, then let the import tasks finish."""
    await TimerWorker(db, handler_map=handlers()).run_due()
    await imports.RUNNER.settle()


async def finished(
    client: httpx.AsyncClient, db: Database, who: dict[str, str], body: bytes, **kw: Any
) -> dict[str, Any]:
    started = await upload(client, who, body, **kw)
    assert started.status_code == 202, started.text
    assert started.json()["state"] == "queued"
    await run_jobs(db)
    job = await client.get(f"/api/v1/resources/imports/{started.json()['id']}", headers=who)
    assert job.status_code == 200, job.text
    answer: dict[str, Any] = job.json()
    return answer


async def warehouses(db: Database) -> dict[str, Resource]:
    async with db.unit_of_work(readonly=True) as session:
        rows = await session.scalars(select(Resource).where(Resource.kind == "warehouse"))
        return {r.code: r for r in rows}


async def test_template_has_the_chinese_headers_and_a_sheet_of_allowed_words(
    client: httpx.AsyncClient, db: Database
) -> None:
    await people(db)
    watcher = await bearer(client, "watcher")
    got = await client.get("/api/v1/resources:template?kind=warehouse&format=xlsx", headers=watcher)
    assert got.status_code == 200
    assert got.headers["content-type"] == tabular.XLSX_TYPE
    book = load_workbook(io.BytesIO(got.content), read_only=True)
    first, words = book.worksheets
    header = next(first.iter_rows(values_only=True))
    assert list(header) == [
        "编号", "名称", "行政区划代码", "状态", "地址", "经度", "纬度", "联系人", "联系电话",
        "所属单位编码", "仓库级别", "库房面积(㎡)", "保管员",
    ]  # fmt: skip
    allowed = {row[:3] for row in words.iter_rows(min_row=2, values_only=True)}
    assert ("状态", "open", "正常") in allowed and ("仓库级别", "county", "县级") in allowed
    as_csv = await client.get("/api/v1/resources:template?kind=stock&format=csv", headers=watcher)
    assert as_csv.content.decode("utf-8-sig").splitlines()[0].startswith("仓库编号,物资编码")


async def test_an_xlsx_import_stores_every_row_with_its_values_converted(
    client: httpx.AsyncClient, db: Database
) -> None:
    await people(db)
    chief = await bearer(client, "chief")
    body = xlsx(
        HEADER,
        ["W1", "甲镇仓库", 331126101000, "正常", 119.01, 27.51, "乡镇级", "张三"],
        ["W2", "乙镇仓库", "331126102000", None, None, None, "town", None],
        ["W3", "县仓库", "331126", "停用", 119.05, 27.6, "县级", "=李四"],
    )
    job = await finished(client, db, chief, body)
    assert (job["state"], job["total"], job["created"], job["updated"]) == ("done", 3, 3, 0)
    assert job["errors"] == []
    stored = await warehouses(db)
    assert set(stored) == {"W1", "W2", "W3"}
    assert (stored["W1"].status, stored["W1"].attrs) == (
        "open",
        {"grade": "town", "keeper": "张三"},
    )
    assert stored["W2"].status == "open" and stored["W2"].lon is None
    assert stored["W3"].status == "closed" and stored["W3"].attrs["keeper"] == "=李四"
    assert stored["W1"].division_path.endswith("/331126101000/")


async def test_one_bad_row_stores_nothing_and_names_its_line_and_column(
    client: httpx.AsyncClient, db: Database
) -> None:
    await people(db)
    chief = await bearer(client, "chief")
    text = (
        "编号,名称,行政区划代码,仓库级别,经度,纬度\n"
        "W1,甲镇仓库,331126101000,乡镇级,119.01,27.51\n"
        "W2,乙镇仓库,331126102000,省部级,119.1,27.5\n"
        "W3,县仓库,331126999000,县级,,\n"
        "W1,重复,331126,县级,200,\n"
    )
    job = await finished(client, db, chief, text.encode("gb18030"), name="仓库.csv")
    assert job["state"] == "failed" and job["created"] == 0
    problems = [(e["line"], e["field"], e["column"], e["code"]) for e in job["errors"]]
    assert problems == [
        (3, "grade", "仓库级别", "not_a_choice"),
        (5, "lon", "经度", "above_maximum"),
    ]
    assert job["errors"][0]["params"]["value"] == "省部级"
    assert await warehouses(db) == {}
    # the cells mended, the database finds the last problem: still nothing stored
    text = text.replace("省部级", "乡镇级").replace("W1,重复,331126,县级,200,\n", "")
    job = await finished(client, db, chief, text.encode("gb18030"), name="仓库.csv")
    assert [(e["line"], e["code"]) for e in job["errors"]] == [(4, "division_not_found")]
    assert job["errors"][0]["column"] == "行政区划代码"
    assert await warehouses(db) == {}


async def test_reimport_updates_by_code_and_a_blank_cell_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await people(db)
    chief = await bearer(client, "chief")
    first = xlsx(
        HEADER, ["W1", "甲镇仓库", "331126101000", "正常", 119.01, 27.51, "乡镇级", "张三"]
    )
    assert (await finished(client, db, chief, first))["created"] == 1
    again = xlsx(
        HEADER,
        ["W1", "甲镇应急仓库", "331126101000", None, None, None, None, "王五"],
        ["W2", "乙镇仓库", "331126102000", None, None, None, None, None],
    )
    job = await finished(client, db, chief, again)
    assert (job["created"], job["updated"]) == (1, 1)
    w1 = (await warehouses(db))["W1"]
    assert (w1.name, w1.status, w1.lon, w1.version) == ("甲镇应急仓库", "open", 119.01, 2)
    assert w1.attrs == {"grade": "town", "keeper": "王五"}


async def test_a_town_imports_only_inside_its_town_and_sees_only_its_own_jobs(
    client: httpx.AsyncClient, db: Database
) -> None:
    await people(db)
    chief_a, chief_b = await bearer(client, "chief_a"), await bearer(client, "chief_b")
    body = xlsx(HEADER[:3], ["W1", "甲镇仓库", "331126101000"], ["W2", "乙镇仓库", "331126102000"])
    job = await finished(client, db, chief_a, body)
    assert [(e["line"], e["code"]) for e in job["errors"]] == [(3, "out_of_scope")]
    assert await warehouses(db) == {}
    other = await client.get(f"/api/v1/resources/imports/{job['id']}", headers=chief_b)
    assert other.status_code == 404
    county = await client.get(
        f"/api/v1/resources/imports/{job['id']}", headers=await bearer(client, "chief")
    )
    assert county.status_code == 200
    missing = await client.get(f"/api/v1/resources/imports/{uuid.uuid4()}", headers=chief_a)
    assert missing.status_code == 404


@pytest.mark.parametrize("who", ["watcher", "county"])
async def test_who_lacks_resource_write_may_not_import(
    client: httpx.AsyncClient, db: Database, who: str
) -> None:
    await people(db)
    refused = await upload(
        client, await bearer(client, who), xlsx(HEADER[:3], ["W1", "甲", "331126"])
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"


async def test_an_upload_that_is_no_sheet_is_refused_at_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    await people(db)
    chief = await bearer(client, "chief")
    refused = await upload(client, chief, b"\xff\xfe\x00\x81" * 10, name="x.xlsx")
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "not_a_sheet"
    unknown = await upload(client, chief, b"a,b\n", kind="spaceship")
    assert unknown.status_code == 422


async def test_a_header_that_names_no_field_or_lacks_a_required_one_is_line_one(
    client: httpx.AsyncClient, db: Database
) -> None:
    await people(db)
    chief = await bearer(client, "chief")
    job = await finished(client, db, chief, "编号,名字\nW1,甲\n".encode(), name="w.csv")
    problems = [(e["line"], e["column"], e["code"]) for e in job["errors"]]
    assert problems == [
        (1, "名字", "unknown_column"),
        (1, "名称", "missing_column"),
        (1, "行政区划代码", "missing_column"),
    ]


async def test_a_job_whose_run_died_is_started_again_by_its_watch_timer(
    client: httpx.AsyncClient, db: Database, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await people(db)
    chief = await bearer(client, "chief")
    started = await upload(client, chief, xlsx(HEADER[:3], ["W1", "甲镇仓库", "331126101000"]))
    with monkeypatch.context() as dead:  # the claiming process dies before its run starts
        dead.setattr(imports.RUNNER, "start", lambda *_: None)
        await run_jobs(db)
    url = f"/api/v1/resources/imports/{started.json()['id']}"
    assert (await client.get(url, headers=chief)).json()["state"] == "checking"
    await run_jobs(db)  # the watch timer is not due yet: nothing happens
    assert await warehouses(db) == {}
    clock.advance(imports.STALE + timedelta(seconds=1))
    await run_jobs(db)
    job = (await client.get(url, headers=chief)).json()
    assert (job["state"], job["created"]) == ("done", 1)
    assert set(await warehouses(db)) == {"W1"}


async def test_a_stock_sheet_adds_items_and_batches_and_recounts_a_batch(
    client: httpx.AsyncClient, db: Database
) -> None:
    await people(db)
    chief = await bearer(client, "chief")
    await finished(client, db, chief, xlsx(HEADER[:3], ["W1", "甲镇仓库", "331126101000"]))
    stock_header = ["仓库编号", "物资编码", "物资名称", "计量单位", "批次号", "数量", "有效期至"]
    body = tabular.write_xlsx(
        [
            tabular.Sheet(
                "库存",
                stock_header,
                [
                    ["W1", "TENT", "帐篷", "顶", "B1", 100, "2027-06-30"],
                    ["W1", "TENT", None, None, "B2", 20, None],
                    ["W9", "TENT", None, None, "B1", 5, None],
                    ["W1", "WATER", None, None, "B1", 5, None],
                ],
            )
        ]
    )
    job = await finished(client, db, chief, body, kind="stock", name="库存.xlsx")
    problems = [(e["line"], e["field"], e["code"]) for e in job["errors"]]
    assert problems == [
        (4, "warehouse_code", "warehouse_not_found"),
        (5, "item_name", "new_item_needs_name_and_unit"),
    ]
    body = tabular.write_xlsx(
        [tabular.Sheet("库存", stock_header, [
            ["W1", "TENT", "帐篷", "顶", "B1", 100, "2027-06-30"],
            ["W1", "TENT", None, None, "B2", 20, None],
        ])]
    )  # fmt: skip
    job = await finished(client, db, chief, body, kind="stock", name="库存.xlsx")
    assert (job["state"], job["created"], job["updated"]) == ("done", 2, 0)
    recount = tabular.write_xlsx(
        [tabular.Sheet("库存", stock_header, [["W1", "TENT", None, None, "B1", 80, None]])]
    )
    job = await finished(client, db, chief, recount, kind="stock", name="库存.xlsx")
    assert (job["state"], job["created"], job["updated"]) == ("done", 0, 1)
    async with db.unit_of_work(readonly=True) as session:
        from yingji.resources.models import StockBatch

        batches = {
            b.batch_no: (b.quantity, b.expires_on and b.expires_on.isoformat())
            for b in await session.scalars(select(StockBatch))
        }
        count = await session.scalar(select(func.count()).select_from(StockBatch))
    assert batches == {"B1": (80, "2027-06-30"), "B2": (20, None)} and count == 2


async def test_a_team_sheet_makes_each_team_with_its_unit_and_a_refused_row_undoes_all(
    client: httpx.AsyncClient, db: Database
) -> None:
    from yingji.org.models import LinkageUnit

    await people(db)
    chief = await bearer(client, "chief")
    header = ["编号", "名称", "行政区划代码", "队伍类型", "队员人数", "救援能力"]
    rows: list[list[object]] = [
        ["RT1", "甲镇水上救援队", "331126101000", "社会救援力量", 30, "水上救援、山地救援"],
        ["RT.2", "乙镇救援队", "331126102000", None, 12, None],
    ]

    async def units() -> set[str]:
        async with db.unit_of_work(readonly=True) as session:
            return set(await session.scalars(select(LinkageUnit.code)))

    before = await units()
    job = await finished(client, db, chief, xlsx(header, *rows), kind="rescue_team")
    assert [(e["line"], e["field"], e["code"]) for e in job["errors"]] == [
        (3, "code", "field_invalid")
    ]
    assert await units() == before
    rows[1][0] = "RT2"
    job = await finished(client, db, chief, xlsx(header, *rows), kind="rescue_team")
    assert (job["state"], job["created"]) == ("done", 2)
    assert await units() == before | {"RT1", "RT2"}
    async with db.unit_of_work(readonly=True) as session:
        team = await session.scalar(select(Resource).where(Resource.code == "RT1"))
    assert team is not None and team.unit_id is not None
    assert team.attrs["capabilities"] == ["water_rescue", "mountain"]
    assert team.tags == "|water_rescue|mountain|"


async def test_progress_is_told_a_slice_at_a_time_while_checking_then_writing(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yingji.core import security

    await people(db)
    monkeypatch.setattr(imports, "CHECK_SLICE", 2)
    rows = [[f"W{i}", f"仓库{i}", "331126101000"] for i in range(5)]
    async with db.unit_of_work() as session:
        job = await imports.start_import(
            session=session,
            principal=security.SYSTEM,
            kind="warehouse",
            filename="w.xlsx",
            content=xlsx(HEADER[:3], *rows),
            claim=True,
        )
    heard: list[tuple[str, int, int]] = []
    assert job.token is not None
    await imports.run_job(db, job.id, job.token, lambda *told: heard.append(told))
    checking = [told for told in heard if told[0] == "checking"]
    assert checking == [("checking", 2, 5), ("checking", 4, 5), ("checking", 5, 5)]
    assert heard[-1] == ("writing", 5, 5)
    assert len(await warehouses(db)) == 5


async def test_a_sheet_beyond_the_row_bound_is_refused_whole(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await people(db)
    monkeypatch.setattr(tabular, "MAX_ROWS", 3)
    rows = [[f"W{i}", f"仓库{i}", "331126101000"] for i in range(3)]
    job = await finished(client, db, await bearer(client, "chief"), xlsx(HEADER[:3], *rows))
    assert [(e["line"], e["code"], e["params"]) for e in job["errors"]] == [
        (0, "too_many_rows", {"value": 2})
    ]
    assert await warehouses(db) == {}


async def test_an_import_is_audited_once_as_its_requester_with_the_files_hash(
    client: httpx.AsyncClient, db: Database
) -> None:
    import hashlib

    from yingji.core.audit import AuditEntry
    from yingji.core.events import OutboxEvent

    await people(db)
    body = xlsx(HEADER[:3], ["W1", "甲镇仓库", "331126101000"], ["W2", "乙镇仓库", "331126"])
    job = await finished(client, db, await bearer(client, "chief"), body)
    async with db.unit_of_work(readonly=True) as session:
        entries = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.subject_id == job["id"]))
        )
        events = list(
            await session.scalars(select(OutboxEvent).where(OutboxEvent.subject_id == job["id"]))
        )
    [entry] = entries
    assert (entry.action, entry.actor_name) == ("resource.imported", "chief")
    assert entry.after is not None
    assert entry.after["sha256"] == hashlib.sha256(body).hexdigest()
    assert (entry.after["created"], entry.after["updated"]) == (2, 0)
    assert entry.division_path is not None and entry.division_path.endswith("/331126/")
    assert [e.type for e in events] == ["resource.imported"]


async def test_an_owning_unit_is_named_by_code_and_must_serve_the_importers_area(
    client: httpx.AsyncClient, db: Database
) -> None:
    await people(db)
    header = [*HEADER[:3], "所属单位编码"]
    chief_a = await bearer(client, "chief_a")
    job = await finished(client, db, chief_a, xlsx(header, ["W1", "甲", "331126101000", "TB"]))
    assert [(e["line"], e["column"], e["code"]) for e in job["errors"]] == [
        (2, "所属单位编码", "unit_not_found")
    ]
    job = await finished(client, db, chief_a, xlsx(header, ["W1", "甲", "331126101000", "TA"]))
    assert job["state"] == "done"
    owner = (await warehouses(db))["W1"].owner_unit_id
    async with db.unit_of_work(readonly=True) as session:
        from yingji.org import service as org

        unit = await org.get_unit_by_code(session=session, code="TA")
    assert unit is not None and owner == unit.id


async def test_two_imports_of_the_same_new_rows_at_once_never_crash_or_double(
    client: httpx.AsyncClient, db: Database
) -> None:
    await people(db)
    chief = await bearer(client, "chief")
    rows = [[f"W{i}", f"仓库{i}", "331126101000"] for i in range(300)]
    body = xlsx(HEADER[:3], *rows)
    first, second = [(await upload(client, chief, body)).json()["id"] for _ in range(2)]
    await run_jobs(db)  # both claimed in one pass: their runs overlap
    states = []
    for job_id in (first, second):
        job = (await client.get(f"/api/v1/resources/imports/{job_id}", headers=chief)).json()
        codes = [e["code"] for e in job["errors"]]
        states.append((job["state"], job["created"] + job["updated"], codes))
    assert sorted(states) in (
        [("done", 300, []), ("done", 300, [])],
        [("done", 300, []), ("failed", 0, ["changed_meanwhile"])],
    )
    assert len(await warehouses(db)) == 300
