"""The command line imports, exports and writes templates as the console does: a progress bar,
problems by line and column, all rows or none."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from openpyxl import load_workbook
from typer.testing import CliRunner

from tests.factories import make_county_with_two_towns
from tests.resources.test_import_sheets import HEADER, warehouses, xlsx
from yingji.cli import app as cli
from yingji.core.db import Database
from yingji.settings import Settings

T = TypeVar("T")


def on_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """``work`` on a database opened in its own event loop (asyncpg's connections keep theirs)."""

    async def run() -> T:
        db = Database(settings.database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_cli_imports_a_sheet_with_a_progress_bar_all_or_nothing_and_exports_it(
    cli_env: None, tmp_path: Path, settings: Settings, clock: object
) -> None:
    on_database(settings, make_county_with_two_towns)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "编号,名称,行政区划代码,仓库级别\nW1,甲,331126101000,县级\nW2,乙,331126102000,省部级\n",
        encoding="utf-8",
    )
    refused = CliRunner().invoke(cli, ["resources", "import", "warehouse", str(bad)])
    assert refused.exit_code == 1, refused.output
    assert "import_failed" in refused.output and "nothing was stored" in refused.output
    assert "line 3, 仓库级别: not_a_choice" in refused.output
    assert on_database(settings, warehouses) == {}

    good = tmp_path / "good.xlsx"
    good.write_bytes(
        xlsx(HEADER, ["W1", "甲", "331126101000", None, 119.0, 27.5, "县级", None],
             ["W2", "乙", "331126102000", "停用", None, None, None, "李四"])
    )  # fmt: skip
    done = CliRunner().invoke(cli, ["resources", "import", "warehouse", str(good)])
    assert done.exit_code == 0, done.output
    assert "warehouse: 2 created, 0 updated" in done.output
    assert "writing warehouse" in done.output and "2/2" in done.output
    assert set(on_database(settings, warehouses)) == {"W1", "W2"}

    out = tmp_path / "out.xlsx"
    exported = CliRunner().invoke(
        cli, ["resources", "export", "warehouse", "--division", "331126102000", "--out", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    rows = list(load_workbook(out, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert [r[0] for r in rows] == ["编号", "W2"]


def test_cli_writes_a_template_and_refuses_an_unknown_kind(cli_env: None, tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    made = CliRunner().invoke(
        cli, ["resources", "template", "shelter", "--format", "csv", "--out", str(out)]
    )
    assert made.exit_code == 0, made.output
    assert out.read_text(encoding="utf-8-sig").startswith("编号,名称,行政区划代码,状态")
    unknown = CliRunner().invoke(cli, ["resources", "template", "spaceship"])
    assert unknown.exit_code == 2 and "unknown_kind" in unknown.output
