"""The five KPIs (五个100%) per unit, per tier and in total, against hand-computed figures.

The scenario (``build_scenario``) is July 2026 in Beijing time, i.e. the UTC period
[2026-06-30 16:00, 2026-07-31 16:00). Most orders are issued at T = 2026-07-10 02:00 UTC with the
deadlines sign T+30, arrive T+60, complete T+240 (minutes). Units and tiers:

    F  消防救援大队 tier 1 (county)      W  县水务局 tier 2 (county, never needs presence)
    TA 甲镇人民政府 tier 2 (town A)      TB 乙镇<人民>&政府 tier 2 (town B)
    C  县民政局 tier 3 (county)          D  县交通局 tier 3 (county)
    X  县档案馆 tier 3 (no orders at all: never listed)

Incidents: I1 (town A) closed in July, called back, reporter reachable; I2 (town A) closed,
callback found the reporter unreachable; I3 (town A) open; I4 (town B) open; I5 (town B) closed
exactly at the period's start, called back; I6 (town B) open; I7 (town B) closed, called but
nobody answered; I8 (town B) closed exactly at the period's end (outside), called back; I9
(town B) closed, no callback yet.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_division, make_user, square
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.security import Scope
from yingji.dispatch import kpi
from yingji.dispatch.kpi import Ratio, TierKpi, UnitKpi
from yingji.dispatch.models import Callback, Order
from yingji.incidents import service as incidents
from yingji.incidents.models import Incident
from yingji.org import service as org
from yingji.org.models import LinkageUnit

SINCE = datetime(2026, 6, 30, 16, 0, tzinfo=UTC)  # 2026-07-01 00:00 Beijing
UNTIL = datetime(2026, 7, 31, 16, 0, tzinfo=UTC)  # 2026-08-01 00:00 Beijing
T = datetime(2026, 7, 10, 2, 0, tzinfo=UTC)
COUNTY, TOWN_A, TOWN_B = "331126", "331126101000", "331126102000"
EVERYTHING = Scope(everything=True)
UNITS = {
    "F": ("消防救援大队", 1, COUNTY),
    "W": ("县水务局", 2, COUNTY),
    "TA": ("甲镇人民政府", 2, TOWN_A),
    "TB": ("乙镇<人民>&政府", 2, TOWN_B),
    "C": ("县民政局", 3, COUNTY),
    "D": ("县交通局", 3, COUNTY),
    "X": ("县档案馆", 3, COUNTY),
}


@dataclass
class Scenario:
    units: dict[str, uuid.UUID] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def make_order(
    incident: Incident,
    unit_id: uuid.UUID,
    *,
    stage: str,
    issued_at: datetime = T,
    sign: float | None = None,
    arrive: float | None = None,
    complete: float | None = None,
    feedback: int = 0,
    needs_presence: bool = True,
    flags: bool = True,
) -> Order:
    """An order issued at ``issued_at``; ``sign``/``arrive``/``complete`` are minutes after it
    (None: not done). Late flags follow the deadlines unless ``flags`` is False (then None, as
    rows written before the flags existed)."""

    def at(offset: float | None) -> datetime | None:
        return None if offset is None else issued_at + minutes(offset)

    def late(offset: float | None, due: float | None) -> bool | None:
        if not flags or offset is None or due is None:
            return None
        return offset > due

    arrive_due = 60 if needs_presence else None
    return Order(
        incident_id=incident.id,
        division_path=incident.division_path,
        unit_id=unit_id,
        responsible_unit_id=unit_id,
        role="lead",
        stage=stage,
        chosen_by="test",
        needs_presence=needs_presence,
        issued_at=issued_at,
        sign_due_at=issued_at + minutes(30),
        arrive_due_at=at(arrive_due),
        feedback_due_at=issued_at + minutes(120),
        complete_due_at=issued_at + minutes(240),
        signed_at=at(sign),
        arrived_at=at(arrive),
        completed_at=at(complete),
        first_feedback_at=issued_at + minutes(15) if feedback else None,
        last_feedback_at=issued_at + minutes(15) if feedback else None,
        feedback_count=feedback,
        sign_late=late(sign, 30),
        arrive_late=late(arrive, arrive_due),
        complete_late=late(complete, 240),
        updated_at=issued_at,
    )


async def make_incident(
    session: AsyncSession,
    title: str,
    division: str,
    *,
    closed_at: datetime | None = None,
    callback: dict[str, Any] | None = None,
) -> Incident:
    path = f"330000/{COUNTY}/" + ("" if division == COUNTY else f"{division}/")
    incident = await incidents.create_incident(
        session=session,
        values={
            "title": title,
            "level": "IV",
            "division_adcode": division,
            "division_path": path,
            "first_reported_at": T - timedelta(days=1),
            "last_reported_at": T - timedelta(days=1),
        },
    )
    if closed_at is not None:
        incident.state, incident.closed_at = "closed", closed_at
    else:
        incident.state = "responding"
    if callback is not None:
        session.add(
            Callback(
                incident_id=incident.id,
                division_path=path,
                created_at=closed_at or T,
                **callback,
            )
        )
    return incident


DONE_REACHABLE = {"done_at": T + timedelta(days=25), "reachable": True, "reached": True}
DONE_NOT_REACHED = {"done_at": T + timedelta(days=25), "reachable": True, "reached": False}
DONE_UNREACHABLE = {"done_at": T + timedelta(days=25), "reachable": False, "reached": False}
CLOSED = T + timedelta(days=1)


async def make_places(db: Database) -> None:
    await make_division(db, "330000", name="浙江省", level="province")
    await make_division(db, COUNTY, name="庆元县", level="county", parent="330000")
    for adcode, name, lon in ((TOWN_A, "甲镇", 119.0), (TOWN_B, "乙镇", 119.1)):
        await make_division(db, adcode, name=name, parent=COUNTY, boundary=square(lon, 27.5, 0.1))


async def build_scenario(db: Database) -> Scenario:
    await make_places(db)
    scenario = Scenario()
    async with db.unit_of_work() as session:
        for code, (name, tier, division) in UNITS.items():
            unit: LinkageUnit = await org.create_unit(
                session=session,
                data={"code": code, "name": name, "kind": "department", "tier": tier,
                      "division_adcode": division},
            )  # fmt: skip
            scenario.units[code] = unit.id
        inc = scenario.incidents
        inc["I1"] = await make_incident(session, "甲镇仓库火灾", TOWN_A, closed_at=CLOSED,
                                        callback=DONE_REACHABLE)  # fmt: skip
        inc["I2"] = await make_incident(session, "甲镇道路塌陷", TOWN_A, closed_at=CLOSED,
                                        callback=DONE_UNREACHABLE)  # fmt: skip
        inc["I3"] = await make_incident(session, "甲镇山体滑坡", TOWN_A)
        inc["I4"] = await make_incident(session, "乙镇河道漫堤", TOWN_B)
        inc["I5"] = await make_incident(session, "乙镇燃气泄漏", TOWN_B, closed_at=SINCE,
                                        callback=DONE_REACHABLE)  # fmt: skip
        inc["I6"] = await make_incident(session, "乙镇树木倒伏", TOWN_B)
        inc["I7"] = await make_incident(session, "乙镇停电", TOWN_B, closed_at=CLOSED,
                                        callback=DONE_NOT_REACHED)  # fmt: skip
        inc["I8"] = await make_incident(session, "乙镇积水", TOWN_B, closed_at=UNTIL,
                                        callback=DONE_REACHABLE)  # fmt: skip
        inc["I9"] = await make_incident(session, "乙镇路灯损坏", TOWN_B, closed_at=CLOSED)
        await session.flush()
        u = scenario.units
        orders = {
            # F — 消防救援大队, tier 1
            "f1": make_order(inc["I1"], u["F"], stage="completed", sign=10, arrive=50,
                             complete=200, feedback=2),
            "f2": make_order(inc["I2"], u["F"], stage="completed", sign=40, arrive=70,
                             complete=230, feedback=1),
            "f3": make_order(inc["I3"], u["F"], stage="signed", sign=20),
            "f4": make_order(inc["I3"], u["F"], stage="issued"),
            "f5": make_order(inc["I4"], u["F"], stage="transferred", sign=5),
            "f6": make_order(inc["I7"], u["F"], stage="returned"),
            "f7": make_order(inc["I4"], u["F"], stage="cancelled"),
            # W — 县水务局, tier 2, no presence needed
            "w1": make_order(inc["I4"], u["W"], stage="completed", sign=10, complete=100,
                             feedback=1, needs_presence=False),
            "w2": make_order(inc["I4"], u["W"], stage="completed", sign=25, complete=300,
                             needs_presence=False),
            # TA — 甲镇人民政府, tier 2; a2 has no late flags (judged by its deadlines)
            "a1": make_order(inc["I3"], u["TA"], stage="arrived", sign=15, arrive=45),
            "a2": make_order(inc["I3"], u["TA"], stage="completed", sign=35, arrive=55,
                             complete=100, flags=False),
            # TB — 乙镇<人民>&政府, tier 2: b1 before the period, b2 at its end, b3 at its start
            "b1": make_order(inc["I5"], u["TB"], stage="completed", sign=1, arrive=2,
                             complete=3, issued_at=SINCE - minutes(60)),
            "b2": make_order(inc["I6"], u["TB"], stage="issued", issued_at=UNTIL),
            "b3": make_order(inc["I6"], u["TB"], stage="completed", sign=10, arrive=50,
                             complete=200, feedback=1, issued_at=SINCE),
            # C — 县民政局 and D — 县交通局, tier 3, all on time
            "c1": make_order(inc["I1"], u["C"], stage="completed", sign=10, arrive=50,
                             complete=200, feedback=1),
            "c2": make_order(inc["I7"], u["C"], stage="completed", sign=10, arrive=50,
                             complete=200, feedback=1),
            "c3": make_order(inc["I9"], u["C"], stage="completed", sign=10, arrive=50,
                             complete=200, feedback=1),
            "d1": make_order(inc["I1"], u["D"], stage="completed", sign=10, arrive=50,
                             complete=200, feedback=1),
            "d2": make_order(inc["I8"], u["D"], stage="completed", sign=10, arrive=50,
                             complete=200, feedback=1),
        }  # fmt: skip
        session.add_all(orders.values())
        scenario.orders = orders
    return scenario


def r(numerator: int, denominator: int) -> Ratio:
    return Ratio.of(numerator, denominator)


def rates(figures: kpi.KpiFigures) -> tuple[Ratio, ...]:
    return figures.ratios()


def by_code(units: list[UnitKpi]) -> dict[str, UnitKpi]:
    return {u.code: u for u in units}


async def test_unit_kpis_equal_the_hand_computed_figures(db: Database, clock: ManualClock) -> None:
    await build_scenario(db)
    async with db.unit_of_work(readonly=True) as session:
        units = by_code(
            await kpi.unit_kpis(session=session, since=SINCE, until=UNTIL, scope=EVERYTHING)
        )
    # X has no orders; b1 (before) and b2 (at the end) are outside, so TB has only b3
    assert sorted(units) == ["C", "D", "F", "TA", "TB", "W"]

    f = units["F"]
    assert (f.orders, f.returned, f.transferred, f.cancelled) == (7, 1, 1, 1)
    assert (f.name, f.tier) == ("消防救援大队", 1)
    # 受理率: accountable = live f1 f2 f3 f4 + f5 (transferred after signing); f6 returned and
    #   f7 cancelled unsigned do not count. signed = f1 f2 f3 f5          → 4/5
    # 出勤率: needing presence and live (f1–f4) or arrived; arrived = f1 f2 → 2/4
    # 准点率: stages done: f1 sign/arrive/complete (3 on time), f2 sign late, arrive late,
    #   complete on time (1 of 3), f3 sign (on time), f5 sign (on time)   → 6/8
    # 反馈率: live f1–f4 (+ no ended order with feedback); with feedback f1 f2 → 2/4
    # 回访率: I1 (f1) called back; I2 (f2) reporter unreachable, left out; I7 only through f6,
    #   returned unsigned, so not F's                                    → 1/1
    assert rates(f) == (r(4, 5), r(2, 4), r(6, 8), r(2, 4), r(1, 1))
    assert f.score == (0.8 + 0.5 + 0.75 + 0.5 + 1.0) / 5

    w = units["W"]
    # 受理率 2/2; 出勤率 no order needs presence → 0/0 (None); 准点率: w1 sign + complete on
    # time, w2 sign on time, complete late (T+300 > T+240) → 3/4; 反馈率 w1 only → 1/2;
    # 回访率: I4 is open → 0/0 (None)
    assert rates(w) == (r(2, 2), r(0, 0), r(3, 4), r(1, 2), r(0, 0))
    assert w.turnout.rate is None and w.callback.rate is None
    assert w.score == (1 + 0.75 + 0.5) / 3  # the rates without data are left out

    ta = units["TA"]
    # a2 has no flags: sign at T+35 after T+30 is late, arrive and complete in time.
    # 准点率: a1 sign + arrive (2/2), a2 (2/3) → 4/5; 反馈率 0/2; 回访率: I3 open → None
    assert rates(ta) == (r(2, 2), r(2, 2), r(4, 5), r(0, 2), r(0, 0))

    tb = units["TB"]
    # only b3 (issued exactly at the start); 回访率 through b1, whose incident I5 closed
    # exactly at the start (in) and was called back → 1/1
    assert tb.orders == 1
    assert rates(tb) == (r(1, 1), r(1, 1), r(3, 3), r(1, 1), r(1, 1))

    c = units["C"]
    # 回访率: I1 called back; I7 called but not answered; I9 closed without a callback yet
    # (presumed reachable) → 1/3
    assert rates(c) == (r(3, 3), r(3, 3), r(9, 9), r(3, 3), r(1, 3))

    d = units["D"]
    # 回访率: I1 called back; I8 closed exactly at the end of the period (out) → 1/1
    assert rates(d) == (r(2, 2), r(2, 2), r(6, 6), r(2, 2), r(1, 1))


async def test_unit_kpis_of_one_tier(db: Database, clock: ManualClock) -> None:
    await build_scenario(db)
    async with db.unit_of_work(readonly=True) as session:
        tier3 = await kpi.unit_kpis(
            session=session, since=SINCE, until=UNTIL, scope=EVERYTHING, tier=3
        )
    assert [u.code for u in tier3] == ["D", "C"]  # sorted by tier, then name (交 < 民)


async def test_tier_kpis_pool_orders_and_count_each_incident_once(
    db: Database, clock: ManualClock
) -> None:
    await build_scenario(db)
    async with db.unit_of_work(readonly=True) as session:
        tiers = {
            t.tier: t
            for t in await kpi.tier_kpis(
                session=session, since=SINCE, until=UNTIL, scope=EVERYTHING
            )
        }
        total = await kpi.total_kpis(session=session, since=SINCE, until=UNTIL, scope=EVERYTHING)
    assert sorted(tiers) == [1, 2, 3]
    one = tiers[1]
    assert (one.units, one.orders) == (1, 7)
    assert rates(one) == (r(4, 5), r(2, 4), r(6, 8), r(2, 4), r(1, 1))
    two = tiers[2]
    # W + TA + TB: 受理率 (2+2+1)/(2+2+1); 出勤率 (0+2+1)/(0+2+1); 准点率 (3+4+3)/(4+5+3);
    # 反馈率 (1+0+1)/(2+2+1); 回访率: I5 only (TB) → 1/1
    assert (two.units, two.orders) == (3, 5)
    assert rates(two) == (r(5, 5), r(3, 3), r(10, 12), r(2, 5), r(1, 1))
    three = tiers[3]
    # C + D: 5 orders all on time; 回访率 over distinct incidents: I1 (C and D, called back once),
    # I7 and I9 (C) → 1/3, not the sum of the units' 1/3 + 1/1
    assert (three.units, three.orders) == (2, 5)
    assert rates(three) == (r(5, 5), r(5, 5), r(15, 15), r(5, 5), r(1, 3))
    assert isinstance(three, TierKpi)
    # total: 17 orders; 受理率 4+5+5 = 14 of 5+5+5 = 15; 出勤率 2+3+5 / 4+3+5; 准点率 6+10+15 /
    # 8+12+15; 反馈率 2+2+5 / 4+5+5; 回访率: I1 called, I2 unreachable (out), I5 called,
    # I7 not answered, I9 pending → 2/4
    assert (total.orders, total.returned, total.transferred, total.cancelled) == (17, 1, 1, 1)
    assert rates(total) == (r(14, 15), r(10, 12), r(31, 35), r(9, 14), r(2, 4))


async def test_tier_kpis_of_one_tier_only(db: Database, clock: ManualClock) -> None:
    await build_scenario(db)
    async with db.unit_of_work(readonly=True) as session:
        tiers = await kpi.tier_kpis(
            session=session, since=SINCE, until=UNTIL, scope=EVERYTHING, tier=2
        )
    assert [(t.tier, t.units, t.orders) for t in tiers] == [(2, 3, 5)]


async def test_a_town_principal_sees_only_its_orders(db: Database, clock: ManualClock) -> None:
    await build_scenario(db)
    user = await make_user(db, "town_a", roles=["unit_liaison"], division=TOWN_A, unit="TA")
    async with db.unit_of_work(readonly=True) as session:
        principal = await org.principal_for_user(session=session, user=user)
        scope = principal.scope
        units = by_code(await kpi.unit_kpis(session=session, since=SINCE, until=UNTIL, scope=scope))
        total = await kpi.total_kpis(session=session, since=SINCE, until=UNTIL, scope=scope)
        overdue = await kpi.overdue_orders(session=session, since=SINCE, until=UNTIL, scope=scope)
    assert scope.division_path is not None and scope.division_path.endswith(f"{TOWN_A}/")
    # town A's incidents are I1, I2, I3: orders f1 f2 f3 f4, a1 a2, c1, d1
    assert sorted(units) == ["C", "D", "F", "TA"]
    f = units["F"]
    # 受理率 f1 f2 f3 of f1–f4 → 3/4; 出勤率 2/4; 准点率 f1 3/3 + f2 1/3 + f3 1/1 → 5/7;
    # 反馈率 2/4; 回访率 I1 → 1/1
    assert f.orders == 4
    assert rates(f) == (r(3, 4), r(2, 4), r(5, 7), r(2, 4), r(1, 1))
    # C's c2 and c3 are in town B: only c1 and I1 remain
    assert units["C"].orders == 1 and units["C"].callback == r(1, 1)
    assert total.orders == 8
    assert {o.incident_title for o in overdue} == {"甲镇道路塌陷", "甲镇山体滑坡"}


async def test_a_unit_only_principal_sees_its_own_orders_anywhere(
    db: Database, clock: ManualClock
) -> None:
    scenario = await build_scenario(db)
    scope = Scope(unit_id=scenario.units["TB"])
    async with db.unit_of_work(readonly=True) as session:
        units = await kpi.unit_kpis(session=session, since=SINCE, until=UNTIL, scope=scope)
    assert [u.code for u in units] == ["TB"]


async def test_period_boundaries_include_the_start_and_exclude_the_end(
    db: Database, clock: ManualClock
) -> None:
    await build_scenario(db)
    async with db.unit_of_work(readonly=True) as session:
        # the hour before the period: only b1 (issued SINCE - 60 min), and no incident closed
        before = by_code(
            await kpi.unit_kpis(
                session=session, since=SINCE - minutes(60), until=SINCE, scope=EVERYTHING
            )
        )
        # the minute from UNTIL: b2 (issued at UNTIL, open) and I8 (closed at UNTIL) for D
        after = by_code(
            await kpi.unit_kpis(
                session=session, since=UNTIL, until=UNTIL + minutes(1), scope=EVERYTHING
            )
        )
    assert sorted(before) == ["TB"]
    assert before["TB"].orders == 1 and before["TB"].callback == r(0, 0)
    assert sorted(after) == ["D", "TB"]
    assert after["TB"].orders == 1 and after["TB"].acceptance == r(0, 1)
    assert after["D"].orders == 0 and after["D"].acceptance.rate is None
    assert after["D"].callback == r(1, 1)


async def test_nothing_in_the_period_gives_no_units_and_no_rates(
    db: Database, clock: ManualClock
) -> None:
    await build_scenario(db)
    later = UNTIL + timedelta(days=40)
    async with db.unit_of_work(readonly=True) as session:
        units = await kpi.unit_kpis(
            session=session, since=later, until=later + timedelta(days=1), scope=EVERYTHING
        )
        total = await kpi.total_kpis(
            session=session, since=later, until=later + timedelta(days=1), scope=EVERYTHING
        )
    assert units == []
    assert total.orders == 0 and all(ratio.rate is None for ratio in total.ratios())
    assert total.score is None


async def test_overdue_orders_name_every_late_or_open_stage(
    db: Database, clock: ManualClock
) -> None:
    scenario = await build_scenario(db)
    async with db.unit_of_work(readonly=True) as session:
        overdue = await kpi.overdue_orders(
            session=session, since=SINCE, until=UNTIL, scope=EVERYTHING
        )
    ids = {order.id: key for key, order in scenario.orders.items()}
    found = [(ids[o.order_id], o.stage, o.done_at is None, o.minutes_late) for o in overdue]
    # open stages are late until UNTIL: T → UNTIL is 21 days 14 hours = 31,080 minutes
    to_end = 31_080
    # sorted by unit name (code point order: 县 < 消 < 甲), then deadline (then incident number,
    # which is random here: f2/f4 and f3/f4 share deadlines, so compare within a deadline as sets)
    assert [(o.unit_name, o.due_at) for o in overdue] == sorted(
        (o.unit_name, o.due_at) for o in overdue
    )
    assert sorted(found) == sorted(
        [
            # 县水务局
            ("w2", "complete", False, 60),  # completed T+300, due T+240
            # 消防救援大队
            ("f2", "sign", False, 10),  # signed T+40, due T+30
            ("f4", "sign", True, to_end - 30),  # never signed
            ("f2", "arrive", False, 10),  # arrived T+70, due T+60
            ("f3", "arrive", True, to_end - 60),  # signed, never arrived
            ("f4", "arrive", True, to_end - 60),
            ("f3", "complete", True, to_end - 240),
            ("f4", "complete", True, to_end - 240),
            # 甲镇人民政府
            ("a2", "sign", False, 5),  # no flag: signed T+35 after T+30
            ("a1", "complete", True, to_end - 240),  # arrived, not completed
        ]
    )
    # f5 (transferred), f6 (returned), f7 (cancelled) are not open: nothing is overdue on them;
    # b2 was issued at UNTIL, outside the period
    first = next(o for o in overdue if ids[o.order_id] == "f2")
    assert (first.unit_name, first.incident_title, first.order_stage) == (
        "消防救援大队",
        "甲镇道路塌陷",
        "completed",
    )
    assert first.due_at == T + minutes(30) and first.done_at == T + minutes(40)
