"""五个100% — the five dispatch KPIs per linkage unit and per tier, and the overdue stages.

Everything is counted in SQL with conditional sums grouped by unit (or tier); only the few
hundred result rows — and the overdue stages, which the bulletin names one by one — reach Python.

The period is ``[since, until)``. Orders count when they were *issued* in the period; callbacks
count when their incident was *closed* in the period. Stage facts (signed, arrived, late …) are
read as they are recorded when the figures are computed.

What counts, order by order (the bulletin is used for accountability, so the rules are explicit):

- An order is **live** when its stage is issued, signed, arrived or completed, and **ended** when
  it was returned (退回), transferred (移交) or cancelled (撤销), or ended with its incident
  (``closed_with_incident``, 随事件结束: the incident was closed or cancelled while the order was
  still open, at ``ended_at``).
- **An order that ended with its incident is judged as of ``ended_at``**: it was not late for any
  deadline that had not passed at that moment — that stage is not owed and enters no rate nor
  the overdue list — but a deadline already missed before the incident ended still counts as
  missed: the stage is *missed* (:func:`stage_missed`). A missed stage counts as a stage done
  late in 准点率 and is listed by :func:`overdue_orders` as late up to ``ended_at``; a missed
  sign keeps the order in the denominator of 受理率, a missed arrival in that of 出勤率, a missed
  feedback deadline in that of 反馈率 (each without the numerator, since it was never done).
- 受理率 acceptance = signed ÷ accountable orders. A live order is always accountable. An ended
  order is accountable only if it was signed before it ended (then it is also signed), or its
  sign deadline was missed before its incident ended: a unit
  that returns a misrouted order, hands it on unsigned, or whose order the centre withdraws
  before signing is neither credited nor blamed. Ended orders are reported as counts
  (``returned``, ``transferred``, ``cancelled``) next to the rates, so a habit of returning
  orders stays visible.
- 出勤率 turnout = orders with a recorded arrival ÷ orders needing presence (``needs_presence``)
  that are live or recorded an arrival before they ended (or missed it before their incident
  ended).
- 准点率 punctuality = stages done by their deadline ÷ stages done, over the sign, arrive and
  complete stages of every order issued in the period, whatever became of the order later (a
  stage that was done is a fact). A stage is done when its ``*_at`` is set and it had a deadline;
  it is late when its ``*_late`` flag says so (or, if the flag is missing, when it was done after
  its ``*_due_at``). Stages not yet done do not enter this rate — as the glossary defines it — but
  every stage still open past its deadline is listed by :func:`overdue_orders` and counted in
  the bulletin. The stages an order ending with its incident had missed are the exception: they
  will never be done, so each counts here as done late.
- 反馈率 feedback = orders with at least one feedback ÷ orders that are live or gave feedback
  before they ended (or whose feedback deadline passed before their incident ended).
- 回访率 callback = closed incidents called back ÷ closed incidents with a reachable reporter.
  An incident counts when it was closed (state closed or archived) in the period. Its reporter is
  presumed reachable until a callback records ``reachable = false`` (the reporter left no way to
  be reached), so a missing or pending callback counts against the rate. It was called back when
  the callback is recorded (``done_at``) and the reporter was reached (``reached``): a call
  nobody answered is not a callback. Per unit the rate is over the distinct incidents for which
  the unit has an accountable order (of any date); per tier over the distinct incidents of the
  tier's units; in total over the distinct incidents of all.

Emergency incidents and service cases (服务类事务, decision 0031) are counted apart: every
figure is of one ``kind`` (``emergency`` unless asked), never of both together.

A rate whose denominator is 0 is ``None`` ("no data"), never 0 % or 100 %.

Scope: orders whose ``division_path`` the scope covers or whose unit is the scope's unit
(:meth:`Scope.clause`); callbacks through the in-scope orders of their incident.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import (
    ColumnElement,
    RowMapping,
    Select,
    and_,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core.clock import as_utc
from yingji.core.security import Scope
from yingji.dispatch.models import (
    CLOSED_WITH_INCIDENT,
    OPEN_STAGES,
    Callback,
    Order,
    OrderStage,
)
from yingji.incidents import service as incidents
from yingji.org import service as org

AnySelect = Select[*tuple[Any, ...]]

LIVE_STAGES = (*OPEN_STAGES, OrderStage.COMPLETED)
CLOSED_STATES = ("closed", "archived")
KPI_NAMES = ("acceptance", "turnout", "punctuality", "feedback", "callback")
TIMED_STAGES = ("sign", "arrive", "complete")  # the stages 准点率 counts

# --- the SQL conditions, one per rule of the module docstring ------------------------------------

_LIVE = Order.stage.in_(LIVE_STAGES)
_SIGNED = Order.signed_at.is_not(None)
_ARRIVED = Order.arrived_at.is_not(None)
_FED_BACK = Order.feedback_count > 0
_WITH_INCIDENT = Order.stage == CLOSED_WITH_INCIDENT

_STAGE_COLUMNS: dict[str, tuple[Any, Any, Any]] = {
    "sign": (Order.signed_at, Order.sign_due_at, Order.sign_late),
    "arrive": (Order.arrived_at, Order.arrive_due_at, Order.arrive_late),
    "complete": (Order.completed_at, Order.complete_due_at, Order.complete_late),
}


def stage_missed(stage: str) -> ColumnElement[bool]:
    """The order ended with its incident, the stage not done and its deadline already passed
    when it ended (a deadline still ahead then is not owed)."""
    done_at, due_at, _late = _STAGE_COLUMNS[stage]
    condition = and_(
        _WITH_INCIDENT, done_at.is_(None), due_at.is_not(None), due_at < Order.ended_at
    )
    return and_(condition, Order.needs_presence) if stage == "arrive" else condition


_FEEDBACK_MISSED = and_(
    _WITH_INCIDENT, Order.feedback_due_at.is_not(None), Order.feedback_due_at < Order.ended_at
)
ACCOUNTABLE: ColumnElement[bool] = or_(_LIVE, _SIGNED, stage_missed("sign"))


def stage_done(stage: str) -> ColumnElement[bool]:
    """The stage was done and had a deadline to be judged against."""
    done_at, due_at, late = _STAGE_COLUMNS[stage]
    return and_(done_at.is_not(None), or_(late.is_not(None), due_at.is_not(None)))


def stage_on_time(stage: str) -> ColumnElement[bool]:
    done_at, due_at, late = _STAGE_COLUMNS[stage]
    return and_(
        done_at.is_not(None),
        or_(late.is_(False), and_(late.is_(None), due_at.is_not(None), done_at <= due_at)),
    )


def stage_done_late(stage: str) -> ColumnElement[bool]:
    done_at, due_at, late = _STAGE_COLUMNS[stage]
    return and_(
        done_at.is_not(None),
        or_(late.is_(True), and_(late.is_(None), due_at.is_not(None), done_at > due_at)),
    )


def stage_open_overdue(stage: str, at: datetime) -> ColumnElement[bool]:
    """The stage is not done and its deadline passed before ``at``, the order being still open
    (or having ended with its incident after the deadline: :func:`stage_missed`)."""
    done_at, due_at, _late = _STAGE_COLUMNS[stage]
    condition = and_(
        Order.stage.in_(OPEN_STAGES), done_at.is_(None), due_at.is_not(None), due_at < at
    )
    if stage == "arrive":
        condition = and_(condition, Order.needs_presence)
    return or_(condition, and_(stage_missed(stage), due_at < at))


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _count_stages(conditions: Iterable[ColumnElement[bool]]) -> ColumnElement[int]:
    total: Any = None
    for condition in conditions:
        term = case((condition, 1), else_=0)
        total = term if total is None else total + term
    return func.sum(total)


def order_sums() -> list[Any]:
    """The labelled conditional sums of one group of orders (see the module docstring)."""
    return [
        func.count().label("orders"),
        _count(Order.stage == OrderStage.RETURNED).label("returned"),
        _count(Order.stage == OrderStage.TRANSFERRED).label("transferred"),
        _count(Order.stage == OrderStage.CANCELLED).label("cancelled"),
        _count(_WITH_INCIDENT).label("closed_with_incident"),
        _count(ACCOUNTABLE).label("acceptance_den"),
        _count(_SIGNED).label("acceptance_num"),
        _count(and_(Order.needs_presence, or_(_LIVE, _ARRIVED, stage_missed("arrive")))).label(
            "turnout_den"
        ),
        _count(and_(Order.needs_presence, _ARRIVED)).label("turnout_num"),
        _count_stages(or_(stage_done(s), stage_missed(s)) for s in TIMED_STAGES).label(
            "punctuality_den"
        ),
        _count_stages(stage_on_time(s) for s in TIMED_STAGES).label("punctuality_num"),
        _count(or_(_LIVE, _FED_BACK, _FEEDBACK_MISSED)).label("feedback_den"),
        _count(_FED_BACK).label("feedback_num"),
    ]


ORDER_COUNT_NAMES = ("orders", "returned", "transferred", "cancelled", "closed_with_incident")
ORDER_RATIO_NAMES = ("acceptance", "turnout", "punctuality", "feedback")

# --- result shapes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    """A rate as its numerator and denominator; ``rate`` is None when there is nothing to rate."""

    numerator: int
    denominator: int
    rate: float | None

    @classmethod
    def of(cls, numerator: int | None, denominator: int | None) -> Ratio:
        num, den = int(numerator or 0), int(denominator or 0)
        return cls(num, den, num / den if den else None)

    @property
    def fraction(self) -> Fraction | None:
        return Fraction(self.numerator, self.denominator) if self.denominator else None


NO_DATA = Ratio(0, 0, None)


@dataclass(frozen=True, kw_only=True)
class KpiFigures:
    """The five rates of a group of orders, and how many of its orders there were and ended."""

    orders: int = 0  # issued in the period (all, ended ones included)
    returned: int = 0
    transferred: int = 0
    cancelled: int = 0
    closed_with_incident: int = 0  # ended because the incident was closed or cancelled first
    acceptance: Ratio = NO_DATA  # 受理率
    turnout: Ratio = NO_DATA  # 出勤率
    punctuality: Ratio = NO_DATA  # 准点率
    feedback: Ratio = NO_DATA  # 反馈率
    callback: Ratio = NO_DATA  # 回访率

    def ratios(self) -> tuple[Ratio, Ratio, Ratio, Ratio, Ratio]:
        return (self.acceptance, self.turnout, self.punctuality, self.feedback, self.callback)

    def score_fraction(self) -> Fraction | None:
        """The overall score, exactly: the mean of the rates that have data (None: none has)."""
        rated = [f for f in (r.fraction for r in self.ratios()) if f is not None]
        return sum(rated, Fraction(0)) / len(rated) if rated else None

    @property
    def score(self) -> float | None:
        exact = self.score_fraction()
        return None if exact is None else float(exact)


@dataclass(frozen=True, kw_only=True)
class UnitKpi(KpiFigures):
    unit_id: uuid.UUID
    code: str
    name: str
    tier: int


@dataclass(frozen=True, kw_only=True)
class TierKpi(KpiFigures):
    tier: int
    units: int = 0  # units with orders or callbacks in the period


@dataclass(frozen=True)
class OverdueOrder:
    """One stage of one order done after its deadline, or still open past it at ``until``.

    An order late at two stages appears twice. ``done_at`` is None for a stage still open;
    ``minutes_late`` is then counted to ``until``, or to ``ended_at`` for an order that ended
    with its incident first. ``order_stage`` is the order's current stage.
    """

    order_id: uuid.UUID
    unit_id: uuid.UUID
    unit_name: str
    tier: int
    incident_id: uuid.UUID
    incident_number: str
    incident_title: str
    stage: str  # sign | arrive | complete
    due_at: datetime
    done_at: datetime | None
    minutes_late: int
    issued_at: datetime
    order_stage: str = field(default="")
    ended_at: datetime | None = None  # the order ended with its incident then


# --- queries -------------------------------------------------------------------------------------


def _order_conditions(
    since: datetime, until: datetime, scope: Scope, tier: int | None, kind: str = "emergency"
) -> list[ColumnElement[bool]]:
    conditions = [
        Order.issued_at >= since,
        Order.issued_at < until,
        scope.clause(Order.division_path, Order.unit_id),
        Order.incident_id.in_(incidents.incident_ids_of_kind(kind)),
    ]
    if tier is not None:
        conditions.append(Order.unit_id.in_(org.units_of_tier(tier)))
    return conditions


def _closed_incident_orders(
    since: datetime, until: datetime, scope: Scope, tier: int | None, kind: str = "emergency"
) -> AnySelect:
    """Distinct (unit, incident) of accountable in-scope orders whose incident closed in period."""
    incident = incidents.incident_facts()
    stmt = (
        select(Order.unit_id, Order.incident_id)
        .join(incident, incident.c.id == Order.incident_id)
        .where(
            incident.c.closed_at >= since,
            incident.c.closed_at < until,
            incident.c.state.in_(CLOSED_STATES),
            incident.c.kind == kind,
            ACCOUNTABLE,
            scope.clause(Order.division_path, Order.unit_id),
        )
        .distinct()
    )
    if tier is not None:
        stmt = stmt.where(Order.unit_id.in_(org.units_of_tier(tier)))
    return stmt


_REACHABLE = or_(Callback.reachable.is_(None), Callback.reachable.is_(True))
_CALLED_BACK = and_(
    Callback.done_at.is_not(None), Callback.reachable.is_(True), Callback.reached.is_(True)
)


def _callback_sums(pairs: Any, keys: Sequence[Any], distinct_on: Any) -> AnySelect:
    """Callback numerator/denominator over ``pairs`` (unit, incident), grouped by ``keys``."""
    called = func.count(func.distinct(case((_CALLED_BACK, pairs.c.incident_id))))
    stmt = (
        select(*keys, func.count(func.distinct(distinct_on)).label("den"), called.label("num"))
        .select_from(pairs)
        .outerjoin(Callback, Callback.incident_id == pairs.c.incident_id)
        .where(_REACHABLE)
    )
    return stmt.group_by(*keys) if keys else stmt


def _figures(row: RowMapping | None, callback: tuple[int, int] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if row is not None:
        values.update({name: int(row[name] or 0) for name in ORDER_COUNT_NAMES})
        for name in ORDER_RATIO_NAMES:
            values[name] = Ratio.of(row[f"{name}_num"], row[f"{name}_den"])
    if callback is not None:
        values["callback"] = Ratio.of(callback[0], callback[1])
    return values


async def unit_kpis(
    *,
    session: AsyncSession,
    since: datetime,
    until: datetime,
    scope: Scope,
    tier: int | None = None,
    kind: str = "emergency",
) -> list[UnitKpi]:
    """The five KPIs of every unit with orders issued (or incidents closed) in ``[since, until)``.

    Sorted by tier, then name. Units without any such order or incident are not listed.
    """
    by_unit = (
        select(Order.unit_id, *order_sums())
        .where(*_order_conditions(since, until, scope, tier, kind))
        .group_by(Order.unit_id)
        .subquery()
    )
    order_rows = {
        row["unit_id"]: row for row in (await session.execute(select(by_unit))).mappings()
    }
    pairs = _closed_incident_orders(since, until, scope, tier, kind).subquery()
    callback_rows = {
        row.unit_id: (int(row.num), int(row.den))
        for row in await session.execute(
            _callback_sums(pairs, [pairs.c.unit_id], pairs.c.incident_id)
        )
    }
    ids = set(order_rows) | set(callback_rows)
    if not ids:
        return []
    facts = org.unit_facts()
    units = await session.execute(select(facts).where(facts.c.id.in_(ids)))
    result = [
        UnitKpi(
            unit_id=unit.id,
            code=unit.code,
            name=unit.name,
            tier=unit.tier,
            **_figures(order_rows.get(unit.id), callback_rows.get(unit.id)),
        )
        for unit in units
    ]
    return sorted(result, key=lambda k: (k.tier, k.name, k.code))


async def tier_kpis(
    *,
    session: AsyncSession,
    since: datetime,
    until: datetime,
    scope: Scope,
    tier: int | None = None,
    kind: str = "emergency",
) -> list[TierKpi]:
    """The five KPIs per linkage tier (一级/二级/三级), pooled over the tier's orders.

    Order-based rates add up the tier's orders; the callback rate counts each closed incident
    once per tier however many of the tier's units it involved. ``units`` counts the tier's units
    that :func:`unit_kpis` lists.
    """
    unit = org.unit_facts()
    order_rows = {
        row["tier"]: row
        for row in (
            await session.execute(
                select(unit.c.tier, *order_sums())
                .join(unit, unit.c.id == Order.unit_id)
                .where(*_order_conditions(since, until, scope, tier, kind))
                .group_by(unit.c.tier)
            )
        ).mappings()
    }
    pairs = (
        _closed_incident_orders(since, until, scope, tier, kind)
        .add_columns(unit.c.tier)
        .join(unit, unit.c.id == Order.unit_id)
        .subquery()
    )
    callback_rows = {
        row.tier: (int(row.num), int(row.den))
        for row in await session.execute(_callback_sums(pairs, [pairs.c.tier], pairs.c.incident_id))
    }
    units = await _units_per_tier(session, since, until, scope, tier, kind)
    return [
        TierKpi(
            tier=key,
            units=units.get(key, 0),
            **_figures(order_rows.get(key), callback_rows.get(key)),
        )
        for key in sorted(set(order_rows) | set(callback_rows))
    ]


async def _units_per_tier(
    session: AsyncSession,
    since: datetime,
    until: datetime,
    scope: Scope,
    tier: int | None,
    kind: str = "emergency",
) -> dict[int, int]:
    """Units per tier with orders issued, or accountable orders of incidents closed, in period."""
    issued = select(Order.unit_id).where(*_order_conditions(since, until, scope, tier, kind))
    closed = _closed_incident_orders(since, until, scope, tier, kind).with_only_columns(
        Order.unit_id
    )
    active = issued.union(closed).subquery()
    unit = org.unit_facts()
    rows = await session.execute(
        select(unit.c.tier, func.count())
        .join(active, active.c.unit_id == unit.c.id)
        .group_by(unit.c.tier)
    )
    return {int(key): int(count) for key, count in rows}


async def total_kpis(
    *,
    session: AsyncSession,
    since: datetime,
    until: datetime,
    scope: Scope,
    kind: str = "emergency",
) -> KpiFigures:
    """The five KPIs of all orders in scope together (each closed incident counted once)."""
    row = (
        (
            await session.execute(
                select(*order_sums()).where(*_order_conditions(since, until, scope, None, kind))
            )
        )
        .mappings()
        .one()
    )
    pairs = _closed_incident_orders(since, until, scope, None, kind).subquery()
    callback = (await session.execute(_callback_sums(pairs, [], pairs.c.incident_id))).one()
    return KpiFigures(**_figures(row, (int(callback.num or 0), int(callback.den or 0))))


async def overdue_orders(
    *,
    session: AsyncSession,
    since: datetime,
    until: datetime,
    scope: Scope,
    at: datetime | None = None,
) -> list[OverdueOrder]:
    """Every stage of an order issued in ``[since, until)`` that was done after its deadline or
    is still open past it at ``at`` (default ``until``; a period still running is judged at
    now); sorted by unit name, deadline, incident number, stage."""
    at = until if at is None else at
    late_or_open = or_(
        *(stage_done_late(s) for s in TIMED_STAGES),
        *(stage_open_overdue(s, at) for s in TIMED_STAGES),
    )
    stage_columns = [column for columns in _STAGE_COLUMNS.values() for column in columns]
    unit, incident = org.unit_facts(), incidents.incident_facts()
    rows = await session.execute(
        select(
            Order.id,
            Order.unit_id,
            Order.incident_id,
            Order.stage,
            Order.needs_presence,
            Order.issued_at,
            Order.ended_at,
            *stage_columns,
            unit.c.name.label("unit_name"),
            unit.c.tier.label("tier"),
            incident.c.number.label("incident_number"),
            incident.c.title.label("incident_title"),
        )
        .join(unit, unit.c.id == Order.unit_id)
        .join(incident, incident.c.id == Order.incident_id)
        .where(*_order_conditions(since, until, scope, None), late_or_open)
    )
    found: list[OverdueOrder] = []
    for row in (r._asdict() for r in rows):
        found.extend(
            late for stage in TIMED_STAGES if (late := _lateness(row, stage, at)) is not None
        )
    order_of_stage = {stage: index for index, stage in enumerate(TIMED_STAGES)}
    return sorted(
        found,
        key=lambda o: (
            o.unit_name,
            o.due_at,
            o.incident_number,
            order_of_stage[o.stage],
            str(o.order_id),
        ),
    )


def _is_late(done_at: datetime, due_at: datetime | None, late: bool | None) -> bool:
    if late is not None:
        return late
    return due_at is not None and done_at > due_at


def _minutes(later: datetime, earlier: datetime) -> int:
    return max(math.ceil((later - earlier).total_seconds() / 60), 0)


def _lateness(row: dict[str, Any], stage: str, until: datetime) -> OverdueOrder | None:
    done_at, due_at, late = (row[column.key] for column in _STAGE_COLUMNS[stage])
    if due_at is None:
        return None
    due_at = as_utc(due_at)
    if done_at is not None:
        done_at = as_utc(done_at)
        if not _is_late(done_at, due_at, late):
            return None
        minutes = _minutes(done_at, due_at)
    else:
        ended_at = as_utc(row["ended_at"]) if row["ended_at"] is not None else None
        judged = row["stage"] in OPEN_STAGES or (
            row["stage"] == CLOSED_WITH_INCIDENT and ended_at is not None
        )
        end = min(until, ended_at) if ended_at is not None else until
        if not judged or (stage == "arrive" and not row["needs_presence"]) or due_at >= end:
            return None
        minutes = _minutes(end, due_at)
    return OverdueOrder(
        order_id=row["id"],
        unit_id=row["unit_id"],
        unit_name=row["unit_name"],
        tier=row["tier"],
        incident_id=row["incident_id"],
        incident_number=row["incident_number"],
        incident_title=row["incident_title"],
        stage=stage,
        due_at=due_at,
        done_at=done_at,
        minutes_late=minutes,
        issued_at=as_utc(row["issued_at"]),
        order_stage=row["stage"],
        ended_at=(
            as_utc(row["ended_at"])
            if row["stage"] == CLOSED_WITH_INCIDENT and row["ended_at"] is not None
            else None
        ),
    )


__all__ = [
    "KPI_NAMES",
    "KpiFigures",
    "OverdueOrder",
    "Ratio",
    "TierKpi",
    "UnitKpi",
    "overdue_orders",
    "tier_kpis",
    "total_kpis",
    "unit_kpis",
]
