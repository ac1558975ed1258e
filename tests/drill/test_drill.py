"""The drill player against a real `yingji serve` running a 600× clock (YINGJI_ENV=drill)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import served_demo
from yingji import drill

RATE = 600.0


@pytest.fixture(scope="module")
def drill_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_demo(
        tmp_path_factory.mktemp("drill"),
        YINGJI_ENV="drill",
        YINGJI_CLOCK_RATE=str(RATE),
        YINGJI_SECRET_KEY="drill-test-secret-key-of-at-least-32-characters",
        YINGJI_SQLITE_SYNCHRONOUS="OFF",
    ) as base:
        yield base


def officer_headers(base: str) -> dict[str, str]:
    answer = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"username": "duty_officer", "password": drill.DEMO_PASSWORD},
    )
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_typhoon_drill_creates_incidents_and_moves_orders_through_every_kind_of_stage(
    drill_server: str,
) -> None:
    plan = drill.DrillPlan(
        url=drill_server,
        speed=RATE,
        duration_minutes=180,
        reports_per_day=600,
        seed=7,
    )
    summary = asyncio.run(asyncio.wait_for(drill.run_drill(plan), timeout=50))

    assert summary.reports_sent > 0 and summary.incidents > 0
    assert summary.server_rate is not None and not summary.warnings
    headers = officer_headers(drill_server)
    incidents = httpx.get(f"{drill_server}/api/v1/incidents?limit=200", headers=headers).json()
    assert incidents["total"] >= summary.incidents
    orders = httpx.get(f"{drill_server}/api/v1/orders?limit=500", headers=headers).json()["items"]
    stages = {o["stage"] for o in orders}
    assert {"completed", "returned", "transferred"} <= stages
    assert len(stages & {"issued", "signed", "arrived", "completed"}) >= 2
    assert any(o["return_reason"] for o in orders if o["stage"] == "returned")
    late = [o for o in orders if o["sign_late"]]
    assert late
    escalated = [
        e
        for o in late[:30]
        for e in httpx.get(f"{drill_server}/api/v1/orders/{o['id']}", headers=headers).json()[
            "escalations"
        ]
    ]
    assert escalated and {e["kind"] for e in escalated} <= {
        "remind",
        "supervise_unit",
        "supervise_center",
    }
