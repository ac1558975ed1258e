"""Benchmark of the five KPIs (五个100%): ``dispatch.kpi.unit_kpis`` against hand-written SQL.

``python -m bench.kpi [--orders 500000] [--units 500] [--runs 5] [--url URL] [--keep]``

On PostgreSQL only: the scratch database ``yingji_bench_kpi`` is dropped, created and migrated
(``yingji.core.migrate.upgrade``), then a year (2025 in Beijing time) of ``--orders`` orders is
written with COPY over demo-like units: 92 departments in three tiers, 19 towns and a few rescue
teams (tier 1), the rest village service centres (tier 2), each unit with a skewed share of the
orders. About 3 % of orders are returned, 2 % transferred (most after signing), 1 % cancelled,
about 1 % still open; stages are late at realistic rates (lognormal delays); 1 % of the rows lack
the ``*_late`` flags (judged by their deadlines). Incidents carry 1–5 orders; most are closed, and
most closed incidents have a callback (a few unreachable, a few not answered, a few pending).

Then ``unit_kpis`` for every unit over the year (scope: everything) is timed — one warm-up, then
the median of ``--runs`` — and in the same run a plain SQL statement written by hand (PostgreSQL
``FILTER`` clauses, one statement with a full join of the order and callback aggregates)
computing the same figures. Both must give identical numbers. Printed: both medians and the ratio
(goal ≤ 1.5). ``build_bulletin`` for one month is timed too, for information. The figures go to
``var/bench/kpi.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.common import drop_postgres, fresh_postgres, write_report
from yingji.core import clock, migrate
from yingji.core.clock import LOCAL_TZ
from yingji.core.db import Database
from yingji.core.security import Scope
from yingji.dispatch import bulletin, kpi

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1/yingji_bench_kpi"
SINCE = datetime(2025, 1, 1, tzinfo=LOCAL_TZ).astimezone(UTC)
UNTIL = datetime(2026, 1, 1, tzinfo=LOCAL_TZ).astimezone(UTC)
PROVINCE, COUNTY = "330000", "331126"
TOWNS = 19
DEPARTMENT_TIERS = (30, 35, 27)  # 92 departments: tier 1, 2, 3
RESCUE_TEAMS = 8
SIGN, ARRIVE, FEEDBACK, COMPLETE = 30, 60, 120, 24 * 60  # minutes allowed


@dataclass
class Unit:
    id: uuid.UUID
    code: str
    name: str
    kind: str
    tier: int
    adcode: str
    path: str
    weight: float


@dataclass
class Generated:
    units: list[Unit] = field(default_factory=list)
    divisions: list[tuple[str, str, str, str | None, str]] = field(default_factory=list)
    incidents: list[tuple[Any, ...]] = field(default_factory=list)
    orders: list[tuple[Any, ...]] = field(default_factory=list)
    callbacks: list[tuple[Any, ...]] = field(default_factory=list)


# --- the jurisdiction ----------------------------------------------------------------------------


def make_units(count: int, rnd: random.Random) -> Generated:
    """Divisions (county, towns, villages) and ``count`` units shaped like the demo's."""
    data = Generated()
    county_path = f"{PROVINCE}/{COUNTY}/"
    data.divisions += [
        (PROVINCE, "浙江省", "province", None, f"{PROVINCE}/"),
        (COUNTY, "庆元县", "county", PROVINCE, county_path),
    ]
    towns = []
    for t in range(1, TOWNS + 1):
        adcode = f"{COUNTY}{100 + t:03d}000"
        towns.append((adcode, f"{county_path}{adcode}/"))
        data.divisions.append((adcode, f"第{t}镇", "town", COUNTY, towns[-1][1]))

    def add(code: str, name: str, kind: str, tier: int, adcode: str, path: str, w: float) -> None:
        data.units.append(Unit(uuid.uuid4(), code, name, kind, tier, adcode, path, w))

    number = 0
    for tier, n in enumerate(DEPARTMENT_TIERS, start=1):
        for _ in range(n):
            number += 1
            weight = rnd.paretovariate(1.2) * (3.0 if tier == 1 else 1.5 if tier == 2 else 0.6)
            add(f"D{number:03d}", f"县部门{number:03d}", "department", tier, COUNTY, county_path,
                weight)  # fmt: skip
    for t, (adcode, path) in enumerate(towns, start=1):
        add(f"T{t:02d}", f"第{t}镇人民政府", "town", 1, adcode, path, 4.0)
    for r in range(1, RESCUE_TEAMS + 1):
        add(f"R{r:02d}", f"救援队{r:02d}", "rescue_team", 1, COUNTY, county_path, 1.0)
    villages = max(count - len(data.units), 0)
    for v in range(villages):
        town_adcode, town_path = towns[v % TOWNS]
        adcode = f"{town_adcode[:9]}{v // TOWNS + 1:03d}"
        path = f"{town_path}{adcode}/"
        data.divisions.append((adcode, f"村{v:03d}", "village", town_adcode, path))
        add(f"V{v:03d}", f"村{v:03d}便民服务中心", "village", 2, adcode, path, 0.3)
    del data.units[count:]
    return data


# --- a year of incidents, orders and callbacks ---------------------------------------------------


def delay(rnd: random.Random, median: float, sigma: float) -> float:
    return rnd.lognormvariate(math.log(median), sigma)


def late(done: datetime | None, due: datetime | None, legacy: bool) -> bool | None:
    if legacy or done is None or due is None:
        return None
    return done > due


def make_order(
    rnd: random.Random, incident_id: uuid.UUID, path: str, unit: Unit, issued: datetime
) -> tuple[tuple[Any, ...], datetime | None]:
    """One order row (in ``ORDER_COLUMNS`` order) and when it was completed (None: not)."""
    presence = rnd.random() < 0.8
    sign_due, complete_due = issued + timedelta(minutes=SIGN), issued + timedelta(minutes=COMPLETE)
    arrive_due = issued + timedelta(minutes=ARRIVE) if presence else None
    fate = rnd.random()
    stage = "completed"
    signed_at = issued + timedelta(minutes=delay(rnd, 9, 0.8))
    signed: datetime | None = signed_at
    arrived: datetime | None = (
        signed_at + timedelta(minutes=delay(rnd, 25, 0.5)) if presence else None
    )
    completed: datetime | None = signed_at + timedelta(minutes=delay(rnd, 360, 0.9))
    returned_at: datetime | None = None
    if fate < 0.03:  # returned unsigned
        stage, signed, arrived, completed = "returned", None, None, None
        returned_at = issued + timedelta(minutes=delay(rnd, 15, 0.6))
    elif fate < 0.05:  # transferred, mostly after signing
        stage, arrived, completed = "transferred", None, None
        signed = signed if rnd.random() < 0.7 else None
    elif fate < 0.06:  # cancelled by the centre
        stage, arrived, completed = "cancelled", None, None
        signed = signed if rnd.random() < 0.5 else None
    elif fate < 0.07 or (completed is not None and completed >= UNTIL):  # still open
        stage, completed = ("arrived" if arrived else "signed"), None
        if rnd.random() < 0.3:
            stage, signed, arrived = "issued", None, None
    feedback = 0 if rnd.random() < 0.15 or signed is None else 1 + int(rnd.expovariate(0.7))
    first_feedback = signed + timedelta(minutes=20) if feedback and signed else None
    legacy = rnd.random() < 0.01
    row = (
        uuid.uuid4(), incident_id, path, unit.id, unit.id, "lead", stage, "bench", presence,
        issued, sign_due, arrive_due, issued + timedelta(minutes=FEEDBACK), complete_due,
        signed, arrived, first_feedback, first_feedback, feedback, completed, returned_at,
        late(signed, sign_due, legacy), late(arrived, arrive_due, legacy),
        late(completed, complete_due, legacy), completed or signed or issued,
    )  # fmt: skip
    return row, completed


ORDER_COLUMNS = (
    "id", "incident_id", "division_path", "unit_id", "responsible_unit_id", "role", "stage",
    "chosen_by", "needs_presence", "issued_at", "sign_due_at", "arrive_due_at", "feedback_due_at",
    "complete_due_at", "signed_at", "arrived_at", "first_feedback_at", "last_feedback_at",
    "feedback_count", "completed_at", "returned_at", "sign_late", "arrive_late", "complete_late",
    "updated_at",
)  # fmt: skip
INCIDENT_COLUMNS = (
    "id", "number", "title", "level", "state", "division_adcode", "division_path",
    "first_reported_at", "last_reported_at", "report_count", "dead", "injured", "missing",
    "trapped", "closed_at", "created_at", "updated_at",
)  # fmt: skip
CALLBACK_COLUMNS = (
    "id", "incident_id", "division_path", "created_at", "done_at", "reachable", "reached",
    "satisfied",
)  # fmt: skip


def make_callback(
    rnd: random.Random, incident_id: uuid.UUID, path: str, closed: datetime
) -> tuple[Any, ...] | None:
    fate = rnd.random()
    if fate < 0.04:
        return None  # never opened
    done = closed + timedelta(hours=delay(rnd, 20, 0.6))
    if fate < 0.09:
        return (uuid.uuid4(), incident_id, path, closed, None, None, None, None)  # pending
    reachable = rnd.random() > 0.06
    reached = reachable and rnd.random() > 0.05
    satisfied = (rnd.random() > 0.08) if reached else None
    return (uuid.uuid4(), incident_id, path, closed, done, reachable, reached, satisfied)


def incidents_and_orders(data: Generated, orders: int, rnd: random.Random) -> None:
    villages = [u for u in data.units if u.kind == "village"]
    towns = [u for u in data.units if u.kind == "town"]
    places = villages or towns
    weights = [u.weight for u in data.units]
    span = (UNTIL - SINCE).total_seconds()
    number = 0
    while len(data.orders) < orders:
        number += 1
        place = rnd.choice(places)
        reported = SINCE + timedelta(seconds=rnd.random() * span)
        incident_id = uuid.uuid4()
        last_done: datetime | None = reported
        chosen = rnd.choices(data.units, weights=weights, k=min(rnd.randint(1, 4), 4))
        if place.kind == "village" and rnd.random() < 0.5:
            chosen.append(place)
        for unit in chosen[: orders - len(data.orders)]:
            issued = reported + timedelta(minutes=rnd.uniform(2, 20))
            row, completed = make_order(rnd, incident_id, place.path, unit, issued)
            data.orders.append(row)
            if row[6] in kpi.LIVE_STAGES:
                last_done = (
                    None if completed is None or last_done is None else max(last_done, completed)
                )
        closed = last_done + timedelta(hours=delay(rnd, 3, 0.7)) if last_done else None
        if closed is not None and (closed >= UNTIL or rnd.random() < 0.03):
            closed = None
        state = "closed" if closed else "responding"
        data.incidents.append(
            (incident_id, f"B{number:08d}", f"事件{number}", "IV", state, place.adcode, place.path,
             reported, reported, 1, 0, 0, 0, 0, closed, reported, closed or reported)
        )  # fmt: skip
        if closed is not None and (callback := make_callback(rnd, incident_id, place.path, closed)):
            data.callbacks.append(callback)


async def write(url: str, data: Generated) -> None:
    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username, password=u.password,
        database=u.database,
    )  # fmt: skip
    now = clock.now()
    try:
        await conn.copy_records_to_table(
            "division",
            records=[(a, n, lvl, p, path, now, now) for a, n, lvl, p, path in data.divisions],
            columns=("adcode", "name", "level", "parent_adcode", "path", "created_at",
                     "updated_at"),
        )  # fmt: skip
        await conn.copy_records_to_table(
            "linkage_unit",
            records=[(x.id, x.code, x.name, x.kind, x.tier, x.adcode, x.path, True, now, now)
                     for x in data.units],
            columns=("id", "code", "name", "kind", "tier", "division_adcode", "division_path",
                     "active", "created_at", "updated_at"),
        )  # fmt: skip
        for table, rows, columns in (
            ("incident", data.incidents, INCIDENT_COLUMNS),
            ("dispatch_order", data.orders, ORDER_COLUMNS),
            ("incident_callback", data.callbacks, CALLBACK_COLUMNS),
        ):
            await conn.copy_records_to_table(table, records=rows, columns=columns)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


# --- the baseline: the same figures in hand-written SQL ------------------------------------------

BASELINE_SQL = """
WITH o AS (
    SELECT unit_id,
        count(*) AS orders,
        count(*) FILTER (WHERE stage = 'returned') AS returned,
        count(*) FILTER (WHERE stage = 'transferred') AS transferred,
        count(*) FILTER (WHERE stage = 'cancelled') AS cancelled,
        count(*) FILTER (WHERE stage IN ('issued', 'signed', 'arrived', 'completed')
                         OR signed_at IS NOT NULL) AS acceptance_den,
        count(signed_at) AS acceptance_num,
        count(*) FILTER (WHERE needs_presence AND (arrived_at IS NOT NULL
                         OR stage IN ('issued', 'signed', 'arrived', 'completed'))) AS turnout_den,
        count(*) FILTER (WHERE needs_presence AND arrived_at IS NOT NULL) AS turnout_num,
        count(signed_at)
          + count(*) FILTER (WHERE arrived_at IS NOT NULL
                             AND (arrive_late IS NOT NULL OR arrive_due_at IS NOT NULL))
          + count(completed_at) AS punctuality_den,
        count(*) FILTER (WHERE signed_at IS NOT NULL AND NOT coalesce(sign_late,
                                                                      signed_at > sign_due_at))
          + count(*) FILTER (WHERE arrived_at IS NOT NULL AND arrive_due_at IS NOT NULL
                             AND NOT coalesce(arrive_late, arrived_at > arrive_due_at))
          + count(*) FILTER (WHERE arrived_at IS NOT NULL AND arrive_due_at IS NULL
                             AND arrive_late = false)
          + count(*) FILTER (WHERE completed_at IS NOT NULL
                             AND NOT coalesce(complete_late, completed_at > complete_due_at))
          AS punctuality_num,
        count(*) FILTER (WHERE feedback_count > 0
                         OR stage IN ('issued', 'signed', 'arrived', 'completed')) AS feedback_den,
        count(*) FILTER (WHERE feedback_count > 0) AS feedback_num
    FROM dispatch_order
    WHERE issued_at >= :since AND issued_at < :until
    GROUP BY unit_id
), pairs AS (
    SELECT DISTINCT d.unit_id, d.incident_id
    FROM dispatch_order d JOIN incident i ON i.id = d.incident_id
    WHERE i.closed_at >= :since AND i.closed_at < :until AND i.state IN ('closed', 'archived')
      AND (d.stage IN ('issued', 'signed', 'arrived', 'completed') OR d.signed_at IS NOT NULL)
), c AS (
    SELECT p.unit_id,
        count(*) FILTER (WHERE cb.reachable IS DISTINCT FROM false) AS callback_den,
        count(*) FILTER (WHERE cb.done_at IS NOT NULL AND cb.reachable AND cb.reached)
          AS callback_num
    FROM pairs p LEFT JOIN incident_callback cb ON cb.incident_id = p.incident_id
    GROUP BY p.unit_id
)
SELECT u.id, u.code, u.name, u.tier,
    coalesce(o.orders, 0), coalesce(o.returned, 0), coalesce(o.transferred, 0),
    coalesce(o.cancelled, 0),
    coalesce(o.acceptance_num, 0), coalesce(o.acceptance_den, 0),
    coalesce(o.turnout_num, 0), coalesce(o.turnout_den, 0),
    coalesce(o.punctuality_num, 0), coalesce(o.punctuality_den, 0),
    coalesce(o.feedback_num, 0), coalesce(o.feedback_den, 0),
    coalesce(c.callback_num, 0), coalesce(c.callback_den, 0)
FROM o FULL JOIN c ON c.unit_id = o.unit_id
JOIN linkage_unit u ON u.id = coalesce(o.unit_id, c.unit_id)
"""

Figures = dict[uuid.UUID, tuple[Any, ...]]


def figures_of_kpis(units: list[kpi.UnitKpi]) -> Figures:
    return {
        u.unit_id: (
            u.code, u.name, u.tier, u.orders, u.returned, u.transferred, u.cancelled,
            *(n for r in u.ratios() for n in (r.numerator, r.denominator)),
        )
        for u in units
    }  # fmt: skip


async def run_kpis(db: Database) -> Figures:
    async with db.unit_of_work(readonly=True) as session:
        units = await kpi.unit_kpis(
            session=session, since=SINCE, until=UNTIL, scope=Scope(everything=True)
        )
    return figures_of_kpis(units)


async def run_baseline(db: Database) -> Figures:
    async with db.unit_of_work(readonly=True) as session:
        rows = await session.execute(text(BASELINE_SQL), {"since": SINCE, "until": UNTIL})
        return {row[0]: tuple(int(v) if isinstance(v, int) else v for v in row[1:]) for row in rows}


async def run_bulletin(db: Database) -> Figures:
    async with db.unit_of_work(readonly=True) as session:
        made = await bulletin.build_bulletin(
            session=session, month="2025-07", scope=Scope(everything=True)
        )
    return {r.unit.unit_id: (r.rank,) for r in made.ranking}


async def timed(fn: Callable[[], Awaitable[Figures]], runs: int) -> tuple[list[float], Figures]:
    result = await fn()  # warm-up
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        result = await fn()
        seconds.append(time.perf_counter() - start)
    return seconds, result


async def main(args: argparse.Namespace) -> int:
    url = await fresh_postgres(args.url)
    try:
        return await measure(url, args)
    finally:
        if not args.keep:
            await drop_postgres(url)


async def measure(url: str, args: argparse.Namespace) -> int:
    await asyncio.to_thread(migrate.upgrade, url)
    rnd = random.Random(20250101)
    start = time.perf_counter()
    data = make_units(args.units, rnd)
    incidents_and_orders(data, args.orders, rnd)
    generated = time.perf_counter() - start
    await write(url, data)
    loaded = time.perf_counter() - start - generated
    print(
        f"generated {len(data.orders):,} orders, {len(data.incidents):,} incidents, "
        f"{len(data.callbacks):,} callbacks over {len(data.units)} units in {generated:.1f} s; "
        f"COPY + ANALYZE {loaded:.1f} s"
    )
    db = Database(url)
    try:
        kpi_times, ours = await timed(lambda: run_kpis(db), args.runs)
        base_times, theirs = await timed(lambda: run_baseline(db), args.runs)
        bulletin_times, _ = await timed(lambda: run_bulletin(db), args.runs)
    finally:
        await db.dispose()
    same = ours == theirs
    if not same:
        differing = [k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k)]
        print(f"MISMATCH on {len(differing)} units, e.g. {ours.get(differing[0])} vs "
              f"{theirs.get(differing[0])}", file=sys.stderr)  # fmt: skip
    kpi_median, base_median = statistics.median(kpi_times), statistics.median(base_times)
    ratio = kpi_median / base_median
    print(f"unit_kpis (SQLAlchemy, {len(ours)} units): median {kpi_median * 1000:.1f} ms")
    print(f"hand-written SQL baseline:            median {base_median * 1000:.1f} ms")
    print(f"ratio {ratio:.2f}x (goal <= 1.5x); identical figures: {same}")
    print(f"build_bulletin one month (2025-07):   median "
          f"{statistics.median(bulletin_times) * 1000:.1f} ms")  # fmt: skip
    path = write_report(
        "kpi",
        {
            "orders": len(data.orders),
            "incidents": len(data.incidents),
            "callbacks": len(data.callbacks),
            "units": len(data.units),
            "units_with_figures": len(ours),
            "runs": args.runs,
            "unit_kpis_seconds": kpi_times,
            "baseline_seconds": base_times,
            "bulletin_month_seconds": bulletin_times,
            "unit_kpis_median_seconds": kpi_median,
            "baseline_median_seconds": base_median,
            "ratio": ratio,
            "goal_ratio": 1.5,
            "identical": same,
            "generate_seconds": generated,
            "load_seconds": loaded,
        },
    )
    print(f"report: {path}")
    return 0 if same else 1


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=500_000)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
