"""The warning workflow (制作 → 审核 → 签发 → 发布, then update or 解除), relaying and dismissing
received CAP warnings, and publication itself (decision 0020).

Each step checks the principal's permission and reach, moves the state with a compare-and-set on
state and version (a step taken twice, or on a warning someone else changed, is a 409 and changes
nothing), and records the change (audit row + event ``warning.<step>``, with notices to whoever
takes the next step). A reviewer or signer is never the warning's author (``warning_self_review``).

Publication is one unit of work: the warning becomes published with its CAP identifier and its
frozen 叫应 plan; targeting's recipients are written with Core bulk inserts; one outbound message
and one delivery per recipient are queued through ``notify.delivery``; ``warning.published``
names the counts (the 叫应 part starts its chains from it).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit, clock, timers
from yingji.core.changes import record_change
from yingji.core.db import rows_affected
from yingji.core.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from yingji.core.events import EventScope
from yingji.core.ids import new_id
from yingji.core.security import Permission, Principal, Role
from yingji.notify import delivery
from yingji.org import service as org
from yingji.warning import catalogue, service, targeting
from yingji.warning.models import (
    WARNING_TRANSITIONS,
    Warning,
    WarningLevel,
    WarningState,
)

S = WarningState
EXPIRE_TIMER = "warning.expire"
#: states whose content the author may still change
EDITABLE = frozenset({S.DRAFT, S.RETURNED})


@dataclass(frozen=True)
class Issuing:
    """What publication takes from the settings: the CAP organisation code and sender, and
    the public address links in messages start with."""

    org_code: str
    sender: str
    public_url: str


# --- helpers -------------------------------------------------------------------------------------


def audience(warning: Warning) -> EventScope:
    return EventScope(division_path=warning.division_path)


def snapshot(warning: Warning) -> dict[str, Any]:
    return audit.snapshot(warning, service.SNAPSHOT_FIELDS)


async def _record(
    session: AsyncSession,
    action: str,
    warning: Warning,
    before: dict[str, Any] | None,
    *,
    notices: list[dict[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    after = snapshot(warning)
    payload: dict[str, Any] = {
        "warning": service.facts(warning),
        "before": before,
        "after": after,
        **(extra or {}),
    }
    if notices:
        payload["notices"] = notices
    await record_change(
        session,
        action=action,
        subject_type="warning",
        subject_id=warning.id,
        before=before,
        after=after,
        audience=audience(warning),
        payload=payload,
    )


async def _notice(
    session: AsyncSession,
    warning: Warning,
    *,
    roles: tuple[Role, ...],
    kind: str,
    title: str,
    exclude: uuid.UUID | None = None,
    also: tuple[uuid.UUID | None, ...] = (),
) -> list[dict[str, Any]]:
    """A notice for the next role in the chain (the users holding ``roles`` whose jurisdiction
    covers the warning), and for the people in ``also``."""
    users: list[str] = []
    for role in roles:
        covering = await org.users_with_role_over(
            session=session, role=role, division_path=warning.division_path
        )
        users.extend(str(user.id) for user in covering)
    users += [str(u) for u in also if u is not None]
    users = [u for u in dict.fromkeys(users) if u != str(exclude)]
    if not users:
        return []
    return [
        {
            "kind": kind,
            "title": f"{title} {warning.number}",
            "body": warning.headline,
            "user_ids": users,
            "said": {"number": warning.number, "warning_id": str(warning.id)},
        }
    ]


def _require_reach(principal: Principal, path: str) -> None:
    if not principal.scope.covers(division_path=path):
        raise PermissionDenied(
            "outside_scope", "that lies outside your jurisdiction", {"division_path": path}
        )


async def _move(
    session: AsyncSession,
    warning: Warning,
    to: WarningState,
    *,
    version: int | None,
    values: Mapping[str, Any] | None = None,
) -> None:
    """Compare-and-set the warning from its state (and ``version``, when given) to ``to``."""
    here = WarningState(warning.state)
    if to not in WARNING_TRANSITIONS[here]:
        raise InvalidTransition(
            "warning_invalid_transition",
            f"a {here.value} warning cannot become {to.value}",
            {"state": here.value, "to": to.value},
        )
    if version is not None and version != warning.version:
        raise Conflict(
            "stale_version",
            "the warning changed since you read it",
            {"version": warning.version},
        )
    now = clock.now()
    result = await session.execute(
        update(Warning)
        .where(
            Warning.id == warning.id,
            Warning.state == here.value,
            Warning.version == warning.version,
        )
        .values(state=to.value, version=warning.version + 1, updated_at=now, **(values or {}))
        .execution_options(synchronize_session=False)
    )
    if not rows_affected(result):
        raise Conflict(
            "stale_version", "the warning changed meanwhile", {"warning": str(warning.id)}
        )
    await session.refresh(warning)


def _not_author(principal: Principal, warning: Warning) -> None:
    if principal.user_id in {warning.created_by, warning.submitted_by}:
        raise PermissionDenied(
            "warning_self_review",
            "a warning is reviewed and signed by someone other than its author",
            {"warning_id": str(warning.id)},
        )


# --- drafting ------------------------------------------------------------------------------------


async def _issuing_division(
    session: AsyncSession, principal: Principal, adcode: str | None
) -> tuple[str, str]:
    """The issuing division (given, or the principal's own) and its path, within reach."""
    if adcode is None:
        path = principal.scope.division_path
        if not path:
            raise ValidationFailed(
                "division_required", "name the issuing division", {"field": "division_adcode"}
            )
        adcode = [c for c in path.split("/") if c][-1]
    division = await org.get_division(session=session, adcode=adcode)
    if division is None:
        raise ValidationFailed("division_not_found", f"no division {adcode}", {"adcode": adcode})
    _require_reach(principal, division.path)
    return division.adcode, division.path


async def _checked(
    session: AsyncSession, values: Mapping[str, Any], *, division_path: str
) -> dict[str, Any]:
    """The draft's fields as stored: type and level agree, the area is a polygon and/or codes
    inside the issuing division, times ordered."""
    out = {k: values[k] for k in service.DRAFT_FIELDS if k in values}
    await service.check_type_and_level(
        session=session, type_code=out.get("type_code"), level=out.get("level")
    )
    if "area" in out:
        area, bbox = service.check_area(out["area"])
        out["area"] = area
        out["min_lon"], out["min_lat"], out["max_lon"], out["max_lat"] = bbox or (None,) * 4
    if "area_adcodes" in out:
        out["area_adcodes"] = await service.check_area_adcodes(
            session=session, adcodes=out["area_adcodes"] or [], within_path=division_path
        )
    for key in ("onset_at", "expires_at"):
        if out.get(key) is not None:
            out[key] = _moment(key, out[key])
    if out.get("cap_status") is not None and out["cap_status"] not in service.CAP_STATUSES:
        raise ValidationFailed(
            "warning_cap_status_unknown", "no such CAP status", {"cap_status": out["cap_status"]}
        )
    return out


def _moment(key: str, value: datetime) -> datetime:
    """A time in UTC, between the years 2000 and 2100 (a warning's times are near now)."""
    try:
        moment = clock.as_utc(value)
    except OverflowError:
        moment = None
    if moment is None or not 2000 <= moment.year <= 2100:
        raise ValidationFailed(
            "warning_time_out_of_range",
            "a warning's times lie between 2000 and 2100",
            {"field": key},
        )
    return moment


async def create_draft(
    *,
    session: AsyncSession,
    principal: Principal,
    values: Mapping[str, Any],
    division_adcode: str | None = None,
    msg_type: str = "Alert",
    replaces: Warning | None = None,
    relayed_from: Warning | None = None,
) -> Warning:
    """A new draft (制作) issued by the principal's division (or one in reach)."""
    principal.require(Permission.WARNING_DRAFT)
    adcode, path = await _issuing_division(session, principal, division_adcode)
    fields = await _checked(session, values, division_path=path)
    service.check_times(fields.get("onset_at"), fields.get("expires_at"))
    if fields.get("area") is None and not fields.get("area_adcodes"):
        raise ValidationFailed(
            "warning_area_missing", "give an area polygon or division codes", {"field": "area"}
        )
    now = clock.now()
    references: list[str] = []
    if replaces is not None and replaces.identifier and replaces.sent_at:
        sent = clock.as_utc(replaces.sent_at).astimezone(catalogue.CHINA).isoformat()
        references = [f"{replaces.sender or ''},{replaces.identifier},{sent}"]
    row: dict[str, Any] = {
        **service.BLANK_WARNING,
        **fields,
        "id": new_id(),
        "number": await service.new_number(session=session, moment=now),
        "origin": "authored",
        "state": S.DRAFT.value,
        "cap_status": fields.get("cap_status") or "Actual",
        "msg_type": msg_type,
        "replaces_id": replaces.id if replaces else None,
        "references": references,
        "relayed_from_id": relayed_from.id if relayed_from else None,
        "division_adcode": adcode,
        "division_path": path,
        "headline": fields.get("headline") or "",
        "description": fields.get("description") or "",
        "instruction": fields.get("instruction") or "",
        "issuer": fields.get("issuer") or "",
        "area_desc": fields.get("area_desc") or "",
        "area_adcodes": fields.get("area_adcodes") or [],
        "created_by": principal.user_id,
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "recipient_count": 0,
    }
    warning = Warning(**row)
    await service.store_warning(session, warning)
    await _record(session, "warning.created", warning, None)
    return warning


async def update_draft(
    *,
    session: AsyncSession,
    principal: Principal,
    warning_id: uuid.UUID,
    changes: Mapping[str, Any],
    version: int,
) -> Warning:
    """Change a draft or returned warning read at ``version``."""
    principal.require(Permission.WARNING_DRAFT)
    warning = await service.get_desk_warning_or_raise(
        session=session, warning_id=warning_id, scope=principal.scope
    )
    if warning.state not in EDITABLE:
        raise InvalidTransition(
            "warning_not_editable",
            "only a draft or returned warning changes",
            {"state": warning.state},
        )
    if version != warning.version:
        raise Conflict(
            "stale_version", "the warning changed since you read it", {"version": warning.version}
        )
    fields = await _checked(session, changes, division_path=warning.division_path)
    merged_type = fields.get("type_code", warning.type_code)
    merged_level = fields.get("level", warning.level)
    await service.check_type_and_level(session=session, type_code=merged_type, level=merged_level)
    service.check_times(
        fields.get("onset_at", warning.onset_at), fields.get("expires_at", warning.expires_at)
    )
    area = fields.get("area", warning.area)
    adcodes = fields.get("area_adcodes", warning.area_adcodes)
    if area is None and not adcodes:
        raise ValidationFailed(
            "warning_area_missing", "give an area polygon or division codes", {"field": "area"}
        )
    for key in ("description", "instruction", "issuer", "area_desc"):
        if key in fields and fields[key] is None:
            fields[key] = ""
    before = snapshot(warning)
    result = await session.execute(
        update(Warning)
        .where(Warning.id == warning.id, Warning.version == version, Warning.state == warning.state)
        .values(**fields, version=version + 1, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if not rows_affected(result):
        raise Conflict(
            "stale_version", "the warning changed meanwhile", {"warning": str(warning.id)}
        )
    await session.refresh(warning)
    await _record(session, "warning.updated", warning, before)
    return warning


# --- the workflow --------------------------------------------------------------------------------


async def _desk(session: AsyncSession, principal: Principal, warning_id: uuid.UUID) -> Warning:
    warning = await service.get_desk_warning_or_raise(
        session=session, warning_id=warning_id, scope=principal.scope
    )
    return warning


async def submit(
    *, session: AsyncSession, principal: Principal, warning_id: uuid.UUID, version: int | None
) -> Warning:
    """送审: a draft (or a returned one) goes to review."""
    principal.require(Permission.WARNING_DRAFT)
    warning = await _desk(session, principal, warning_id)
    service.check_ready(warning)
    before = snapshot(warning)
    now = clock.now()
    await _move(
        session,
        warning,
        S.SUBMITTED,
        version=version,
        values={"submitted_by": principal.user_id, "submitted_at": now, "state_reason": None},
    )
    notices = await _notice(
        session,
        warning,
        roles=(Role.COMMANDER, Role.DUTY_LEADER),
        kind="warning_review",
        title="预警待审核",
        exclude=principal.user_id,
    )
    await _record(session, "warning.submitted", warning, before, notices=notices)
    return warning


async def approve(
    *, session: AsyncSession, principal: Principal, warning_id: uuid.UUID, version: int | None
) -> Warning:
    """审核通过 — by someone other than the author."""
    principal.require(Permission.WARNING_REVIEW)
    warning = await _desk(session, principal, warning_id)
    _not_author(principal, warning)
    before = snapshot(warning)
    await _move(
        session,
        warning,
        S.APPROVED,
        version=version,
        values={"approved_by": principal.user_id, "approved_at": clock.now()},
    )
    notices = await _notice(
        session,
        warning,
        roles=(Role.COMMANDER,),
        kind="warning_sign",
        title="预警待签发",
        exclude=principal.user_id,
    )
    await _record(session, "warning.approved", warning, before, notices=notices)
    return warning


async def return_(
    *,
    session: AsyncSession,
    principal: Principal,
    warning_id: uuid.UUID,
    version: int | None,
    reason: str,
) -> Warning:
    """退回: a reviewer (or signer) sends it back to its author with a reason."""
    if not (principal.can(Permission.WARNING_REVIEW) or principal.can(Permission.WARNING_SIGN)):
        principal.require(Permission.WARNING_REVIEW)
    warning = await _desk(session, principal, warning_id)
    _not_author(principal, warning)
    before = snapshot(warning)
    await _move(session, warning, S.RETURNED, version=version, values={"state_reason": reason})
    notices = await _notice(
        session,
        warning,
        roles=(),
        kind="warning_returned",
        title="预警被退回",
        exclude=principal.user_id,
        also=(warning.created_by, warning.submitted_by),
    )
    await _record(session, "warning.returned", warning, before, notices=notices)
    return warning


async def sign(
    *, session: AsyncSession, principal: Principal, warning_id: uuid.UUID, version: int | None
) -> Warning:
    """签发 — by someone other than the author."""
    principal.require(Permission.WARNING_SIGN)
    warning = await _desk(session, principal, warning_id)
    _not_author(principal, warning)
    before = snapshot(warning)
    await _move(
        session,
        warning,
        S.SIGNED,
        version=version,
        values={"signed_by": principal.user_id, "signed_at": clock.now()},
    )
    notices = await _notice(
        session,
        warning,
        roles=(Role.DUTY_OFFICER, Role.DUTY_LEADER),
        kind="warning_publish",
        title="预警已签发待发布",
        exclude=principal.user_id,
        also=(warning.created_by,),
    )
    await _record(session, "warning.signed", warning, before, notices=notices)
    return warning


# --- publication ---------------------------------------------------------------------------------


def message_content(
    warning: Warning, *, public_url: str, msg_type: str | None = None
) -> dict[str, Any]:
    """The outbound message's content (the contract between workflow, channels and 叫应)."""
    kind = catalogue.shipped_types().get(warning.type_code or "")
    level = catalogue.LEVELS.get(WarningLevel(warning.level)) if warning.level else None
    must_ack = bool(warning.call_plan)
    return {
        "kind": "warning",
        "warning_id": str(warning.id),
        "number": warning.number,
        "msg_type": msg_type or warning.msg_type,
        "type_code": warning.type_code,
        "type_zh": kind.name_zh if kind else (warning.event_text or ""),
        "type_en": kind.name_en if kind else (warning.event_text or ""),
        "level": warning.level,
        "level_zh": level.name_zh if level else "",
        "headline": warning.headline,
        "description": warning.description,
        "instruction": warning.instruction,
        "issuer": warning.issuer,
        "area_desc": warning.area_desc,
        "area": warning.area,
        "onset_at": service.iso(warning.onset_at),
        "expires_at": service.iso(warning.expires_at),
        "sent_at": service.iso(warning.sent_at) or "",
        "ack_url": f"{public_url.rstrip('/')}/ack/{{token}}",
        "must_ack": must_ack,
    }


def _frozen_plan(plan: Any) -> dict[str, Any] | None:
    if plan is None:
        return None
    return {
        "id": str(plan.id),
        "version": plan.version,
        "name": plan.name,
        "type_code": plan.type_code,
        "level": plan.level,
        "division_adcode": plan.division_adcode,
        "steps": dict(plan.steps),
    }


async def publish(
    *,
    session: AsyncSession,
    principal: Principal,
    warning_id: uuid.UUID,
    version: int | None,
    issuing: Issuing,
) -> Warning:
    """发布: signed → published; the recipients frozen and every delivery queued, at once."""
    principal.require(Permission.WARNING_PUBLISH)
    warning = await _desk(session, principal, warning_id)
    service.check_ready(warning)
    before = snapshot(warning)
    now = clock.now()
    plan = _frozen_plan(
        await catalogue.choose_call_plan(
            session,
            division_path=warning.division_path,
            type_code=warning.type_code,
            level=warning.level,
        )
    )
    stem = catalogue.cap_identifier(
        division_adcode=warning.division_adcode,
        org_code=issuing.org_code,
        sent_at=now,
        sequence=1,
    ).rsplit("_", 1)[0]
    identifier = f"{stem}_{await service.next_cap_sequence(session=session, stem=f'{stem}_')}"
    await _move(
        session,
        warning,
        S.PUBLISHED,
        version=version,
        values={
            "sent_at": now,
            "identifier": identifier,
            "sender": issuing.sender or None,
            "call_plan": plan,
            "published_by": principal.user_id,
            "published_at": now,
        },
    )
    counts = await _fan_out(session, warning, plan["steps"] if plan else None, issuing, now)
    await session.execute(
        update(Warning)
        .where(Warning.id == warning.id)
        .values(recipient_count=counts["recipients"])
        .execution_options(synchronize_session=False)
    )
    await session.refresh(warning)
    if warning.replaces_id is not None:
        await _supersede(session, warning.replaces_id, by=warning)
    if warning.expires_at is not None:
        await timers.schedule(
            session, kind=EXPIRE_TIMER, subject=warning.id, due_at=warning.expires_at
        )
    await _record(
        session,
        "warning.published",
        warning,
        before,
        extra={
            "id": str(warning.id),
            "number": warning.number,
            "level": warning.level,
            "type": warning.type_code,
            "counts": counts,
        },
    )
    return warning


async def _fan_out(
    session: AsyncSession,
    warning: Warning,
    plan: dict[str, Any] | None,
    issuing: Issuing,
    now: datetime,
) -> dict[str, int]:
    """Resolve, write the recipients (bulk) and queue a delivery for each (``plan``: the frozen
    plan's steps)."""
    targets = await targeting.resolve(session, warning, plan=plan)
    rows: list[dict[str, Any]] = []
    specs: list[delivery.DeliverySpec] = []
    must = 0
    for target in targets:
        rid = new_id()
        ack = targeting.must_ack(target, plan)
        must += ack
        token = secrets.token_urlsafe(24) if target.device_id is None else None
        rows.append(
            {
                "id": rid,
                "warning_id": warning.id,
                "recipient_key": target.recipient_key,
                "reason": str(target.reason),
                "person_id": target.person_id,
                "user_id": target.user_id,
                "unit_id": target.unit_id,
                "resource_id": target.resource_id,
                "device_id": target.device_id,
                "name": target.name[:200],
                "position": (target.position or None) and target.position[:100],
                "division_adcode": target.division_adcode,
                "town_adcode": target.town_adcode,
                "channels": [{"channel": c, "address": a} for c, a in target.channels],
                "must_ack": ack,
                "ack_token": token,
                "call_state": "waiting" if ack else "",
                "call_step": 0,
                "escalated_from_id": None,
                "acked_at": None,
                "created_at": now,
            }
        )
        if target.channels:
            specs.append(
                delivery.DeliverySpec(
                    recipient_ref=str(rid),
                    name=target.name,
                    channels=tuple(target.channels),
                    user_id=target.user_id,
                    ack_token=token,
                )
            )
    await service.insert_recipients(session=session, rows=rows)
    if specs:
        await delivery.enqueue(
            session,
            subject_type="warning",
            subject_id=warning.id,
            kind="warning.publish",
            content=message_content(warning, public_url=issuing.public_url),
            scope_path=warning.division_path,
            items=specs,
        )
    return {
        "recipients": len(rows),
        "must_ack": must,
        "deliveries": len(specs),
        "unreachable": len(rows) - len(specs),
    }


async def _supersede(session: AsyncSession, warning_id: uuid.UUID, *, by: Warning) -> None:
    """The warning an Update replaces becomes superseded (if still published)."""
    old = await session.get(Warning, warning_id)
    if old is None or old.state != S.PUBLISHED.value:
        return
    before = snapshot(old)
    await _move(session, old, S.SUPERSEDED, version=None, values={"state_reason": by.number})
    await timers.cancel(session, kind=EXPIRE_TIMER, subject=old.id)
    await _record(session, "warning.superseded", old, before, extra={"by": str(by.id)})


async def cancel(
    *,
    session: AsyncSession,
    principal: Principal,
    warning_id: uuid.UUID,
    version: int | None,
    reason: str,
    issuing: Issuing,
) -> Warning:
    """解除: a published warning is cancelled (its queued deliveries withdrawn, everyone it went to
    told); a draft or returned one is withdrawn."""
    warning = await _desk(session, principal, warning_id)
    published = warning.state == S.PUBLISHED.value
    principal.require(Permission.WARNING_PUBLISH if published else Permission.WARNING_DRAFT)
    before = snapshot(warning)
    await _move(
        session,
        warning,
        S.CANCELLED,
        version=version,
        values={
            "cancelled_by": principal.user_id,
            "cancelled_at": clock.now(),
            "state_reason": reason,
        },
    )
    withdrawn = told = 0
    if published:
        withdrawn = await delivery.cancel_queued(session, subject_id=warning.id)
        await timers.cancel(session, kind=EXPIRE_TIMER, subject=warning.id)
        specs = [
            delivery.DeliverySpec(
                recipient_ref=str(rid),
                name=name,
                channels=tuple((c["channel"], c["address"]) for c in channels),
                user_id=user_id,
            )
            for rid, name, channels, user_id in await service.reached_recipients(
                session=session, warning_id=warning.id
            )
            if channels
        ]
        if specs:
            content = message_content(warning, public_url=issuing.public_url, msg_type="Cancel")
            content["ack_url"] = None
            content["must_ack"] = False
            await delivery.enqueue(
                session,
                subject_type="warning",
                subject_id=warning.id,
                kind="warning.cancel",
                content=content,
                scope_path=warning.division_path,
                items=specs,
            )
        told = len(specs)
    await _record(
        session,
        "warning.cancelled",
        warning,
        before,
        extra={"withdrawn": withdrawn, "told": told},
    )
    return warning


async def make_update(
    *, session: AsyncSession, principal: Principal, warning_id: uuid.UUID
) -> Warning:
    """A published warning → a new draft ``msg_type=Update`` that replaces it when published."""
    principal.require(Permission.WARNING_PUBLISH)
    old = await _desk(session, principal, warning_id)
    if old.state != S.PUBLISHED.value or old.origin != "authored":
        raise InvalidTransition(
            "warning_invalid_transition",
            "only a published warning of ours is updated",
            {"state": old.state, "to": "update"},
        )
    draft = await create_draft(
        session=session,
        principal=principal,
        values=_copy_fields(old),
        division_adcode=old.division_adcode,
        msg_type="Update",
        replaces=old,
    )
    await _record(session, "warning.updated", old, snapshot(old), extra={"update": str(draft.id)})
    return draft


def _copy_fields(warning: Warning) -> dict[str, Any]:
    return {
        "type_code": warning.type_code,
        "level": warning.level,
        "headline": warning.headline,
        "description": warning.description,
        "instruction": warning.instruction,
        "headline_en": warning.headline_en,
        "description_en": warning.description_en,
        "instruction_en": warning.instruction_en,
        "issuer": warning.issuer,
        "area_desc": warning.area_desc,
        "area": warning.area,
        "area_adcodes": list(warning.area_adcodes or []),
        "onset_at": warning.onset_at,
        "expires_at": warning.expires_at,
        "cap_status": warning.cap_status,
    }


async def relay(
    *,
    session: AsyncSession,
    principal: Principal,
    warning_id: uuid.UUID,
    division_adcode: str | None,
    issuer: str | None,
) -> Warning:
    """转发: a received warning → a new draft for our area (received → relayed)."""
    principal.require(Permission.WARNING_DRAFT)
    received = await _desk(session, principal, warning_id)
    if received.state != S.RECEIVED.value:
        raise InvalidTransition(
            "warning_invalid_transition",
            "only a received warning is relayed",
            {"state": received.state, "to": S.RELAYED.value},
        )
    adcode, path = await _issuing_division(
        session, principal, division_adcode or received.division_adcode
    )
    values = _copy_fields(received)
    kind = await service.get_type(session=session, code=received.type_code or "")
    if kind is None or (received.level and received.level not in kind.levels):
        values["type_code"] = None if kind is None else received.type_code
        if kind is not None:
            values["level"] = None
    ours = await org.division_paths(
        session=session, adcodes=values["area_adcodes"], scope=principal.scope
    )
    values["area_adcodes"] = [c for c, p in ours.items() if p.startswith(path)]
    if values["area"] is None and not values["area_adcodes"]:
        values["area_adcodes"] = [adcode]  # the whole of the relaying division
    values["issuer"] = issuer or received.issuer
    if values.get("expires_at") is not None and clock.as_utc(values["expires_at"]) <= clock.now():
        values["expires_at"] = None
    draft = await create_draft(
        session=session,
        principal=principal,
        values=values,
        division_adcode=adcode,
        relayed_from=received,
    )
    before = snapshot(received)
    await _move(session, received, S.RELAYED, version=None, values={"state_reason": draft.number})
    await _record(session, "warning.relayed", received, before, extra={"draft": str(draft.id)})
    return draft


async def dismiss(
    *,
    session: AsyncSession,
    principal: Principal,
    warning_id: uuid.UUID,
    version: int | None,
    reason: str,
) -> Warning:
    """A received warning the desk does not relay (received → dismissed, with a reason)."""
    principal.require(Permission.WARNING_DRAFT)
    warning = await _desk(session, principal, warning_id)
    before = snapshot(warning)
    await _move(session, warning, S.DISMISSED, version=version, values={"state_reason": reason})
    await _record(session, "warning.dismissed", warning, before)
    return warning


async def expire(session: AsyncSession, firing: timers.TimerFiring) -> None:
    """Timer ``warning.expire``: a published warning past its end becomes expired."""
    warning = await session.get(Warning, uuid.UUID(firing.subject))
    if warning is None or warning.state != S.PUBLISHED.value or warning.expires_at is None:
        return
    if clock.as_utc(warning.expires_at) > clock.now():
        return  # an end is fixed at publication: the timer fires at it, never earlier
    before = snapshot(warning)
    await _move(session, warning, S.EXPIRED, version=None)
    await _record(session, "warning.expired", warning, before)
