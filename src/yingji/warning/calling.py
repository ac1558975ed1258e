"""叫应: every person on a published warning's call list must personally acknowledge it.

A chain per called person (``WarningRecipient.must_ack``):

- **call** (step 0): publication already queued their deliveries (plan channels first); the chain
  records a ``call`` CallEvent and arms a ``warning.call_step`` timer (subject = the recipient,
  key = a fresh step token, due after the plan's wait).
- **repeat** (steps 1…repeats): the timer fires and nobody answered: new deliveries on the plan's
  channels (``notify.delivery.enqueue(..., step=k)``), a ``repeat`` CallEvent, the next timer.
- **escalate**: repeats spent: the next target of the plan's ``escalate_to`` that names someone —
  ``superior`` (the leader of the person's unit, or of the parent unit when the person leads it),
  then ``duty_leader`` (users with that role covering the warning's division). Each becomes a new
  recipient (reason ``escalation``, ``escalated_from_id``, ``must_ack``) with its own chain; the
  person's ``call_state`` becomes ``escalated``. Nobody left: ``exhausted``.
- **answer**: an acknowledgement (the link's token, the app, voice key 1) sets ``answered`` and
  cancels exactly that person's open step timer (the timer is keyed by the recipient); an
  escalated superior's answer answers the chains below it too.

Every step is a compare-and-set on ``(call_state, call_step)`` in the timer's unit of work, so a
step fires once even when a worker dies mid-step (the timer row is claimed again and its writes
rolled back) and an answer that lands first wins. The auditor (``warning.call_audit``) re-arms a
waiting chain that has no open timer and reports it.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict

from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock, events, metrics, timers
from yingji.core.db import after_commit, database_of, rows_affected
from yingji.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from yingji.core.events import EventScope
from yingji.core.ids import new_id
from yingji.core.on_duty import Position as DutyPosition
from yingji.core.on_duty import on_duty
from yingji.core.security import SYSTEM, Role, Scope
from yingji.core.timers import TimerFiring
from yingji.notify import delivery
from yingji.notify import service as notify_service
from yingji.org import service as org_service
from yingji.warning import catalogue
from yingji.warning.models import (
    CallEvent,
    CallPlan,
    RecipientReason,
    SpotCheck,
    Warning,
    WarningAck,
    WarningLevel,
    WarningRecipient,
    WarningState,
    WarningType,
)

log = logging.getLogger(__name__)

CALL_STEP_TIMER = "warning.call_step"
CALL_AUDIT_TIMER = "warning.call_audit"
#: announces an acknowledgement (``warning.acknowledged``) after its commit
ACK_EVENT_TIMER = "warning.ack_event"
#: how often the auditor looks for stuck chains
AUDIT_EVERY = timedelta(minutes=5)

WAITING, ANSWERED, ESCALATED, EXHAUSTED = "waiting", "answered", "escalated", "exhausted"

stuck_chains = Counter(
    "yingji_warning_stuck_chains_total",
    "叫应 chains found waiting with no open step timer (re-armed by the auditor)",
    registry=metrics.REGISTRY,
)

Position = Literal["department_head", "town_head", "village_head", "duty_leader"]
ChannelName = Literal["app", "email", "dingtalk", "wecom", "sms", "voice", "loudspeaker", "led"]
EscalationTarget = Literal["superior", "duty_leader"]


class CallSteps(BaseModel):
    """A call plan's steps (``CallPlan.steps``), validated."""

    model_config = ConfigDict(extra="forbid")

    positions: list[Position] = Field(min_length=1, max_length=4)
    channels: list[ChannelName] = Field(min_length=1, max_length=8)
    wait_minutes: int = Field(ge=1, le=1440)
    repeats: int = Field(ge=0, le=10)
    escalate_to: list[EscalationTarget] = Field(default_factory=list, max_length=2)

    @field_validator("positions", "channels", "escalate_to")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each entry at most once")
        return value


def plan_steps(call_plan: dict[str, Any] | None) -> CallSteps:
    """The steps of a warning's frozen plan (``Warning.call_plan``: the plan's copy, its steps
    under ``steps`` or at the top); the orange default when it is missing or unreadable."""
    data: object = (call_plan or {}).get("steps", call_plan)
    try:
        return CallSteps.model_validate(data)
    except ValidationError:
        return CallSteps.model_validate(catalogue.DEFAULT_CALL_STEPS[WarningLevel.ORANGE])


def _token() -> str:
    return secrets.token_urlsafe(12)


def audience(warning: Warning) -> EventScope:
    return EventScope(division_path=warning.division_path)


def warning_scope_query(scope: Scope) -> Any:
    return select(Warning).where(scope.clause(Warning.division_path))


async def warning_in_scope(
    session: AsyncSession, *, warning_id: uuid.UUID, scope: Scope
) -> Warning:
    """The warning if ``scope`` sees it (its division's subtree), else ``warning_not_found``."""
    found: Warning | None = await session.scalar(
        warning_scope_query(scope).where(Warning.id == warning_id)
    )
    if found is None:
        raise NotFound("warning_not_found", "no such warning", {"warning_id": str(warning_id)})
    return found


# --- the message a call repeats ------------------------------------------------------------------


class WarningMessage(TypedDict):
    """``OutboundMessage.content`` of a warning (the contract between publication, rendering and
    calling)."""

    kind: str
    warning_id: str
    number: str
    msg_type: str
    type_code: str | None
    type_zh: str
    type_en: str
    level: str | None
    level_zh: str
    headline: str
    description: str
    instruction: str
    issuer: str
    area_desc: str
    area: dict[str, Any] | None
    onset_at: str | None
    expires_at: str | None
    sent_at: str
    ack_url: str | None
    must_ack: bool


def _iso(at: datetime | None) -> str | None:
    return None if at is None else clock.as_utc(at).isoformat()


async def message_content(
    session: AsyncSession, warning: Warning, *, public_url: str, must_ack: bool
) -> WarningMessage:
    kind = await session.get(WarningType, warning.type_code) if warning.type_code else None
    level_zh = ""
    if warning.level in {lv.value for lv in WarningLevel}:
        level_zh = catalogue.LEVELS[WarningLevel(warning.level)].name_zh
    return {
        "kind": "warning",
        "warning_id": str(warning.id),
        "number": warning.number,
        "msg_type": warning.msg_type,
        "type_code": warning.type_code,
        "type_zh": kind.name_zh if kind else (warning.event_text or ""),
        "type_en": kind.name_en if kind else (warning.event_text or ""),
        "level": warning.level,
        "level_zh": level_zh,
        "headline": warning.headline,
        "description": warning.description,
        "instruction": warning.instruction,
        "issuer": warning.issuer,
        "area_desc": warning.area_desc,
        "area": warning.area,
        "onset_at": _iso(warning.onset_at),
        "expires_at": _iso(warning.expires_at),
        "sent_at": _iso(warning.sent_at or warning.published_at) or "",
        "ack_url": f"{public_url.rstrip('/')}/ack/{{token}}" if must_ack else None,
        "must_ack": must_ack,
    }


def plan_channels(
    channels: Sequence[dict[str, str]], order: Sequence[str]
) -> list[tuple[str, str]]:
    """A person's (channel, address) pairs on the plan's channels in the plan's order; all their
    channels when none of the plan's is theirs."""
    mine = [(c.get("channel", ""), c.get("address", "")) for c in channels]
    chosen = [pair for name in order for pair in mine if pair[0] == name]
    return chosen or mine


# --- starting the chains -------------------------------------------------------------------------


#: rows per bulk INSERT when a publication starts its chains
_CHUNK = 1000


async def _arm(
    session: AsyncSession,
    *,
    warning: Warning,
    recipient_id: uuid.UUID,
    step: int,
    level: int,
    wait: timedelta,
    kind: str,
    channel: str | None,
    detail: dict[str, Any] | None = None,
) -> str:
    """A CallEvent for the step and the timer that checks it after ``wait``; returns the token."""
    token = _token()
    now = clock.now()
    await session.execute(
        insert(CallEvent).values(
            id=new_id(),
            warning_id=warning.id,
            recipient_id=recipient_id,
            kind=kind,
            step=step,
            channel=channel,
            token=token,
            detail={"level": level, **(detail or {})},
            at=now,
        )
    )
    await timers.schedule(
        session,
        kind=CALL_STEP_TIMER,
        subject=str(recipient_id),
        key=token,
        due_at=now + wait,
        payload={
            "warning_id": str(warning.id),
            "recipient_id": str(recipient_id),
            "step": step,
            "level": level,
        },
    )
    return token


async def start_chains(session: AsyncSession, *, warning_id: uuid.UUID) -> int:
    """Start the chain of every called person of a published warning who has none yet
    (idempotent: ``warning.published`` is delivered at least once); how many were started."""
    warning = await session.get(Warning, warning_id)
    if warning is None or warning.state != WarningState.PUBLISHED.value:
        return 0
    steps = plan_steps(warning.call_plan)
    rows = (
        await session.execute(
            select(WarningRecipient.id, WarningRecipient.channels).where(
                WarningRecipient.warning_id == warning_id,
                WarningRecipient.must_ack.is_(True),
                WarningRecipient.call_state == WAITING,
                WarningRecipient.escalated_from_id.is_(None),
            )
        )
    ).all()
    started = set(
        (
            await session.scalars(
                select(CallEvent.recipient_id).where(
                    CallEvent.warning_id == warning_id, CallEvent.kind == "call"
                )
            )
        ).all()
    )
    wait = timedelta(minutes=steps.wait_minutes)
    now = clock.now()
    events: list[dict[str, Any]] = []
    steps_due: list[timers.NewTimer] = []
    for recipient_id, channels in rows:
        if recipient_id in started:
            continue
        first = plan_channels(channels or [], steps.channels)
        token = _token()
        events.append(
            {
                "id": new_id(),
                "warning_id": warning.id,
                "recipient_id": recipient_id,
                "kind": "call",
                "step": 0,
                "channel": first[0][0] if first else None,
                "token": token,
                "detail": {"level": 0},
                "at": now,
            }
        )
        steps_due.append(
            timers.NewTimer(
                subject=recipient_id,
                key=token,
                due_at=now + wait,
                payload={
                    "warning_id": str(warning.id),
                    "recipient_id": str(recipient_id),
                    "step": 0,
                    "level": 0,
                },
            )
        )
    # a province's 叫应 list is tens of thousands of people: bulk inserts, not a row at a time
    for start in range(0, len(events), _CHUNK):
        await session.execute(insert(CallEvent), events[start : start + _CHUNK])
    await timers.schedule_many(session, kind=CALL_STEP_TIMER, timers=steps_due)
    return len(events)


async def stop_chains(session: AsyncSession, *, warning_id: uuid.UUID) -> int:
    """A warning no longer in force (cancelled, superseded, expired): its open step timers are
    cancelled (the chains' states stay as evidence); how many."""
    ids = (
        await session.scalars(
            select(WarningRecipient.id).where(
                WarningRecipient.warning_id == warning_id,
                WarningRecipient.call_state == WAITING,
            )
        )
    ).all()
    return await timers.cancel_many(session, kind=CALL_STEP_TIMER, subjects=list(ids))


# --- a step's timer ------------------------------------------------------------------------------


async def _cas_state(
    session: AsyncSession, recipient: WarningRecipient, step: int, **values: Any
) -> bool:
    result = await session.execute(
        update(WarningRecipient)
        .where(
            WarningRecipient.id == recipient.id,
            WarningRecipient.call_state == WAITING,
            WarningRecipient.call_step == step,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return rows_affected(result) == 1


async def call_step(session: AsyncSession, firing: TimerFiring, *, public_url: str) -> None:
    """A step's wait is over: nothing when the person answered (or the warning is no longer in
    force); else repeat, escalate or mark the chain exhausted."""
    recipient_id = uuid.UUID(str(firing.payload["recipient_id"]))
    step = int(firing.payload.get("step", 0))
    level = int(firing.payload.get("level", 0))
    recipient = await session.get(WarningRecipient, recipient_id, populate_existing=True)
    if recipient is None or recipient.call_state != WAITING or recipient.call_step != step:
        return
    warning = await session.get(Warning, recipient.warning_id)
    if warning is None or warning.state != WarningState.PUBLISHED.value:
        return
    steps = plan_steps(warning.call_plan)
    if step < steps.repeats:
        await _repeat(session, warning, recipient, steps, step, level, public_url)
    else:
        await _escalate(session, warning, recipient, steps, step, level, public_url)


async def _repeat(
    session: AsyncSession,
    warning: Warning,
    recipient: WarningRecipient,
    steps: CallSteps,
    step: int,
    level: int,
    public_url: str,
) -> None:
    if not await _cas_state(session, recipient, step, call_step=step + 1):
        return
    channels = plan_channels(recipient.channels or [], steps.channels)
    await delivery.enqueue(
        session,
        subject_type="warning",
        subject_id=warning.id,
        kind="warning.call",
        content=dict(await message_content(session, warning, public_url=public_url, must_ack=True)),
        scope_path=warning.division_path,
        items=[
            delivery.DeliverySpec(
                recipient_ref=str(recipient.id),
                name=recipient.name,
                channels=channels,
                user_id=recipient.user_id,
                ack_token=recipient.ack_token,
                step=step + 1,
            )
        ],
    )
    await _arm(
        session,
        warning=warning,
        recipient_id=recipient.id,
        step=step + 1,
        level=level,
        wait=timedelta(minutes=steps.wait_minutes),
        kind="repeat",
        channel=channels[0][0] if channels else None,
    )
    await events.emit(
        session,
        type="warning.call.repeated",
        subject_type="warning",
        subject_id=warning.id,
        payload={
            "warning_id": str(warning.id),
            "recipient_id": str(recipient.id),
            "step": step + 1,
            "town_adcode": recipient.town_adcode,
        },
        scope=audience(warning),
    )


@dataclass(frozen=True)
class Target:
    """Someone a chain escalates to."""

    key: str  # ``person:<id>`` or ``user:<id>``
    name: str
    position: str | None
    person_id: uuid.UUID | None
    user_id: uuid.UUID | None
    unit_id: uuid.UUID | None
    channels: list[tuple[str, str]]


async def _chain_above(session: AsyncSession, recipient: WarningRecipient) -> set[str]:
    """The person and user keys of ``recipient`` and of every recipient its chain came from."""
    seen: set[str] = set()
    current: WarningRecipient | None = recipient
    hops = 0
    while current is not None and hops < 20:
        if current.person_id:
            seen.add(f"person:{current.person_id}")
        if current.user_id:
            seen.add(f"user:{current.user_id}")
        nxt = current.escalated_from_id
        current = await session.get(WarningRecipient, nxt) if nxt else None
        hops += 1
    return seen


async def _person_channels(
    session: AsyncSession, person_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str, str]]]:
    return await notify_service.contact_points_of(session=session, person_ids=person_ids)


def _with_mobile(points: list[tuple[str, str]], mobile: str | None) -> list[tuple[str, str]]:
    found = list(points)
    if mobile:
        for channel in ("voice", "sms"):
            if (channel, mobile) not in found:
                found.append((channel, mobile))
    return found


async def _superiors(session: AsyncSession, recipient: WarningRecipient) -> list[Target]:
    """The leader(s) of the person's unit; of the parent unit when the person leads their own."""
    unit_id = recipient.unit_id
    person_id = recipient.person_id
    if person_id is None and recipient.user_id is not None:
        try:
            user = await org_service.get_user_or_raise(
                session=session, user_id=recipient.user_id, scope=SYSTEM.scope
            )
        except NotFound:
            user = None
        if user is not None:
            person_id = user.person_id
            unit_id = unit_id or user.unit_id
    if person_id is not None:
        try:
            person = await org_service.get_person_or_raise(
                session=session, person_id=person_id, scope=SYSTEM.scope
            )
            unit_id = person.unit_id
        except NotFound:
            pass
    hops = 0
    while unit_id is not None and hops < 10:
        people, _ = await org_service.list_people(
            session=session, scope=SYSTEM.scope, unit_id=unit_id, limit=50
        )
        leaders = [p for p in people if p.is_leader and p.id != person_id]
        if leaders:
            points = await _person_channels(session, [p.id for p in leaders])
            return [
                Target(
                    key=f"person:{p.id}",
                    name=p.name,
                    position=p.position,
                    person_id=p.id,
                    user_id=None,
                    unit_id=p.unit_id,
                    channels=_with_mobile(points.get(p.id, []), p.mobile),
                )
                for p in leaders
            ]
        unit = await org_service.get_unit(session=session, unit_id=unit_id)
        unit_id = unit.parent_id if unit is not None else None
        hops += 1
    return []


async def _rostered_leaders(session: AsyncSession, warning: Warning) -> list[Target]:
    """The duty leader on duty over the warning's division now (the nearest roster on its
    path, ``core.on_duty``): reached by their contact points, the app when they have an account."""
    rostered = await on_duty(
        session,
        division_path=warning.division_path,
        positions=(DutyPosition.LEADER,),
        at=clock.now(),
    )
    people = [p for p in rostered or [] if p.person_id is not None]
    if not people:
        return []
    found = {
        p.id: p
        for p in await org_service.people_by_ids(
            session=session, person_ids=[p.person_id for p in people if p.person_id]
        )
    }
    points = await _person_channels(session, list(found))
    targets: list[Target] = []
    for on in people:
        person = found.get(on.person_id) if on.person_id else None
        if person is None:
            continue
        channels = _with_mobile(points.get(person.id, []), person.mobile)
        if person.user_id is not None:
            channels.append(("app", str(person.user_id)))
        targets.append(
            Target(
                key=f"person:{person.id}",
                name=person.name,
                position="duty_leader",
                person_id=person.id,
                user_id=person.user_id,
                unit_id=person.unit_id,
                channels=channels,
            )
        )
    return targets


async def _duty_leaders(session: AsyncSession, warning: Warning) -> list[Target]:
    """叫应 escalation's duty leader: the one on duty (the roster), else every duty leader
    whose jurisdiction covers the warning."""
    rostered = await _rostered_leaders(session, warning)
    if rostered:
        return rostered
    users = await org_service.users_covering(
        session=session, role=Role.DUTY_LEADER, division_path=warning.division_path
    )
    person_ids = [u.person_id for u in users if u.person_id is not None]
    points = await _person_channels(session, person_ids)
    targets: list[Target] = []
    for user in sorted(users, key=lambda u: u.username):
        channels = list(points.get(user.person_id, [])) if user.person_id else []
        channels.append(("app", str(user.id)))
        targets.append(
            Target(
                key=f"user:{user.id}",
                name=user.display_name,
                position="duty_leader",
                person_id=user.person_id,
                user_id=user.id,
                unit_id=user.unit_id,
                channels=channels,
            )
        )
    return targets


async def _escalate(
    session: AsyncSession,
    warning: Warning,
    recipient: WarningRecipient,
    steps: CallSteps,
    step: int,
    level: int,
    public_url: str,
) -> None:
    above = await _chain_above(session, recipient)
    for index in range(level, len(steps.escalate_to)):
        target = steps.escalate_to[index]
        found = (
            await _superiors(session, recipient)
            if target == "superior"
            else await _duty_leaders(session, warning)
        )
        found = [
            t
            for t in found
            if t.key not in above
            and not (t.person_id and f"person:{t.person_id}" in above)
            and not (t.user_id and f"user:{t.user_id}" in above)
        ]
        if not found:
            continue
        if not await _cas_state(session, recipient, step, call_state=ESCALATED):
            return
        added = await _add_escalated(
            session, warning, recipient, found, steps, index + 1, public_url
        )
        await session.execute(
            insert(CallEvent).values(
                id=new_id(),
                warning_id=warning.id,
                recipient_id=recipient.id,
                kind="escalate",
                step=step,
                channel=None,
                token=None,
                detail={"target": target, "to": [str(i) for i in added]},
                at=clock.now(),
            )
        )
        await events.emit(
            session,
            type="warning.call.escalated",
            subject_type="warning",
            subject_id=warning.id,
            payload={
                "warning_id": str(warning.id),
                "recipient_id": str(recipient.id),
                "target": target,
                "to": [str(i) for i in added],
                "town_adcode": recipient.town_adcode,
            },
            scope=audience(warning),
        )
        return
    if not await _cas_state(session, recipient, step, call_state=EXHAUSTED):
        return
    await session.execute(
        insert(CallEvent).values(
            id=new_id(),
            warning_id=warning.id,
            recipient_id=recipient.id,
            kind="exhausted",
            step=step,
            channel=None,
            token=None,
            detail={},
            at=clock.now(),
        )
    )
    await events.emit(
        session,
        type="warning.call.exhausted",
        subject_type="warning",
        subject_id=warning.id,
        payload={
            "warning_id": str(warning.id),
            "recipient_id": str(recipient.id),
            "town_adcode": recipient.town_adcode,
        },
        scope=audience(warning),
    )


async def _add_escalated(
    session: AsyncSession,
    warning: Warning,
    source: WarningRecipient,
    targets: list[Target],
    steps: CallSteps,
    level: int,
    public_url: str,
) -> list[uuid.UUID]:
    """New recipients for ``targets`` (one per target and source: their own chains), their
    deliveries queued and their chains started at ``level``."""
    now = clock.now()
    rows: list[dict[str, Any]] = [
        {
            "id": new_id(),
            "warning_id": warning.id,
            # one per source and target: the same superior above two people has two chains
            "recipient_key": f"esc:{source.id.hex}:{target.key.split(':', 1)[1]}"[:80],
            "reason": RecipientReason.ESCALATION.value,
            "person_id": target.person_id,
            "user_id": target.user_id,
            "unit_id": target.unit_id,
            "name": target.name[:200],
            "position": (target.position or "")[:100] or None,
            "division_adcode": source.division_adcode,
            "town_adcode": source.town_adcode,
            "channels": [{"channel": c, "address": a} for c, a in target.channels],
            "must_ack": True,
            "ack_token": secrets.token_urlsafe(24),
            "call_state": WAITING,
            "call_step": 0,
            "escalated_from_id": source.id,
            "created_at": now,
        }
        for target in targets
    ]
    await session.execute(insert(WarningRecipient), rows)
    await delivery.enqueue(
        session,
        subject_type="warning",
        subject_id=warning.id,
        kind="warning.escalate",
        content=dict(await message_content(session, warning, public_url=public_url, must_ack=True)),
        scope_path=warning.division_path,
        items=[
            delivery.DeliverySpec(
                recipient_ref=str(row["id"]),
                name=row["name"],
                channels=plan_channels(row["channels"], steps.channels),
                user_id=row["user_id"],
                ack_token=row["ack_token"],
                step=0,
            )
            for row in rows
        ],
    )
    wait = timedelta(minutes=steps.wait_minutes)
    for row in rows:
        first = plan_channels(row["channels"], steps.channels)
        await _arm(
            session,
            warning=warning,
            recipient_id=row["id"],
            step=0,
            level=level,
            wait=wait,
            kind="call",
            channel=first[0][0] if first else None,
            detail={"escalated_from": str(source.id)},
        )
    return [row["id"] for row in rows]


# --- answers -------------------------------------------------------------------------------------

AckVia = Literal["link", "app", "voice"]


@dataclass(frozen=True)
class AckOutcome:
    """What an acknowledgement did: ``acknowledged`` now, or ``already_acknowledged``."""

    status: Literal["acknowledged", "already_acknowledged"]
    warning_id: uuid.UUID
    recipient_id: uuid.UUID
    acked_at: datetime


async def acknowledge(
    session: AsyncSession,
    *,
    via: AckVia,
    token: str | None = None,
    recipient_id: uuid.UUID | None = None,
    warning_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> AckOutcome:
    """The recipient named by ``token`` (or by ``recipient_id``/``warning_id``) acknowledges:
    one compare-and-set of the recipient (first answer wins), the ack row, the ``answer``
    CallEvent, that person's open step timer cancelled and ``warning.acknowledged``. A second
    answer changes nothing. ``ack_not_found`` when nothing matches."""
    conditions: list[Any] = []
    if token is not None:
        conditions.append(WarningRecipient.ack_token == token)
    if recipient_id is not None:
        conditions.append(WarningRecipient.id == recipient_id)
    if warning_id is not None:
        conditions.append(WarningRecipient.warning_id == warning_id)
    if not conditions:
        raise NotFound("ack_not_found", "nothing to acknowledge")
    now = clock.now()
    row = (
        await session.execute(
            update(WarningRecipient)
            .where(*conditions, WarningRecipient.acked_at.is_(None))
            .values(
                acked_at=now,
                call_state=case(
                    (WarningRecipient.must_ack.is_(True), ANSWERED),
                    else_=WarningRecipient.call_state,
                ),
            )
            .returning(
                WarningRecipient.id,
                WarningRecipient.warning_id,
                WarningRecipient.town_adcode,
                WarningRecipient.escalated_from_id,
                WarningRecipient.call_step,
            )
            .execution_options(synchronize_session=False)
        )
    ).first()
    if row is None:
        before = (
            await session.execute(
                select(
                    WarningRecipient.id, WarningRecipient.warning_id, WarningRecipient.acked_at
                ).where(*conditions)
            )
        ).first()
        if before is None or before.acked_at is None:
            raise NotFound("ack_not_found", "no such acknowledgement link")
        return AckOutcome("already_acknowledged", before.warning_id, before.id, before.acked_at)
    rid, wid, town, escalated_from, at_step = row
    await session.execute(
        insert(WarningAck).values(
            id=new_id(), warning_id=wid, recipient_id=rid, via=via, user_id=user_id, at=now
        )
    )
    await session.execute(
        insert(CallEvent).values(
            id=new_id(),
            warning_id=wid,
            recipient_id=rid,
            kind="answer",
            step=at_step,
            channel=via,
            token=None,
            detail={"via": via},
            at=now,
        )
    )
    await timers.cancel(session, kind=CALL_STEP_TIMER, subject=str(rid))
    below = await _answer_below(session, escalated_from, now) if escalated_from else []
    # the event follows through a timer row written here (not the outbox): the ack takes no
    # journal lock, and the worker emits many acks' events in one commit (decision 0022)
    await session.execute(
        insert(timers.Timer).values(
            kind=ACK_EVENT_TIMER,
            subject=str(rid),
            key="",
            due_at=now,
            payload={
                "warning_id": str(wid),
                "recipient_id": str(rid),
                "via": via,
                "town_adcode": town,
                "answers_for": [str(i) for i in below],
            },
            state=timers.PENDING,
            attempts=0,
            created_at=now,
        )
    )
    worker = database_of(session).timer_worker
    if isinstance(worker, timers.TimerWorker):
        after_commit(session, worker.kick)
    return AckOutcome("acknowledged", wid, rid, now)


async def announce_ack(session: AsyncSession, firing: TimerFiring) -> None:
    """``warning.ack_event``: the acknowledgement's event to the warning's division."""
    payload = firing.payload
    path = await session.scalar(
        select(Warning.division_path).where(Warning.id == uuid.UUID(str(payload["warning_id"])))
    )
    if path is None:
        return
    await events.emit(
        session,
        type="warning.acknowledged",
        subject_type="warning",
        subject_id=payload["warning_id"],
        payload=dict(payload),
        scope=EventScope(division_path=path),
    )


async def _answer_below(
    session: AsyncSession, escalated_from: uuid.UUID | None, now: datetime
) -> list[uuid.UUID]:
    """An escalated superior answered: the chains it was called for count as answered (their
    own ``acked_at`` stays empty: they did not answer themselves)."""
    answered: list[uuid.UUID] = []
    current = escalated_from
    hops = 0
    while current is not None and hops < 20:
        row = (
            await session.execute(
                update(WarningRecipient)
                .where(
                    WarningRecipient.id == current,
                    WarningRecipient.call_state.in_((WAITING, ESCALATED, EXHAUSTED)),
                )
                .values(call_state=ANSWERED)
                .returning(WarningRecipient.warning_id, WarningRecipient.escalated_from_id)
                .execution_options(synchronize_session=False)
            )
        ).first()
        if row is None:
            break
        await timers.cancel(session, kind=CALL_STEP_TIMER, subject=str(current))
        await session.execute(
            insert(CallEvent).values(
                id=new_id(),
                warning_id=row.warning_id,
                recipient_id=current,
                kind="answer",
                step=0,
                channel=None,
                token=None,
                detail={"by_escalation": True},
                at=now,
            )
        )
        answered.append(current)
        current = row.escalated_from_id
        hops += 1
    return answered


async def record_receipt(
    session: AsyncSession,
    *,
    warning_id: uuid.UUID,
    recipient_id: uuid.UUID,
    channel: str,
    key: str | None,
    delivery_id: object,
) -> bool:
    """A delivery's report (a voice call's key other than 1) kept in the chain as a ``receipt``
    (never an answer); False when the recipient is not the warning's."""
    found = await session.scalar(
        select(WarningRecipient.id).where(
            WarningRecipient.id == recipient_id, WarningRecipient.warning_id == warning_id
        )
    )
    if found is None:
        return False
    await session.execute(
        insert(CallEvent).values(
            id=new_id(),
            warning_id=warning_id,
            recipient_id=recipient_id,
            kind="receipt",
            step=0,
            channel=channel[:16],
            token=None,
            detail={"key": key, "delivery_id": str(delivery_id)},
            at=clock.now(),
        )
    )
    return True


# --- the auditor ---------------------------------------------------------------------------------


async def ensure_call_audit(session: AsyncSession) -> None:
    """The auditor is scheduled (idempotent; at start, as reference data)."""
    open_one = await session.scalar(
        select(timers.Timer.id)
        .where(timers.Timer.kind == CALL_AUDIT_TIMER, timers.Timer.state.in_(timers.OPEN_STATES))
        .limit(1)
    )
    if open_one is None:
        due = clock.now() + AUDIT_EVERY
        await timers.schedule(
            session, kind=CALL_AUDIT_TIMER, subject="chains", key=due.isoformat(), due_at=due
        )


async def audit_chains(session: AsyncSession) -> list[uuid.UUID]:
    """Chains of warnings in force that wait with no open step timer: each re-armed (due now,
    from the step it is at) and reported (event ``warning.call.stuck``, log, metric)."""
    waiting = (
        await session.execute(
            select(
                WarningRecipient.id,
                WarningRecipient.warning_id,
                WarningRecipient.call_step,
                WarningRecipient.town_adcode,
            )
            .join(Warning, Warning.id == WarningRecipient.warning_id)
            .where(
                Warning.state == WarningState.PUBLISHED.value,
                WarningRecipient.must_ack.is_(True),
                WarningRecipient.call_state == WAITING,
            )
        )
    ).all()
    if not waiting:
        return []
    armed = set(
        (
            await session.scalars(
                select(timers.Timer.subject).where(
                    timers.Timer.kind == CALL_STEP_TIMER,
                    timers.Timer.state.in_(timers.OPEN_STATES),
                )
            )
        ).all()
    )
    stuck = [row for row in waiting if str(row.id) not in armed]
    now = clock.now()
    for row in stuck:
        last = await session.scalar(
            select(CallEvent.detail)
            .where(CallEvent.recipient_id == row.id, CallEvent.kind.in_(("call", "repeat")))
            .order_by(CallEvent.at.desc(), CallEvent.step.desc())
            .limit(1)
        )
        level = int((last or {}).get("level", 0))
        await timers.schedule(
            session,
            kind=CALL_STEP_TIMER,
            subject=str(row.id),
            key=_token(),
            due_at=now,
            payload={
                "warning_id": str(row.warning_id),
                "recipient_id": str(row.id),
                "step": row.call_step,
                "level": level,
            },
        )
        path = await session.scalar(
            select(Warning.division_path).where(Warning.id == row.warning_id)
        )
        await events.emit(
            session,
            type="warning.call.stuck",
            subject_type="warning",
            subject_id=row.warning_id,
            payload={
                "warning_id": str(row.warning_id),
                "recipient_id": str(row.id),
                "step": row.call_step,
                "town_adcode": row.town_adcode,
            },
            scope=EventScope(division_path=path),
        )
        stuck_chains.inc()
        log.warning(
            "stuck 叫应 chain re-armed",
            extra={"warning_id": str(row.warning_id), "recipient_id": str(row.id)},
        )
    return [row.id for row in stuck]


async def run_call_audit(session: AsyncSession, firing: TimerFiring) -> None:  # noqa: ARG001
    """The auditor's timer: audit, then the next round."""
    await audit_chains(session)
    due = clock.now() + AUDIT_EVERY
    await timers.schedule(
        session, kind=CALL_AUDIT_TIMER, subject="chains", key=due.isoformat(), due_at=due
    )


# --- the board -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardPerson:
    recipient_id: uuid.UUID
    name: str
    position: str | None
    reason: str
    call_state: str
    call_step: int
    acked_at: datetime | None
    escalated_from_id: uuid.UUID | None
    overdue: bool


@dataclass
class BoardTown:
    town_adcode: str | None
    town_name: str | None
    called: int = 0
    answered: int = 0
    overdue: int = 0
    escalated: int = 0
    exhausted: int = 0
    people: list[BoardPerson] = dataclasses.field(default_factory=list)


async def board(session: AsyncSession, *, warning: Warning) -> list[BoardTown]:
    """Per town: who was called, who answered, who is overdue (no answer after the plan's
    first wait), who was escalated above and whose chain is exhausted; with the people."""
    steps = plan_steps(warning.call_plan)
    wait = timedelta(minutes=steps.wait_minutes)
    now = clock.now()
    rows = (
        await session.scalars(
            select(WarningRecipient)
            .where(WarningRecipient.warning_id == warning.id, WarningRecipient.must_ack.is_(True))
            .order_by(
                WarningRecipient.town_adcode, WarningRecipient.created_at, WarningRecipient.name
            )
        )
    ).all()
    names = await org_service.division_names(
        session=session, adcodes={r.town_adcode for r in rows if r.town_adcode}
    )
    towns: dict[str | None, BoardTown] = {}
    for r in rows:
        town = towns.setdefault(
            r.town_adcode, BoardTown(r.town_adcode, names.get(r.town_adcode or ""))
        )
        overdue = r.call_state != ANSWERED and now >= clock.as_utc(r.created_at) + wait
        town.called += 1
        town.answered += r.call_state == ANSWERED
        town.overdue += overdue
        town.escalated += r.call_state == ESCALATED
        town.exhausted += r.call_state == EXHAUSTED
        town.people.append(
            BoardPerson(
                recipient_id=r.id,
                name=r.name,
                position=r.position,
                reason=r.reason,
                call_state=r.call_state,
                call_step=r.call_step,
                acked_at=r.acked_at,
                escalated_from_id=r.escalated_from_id,
                overdue=overdue,
            )
        )
    return list(towns.values())


async def acks_of(session: AsyncSession, *, warning_id: uuid.UUID) -> list[tuple[WarningAck, str]]:
    """The warning's acknowledgements (first first) with the name of who acknowledged."""
    rows = await session.execute(
        select(WarningAck, WarningRecipient.name)
        .join(WarningRecipient, WarningRecipient.id == WarningAck.recipient_id)
        .where(WarningAck.warning_id == warning_id)
        .order_by(WarningAck.at, WarningAck.id)
    )
    return [(ack, name) for ack, name in rows.all()]


async def chain_of(session: AsyncSession, *, warning_id: uuid.UUID) -> list[tuple[CallEvent, str]]:
    """Every link of the warning's 叫应 chains in time order, with the person's name."""
    rows = await session.execute(
        select(CallEvent, WarningRecipient.name)
        .join(WarningRecipient, WarningRecipient.id == CallEvent.recipient_id)
        .where(CallEvent.warning_id == warning_id)
        .order_by(CallEvent.at, CallEvent.step, CallEvent.kind)
    )
    return [(event, name) for event, name in rows.all()]


async def recipient_of_user(
    session: AsyncSession, *, warning_id: uuid.UUID, user_id: uuid.UUID
) -> uuid.UUID | None:
    """The user's recipient row on the warning, if they are on its list."""
    found: uuid.UUID | None = await session.scalar(
        select(WarningRecipient.id)
        .where(WarningRecipient.warning_id == warning_id, WarningRecipient.user_id == user_id)
        .order_by(WarningRecipient.must_ack.desc())
        .limit(1)
    )
    return found


class AckView(TypedDict):
    warning: Warning
    name: str
    acked_at: datetime | None
    must_ack: bool


async def ack_view(session: AsyncSession, *, token: str) -> AckView:
    """What the phone page shows for a link: the warning and whether it is acknowledged."""
    row = (
        await session.execute(
            select(
                Warning, WarningRecipient.name, WarningRecipient.acked_at, WarningRecipient.must_ack
            )
            .join(Warning, Warning.id == WarningRecipient.warning_id)
            .where(WarningRecipient.ack_token == token)
        )
    ).first()
    if row is None:
        raise NotFound("ack_not_found", "no such acknowledgement link")
    return {"warning": row[0], "name": row[1], "acked_at": row[2], "must_ack": row[3]}


# --- 六问 spot checks ----------------------------------------------------------------------------

QUESTIONS = ("q1", "q2", "q3", "q4", "q5", "q6")


class SpotAnswer(TypedDict):
    question: str
    ok: bool
    note: str


async def record_spot_check(
    session: AsyncSession,
    *,
    warning: Warning,
    scope: Scope,
    village_adcode: str,
    person_name: str,
    answers: Sequence[SpotAnswer],
    checked_by: uuid.UUID | None,
) -> SpotCheck:
    """A 六问 check of a village in the warning's area: the six answers, each question once."""
    asked = [a["question"] for a in answers]
    if sorted(asked) != list(QUESTIONS):
        raise ValidationFailed(
            "spot_check_questions", "answer each of q1…q6 once", {"questions": list(QUESTIONS)}
        )
    if warning.state != WarningState.PUBLISHED.value and warning.published_at is None:
        raise Conflict("warning_not_published", "only a published warning is checked")
    paths = await org_service.division_paths(session=session, adcodes=[village_adcode], scope=scope)
    path = paths.get(village_adcode)
    if path is None:
        raise NotFound("division_not_found", "no such division", {"adcode": village_adcode})
    area_paths = await org_service.division_paths(
        session=session, adcodes=list(warning.area_adcodes or []), scope=SYSTEM.scope
    )
    inside = path.startswith(warning.division_path) or any(
        path.startswith(area) for area in area_paths.values()
    )
    if not inside:
        raise ValidationFailed(
            "spot_check_outside_area", "the village is outside the warning's area"
        )
    check = SpotCheck(
        warning_id=warning.id,
        village_adcode=village_adcode,
        division_path=path,
        person_name=person_name,
        answers=[dict(a) for a in sorted(answers, key=lambda a: a["question"])],
        passed=all(a["ok"] for a in answers),
        checked_by=checked_by,
        at=clock.now(),
    )
    session.add(check)
    await session.flush()
    return check


async def spot_checks_of(session: AsyncSession, *, warning_id: uuid.UUID) -> list[SpotCheck]:
    rows = await session.scalars(
        select(SpotCheck).where(SpotCheck.warning_id == warning_id).order_by(SpotCheck.at)
    )
    return list(rows.all())


# --- call plans ----------------------------------------------------------------------------------


async def _plan_divisions_seen(
    session: AsyncSession, plans: Sequence[CallPlan], scope: Scope
) -> set[str]:
    codes = {p.division_adcode for p in plans if p.division_adcode}
    return set(await org_service.division_paths(session=session, adcodes=codes, scope=scope))


async def list_plans(session: AsyncSession, *, scope: Scope) -> list[CallPlan]:
    """The plans ``scope`` reads: the every-division defaults and those of its divisions."""
    plans = (
        await session.scalars(
            select(CallPlan).order_by(
                CallPlan.division_adcode.is_not(None), CallPlan.division_adcode, CallPlan.level
            )
        )
    ).all()
    seen = await _plan_divisions_seen(session, plans, scope)
    return [p for p in plans if p.division_adcode is None or p.division_adcode in seen]


async def get_plan(session: AsyncSession, *, plan_id: uuid.UUID, scope: Scope) -> CallPlan:
    plan = await session.get(CallPlan, plan_id)
    if plan is not None and (
        plan.division_adcode is None
        or plan.division_adcode in await _plan_divisions_seen(session, [plan], scope)
    ):
        return plan
    raise NotFound("call_plan_not_found", "no such call plan", {"plan_id": str(plan_id)})


def _require_writable(plan_division: str | None, scope: Scope) -> None:
    if plan_division is None and not scope.everything:
        raise PermissionDenied(
            "call_plan_default_readonly", "only an administrator of everything edits the defaults"
        )


async def _check_plan_refs(
    session: AsyncSession, *, division_adcode: str | None, type_code: str | None, scope: Scope
) -> None:
    if division_adcode is not None and not await org_service.division_paths(
        session=session, adcodes=[division_adcode], scope=scope
    ):
        raise NotFound("division_not_found", "no such division", {"adcode": division_adcode})
    if type_code is not None and await session.get(WarningType, type_code) is None:
        raise ValidationFailed("warning_type_unknown", "no such warning type", {"type": type_code})


async def _taken(
    session: AsyncSession,
    *,
    division_adcode: str | None,
    type_code: str | None,
    level: str,
    but: uuid.UUID | None = None,
) -> bool:
    stmt = select(CallPlan.id).where(
        CallPlan.division_adcode.is_(None)
        if division_adcode is None
        else CallPlan.division_adcode == division_adcode,
        CallPlan.type_code.is_(None) if type_code is None else CallPlan.type_code == type_code,
        CallPlan.level == level,
    )
    if but is not None:
        stmt = stmt.where(CallPlan.id != but)
    return await session.scalar(stmt.limit(1)) is not None


async def create_plan(
    session: AsyncSession,
    *,
    scope: Scope,
    division_adcode: str | None,
    type_code: str | None,
    level: str,
    name: str,
    steps: CallSteps,
    active: bool,
) -> CallPlan:
    _require_writable(division_adcode, scope)
    await _check_plan_refs(
        session, division_adcode=division_adcode, type_code=type_code, scope=scope
    )
    if await _taken(session, division_adcode=division_adcode, type_code=type_code, level=level):
        raise Conflict("call_plan_exists", "a plan for this division, type and level exists")
    now = clock.now()
    plan = CallPlan(
        division_adcode=division_adcode,
        type_code=type_code,
        level=level,
        name=name,
        steps=steps.model_dump(),
        active=active,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(plan)
    await session.flush()
    return plan


async def update_plan(
    session: AsyncSession,
    *,
    scope: Scope,
    plan_id: uuid.UUID,
    version: int,
    changes: dict[str, Any],
) -> tuple[CallPlan, dict[str, Any]]:
    """Change a plan that was at ``version`` (``stale_version`` otherwise); returns it and what
    it was before. Warnings already published keep their frozen copy."""
    plan = await get_plan(session, plan_id=plan_id, scope=scope)
    _require_writable(plan.division_adcode, scope)
    before = plan_facts(plan)
    type_code = changes.get("type_code", plan.type_code)
    level = changes.get("level", plan.level)
    if "type_code" in changes:
        await _check_plan_refs(session, division_adcode=None, type_code=type_code, scope=scope)
    if await _taken(
        session, division_adcode=plan.division_adcode, type_code=type_code, level=level, but=plan.id
    ):
        raise Conflict("call_plan_exists", "a plan for this division, type and level exists")
    values: dict[str, Any] = {k: v for k, v in changes.items() if k != "steps"}
    if isinstance(changes.get("steps"), CallSteps):
        values["steps"] = changes["steps"].model_dump()
    result = await session.execute(
        update(CallPlan)
        .where(CallPlan.id == plan.id, CallPlan.version == version)
        .values(**values, version=CallPlan.version + 1, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if rows_affected(result) != 1:
        raise Conflict(
            "stale_version", "the plan changed since you read it", {"version": plan.version}
        )
    await session.refresh(plan)
    return plan, before


async def delete_plan(session: AsyncSession, *, scope: Scope, plan_id: uuid.UUID) -> dict[str, Any]:
    plan = await get_plan(session, plan_id=plan_id, scope=scope)
    _require_writable(plan.division_adcode, scope)
    before = plan_facts(plan)
    await session.delete(plan)
    await session.flush()
    return before


def plan_facts(plan: CallPlan) -> dict[str, Any]:
    return {
        "id": str(plan.id),
        "division_adcode": plan.division_adcode,
        "type_code": plan.type_code,
        "level": plan.level,
        "name": plan.name,
        "steps": dict(plan.steps),
        "active": plan.active,
        "version": plan.version,
    }
