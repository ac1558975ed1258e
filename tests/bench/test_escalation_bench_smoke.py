"""The escalation benchmark's quick path runs end to end on SQLite (behaviour only, never speed)."""

from __future__ import annotations

import asyncio
import dataclasses

from bench import escalation as bench_escalation


def test_quick_escalation_benchmark_escalates_every_deadline_once_across_a_killed_worker() -> None:
    plan = dataclasses.replace(
        bench_escalation.plan_from(
            bench_escalation.parse_args(["--quick", "--backend", "sqlite", "--orders", "60"])
        ),
        spread=6.0,
        start_lead=0.5,
        baseline_poll=0.25,
    )
    report = asyncio.run(bench_escalation.run_plan(plan))

    assert {"config", "results", "ratios", "goals", "path"} <= report.keys()
    assert {r["runner"] for r in report["results"]} == {"yingji", "baseline"}
    for row in report["results"]:
        assert row["expected"] == 240
        assert row["missed"] == 0 and row["duplicated"] == 0 and not row["timed_out"]
    yingji = next(r for r in report["results"] if r["runner"] == "yingji")
    assert yingji["kill"] is not None and yingji["notifications"] > 0
    assert set(report["goals"]["sqlite"]) >= {"p99_le_250ms", "zero_missed", "zero_duplicated"}
