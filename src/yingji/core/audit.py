"""The audit log (痕迹化管理): append-only and hash-chained.

Every change of state writes one row in the transaction that made it: who, what, when, from which
address, before and after. Each row's ``hash`` covers its content and the previous row's hash, so
altering or removing a row breaks the chain at that row; :func:`verify` finds the first break.
Database triggers (created by the migration) refuse UPDATE and DELETE on the table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Integer, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from yingji.core import clock
from yingji.core.db import Base, JSONType, UTCDateTime, enqueue_journal, journal_row

BigId = BigInteger().with_variant(Integer(), "sqlite")
GENESIS = "0" * 64


@dataclass(frozen=True)
class RequestContext:
    """Where a change came from: set per request (or job) and read by :func:`record`."""

    actor_id: str | None = None
    actor_name: str | None = None
    ip: str | None = None
    request_id: str | None = None


current_context: ContextVar[RequestContext] = ContextVar(
    "yingji_request_context",
    default=RequestContext(actor_name="system"),  # noqa: B039 - frozen, never mutated
)


class AuditEntry(Base):
    """One recorded change of state."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str | None] = mapped_column(String(100))
    ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject_type: Mapped[str] = mapped_column(String(50))
    subject_id: Mapped[str] = mapped_column(String(64), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


_TABLE = cast(Table, AuditEntry.__table__)


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (datetimes and ids become strings, keys sorted)."""
    return json.loads(json.dumps(value, default=str, sort_keys=True, ensure_ascii=False))


def entry_hash(entry: AuditEntry) -> str:
    content = {
        "id": entry.id,
        "at": clock.as_utc(entry.at).isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "ip": entry.ip,
        "request_id": entry.request_id,
        "action": entry.action,
        "subject_type": entry.subject_type,
        "subject_id": entry.subject_id,
        "before": entry.before,
        "after": entry.after,
        "prev_hash": entry.prev_hash,
    }
    blob = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


_CHAIN_TAIL = "audit_chain_tail"


async def record(
    session: AsyncSession,
    *,
    action: str,
    subject_type: str,
    subject_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    context: RequestContext | None = None,
) -> None:
    """Append one audit row to the caller's transaction (written, chained, just before commit)."""
    ctx = context or current_context.get()
    entry = AuditEntry(
        at=clock.now(),
        actor_id=ctx.actor_id,
        actor_name=ctx.actor_name,
        ip=ctx.ip,
        request_id=ctx.request_id,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        before=None if before is None else jsonable(before),
        after=None if after is None else jsonable(after),
    )

    async def write(session: AsyncSession) -> None:
        # The journal is written under its lock at the end of the transaction (write_journal,
        # which forgets the tail first; on PostgreSQL taking the lock reads it again): after
        # this transaction's first row, the chain's tail is the row it wrote last.
        tail: tuple[int, str] | None = session.info.get(_CHAIN_TAIL)
        if tail is None:
            last = (
                await session.execute(
                    select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
                )
            ).first()
            tail = (last.id, last.hash) if last else (0, GENESIS)
        entry.id = tail[0] + 1
        entry.prev_hash = tail[1]
        entry.hash = entry_hash(entry)
        journal_row(session, _TABLE, {c.key: getattr(entry, c.key) for c in _TABLE.columns})
        session.info[_CHAIN_TAIL] = (entry.id, entry.hash)

    enqueue_journal(session, write)


@dataclass(frozen=True)
class ChainBreak:
    entry_id: int
    reason: str


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    first_break: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.first_break is None


async def _entries(session: AsyncSession, page: int = 2000) -> AsyncIterator[AuditEntry]:
    after = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.id > after).order_by(AuditEntry.id).limit(page)
            )
        ).all()
        if not rows:
            return
        for row in rows:
            yield row
        after = rows[-1].id
        session.expunge_all()


async def verify(session: AsyncSession) -> VerifyResult:
    """Walk the chain from the first row; report the first row that does not follow."""
    expected_id, prev_hash, checked = 1, GENESIS, 0
    async for entry in _entries(session):
        if entry.id != expected_id:
            return VerifyResult(
                checked,
                ChainBreak(expected_id, f"row {expected_id} is missing (next row is {entry.id})"),
            )
        if entry.prev_hash != prev_hash:
            return VerifyResult(
                checked, ChainBreak(entry.id, "prev_hash does not match the hash of the row before")
            )
        if entry_hash(entry) != entry.hash:
            return VerifyResult(
                checked,
                ChainBreak(entry.id, "content does not match its hash (the row was altered)"),
            )
        checked += 1
        expected_id, prev_hash = entry.id + 1, entry.hash
    return VerifyResult(checked, None)


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """A plain dict of ``fields`` of ``obj``, for ``before``/``after``."""
    snap: dict[str, Any] = jsonable({name: getattr(obj, name) for name in fields})
    return snap


async def list_entries(
    session: AsyncSession,
    *,
    subject_type: str | None = None,
    subject_id: str | None = None,
    action: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[AuditEntry], int]:
    stmt = select(AuditEntry)
    if subject_type:
        stmt = stmt.where(AuditEntry.subject_type == subject_type)
    if subject_id:
        stmt = stmt.where(AuditEntry.subject_id == subject_id)
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True))
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = (
        await session.scalars(stmt.order_by(AuditEntry.id.desc()).offset(offset).limit(limit))
    ).all()
    return list(rows), total
