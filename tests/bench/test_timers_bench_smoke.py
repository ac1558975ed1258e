"""The timer benchmark's quick path runs end to end on SQLite (behaviour only, never speed)."""

from __future__ import annotations

import asyncio
import dataclasses

from bench import timers as bench_timers


def test_quick_timer_benchmark_fires_every_timer_exactly_once_and_reports_figures() -> None:
    plan = dataclasses.replace(
        bench_timers.plan_from(
            bench_timers.parse_args(["--quick", "--backend", "sqlite", "--workers", "1"])
        ),
        start_lead=0.5,
        baseline_poll=0.25,
    )
    report = asyncio.run(bench_timers.run_plan(plan))

    assert {"config", "results", "ratios", "goals", "path"} <= report.keys()
    runs = {(r["runner"], r["workers"]) for r in report["results"]}
    assert runs == {("yingji", 1), ("baseline", 1)}
    for row in report["results"]:
        assert row["timed_out"] is None
        for phase in ("spread", "drain"):
            figures = row[phase]
            assert figures["missed"] == 0
            assert figures["duplicated"] == 0
            assert figures["fired"] == figures["scheduled"] > 0
            assert {"p50", "p99", "max"} <= figures["lateness_ms"].keys()
            assert {"per_second", "peak_per_second"} <= figures.keys()
    assert report["results"][0]["spread"]["scheduled"] == 2_000
    assert len(report["ratios"]) == 1
