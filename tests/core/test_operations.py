from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import free_port, served_env
from yingji.core.db import Database
from yingji.settings import DEFAULT_SECRET, Settings


async def test_healthz_and_readyz_report_alive_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}


async def test_readyz_is_503_when_migrations_are_not_current(
    client: httpx.AsyncClient, db: Database
) -> None:
    async with db.unit_of_work() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    try:
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["migrations"]["current"] == ["old"]
    finally:
        if db.is_postgres:  # the PostgreSQL test database is shared between tests
            from yingji.core import migrate

            async with db.unit_of_work() as session:
                await session.execute(
                    text("UPDATE alembic_version SET version_num = :v"),
                    {"v": sorted(migrate.head_revisions())[0]},
                )


async def test_metrics_are_prometheus_text_with_request_counts(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert 'yingji_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text


async def test_responses_carry_a_request_id_and_logs_are_json_with_it(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    from yingji.core.logs import JsonFormatter

    with caplog.at_level(logging.INFO, logger="yingji"):
        response = await client.get("/healthz", headers={"X-Request-Id": "abc123"})
    assert response.headers["x-request-id"] == "abc123"
    record = next(r for r in caplog.records if getattr(r, "path", None) == "/healthz")
    line = json.loads(JsonFormatter().format(record))
    assert line["status"] == 200 and line["path"] == "/healthz" and "duration_ms" in line


def test_settings_refuse_a_default_secret_outside_local() -> None:
    with pytest.raises(ValueError, match="YINGJI_SECRET_KEY"):
        Settings(env="production", secret_key=DEFAULT_SECRET)
    assert Settings(env="production", secret_key="s" * 40).env == "production"


def test_settings_refuse_an_accelerated_clock_outside_local_and_drill() -> None:
    with pytest.raises(ValueError, match="CLOCK_RATE"):
        Settings(env="production", secret_key="s" * 40, clock_rate=60)
    assert Settings(env="drill", secret_key="s" * 40, clock_rate=60).clock_rate == 60


def test_accelerated_clock_runs_business_time_faster() -> None:
    import time

    from yingji.core.clock import SystemClock

    fast = SystemClock(rate=60)
    start = fast.now()
    time.sleep(0.05)
    elapsed = (fast.now() - start).total_seconds()
    assert 2.5 < elapsed < 30  # 0.05 s of wall time is about 3 s of business time


def test_a_release_started_before_its_migration_starts_and_says_not_ready(
    tmp_path: Path,
) -> None:
    """``yingji serve`` builds the matcher's reference data before its first request. A
    database one migration behind (here: a table the new release reads is not there yet) must
    not stop it from starting: ``/readyz`` says the migrations are not current."""
    env = served_env(f"sqlite+aiosqlite:///{tmp_path}/behind.db")
    yingji = str(Path(sys.executable).with_name("yingji"))
    subprocess.run([yingji, "db", "upgrade"], env=env, check=True, capture_output=True)
    with sqlite3.connect(tmp_path / "behind.db") as behind:
        behind.execute("ALTER TABLE place RENAME TO place_of_a_later_release")
        behind.execute("UPDATE alembic_version SET version_num = 'old'")
    port = free_port()
    with (tmp_path / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [yingji, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline, ready = time.monotonic() + 30, None
        while ready is None and process.poll() is None and time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
            except httpx.HTTPError:
                time.sleep(0.2)
        assert ready is not None, "no answer: " + (tmp_path / "serve.log").read_text()
        assert ready.status_code == 503
        assert ready.json()["checks"]["migrations"]["current"] == ["old"]
    finally:
        process.terminate()
        process.wait(timeout=10)
