# ruff: noqa: N999 - the brief names it bench/import.py (run as python -m bench.import)
"""Import benchmark: a ROWS-row .xlsx sheet of one resource kind imported end to end (the job's
read, row checks, database checks, bulk write, commit) beside openpyxl's read-only iteration of
the same file alone, in the same run; prints rows/s of both and the ratio (goal ≥ 0.3×).

    .venv/bin/python -m bench.import                       # 100 000 rows, SQLite
    .venv/bin/python -m bench.import --rows 20000 --backend both

PostgreSQL: ``--pg-url`` (default ``$YINGJI_BENCH_PG_URL`` or a scratch database
``yingji_bench_import`` on 127.0.0.1), dropped and created afresh.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from bench.common import drop_postgres, fresh_postgres, fresh_sqlite, write_report
from yingji.app import ensure_reference_data
from yingji.core import migrate, security, tabular
from yingji.core.db import Database
from yingji.org import service as org
from yingji.resources import imports, tabular_io

GOAL = 0.3
TOWNS = [f"3311261{n:02d}000" for n in range(1, 11)]
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/yingji_bench_import"


def make_sheet(rows: int) -> bytes:
    """An equipment sheet (the common columns and four own fields, text and numbers)."""
    header = tabular_io.header_words("equipment")
    types = ["排涝泵", "发电机", "冲锋舟", "无人机", "挖掘机"]
    body = (
        [
            f"EQ{i:07d}",
            f"装备{i}",
            TOWNS[i % len(TOWNS)],
            "完好可用",
            f"庆元县第{i % 97}街{i % 13}号",
            118.9 + (i % 1000) * 0.0003,
            27.4 + (i % 997) * 0.0003,
            f"联系人{i % 50}",
            f"0578-{6000000 + i % 999999}",
            None,
            types[i % len(types)],
            f"型号-{i % 31}",
            1 + i % 20,
            f"{10 + i % 90}kW",
        ]
        for i in range(rows)
    )
    return tabular.write_xlsx([tabular.Sheet("应急装备", header, body)])


def openpyxl_iteration(content: bytes) -> float:
    """Seconds openpyxl's read-only mode takes to iterate every row's values, alone."""
    started = time.perf_counter()
    book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    for _row in book.worksheets[0].iter_rows(values_only=True):
        pass
    book.close()
    return time.perf_counter() - started


async def prepare(url: str) -> None:
    Database(url)  # creates an SQLite folder
    await asyncio.to_thread(migrate.upgrade, url, "head")
    db = Database(url)
    try:
        await ensure_reference_data(db)
        async with db.unit_of_work() as session:
            await org.create_division(
                session=session,
                data={"adcode": "330000", "name": "浙江省", "level": "province"},
            )
            await org.create_division(
                session=session,
                data={
                    "adcode": "331126",
                    "name": "庆元县",
                    "level": "county",
                    "parent_adcode": "330000",
                },
            )
            for number, adcode in enumerate(TOWNS, start=1):
                await org.create_division(
                    session=session,
                    data={
                        "adcode": adcode,
                        "name": f"第{number}镇",
                        "level": "town",
                        "parent_adcode": "331126",
                    },
                )
    finally:
        await db.dispose()


async def import_once(url: str, content: bytes) -> tuple[float, dict[str, Any]]:
    """Seconds from the upload's commit to the job's end, and the job's summary."""
    db = Database(url)
    try:
        async with db.unit_of_work() as session:
            job = await imports.start_import(
                session=session,
                principal=security.SYSTEM,
                kind="equipment",
                filename="bench.xlsx",
                content=content,
                claim=True,
            )
            job_id, token = job.id, job.token
        if token is None:
            raise RuntimeError("the import was not claimed")
        started = time.perf_counter()
        await imports.run_job(db, job_id, token)
        seconds = time.perf_counter() - started
        async with db.unit_of_work(readonly=True) as session:
            summary = await imports.job_summary(session=session, import_id=job_id)
    finally:
        await db.dispose()
    return seconds, summary


async def run_backend(backend: str, content: bytes, rows: int, pg_url: str) -> dict[str, Any]:
    scratch: Path | None = None
    if backend == "postgres":
        url = await fresh_postgres(pg_url)
    else:
        url, scratch = fresh_sqlite("import")
    try:
        await prepare(url)
        baseline = await asyncio.to_thread(openpyxl_iteration, content)
        seconds, summary = await import_once(url, content)
        if summary["state"] != "done" or summary["created"] != rows:
            raise RuntimeError(f"the import did not store every row: {summary}")
        again, summary = await import_once(url, content)  # every row an update this time
        if summary["state"] != "done" or summary["updated"] != rows:
            raise RuntimeError(f"the re-import did not update every row: {summary}")
    finally:
        if backend == "postgres":
            await drop_postgres(url)
        elif scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return {
        "backend": backend,
        "rows": rows,
        "openpyxl_rows_per_s": round(rows / baseline),
        "import_rows_per_s": round(rows / seconds),
        "reimport_rows_per_s": round(rows / again),
        "ratio": round(baseline / seconds, 3),
        "reimport_ratio": round(baseline / again, 3),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.import",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the sheet")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("YINGJI_BENCH_PG_URL", DEFAULT_PG))
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    content = await asyncio.to_thread(make_sheet, args.rows)
    made = time.perf_counter() - started
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    results = [await run_backend(b, content, args.rows, args.pg_url) for b in backends]
    report = {
        "config": {"rows": args.rows, "file_bytes": len(content), "sheet_seconds": round(made, 2)},
        "results": results,
        "goal": {"ratio_at_least": GOAL, "met": all(r["ratio"] >= GOAL for r in results)},
    }
    report["path"] = str(write_report("import", report))
    return report


def print_report(report: dict[str, Any]) -> None:
    config = report["config"]
    print(f"import benchmark: {config['rows']} rows, {config['file_bytes'] / 2**20:.1f} MiB .xlsx")  # noqa: T201
    print(f"{'backend':<10}{'openpyxl r/s':>14}{'import r/s':>12}{'reimport r/s':>14}{'ratio':>8}")  # noqa: T201
    for r in report["results"]:
        print(  # noqa: T201
            f"{r['backend']:<10}{r['openpyxl_rows_per_s']:>14}{r['import_rows_per_s']:>12}"
            f"{r['reimport_rows_per_s']:>14}{r['ratio']:>8.2f}"
        )
    met = "met" if report["goal"]["met"] else "NOT met"
    print(f"goal: import ≥ {GOAL}× openpyxl read-only iteration — {met}; report {report['path']}")  # noqa: T201


def main(argv: Sequence[str] | None = None) -> int:
    report = asyncio.run(run(parse_args(argv)))
    print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
