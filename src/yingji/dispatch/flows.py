"""分类指派 · 限时处置 · 督办: dispatch an incident, move orders through their stages against
deadlines (timer rows), escalate what runs late, and call the reporter back after closing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit, clock, files, reasons, security, timers
from yingji.core.changes import record_change
from yingji.core.errors import Conflict, PermissionDenied, ValidationFailed
from yingji.core.events import EventScope
from yingji.core.on_duty import Position, on_duty
from yingji.core.security import Permission, Principal, Role
from yingji.dispatch import routing_io, schemas, service
from yingji.dispatch.models import (
    ENDED_STAGES,
    OPEN_STAGES,
    Callback,
    Order,
    OrderPhoto,
    OrderStage,
    RoutingRule,
    StageDeadline,
)
from yingji.incidents import flows as incident_flows
from yingji.incidents import service as incidents
from yingji.intake import service as intake
from yingji.org import service as org

DEADLINE_TIMER = "dispatch.deadline"
STEPS = ("remind", "supervise_unit", "supervise_center")
STAGE_NAMES = {"sign": "签收", "arrive": "到场", "feedback": "反馈", "complete": "办结"}
STEP_NAMES = {
    "remind": "催办",
    "supervise_unit": "督办（单位）",
    "supervise_center": "督办（中心）",
}
DISPATCHABLE = ("verified", "responding", "controlled")


# --- traces --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """A notification a change sends to named people. The flow names them (the order's unit's
    people, the duty officers or leaders over the incident) and the change's event carries it;
    ``notify.jobs.Notices`` creates one notification per person once the event is relayed."""

    kind: str
    title: str
    body: str
    user_ids: tuple[str, ...]
    #: what the notification links to; the order by default (the event's subject)
    subject_type: str = "order"
    subject_id: str | None = None

    def as_payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "body": self.body,
            "user_ids": list(self.user_ids),
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
        }


async def _trace(
    session: AsyncSession,
    order: Order,
    incident: incidents.Incident,
    *,
    action: str,
    summary: str,
    before: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    notices: Sequence[Notice] = (),
) -> None:
    """A change to an order, recorded (``core.changes.record_change``): the incident's timeline
    line, the order's audit row, and an event to the area and both units. The
    event carries the incident's number and title, so a screen can tell the unit what the order
    is about in its own language without a fetch (``summary`` is the Chinese timeline line).
    The timeline row's code is ``action``; its words take ``data`` and ``params`` (the unit's
    name, …), which the event carries too. ``notices``: the notifications the change sends,
    which the event carries for ``notify.jobs.Notices`` to create."""
    after = audit.snapshot(order, service.ORDER_FIELDS)
    words = {**(data or {}), **(params or {})}
    units = tuple(sorted({str(order.unit_id), str(order.responsible_unit_id)}))
    await record_change(
        session,
        action=action,
        subject_type="order",
        subject_id=order.id,
        before=before,
        after=after,
        audience=EventScope(division_path=order.division_path, unit_ids=units),
        timeline=incidents.timeline_entry(
            incident,
            code=action,
            summary=summary,
            params=words,
            data={"order_id": str(order.id), **(data or {})},
        ),
        payload={
            "order": after,
            "incident_id": str(incident.id),
            "incident": {
                "id": str(incident.id),
                "number": incident.number,
                "title": incident.title,
            },
            "summary": summary,
            "params": words,
            **(data or {}),
            **({"notices": [n.as_payload() for n in notices]} if notices else {}),
        },
    )


async def _load(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID
) -> tuple[Order, incidents.Incident, org.LinkageUnit]:
    order = await service.get_order_or_raise(
        session=session, order_id=order_id, scope=principal.scope
    )
    incident = await incidents.get_incident_or_raise(
        session=session, incident_id=order.incident_id, scope=security.SYSTEM.scope
    )
    unit = await org.get_unit_or_raise(session=session, unit_id=order.unit_id)
    return order, incident, unit


def _acting_without_unit(principal: Principal) -> None:
    """A principal with no unit acts on an order only as the centre (it dispatches: duty
    officers, leaders, commanders, administrators), for a unit that cannot (a phone call to the
    duty room). A liaison or field worker without a unit (an old account) acts for none."""
    if principal.unit_id is None and not principal.can(Permission.DISPATCH_WRITE):
        raise PermissionDenied(
            "acting_needs_unit", "only the order's unit or the command centre acts on an order"
        )


def _acting_unit(principal: Principal, order: Order) -> None:
    """Only the order's unit (or, before a transfer is signed, the first unit) acts on it;
    the centre may act for a unit that cannot (a phone call to the duty room)."""
    _acting_without_unit(principal)
    if principal.unit_id is None or principal.unit_id in (order.unit_id, order.responsible_unit_id):
        return
    raise ValidationFailed("not_your_order", "this order is for another unit")


# --- deadlines as timers -------------------------------------------------------------------------


def due_of(order: Order, stage: str) -> datetime | None:
    due: datetime | None = getattr(order, f"{stage}_due_at")
    return clock.as_utc(due) if due is not None else None


async def _schedule_stage(
    session: AsyncSession, order: Order, stage: str, start: datetime, share: float
) -> None:
    due = due_of(order, stage)
    if due is None:
        return
    span = max(due - start, timedelta(seconds=1))
    moments = {
        "remind": start + span * share,
        "supervise_unit": due,
        "supervise_center": due + max(span / 2, timedelta(minutes=5)),
    }
    for step, at in moments.items():
        await timers.schedule(
            session,
            kind=DEADLINE_TIMER,
            subject=order.id,
            key=f"{stage}:{step}",
            due_at=at,
            payload={"stage": stage, "step": step, "due_at": due.isoformat()},
        )


async def _cancel_stage(session: AsyncSession, order: Order, stage: str) -> None:
    for step in STEPS:
        await timers.cancel(session, kind=DEADLINE_TIMER, subject=order.id, key=f"{stage}:{step}")


async def _limits(
    session: AsyncSession, incident: incidents.Incident, unit: org.LinkageUnit
) -> service.Limits:
    return await service.stage_limits(
        session=session, category_code=incident.category_code, level=incident.level, tier=unit.tier
    )


# --- dispatch ------------------------------------------------------------------------------------


async def _issue(
    session: AsyncSession,
    incident: incidents.Incident,
    unit: org.LinkageUnit,
    role: str,
    reason: str,
    *,
    responsible: uuid.UUID | None = None,
    transferred_from: uuid.UUID | None = None,
    why: reasons.Why | None = None,
) -> Order:
    now = clock.now()
    limits = await _limits(session, incident, unit)
    presence = unit.tier in (1, 2)
    order = Order(
        incident_id=incident.id,
        division_path=incident.division_path,
        unit_id=unit.id,
        responsible_unit_id=responsible or unit.id,
        role=role,
        stage=OrderStage.ISSUED,
        chosen_by=reason,
        chosen_why=why,
        needs_presence=presence,
        issued_at=now,
        sign_due_at=now + limits.sign,
        arrive_due_at=now + limits.arrive if presence else None,
        complete_due_at=now + limits.complete,
        feedback_count=0,
        transferred_from_id=transferred_from,
        updated_at=now,
    )
    session.add(order)
    await session.flush()
    for stage in ("sign", "arrive", "complete"):
        await _schedule_stage(session, order, stage, now, limits.remind_share)
    return order


async def _issued_notice(
    session: AsyncSession, order: Order, incident: incidents.Incident, reason: str
) -> Notice:
    return await unit_notice(
        session,
        order,
        kind="order_issued",
        title=f"新派单 {incident.number}",
        body=f"{incident.title}（{reason}）",
    )


def _active(unit: org.LinkageUnit) -> org.LinkageUnit:
    """An order goes only to a unit in service (the routing table skips the others too)."""
    if not unit.active:
        raise ValidationFailed(
            "unit_inactive",
            f"{unit.name} is not in service; choose another unit",
            {"unit_id": str(unit.id)},
        )
    return unit


async def dispatch(
    *,
    session: AsyncSession,
    principal: Principal,
    incident_id: uuid.UUID,
    units: list[tuple[uuid.UUID, str]] | None,
) -> list[Order]:
    """派单: by the routing table (``units`` None) or to the units the officer chose."""
    incident = await incidents.get_incident_or_raise(
        session=session, incident_id=incident_id, scope=principal.scope
    )
    if incident.state not in DISPATCHABLE:
        raise Conflict(
            "incident_not_dispatchable",
            f"an incident that is {incident.state} is not dispatched (verify first)",
            {"state": incident.state},
        )
    if units is None:
        choices = await service.route(
            session=session,
            category_code=incident.category_code,
            level=incident.level,
            division_path=incident.division_path,
            trapped=incident.trapped,
        )
        if not choices:
            raise ValidationFailed(
                "no_route", "the routing table names no unit for this incident; choose the units"
            )
    else:
        choices = []
        for unit_id, role in units:
            unit = _active(await org.get_unit_or_raise(session=session, unit_id=unit_id))
            chosen = reasons.reason("routing.chosen_by", person=principal.display_name)
            choices.append(service.Choice(unit, role, f"chosen by {principal.username}", chosen))
    busy = {
        o.unit_id
        for o in await service.orders_of_incident(session=session, incident_id=incident.id)
        if o.stage in OPEN_STAGES
    }
    issued = []
    for choice in choices:
        if choice.unit.id in busy:
            continue
        order = await _issue(
            session, incident, choice.unit, choice.role, choice.reason, why=choice.why
        )
        await _trace(
            session,
            order,
            incident,
            action="dispatch.order_issued",
            summary=f"派单 {choice.unit.name}（{'主办' if choice.role == 'lead' else '协办'}）"
            f"：{choice.reason}",
            data={
                "unit": choice.unit.name,
                "role": choice.role,
                "sign_due_at": clock.as_utc(order.sign_due_at).isoformat(),
            },
            params={"why": choice.why},
            notices=[await _issued_notice(session, order, incident, choice.reason)],
        )
        issued.append(order)
    if not issued:
        raise Conflict("already_dispatched", "every chosen unit already has an open order")
    await _mark_responding(session, incident)
    return issued


async def _mark_responding(session: AsyncSession, incident: incidents.Incident) -> None:
    if incident.state != "verified":
        return
    before = audit.snapshot(incident, incidents.INCIDENT_FIELDS)
    await incidents.transition(
        session=session, incident=incident, allowed_from=("verified",), to="responding"
    )
    await incidents.trace(
        session=session,
        incident=incident,
        action="incidents.responding",
        summary="处置中：已派出首个派单",
        before=before,
    )


# --- stages --------------------------------------------------------------------------------------


async def sign(*, session: AsyncSession, principal: Principal, order_id: uuid.UUID) -> Order:
    """签收. The new unit of a transfer signing ends the first unit's order (首接负责制)."""
    order, incident, unit = await _load(session, principal, order_id)
    _acting_without_unit(principal)
    if principal.unit_id is not None and principal.unit_id != order.unit_id:
        raise ValidationFailed("not_your_order", "only the unit the order is for signs it")
    before = audit.snapshot(order, service.ORDER_FIELDS)
    now = clock.now()
    limits = await _limits(session, incident, unit)
    await service.advance(
        session=session,
        order=order,
        to=OrderStage.SIGNED,
        values={
            "signed_at": now,
            "sign_late": now > clock.as_utc(order.sign_due_at),
            "responsible_unit_id": order.unit_id,
            "feedback_due_at": now + limits.feedback,
        },
    )
    await _cancel_stage(session, order, "sign")
    await _schedule_stage(session, order, "feedback", now, limits.remind_share)
    await _trace(
        session,
        order,
        incident,
        action="dispatch.order_signed",
        before=before,
        summary=f"签收 {unit.name}" + ("（超时）" if order.sign_late else ""),
        params={"unit": unit.name, "late": bool(order.sign_late)},
    )
    if order.transferred_from_id is not None:
        await _finish_transfer(session, order, incident, unit)
    return order


async def _finish_transfer(
    session: AsyncSession, new: Order, incident: incidents.Incident, unit: org.LinkageUnit
) -> None:
    first = await session.get(Order, new.transferred_from_id)
    if first is None or first.stage not in OPEN_STAGES:
        return
    before = audit.snapshot(first, service.ORDER_FIELDS)
    await service.advance(session=session, order=first, to=OrderStage.TRANSFERRED)
    await timers.cancel(session, kind=DEADLINE_TIMER, subject=first.id)
    await _trace(
        session,
        first,
        incident,
        action="dispatch.order_transferred",
        before=before,
        summary=f"移交完成：{unit.name} 已签收",
        data={"to_order_id": str(new.id)},
        params={"unit": unit.name},
    )


async def arrive(
    *,
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    lon: float | None,
    lat: float | None,
) -> Order:
    order, incident, unit = await _load(session, principal, order_id)
    _acting_unit(principal, order)
    before = audit.snapshot(order, service.ORDER_FIELDS)
    now = clock.now()
    due = due_of(order, "arrive")
    await service.advance(
        session=session,
        order=order,
        to=OrderStage.ARRIVED,
        values={
            "arrived_at": now,
            "arrive_lon": lon,
            "arrive_lat": lat,
            "arrive_late": due is not None and now > due,
        },
    )
    await _cancel_stage(session, order, "arrive")
    await _trace(
        session,
        order,
        incident,
        action="dispatch.order_arrived",
        before=before,
        summary=f"到场 {unit.name}" + ("（超时）" if order.arrive_late else ""),
        data={"lon": lon, "lat": lat},
        params={"unit": unit.name, "late": bool(order.arrive_late)},
    )
    return order


async def feedback(
    *,
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    text: str,
    attachments: list[str] | None,
) -> Order:
    """反馈, with photos named by SHA-256: each must have been uploaded for this order (see
    ``upload_photo``); one that was not refuses the whole feedback and changes nothing."""
    order, incident, unit = await _load(session, principal, order_id)
    _acting_unit(principal, order)
    if order.stage not in (OrderStage.SIGNED, OrderStage.ARRIVED):
        raise ValidationFailed(
            "invalid_stage",
            f"feedback comes after signing; the order is {order.stage}",
            {"stage": order.stage},
        )
    wanted = list(dict.fromkeys(attachments or []))
    recorded = await service.photos_of(session=session, order_id=order.id, sha256s=wanted)
    missing = [sha for sha in wanted if sha not in recorded]
    if missing:
        raise ValidationFailed(
            "attachment_not_uploaded",
            "a photo of the feedback was not uploaded for this order",
            {"sha256": missing},
        )
    limits = await _limits(session, incident, unit)
    await service.add_feedback(
        session=session,
        order=order,
        text=text,
        photos=[recorded[sha] for sha in wanted],
        by_user=principal.username,
    )
    now = clock.now()
    order.feedback_due_at = now + limits.feedback
    await session.flush()
    await _cancel_stage(session, order, "feedback")
    await _schedule_stage(session, order, "feedback", now, limits.remind_share)
    await _trace(
        session,
        order,
        incident,
        action="dispatch.order_feedback",
        summary=f"反馈 {unit.name}：{text}",
        data={"text": text},
        params={"unit": unit.name},
    )
    return order


async def upload_photo(
    *,
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    store: files.FileStore,
    data: bytes,
    filename: str,
    max_bytes: int,
) -> OrderPhoto:
    """反馈附图: the order's unit uploads a photo to send with a feedback. It is decoded (a file
    that is not a JPEG, PNG or WebP photo, or a decompression bomb, is refused), stored by its
    SHA-256 and recorded for this order with the type of the format it decoded as."""
    order = await service.get_order_or_raise(
        session=session, order_id=order_id, scope=principal.scope
    )
    _acting_unit(principal, order)
    filename = (filename or "photo")[:200]
    if len(data) > max_bytes:
        raise ValidationFailed(
            "attachment_too_large",
            f"{filename} is larger than {max_bytes // 2**20} MiB",
            {"filename": filename, "max_bytes": max_bytes},
        )
    content_type = await files.identify_photo_async(data, filename=filename)
    digest = await store.put(data)
    photo = await service.record_photo(
        session=session,
        order=order,
        sha256=digest,
        content_type=content_type,
        filename=filename,
        size=len(data),
        uploaded_by=principal.username,
    )
    await audit.record(
        session,
        action="dispatch.photo_uploaded",
        subject_type="order",
        subject_id=order.id,
        area=order.division_path,
        after={"sha256": digest, "size": len(data), "content_type": content_type},
    )
    return photo


async def complete(
    *, session: AsyncSession, principal: Principal, order_id: uuid.UUID, note: str | None
) -> Order:
    order, incident, unit = await _load(session, principal, order_id)
    _acting_unit(principal, order)
    before = audit.snapshot(order, service.ORDER_FIELDS)
    now = clock.now()
    await service.advance(
        session=session,
        order=order,
        to=OrderStage.COMPLETED,
        values={"completed_at": now, "complete_late": now > clock.as_utc(order.complete_due_at)},
    )
    await timers.cancel(session, kind=DEADLINE_TIMER, subject=order.id)
    await _trace(
        session,
        order,
        incident,
        action="dispatch.order_completed",
        before=before,
        summary=f"办结 {unit.name}" + (f"：{note}" if note else ""),
        data={"note": note},
        params={"unit": unit.name},
    )
    await _prompt_close_if_done(session, incident)
    return order


async def _prompt_close_if_done(session: AsyncSession, incident: incidents.Incident) -> None:
    orders = await service.orders_of_incident(session=session, incident_id=incident.id)
    live = [o for o in orders if o.stage not in ENDED_STAGES]
    if live and all(o.stage == OrderStage.COMPLETED for o in live):
        await incidents.trace(
            session=session,
            incident=incident,
            action="dispatch.ready_to_close",
            before=None,
            summary="全部派单已办结，请值班员确认办结",
        )


async def return_order(
    *, session: AsyncSession, principal: Principal, order_id: uuid.UUID, reason: str
) -> Order:
    """退回: the unit refuses with a reason; the centre dispatches again."""
    order, incident, unit = await _load(session, principal, order_id)
    _acting_unit(principal, order)
    before = audit.snapshot(order, service.ORDER_FIELDS)
    await service.advance(
        session=session,
        order=order,
        to=OrderStage.RETURNED,
        values={"returned_at": clock.now(), "return_reason": reason},
    )
    await timers.cancel(session, kind=DEADLINE_TIMER, subject=order.id)
    await _trace(
        session,
        order,
        incident,
        action="dispatch.order_returned",
        before=before,
        summary=f"退回 {unit.name}：{reason}",
        data={"reason": reason},
        params={"unit": unit.name},
        notices=[
            Notice(
                kind="order_returned",
                title=f"派单退回 {incident.number}",
                body=f"{unit.name}：{reason}",
                user_ids=await _covering(session, Role.DUTY_OFFICER, incident),
                subject_type="incident",
                subject_id=str(incident.id),
            )
        ],
    )
    return order


async def transfer(
    *,
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    to_unit_id: uuid.UUID,
    reason: str,
) -> Order:
    """移交 (先受理、先处置、后移交): the first unit keeps acting until the new unit signs."""
    order, incident, unit = await _load(session, principal, order_id)
    _acting_unit(principal, order)
    if order.stage not in OPEN_STAGES:
        raise ValidationFailed(
            "invalid_stage", f"an order that is {order.stage} is not moved", {"stage": order.stage}
        )
    if to_unit_id == order.unit_id:
        raise ValidationFailed("transfer_to_itself", "choose another unit")
    if await service.pending_transfer(session=session, order=order) is not None:
        raise Conflict("transfer_pending", "a transfer of this order waits to be signed")
    target = _active(await org.get_unit_or_raise(session=session, unit_id=to_unit_id))
    chosen_by = f"移交自 {unit.name}：{reason}"
    new = await _issue(
        session,
        incident,
        target,
        order.role,
        chosen_by,
        why=reasons.reason("routing.transfer", unit=unit.name, text=reason),
        responsible=order.unit_id,
        transferred_from=order.id,
    )
    await _trace(
        session,
        new,
        incident,
        action="dispatch.order_transfer_requested",
        summary=f"移交 {unit.name} → {target.name}：{reason}（签收前由 {unit.name} 负责）",
        data={
            "from_order_id": str(order.id),
            "from_unit": unit.name,
            "reason": reason,
            "sign_due_at": clock.as_utc(new.sign_due_at).isoformat(),
        },
        params={"unit": target.name},
        notices=[await _issued_notice(session, new, incident, chosen_by)],
    )
    return new


async def remind(*, session: AsyncSession, principal: Principal, order_id: uuid.UUID) -> Order:
    """One click on the supervision board: remind the unit again now."""
    order, incident, unit = await _load(session, principal, order_id)
    if order.stage not in OPEN_STAGES:
        raise ValidationFailed("invalid_stage", f"the order is {order.stage}")
    stage = current_stage(order)
    notice = await unit_notice(
        session,
        order,
        kind="remind",
        title=f"催办 {incident.number}",
        body=f"{unit.name}：请尽快{STAGE_NAMES[stage]}（{incident.title}）",
    )
    await service.add_escalation(
        session=session,
        order=order,
        stage=stage,
        kind="remind",
        due_at=due_of(order, stage),
        notified=list(notice.user_ids),
        manual=True,
    )
    await _trace(
        session,
        order,
        incident,
        action="dispatch.reminded",
        summary=f"催办 {unit.name}（{STAGE_NAMES[stage]}，{principal.display_name} 手动）",
        params={"unit": unit.name, "stage": stage},
        notices=[notice],
    )
    return order


def current_stage(order: Order) -> str:
    if order.stage == OrderStage.ISSUED:
        return "sign"
    if order.stage == OrderStage.SIGNED and order.needs_presence:
        return "arrive"
    return "complete"


async def unit_notice(
    session: AsyncSession, order: Order, *, kind: str, title: str, body: str
) -> Notice:
    """A notification to the active people of the order's unit."""
    people = await org.users_of_unit(session=session, unit_id=order.unit_id)
    return Notice(kind=kind, title=title, body=body, user_ids=tuple(str(u.id) for u in people))


async def _covering(
    session: AsyncSession, role: Role, incident: incidents.Incident
) -> tuple[str, ...]:
    """The active people with ``role`` whose jurisdiction holds the incident."""
    people = await org.users_covering(
        session=session, role=role, division_path=incident.division_path
    )
    return tuple(str(u.id) for u in people)


async def _leaders_on_duty(session: AsyncSession, incident: incidents.Incident) -> tuple[str, ...]:
    """督办 to the centre: the duty leader on duty over the incident (the nearest roster, through
    ``core.on_duty``), else every duty leader whose jurisdiction holds it."""
    rostered = (
        await on_duty(
            session,
            division_path=incident.division_path,
            positions=(Position.LEADER,),
            at=clock.now(),
        )
        if incident.division_path
        else None
    )
    accounts = [str(p.user_id) for p in rostered or [] if p.user_id is not None]
    if accounts:
        return tuple(dict.fromkeys(accounts))
    return await _covering(session, Role.DUTY_LEADER, incident)


# --- escalation (the timer handler's flow) -------------------------------------------------------


def stage_still_open(order: Order, stage: str, due_at: str | None) -> bool:
    if order.stage not in OPEN_STAGES:
        return False
    if stage == "sign":
        return order.signed_at is None
    if stage == "arrive":
        return order.arrived_at is None
    if stage == "feedback":
        current = due_of(order, "feedback")
        return current is not None and current.isoformat() == due_at
    return order.completed_at is None


async def escalate(
    *, session: AsyncSession, order_id: uuid.UUID, stage: str, step: str, due_at: str | None
) -> None:
    """催办 at the configured share of the time; 督办 to the unit at the deadline, then to the
    centre's duty leaders. Nothing happens for a stage already done."""
    order = await session.get(Order, order_id)
    if order is None or not stage_still_open(order, stage, due_at):
        return
    incident = await incidents.get_incident(
        session=session, incident_id=order.incident_id, scope=security.SYSTEM.scope
    )
    unit = await org.get_unit(session=session, unit_id=order.unit_id)
    if incident is None or unit is None:
        return
    what = f"{STEP_NAMES[step]}：{unit.name} {STAGE_NAMES[stage]}"
    notices = [
        await unit_notice(
            session, order, kind=step, title=f"{what} {incident.number}", body=f"{incident.title}"
        )
    ]
    if step == "supervise_center":
        leaders = await _leaders_on_duty(session, incident)
        notices.append(
            Notice(
                kind=step,
                title=f"{what} {incident.number}",
                body=f"{incident.title}：已超时，请督办",
                user_ids=leaders,
            )
        )
    told = [user_id for notice in notices for user_id in notice.user_ids]
    await service.add_escalation(
        session=session,
        order=order,
        stage=stage,
        kind=step,
        due_at=due_of(order, stage),
        notified=told,
    )
    await _trace(
        session,
        order,
        incident,
        action=f"dispatch.{step}",
        summary=what + ("（已超时）" if step != "remind" else ""),
        data={"stage": stage, "step": step, "notified": len(told)},
        params={"unit": unit.name},
        notices=notices,
    )


# --- the incident ends before its orders ---------------------------------------------------------

INCIDENT_ENDINGS = {"closed": "办结", "cancelled": "撤销"}


async def _orders_to_end(
    session: AsyncSession, principal: Principal, incident_id: uuid.UUID, confirmed: bool
) -> None:
    """Closing or cancelling an incident with open orders ends them; the officer must say so
    (``confirm_end_orders``). Unconfirmed, the answer is 409 ``incident_has_live_orders`` naming
    each order (unit and stage) and nothing changes."""
    incident = await incidents.get_incident_or_raise(
        session=session, incident_id=incident_id, scope=principal.scope
    )
    if confirmed:
        return
    live = [
        o
        for o in await service.orders_of_incident(session=session, incident_id=incident.id)
        if o.stage in OPEN_STAGES
    ]
    if not live:
        return
    names = await service.unit_names(session=session, unit_ids={o.unit_id for o in live})
    raise Conflict(
        "incident_has_live_orders",
        f"{len(live)} orders of this incident are still open; confirm to end them with it",
        {
            "orders": [
                {
                    "order_id": str(o.id),
                    "unit_id": str(o.unit_id),
                    "unit_name": names.get(o.unit_id, ""),
                    "stage": o.stage,
                }
                for o in live
            ]
        },
    )


async def _end_orders_with(session: AsyncSession, incident: incidents.Incident) -> list[Order]:
    """随事件结束: each open order of an incident just closed or cancelled ends in the stage
    ``closed_with_incident`` at this moment, its deadline timers cancelled in the same
    transaction; the unit is told it need not go on. See :mod:`yingji.dispatch.kpi` for how
    such an order counts."""
    ending = INCIDENT_ENDINGS.get(incident.state, incident.state)
    ended = []
    for order in await service.orders_of_incident(session=session, incident_id=incident.id):
        if order.stage not in OPEN_STAGES:
            continue
        unit = await org.get_unit_or_raise(session=session, unit_id=order.unit_id)
        before = audit.snapshot(order, service.ORDER_FIELDS)
        was = await service.advance(
            session=session,
            order=order,
            to=OrderStage.CLOSED_WITH_INCIDENT,
        )
        await timers.cancel(session, kind=DEADLINE_TIMER, subject=order.id)
        await _trace(
            session,
            order,
            incident,
            action="dispatch.order_closed_with_incident",
            before=before,
            summary=f"派单随事件{ending}结束：{unit.name}",
            data={"unit": unit.name, "from_stage": was, "incident_state": incident.state},
            notices=[
                await unit_notice(
                    session,
                    order,
                    kind="order_closed_with_incident",
                    title=f"派单已结束 {incident.number}",
                    body=f"{incident.title}：事件已{ending}，无需继续处置",
                )
            ],
        )
        ended.append(order)
    return ended


async def close_incident(
    *,
    session: AsyncSession,
    principal: Principal,
    incident_id: uuid.UUID,
    note: str | None,
    confirm_end_orders: bool,
) -> incidents.Incident:
    """办结, ending the incident's open orders with it (once the officer confirmed that)."""
    await _orders_to_end(session, principal, incident_id, confirm_end_orders)
    incident = await incident_flows.close(
        session=session, principal=principal, incident_id=incident_id, note=note
    )
    await _end_orders_with(session, incident)
    return incident


async def cancel_incident(
    *,
    session: AsyncSession,
    principal: Principal,
    incident_id: uuid.UUID,
    kind: str,
    reason: str,
    confirm_end_orders: bool,
) -> incidents.Incident:
    """撤销 (误报 found after dispatch too), ending the incident's open orders with it."""
    await _orders_to_end(session, principal, incident_id, confirm_end_orders)
    incident = await incident_flows.cancel(
        session=session, principal=principal, incident_id=incident_id, kind=kind, reason=reason
    )
    await _end_orders_with(session, incident)
    return incident


async def merge_incident(
    *,
    session: AsyncSession,
    principal: Principal,
    incident_id: uuid.UUID,
    into_id: uuid.UUID,
    reason: str | None,
    confirm_end_orders: bool,
) -> incidents.Incident:
    """合并: the reports of ``incident_id`` move to ``into_id`` (intake), the merged-away
    incident is cancelled (incidents), and its open orders end with it (the officer dispatches
    on the incident that remains if a unit is still needed there)."""
    await _orders_to_end(session, principal, incident_id, confirm_end_orders)
    source, target = await incident_flows.mergeable(
        session=session, principal=principal, incident_id=incident_id, into_id=into_id
    )
    moved = await intake.move_reports(
        session=session, from_incident=source.id, to_incident=target.id
    )
    await incident_flows.merge(
        session=session, source=source, target=target, reports=moved, reason=reason
    )
    await _end_orders_with(session, source)
    return target


# --- callback ------------------------------------------------------------------------------------


async def open_callback(*, session: AsyncSession, incident_id: uuid.UUID) -> Callback | None:
    """回访 task for the duty officer once an incident is closed (from the closing event)."""
    incident = await incidents.get_incident(
        session=session, incident_id=incident_id, scope=security.SYSTEM.scope
    )
    if incident is None:
        return None
    return await service.open_callback(
        session=session, incident_id=incident.id, division_path=incident.division_path
    )


async def record_callback(
    *,
    session: AsyncSession,
    principal: Principal,
    incident_id: uuid.UUID,
    reachable: bool,
    reached: bool,
    satisfied: bool | None,
    note: str | None,
) -> Callback:
    incident = await incidents.get_incident_or_raise(
        session=session, incident_id=incident_id, scope=principal.scope
    )
    if incident.state not in ("closed", "archived"):
        raise Conflict("incident_not_closed", "the reporter is called back after closing")
    callback = await service.get_callback(session=session, incident_id=incident.id)
    if callback is None:
        await service.open_callback(
            session=session, incident_id=incident.id, division_path=incident.division_path
        )
        callback = await service.get_callback(session=session, incident_id=incident.id)
    if callback is None:
        raise Conflict("callback_missing", "the callback task could not be opened")
    recorded = await service.record_callback(
        session=session,
        callback=callback,
        reachable=reachable,
        reached=reached and reachable,
        satisfied=satisfied if reached else None,
        note=note,
        by_user=principal.username,
    )
    if not recorded:
        raise Conflict("callback_done", "the callback was already recorded")
    verdict = "满意" if satisfied else ("不满意" if satisfied is False else "未评价")
    summary = f"回访：{'已联系，' + verdict if callback.reached else '未能联系报警人'}"
    await incidents.trace(
        session=session,
        incident=incident,
        action="dispatch.callback_done",
        before=None,
        summary=summary + (f"（{note}）" if note else ""),
        data={"reachable": reachable, "reached": callback.reached, "satisfied": callback.satisfied},
    )
    return callback


# --- the routing and deadline tables ------------------------------------------------------------

# The deadline tables and the routing rules for everywhere are shared by the whole platform and
# read by everyone who reads incidents; a change goes to all of them (the administration screens
# reload on it). A routing rule of an area goes to the readers of that area.
TABLE_AUDIENCE = EventScope(everywhere=True, permission=Permission.INCIDENT_READ)


def _rule_audience(division_path: str | None) -> EventScope:
    """A rule for everywhere goes to every reader; a rule of an area to the readers of that area
    (another area's rules are not theirs to see, as in the list)."""
    if division_path is None:
        return TABLE_AUDIENCE
    return EventScope(division_path=division_path, permission=Permission.INCIDENT_READ)


async def _check_rule(
    session: AsyncSession, principal: Principal, rule: schemas.RoutingRuleIn
) -> None:
    """What a rule names must exist and be the principal's to name: its area is a division's
    path inside the principal's area (a rule for everywhere is a shared table's row: only an
    administrator of everything sets one), its unit a unit the principal sees."""
    if rule.division_path is None:
        principal.require(Permission.REFERENCE_WRITE)
    elif (
        await org.get_division_by_path(
            session=session, path=rule.division_path, scope=principal.scope
        )
        is None
    ):
        raise ValidationFailed(
            "division_not_found",
            f"no division has the path {rule.division_path} (e.g. 330000/331126/)",
            {"division_path": rule.division_path},
        )
    if rule.selector == "unit" and rule.unit_id is None:
        raise ValidationFailed("unit_required", "a rule with selector 'unit' names its unit")
    if (
        rule.unit_id is not None
        and await org.get_unit(session=session, unit_id=rule.unit_id, scope=principal.scope) is None
    ):
        raise ValidationFailed("unit_not_found", f"no linkage unit {rule.unit_id}")


async def _editable_rule(session: AsyncSession, principal: Principal, rule_id: int) -> RoutingRule:
    """A rule the principal may change: one of another area is not found; one it may read but
    that lies outside its area (for everywhere, or for an area above) is refused."""
    rule = await service.get_routing_rule_or_raise(
        session=session, rule_id=rule_id, scope=principal.scope
    )
    if rule.division_path is None:
        principal.require(Permission.REFERENCE_WRITE)
    if not service.rule_inside(principal.scope, rule.division_path):
        raise PermissionDenied(
            "outside_scope",
            "that rule applies beyond your jurisdiction; its administrator changes it",
            {"rule_id": rule_id},
        )
    return rule


async def _refuse_duplicate(session: AsyncSession, rule: RoutingRule) -> None:
    other = await routing_io.same_rule(session=session, rule=rule)
    if other is not None:
        raise Conflict(
            "routing_rule_duplicate",
            f"routing rule {other.id} already routes this category, level and area to this unit",
            {"rule_id": other.id},
        )


async def add_routing_rule(
    *, session: AsyncSession, principal: Principal, data: schemas.RoutingRuleIn
) -> RoutingRule:
    """A new rule; one with the key of an existing rule (see :func:`routing_io.rule_key`) is
    refused, and the existing one is named so it can be edited instead."""
    await _check_rule(session, principal, data)
    rule = await service.create_routing_rule(session=session, data=data.model_dump())
    await _refuse_duplicate(session, rule)
    await record_change(
        session,
        action="dispatch.routing_rule_added",
        subject_type="routing_rule",
        subject_id=rule.id,
        before=None,
        after=audit.snapshot(rule, service.RULE_FIELDS),
        audience=_rule_audience(rule.division_path),
    )
    return rule


async def update_routing_rule(
    *,
    session: AsyncSession,
    principal: Principal,
    rule_id: int,
    changes: schemas.RoutingRuleUpdate,
) -> RoutingRule:
    """Change the fields given; the rule as changed must pass what a new rule passes (inside the
    principal's area too), and must not become the copy of another rule."""
    rule = await _editable_rule(session, principal, rule_id)
    before = audit.snapshot(rule, service.RULE_FIELDS)
    was_in = _rule_audience(rule.division_path)
    sent = changes.model_dump(exclude_unset=True)
    current = {name: getattr(rule, name) for name in service.RULE_FIELDS}
    # each field sent was checked by its schema, each kept one when it was stored
    await _check_rule(session, principal, schemas.RoutingRuleIn.model_construct(**(current | sent)))
    await service.update_routing_rule(session=session, rule=rule, changes=sent)
    await _refuse_duplicate(session, rule)
    after = audit.snapshot(rule, service.RULE_FIELDS)
    if after != before:
        await record_change(
            session,
            action="dispatch.routing_rule_changed",
            subject_type="routing_rule",
            subject_id=rule.id,
            before=before,
            after=after,
            audience=_rule_audience(rule.division_path),
            previous_audience=was_in,
        )
    return rule


async def delete_routing_rule(*, session: AsyncSession, principal: Principal, rule_id: int) -> None:
    rule = await _editable_rule(session, principal, rule_id)
    before = audit.snapshot(rule, service.RULE_FIELDS)
    await service.delete_routing_rule(session=session, rule=rule)
    await record_change(
        session,
        action="dispatch.routing_rule_deleted",
        subject_type="routing_rule",
        subject_id=rule_id,
        before=before,
        after=None,
        audience=_rule_audience(rule.division_path),
    )


async def import_routing_rules(
    *,
    session: AsyncSession,
    principal: Principal,
    parsed: routing_io.ParsedRules,
    replace: bool,
) -> tuple[int, int]:
    """All rows or none (see :func:`routing_io.import_rules`); one event for the whole file. An
    area administrator imports rules inside its area only, and ``replace`` replaces only those."""
    created, updated = await routing_io.import_rules(
        session=session, parsed=parsed, replace=replace, scope=principal.scope
    )
    await record_change(
        session,
        action="dispatch.routing_rules_imported",
        subject_type="routing_rule",
        subject_id=None,
        before=None,
        after={"created": created, "updated": updated, "replace": replace},
        audience=(
            TABLE_AUDIENCE
            if principal.scope.everything
            else _rule_audience(principal.scope.area_path or principal.scope.division_path)
        ),
    )
    return created, updated


async def set_stage_deadline(
    *, session: AsyncSession, data: schemas.StageDeadlineIn
) -> StageDeadline:
    """限时: the minutes of each stage for one category prefix, level and tier (a new row or the
    one already there)."""
    row = await service.get_stage_deadline(
        session=session, category_prefix=data.category_prefix, level=data.level, tier=data.tier
    )
    before = audit.snapshot(row, service.STAGE_DEADLINE_FIELDS) if row is not None else None
    row = await service.put_stage_deadline(session=session, row=row, data=data.model_dump())
    await record_change(
        session,
        action="dispatch.stage_deadline_set",
        subject_type="stage_deadline",
        subject_id=row.id,
        before=before,
        after=audit.snapshot(row, service.STAGE_DEADLINE_FIELDS),
        audience=TABLE_AUDIENCE,
    )
    return row
