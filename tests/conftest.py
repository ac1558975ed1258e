"""Test harness: a real, clean, migrated database per test (SQLite always; PostgreSQL + PostGIS
when ``YINGJI_TEST_DATABASE_URL`` is set), a controllable clock, and the app over HTTP.

Each test gets a freshly migrated database rather than a rolled-back transaction: the relay, the
timer worker and concurrent requests use sessions of their own and must see committed rows
(docs/decisions/0003-clean-database-per-test.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from sqlalchemy.engine import make_url

from yingji import domains, registry
from yingji.app import create_app, ensure_reference_data
from yingji.core import audit, migrate, security
from yingji.core import clock as clock_module
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.settings import Settings, get_settings

PG_URL = os.environ.get("YINGJI_TEST_DATABASE_URL")
security.configure_hasher(cheap=True)
# what building an app or a worker does first: tests that call services without an app too
domains.install()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database to start every test from."""
    if PG_URL:
        base = make_url(PG_URL)
        name = f"{base.database}_{os.getpid()}"
        _pg_exec(PG_URL, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
        url = base.set(database=name).render_as_string(hide_password=False)
        migrate.upgrade(url)
        asyncio.run(_reference(url))
        yield url
        _pg_exec(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    asyncio.run(_reference(f"sqlite+aiosqlite:///{path}"))
    yield str(path)


async def _reference(url: str) -> None:
    db = Database(url)
    try:
        await ensure_reference_data(db)
    finally:
        await db.dispose()


def _pg_exec(url: str, *statements: str) -> None:
    async def run() -> None:
        u = make_url(url)
        conn = await asyncpg.connect(
            host=u.host,
            port=u.port or 5432,
            user=u.username,
            password=u.password,
            database="postgres",
        )
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


TABLES = [t.name for t in reversed(registry.metadata.sorted_tables)]


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> str:
    if PG_URL:
        _pg_truncate(database_template)
        asyncio.run(_reference(database_template))
        return database_template
    path = tmp_path / "yingji.db"
    shutil.copyfile(database_template, path)
    return f"sqlite+aiosqlite:///{path}"


def _pg_truncate(url: str) -> None:
    sync_url = make_url(url)

    async def run() -> None:
        conn = await asyncpg.connect(
            host=sync_url.host,
            port=sync_url.port or 5432,
            user=sync_url.username,
            password=sync_url.password,
            database=sync_url.database,
        )
        try:
            # the audit table refuses DELETE but not TRUNCATE, which is what a test reset needs
            await conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    manual = ManualClock()
    previous = clock_module.set_clock(manual)
    yield manual
    clock_module.set_clock(previous)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        secret_key="t" * 40,
        log_json=False,
        timer_poll_seconds=0.05,
        audit_anchor_file=tmp_path / "audit-anchors.jsonl",
        file_store=tmp_path / "files",
    )


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The ``yingji`` command run in this process (Typer's ``CliRunner``) reads this test's
    settings: its database, and the secret and anchor file its audit rows are signed with."""
    monkeypatch.setenv("YINGJI_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("YINGJI_ENV", "test")
    monkeypatch.setenv("YINGJI_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("YINGJI_AUDIT_ANCHOR_FILE", str(settings.audit_anchor_path))
    get_settings.cache_clear()
    previous = audit.configuration()
    yield
    audit.configure(previous)
    get_settings.cache_clear()


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    previous = audit.configure(audit.config_from(settings))  # audit rows signed as the app signs
    yield database
    audit.configure(previous)
    await database.dispose()


@pytest.fixture
async def app(settings: Settings, clock: ManualClock) -> AsyncIterator[Any]:
    application = create_app(settings, run_worker=False, clock_override=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def served_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a ``yingji`` child process (``serve``, ``db upgrade``) in a test:
    this one's, with the database, a non-test environment and plain warning logs. The audit
    head goes to a file of its own (a PostgreSQL test database is reused by later tests, whose
    chains the shared default file would contradict); pass ``YINGJI_AUDIT_ANCHOR_FILE`` to
    share one between the processes of a test."""
    anchors = Path(tempfile.mkdtemp(prefix="yingji-test-anchor-")) / "audit-anchors.jsonl"
    return {
        **os.environ,
        "YINGJI_DATABASE_URL": database_url,
        "YINGJI_ENV": "local",
        "YINGJI_LOG_JSON": "false",
        "YINGJI_LOG_LEVEL": "WARNING",
        "YINGJI_AUDIT_ANCHOR_FILE": str(anchors),
        **settings,
    }


YINGJI = str(Path(sys.executable).with_name("yingji"))


@contextlib.contextmanager
def served_demo(folder: Path, **settings: str) -> Iterator[str]:
    """``yingji db upgrade``, ``yingji seed demo`` and ``yingji serve`` on an SQLite database in
    ``folder`` (with ``settings`` as environment variables), ready; yields its base URL."""
    env = served_env(f"sqlite+aiosqlite:///{folder}/yingji.db", **settings)
    for args in (("db", "upgrade"), ("seed", "demo")):
        subprocess.run([YINGJI, *args], env=env, check=True, capture_output=True, timeout=180)
    port = free_port()
    with (folder / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [YINGJI, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("yingji serve did not become ready: " + (folder / "serve.log").read_text())
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
async def live_server(settings: Settings, clock: ManualClock) -> AsyncIterator[str]:
    """A real uvicorn server on a free port, in this event loop (for /ws)."""
    application = create_app(settings, run_worker=True, clock_override=clock)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            application,
            host="127.0.0.1",
            port=port,
            log_config=None,
            ws="websockets-sansio",
            lifespan="on",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    await task


def unique(prefix: str = "x") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"
