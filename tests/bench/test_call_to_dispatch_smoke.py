"""The call-to-dispatch script runs end to end: a 119 fire call from the desk to orders issued
(behaviour and the interaction count, never speed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import call_to_dispatch

BUILT = Path(__file__).resolve().parents[2] / "src/yingji/web_dist/index.html"


@pytest.mark.e2e
def test_a_119_fire_call_with_people_trapped_reaches_orders_within_the_goal() -> None:
    if not BUILT.is_file():
        pytest.fail("the web app is not built: run `make web`")
    figures = call_to_dispatch.run()
    assert figures["orders"] >= 2
    assert any("消防" in unit for unit in figures["units"])
    assert any("120" in unit for unit in figures["units"])  # people trapped: 120 beside
    assert figures["desk"]["interactions"] <= call_to_dispatch.GOAL
