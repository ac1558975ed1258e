from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
import websockets
from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tests.conftest import free_port, served_env
from tests.factories import PASSWORD, bearer, make_county_with_two_towns
from yingji.app import create_app
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.settings import DEFAULT_SECRET, Settings

SECRET = "9c1f0e7a3b5d8246aef1c0d9b7e6a5f4"  # as `openssl rand -hex 16` would give


async def test_healthz_and_readyz_report_alive_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "writes": "ok", "migrations": "ok"},
    }


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
    assert Settings(env="production", secret_key=SECRET).env == "production"


@pytest.mark.parametrize(
    "weak",
    [
        " " * 32,
        "s" * 40,
        "abababababababababababababababab",
        "0123456789abcdef",
        f" {SECRET}",
        "correct horse battery staple and more words",
    ],
)
@pytest.mark.parametrize("env", ["staging", "production", "drill"])
def test_settings_refuse_a_weak_secret_outside_local(env: str, weak: str) -> None:
    with pytest.raises(ValueError, match="YINGJI_SECRET_KEY"):
        Settings(env=env, secret_key=weak)


def test_settings_refuse_an_accelerated_clock_outside_local_and_drill() -> None:
    with pytest.raises(ValueError, match="CLOCK_RATE"):
        Settings(env="production", secret_key=SECRET, clock_rate=60)
    assert Settings(env="drill", secret_key=SECRET, clock_rate=60).clock_rate == 60


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


@asynccontextmanager
async def read_only(settings: Settings, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose database refuses writes: an SQLite file opened read-only, a
    PostgreSQL database whose transactions are read-only (as on a standby)."""
    url = settings.database_url
    if url.startswith("sqlite"):
        url = url.replace(":///", ":///file:", 1) + "?mode=ro&uri=true"
    else:
        name = make_url(url).database
        await pg_admin(url, f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    application = create_app(
        settings.model_copy(update={"database_url": url}), run_worker=False, clock_override=clock
    )
    try:
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application, client=("203.0.113.7", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield client
    finally:
        if not url.startswith("sqlite"):
            await pg_admin(url, f'ALTER DATABASE "{name}" RESET default_transaction_read_only')


async def pg_admin(url: str, statement: str) -> None:
    """Run ``statement`` on the server of ``url``, from its ``postgres`` database."""
    u = make_url(url)
    connection = await asyncpg.connect(
        host=u.host, port=u.port or 5432, user=u.username, password=u.password, database="postgres"
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def test_a_read_only_database_makes_writes_503_and_readyz_not_ready(
    client: httpx.AsyncClient, db: Database, settings: Settings, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    async with read_only(settings, clock) as frozen:
        ready = await frozen.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert ready.json()["checks"]["database"] == "ok"
        assert ready.json()["checks"]["writes"].startswith("refused")
        token = await frozen.post(
            "/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}
        )
        assert token.status_code == 503, token.text
        assert token.json()["error"]["code"] == "database_unavailable"
        assert token.headers["retry-after"]
    admin = await bearer(client, "admin")  # a token issued while it could still write
    async with read_only(settings, clock) as frozen:
        listed = await frozen.get("/api/v1/units", headers=admin)
        assert listed.status_code == 200, listed.text  # reads go on
        created = await frozen.post(
            "/api/v1/units",
            headers=admin,
            json={
                "code": "RO1",
                "name": "只读",
                "kind": "department",
                "tier": 1,
                "division_adcode": "331126",
            },
        )
        assert created.status_code == 503, created.text
        assert created.json()["error"]["code"] == "database_unavailable"
    assert (await client.get("/readyz")).status_code == 200


async def test_a_lost_database_connection_is_503_not_500(app) -> None:
    """PostgreSQL gone after start (restarted, failed over): asyncpg's refused connection
    reaches the app as a plain ConnectionRefusedError, not as a database error."""
    router = APIRouter()

    @router.get("/api/v1/test-connect")
    async def connect() -> None:
        raise ConnectionRefusedError(111, "Connect call failed ('10.0.0.5', 5432)")

    app.router.routes[:0] = router.routes
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/api/v1/test-connect")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "database_unavailable"
    assert answer.headers["retry-after"]


YINGJI = str(Path(sys.executable).with_name("yingji"))


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///{tmp}/mistyped/yingji.db",
        "sqlite+aiosqlite:///{tmp}/yingji.db",
        "postgresql+asyncpg://postgres@127.0.0.1:1/nothing_listens_here",
    ],
)
def test_serve_refuses_a_missing_database_with_one_line(tmp_path: Path, url: str) -> None:
    """``serve`` never creates the database (``db upgrade`` does); a database it cannot open
    is one line on stderr and exit code 2, not a traceback."""
    env = served_env(url.format(tmp=tmp_path))
    served = subprocess.run(
        [YINGJI, "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert served.returncode == 2, served.stderr
    lines = served.stderr.strip().splitlines()
    assert len(lines) == 1, served.stderr
    assert "database" in lines[0] and "Traceback" not in served.stderr
    assert list(tmp_path.iterdir()) == []  # no empty file, no folder


def test_serve_warns_when_a_local_environment_listens_beyond_loopback(tmp_path: Path) -> None:
    env = served_env(f"sqlite+aiosqlite:///{tmp_path}/yingji.db")
    subprocess.run([YINGJI, "db", "upgrade"], env=env, check=True, capture_output=True)
    env.pop("YINGJI_ENV")  # unset: local
    port = free_port()
    with (tmp_path / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [YINGJI, "serve", "--host", "0.0.0.0", "--port", str(port)],  # noqa: S104
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=10)
    output = (tmp_path / "serve.log").read_text()
    assert "WARNING" in output and "YINGJI_ENV is local" in output, output
    assert "0.0.0.0" in output  # noqa: S104


def exposed_app(settings: Settings, clock: ManualClock, **changes: object) -> httpx.AsyncClient:
    application = create_app(
        Settings.model_validate(
            {**settings.model_dump(), "env": "production", "secret_key": SECRET, **changes}
        ),
        run_worker=False,
        clock_override=clock,
    )
    transport = httpx.ASGITransport(app=application, client=("203.0.113.7", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_production_hides_the_api_docs_unless_asked(
    client: httpx.AsyncClient, settings: Settings, clock: ManualClock
) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (await client.get(path)).status_code == 200, path  # local and test: open
    async with exposed_app(settings, clock) as production:
        for path in ("/docs", "/redoc", "/openapi.json"):
            hidden = await production.get(path)
            assert hidden.status_code == 404, path
            assert "swagger" not in hidden.text.lower()
    async with exposed_app(settings, clock, docs=True) as production:
        assert (await production.get("/openapi.json")).status_code == 200


async def test_production_metrics_need_the_token_or_a_loopback_caller(
    client: httpx.AsyncClient, settings: Settings, clock: ManualClock
) -> None:
    assert (await client.get("/metrics")).status_code == 200  # local and test: open
    async with exposed_app(settings, clock) as production:
        refused = await production.get("/metrics")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "metrics_loopback_only"
    loopback = create_app(
        settings.model_copy(update={"env": "production", "secret_key": SECRET}),
        run_worker=False,
        clock_override=clock,
    )
    transport = httpx.ASGITransport(app=loopback, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as local:
        assert (await local.get("/metrics")).status_code == 200
        forwarded = await local.get("/metrics", headers={"X-Forwarded-For": "198.51.100.4"})
        assert forwarded.status_code == 403  # through a proxy on this host: not loopback
    async with exposed_app(settings, clock, metrics_token="scrape-" + SECRET) as production:
        assert (await production.get("/metrics")).status_code == 401
        wrong = await production.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = await production.get(
            "/metrics", headers={"Authorization": f"Bearer scrape-{SECRET}"}
        )
        assert right.status_code == 200
        assert "yingji_http_requests_total" in right.text


async def test_tokens_in_urls_never_reach_the_logs(
    live_server: str, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """``/ws?token=`` (browsers cannot set headers on a WebSocket): uvicorn writes the URL of
    every WebSocket handshake into its log, and ours writes every request's path."""
    await make_county_with_two_towns(db)
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as c:
        token = (
            await c.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD})
        ).json()["access_token"]
        with caplog.at_level(logging.INFO):
            await c.get(f"/api/v1/units?token={token}")
            async with websockets.connect(f"ws://{live_server}/ws?token={token}") as ws:
                await ws.recv()
            with pytest.raises(websockets.InvalidStatus):
                async with websockets.connect(f"ws://{live_server}/ws?token=wrong-{token}"):
                    pass
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert any("WebSocket /ws?token=[redacted]" in r.getMessage() for r in server)
    assert any(getattr(r, "path", None) == "/api/v1/units" for r in server)  # our access line
    leaks = [r.__dict__ for r in server if token in r.getMessage() + str(r.__dict__)]
    assert not leaks


async def test_no_free_database_connection_is_503_busy_not_500(app) -> None:
    """Overload: every pooled connection stayed busy past the pool's timeout."""
    router = APIRouter()

    @router.get("/api/v1/test-pool")
    async def exhausted() -> None:
        raise PoolTimeout("QueuePool limit of size 20 overflow 0 reached, connection timed out")

    app.router.routes[:0] = router.routes
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/api/v1/test-pool")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "server_busy"
    assert answer.headers["retry-after"]
