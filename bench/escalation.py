"""Benchmark of escalation (催办/督办): do stage deadlines escalate on time, once, across a crash?

``python -m bench.escalation [--backend sqlite|postgres|both] [--orders 10000] [--spread 600]
[--workers 2] [--quick]``

For each backend a seeded demo county gets ``orders`` open orders (one incident each, bulk
inserted, stage ``issued``) and four pending stage deadlines per order written as the dispatch
flows write them — kind ``dispatch.deadline``, subject the order id, key ``stage:step``, payload
``{stage, step, due_at}`` — for ``sign:remind``, ``sign:supervise_unit``,
``sign:supervise_center`` and ``arrive:supervise_unit``, due evenly over ``spread`` seconds
(each order's four 1/4 of the spread apart). Real ``yingji worker`` processes (relay + timers,
every handler registered) fire them, so each firing runs ``dispatch.jobs.stage_deadline`` →
``flows.escalate``: an ``order_escalation`` row, notifications, a timeline row, audit and an
outbox event. Halfway through the spread the first worker is killed with SIGKILL and started
again; the rows it had claimed are taken over once their lease (60 s) expires.

Lateness = escalation ``at`` − the timer's ``due_at`` (business time = wall time here);
missed = expected (order, stage, step) without an escalation row; duplicated = rows beyond the
first per (order, stage, kind, due).

The baseline runs in the same run on an identical copy of the database: a bare loop (no Yingji
worker) that every 5 s selects the due timers, marks them fired and inserts their escalation rows
directly, 1,000 per transaction. The figures go to stdout and to ``var/bench/escalation.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text, update

from bench.common import (
    ROOT,
    clone_postgres,
    copy_sqlite,
    drop_postgres,
    fresh_postgres,
    fresh_sqlite,
    percentile,
    prepare_demo_database,
    write_report,
    yingji_command,
    yingji_env,
)
from yingji.core import clock
from yingji.core.db import Database
from yingji.core.ids import new_id
from yingji.core.timers import FIRED, OPEN_STATES, PENDING, Timer
from yingji.dispatch.flows import DEADLINE_TIMER
from yingji.dispatch.models import Escalation, Order
from yingji.incidents.models import Incident
from yingji.org.models import Division, LinkageUnit

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/yingji_bench_escalation"
KEYS = (
    ("sign", "remind"),
    ("sign", "supervise_unit"),
    ("sign", "supervise_center"),
    ("arrive", "supervise_unit"),
)
START_LEAD_SECONDS = 3.0
INSERT_RATE_GUESS = 8_000.0  # timer rows/s, to place the first due time after the bulk insert
INSERT_CHUNK = 2_000
LEASE_SECONDS = 60.0  # `yingji worker` default (YINGJI_TIMER_LEASE_SECONDS)
OVERTIME_SECONDS = LEASE_SECONDS + 60.0
BASELINE_POLL_SECONDS = 5.0
BASELINE_CHUNK = 1000
GOALS = {"p99_ms": 250.0}


class BenchTimeout(Exception):
    """The timers were not all fired within spread + lease + 60 s."""


@dataclass(frozen=True)
class Plan:
    orders: int
    spread: float
    backends: tuple[str, ...]
    workers: int = 2
    kill: bool = True
    baseline: bool = True
    baseline_poll: float = BASELINE_POLL_SECONDS
    start_lead: float = START_LEAD_SECONDS
    pg_url: str = DEFAULT_PG_URL

    @property
    def timers(self) -> int:
        return self.orders * len(KEYS)


# --- the database ------------------------------------------------------------------------------


async def add_open_orders(db: Database, orders: int) -> None:
    """``orders`` incidents, each with one open order issued to a unit of the demo county."""
    now = clock.now()
    async with db.unit_of_work(readonly=True) as session:
        villages = (
            await session.execute(
                select(Division.adcode, Division.path, Division.centroid_lon, Division.centroid_lat)
                .where(Division.level == "village")
                .order_by(Division.adcode)
            )
        ).all()
        units = (await session.execute(select(LinkageUnit.id).order_by(LinkageUnit.code))).scalars()
        unit_ids = list(units.all())
    for start in range(0, orders, INSERT_CHUNK):
        incident_rows: list[dict[str, Any]] = []
        order_rows: list[dict[str, Any]] = []
        for i in range(start, min(start + INSERT_CHUNK, orders)):
            adcode, path, lon, lat = villages[i % len(villages)]
            incident_id = new_id()
            incident_rows.append(
                {
                    "id": incident_id,
                    "number": f"BENCH-{i:07d}",
                    "title": f"台风倒树阻断道路（压测 {i}）",
                    "category_code": "natural.typhoon",
                    "level": "IV",
                    "state": "responding",
                    "division_adcode": adcode,
                    "division_path": path,
                    "lon": lon,
                    "lat": lat,
                    "first_reported_at": now,
                    "last_reported_at": now,
                    "report_count": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            order_rows.append(
                {
                    "id": new_id(),
                    "incident_id": incident_id,
                    "division_path": path,
                    "unit_id": unit_ids[i % len(unit_ids)],
                    "responsible_unit_id": unit_ids[i % len(unit_ids)],
                    "role": "lead",
                    "stage": "issued",
                    "chosen_by": "bench",
                    "needs_presence": True,
                    "issued_at": now,
                    "sign_due_at": now + timedelta(hours=1),
                    "arrive_due_at": now + timedelta(hours=2),
                    "complete_due_at": now + timedelta(hours=24),
                    "feedback_count": 0,
                    "updated_at": now,
                }
            )
        async with db.unit_of_work() as session:
            await session.execute(insert(Incident), incident_rows)
            await session.execute(insert(Order), order_rows)


async def order_deadlines(db: Database) -> list[tuple[uuid.UUID, dict[str, str]]]:
    """Each order's id and the stage deadlines its timers' payloads carry."""
    async with db.unit_of_work(readonly=True) as session:
        rows = (
            await session.execute(
                select(Order.id, Order.sign_due_at, Order.arrive_due_at).order_by(Order.issued_at)
            )
        ).all()
    return [
        (
            order_id,
            {
                "sign": clock.as_utc(sign).isoformat(),
                "arrive": clock.as_utc(arrive or sign).isoformat(),
            },
        )
        for order_id, sign, arrive in rows
    ]


async def insert_timers(db: Database, first_due: datetime, spread: float) -> int:
    """The four deadlines of every order, due evenly over ``spread`` seconds from ``first_due``."""
    orders = await order_deadlines(db)
    count = len(orders) * len(KEYS)
    step = spread / count
    created = clock.now()
    rows: list[dict[str, Any]] = []
    for j in range(count):
        order_id, dues = orders[j % len(orders)]
        stage, kind = KEYS[j // len(orders)]
        rows.append(
            {
                "kind": DEADLINE_TIMER,
                "subject": str(order_id),
                "key": f"{stage}:{kind}",
                "due_at": first_due + timedelta(seconds=j * step),
                "payload": {"stage": stage, "step": kind, "due_at": dues[stage]},
                "state": PENDING,
                "attempts": 0,
                "created_at": created,
            }
        )
    for start in range(0, count, INSERT_CHUNK):
        async with db.unit_of_work() as session:
            await session.execute(insert(Timer), rows[start : start + INSERT_CHUNK])
    async with db.engine.connect() as conn:
        await conn.execute(text("ANALYZE timer" if db.is_postgres else "ANALYZE"))
        await conn.commit()
    return count


async def prepare_template(backend: str, plan: Plan) -> tuple[str, Path | None]:
    """A seeded demo county with the open orders; every run starts from a copy of it."""
    if backend == "postgres":
        url, scratch = await fresh_postgres(plan.pg_url), None
    else:
        url, scratch = fresh_sqlite("bench-escalation")
    await prepare_demo_database(url)
    db = Database(url)
    try:
        await add_open_orders(db, plan.orders)
    finally:
        await db.dispose()
    return url, scratch


async def copy_for_run(template: str, backend: str, scratch: Path | None, runner: str) -> str:
    if backend == "postgres":
        return await clone_postgres(template, f"yingji_bench_escalation_{runner}")
    assert scratch is not None
    return copy_sqlite(template, scratch, f"{runner}.db")


# --- the processes -----------------------------------------------------------------------------


class Process:
    """A `yingji worker` or a baseline loop, as its own OS process."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc, self.name = proc, name

    @classmethod
    async def start(cls, runner: str, url: str, name: str, plan: Plan) -> Process:
        if runner == "yingji":
            command = yingji_command("worker")
        else:
            command = [
                sys.executable,
                "-m",
                "bench.escalation",
                "--role",
                "baseline",
                "--url",
                url,
                "--baseline-poll",
                str(plan.baseline_poll),
            ]
        env = yingji_env(url, YINGJI_LOG_JSON="false")
        proc = await asyncio.create_subprocess_exec(
            *command,
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        process = cls(proc, name)
        await process.wait_ready(60)
        return process

    async def wait_ready(self, timeout: float) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
            if not line:
                raise RuntimeError(f"{self.name} exited (code {await self.proc.wait()})")
            word = line.decode(errors="replace")
            if "running" in word or word.strip() == "ready":
                asyncio.create_task(self._drain())
                return
        raise RuntimeError(f"{self.name} did not start within {timeout:g} s")

    async def _drain(self) -> None:
        assert self.proc.stdout is not None
        while await self.proc.stdout.readline():
            pass

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                await self.kill()


async def baseline_loop(db: Database, poll_seconds: float) -> None:
    """The baseline: every ``poll_seconds`` escalate what is due, 1,000 timers per transaction,
    writing only the escalation rows (no notifications, timeline, audit or events)."""
    while True:
        claimed = BASELINE_CHUNK
        while claimed >= BASELINE_CHUNK:
            async with db.unit_of_work() as session:
                due = (
                    select(Timer.id, Timer.subject, Timer.payload)
                    .where(
                        Timer.kind == DEADLINE_TIMER,  # not the reference data's own timers
                        Timer.state == PENDING,
                        Timer.due_at <= clock.now(),
                    )
                    .order_by(Timer.due_at)
                    .limit(BASELINE_CHUNK)
                )
                if db.is_postgres:
                    due = due.with_for_update(skip_locked=True)
                rows = (await session.execute(due)).all()
                claimed = len(rows)
                if rows:
                    now = clock.now()
                    await session.execute(
                        update(Timer)
                        .where(Timer.id.in_([r.id for r in rows]))
                        .values(state=FIRED, fired_at=now)
                    )
                    await session.execute(
                        insert(Escalation),
                        [
                            {
                                "order_id": uuid.UUID(r.subject),
                                "stage": r.payload["stage"],
                                "kind": r.payload["step"],
                                "at": now,
                                "due_at": datetime.fromisoformat(r.payload["due_at"]),
                                "notified": [],
                                "manual": False,
                            }
                            for r in rows
                        ],
                    )
        await asyncio.sleep(poll_seconds)


async def serve_baseline(url: str, poll_seconds: float) -> None:
    db = Database(url)
    async with db.unit_of_work(readonly=True) as session:
        await session.execute(text("SELECT 1"))
    print("ready", flush=True)
    try:
        await baseline_loop(db, poll_seconds)
    finally:
        await db.dispose()


# --- one run -----------------------------------------------------------------------------------


async def open_timers(db: Database) -> int:
    async with db.unit_of_work(readonly=True) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Timer)
            .where(Timer.kind == DEADLINE_TIMER, Timer.state.in_(OPEN_STATES))
        )
    return int(count or 0)


async def run_one(url: str, backend: str, runner: str, plan: Plan) -> dict[str, Any]:
    db = Database(url)
    processes: list[Process] = []
    kill: dict[str, Any] | None = None
    timed_out = False
    try:
        count = plan.workers if runner == "yingji" else 1
        processes = [
            await Process.start(runner, url, f"{runner}-{i + 1}", plan) for i in range(count)
        ]
        lead = plan.start_lead + plan.timers / INSERT_RATE_GUESS
        first_due = clock.now() + timedelta(seconds=lead)
        await insert_timers(db, first_due, plan.spread)
        inserted_with_s = (first_due - clock.now()).total_seconds()
        if runner == "yingji" and plan.kill:
            kill_at = first_due + timedelta(seconds=plan.spread / 2)
            await asyncio.sleep(max((kill_at - clock.now()).total_seconds(), 0.0))
            killed_at = clock.now()
            await processes[0].kill()
            processes[0] = await Process.start(runner, url, f"{runner}-1b", plan)
            kill = {
                "killed_at_s": round((killed_at - first_due).total_seconds(), 3),
                "restart_s": round((clock.now() - killed_at).total_seconds(), 3),
            }
        deadline = time.monotonic() + lead + plan.spread + OVERTIME_SECONDS
        while await open_timers(db) > 0:
            if time.monotonic() > deadline:
                timed_out = True
                print(f"!! {backend}/{runner}: timers still open; counting", file=sys.stderr)
                break
            await asyncio.sleep(0.5)
        for process in processes:
            await process.stop()
        processes = []
        figures = await measure(db)
    finally:
        for process in processes:
            await process.kill()
        await db.dispose()
    return {
        "backend": backend,
        "runner": runner,
        "workers": plan.workers if runner == "yingji" else 1,
        "first_due_after_insert_s": round(inserted_with_s, 3),
        "kill": kill,
        "timed_out": timed_out,
        **figures,
    }


async def measure(db: Database) -> dict[str, Any]:
    async with db.unit_of_work(readonly=True) as session:
        timers = (
            await session.execute(
                select(Timer.subject, Timer.key, Timer.due_at, Timer.state, Timer.attempts).where(
                    Timer.kind == DEADLINE_TIMER
                )
            )
        ).all()
        rows = (
            await session.execute(
                select(
                    Escalation.order_id,
                    Escalation.stage,
                    Escalation.kind,
                    Escalation.due_at,
                    Escalation.at,
                ).where(Escalation.manual.is_(False))
            )
        ).all()
        notifications = await session.scalar(text("SELECT count(*) FROM notification"))
        timeline = await session.scalar(
            text(
                "SELECT count(*) FROM incident_timeline WHERE kind LIKE 'remind%' "
                "OR kind LIKE 'supervise%'"
            )
        )
    return figures_of(timers, rows) | {
        "notifications": int(notifications or 0),
        "timeline_rows": int(timeline or 0),
    }


def figures_of(timers: Sequence[Any], rows: Sequence[Any]) -> dict[str, Any]:
    due = {(t.subject, t.key): clock.as_utc(t.due_at) for t in timers}
    first: dict[tuple[str, str], datetime] = {}
    per_due: Counter[tuple[str, str, str, str]] = Counter()
    for order_id, stage, kind, stage_due, at in rows:
        key = (str(order_id), f"{stage}:{kind}")
        moment = clock.as_utc(at)
        if key not in first or moment < first[key]:
            first[key] = moment
        per_due[(*key, kind, str(stage_due))] += 1
    lateness = sorted(
        (first[key] - due_at).total_seconds() * 1000.0
        for key, due_at in due.items()
        if key in first
    )
    return {
        "expected": len(due),
        "escalated": len(first),
        "missed": sum(1 for key in due if key not in first),
        "duplicated": sum(n - 1 for n in per_due.values() if n > 1),
        "unexpected": sum(1 for key in first if key not in due),
        "reclaimed": sum(1 for t in timers if t.attempts > 1),
        "timer_states": dict(Counter(t.state for t in timers)),
        "lateness_ms": {
            name: _round(percentile(lateness, q))
            for name, q in (("min", 0.0), ("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
        },
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def run_plan(plan: Plan) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for backend in plan.backends:
        template, scratch = await prepare_template(backend, plan)
        try:
            runners = ["yingji", "baseline"] if plan.baseline else ["yingji"]
            for runner in runners:
                url = await copy_for_run(template, backend, scratch, runner)
                try:
                    row = await run_one(url, backend, runner, plan)
                finally:
                    if backend == "postgres":
                        await drop_postgres(url)
                results.append(row)
                print(format_row(row), flush=True)
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
            if backend == "postgres":
                await drop_postgres(template)
    report: dict[str, Any] = {
        "benchmark": "escalation",
        "generated_at": clock.now().isoformat(),
        "config": {
            "orders": plan.orders,
            "timers": plan.timers,
            "keys": [f"{s}:{k}" for s, k in KEYS],
            "spread_s": plan.spread,
            "workers": plan.workers,
            "kill_one_worker_midway": plan.kill,
            "lease_s": LEASE_SECONDS,
            "baseline_poll_s": plan.baseline_poll,
            "backends": list(plan.backends),
            "cpus": os.cpu_count(),
        },
        "results": results,
        "ratios": ratios(results),
        "goals": goals(results),
    }
    report["path"] = str(write_report("escalation", report))
    return report


# --- printing ----------------------------------------------------------------------------------

HEADER = (
    f"{'backend':<9} {'runner':<9} {'wkrs':>4} {'expected':>9} {'escalated':>9} "
    f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>9} {'missed':>7} {'dup':>5} {'reclaimed':>9}"
)


def _fmt(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width},.1f}"


def format_row(row: dict[str, Any]) -> str:
    late = row["lateness_ms"]
    line = (
        f"{row['backend']:<9} {row['runner']:<9} {row['workers']:>4} {row['expected']:>9,} "
        f"{row['escalated']:>9,} {_fmt(late['p50'], 8)} {_fmt(late['p99'], 8)} "
        f"{_fmt(late['max'], 9)} {row['missed']:>7} {row['duplicated']:>5} {row['reclaimed']:>9}"
    )
    if row["kill"]:
        line += f"  (SIGKILL at +{row['kill']['killed_at_s']:.0f} s, back in "
        line += f"{row['kill']['restart_s']:.1f} s)"
    return line + ("  TIMED OUT" if row["timed_out"] else "")


def ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for base in (r for r in results if r["runner"] == "baseline"):
        for row in (
            r for r in results if r["runner"] == "yingji" and r["backend"] == base["backend"]
        ):
            b, y = base["lateness_ms"], row["lateness_ms"]
            out.append(
                {
                    "backend": row["backend"],
                    "p50_baseline_over_yingji": _ratio(b["p50"], y["p50"]),
                    "p99_baseline_over_yingji": _ratio(b["p99"], y["p99"]),
                    "max_baseline_over_yingji": _ratio(b["max"], y["max"]),
                }
            )
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else round(a / b, 1)


def goals(results: list[dict[str, Any]]) -> dict[str, Any]:
    """p99 ≤ 250 ms, zero missed, zero duplicated — per backend, for Yingji's workers."""
    out: dict[str, Any] = {}
    for row in (r for r in results if r["runner"] == "yingji"):
        p99 = row["lateness_ms"]["p99"]
        checks = {
            "p99_le_250ms": p99 is not None and p99 <= GOALS["p99_ms"],
            "zero_missed": row["missed"] == 0,
            "zero_duplicated": row["duplicated"] == 0,
        }
        out[row["backend"]] = {"met": all(checks.values()), **checks}
    return out


def print_report(report: dict[str, Any]) -> None:
    cfg = report["config"]
    print()
    print(HEADER)
    for row in report["results"]:
        print(format_row(row))
    print(
        f"\n{cfg['orders']:,} open orders, {cfg['timers']:,} stage deadlines "
        f"({', '.join(cfg['keys'])}) due over {cfg['spread_s']:g} s "
        f"({cfg['timers'] / cfg['spread_s']:,.0f}/s); yingji = {cfg['workers']} `yingji worker` "
        f"processes, the first SIGKILLed halfway and restarted (lease {cfg['lease_s']:g} s);\n"
        f"lateness = escalation at - timer due_at; reclaimed = timers claimed more than once; "
        f"baseline = bare loop polling every {cfg['baseline_poll_s']:g} s."
    )
    for r in report["ratios"]:
        print(
            f"ratio baseline/yingji on {r['backend']}: p50 {r['p50_baseline_over_yingji']}x, "
            f"p99 {r['p99_baseline_over_yingji']}x, max {r['max_baseline_over_yingji']}x"
        )
    for backend, g in report["goals"].items():
        marks = ", ".join(f"{k} {'ok' if v else 'NOT MET'}" for k, v in g.items() if k != "met")
        print(f"goals ({backend}): {'MET' if g['met'] else 'NOT MET'} — {marks}")
    print(f"figures written to {report['path']}")


# --- command line ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.escalation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--orders", type=int, default=None, help="open orders (10000)")
    parser.add_argument("--spread", type=float, default=None, help="seconds due over (600)")
    parser.add_argument("--workers", type=int, default=2, help="yingji worker processes (2)")
    parser.add_argument("--quick", action="store_true", help="250 orders over 15 s (smoke run)")
    parser.add_argument("--no-kill", action="store_true", help="do not SIGKILL a worker")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline loop")
    parser.add_argument(
        "--baseline-poll", type=float, default=BASELINE_POLL_SECONDS, help="seconds (5)"
    )
    parser.add_argument(
        "--role", choices=("coordinator", "baseline"), default="coordinator", help=argparse.SUPPRESS
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def plan_from(args: argparse.Namespace) -> Plan:
    orders = args.orders if args.orders is not None else (250 if args.quick else 10_000)
    spread = args.spread if args.spread is not None else (15.0 if args.quick else 600.0)
    return Plan(
        orders=orders,
        spread=spread,
        backends=("sqlite", "postgres") if args.backend == "both" else (args.backend,),
        workers=max(args.workers, 1),
        kill=not args.no_kill,
        baseline=not args.no_baseline,
        baseline_poll=args.baseline_poll,
        pg_url=os.environ.get("YINGJI_BENCH_DATABASE_URL", DEFAULT_PG_URL),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.role == "baseline":
        asyncio.run(serve_baseline(args.url, args.baseline_poll))
        return 0
    plan = plan_from(args)
    print(HEADER, flush=True)
    report = asyncio.run(run_plan(plan))
    print_report(report)
    return 1 if any(r["timed_out"] for r in report["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
