"""Fan-out benchmark of warnings (靶向发布 + 叫应): one warning published to RECIPIENTS people of a
generated province-sized directory, then every one of them acknowledging through the API.

    .venv/bin/python -m bench.fanout                                  # 100,000 recipients
    .venv/bin/python -m bench.fanout --recipients 5000                # a quick run
    .venv/bin/python -m bench.fanout --database-url postgresql+asyncpg://postgres@127.0.0.1/h19_bench

PostgreSQL only (the database named by ``--database-url`` is dropped and created afresh).

1. The directory (``bench.directory``: divisions down to villages, units, people with accounts
   and contact points) is written with Core bulk inserts.
2. A real ``yingji serve --no-worker`` (HTTP) and a real ``yingji worker`` (the sender) start on
   it; a local HTTP SMS gateway (``bench.gateway``) counts sends by idempotency key.
3. The province desk drafts a warning over the whole province through the API, a commander
   reviews and signs it, the officer publishes it: the publish request is the real publish flow
   (CAS, recipients resolved and bulk-inserted, deliveries enqueued, one unit of work).
   Figures: recipients resolved and deliveries recorded per second of the publish request, and the
   time from the request to the last in-app delivery sent by the worker.
4. The baseline, in the same run: asyncpg ``executemany`` of the same delivery rows (read back
   from ``delivery``) into a scratch table of the same shape (``LIKE delivery INCLUDING ALL``).
   Ratio = publish recipients/s ÷ baseline rows/s.
5. Every recipient's acknowledgement link is posted (``POST /api/v1/warnings/ack/{token}``) by
   ``--concurrency`` keep-alive clients: acks/s and latency percentiles; then the stored
   acknowledgements are counted (one per recipient, none doubled).

Goals: ≥ 10,000 recipients/s, ≥ 0.3× the baseline, ≥ 500 acks/s with p99 ≤ 100 ms. The figures
go to stdout and ``var/bench/fanout.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from bench import directory
from bench.common import (
    ServerProcess,
    drop_postgres,
    free_port,
    fresh_postgres,
    percentile,
    write_report,
    yingji_command,
    yingji_env,
)
from bench.gateway import Gateway
from yingji import domains
from yingji.app import ensure_reference_data
from yingji.core import clock, migrate
from yingji.core.db import Database

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/h19_bench"
GOALS = {
    "recipients_per_s": 10_000.0,
    "baseline_ratio": 0.3,
    "acks_per_s": 500.0,
    "ack_p99_ms": 100.0,
}
REQUEST_TIMEOUT = 600.0  # the publish request at 100,000 recipients
DELIVERY_BOUND = 900.0  # seconds the worker may take to send every in-app delivery
ACK_PATH = "/api/v1/warnings/ack/"
SCRATCH = "bench_delivery_baseline"
#: the columns ``notify.delivery.enqueue`` writes (the baseline writes the same)
DELIVERY_COLUMNS = (
    "message_id",
    "subject_id",
    "recipient_ref",
    "step",
    "user_id",
    "name",
    "channel",
    "address",
    "fallbacks",
    "ack_token",
    "state",
    "tries",
    "due_at",
    "receipt",
    "created_at",
)
JSON_COLUMNS = frozenset({"fallbacks", "receipt"})


@dataclass(frozen=True)
class Plan:
    recipients: int = 100_000
    database_url: str = DEFAULT_PG_URL
    contacts: tuple[str, ...] = ()
    mobiles: bool = False
    level: str = "orange"
    type_code: str = "rainstorm"
    concurrency: int = 32
    acks: int | None = None  # how many recipients acknowledge (None: every one; 0: none)
    keep: bool = False  # keep the database afterwards (to look at it)


# --- the processes -----------------------------------------------------------------------------


class Yingji:
    """The served app (HTTP, no worker) and one ``yingji worker`` on the bench's database."""

    def __init__(self, url: str, gateway: Gateway, log_dir: Path) -> None:
        self.port = free_port()
        self.env = yingji_env(
            url,
            YINGJI_PUBLIC_URL=f"http://127.0.0.1:{self.port}",
            YINGJI_SMS_GATEWAY_URL=gateway.url,
            YINGJI_VOICE_GATEWAY_URL=gateway.url,
        )
        self.log_dir = log_dir
        self.server: ServerProcess | None = None
        self.worker: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        command = yingji_command("serve", "--no-worker", "--port", str(self.port))
        self.server = await ServerProcess.start(
            command, self.env, self.port, self.log_dir / "serve.log"
        )
        self.worker = await start_worker(self.env, self.log_dir / "worker.log")

    async def stop_worker(self) -> None:
        if self.worker is not None and self.worker.returncode is None:
            self.worker.terminate()
            try:
                await asyncio.wait_for(self.worker.wait(), 15)
            except TimeoutError:
                self.worker.kill()
                await self.worker.wait()

    async def stop(self) -> None:
        await self.stop_worker()
        if self.server is not None:
            await self.server.stop()


async def start_worker(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    """A ``yingji worker`` process writing its output to ``log``."""
    with log.open("ab") as sink:
        return await asyncio.create_subprocess_exec(
            *yingji_command("worker"),
            cwd=directory_root(),
            env=env,
            stdout=sink,
            stderr=sink,
        )


def directory_root() -> Path:
    return Path(__file__).resolve().parents[1]


# --- the database ------------------------------------------------------------------------------


def _pg_dsn(url: str) -> str:
    u = make_url(url)
    host, port = u.host or "127.0.0.1", u.port or 5432
    return f"postgresql://{u.username or 'postgres'}@{host}:{port}/{u.database}"


async def prepare(url: str, plan: Plan) -> directory.Directory:
    """A migrated database with the reference data and the generated directory."""
    await asyncio.to_thread(migrate.upgrade, url, "head")
    db = Database(url)
    try:
        await ensure_reference_data(db)
        return await directory.generate(
            db, plan.recipients, contacts=plan.contacts, mobiles=plan.mobiles
        )
    finally:
        await db.dispose()


async def scalar(conn: asyncpg.Connection, sql: str, *args: Any) -> int:
    return int(await conn.fetchval(sql, *args) or 0)


# --- the warning's workflow through the API ----------------------------------------------------


async def token_of(client: httpx.AsyncClient, username: str) -> str:
    answer = await client.post(
        "/api/v1/auth/token", data={"username": username, "password": directory.PASSWORD}
    )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def _ok(answer: httpx.Response) -> dict[str, Any]:
    if answer.status_code >= 300:
        raise RuntimeError(
            f"{answer.request.method} {answer.request.url}: {answer.status_code} "
            f"{answer.text[:500]}"
        )
    body: dict[str, Any] = answer.json()
    return body


async def signed_warning(client: httpx.AsyncClient, plan: Plan, made: directory.Directory) -> str:
    """A warning over the whole province, drafted, submitted, approved and signed; its id."""
    officer = {"Authorization": f"Bearer {await token_of(client, 'bench_officer')}"}
    commander = {"Authorization": f"Bearer {await token_of(client, 'bench_commander')}"}
    now = clock.now()
    draft = _ok(
        await client.post(
            "/api/v1/warnings",
            headers=officer,
            json={
                "type_code": plan.type_code,
                "level": plan.level,
                "headline": "全省暴雨橙色预警（基准测试）",
                "description": "预计未来24小时全省大部地区有暴雨，局部大暴雨。",
                "instruction": "各地做好防御准备，转移危险区域群众。",
                "issuer": "浙江省应急管理厅",
                "area_desc": directory.PROVINCE_NAME,
                "area_adcodes": [made.province],
                "division_adcode": made.province,
                "onset_at": now.isoformat(),
                "expires_at": (now + timedelta(hours=24)).isoformat(),
            },
        )
    )
    warning_id = str(draft["id"])
    version = int(draft["version"])
    for step, who in (("submit", officer), ("approve", commander), ("sign", commander)):
        body = _ok(
            await client.post(
                f"/api/v1/warnings/{warning_id}/{step}", headers=who, json={"version": version}
            )
        )
        version = int(body["version"])
    return warning_id


async def publish(client: httpx.AsyncClient, warning_id: str) -> tuple[float, dict[str, Any]]:
    """Seconds of the publish request (the real publish flow) and its answer."""
    officer = {"Authorization": f"Bearer {await token_of(client, 'bench_officer')}"}
    current = _ok(await client.get(f"/api/v1/warnings/{warning_id}", headers=officer))
    started = time.perf_counter()
    body = _ok(
        await client.post(
            f"/api/v1/warnings/{warning_id}/publish",
            headers=officer,
            json={"version": current["version"]},
            timeout=REQUEST_TIMEOUT,
        )
    )
    return time.perf_counter() - started, body


async def wait_sent(
    conn: asyncpg.Connection, warning_id: str, started: float, channel: str | None
) -> float | None:
    """Seconds from ``started`` (perf_counter) until no publication delivery of the warning (on
    ``channel``, or any) is left queued or sending; None if not within ``DELIVERY_BOUND``."""
    deadline = time.perf_counter() + DELIVERY_BOUND
    where = "subject_id = $1 AND step = 0 AND state IN ('queued', 'sending')"
    if channel is not None:
        where += f" AND channel = '{channel}'"
    while time.perf_counter() < deadline:
        if await scalar(conn, f"SELECT count(*) FROM delivery WHERE {where}", warning_id) == 0:  # noqa: S608
            return time.perf_counter() - started
        await asyncio.sleep(0.2)
    return None


async def wait_chains(
    conn: asyncpg.Connection, warning_id: uuid.UUID, started: float
) -> tuple[int, float | None]:
    """The people on the 叫应 list and the seconds from ``started`` until each one's chain is
    armed (its ``call`` event written with its step timer); None if not within the bound."""
    called = await scalar(
        conn,
        "SELECT count(*) FROM warning_recipient WHERE warning_id = $1 AND must_ack "
        "AND escalated_from_id IS NULL",
        warning_id,
    )
    deadline = time.perf_counter() + DELIVERY_BOUND
    while time.perf_counter() < deadline:
        armed = await scalar(
            conn,
            "SELECT count(*) FROM warning_call_event WHERE warning_id = $1 AND kind = 'call'",
            warning_id,
        )
        if armed >= called:
            return called, time.perf_counter() - started
        await asyncio.sleep(0.5)
    return called, None


# --- the baseline ------------------------------------------------------------------------------


async def baseline(conn: asyncpg.Connection, warning_id: str) -> tuple[int, float]:
    """asyncpg ``executemany`` of the warning's delivery rows (as enqueued) into a scratch table
    shaped like ``delivery``; (rows, seconds of the executemany and its commit)."""
    columns = ", ".join(DELIVERY_COLUMNS)
    records = await conn.fetch(
        f"SELECT {columns} FROM delivery WHERE subject_id = $1 AND step = 0 ORDER BY id",  # noqa: S608
        warning_id,
    )
    rows = [
        tuple(
            json.dumps(r[c])
            if c in JSON_COLUMNS and not isinstance(r[c], str)
            else ("queued" if c == "state" else 0 if c == "tries" else r[c])
            for c in DELIVERY_COLUMNS
        )
        for r in records
    ]
    await conn.execute(f"DROP TABLE IF EXISTS {SCRATCH}")
    await conn.execute(f"CREATE TABLE {SCRATCH} (LIKE delivery INCLUDING ALL)")
    placeholders = ", ".join(
        f"${i}::jsonb" if c in JSON_COLUMNS else f"${i}"
        for i, c in enumerate(DELIVERY_COLUMNS, start=1)
    )
    started = time.perf_counter()
    async with conn.transaction():
        await conn.executemany(
            f"INSERT INTO {SCRATCH} ({columns}) VALUES ({placeholders})",  # noqa: S608
            rows,
        )
    seconds = time.perf_counter() - started
    await conn.execute(f"DROP TABLE {SCRATCH}")
    return len(rows), seconds


# --- the acknowledgements ----------------------------------------------------------------------


class HttpError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection posting to ack links (Content-Length answers)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None and self.writer is not None
        try:
            self.writer.write(
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".encode()
            )
            head = await self.reader.readuntil(b"\r\n\r\n")
            lower = head.lower()
            at = lower.find(b"content-length:")
            length = int(lower[at + 15 : lower.index(b"\r\n", at)]) if at >= 0 else 0
            await self.reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            self.close()
            raise HttpError(str(exc)) from exc
        if b"connection: close" in lower:
            self.close()
        return int(head[9:12])


async def acknowledge_all(port: int, tokens: Sequence[str], concurrency: int) -> dict[str, Any]:
    """Every token posted once by ``concurrency`` clients: acks/s and latency percentiles."""
    queue = list(reversed(tokens))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def client() -> None:
        conn = Connection(port)
        try:
            while queue:
                token = queue.pop()
                started = time.perf_counter()
                status = await conn.post(ACK_PATH + token)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "acks": len(tokens),
        "seconds": round(seconds, 2),
        "acks_per_s": round(len(tokens) / seconds, 1) if seconds else None,
        "p50_ms": _ms(percentile(latencies, 0.5)),
        "p95_ms": _ms(percentile(latencies, 0.95)),
        "p99_ms": _ms(percentile(latencies, 0.99)),
        "max_ms": _ms(latencies[-1] if latencies else None),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


# --- the run -----------------------------------------------------------------------------------


async def run_plan(plan: Plan) -> dict[str, Any]:
    domains.install()
    url = await fresh_postgres(plan.database_url)
    log_dir = Path(tempfile.mkdtemp(prefix="yingji-bench-fanout-"))
    report: dict[str, Any] = {
        "config": {
            "recipients": plan.recipients,
            "level": plan.level,
            "contacts": list(plan.contacts),
            "concurrency": plan.concurrency,
            "mobiles": plan.mobiles,
            "acks": plan.acks,
        }
    }
    conn: asyncpg.Connection | None = None
    try:
        made = await prepare(url, plan)
        report["directory"] = {
            "people": made.shape.people,
            "villages": made.shape.villages,
            "towns": made.shape.towns,
            "rows": sum(made.rows.values()),
            "seconds": round(made.seconds, 1),
            "rows_per_s": round(made.rows_per_second),
        }
        conn = await asyncpg.connect(_pg_dsn(url))
        with Gateway() as gateway:
            app = Yingji(url, gateway, log_dir)
            await app.start()
            try:
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{app.port}", timeout=60
                ) as client:
                    warning_id = await signed_warning(client, plan, made)
                    started = time.perf_counter()
                    seconds, _answer = await publish(client, warning_id)
                    last_app = await wait_sent(conn, warning_id, started, "app")
                    last_any = await wait_sent(conn, warning_id, started, None)
                    called, armed = await wait_chains(conn, uuid.UUID(warning_id), started)
                await app.stop_worker()
                recipients = await scalar(
                    conn,
                    "SELECT count(*) FROM warning_recipient WHERE warning_id = $1",
                    uuid.UUID(warning_id),
                )
                deliveries = await scalar(
                    conn,
                    "SELECT count(*) FROM delivery WHERE subject_id = $1 AND step = 0",
                    warning_id,
                )
                app_deliveries = await scalar(
                    conn,
                    "SELECT count(*) FROM delivery WHERE subject_id = $1 AND channel = 'app'",
                    warning_id,
                )
                rows, baseline_seconds = await baseline(conn, warning_id)
                report["publish"] = {
                    "recipients": recipients,
                    "deliveries": deliveries,
                    "app_deliveries": app_deliveries,
                    "seconds": round(seconds, 2),
                    "recipients_per_s": round(recipients / seconds),
                    "deliveries_per_s": round(deliveries / seconds),
                    "last_app_delivery_s": None if last_app is None else round(last_app, 2),
                    "last_delivery_s": None if last_any is None else round(last_any, 2),
                    "by_channel": {
                        str(r["channel"]): int(r["n"])
                        for r in await conn.fetch(
                            "SELECT channel, count(*) AS n FROM delivery WHERE subject_id = $1 "
                            "AND step = 0 GROUP BY channel",
                            warning_id,
                        )
                    },
                    "gateway_sends": sum(gateway.sends.values()),
                    "called": called,
                    "chains_armed_s": None if armed is None else round(armed, 2),
                }
                baseline_rate = rows / baseline_seconds if baseline_seconds else 0.0
                report["baseline"] = {
                    "rows": rows,
                    "seconds": round(baseline_seconds, 2),
                    "rows_per_s": round(baseline_rate),
                    "ratio": round(recipients / seconds / baseline_rate, 3)
                    if baseline_rate
                    else None,
                }
                if plan.acks != 0:
                    tokens = [
                        str(t)
                        for t in await conn.fetch(
                            "SELECT ack_token FROM warning_recipient WHERE warning_id = $1 "
                            "AND ack_token IS NOT NULL ORDER BY id",
                            uuid.UUID(warning_id),
                        )
                        for t in (t["ack_token"],)
                    ]
                    if plan.acks is not None and plan.acks < len(tokens):
                        every = len(tokens) / plan.acks  # an even sample over the list
                        tokens = [tokens[int(i * every)] for i in range(plan.acks)]
                    acks = await acknowledge_all(app.port, tokens, plan.concurrency)
                    acks["recipients"] = recipients
                    acks["stored"] = await scalar(
                        conn,
                        "SELECT count(*) FROM warning_ack WHERE warning_id = $1",
                        uuid.UUID(warning_id),
                    )
                    acks["stored_distinct"] = await scalar(
                        conn,
                        "SELECT count(DISTINCT recipient_id) FROM warning_ack "
                        "WHERE warning_id = $1",
                        uuid.UUID(warning_id),
                    )
                    report["acks"] = acks
            finally:
                await app.stop()
    finally:
        if conn is not None:
            await conn.close()
        if not plan.keep:
            await drop_postgres(url)
        shutil.rmtree(log_dir, ignore_errors=True)
    report["goals"] = goals(report)
    report["path"] = str(write_report("fanout", report))
    return report


def goals(report: dict[str, Any]) -> dict[str, bool | None]:
    publish_ = report.get("publish", {})
    baseline_ = report.get("baseline", {})
    acks = report.get("acks", {})

    def at_least(value: float | None, goal: float) -> bool | None:
        return None if value is None else value >= goal

    p99 = acks.get("p99_ms")
    return {
        "recipients_per_s": at_least(publish_.get("recipients_per_s"), GOALS["recipients_per_s"]),
        "baseline_ratio": at_least(baseline_.get("ratio"), GOALS["baseline_ratio"]),
        "acks_per_s": at_least(acks.get("acks_per_s"), GOALS["acks_per_s"]),
        "ack_p99_ms": None if p99 is None else p99 <= GOALS["ack_p99_ms"],
        "acks_all_stored": None
        if not acks
        else acks.get("stored") == acks.get("acks") == acks.get("stored_distinct"),
    }


def print_report(report: dict[str, Any]) -> None:
    d, p, b = report["directory"], report["publish"], report["baseline"]
    out = [
        f"fanout benchmark: {report['config']['recipients']:,} people "
        f"({d['villages']:,} villages, {d['towns']:,} towns); directory {d['rows']:,} rows in "
        f"{d['seconds']} s ({d['rows_per_s']:,} rows/s)",
        f"publish: {p['recipients']:,} recipients, {p['deliveries']:,} deliveries in "
        f"{p['seconds']} s → {p['recipients_per_s']:,} recipients/s, "
        f"{p['deliveries_per_s']:,} deliveries/s (goal ≥ {GOALS['recipients_per_s']:,.0f})",
        f"last in-app delivery: {p['last_app_delivery_s']} s after the publish request "
        f"({p['app_deliveries']:,} in-app deliveries); last delivery of any channel "
        f"{p['last_delivery_s']} s; deliveries by channel {p['by_channel']}; "
        f"gateway sends {p['gateway_sends']:,}",
        f"叫应: {p['called']:,} people called; every chain armed {p['chains_armed_s']} s after "
        "the publish request",
        f"baseline asyncpg executemany: {b['rows']:,} rows in {b['seconds']} s → "
        f"{b['rows_per_s']:,} rows/s; ratio {b['ratio']} (goal ≥ {GOALS['baseline_ratio']})",
    ]
    if "acks" in report:
        a = report["acks"]
        out.append(
            f"acks: {a['acks']:,} in {a['seconds']} s → {a['acks_per_s']} acks/s "
            f"(goal ≥ {GOALS['acks_per_s']:.0f}); p50 {a['p50_ms']} ms, p95 {a['p95_ms']} ms, "
            f"p99 {a['p99_ms']} ms (goal ≤ {GOALS['ack_p99_ms']:.0f}), max {a['max_ms']} ms; "
            f"statuses {a['statuses']}; stored {a['stored']:,} ({a['stored_distinct']:,} distinct)"
        )
    out.append(f"goals: {report['goals']}; report {report['path']}")
    print("\n".join(out))  # noqa: T201


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fanout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument(
        "--database-url", default=os.environ.get("YINGJI_BENCH_PG_URL", DEFAULT_PG_URL)
    )
    parser.add_argument("--contacts", default="", help="contact points per person, in order")
    parser.add_argument(
        "--mobiles", action="store_true", help="people have a mobile (SMS/voice before the app)"
    )
    parser.add_argument("--level", default="orange", choices=("red", "orange", "yellow", "blue"))
    parser.add_argument("--type", dest="type_code", default="rainstorm")
    parser.add_argument("--concurrency", type=int, default=32, help="ack clients")
    parser.add_argument(
        "--acks", type=int, default=None, help="how many recipients acknowledge (default: all)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args(argv)


def plan_from(args: argparse.Namespace) -> Plan:
    if not make_url(args.database_url).drivername.startswith("postgresql"):
        raise SystemExit("bench.fanout runs on PostgreSQL (--database-url postgresql+asyncpg://…)")
    return Plan(
        recipients=args.recipients,
        database_url=args.database_url,
        contacts=tuple(c for c in args.contacts.split(",") if c),
        mobiles=args.mobiles,
        level=args.level,
        type_code=args.type_code,
        concurrency=args.concurrency,
        acks=args.acks,
        keep=args.keep,
    )


def main(argv: Sequence[str] | None = None) -> int:
    report = asyncio.run(run_plan(plan_from(parse_args(argv))))
    print_report(report)
    return 0 if all(v is not False for v in report["goals"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
