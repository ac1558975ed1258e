"""Small helpers shared by the benchmarks: scratch databases, percentiles, the JSON report."""

from __future__ import annotations

import asyncio
import atexit
import json
import math
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from yingji.app import ensure_reference_data
from yingji.core import audit, migrate
from yingji.core.db import Database
from yingji.org import seed
from yingji.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
REPORT_DIR = ROOT / "var" / "bench"


async def fresh_postgres(url: str) -> str:
    """Drop and create the database named in ``url`` (via the ``postgres`` database)."""
    u = make_url(url)
    name = u.database
    if not name or name == "postgres":
        raise ValueError(f"refusing to recreate database {name!r}; name a scratch database")
    conn = await asyncpg.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 5432,
        user=u.username,
        password=u.password,
        database="postgres",
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return u.render_as_string(hide_password=False)


async def drop_postgres(url: str) -> None:
    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 5432,
        user=u.username,
        password=u.password,
        database="postgres",
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
    finally:
        await conn.close()


def fresh_sqlite(prefix: str) -> tuple[str, Path]:
    """A SQLite URL in a new temporary directory (returned so the caller can remove it)."""
    directory = Path(tempfile.mkdtemp(prefix=f"yingji-{prefix}-"))
    return f"sqlite+aiosqlite:///{directory / 'bench.db'}", directory


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The ``q`` (0..1) nearest-rank percentile of an already sorted sequence; None when empty."""
    if not ordered:
        return None
    rank = max(math.ceil(q * len(ordered)), 1)
    return ordered[min(rank, len(ordered)) - 1]


def write_report(name: str, data: dict[str, Any]) -> Path:
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    path = REPORT_DIR / f"{name}.json"
    path.write_text(
        json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
    return path


# --- running Yingji (and other servers) as separate processes ------------------------------------

DEMO_PASSWORD = "yingji-demo-2026"  # noqa: S105 - every account of `yingji seed demo`


_ANCHORS: dict[str, str] = {}


def anchor_file(url: str) -> str:
    """Where the processes of this run on ``url`` publish the audit head: one file per database
    per run (a bench recreates its database, so a head published by an earlier run would make
    ``yingji audit verify`` report a deleted tail)."""
    if url not in _ANCHORS:
        folder = Path(tempfile.mkdtemp(prefix="yingji-bench-anchor-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _ANCHORS[url] = str(folder / "audit-anchors.jsonl")
    return _ANCHORS[url]


def yingji_env(url: str, **extra: str) -> dict[str, str]:
    """The environment of a benchmarked ``yingji`` process on the database ``url``."""
    env = dict(os.environ)
    env.update(
        YINGJI_DATABASE_URL=url,
        YINGJI_ENV="local",
        YINGJI_LOG_LEVEL="WARNING",
        YINGJI_AUDIT_ANCHOR_FILE=anchor_file(url),
        **extra,
    )
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def yingji_command(*args: str) -> list[str]:
    """``yingji ARGS``: the console script beside the running interpreter (the project's venv)."""
    script = Path(sys.executable).with_name("yingji")
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "yingji", *args]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def run_command(
    command: Sequence[str], env: dict[str, str], timeout: float = 120.0
) -> tuple[int, str]:
    """Run ``command`` to its end (bounded by ``timeout``); its exit code and combined output."""
    proc = await asyncio.create_subprocess_exec(
        *command,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -9, f"{' '.join(command)}: timed out after {timeout:g} s"
    return int(proc.returncode or 0), out.decode(errors="replace")


async def prepare_demo_database(url: str) -> None:
    """``yingji db upgrade`` and the demo county of ``yingji seed demo``, on ``url``, in this
    process: the same functions the two commands call (``src/yingji/cli.py``), without paying
    for two interpreter start-ups and imports (~7 s). The command's extras — the demo's
    gazetteer places and routing rules — are left out: no benchmark reports from them.
    """
    Database(url)  # creates the SQLite folder, as the command does
    await asyncio.to_thread(migrate.upgrade, url, "head")
    db = Database(url)
    # sign the seed's audit rows with the key the benchmarked processes will verify them with
    # (this process may have been configured otherwise, e.g. by a test that ran before)
    as_served = Settings(env="local", database_url=url, audit_anchor_file=Path(anchor_file(url)))
    previous = audit.configure(audit.config_from(as_served))
    try:
        await ensure_reference_data(db)
        async with db.unit_of_work() as session:
            await seed.seed_demo(session=session)
    finally:
        audit.configure(previous)
        await db.dispose()


def copy_sqlite(source_url: str, directory: Path, name: str) -> str:
    """A copy of a closed SQLite database (with its WAL, if any) as ``directory/name``."""
    source = Path(make_url(source_url).database or "")
    target = directory / name
    for suffix in ("", "-wal", "-shm"):
        target_part = Path(f"{target}{suffix}")
        target_part.unlink(missing_ok=True)
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", target_part)
    return f"sqlite+aiosqlite:///{target}"


async def clone_postgres(template_url: str, name: str) -> str:
    """A new database ``name`` copied from ``template_url``'s (which nobody may be using)."""
    u = make_url(template_url)
    conn = await asyncpg.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 5432,
        user=u.username,
        password=u.password,
        database="postgres",
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{u.database}"')
    finally:
        await conn.close()
    return u.set(database=name).render_as_string(hide_password=False)


class ServerProcess:
    """A server started as its own OS process, answering HTTP on ``127.0.0.1:port``."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log

    @property
    def pid(self) -> int:
        return self.proc.pid

    @classmethod
    async def start(
        cls, command: Sequence[str], env: dict[str, str], port: int, log: Path, timeout: float = 60
    ) -> ServerProcess:
        """Start ``command`` and wait until ``GET /healthz`` (or any HTTP answer) comes back."""
        with log.open("ab") as sink:
            proc = await asyncio.create_subprocess_exec(
                *command, cwd=ROOT, env=env, stdout=sink, stderr=sink
            )
        server = cls(proc, port, log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                break
            if await http_answers(port):
                return server
            await asyncio.sleep(0.05)
        await server.stop()
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"{command[0]} … did not answer on port {port}:\n{tail}")

    async def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds."""
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), grace)
            except TimeoutError:
                await self.kill()
        await self.proc.wait()


async def http_answers(port: int, path: str = "/healthz") -> bool:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1.0)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        line = await asyncio.wait_for(reader.readline(), 5.0)
        return line.startswith(b"HTTP/1.1 ")
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


async def fetch_token(port: int, username: str, password: str = DEMO_PASSWORD) -> str:
    """A bearer token from ``POST /api/v1/auth/token``."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        answer = await client.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )
        answer.raise_for_status()
        token: str = answer.json()["access_token"]
        return token


# --- CPU time of processes (Linux /proc) ---------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by process ``pid``; None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def cpu_seconds_of_command(name: str) -> float:
    """CPU seconds used so far by every process named ``name`` (e.g. the PostgreSQL backends)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != name:
                continue
        except OSError:
            continue
        total += cpu_seconds(int(entry.name)) or 0.0
    return total


_demo_templates: dict[str, str] = {}


async def demo_sqlite_template() -> str:
    """A seeded demo county on SQLite, made once per process; copy it with :func:`copy_sqlite`.

    Benchmarks that each want a fresh seeded database (and the smoke tests that run several in
    one process) pay ``yingji db upgrade`` + ``yingji seed demo`` once.
    """
    if "sqlite" not in _demo_templates:
        url, directory = fresh_sqlite("bench-demo")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        await prepare_demo_database(url)
        _demo_templates["sqlite"] = url
    return _demo_templates["sqlite"]
