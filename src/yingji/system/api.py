"""Administration of the kernel: the audit log, parked timers, event subscribers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from yingji.core import audit, timers
from yingji.core.events import OutboxCursor, OutboxEvent
from yingji.core.security import Permission as P
from yingji.core.security import Principal
from yingji.core.web import Require, Session

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
    intact: bool
    checked: int
    first_broken_id: int | None
    reason: str | None


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


@router.get("/audit", response_model=AuditPage, summary="The audit log, newest first")
async def list_audit(
    session: Session,
    _me: Annotated[Principal, Require(P.AUDIT_READ)],
    subject_type: str | None = None,
    subject_id: str | None = None,
    action: str | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    rows, total = await audit.list_entries(
        session,
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
    summary="Walk the hash chain; report the first broken link",
)
async def verify_audit(
    session: Session, _me: Annotated[Principal, Require(P.AUDIT_READ)]
) -> AuditVerification:
    result = await audit.verify(session)
    broken = result.first_break
    return AuditVerification(
        intact=result.intact,
        checked=result.checked,
        first_broken_id=broken.entry_id if broken else None,
        reason=broken.reason if broken else None,
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
