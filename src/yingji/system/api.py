"""Administration of the kernel: the audit log, parked timers, event subscribers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from yingji.core import audit, timers
from yingji.core.events import OutboxCursor, OutboxEvent
from yingji.core.security import Permission as P
from yingji.core.security import Principal
from yingji.core.web import Require, Session, get_settings

router = APIRouter(prefix="/api/v1", tags=["system"])


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor_id: str | None
    actor_name: str | None
    ip: str | None
    request_id: str | None
    action: str
    subject_type: str
    subject_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    total: int


class AuditVerification(BaseModel):
    """The chain walked whole; a principal scoped to an area is told how many of its rows were
    checked, and where the chain breaks only when the row at fault is in its area."""

    intact: bool
    checked: int
    first_broken_id: int | None
    code: str | None = Field(
        default=None,
        description="row_missing, prev_hash_mismatch, row_altered, other_key, "
        "unkeyed_after_keyed, unkeyed_after_anchor, anchor_missing, anchor_mismatch, "
        "anchor_other_key, anchor_forged, anchor_unreadable; outside_area: a break in a row "
        "outside your area",
    )
    reason: str | None
    anchored_id: int | None = Field(
        default=None,
        description="the last published head the chain was checked against (shown to "
        "administrators of everything)",
    )


class TimerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    subject: str
    key: str
    due_at: datetime
    state: str
    attempts: int
    last_error: str | None
    fired_at: datetime | None


class TimerPage(BaseModel):
    items: list[TimerRead]
    total: int


class SubscriberRead(BaseModel):
    subscriber: str
    last_id: int
    lag: int
    failures: int
    last_error: str | None
    retry_at: datetime | None


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="The audit log of your area, newest first",
    description="Rows whose subject lies in your division subtree; rows of no area (shared "
    "tables, unknown user names, rows written before areas were recorded) only for an "
    "administrator of everything.",
)
async def list_audit(
    session: Session,
    me: Annotated[Principal, Require(P.AUDIT_READ)],
    subject_type: str | None = None,
    subject_id: str | None = None,
    action: str | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    rows, total = await audit.list_entries(
        session,
        scope=me.scope,
        subject_type=subject_type,
        subject_id=subject_id,
        action=action,
        offset=offset,
        limit=limit,
    )
    return AuditPage(items=[AuditEntryRead.model_validate(r) for r in rows], total=total)


@router.get(
    "/audit/verify",
    response_model=AuditVerification,
    summary="Walk the keyed hash chain up to the last published head; report the first break",
)
async def verify_audit(
    request: Request, session: Session, me: Annotated[Principal, Require(P.AUDIT_READ)]
) -> AuditVerification:
    result = await audit.verify(
        session, anchor_file=get_settings(request).audit_anchor_path, scope=me.scope
    )
    broken = result.first_break
    # the head's id is the size of the whole log: for administrators of everything only
    anchored_id = result.anchor.id if result.anchor and me.scope.everything else None
    if broken is not None and not audit.in_area(me.scope, broken.division_path):
        # the whole chain was walked (it must be), but what is wrong where is not this
        # principal's to read: only that the log is broken somewhere outside its area
        return AuditVerification(
            intact=False,
            checked=result.checked_in_area,
            first_broken_id=None,
            code="outside_area",
            reason="a break outside your area",
            anchored_id=anchored_id,
        )
    return AuditVerification(
        intact=result.intact,
        checked=result.checked_in_area,
        first_broken_id=broken.entry_id if broken else None,
        code=broken.code if broken else None,
        reason=broken.reason if broken else None,
        anchored_id=anchored_id,
    )


@router.get(
    "/system/timers",
    response_model=TimerPage,
    summary="Timers by state (parked: failed repeatedly, waiting for an administrator)",
)
async def list_timers(
    session: Session,
    _me: Annotated[Principal, Require(P.SYSTEM_ADMIN)],
    state: str | None = "parked",
    kind: str | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> TimerPage:
    rows, total = await timers.list_timers(
        session, state=state, kind=kind, offset=offset, limit=limit
    )
    return TimerPage(items=[TimerRead.model_validate(r) for r in rows], total=total)


@router.post(
    "/system/timers/{timer_id}/retry",
    response_model=TimerRead,
    summary="Send a parked timer round again, due now",
)
async def retry_timer(
    timer_id: Annotated[int, Path(ge=1, le=2**62)],
    session: Session,
    _me: Annotated[Principal, Require(P.SYSTEM_ADMIN)],
) -> Any:
    timer = await timers.retry_parked(session, timer_id=timer_id)
    await audit.record(
        session,
        action="system.timer.retried",
        subject_type="timer",
        subject_id=timer_id,
        area=None,  # the kernel's: administrators of everything
        after={"kind": timer.kind, "subject": timer.subject},
    )
    return timer


@router.get(
    "/system/subscribers",
    response_model=list[SubscriberRead],
    summary="Durable event subscribers: how far behind the outbox each is",
)
async def list_subscribers(
    session: Session, _me: Annotated[Principal, Require(P.SYSTEM_ADMIN)]
) -> Any:
    end = int(await session.scalar(select(func.coalesce(func.max(OutboxEvent.id), 0))) or 0)
    cursors = (await session.scalars(select(OutboxCursor).order_by(OutboxCursor.subscriber))).all()
    return [
        SubscriberRead(
            subscriber=c.subscriber,
            last_id=c.last_id,
            lag=end - c.last_id,
            failures=c.failures,
            last_error=c.last_error,
            retry_at=c.retry_at,
        )
        for c in cursors
    ]
