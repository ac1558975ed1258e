"""The intake benchmarks' quick paths run end to end on SQLite (behaviour only, never speed)."""

from __future__ import annotations

import asyncio
import dataclasses

from bench import crash as bench_crash
from bench import intake as bench_intake


def test_killed_server_loses_and_doubles_no_report_when_clients_retry() -> None:
    figures = asyncio.run(
        bench_crash.run_crash(bench_crash.CrashPlan(backend="sqlite", reports=300, concurrency=16))
    )

    assert figures["sent"] == 300
    assert figures["ok_before_kill"] >= 100
    assert figures["failed_at_kill"] > 0
    assert figures["unanswered"] == 0
    assert figures["missing"] == 0
    assert figures["duplicates"] == 0
    assert figures["id_mismatch"] == 0
    assert figures["final_rows"] == 300
    assert figures["without_incident"] == 0
    assert figures["audit_report_received"] == 300
    assert figures["audit_verify_exit"] == 0, figures["audit_verify"]
    assert figures["passed"] is True


def test_quick_intake_benchmark_reports_both_runners_and_the_goals() -> None:
    plan = dataclasses.replace(
        bench_intake.plan_from(bench_intake.parse_args(["--quick"])), concurrency=(2,)
    )
    report = asyncio.run(bench_intake.run_plan(plan))

    assert {"config", "results", "tables", "goals", "path"} <= report.keys()
    assert report["config"]["backends"] == ["sqlite"]
    runs = {(r["runner"], r["mode"]) for r in report["results"]}
    assert runs == {(r, m) for r in ("yingji", "baseline") for m in ("closed", "open")}
    for row in report["results"]:
        assert row["ok"] > 0
        assert row["errors"] == {}
        assert {"p50", "p99"} <= row["latency_ms"].keys()
        assert {"per_second", "server_cpu_pct", "generator_cpu_pct"} <= row.keys()
    yingji = [r for r in report["results"] if r["runner"] == "yingji"]
    assert all(sum(r["match_outcomes"].values()) > 0 for r in yingji)
    [closed, opened] = report["tables"]["sqlite"]
    assert closed["mode"] == "closed" and closed["concurrency"] == 2
    assert opened["mode"] == "open"
    assert closed["ratio"] is not None
    assert {
        "throughput_ratio",
        "throughput_ratio_ge_0_6",
        "open_loop_p99_ms",
        "open_loop_p99_le_50ms",
    } <= report["goals"]["sqlite"].keys()
