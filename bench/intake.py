"""Benchmark of intake (统一接警) over HTTP: reports per second and latency, against a baseline.

``python -m bench.intake [--backend sqlite|postgres|both] [--duration 10] [--concurrency 1,4,16,64]
[--warmup 3] [--quick]``

For each backend, the demo county is created once (``yingji db upgrade`` + ``yingji seed demo``)
and every phase runs on a fresh copy of it (SQLite: a file copy; PostgreSQL: ``CREATE DATABASE …
TEMPLATE``), with a freshly started server:

* ``yingji``: ``yingji serve`` (one process: API + relay + timers), user ``duty_officer`` with a
  bearer token, ``POST /api/v1/intake/reports``;
* ``baseline``: ``bench/baseline_app.py``, bare Starlette that parses the same JSON and INSERTs the
  same row into a table of its own in the same database, through the same driver and engine
  settings, under the same uvicorn settings (see that module).

Load comes from a separate process (``--role generator``): raw HTTP/1.1 keep-alive connections
on uvloop (a few hundred bytes of hand-written request and a minimal response parser; its CPU use
is measured and printed, so one can see it is not the bottleneck). The bodies are varied Chinese
reports (fires, floods, landslides, traffic accidents, fallen trees) at varied points inside the
demo county; about a third describe a site already reported a little earlier (other words, a
point 20–300 m away), so matching has candidates to score and joins to make.

Closed loop: ``concurrency`` connections, each sending its next report as soon as the previous
answer came; ``warmup`` seconds unmeasured, then ``duration`` seconds measured (throughput =
answers completed in the window / window; latency of those answers).
Open loop: reports sent at a fixed rate, half of Yingji's best closed-loop throughput on that
backend, for the same warm-up and duration; latency is measured from each report's *scheduled*
send time (so a stalled server cannot hide its queue). The baseline runs at the same rate.

The issue's goals, judged per backend: Yingji's best throughput ≥ 0.6 × the baseline's best, and
p99 ≤ 50 ms in the open-loop phase at half of Yingji's best throughput.
Figures go to stdout as a table per backend and to ``var/bench/intake.json``; a phase with failed
requests or non-2xx answers prints them, and its server's log is kept in ``var/bench/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import sys
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import uvloop
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import (
    ROOT,
    ServerProcess,
    clone_postgres,
    copy_sqlite,
    cpu_seconds,
    cpu_seconds_of_command,
    demo_sqlite_template,
    drop_postgres,
    fetch_token,
    free_port,
    fresh_postgres,
    fresh_sqlite,
    percentile,
    prepare_demo_database,
    write_report,
    yingji_command,
    yingji_env,
)
from yingji.core import clock
from yingji.intake.models import Report

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/yingji_bench_intake"
USERNAME = "duty_officer"
PATH = "/api/v1/intake/reports"
LON_RANGE, LAT_RANGE = (118.85, 119.30), (27.45, 27.80)
M_PER_DEG = 111_320.0
REQUEST_TIMEOUT = 30.0  # one answer; a phase ends at most this long after its window
GOALS = {"ratio": 0.6, "p99_ms": 50.0}
YINGJI, BASELINE = "yingji", "baseline"

# --- the reports -------------------------------------------------------------------------------

TOWNS = (
    "松源街道",
    "濛洲街道",
    "屏都街道",
    "黄田镇",
    "竹口镇",
    "荷地镇",
    "左溪镇",
    "贤良镇",
    "百山祖镇",
    "隆宫乡",
    "岭头乡",
    "五大堡乡",
    "淤上乡",
    "安南乡",
    "张村乡",
    "官塘乡",
    "江根乡",
    "合湖乡",
    "举水乡",
)
VILLAGE_HEADS = "黄坑岭头西洋大济下济坑西新窑后田桥头半岭大岩底石龙上庄周墩杨桥月山"
VILLAGE_TAILS = ("村", "村", "村", "坑", "垟", "岙")
LANDMARKS = (
    "廊桥",
    "村口",
    "小学门口",
    "卫生院旁边",
    "水库大坝下",
    "溪边",
    "老街",
    "祠堂后面",
    "香菇市场",
    "加油站对面",
    "隧道口",
    "国道拐弯处",
    "竹木加工厂",
    "敬老院",
    "停车场",
)
KINDS: dict[str, tuple[str, ...]] = {
    "fire": (
        "{p}一栋民房起火了，浓烟很大，{x}",
        "{p}着火，火势已经蔓延到旁边的柴堆，{x}",
        "{p}有户人家厨房失火，二楼好像还有人，{x}",
        "看到{p}后山冒烟有明火，疑似山火，{x}",
        "{p}的竹木加工厂烧起来了，火很大，{x}",
    ),
    "flood": (
        "{p}溪水暴涨漫过路面，{x}",
        "{p}积水已经齐腰深，有群众被困在屋里，{x}",
        "{p}河边几户房子进水了，老人需要转移，{x}",
        "{p}发大水，桥面被淹，车过不去，{x}",
    ),
    "landslide": (
        "{p}后山发生山体滑坡，泥石冲到路上，{x}",
        "{p}塌方了，道路中断，{x}",
        "{p}边坡开裂在往下滑，住户要求撤离，{x}",
        "{p}泥石流冲下来埋了半条路，{x}",
    ),
    "traffic": (
        "{p}两辆车相撞，有人受伤，{x}",
        "{p}一辆货车侧翻在路边，司机被困在驾驶室，{x}",
        "{p}摩托车和小轿车追尾，骑车的人躺在地上，{x}",
        "{p}发生交通事故，车辆冲出护栏，{x}",
    ),
    "fallen_tree": (
        "{p}一棵大树被风刮倒，压住了道路，{x}",
        "{p}路边的樟树倒了，砸断了电线，{x}",
        "{p}倒树挡路，车辆无法通行，{x}",
        "台风把{p}的大树吹倒了，压到一辆车，{x}",
    ),
}
EXTRAS = (
    "请尽快派人来",
    "现场有老人和小孩",
    "目前没看到有人受伤",
    "报警人姓王，电话已留",
    "情况比较紧急",
    "附近群众在帮忙",
    "已经持续十多分钟了",
    "村干部已经到现场",
    "雨还在下",
    "路上很多车堵着",
)
CHANNELS = ("hotline_110", "hotline_119", "hotline_120", "hotline_12345", "grid")


@dataclass(frozen=True)
class Site:
    """A place where something happened: reports about it fall within a few hundred metres."""

    kind: str
    lon: float
    lat: float
    place: str
    address: str


def random_site(rng: random.Random) -> Site:
    town = rng.choice(TOWNS)
    village = "".join(rng.sample(VILLAGE_HEADS, 2)) + rng.choice(VILLAGE_TAILS)
    landmark = rng.choice(LANDMARKS)
    return Site(
        kind=rng.choice(tuple(KINDS)),
        lon=rng.uniform(LON_RANGE[0] + 0.01, LON_RANGE[1] - 0.01),
        lat=rng.uniform(LAT_RANGE[0] + 0.01, LAT_RANGE[1] - 0.01),
        place=f"{village}{landmark}",
        address=f"庆元县{town}{village}{landmark}",
    )


def report_about(site: Site, rng: random.Random, first: bool) -> dict[str, Any]:
    """One caller's report of ``site``: own words, own point (20–300 m off for later callers)."""
    text = rng.choice(KINDS[site.kind]).format(p=site.place, x=rng.choice(EXTRAS))
    lon, lat = site.lon, site.lat
    if not first:
        distance, bearing = rng.uniform(20, 300), rng.uniform(0, 6.283)
        lat += distance * math.cos(bearing) / M_PER_DEG
        lon += distance * math.sin(bearing) / (M_PER_DEG * 0.886)  # cos(27.6°)
    body: dict[str, Any] = {
        "channel": rng.choice(CHANNELS),
        "external_id": "",
        "text": text,
        "lon": round(lon, 6),
        "lat": round(lat, 6),
    }
    if rng.random() < 0.7:
        body["address"] = site.address
    if site.kind in ("traffic", "fire", "landslide") and rng.random() < 0.3:
        body["casualties"] = {"injured": rng.randint(1, 4), "trapped": rng.randint(0, 2)}
    return body


def report_stream(seed: int, count: int, repeat_share: float = 0.35) -> list[dict[str, Any]]:
    """``count`` report bodies (without ``external_id``) in arrival order.

    A share ``repeat_share`` describe one of the last 40 sites already reported (near-duplicates
    the matcher should join); the rest open a new site.
    """
    rng = random.Random(seed)
    recent: deque[Site] = deque(maxlen=40)
    bodies = []
    for _ in range(count):
        if recent and rng.random() < repeat_share:
            bodies.append(report_about(rng.choice(recent), rng, first=False))
        else:
            site = random_site(rng)
            recent.append(site)
            bodies.append(report_about(site, rng, first=True))
    return bodies


class BodyPool:
    """Encoded request bodies: a cycle of varied reports, each with a fresh ``external_id``."""

    MARK = "\x00"

    def __init__(self, seed: int, prefix: str, size: int = 4096) -> None:
        self.prefix = prefix
        self.parts: list[tuple[bytes, bytes]] = []
        for body in report_stream(seed, size):
            body["external_id"] = self.MARK
            encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            head, _, tail = encoded.partition(json.dumps(self.MARK).encode()[1:-1])
            self.parts.append((head, tail))
        self.next = 0

    def take(self) -> tuple[str, bytes]:
        """The next body and its ``external_id``."""
        n = self.next
        self.next += 1
        head, tail = self.parts[n % len(self.parts)]
        external_id = f"{self.prefix}-{n}"
        return external_id, head + external_id.encode() + tail


# --- the HTTP client ---------------------------------------------------------------------------


class HttpError(Exception):
    """The connection failed or answered something unreadable."""


class Connection:
    """One keep-alive HTTP/1.1 connection that sends POSTs and reads answers (Content-Length)."""

    def __init__(self, port: int, token: str | None) -> None:
        self.port = port
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.head = (
            f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.answers = 0  # answers read on the current socket (0: freshly opened)

    async def open(self) -> None:
        try:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.answers = 0
        except OSError as exc:
            raise HttpError(f"connect: {exc}") from exc

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """Send one report; the status and the body of the answer."""
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        try:
            self.writer.write(b"%s%d\r\n\r\n%s" % (self.head, len(body), body))
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            at = lower.find(b"content-length:")
            if at < 0:
                raise HttpError("answer without content-length")
            length = int(lower[at + 15 : lower.index(b"\r\n", at)])
            answer = await self.reader.readexactly(length)
            self.answers += 1
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self.close()
            raise HttpError(f"{type(exc).__name__}: {exc}") from exc
        if b"connection: close" in lower:
            self.close()
        return status, answer


# --- the generator process ---------------------------------------------------------------------


@dataclass(frozen=True)
class LoadPlan:
    port: int
    token: str | None
    prefix: str
    mode: str  # "closed" | "open"
    concurrency: int = 1
    rate: float = 0.0
    warmup: float = 3.0
    duration: float = 10.0
    seed: int = 7
    #: several servers behind one database (``bench.throughput``): connections go round-robin
    ports: tuple[int, ...] = ()

    def port_of(self, n: int) -> int:
        """The port of the ``n``-th connection."""
        return self.ports[n % len(self.ports)] if self.ports else self.port


@dataclass
class Tally:
    """What one phase saw: answers inside the measured window and everything else."""

    latencies: list[float] = field(default_factory=list)  # seconds, answers inside the window
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    late: int = 0  # open loop: reports still unanswered when the phase ended

    def note(self, status: int | None, error: str | None, latency: float, measured: bool) -> None:
        if not measured:
            return
        if error is not None:
            self.errors[error[:80]] += 1
            return
        assert status is not None
        self.statuses[status] += 1
        if 200 <= status < 300:
            self.latencies.append(latency)


async def send_one(conn: Connection, body: bytes) -> tuple[int | None, str | None]:
    """Post once; on a kept-alive socket the server closed while idle (uvicorn closes them after
    5 s), once more on a new one, as every HTTP client does."""
    try:
        reused = conn.writer is not None and conn.answers > 0
        try:
            status, _answer = await asyncio.wait_for(conn.post(body), REQUEST_TIMEOUT)
        except HttpError:
            if not reused:
                raise
            status, _answer = await asyncio.wait_for(conn.post(body), REQUEST_TIMEOUT)
    except HttpError as exc:
        return None, str(exc)
    except TimeoutError:
        conn.close()
        return None, "timeout"
    return status, None


async def closed_loop(
    plan: LoadPlan, pool: BodyPool, tally: Tally, window: tuple[float, float]
) -> None:
    """``concurrency`` connections, each sending as soon as its previous answer came."""
    start, end = window

    async def client(n: int) -> None:
        conn = Connection(plan.port_of(n), plan.token)
        try:
            while (sent_at := time.monotonic()) < end:
                _id, body = pool.take()
                tally.sent += 1
                status, error = await send_one(conn, body)
                done = time.monotonic()
                tally.note(status, error, done - sent_at, start <= done <= end)
                if error is not None:
                    await asyncio.sleep(0.05)
        finally:
            conn.close()

    await asyncio.gather(*(client(n) for n in range(plan.concurrency)))


async def open_loop(
    plan: LoadPlan, pool: BodyPool, tally: Tally, window: tuple[float, float]
) -> None:
    """Reports at a fixed rate; latency from the scheduled send time (no coordinated omission)."""
    start, end = window
    idle: list[Connection] = [Connection(plan.port_of(n), plan.token) for n in range(32)]
    for conn in idle:
        await conn.open()
    tasks: set[asyncio.Task[None]] = set()
    begin = start - plan.warmup
    interval = 1.0 / plan.rate

    async def fire(scheduled: float) -> None:
        conn = idle.pop() if idle else Connection(plan.port, plan.token)
        _id, body = pool.take()
        status, error = await send_one(conn, body)
        tally.note(status, error, time.monotonic() - scheduled, start <= scheduled < end)
        idle.append(conn)

    n = 0
    while (scheduled := begin + n * interval) < end:
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tally.sent += 1
        task = asyncio.create_task(fire(scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        n += 1
    if tasks:
        _done, pending = await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT)
        tally.late = len(pending)
        for task in pending:
            task.cancel()
    for conn in idle:
        conn.close()


def summary(tally: Tally, seconds: float) -> dict[str, Any]:
    ordered = sorted(tally.latencies)
    ms = {
        name: _round(None if (v := percentile(ordered, q)) is None else v * 1000.0)
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
    }
    return {
        "ok": len(ordered),
        "per_second": round(len(ordered) / seconds, 1),
        "latency_ms": ms,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "errors": dict(tally.errors),
        "sent": tally.sent,
        "late": tally.late,
    }


async def generate(plan: LoadPlan) -> dict[str, Any]:
    """Run one phase; prints ``measure`` when the window opens; returns the figures."""
    pool = BodyPool(plan.seed, plan.prefix)
    tally = Tally()
    start = time.monotonic() + plan.warmup
    window = (start, start + plan.duration)
    runner = closed_loop if plan.mode == "closed" else open_loop

    async def mark() -> tuple[float, float]:
        await asyncio.sleep(max(start - time.monotonic(), 0))
        print(json.dumps({"event": "measure"}), flush=True)
        cpu_at = time.process_time()
        await asyncio.sleep(max(window[1] - time.monotonic(), 0))
        return cpu_at, time.process_time()

    marker = asyncio.create_task(mark())
    await asyncio.wait_for(
        runner(plan, pool, tally, window), plan.warmup + plan.duration + 2 * REQUEST_TIMEOUT
    )
    cpu_from, cpu_to = await marker
    result = summary(tally, plan.duration)
    result["generator_cpu_pct"] = round(100.0 * (cpu_to - cpu_from) / plan.duration, 1)
    return result


def generator_main() -> int:
    """The generator process: one phase per line of JSON on stdin, one result line each."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        for line in sys.stdin:
            result = runner.run(generate(LoadPlan(**json.loads(line))))
            print(json.dumps({"event": "result", **result}), flush=True)
    return 0


# --- the coordinator ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    backends: tuple[str, ...]
    concurrency: tuple[int, ...]
    duration: float
    warmup: float
    open_loop: bool = True
    pg_url: str = DEFAULT_PG_URL
    quick: bool = False


@dataclass
class Backend:
    """One backend's seeded template database and where its phase copies go."""

    name: str
    template_url: str
    scratch: Path
    copies: int = 0

    async def fresh_copy(self) -> str:
        self.copies += 1
        if self.name == "postgres":
            return await clone_postgres(
                self.template_url, f"{_database_name(self.template_url)}_{self.copies}"
            )
        return copy_sqlite(self.template_url, self.scratch, f"phase-{self.copies}.db")

    async def discard(self, url: str) -> None:
        if self.name == "postgres":
            await drop_postgres(url)
        else:
            path = Path(url.split("///", 1)[1])
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)


def _database_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?", 1)[0]


async def prepare_backend(name: str, plan: Plan) -> Backend:
    started = time.monotonic()
    scratch = fresh_sqlite("bench-intake")[1]
    if name == "postgres":
        url = await fresh_postgres(plan.pg_url)
        await prepare_demo_database(url)
    else:
        url = await demo_sqlite_template()
    print(f"[{name}] demo county seeded in {time.monotonic() - started:.1f} s", flush=True)
    return Backend(name, url, scratch)


async def start_server(runner: str, url: str, scratch: Path) -> ServerProcess:
    port = free_port()
    log = scratch / f"{runner}-{port}.log"
    if runner == YINGJI:
        command = yingji_command("serve", "--port", str(port))
    else:
        command = [sys.executable, "-m", "bench.baseline_app", "--url", url, "--port", str(port)]
    return await ServerProcess.start(command, yingji_env(url), port, log)


class CpuWatch:
    """CPU seconds of the server and of the PostgreSQL processes between two marks."""

    def __init__(self, server_pid: int, postgres: bool) -> None:
        self.pid, self.postgres = server_pid, postgres
        self.marks: list[tuple[float, float, float]] = []

    def mark(self) -> None:
        pg = cpu_seconds_of_command("postgres") if self.postgres else 0.0
        self.marks.append((time.monotonic(), cpu_seconds(self.pid) or 0.0, pg))

    def figures(self) -> dict[str, float | None]:
        if len(self.marks) < 2:
            return {"server_cpu_pct": None, "postgres_cpu_pct": None}
        (t0, s0, p0), (t1, s1, p1) = self.marks[0], self.marks[-1]
        wall = max(t1 - t0, 1e-6)
        return {
            "server_cpu_pct": round(100 * (s1 - s0) / wall, 1),
            "postgres_cpu_pct": round(100 * (p1 - p0) / wall, 1) if self.postgres else None,
        }


class Generator:
    """The load generator: its own process for the whole run, one phase at a time."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def spawn(cls) -> Generator:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.intake",
            "--role",
            "generator",
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def run(self, load: LoadPlan, watch: CpuWatch) -> dict[str, Any]:
        """One phase; CPU marks when its window opens and when its result comes."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(asdict(load)) + "\n").encode())
        await self.proc.stdin.drain()
        bound = load.warmup + load.duration + 3 * REQUEST_TIMEOUT + 30
        async with asyncio.timeout(bound):
            while line := await self.proc.stdout.readline():
                message = json.loads(line)
                watch.mark()
                if message.pop("event") == "result":
                    result: dict[str, Any] = message
                    return result
        raise RuntimeError(f"the load generator ended (code {await self.proc.wait()})")

    async def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def match_outcomes(url: str) -> dict[str, int]:
    """How Yingji's matching placed the reports of a phase (opened / joined / suggested)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(Report.match_outcome, func.count()).group_by(Report.match_outcome)
                )
            ).all()
    finally:
        await engine.dispose()
    return {str(outcome): int(count) for outcome, count in rows}


async def run_phase(
    backend: Backend, generator: Generator, runner: str, load: LoadPlan
) -> dict[str, Any]:
    """One row: a fresh database copy, a fresh server, one generator run (``load`` with its
    port and token filled in)."""
    url = await backend.fresh_copy()
    server = await start_server(runner, url, backend.scratch)
    try:
        token = await fetch_token(server.port, USERNAME) if runner == YINGJI else "baseline"
        plan = replace(load, port=server.port, token=token)
        watch = CpuWatch(server.pid, backend.name == "postgres")
        figures = await generator.run(plan, watch)
        figures.update(watch.figures())
    finally:
        await server.stop()
    if failures(figures):  # keep what the server said about them (the scratch folder goes)
        kept = ROOT / "var" / "bench" / f"intake-{backend.name}-{load.prefix}-{load.mode}.log"
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(server.log, kept)
        figures["server_log"] = str(kept)
    if runner == YINGJI:
        figures["match_outcomes"] = await match_outcomes(url)
    await backend.discard(url)
    return {"backend": backend.name, "runner": runner, **figures}


async def run_backend(name: str, plan: Plan, generator: Generator) -> list[dict[str, Any]]:
    backend = await prepare_backend(name, plan)
    rows: list[dict[str, Any]] = []
    try:
        for concurrency in plan.concurrency:
            for runner in (YINGJI, BASELINE):
                row = await run_phase(
                    backend,
                    generator,
                    runner,
                    LoadPlan(
                        port=0,
                        token=None,
                        prefix=f"{runner}-c{concurrency}",
                        mode="closed",
                        concurrency=concurrency,
                        warmup=plan.warmup,
                        duration=plan.duration,
                    ),
                )
                row.update(mode="closed", concurrency=concurrency)
                rows.append(row)
                print(format_progress(row), flush=True)
        if plan.open_loop:
            rows.extend(await run_open_loop(backend, generator, plan, rows))
    finally:
        if name == "postgres":
            await drop_postgres(backend.template_url)
        shutil.rmtree(backend.scratch, ignore_errors=True)
    return rows


async def run_open_loop(
    backend: Backend, generator: Generator, plan: Plan, closed: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    best = max((r["per_second"] for r in closed if r["runner"] == YINGJI), default=0.0)
    rate = round(best / 2, 1)
    if rate <= 0:
        return []
    rows = []
    for runner in (YINGJI, BASELINE):
        row = await run_phase(
            backend,
            generator,
            runner,
            LoadPlan(
                port=0,
                token=None,
                prefix=f"{runner}-open",
                mode="open",
                rate=rate,
                warmup=plan.warmup,
                duration=plan.duration,
            ),
        )
        row.update(mode="open", rate=rate)
        rows.append(row)
        print(format_progress(row), flush=True)
    return rows


async def run_plan(plan: Plan) -> dict[str, Any]:
    """Every backend of the plan; returns the report (also written to ``var/bench/intake.json``)."""
    results: list[dict[str, Any]] = []
    generator = await Generator.spawn()
    try:
        for name in plan.backends:
            results.extend(await run_backend(name, plan, generator))
    finally:
        await generator.close()
    report: dict[str, Any] = {
        "benchmark": "intake",
        "generated_at": clock.now().isoformat(),
        "config": {
            "backends": list(plan.backends),
            "concurrency": list(plan.concurrency),
            "duration_s": plan.duration,
            "warmup_s": plan.warmup,
            "quick": plan.quick,
            "cpus": os.cpu_count(),
            "client": "raw HTTP/1.1 keep-alive on uvloop, separate process",
        },
        "results": results,
        "tables": {name: table_rows(results, name) for name in plan.backends},
        "goals": {name: goals(results, name) for name in plan.backends},
    }
    report["path"] = str(write_report("intake", report))
    return report


# --- figures and printing ----------------------------------------------------------------------


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else round(a / b, 2)


def table_rows(results: list[dict[str, Any]], backend: str) -> list[dict[str, Any]]:
    """One line per concurrency (closed loop) and one for the open loop: Yingji beside baseline."""
    mine = [r for r in results if r["backend"] == backend]
    keys = [("closed", r["concurrency"]) for r in mine if r["mode"] == "closed"]
    keys += [("open", r["rate"]) for r in mine if r["mode"] == "open"]
    lines = []
    for mode, level in dict.fromkeys(keys):
        pair = {
            r["runner"]: r
            for r in mine
            if r["mode"] == mode and r.get("concurrency" if mode == "closed" else "rate") == level
        }
        y, b = pair.get(YINGJI), pair.get(BASELINE)
        lines.append(
            {
                "mode": mode,
                "concurrency" if mode == "closed" else "rate": level,
                "yingji": _brief(y),
                "baseline": _brief(b),
                "ratio": _ratio(y["per_second"] if y else None, b["per_second"] if b else None),
            }
        )
    return lines


def _brief(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "per_second": row["per_second"],
        "p50_ms": row["latency_ms"]["p50"],
        "p99_ms": row["latency_ms"]["p99"],
        "errors": sum(failures(row).values()),
        "server_cpu_pct": row.get("server_cpu_pct"),
        "postgres_cpu_pct": row.get("postgres_cpu_pct"),
        "generator_cpu_pct": row.get("generator_cpu_pct"),
    }


def goals(results: list[dict[str, Any]], backend: str) -> dict[str, Any]:
    closed = [r for r in results if r["backend"] == backend and r["mode"] == "closed"]
    best = {
        runner: max((r["per_second"] for r in closed if r["runner"] == runner), default=None)
        for runner in (YINGJI, BASELINE)
    }
    opened = next(
        (
            r
            for r in results
            if r["backend"] == backend and r["mode"] == "open" and r["runner"] == YINGJI
        ),
        None,
    )
    ratio = _ratio(best[YINGJI], best[BASELINE])
    p99 = opened["latency_ms"]["p99"] if opened else None
    return {
        "yingji_max_per_second": best[YINGJI],
        "baseline_max_per_second": best[BASELINE],
        "throughput_ratio": ratio,
        "throughput_ratio_ge_0_6": ratio is not None and ratio >= GOALS["ratio"],
        "open_loop_rate": opened["rate"] if opened else None,
        "open_loop_p99_ms": p99,
        "open_loop_p99_le_50ms": p99 is not None and p99 <= GOALS["p99_ms"],
    }


def _fmt(value: float | None, width: int, digits: int = 1) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width},.{digits}f}"


def failures(row: dict[str, Any]) -> dict[str, int]:
    """Non-2xx answers by status and failed requests by error, in the measured window."""
    found = {k: v for k, v in row["statuses"].items() if not str(k).startswith("2")}
    found.update(row["errors"])
    return found


def format_progress(row: dict[str, Any]) -> str:
    level = f"c={row['concurrency']}" if row["mode"] == "closed" else f"rate={row['rate']}/s"
    late = row["latency_ms"]
    bad = failures(row)
    return (
        f"[{row['backend']}] {row['runner']:<8} {row['mode']:<6} {level:<14} "
        f"{row['per_second']:>8,.1f}/s  p50 {_fmt(late['p50'], 7)} ms  "
        f"p99 {_fmt(late['p99'], 7)} ms  errors {sum(bad.values())}  "
        f"cpu server {row['server_cpu_pct']}% "
        f"pg {row['postgres_cpu_pct']}% generator {row['generator_cpu_pct']}%"
        + (f"  matching {row['match_outcomes']}" if "match_outcomes" in row else "")
        + (f"\n    failed: {bad}; server log kept in {row.get('server_log')}" if bad else "")
    )


HEADER = (
    f"{'load':<14} {'yingji/s':>9} {'p50 ms':>7} {'p99 ms':>8} {'err':>4} "
    f"{'base/s':>9} {'p50 ms':>7} {'p99 ms':>8} {'err':>4} {'ratio':>6}  "
    f"{'cpu% yingji/base/pg/gen':<24}"
)


def format_line(line: dict[str, Any]) -> str:
    level = f"c={line['concurrency']}" if line["mode"] == "closed" else f"open {line['rate']:g}/s"
    cells = []
    for side in (line["yingji"], line["baseline"]):
        if side is None:
            cells.append(f"{'-':>9} {'-':>7} {'-':>8} {'-':>4}")
        else:
            cells.append(
                f"{side['per_second']:>9,.1f} {_fmt(side['p50_ms'], 7)} "
                f"{_fmt(side['p99_ms'], 8)} {side['errors']:>4}"
            )
    y, b = line["yingji"] or {}, line["baseline"] or {}
    cpu = "/".join(
        "-" if v is None else f"{v:.0f}"
        for v in (
            y.get("server_cpu_pct"),
            b.get("server_cpu_pct"),
            y.get("postgres_cpu_pct"),
            max(y.get("generator_cpu_pct") or 0, b.get("generator_cpu_pct") or 0),
        )
    )
    return f"{level:<14} {cells[0]} {cells[1]} {_fmt(line['ratio'], 6, 2)}  {cpu}"


def print_report(report: dict[str, Any]) -> None:
    cfg = report["config"]
    for backend, lines in report["tables"].items():
        print(
            f"\n== {backend}: POST /api/v1/intake/reports, {cfg['duration_s']:g} s measured after "
            f"{cfg['warmup_s']:g} s warm-up, {cfg['cpus']} CPUs =="
        )
        print(HEADER)
        for line in lines:
            print(format_line(line))
        g = report["goals"][backend]
        print(
            f"goals: best yingji {g['yingji_max_per_second']}/s vs baseline "
            f"{g['baseline_max_per_second']}/s = {g['throughput_ratio']}x "
            f"({'ok' if g['throughput_ratio_ge_0_6'] else 'NOT MET'} >= 0.6x); open loop at "
            f"{g['open_loop_rate']}/s: p99 {g['open_loop_p99_ms']} ms "
            f"({'ok' if g['open_loop_p99_le_50ms'] else 'NOT MET'} <= 50 ms)"
        )
    print(
        "\nratio = yingji req/s / baseline req/s; err = non-2xx answers + failed requests in the "
        "window;\ncpu% = share of one core over the window: yingji server / baseline server / "
        "PostgreSQL (yingji run) / load generator (the busier of the two runs)."
    )
    print(f"figures written to {report['path']}")


# --- command line ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.intake",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgres", "both"),
        default=None,
        help="both (sqlite with --quick)",
    )
    parser.add_argument("--duration", type=float, default=None, help="measured seconds (10)")
    parser.add_argument("--warmup", type=float, default=None, help="unmeasured seconds (3)")
    parser.add_argument("--concurrency", default=None, help="closed-loop levels (1,4,16,64)")
    parser.add_argument(
        "--quick", action="store_true", help="SQLite, concurrency 1,4, 1 s after 0.5 s warm-up"
    )
    parser.add_argument("--no-open-loop", action="store_true", help="skip the fixed-rate phase")
    parser.add_argument(
        "--role",
        choices=("coordinator", "generator"),
        default="coordinator",
        help=argparse.SUPPRESS,
    )
    return parser.parse_args(argv)


def plan_from(args: argparse.Namespace) -> Plan:
    quick = bool(args.quick)
    backend = args.backend or ("sqlite" if quick else "both")
    levels = args.concurrency or ("1,4" if quick else "1,4,16,64")
    return Plan(
        backends=("sqlite", "postgres") if backend == "both" else (backend,),
        concurrency=tuple(int(n) for n in levels.split(",") if n.strip()),
        duration=args.duration if args.duration is not None else (1.0 if quick else 10.0),
        warmup=args.warmup if args.warmup is not None else (0.5 if quick else 3.0),
        open_loop=not args.no_open_loop,
        pg_url=os.environ.get("YINGJI_BENCH_DATABASE_URL", DEFAULT_PG_URL),
        quick=quick,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.role == "generator":
        return generator_main()
    plan = plan_from(args)
    report = asyncio.run(run_plan(plan))
    print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
