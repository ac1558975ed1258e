"""Crash test of intake (统一接警): SIGKILL the server mid-load; nothing may be lost or doubled.

``python -m bench.crash [--backend sqlite|postgres] [--reports 3000] [--concurrency 32]``

The demo county is seeded (``yingji db upgrade`` + ``yingji seed demo``) and ``yingji serve``
started. ``concurrency`` clients post ``reports`` reports (each with its own ``external_id``,
varied Chinese texts at varied points, some near-duplicates). Once a third of them have had a 2xx
answer, the server is killed with SIGKILL, then started again on the same database
(``yingji serve``). The clients retry every report that did not get a 2xx — the same channel and
``external_id``, as real source systems do — until every report has one.

Then the database is read directly (not through the API) and checked:

* every report that got a 2xx is in ``report``, with the ``report_id`` it was answered with;
* no (channel, external_id) appears twice;
* every report has its incident (``incident_id`` set, the ``incident`` row exists);
* the audit log holds exactly one ``intake.report_received`` row per report;
* ``yingji audit verify`` passes (the hash chain is intact).

Prints the counts (sent, 2xx before the kill, failed at the kill, retried, final rows,
duplicates, missing) and exits 1 if anything is missing, duplicated or inconsistent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import (
    ServerProcess,
    copy_sqlite,
    demo_sqlite_template,
    drop_postgres,
    fetch_token,
    free_port,
    fresh_postgres,
    fresh_sqlite,
    prepare_demo_database,
    run_command,
    write_report,
    yingji_command,
    yingji_env,
)
from bench.intake import USERNAME, Connection, HttpError, report_stream
from yingji.core import clock

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/yingji_bench_crash"
REQUEST_TIMEOUT = 30.0
RETRY_PAUSE = 0.2  # seconds a client waits after a failure before sending again
RUN_BOUND = 600.0  # the whole load phase (first sends, kill, restart, retries) ends by then


@dataclass(frozen=True)
class CrashPlan:
    backend: str = "sqlite"
    reports: int = 3000
    concurrency: int = 32
    kill_after: float = 1 / 3  # share of the reports answered 2xx before the kill
    restart_pause: float = 0.5  # seconds between the kill and the new server
    pg_url: str = DEFAULT_PG_URL
    seed: int = 11


@dataclass
class Outcome:
    """What the clients saw, report by report."""

    answered: dict[str, str] = field(default_factory=dict)  # external_id -> report_id (2xx)
    final_status: dict[str, int] = field(default_factory=dict)  # external_id -> 200/201
    attempts: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # kind of failure -> count
    failed_ids: set[str] = field(default_factory=set)  # reports with at least one failure
    before_kill: int = 0
    killed_at: float | None = None
    restarted_at: float | None = None


class Load:
    """The clients: each takes the next report, posts it, and retries it until it gets a 2xx."""

    def __init__(self, plan: CrashPlan, port: int, token: str) -> None:
        self.plan, self.port, self.token = plan, port, token
        self.bodies = [
            (f"crash-{i:06d}", body)
            for i, body in enumerate(report_stream(plan.seed, plan.reports))
        ]
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        for item in self.bodies:
            self.queue.put_nowait(item)
        self.outcome = Outcome()
        self.kill_now = asyncio.Event()
        self.killed = False

    async def client(self) -> None:
        conn = Connection(self.port, self.token)
        try:
            while not self.queue.empty():
                external_id, body = self.queue.get_nowait()
                await self.deliver(conn, external_id, body)
        finally:
            conn.close()

    async def deliver(self, conn: Connection, external_id: str, body: dict[str, Any]) -> None:
        payload = json.dumps({**body, "external_id": external_id}, ensure_ascii=False).encode()
        out = self.outcome
        while True:
            out.attempts[external_id] += 1
            try:
                status, answer = await asyncio.wait_for(conn.post(payload), REQUEST_TIMEOUT)
            except (HttpError, TimeoutError) as exc:
                conn.close()
                self.fail(external_id, type(exc).__name__)
                await asyncio.sleep(RETRY_PAUSE)
                continue
            if 200 <= status < 300:
                out.answered[external_id] = json.loads(answer)["report_id"]
                out.final_status[external_id] = status
                if not self.killed:
                    out.before_kill += 1
                    if out.before_kill >= self.plan.reports * self.plan.kill_after:
                        self.kill_now.set()
                return
            self.fail(external_id, f"http {status}")
            await asyncio.sleep(RETRY_PAUSE)

    def fail(self, external_id: str, kind: str) -> None:
        self.outcome.failures[kind] += 1
        self.outcome.failed_ids.add(external_id)


class Servers:
    """The server of the run: the first one, then the one started after the kill."""

    def __init__(self, command: list[str], env: dict[str, str], port: int, log: Path) -> None:
        self.command, self.env, self.port, self.log = command, env, port, log
        self.current: ServerProcess | None = None

    async def start(self) -> None:
        self.current = await ServerProcess.start(self.command, self.env, self.port, self.log)

    async def crash_and_restart(self, load: Load) -> None:
        """SIGKILL the server once the share of 2xx answers is reached; start it again."""
        await load.kill_now.wait()
        assert self.current is not None
        load.killed = True
        await self.current.kill()
        load.outcome.killed_at = time.monotonic()
        await asyncio.sleep(load.plan.restart_pause)
        await self.start()
        load.outcome.restarted_at = time.monotonic()

    async def stop(self) -> None:
        if self.current is not None:
            await self.current.stop()


CHECKS = {
    "rows": "SELECT count(*) FROM report WHERE external_id LIKE 'crash-%'",
    "distinct_keys": "SELECT count(*) FROM (SELECT DISTINCT channel, external_id FROM report "
    "WHERE external_id LIKE 'crash-%') AS k",
    "without_incident": "SELECT count(*) FROM report r LEFT JOIN incident i "
    "ON i.id = r.incident_id WHERE r.external_id LIKE 'crash-%' AND i.id IS NULL",
    "audit_received": "SELECT count(*) FROM audit_log WHERE action = 'intake.report_received'",
    "audit_distinct_reports": "SELECT count(DISTINCT subject_id) FROM audit_log "
    "WHERE action = 'intake.report_received'",
    "incidents": "SELECT count(*) FROM incident",
}


async def read_database(url: str) -> tuple[dict[str, int], dict[str, str]]:
    """The check counts and every stored report's id by external_id (straight from the tables)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            counts = {
                name: int((await conn.execute(text(sql))).scalar_one())
                for name, sql in CHECKS.items()
            }
            rows = (
                await conn.execute(
                    text("SELECT external_id, id FROM report WHERE external_id LIKE 'crash-%'")
                )
            ).all()
    finally:
        await engine.dispose()
    return counts, {str(ext): _uuid_text(rid) for ext, rid in rows}


def _uuid_text(value: object) -> str:
    """A report id as the API writes it (SQLite stores a UUID as 32 hex digits)."""
    raw = str(value).replace("-", "")
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def verdict(load: Load, counts: dict[str, int], stored: dict[str, str]) -> dict[str, Any]:
    out = load.outcome
    sent = len(load.bodies)
    missing = sorted(ext for ext in out.answered if ext not in stored)
    mismatched = sorted(
        ext for ext, rid in out.answered.items() if ext in stored and stored[ext] != rid
    )
    unanswered = sent - len(out.answered)
    figures = {
        "sent": sent,
        "ok_before_kill": out.before_kill,
        "failed_at_kill": len(out.failed_ids),
        "retried": sum(n - 1 for n in out.attempts.values()),
        "failures": dict(out.failures),
        "answered_201": sum(1 for s in out.final_status.values() if s == 201),
        "answered_200": sum(1 for s in out.final_status.values() if s == 200),
        "unanswered": unanswered,
        "final_rows": counts["rows"],
        "duplicates": counts["rows"] - counts["distinct_keys"],
        "missing": len(missing),
        "missing_ids": missing[:20],
        "id_mismatch": len(mismatched),
        "without_incident": counts["without_incident"],
        "audit_report_received": counts["audit_received"],
        "audit_distinct_reports": counts["audit_distinct_reports"],
        "incidents": counts["incidents"],
        "downtime_s": (
            round(out.restarted_at - out.killed_at, 2)
            if out.killed_at is not None and out.restarted_at is not None
            else None
        ),
    }
    figures["unexpected_rows"] = counts["rows"] - (sent - len(missing))
    return figures


def passed(figures: dict[str, Any], audit_ok: bool) -> bool:
    sent = figures["sent"]
    return (
        audit_ok
        and figures["unanswered"] == 0
        and figures["missing"] == 0
        and figures["duplicates"] == 0
        and figures["id_mismatch"] == 0
        and figures["without_incident"] == 0
        and figures["final_rows"] == sent
        and figures["audit_report_received"] == sent
        and figures["audit_distinct_reports"] == sent
    )


async def prepare(plan: CrashPlan) -> tuple[str, Path]:
    if plan.backend == "postgres":
        url = await fresh_postgres(plan.pg_url)
        scratch = fresh_sqlite("bench-crash")[1]
        await prepare_demo_database(url)
    else:
        scratch = fresh_sqlite("bench-crash")[1]
        url = copy_sqlite(await demo_sqlite_template(), scratch, "crash.db")
    return url, scratch


async def run_load(plan: CrashPlan, url: str, scratch: Path) -> Load:
    """Post every report, kill and restart the server on the way, retry until all are 2xx."""
    port = free_port()
    servers = Servers(
        yingji_command("serve", "--port", str(port)), yingji_env(url), port, scratch / "serve.log"
    )
    await servers.start()
    crasher: asyncio.Task[None] | None = None
    try:
        load = Load(plan, port, await fetch_token(port, USERNAME))
        crasher = asyncio.create_task(servers.crash_and_restart(load))
        async with asyncio.timeout(RUN_BOUND):
            await asyncio.gather(*(load.client() for _ in range(plan.concurrency)))
    finally:
        if crasher is not None:
            if not crasher.done():  # all answered before the share was reached, or timed out
                crasher.cancel()
            await asyncio.gather(crasher, return_exceptions=True)
        await servers.stop()
    return load


async def run_crash(plan: CrashPlan) -> dict[str, Any]:
    """The whole crash test; returns the figures (also written to ``var/bench/crash.json``)."""
    url, scratch = await prepare(plan)
    try:
        started = time.monotonic()
        load = await run_load(plan, url, scratch)
        elapsed = time.monotonic() - started
        counts, stored = await read_database(url)
        code, audit_out = await run_command(yingji_command("audit", "verify"), yingji_env(url))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if plan.backend == "postgres":
            await drop_postgres(url)
    figures = verdict(load, counts, stored)
    figures.update(
        backend=plan.backend,
        concurrency=plan.concurrency,
        seconds=round(elapsed, 1),
        audit_verify_exit=code,
        audit_verify=audit_out.strip().splitlines()[-1] if audit_out.strip() else "",
    )
    figures["passed"] = passed(figures, code == 0)
    report = {
        "benchmark": "crash",
        "generated_at": clock.now().isoformat(),
        "config": {
            "backend": plan.backend,
            "reports": plan.reports,
            "concurrency": plan.concurrency,
            "kill_after": plan.kill_after,
            "cpus": os.cpu_count(),
        },
        "figures": figures,
    }
    figures["path"] = str(write_report(f"crash-{plan.backend}", report))
    return figures


LABELS = (
    ("sent", "reports sent (distinct external_id)"),
    ("ok_before_kill", "2xx before the kill"),
    ("failed_at_kill", "reports that failed at least once (kill + downtime)"),
    ("retried", "retries sent (same channel + external_id)"),
    ("answered_200", "  of the final answers: 200 (already stored)"),
    ("answered_201", "  of the final answers: 201 (created)"),
    ("unanswered", "reports never answered 2xx"),
    ("final_rows", "final rows in report"),
    ("duplicates", "duplicates (channel, external_id)"),
    ("missing", "missing (2xx but not in report)"),
    ("id_mismatch", "stored id differs from the answered report_id"),
    ("without_incident", "reports without their incident"),
    ("audit_report_received", "audit rows intake.report_received"),
    ("incidents", "incidents"),
    ("downtime_s", "seconds from SIGKILL to answering again"),
    ("seconds", "seconds for the whole load"),
)


def print_figures(figures: dict[str, Any]) -> None:
    print(
        f"\n== crash test on {figures['backend']}: SIGKILL after 1/3, restart, retry "
        f"({figures['concurrency']} clients) =="
    )
    for key, label in LABELS:
        print(f"{label:<55} {figures[key]}")
    print(f"{'failures seen by the clients':<55} {figures['failures']}")
    verify = f"exit {figures['audit_verify_exit']}: {figures['audit_verify']}"
    print(f"{'yingji audit verify':<55} {verify}")
    print(f"{'RESULT':<55} {'PASS' if figures['passed'] else 'FAIL'}")
    print(f"figures written to {figures['path']}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.crash",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--reports", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = CrashPlan(
        backend=args.backend,
        reports=args.reports,
        concurrency=args.concurrency,
        pg_url=os.environ.get("YINGJI_BENCH_DATABASE_URL", DEFAULT_PG_URL),
    )
    figures = asyncio.run(run_crash(plan))
    print_figures(figures)
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
