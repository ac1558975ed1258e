"""The call-to-dispatch script runs end to end: a 119 fire call from the desk to orders issued
(behaviour and the interaction count, never speed)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bench import call_to_dispatch

BUILT = Path(__file__).resolve().parents[2] / "src/yingji/web_dist/index.html"


@pytest.mark.e2e
def test_a_119_fire_call_with_people_trapped_reaches_orders_within_the_goal() -> None:
    if not BUILT.is_file():
        pytest.fail("the web app is not built: run `make web`")
    # a thread of its own: the browser tests' Playwright may already run this thread's loop
    with ThreadPoolExecutor(max_workers=1) as pool:
        figures = pool.submit(call_to_dispatch.run).result()
    assert figures["orders"] >= 2
    assert any("消防" in unit for unit in figures["units"])
    assert any("120" in unit for unit in figures["units"])  # people trapped: 120 beside
    assert figures["desk"]["interactions"] <= call_to_dispatch.GOAL
