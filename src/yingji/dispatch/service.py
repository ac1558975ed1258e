"""Queries and single-entity commands of dispatch (派单). Flushes, never commits."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock, reasons
from yingji.core.db import rows_affected, savepoint
from yingji.core.errors import InvalidTransition, NotFound
from yingji.core.security import Scope
from yingji.dispatch.models import (
    OPEN_STAGES,
    Callback,
    Escalation,
    Feedback,
    Order,
    OrderPhoto,
    OrderStage,
    RoutingRule,
    StageDeadline,
    stages_before,
)
from yingji.incidents import service as incidents
from yingji.org import service as org

ORDER_FIELDS = (
    "incident_id",
    "unit_id",
    "responsible_unit_id",
    "role",
    "stage",
    "signed_at",
    "arrived_at",
    "completed_at",
    "feedback_count",
    "return_reason",
    "ended_at",
)


def order_query(scope: Scope) -> Select[Order]:
    """Orders of the principal's area, of its unit, those its unit still answers for, and
    those of the incidents its scope reads through its unit's orders."""
    visible = scope.clause(Order.division_path, Order.unit_id, Order.incident_id)
    if scope.unit_id is not None:
        visible = or_(visible, Order.responsible_unit_id == scope.unit_id)
    return select(Order).where(visible)


async def incidents_held(
    *, session: AsyncSession, unit_id: uuid.UUID, ended_since: datetime
) -> frozenset[uuid.UUID]:
    """The incidents on which ``unit_id`` holds an order that is open, or that ended at or after
    ``ended_since``: those its people read (联动单位查看所派事件)."""
    rows = await session.scalars(
        select(Order.incident_id)
        .where(
            Order.unit_id == unit_id,
            Order.stage.in_(OPEN_STAGES) | (Order.ended_at >= ended_since),
        )
        .distinct()
    )
    return frozenset(rows.all())


async def responder_scope(*, session: AsyncSession, scope: Scope, read_for: timedelta) -> Scope:
    """``scope`` widened to the incidents its unit holds orders on: open ones, and those that
    ended less than ``read_for`` ago. Only for reading; a scope without a unit is unchanged."""
    if scope.everything or scope.unit_id is None:
        return scope
    held = await incidents_held(
        session=session, unit_id=scope.unit_id, ended_since=clock.now() - read_for
    )
    return scope.with_incidents(held) if held else scope


async def get_order_or_raise(*, session: AsyncSession, order_id: uuid.UUID, scope: Scope) -> Order:
    order = await session.scalar(order_query(scope).where(Order.id == order_id))
    if order is None:
        raise NotFound("order_not_found", f"no order {order_id}", {"order_id": str(order_id)})
    return order


async def list_orders(
    *,
    session: AsyncSession,
    scope: Scope,
    open_only: bool = False,
    stage: str | None = None,
    unit_id: uuid.UUID | None = None,
    incident_id: uuid.UUID | None = None,
    for_unit: uuid.UUID | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[Order], int]:
    stmt = order_query(scope)
    if open_only:
        stmt = stmt.where(Order.stage.in_(OPEN_STAGES))
    if stage:
        stmt = stmt.where(Order.stage == stage)
    if unit_id:
        stmt = stmt.where(Order.unit_id == unit_id)
    if incident_id:
        stmt = stmt.where(Order.incident_id == incident_id)
    if for_unit:  # a unit's inbox: its orders, and those it still answers for (首接负责制)
        stmt = stmt.where((Order.unit_id == for_unit) | (Order.responsible_unit_id == for_unit))
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.scalars(
        stmt.order_by(Order.issued_at.desc(), Order.id).offset(offset).limit(limit)
    )
    return list(rows.all()), total


async def visible_orders_of_incident(
    *, session: AsyncSession, scope: Scope, incident_id: uuid.UUID
) -> list[Order]:
    """The orders of an incident that ``scope`` sees. An incident the principal may not read, and
    none of whose orders it holds, is not found, exactly as the incident itself."""
    rows, _ = await list_orders(session=session, scope=scope, incident_id=incident_id, limit=500)
    if not rows and (
        await incidents.get_incident(session=session, incident_id=incident_id, scope=scope) is None
    ):
        raise NotFound(
            "incident_not_found", f"no incident {incident_id}", {"incident_id": str(incident_id)}
        )
    return rows


async def orders_of_incident(*, session: AsyncSession, incident_id: uuid.UUID) -> list[Order]:
    rows = await session.scalars(
        select(Order).where(Order.incident_id == incident_id).order_by(Order.issued_at, Order.id)
    )
    return list(rows.all())


async def pending_transfer(*, session: AsyncSession, order: Order) -> Order | None:
    return await session.scalar(
        select(Order).where(Order.transferred_from_id == order.id, Order.stage == OrderStage.ISSUED)
    )


async def advance(
    *,
    session: AsyncSession,
    order: Order,
    to: OrderStage,
    values: dict[str, Any] | None = None,
) -> str:
    """Move the order to stage ``to`` with a compare-and-set from the stages that may precede it
    (``ORDER_TRANSITIONS``); returns the stage left. Two concurrent signs: one wins, the other is
    refused (``invalid_stage``). An order leaving the open stages records when it ended
    (``ended_at``)."""
    allowed = stages_before(to)
    before = order.stage
    now = clock.now()
    ended = {} if to in OPEN_STAGES else {"ended_at": now}
    result = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.stage.in_(allowed))
        .values(stage=to.value, updated_at=now, **(ended | (values or {})))
        .execution_options(synchronize_session=False)
    )
    if not rows_affected(result):
        await session.refresh(order)
        raise InvalidTransition(
            "invalid_stage",
            f"an order that is {order.stage} cannot be {to}",
            {"stage": order.stage, "to": to.value, "allowed_from": [s.value for s in allowed]},
        )
    await session.refresh(order)
    return before


# --- routing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    unit: org.LinkageUnit
    role: str
    reason: str  # in English, for logs
    #: the same as ``{code, params}`` (``core.reasons``): ``routing.rule`` (its id and note) or
    #: ``routing.chosen_by`` (the person who chose the unit)
    why: reasons.Why | None = None


async def _unit_for(
    session: AsyncSession, rule: RoutingRule, division_path: str | None
) -> org.LinkageUnit | None:
    if rule.selector == "unit":
        return await org.get_unit(session=session, unit_id=rule.unit_id) if rule.unit_id else None
    if not division_path:
        return None
    kind = "town" if rule.selector == "town" else "village"
    # the unit of that kind whose division is on the incident's path (its town or village)
    return await org.unit_of_kind_above(session=session, kind=kind, division_path=division_path)


async def route(
    *,
    session: AsyncSession,
    category_code: str | None,
    level: str,
    division_path: str | None,
    trapped: int = 0,
) -> list[Choice]:
    """The units the routing table names for an incident: one lead, then co-handling units.
    A rule ``when_trapped`` names its unit only when people are trapped (``trapped`` > 0)."""
    rules = (
        await session.scalars(
            select(RoutingRule)
            .where(RoutingRule.active.is_(True))
            .order_by(RoutingRule.priority, RoutingRule.id)
        )
    ).all()
    code = category_code or ""
    chosen: list[Choice] = []
    seen: set[uuid.UUID] = set()
    for rule in rules:
        prefix = rule.category_prefix
        if prefix and not (code == prefix or code.startswith(f"{prefix}.")):
            continue
        if rule.levels and level not in rule.levels:
            continue
        if rule.when_trapped and trapped <= 0:
            continue
        if rule.division_path and not (division_path or "").startswith(rule.division_path):
            continue
        unit = await _unit_for(session, rule, division_path)
        if unit is None or unit.id in seen or not unit.active:
            continue
        role = rule.role if rule.role == "co" or not any(c.role == "lead" for c in chosen) else "co"
        seen.add(unit.id)
        text = f"routing rule {rule.id}: {rule.note or prefix or '*'}"
        why = reasons.reason("routing.rule", rule=rule.id, note=rule.note, category=prefix or None)
        chosen.append(Choice(unit, role, text, why))
    return chosen


def _area_of(scope: Scope) -> str | None:
    return scope.area_path or scope.division_path


def routing_rule_query(scope: Scope) -> Select[RoutingRule]:
    """The rules a principal may read: those for everywhere, those of its area or an area above
    it (they route its incidents) and those inside its area. Another area's rules are not found."""
    if scope.everything:
        return select(RoutingRule)
    area = _area_of(scope)
    if not area:
        return select(RoutingRule).where(RoutingRule.division_path.is_(None))
    above = [area[: i + 1] for i, ch in enumerate(area) if ch == "/"]
    return select(RoutingRule).where(
        RoutingRule.division_path.is_(None)
        | RoutingRule.division_path.in_(above)
        | RoutingRule.division_path.startswith(area, autoescape=True)
    )


def rule_inside(scope: Scope, division_path: str | None) -> bool:
    """Whether a rule of ``division_path`` lies inside the principal's area (None: everywhere,
    inside only everything)."""
    if scope.everything:
        return True
    area = _area_of(scope)
    return bool(area) and division_path is not None and division_path.startswith(area or "")


def rules_inside_clause(scope: Scope) -> ColumnElement[bool]:
    """SQL for :func:`rule_inside`."""
    if scope.everything:
        return true()
    area = _area_of(scope)
    if not area:
        return false()
    return RoutingRule.division_path.startswith(area, autoescape=True)


async def list_routing_rules(*, session: AsyncSession, scope: Scope) -> list[RoutingRule]:
    rows = await session.scalars(
        routing_rule_query(scope).order_by(RoutingRule.priority, RoutingRule.id)
    )
    return list(rows.all())


RULE_FIELDS = (
    "category_prefix",
    "levels",
    "division_path",
    "role",
    "selector",
    "unit_id",
    "priority",
    "note",
    "active",
    "when_trapped",
)


async def get_routing_rule_or_raise(
    *, session: AsyncSession, rule_id: int, scope: Scope
) -> RoutingRule:
    rule = await session.scalar(routing_rule_query(scope).where(RoutingRule.id == rule_id))
    if rule is None:
        raise NotFound("routing_rule_not_found", f"no routing rule {rule_id}", {"rule_id": rule_id})
    return rule


async def create_routing_rule(*, session: AsyncSession, data: dict[str, Any]) -> RoutingRule:
    rule = RoutingRule(**{name: data[name] for name in RULE_FIELDS})
    session.add(rule)
    await session.flush()
    return rule


async def update_routing_rule(
    *, session: AsyncSession, rule: RoutingRule, changes: dict[str, Any]
) -> RoutingRule:
    for name, value in changes.items():
        if name in RULE_FIELDS:
            setattr(rule, name, value)
    await session.flush()
    return rule


async def delete_routing_rule(*, session: AsyncSession, rule: RoutingRule) -> None:
    await session.delete(rule)
    await session.flush()


# --- deadlines -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    sign: timedelta
    arrive: timedelta
    feedback: timedelta
    complete: timedelta
    remind_share: float

    def of(self, stage: str) -> timedelta:
        limit: timedelta = getattr(self, stage)
        return limit


async def stage_limits(
    *, session: AsyncSession, category_code: str | None, level: str, tier: int
) -> Limits:
    """The most specific row: category prefix, then level, then tier."""
    rows = (await session.scalars(select(StageDeadline))).all()
    code = category_code or ""

    def fits(r: StageDeadline) -> bool:
        return (
            (
                not r.category_prefix
                or code == r.category_prefix
                or code.startswith(f"{r.category_prefix}.")
            )
            and r.level in ("", level)
            and r.tier in (0, tier)
        )

    fitting = [r for r in rows if fits(r)]
    if not fitting:
        return Limits(
            timedelta(minutes=10),
            timedelta(minutes=60),
            timedelta(minutes=120),
            timedelta(hours=48),
            0.8,
        )
    best = max(fitting, key=lambda r: (len(r.category_prefix), bool(r.level), bool(r.tier)))
    return Limits(
        timedelta(minutes=best.sign_minutes),
        timedelta(minutes=best.arrive_minutes),
        timedelta(minutes=best.feedback_minutes),
        timedelta(minutes=best.complete_minutes),
        best.remind_share,
    )


async def ensure_stage_deadlines(*, session: AsyncSession) -> int:
    if await session.scalar(select(func.count()).select_from(StageDeadline)):
        return 0
    data = json.loads(
        resources.files("yingji").joinpath("data/stage_deadlines.json").read_text("utf-8")
    )
    for row in data["deadlines"]:
        session.add(StageDeadline(remind_share=data["remind_share"], **row))
    await session.flush()
    return len(data["deadlines"])


STAGE_DEADLINE_FIELDS = (
    "category_prefix",
    "level",
    "tier",
    "sign_minutes",
    "arrive_minutes",
    "feedback_minutes",
    "complete_minutes",
    "remind_share",
)


async def get_stage_deadline(
    *, session: AsyncSession, category_prefix: str, level: str, tier: int
) -> StageDeadline | None:
    return await session.scalar(
        select(StageDeadline).where(
            StageDeadline.category_prefix == category_prefix,
            StageDeadline.level == level,
            StageDeadline.tier == tier,
        )
    )


async def put_stage_deadline(
    *, session: AsyncSession, row: StageDeadline | None, data: dict[str, Any]
) -> StageDeadline:
    """Write ``data`` into ``row``, or into a new row when there is none."""
    if row is None:
        row = StageDeadline()
        session.add(row)
    for name in STAGE_DEADLINE_FIELDS:
        setattr(row, name, data[name])
    await session.flush()
    return row


async def list_stage_deadlines(*, session: AsyncSession) -> list[StageDeadline]:
    rows = await session.scalars(
        select(StageDeadline).order_by(
            StageDeadline.category_prefix, StageDeadline.level, StageDeadline.tier
        )
    )
    return list(rows.all())


# --- feedback, escalations, callbacks ------------------------------------------------------------


async def add_feedback(
    *,
    session: AsyncSession,
    order: Order,
    text: str,
    photos: list[OrderPhoto],
    by_user: str,
) -> Feedback:
    """A feedback with the given photos (already recorded for this order, see ``record_photo``);
    each is kept as the server recorded it at upload."""
    now = clock.now()
    attachments = [
        {
            "kind": "photo",
            "sha256": p.sha256,
            "filename": p.filename,
            "content_type": p.content_type,
            "size": p.size,
        }
        for p in photos
    ]
    row = Feedback(
        order_id=order.id, at=now, text=text, attachments=attachments or None, by_user=by_user
    )
    session.add(row)
    order.feedback_count += 1
    order.first_feedback_at = order.first_feedback_at or now
    order.last_feedback_at = now
    order.updated_at = now
    await session.flush()
    return row


async def feedback_of(*, session: AsyncSession, order_id: uuid.UUID) -> list[Feedback]:
    rows = await session.scalars(
        select(Feedback).where(Feedback.order_id == order_id).order_by(Feedback.at, Feedback.id)
    )
    return list(rows.all())


async def add_escalation(
    *,
    session: AsyncSession,
    order: Order,
    stage: str,
    kind: str,
    due_at: datetime | None,
    notified: list[str],
    manual: bool = False,
) -> Escalation:
    row = Escalation(
        order_id=order.id,
        stage=stage,
        kind=kind,
        at=clock.now(),
        due_at=due_at,
        notified=notified,
        manual=manual,
    )
    session.add(row)
    await session.flush()
    return row


async def incidents_of_orders(
    *, session: AsyncSession, orders: list[Order]
) -> dict[uuid.UUID, incidents.Incident]:
    """The incidents the given (already visible) orders are for, by id."""
    return await incidents.incidents_by_id(
        session=session, ids=list({o.incident_id for o in orders})
    )


async def unit_names(*, session: AsyncSession, unit_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The names of the given linkage units, by id."""
    return await org.unit_names(session=session, unit_ids=unit_ids)


async def escalations_of_orders(
    *, session: AsyncSession, order_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Escalation]]:
    """催办/督办 sent for each of the given orders, oldest first."""
    found: dict[uuid.UUID, list[Escalation]] = {i: [] for i in order_ids}
    if not order_ids:
        return found
    rows = await session.scalars(
        select(Escalation)
        .where(Escalation.order_id.in_(order_ids))
        .order_by(Escalation.at, Escalation.id)
    )
    for row in rows.all():
        found[row.order_id].append(row)
    return found


async def record_photo(
    *,
    session: AsyncSession,
    order: Order,
    sha256: str,
    content_type: str,
    filename: str,
    size: int,
    uploaded_by: str,
) -> OrderPhoto:
    """Record a photo (already decoded and stored) as uploaded for the order; the same photo
    uploaded again for the same order keeps its first record."""
    found = await get_photo(session=session, order_id=order.id, sha256=sha256)
    if found is not None:
        return found
    row = OrderPhoto(
        order_id=order.id,
        sha256=sha256,
        content_type=content_type,
        filename=filename[:200],
        size=size,
        uploaded_by=uploaded_by,
        uploaded_at=clock.now(),
    )
    try:
        async with savepoint(session):
            session.add(row)
            await session.flush()
    except IntegrityError:  # the same photo, uploaded at the same moment by another request
        found = await get_photo(session=session, order_id=order.id, sha256=sha256)
        if found is None:
            raise
        return found
    return row


async def get_photo(
    *, session: AsyncSession, order_id: uuid.UUID, sha256: str
) -> OrderPhoto | None:
    """The record of photo ``sha256`` uploaded for the order, if any."""
    row: OrderPhoto | None = await session.scalar(
        select(OrderPhoto).where(OrderPhoto.order_id == order_id, OrderPhoto.sha256 == sha256)
    )
    return row


async def photos_of(
    *, session: AsyncSession, order_id: uuid.UUID, sha256s: list[str]
) -> dict[str, OrderPhoto]:
    """The records of the given photos uploaded for the order, by SHA-256 (unknown ones absent)."""
    if not sha256s:
        return {}
    rows = await session.scalars(
        select(OrderPhoto).where(
            OrderPhoto.order_id == order_id, OrderPhoto.sha256.in_(set(sha256s))
        )
    )
    return {row.sha256: row for row in rows.all()}


async def feedback_photo(
    *, session: AsyncSession, order_id: uuid.UUID, sha256: str
) -> OrderPhoto | None:
    """The photo ``sha256`` as recorded at upload, if it was uploaded for the order and a
    feedback of the order carries it; else None (a photo not yet sent is not shown)."""
    photo = await get_photo(session=session, order_id=order_id, sha256=sha256)
    if photo is None:
        return None
    for row in await feedback_of(session=session, order_id=order_id):
        for item in row.attachments or []:
            if isinstance(item, dict) and item.get("sha256") == sha256:
                return photo
    return None


async def escalations_of(*, session: AsyncSession, order_id: uuid.UUID) -> list[Escalation]:
    rows = await session.scalars(
        select(Escalation)
        .where(Escalation.order_id == order_id)
        .order_by(Escalation.at, Escalation.id)
    )
    return list(rows.all())


async def open_callback(
    *, session: AsyncSession, incident_id: uuid.UUID, division_path: str | None
) -> Callback | None:
    if await session.scalar(select(Callback.id).where(Callback.incident_id == incident_id)):
        return None
    row = Callback(incident_id=incident_id, division_path=division_path, created_at=clock.now())
    session.add(row)
    await session.flush()
    return row


async def get_callback(*, session: AsyncSession, incident_id: uuid.UUID) -> Callback | None:
    return await session.scalar(select(Callback).where(Callback.incident_id == incident_id))


async def record_callback(
    *,
    session: AsyncSession,
    callback: Callback,
    reachable: bool,
    reached: bool,
    satisfied: bool | None,
    note: str | None,
    by_user: str,
) -> bool:
    """Record the call with a compare-and-set on the task still pending (``done_at`` unset):
    of two officers recording the same callback at once, one wins. False if it was done."""
    result = await session.execute(
        update(Callback)
        .where(Callback.id == callback.id, Callback.done_at.is_(None))
        .values(
            reachable=reachable,
            reached=reached,
            satisfied=satisfied,
            note=note,
            by_user=by_user,
            done_at=clock.now(),
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(callback)
    return rows_affected(result) > 0


async def open_and_soon_due(
    *, session: AsyncSession, scope: Scope, horizon: timedelta, limit: int = 500
) -> list[Order]:
    """督办看板: open orders with a stage overdue or due within ``horizon``."""
    soon = clock.now() + horizon
    rows = await session.scalars(
        order_query(scope)
        .where(Order.stage.in_(OPEN_STAGES))
        .where(
            or_(
                (Order.stage == OrderStage.ISSUED) & (Order.sign_due_at <= soon),
                (Order.stage == OrderStage.SIGNED)
                & Order.arrive_due_at.is_not(None)
                & (Order.arrive_due_at <= soon),
                Order.complete_due_at <= soon,
                Order.feedback_due_at <= soon,
            )
        )
        .order_by(Order.sign_due_at)
        .limit(limit)
    )
    return list(rows.all())


async def add_routing_rules(*, session: AsyncSession, rules: list[dict[str, Any]]) -> int:
    """Add routing rules naming units by code; a table that has rules is left alone."""
    if await session.scalar(select(func.count()).select_from(RoutingRule)):
        return 0
    codes = await org.unit_ids_by_code(session=session)
    added = 0
    for raw in rules:
        unit_code = raw.get("unit_code")
        if unit_code is not None and unit_code not in codes:
            continue
        session.add(
            RoutingRule(
                category_prefix=raw.get("category_prefix", ""),
                levels=raw.get("levels", []),
                division_path=raw.get("division_path"),
                role=raw["role"],
                selector=raw.get("selector", "unit"),
                unit_id=codes[unit_code] if unit_code else None,
                priority=raw.get("priority", 100),
                note=raw.get("note"),
                active=True,
                when_trapped=bool(raw.get("when_trapped", False)),
            )
        )
        added += 1
    await session.flush()
    return added


def demo_routing() -> list[dict[str, Any]]:
    text = resources.files("yingji").joinpath("data/routing_demo.json").read_text("utf-8")
    rules: list[dict[str, Any]] = json.loads(text)["rules"]
    return rules
