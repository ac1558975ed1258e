"""The spatial benchmark runs end to end on SQLite at a small size (behaviour only, never speed)."""

from __future__ import annotations

import asyncio

from bench import spatial


def test_small_spatial_benchmark_answers_every_phase_and_judges_the_goals() -> None:
    plan = spatial.Plan(
        backends=("sqlite",),
        rows={"sqlite": 300},
        duration=1.0,
        warmup=0.3,
        concurrency=2,
        pg_url=spatial.DEFAULT_PG_URL,
    )
    report = asyncio.run(spatial.run_plan(plan))

    (result,) = report["results"]
    for phase in ("nearest", "nearest_bare", "surroundings", "layer", "auth-floor", "healthz"):
        figures = result[phase]
        assert figures["ok"] > 0 and figures["errors"] == {}, (phase, figures)
        assert set(figures["statuses"]) == {"200"}, (phase, figures)
        assert figures["p50_ms"] is not None and figures["p99_ms"] is not None
    assert result["goals"]["at_full_size"] is False
    assert {"nearest_p99_ok", "nearest_vs_bare_ok", "layer_p99_ok"} <= result["goals"].keys()
    assert result["goals"]["auth_floor_vs_bare"] is not None
