"""Intake throughput on PostgreSQL (issue 21's goal, replacing decision 0008's ratio): one
``yingji serve`` at a fixed rate, and a second one behind the same database.

``python -m bench.throughput [--rate 100] [--concurrency 16] [--duration 10] [--warmup 3]``

It reuses ``bench.intake``'s demo county, report bodies, load generator (its own process, raw
HTTP/1.1 keep-alive connections) and CPU watch, on a fresh copy of the seeded PostgreSQL
database per phase:

1. *open loop, one process*: reports at ``--rate`` per second to one ``yingji serve``; latency
   from each report's scheduled send time (goal: p99 ≤ 50 ms at ≥ 100 reports/s);
2. *closed loop, one process*: ``--concurrency`` connections sending back to back — the most
   one process takes; and the server's CPU milliseconds per report (decision 0008: 6.4);
3. *closed loop, two processes*: two ``yingji serve`` on two ports over the same database (each
   with its relay and timer worker, as two machines behind a load balancer would run them), the
   generator's connections alternating between them (goal: ≥ 1.6 × phase 2).

The machine's load average is printed beside the figures: on a shared 2-core machine the two
servers, PostgreSQL and the generator compete for the same cores. Results go to stdout and
``var/bench/throughput.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import ServerProcess, cpu_seconds, drop_postgres, fetch_token, write_report
from bench.intake import (
    DEFAULT_PG_URL,
    YINGJI,
    CpuWatch,
    Generator,
    LoadPlan,
    Plan,
    prepare_backend,
    start_server,
)

GOALS = {"rate": 100.0, "p99_ms": 50.0, "scale": 1.6}


async def phase(backend: Any, generator: Generator, servers: int, load: LoadPlan) -> dict[str, Any]:
    """A fresh database copy, ``servers`` fresh ``yingji serve`` on it, one generator run."""
    url = await backend.fresh_copy()
    started: list[ServerProcess] = []
    try:
        for _ in range(servers):
            started.append(await start_server(YINGJI, url, backend.scratch))  # noqa: PERF401 - one at a time, so a failed start stops the others
        token = await fetch_token(started[0].port, "duty_officer")
        ports = tuple(s.port for s in started)
        plan = replace(load, port=ports[0], ports=ports, token=token)
        watch = CpuWatch(started[0].pid, True)
        before = [cpu_seconds(s.pid) or 0.0 for s in started]
        figures = await generator.run(plan, watch)
        after = [cpu_seconds(s.pid) or 0.0 for s in started]
        figures.update(watch.figures())
    finally:
        for server in started:
            await server.stop()
        await backend.discard(url)
    if any(int(status) >= 500 for status in figures.get("statuses", {})):
        figures["server_errors"] = [error for s in started for error in server_errors(s.log)]
    answered = sum(figures.get("statuses", {}).values()) or 1
    cpu = sum(a - b for a, b in zip(after, before, strict=True))
    figures["servers"] = servers
    figures["server_cpu_ms_per_report"] = round(1000 * cpu / answered, 2)
    return figures


def server_errors(log: Path, keep: int = 3) -> list[str]:
    """The first ``keep`` logged errors of a server (each with its traceback's last line), so a
    5xx the generator counted says what it was."""
    if not log.exists():
        return []
    lines = log.read_text(errors="replace").splitlines()
    found = []
    for n, line in enumerate(lines):
        if "ERROR" in line or "Traceback" in line:
            tail = next(
                (x for x in lines[n + 1 : n + 80] if x and not x.startswith((" ", "Traceback"))),
                "",
            )
            found.append(f"{line.strip()} … {tail.strip()}")
            if len(found) == keep:
                break
    return found


async def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = Plan(
        backends=("postgres",),
        concurrency=(args.concurrency,),
        duration=args.duration,
        warmup=args.warmup,
        pg_url=os.environ.get("YINGJI_BENCH_DATABASE_URL", DEFAULT_PG_URL),
    )
    backend = await prepare_backend("postgres", plan)
    generator = await Generator.spawn()
    base = LoadPlan(
        port=0, token=None, prefix="t", mode="closed", warmup=args.warmup, duration=args.duration
    )
    rows: dict[str, dict[str, Any]] = {}
    try:
        rows["open_1"] = await phase(
            backend, generator, 1, replace(base, prefix="open1", mode="open", rate=args.rate)
        )
        closed = replace(base, concurrency=args.concurrency)
        rows["closed_1"] = await phase(backend, generator, 1, replace(closed, prefix="c1"))
        rows["closed_2"] = await phase(backend, generator, 2, replace(closed, prefix="c2"))
    finally:
        await generator.close()
        await drop_postgres(backend.template_url)
        shutil.rmtree(backend.scratch, ignore_errors=True)
    one, two = rows["closed_1"]["per_second"], rows["closed_2"]["per_second"]
    data = {
        "rate": args.rate,
        "concurrency": args.concurrency,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "phases": rows,
        "scale_two_processes": round(two / one, 2) if one else None,
    }
    data["path"] = str(write_report("throughput", data))
    return data


def print_figures(data: dict[str, Any]) -> None:
    opened = data["phases"]["open_1"]
    lat = opened["latency_ms"]
    print(f"load average {tuple(round(x, 1) for x in data['load_average'])} on {data['cpus']} CPUs")
    print(
        f"open loop, 1 process at {data['rate']}/s: {opened['per_second']}/s answered, "
        f"p50 {lat['p50']} ms, p99 {lat['p99']} ms (goal ≥ {GOALS['rate']:.0f}/s with p99 ≤ "
        f"{GOALS['p99_ms']:.0f} ms); statuses {opened.get('statuses')}"
    )
    for key in ("closed_1", "closed_2"):
        row = data["phases"][key]
        print(
            f"closed loop c={data['concurrency']}, {row['servers']} process(es): "
            f"{row['per_second']} reports/s, p99 {row['latency_ms']['p99']} ms, server CPU "
            f"{row['server_cpu_ms_per_report']} ms per report; statuses {row.get('statuses')}"
        )
    for key, row in data["phases"].items():
        for error in row.get("server_errors", []):
            print(f"  {key}: server error: {error}")
    print(f"two processes / one: {data['scale_two_processes']} × (goal ≥ {GOALS['scale']})")
    print(f"written {data['path']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    data = asyncio.run(run(parser.parse_args(argv)))
    print_figures(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
