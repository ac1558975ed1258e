"""Benchmark of the timer worker (时限): how late do deadlines fire, and how many per second?

``python -m bench.timers [--count 100000] [--spread 60] [--backend sqlite|postgres|both]
[--workers 1,2] [--quick]``

For each backend and worker count, ``count`` timers of kind ``bench.fire`` are written in advance
(bulk insert), due evenly over ``spread`` seconds starting ~3 s after the workers start. Each
worker is its own OS process with its own :class:`TimerWorker`; the handler inserts a row into
the bench-only table ``bench_fire`` in the handler's transaction, the same one that marks the
timer fired, so ``bench_fire`` holds exactly the committed firings. Then a backlog of
``count // 5`` timers, all due at once, measures capacity (timers/s while draining a backlog).

The baseline runs in the same run on the same database and table: a bare loop (no Yingji worker)
that every 5 s (the default poll interval of common PostgreSQL job queues) selects due pending
rows, marks them fired and inserts their ``bench_fire`` rows, 1,000 rows per transaction.

Business time equals wall time here (clock rate 1), so lateness = ``fired_at - due_at``.
The figures go to stdout as a table and to ``var/bench/timers.json``.
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
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bench.common import ROOT, fresh_postgres, fresh_sqlite, percentile, write_report
from yingji.core import clock, migrate
from yingji.core.db import Database
from yingji.core.timers import (
    FIRED,
    OPEN_STATES,
    PENDING,
    Timer,
    TimerFiring,
    TimerHandler,
    TimerWorker,
)

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/yingji_bench"
KIND = "bench.fire"
SPREAD, DRAIN = "spread", "drain"  # timer.key: the evenly spread timers, the backlog
START_LEAD_SECONDS = 3.0  # first timer due this long after the workers start
BASELINE_POLL_SECONDS = 5.0
BASELINE_CHUNK = 1000
INSERT_CHUNK = 5000
INSERT_RATE_GUESS = 15_000.0  # rows/s, to place the first due time after the bulk insert
OVERTIME_SECONDS = 60.0  # a run must finish within spread + this
GOALS = {"p99_ms": 250.0, "max_ms": 2000.0, "per_second": 2000.0}

bench_metadata = MetaData()
bench_fire = Table(  # bench-only; not part of the application's migrations
    "bench_fire",
    bench_metadata,
    Column("timer_id", BigInteger, nullable=False),
    Column("fired_at", Float, nullable=False),  # epoch seconds (business = wall here)
    Column("worker", String(100), nullable=False),
)
CREATE_BENCH_FIRE = (
    "CREATE TABLE IF NOT EXISTS bench_fire (timer_id BIGINT NOT NULL, "
    "fired_at DOUBLE PRECISION NOT NULL, worker VARCHAR(100) NOT NULL)"
)


class BenchTimeout(Exception):
    """A run did not finish within spread + 60 s."""


# --- the worker processes ----------------------------------------------------------------------


def fire_recorder(worker: str) -> TimerHandler:
    """The ``bench.fire`` handler: record the firing in the handler's own transaction."""
    statement = insert(bench_fire)

    async def record(session: AsyncSession, firing: TimerFiring) -> None:
        await session.execute(
            statement,
            {"timer_id": firing.id, "fired_at": clock.now().timestamp(), "worker": worker},
        )

    return record


async def baseline_loop(db: Database, name: str, poll_seconds: float) -> None:
    """The baseline: every ``poll_seconds``, fire whatever is due, 1,000 rows per transaction.

    Deliberately the naive poller (``asyncio.sleep`` between polls) Yingji is compared with.
    """
    while True:
        claimed = BASELINE_CHUNK
        while claimed >= BASELINE_CHUNK:
            async with db.unit_of_work() as session:
                now = clock.now()
                due = (
                    select(Timer.id)
                    .where(Timer.state == PENDING, Timer.due_at <= now)
                    .order_by(Timer.due_at)
                    .limit(BASELINE_CHUNK)
                )
                if db.is_postgres:
                    due = due.with_for_update(skip_locked=True)
                ids = list((await session.scalars(due)).all())
                claimed = len(ids)
                if ids:
                    fired_at = clock.now()
                    await session.execute(
                        update(Timer)
                        .where(Timer.id.in_(ids))
                        .values(state=FIRED, fired_at=fired_at)
                    )
                    at = fired_at.timestamp()
                    await session.execute(
                        insert(bench_fire),
                        [
                            {"timer_id": timer_id, "fired_at": at, "worker": name}
                            for timer_id in ids
                        ],
                    )
        await asyncio.sleep(poll_seconds)


async def serve(role: str, url: str, name: str, baseline_poll: float) -> None:
    """A worker process: connect, say ``ready``, run on ``go``, stop on ``stop``, report."""
    db = Database(url)
    loop = asyncio.get_running_loop()

    async def command() -> str:
        line: str = await loop.run_in_executor(None, sys.stdin.readline)
        return line.strip()

    async with db.unit_of_work(readonly=True) as session:  # open a connection before the clock
        await session.execute(text("SELECT 1"))
    print("ready", flush=True)
    await command()
    fired = 0
    if role == "yingji":
        worker = TimerWorker(db, name=name, handler_map={KIND: fire_recorder(name)})
        worker.start()
        await command()
        await worker.stop()
        fired = worker.fired
    else:
        task = asyncio.create_task(baseline_loop(db, name, baseline_poll))
        await command()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await db.dispose()
    print(json.dumps({"worker": name, "fired": fired}), flush=True)


# --- the coordinator ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    count: int
    spread: float
    drain: int
    backends: tuple[str, ...]
    workers: tuple[int, ...]
    baseline: bool = True
    baseline_poll: float = BASELINE_POLL_SECONDS
    start_lead: float = START_LEAD_SECONDS
    pg_url: str = DEFAULT_PG_URL


class WorkerProcess:
    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc, self.name = proc, name

    @classmethod
    async def spawn(cls, role: str, url: str, name: str, plan: Plan) -> WorkerProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.timers",
            "--role",
            role,
            "--url",
            url,
            "--name",
            name,
            "--baseline-poll",
            str(plan.baseline_poll),
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(proc, name)

    async def expect(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"worker {self.name} exited (code {await self.proc.wait()})")
        return line.decode().strip()

    def send(self, word: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{word}\n".encode())

    async def finish(self) -> dict[str, Any]:
        self.send("stop")
        try:
            report: dict[str, Any] = json.loads(await self.expect(30))
            await asyncio.wait_for(self.proc.wait(), 10)
            return report
        except (TimeoutError, RuntimeError, ValueError):
            self.proc.kill()
            await self.proc.wait()
            return {"worker": self.name, "fired": None}


async def prepare_database(backend: str, plan: Plan) -> tuple[str, Path | None]:
    if backend == "postgres":
        url, scratch = await fresh_postgres(plan.pg_url), None
    else:
        url, scratch = fresh_sqlite("bench-timers")
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    try:
        async with db.unit_of_work() as session:
            await session.execute(text(CREATE_BENCH_FIRE))
    finally:
        await db.dispose()
    return url, scratch


async def reset_tables(db: Database) -> None:
    async with db.unit_of_work() as session:
        if db.is_postgres:
            await session.execute(text("TRUNCATE timer, bench_fire RESTART IDENTITY"))
        else:
            await session.execute(text("DELETE FROM timer"))
            await session.execute(text("DELETE FROM bench_fire"))


async def insert_timers(db: Database, *, phase: str, dues: Sequence[datetime]) -> None:
    created = clock.now()
    for start in range(0, len(dues), INSERT_CHUNK):
        rows = [
            {
                "kind": KIND,
                "subject": f"{phase}-{i}",
                "key": phase,
                "due_at": due,
                "payload": {},
                "state": PENDING,
                "attempts": 0,
                "created_at": created,
            }
            for i, due in enumerate(dues[start : start + INSERT_CHUNK], start)
        ]
        async with db.unit_of_work() as session:
            await session.execute(insert(Timer), rows)


async def analyze(db: Database) -> None:
    """Fresh planner statistics after a bulk load (what autovacuum would do shortly after)."""
    async with db.engine.connect() as conn:
        await conn.execute(text("ANALYZE timer" if db.is_postgres else "ANALYZE"))
        await conn.commit()


async def open_count(db: Database, phase: str) -> int:
    async with db.unit_of_work(readonly=True) as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Timer)
                .where(Timer.state.in_(OPEN_STATES), Timer.key == phase)
            )
            or 0
        )


async def wait_drained(db: Database, phase: str, deadline: float) -> None:
    while await open_count(db, phase) > 0:
        if time.monotonic() > deadline:
            raise BenchTimeout(phase)
        await asyncio.sleep(0.25)


async def run_one(url: str, backend: str, runner: str, workers: int, plan: Plan) -> dict[str, Any]:
    """One row of the table: ``workers`` processes of ``runner`` against a clean table."""
    db = Database(url)
    procs: list[WorkerProcess] = []
    timed_out: str | None = None
    try:
        await reset_tables(db)
        role = "yingji" if runner == "yingji" else "baseline"
        procs = [
            await WorkerProcess.spawn(role, url, f"{runner}-{i + 1}", plan) for i in range(workers)
        ]
        for proc in procs:
            if (word := await proc.expect(60)) != "ready":
                raise RuntimeError(f"worker {proc.name} said {word!r}")
        lead = plan.start_lead + plan.count / INSERT_RATE_GUESS
        first_due = clock.now() + timedelta(seconds=lead)
        step = plan.spread / plan.count
        await insert_timers(
            db,
            phase=SPREAD,
            dues=[first_due + timedelta(seconds=i * step) for i in range(plan.count)],
        )
        await analyze(db)
        go_in = clock.wall_seconds(first_due - clock.now()) - plan.start_lead
        if go_in > 0:
            await asyncio.sleep(go_in)
        started = clock.now()
        for proc in procs:
            proc.send("go")
        deadline = (
            time.monotonic()
            + clock.wall_seconds(first_due - started)
            + plan.spread
            + OVERTIME_SECONDS
        )
        try:
            await wait_drained(db, SPREAD, deadline)
            drain_at = clock.now()
            await insert_timers(db, phase=DRAIN, dues=[drain_at] * plan.drain)
            await wait_drained(db, DRAIN, deadline)
        except BenchTimeout as exc:
            timed_out = str(exc)
            print(
                f"!! {backend}/{runner}/{workers}: not done within spread + "
                f"{OVERTIME_SECONDS:.0f} s ({exc} phase); stopped, counting what fired",
                file=sys.stderr,
            )
        reports = [await proc.finish() for proc in procs]
        procs = []
        figures = await measure(db)
    finally:
        for proc in procs:
            if proc.proc.returncode is None:
                proc.proc.kill()
                await proc.proc.wait()
        await db.dispose()
    return {
        "backend": backend,
        "runner": runner,
        "workers": workers,
        "start_lead_s": round(clock.wall_seconds(first_due - started), 3),
        "timed_out": timed_out,
        "worker_reports": reports,
        **figures,
    }


async def measure(db: Database) -> dict[str, Any]:
    async with db.unit_of_work(readonly=True) as session:
        scheduled = dict(
            (await session.execute(select(Timer.key, func.count()).group_by(Timer.key))).all()
        )
        rows = (
            await session.execute(
                select(
                    bench_fire.c.timer_id,
                    bench_fire.c.fired_at,
                    bench_fire.c.worker,
                    Timer.due_at,
                    Timer.key,
                ).join(Timer, Timer.id == bench_fire.c.timer_id)
            )
        ).all()
        states = dict(
            (await session.execute(select(Timer.state, func.count()).group_by(Timer.state))).all()
        )
    result: dict[str, Any] = {"timer_states": states}
    for phase in (SPREAD, DRAIN):
        mine = [(tid, at, worker, due) for tid, at, worker, due, key in rows if key == phase]
        result[phase] = phase_figures(mine, int(scheduled.get(phase, 0)))
    return result


def phase_figures(rows: list[tuple[int, float, str, datetime]], scheduled: int) -> dict[str, Any]:
    first: dict[int, tuple[float, float]] = {}
    for timer_id, fired_at, _worker, due in rows:
        if timer_id not in first or fired_at < first[timer_id][0]:
            first[timer_id] = (fired_at, due.timestamp())
    lateness = sorted((at - due) * 1000.0 for at, due in first.values())
    fired_times = sorted(at for at, _due in first.values())
    figures: dict[str, Any] = {
        "scheduled": scheduled,
        "fired": len(first),
        "missed": scheduled - len(first),
        "duplicated": len(rows) - len(first),
        "by_worker": dict(Counter(worker for _t, _a, worker, _d in rows)),
        "lateness_ms": {
            name: _round(percentile(lateness, q))
            for name, q in (("min", 0.0), ("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
        },
        "per_second": None,
        "peak_per_second": None,
    }
    if fired_times:
        first_due = min(due for _at, due in first.values())
        # while due: from the first due time to the last firing (≈ the offered rate if on time)
        span = max(fired_times[-1] - first_due, 1e-3)
        if len(fired_times) > 1 and fired_times[-1] > fired_times[0]:
            # a backlog is all due at once: its rate is from the first firing to the last
            figures["drain_per_second"] = round(
                (len(fired_times) - 1) / (fired_times[-1] - fired_times[0]), 1
            )
        figures["per_second"] = round(len(fired_times) / span, 1)
        per_second = Counter(int(at) for at in fired_times)
        figures["peak_per_second"] = max(per_second.values())
    return figures


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def run_plan(plan: Plan) -> dict[str, Any]:
    """Run every row of the plan; returns the report (also written to ``var/bench/timers.json``)."""
    results: list[dict[str, Any]] = []
    for backend in plan.backends:
        url, scratch = await prepare_database(backend, plan)
        try:
            runs = [("yingji", n) for n in plan.workers]
            if plan.baseline:
                runs.append(("baseline", 1))
            for runner, workers in runs:
                row = await run_one(url, backend, runner, workers, plan)
                results.append(row)
                print(format_row(row), flush=True)
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
    report = {
        "benchmark": "timers",
        "generated_at": clock.now().isoformat(),
        "config": {
            "count": plan.count,
            "spread_s": plan.spread,
            "drain": plan.drain,
            "baseline_poll_s": plan.baseline_poll,
            "start_lead_s": plan.start_lead,
            "backends": list(plan.backends),
            "workers": list(plan.workers),
            "cpus": os.cpu_count(),
        },
        "results": results,
        "ratios": ratios(results),
        "goals": goals(results),
    }
    report["path"] = str(write_report("timers", report))
    return report


# --- printing ----------------------------------------------------------------------------------

HEADER = (
    f"{'backend':<9} {'runner':<9} {'wkrs':>4} {'count':>7} {'fired/s':>8} {'peak/s':>7} "
    f"{'drain/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'missed':>7} {'dup':>5}"
)


def _fmt(value: float | None, width: int, digits: int = 0) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width},.{digits}f}"


def format_row(row: dict[str, Any]) -> str:
    spread, drain = row[SPREAD], row[DRAIN]
    late = spread["lateness_ms"]
    line = (
        f"{row['backend']:<9} {row['runner']:<9} {row['workers']:>4} "
        f"{spread['scheduled']:>7,} {_fmt(spread['per_second'], 8)} "
        f"{_fmt(spread['peak_per_second'], 7)} {_fmt(drain.get('drain_per_second'), 8)} "
        f"{_fmt(late['p50'], 8, 1)} {_fmt(late['p99'], 8, 1)} {_fmt(late['max'], 8, 1)} "
        f"{spread['missed'] + drain['missed']:>7} "
        f"{spread['duplicated'] + drain['duplicated']:>5}"
    )
    return line + ("  TIMED OUT" if row["timed_out"] else "")


def ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for base in (r for r in results if r["runner"] == "baseline"):
        for row in (
            r for r in results if r["runner"] == "yingji" and r["backend"] == base["backend"]
        ):
            b, y = base[SPREAD]["lateness_ms"], row[SPREAD]["lateness_ms"]
            out.append(
                {
                    "backend": row["backend"],
                    "workers": row["workers"],
                    "p50_baseline_over_yingji": _ratio(b["p50"], y["p50"]),
                    "p99_baseline_over_yingji": _ratio(b["p99"], y["p99"]),
                    "max_baseline_over_yingji": _ratio(b["max"], y["max"]),
                }
            )
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else round(a / b, 1)


def goals(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's goals, judged on PostgreSQL with two workers (if that row ran)."""
    row = next(
        (
            r
            for r in results
            if r["backend"] == "postgres" and r["runner"] == "yingji" and r["workers"] == 2
        ),
        None,
    )
    if row is None:
        return {"judged": False}
    spread, drain = row[SPREAD], row[DRAIN]
    late = spread["lateness_ms"]
    capacity = drain.get("drain_per_second")
    checks = {
        "p99_lateness_le_250ms": late["p99"] is not None and late["p99"] <= GOALS["p99_ms"],
        "max_lateness_le_2s": late["max"] is not None and late["max"] <= GOALS["max_ms"],
        "capacity_ge_2000_per_s": capacity is not None and capacity >= GOALS["per_second"],
        "zero_missed": spread["missed"] + drain["missed"] == 0,
        "zero_duplicated": spread["duplicated"] + drain["duplicated"] == 0,
    }
    return {"judged": True, "met": all(checks.values()), **checks}


def print_report(report: dict[str, Any]) -> None:
    print()
    print(HEADER)
    for row in report["results"]:
        print(format_row(row))
    cfg = report["config"]
    print(
        f"\nfired/s = distinct fired / (last firing - first due) over the {cfg['count']:,} "
        f"timers spread over {cfg['spread_s']:g} s (offered rate "
        f"{cfg['count'] / cfg['spread_s']:,.0f}/s);\npeak/s = most firings in one wall second; "
        f"drain/s = rate draining a backlog of {cfg['drain']:,} timers all due at once;\n"
        f"lateness = fired_at - due_at of the spread timers; baseline = bare loop polling every "
        f"{cfg['baseline_poll_s']:g} s."
    )
    for r in report["ratios"]:
        print(
            f"ratio baseline/yingji on {r['backend']} with {r['workers']} worker(s): "
            f"p50 {r['p50_baseline_over_yingji']}x, p99 {r['p99_baseline_over_yingji']}x, "
            f"max {r['max_baseline_over_yingji']}x"
        )
    g = report["goals"]
    if g.get("judged"):
        marks = ", ".join(
            f"{k} {'ok' if v else 'NOT MET'}" for k, v in g.items() if k not in ("judged", "met")
        )
        print(f"goals (postgres, 2 workers): {'MET' if g['met'] else 'NOT MET'} — {marks}")
    print(f"figures written to {report['path']}")


# --- command line ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.timers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--count", type=int, default=None, help="timers to spread (100000)")
    parser.add_argument("--spread", type=float, default=None, help="seconds they are due over (60)")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument("--quick", action="store_true", help="2,000 timers over 5 s (smoke run)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline loop")
    parser.add_argument(
        "--role",
        choices=("coordinator", "yingji", "baseline"),
        default="coordinator",
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--name", default="w", help=argparse.SUPPRESS)
    parser.add_argument(
        "--baseline-poll",
        type=float,
        default=BASELINE_POLL_SECONDS,
        help="baseline poll interval in seconds (5)",
    )
    return parser.parse_args(argv)


def plan_from(args: argparse.Namespace) -> Plan:
    count = args.count if args.count is not None else (2_000 if args.quick else 100_000)
    spread = args.spread if args.spread is not None else (5.0 if args.quick else 60.0)
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    workers = tuple(int(n) for n in args.workers.split(",") if n.strip())
    return Plan(
        count=count,
        spread=spread,
        drain=max(count // 5, 1),
        backends=backends,
        workers=workers,
        baseline=not args.no_baseline,
        baseline_poll=args.baseline_poll,
        pg_url=os.environ.get("YINGJI_BENCH_DATABASE_URL", DEFAULT_PG_URL),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.role != "coordinator":
        asyncio.run(serve(args.role, args.url, args.name, args.baseline_poll))
        return 0
    plan = plan_from(args)
    print(HEADER, flush=True)
    report = asyncio.run(run_plan(plan))
    print_report(report)
    timed_out = any(r["timed_out"] for r in report["results"])
    if timed_out:
        print(
            f"ABORTED: at least one run did not finish within spread + {OVERTIME_SECONDS:.0f} s",
            file=sys.stderr,
        )
    return 1 if timed_out else 0


if __name__ == "__main__":
    sys.exit(main())
