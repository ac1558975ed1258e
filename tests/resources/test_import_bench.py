"""The import benchmark's small run works end to end on SQLite (behaviour only, never speed)."""

from __future__ import annotations

import asyncio
import importlib

bench_import = importlib.import_module("bench.import")


def test_a_small_import_benchmark_stores_and_updates_every_row_and_reports_the_ratio() -> None:
    report = asyncio.run(bench_import.run(bench_import.parse_args(["--rows", "60"])))
    [result] = report["results"]
    assert (result["backend"], result["rows"]) == ("sqlite", 60)
    assert result["import_rows_per_s"] > 0 and result["ratio"] > 0
    assert {"ratio_at_least", "met"} <= report["goal"].keys()
