"""Durable deadlines (时限): timer rows and the worker that fires them.

``schedule`` and ``cancel`` write rows in the caller's transaction, so a deadline exists exactly
when the state that needs it was committed. The worker claims due rows with a compare-and-set
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL) under a lease, runs the handler in its own unit of work
and marks the row fired *in that same transaction*, guarded by the claim token: if the lease was
lost (the worker stalled and another took over) or the timer was cancelled meanwhile, the mark
fails and the handler's writes roll back. A handler's effect is therefore committed once. When
many timers are due at once, the worker fires a chunk of them in one unit of work (each handler's
writes and one mark for all, one commit); if anything in the chunk fails it rolls back and fires
them one per unit of work as above. A worker killed mid-run leaves rows ``running`` with an
expired lease, which any worker claims again. A timer that keeps failing is retried with backoff,
then parked for an administrator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    String,
    Text,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from yingji.core import clock, metrics
from yingji.core.db import (
    Base,
    Database,
    JSONType,
    UTCDateTime,
    after_commit,
    database_of,
    rows_affected,
)
from yingji.core.errors import InvalidTransition, NotFound
from yingji.core.events import worker_name

log = logging.getLogger(__name__)

BigId = BigInteger().with_variant(Integer(), "sqlite")

PENDING, RUNNING, FIRED, CANCELLED, PARKED = "pending", "running", "fired", "cancelled", "parked"
OPEN_STATES = (PENDING, RUNNING)


class Timer(Base):
    """A deadline as a row: fire ``kind`` for ``subject`` at ``due_at``."""

    __tablename__ = "timer"
    __table_args__ = (
        Index("ix_timer_state_due_at", "state", "due_at"),
        Index(
            "uq_timer_open_kind_subject_key",
            "kind",
            "subject",
            "key",
            unique=True,
            sqlite_where=text("state IN ('pending', 'running')"),
            postgresql_where=text("state IN ('pending', 'running')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200), default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claim_token: Mapped[uuid.UUID | None] = mapped_column()
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class TimerFiring:
    """What a handler is told about the timer it runs for."""

    id: int
    kind: str
    subject: str
    key: str
    due_at: datetime
    payload: dict[str, Any]
    attempt: int


TimerHandler = Callable[[AsyncSession, TimerFiring], Awaitable[None]]

_HANDLERS: dict[str, TimerHandler] = {}


def register(kind: str, fn: TimerHandler) -> None:
    """Register the handler of a timer kind (``core.domain.install``, from each domain's
    declaration, when an app or a worker is built). Registering the same handler again is
    harmless; another handler for a kind already taken is an error."""
    if kind in _HANDLERS and _HANDLERS[kind] is not fn:
        raise ValueError(f"timer kind {kind!r} already has a handler")
    _HANDLERS[kind] = fn


def handlers() -> dict[str, TimerHandler]:
    return dict(_HANDLERS)


async def schedule(
    session: AsyncSession,
    *,
    kind: str,
    subject: object,
    due_at: datetime,
    payload: dict[str, Any] | None = None,
    key: str = "",
) -> Timer:
    """Schedule (or move) the open timer ``kind``/``subject``/``key`` to ``due_at``."""
    existing = await session.scalar(
        select(Timer).where(
            Timer.kind == kind,
            Timer.subject == str(subject),
            Timer.key == key,
            Timer.state == PENDING,
        )
    )
    if existing is not None:
        existing.due_at = clock.as_utc(due_at)
        existing.payload = payload or {}
        existing.attempts = 0
        timer = existing
    else:
        timer = Timer(
            kind=kind,
            subject=str(subject),
            key=key,
            due_at=clock.as_utc(due_at),
            payload=payload or {},
            state=PENDING,
            attempts=0,
            created_at=clock.now(),
        )
        session.add(timer)
    await session.flush()
    _kick_workers_after_commit(session)
    return timer


@dataclass(frozen=True)
class NewTimer:
    """One timer of :func:`schedule_many`."""

    subject: object
    key: str
    due_at: datetime
    payload: dict[str, Any]


#: rows per INSERT of :func:`schedule_many` (bounded statements on both databases)
_SCHEDULE_CHUNK = 1000


async def schedule_many(session: AsyncSession, *, kind: str, timers: Sequence[NewTimer]) -> int:
    """Schedule many new timers of ``kind`` at once (bulk inserts, in the caller's transaction):
    for a fan-out whose keys are fresh (a 叫应 step's token), so no open timer is moved — one
    with the same kind, subject and key is refused by the unique index. Returns how many."""
    now = clock.now()
    rows = [
        {
            "kind": kind,
            "subject": str(t.subject),
            "key": t.key,
            "due_at": clock.as_utc(t.due_at),
            "payload": t.payload,
            "state": PENDING,
            "attempts": 0,
            "created_at": now,
        }
        for t in timers
    ]
    for start in range(0, len(rows), _SCHEDULE_CHUNK):
        await session.execute(insert(Timer), rows[start : start + _SCHEDULE_CHUNK])
    if rows:
        _kick_workers_after_commit(session)
    return len(rows)


async def cancel_many(session: AsyncSession, *, kind: str, subjects: Sequence[object]) -> int:
    """Cancel the open timers of ``kind`` for every subject named (bounded IN lists)."""
    cancelled = 0
    names = [str(subject) for subject in subjects]
    for start in range(0, len(names), _SCHEDULE_CHUNK):
        result = await session.execute(
            update(Timer)
            .where(
                Timer.kind == kind,
                Timer.subject.in_(names[start : start + _SCHEDULE_CHUNK]),
                Timer.state.in_(OPEN_STATES),
            )
            .values(state=CANCELLED, lease_until=None)
        )
        cancelled += rows_affected(result)
    return cancelled


async def cancel(
    session: AsyncSession, *, kind: str, subject: object, key: str | None = None
) -> int:
    """Cancel open timers of ``kind`` for ``subject`` (one ``key`` or all); returns how many.

    A timer being fired right now is cancelled too: its firing then fails its compare-and-set and
    rolls back, so a cancelled deadline never takes effect.
    """
    stmt = update(Timer).where(
        Timer.kind == kind, Timer.subject == str(subject), Timer.state.in_(OPEN_STATES)
    )
    if key is not None:
        stmt = stmt.where(Timer.key == key)
    result = await session.execute(stmt.values(state=CANCELLED, lease_until=None))
    return rows_affected(result)


def _kick_workers_after_commit(session: AsyncSession) -> None:
    worker = database_of(session).timer_worker
    if isinstance(worker, TimerWorker):
        after_commit(session, worker.kick)


async def retry_parked(session: AsyncSession, *, timer_id: int) -> Timer:
    """An administrator sends a parked timer round again, due now."""
    timer = await session.get(Timer, timer_id)
    if timer is None:
        raise NotFound("timer_not_found", f"no timer {timer_id}")
    result = await session.execute(
        update(Timer)
        .where(Timer.id == timer_id, Timer.state == PARKED)
        .values(state=PENDING, attempts=0, due_at=clock.now(), last_error=None)
    )
    if not rows_affected(result):
        raise InvalidTransition(
            "timer_not_parked", f"timer {timer_id} is {timer.state}, not parked"
        )
    await session.refresh(timer)
    _kick_workers_after_commit(session)
    return timer


class LostClaim(Exception):
    """The timer was cancelled or re-claimed while its handler ran; its effects roll back."""


class TimerWorker:
    """Claims due timers and fires them. Run one or many, in one process or several."""

    fire_chunk = 32  # most timers fired in one transaction when many are due at once

    def __init__(
        self,
        db: Database,
        *,
        name: str | None = None,
        batch: int = 200,
        concurrency: int = 8,
        lease_seconds: int = 60,
        max_attempts: int = 6,
        poll_seconds: float = 0.5,
        handler_map: dict[str, TimerHandler] | None = None,
    ) -> None:
        self.db = db
        self.name = name or worker_name()
        self.batch = batch
        self.concurrency = concurrency
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.poll_seconds = poll_seconds
        self.handler_map = handler_map
        self._kick = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.fired = 0

    def kick(self) -> None:
        self._kick.set()

    def start(self) -> None:
        self.db.timer_worker = self
        self._stopping = False
        self._task = asyncio.create_task(self.run_forever(), name=f"yingji-timers-{self.name}")

    async def stop(self) -> None:
        self._stopping = True
        self._kick.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def run_forever(self) -> None:
        while not self._stopping:
            try:
                fired = await self.run_due()
                if fired >= self.batch:
                    continue
                wait = await self._seconds_to_next_due()
            except Exception:
                log.exception("timer pass failed")
                wait = self.poll_seconds
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), timeout=wait)
            self._kick.clear()

    async def _seconds_to_next_due(self) -> float:
        async with self.db.unit_of_work(readonly=True) as session:
            next_due = await session.scalar(
                select(func.min(Timer.due_at)).where(Timer.state == PENDING)
            )
        if next_due is None:
            return self.poll_seconds
        return min(self.poll_seconds, clock.wall_seconds(clock.as_utc(next_due) - clock.now()))

    async def run_due(self) -> int:
        """Claim and fire what is due now; returns how many were claimed."""
        claimed, token = await self._claim()
        if not claimed:
            return 0
        limit = asyncio.Semaphore(self.concurrency)
        # Under load, fire a chunk of timers per transaction (one commit instead of one each);
        # a lone due timer still gets its own. SQLite runs one writer at a time, so there the
        # chunks are as large as allowed rather than one per concurrent slot.
        lanes = 1 if self.db.write_lock is not None else self.concurrency
        size = max(1, min(self.fire_chunk, -(-len(claimed) // lanes)))

        async def fire_chunk(chunk: list[TimerFiring]) -> None:
            async with limit:
                await self._fire_chunk(chunk, token)

        await asyncio.gather(
            *(fire_chunk(claimed[i : i + size]) for i in range(0, len(claimed), size))
        )
        return len(claimed)

    async def _claim(self) -> tuple[list[TimerFiring], uuid.UUID]:
        now = clock.now()
        token = uuid.uuid4()
        # Two plain range reads, each an ordered scan of ix_timer_state_due_at that stops at the
        # limit: first runs whose lease expired (their worker died), then due pending timers.
        # (One query with ``OR`` made PostgreSQL read every due row, sort them and then scan
        # the whole table for the ``IN``; a bitmap scan also never marks the dead index
        # entries that fired timers leave behind, so each claim got slower than the last.)
        expired = (
            select(Timer.id)
            .where(Timer.state == RUNNING, Timer.lease_until < now)
            .order_by(Timer.due_at)
            .limit(self.batch)
            .with_for_update(skip_locked=True)
        )
        async with self.db.unit_of_work() as session:
            ids = list((await session.scalars(expired)).all())
            if len(ids) < self.batch:
                pending = (
                    select(Timer.id)
                    .where(Timer.state == PENDING, Timer.due_at <= now)
                    .order_by(Timer.due_at)
                    .limit(self.batch - len(ids))
                    .with_for_update(skip_locked=True)
                )
                ids += (await session.scalars(pending)).all()
            if not ids:
                return [], token
            rows = (
                await session.execute(
                    update(Timer)
                    .where(Timer.id.in_(ids))
                    .values(
                        state=RUNNING,
                        claimed_by=self.name,
                        claim_token=token,
                        # the lease is wall time: a 600x drill clock must not expire it in 0.1 s
                        lease_until=now + self.lease * clock.get_clock().rate,
                        attempts=Timer.attempts + 1,
                    )
                    .returning(
                        Timer.id,
                        Timer.kind,
                        Timer.subject,
                        Timer.key,
                        Timer.due_at,
                        Timer.payload,
                        Timer.attempts,
                    )
                )
            ).all()
        firings = [
            TimerFiring(
                id=r.id,
                kind=r.kind,
                subject=r.subject,
                key=r.key,
                due_at=clock.as_utc(r.due_at),
                payload=r.payload or {},
                attempt=r.attempts,
            )
            for r in rows
        ]
        firings.sort(key=lambda f: (f.due_at, f.id))
        return firings, token

    async def _fire_chunk(self, chunk: list[TimerFiring], token: uuid.UUID) -> None:
        """Fire ``chunk`` in one unit of work: every handler, then one compare-and-set marking
        them all fired, then one commit — each handler's effect still commits with its mark.

        If anything goes wrong (a handler raises, a claim was lost, the commit fails) the whole
        transaction rolls back: a handler that raised has its failure recorded (it ran once for
        this attempt, as alone), and the others are fired again one per transaction by
        :meth:`_fire`, whose rules then apply as before. Handlers are idempotent, so running one
        again after its first effect was rolled back is safe.
        """
        handlers_now = self.handler_map if self.handler_map is not None else _HANDLERS
        runnable = [f for f in chunk if f.kind in handlers_now]
        alone = chunk if len(runnable) <= 1 else [f for f in chunk if f.kind not in handlers_now]
        for firing in alone:  # a lone timer, or one without a handler (which parks it)
            await self._fire(firing, token)
        if len(runnable) <= 1:
            return
        failed: list[tuple[int, Exception]] = []
        try:
            fired_at = await self._fire_together(runnable, handlers_now, token, failed)
        except Exception:
            await self._fall_back(runnable, token, failed)
            return
        self._count_fired(runnable, fired_at)

    async def _fall_back(
        self, firings: list[TimerFiring], token: uuid.UUID, failed: list[tuple[int, Exception]]
    ) -> None:
        """After a chunk rolled back: the handler that raised has failed once; the others run
        again, each in a transaction of its own."""
        for index, firing in enumerate(firings):
            if failed and index == failed[0][0]:
                await self._record_failure(firing, token, failed[0][1])
            else:
                await self._fire(firing, token)

    def _count_fired(self, firings: list[TimerFiring], fired_at: datetime) -> None:
        self.fired += len(firings)
        for firing in firings:
            metrics.timers_fired.labels(firing.kind).inc()
            metrics.timer_lateness.observe(max((fired_at - firing.due_at).total_seconds(), 0.0))

    async def _fire_together(
        self,
        firings: list[TimerFiring],
        handlers_now: dict[str, TimerHandler],
        token: uuid.UUID,
        failed: list[tuple[int, Exception]],
    ) -> datetime:
        """Run ``firings`` and mark them fired in one transaction; on error note which handler
        raised in ``failed`` and re-raise (the unit of work then rolls everything back)."""
        async with self.db.unit_of_work() as session:
            for index, firing in enumerate(firings):
                try:
                    await handlers_now[firing.kind](session, firing)
                except Exception as exc:
                    failed.append((index, exc))
                    raise
            fired_at = clock.now()
            marked = (
                await session.scalars(
                    update(Timer)
                    .where(
                        Timer.id.in_([f.id for f in firings]),
                        Timer.claim_token == token,
                        Timer.state == RUNNING,
                    )
                    .values(state=FIRED, fired_at=fired_at, lease_until=None, last_error=None)
                    .returning(Timer.id)
                )
            ).all()
            if len(marked) != len(firings):
                raise LostClaim(sorted({f.id for f in firings} - set(marked)))
        return fired_at

    async def _fire(self, firing: TimerFiring, token: uuid.UUID) -> None:
        handlers_now = self.handler_map if self.handler_map is not None else _HANDLERS
        run = handlers_now.get(firing.kind)
        try:
            if run is None:
                raise LookupError(f"no handler registered for timer kind {firing.kind!r}")
            async with self.db.unit_of_work() as session:
                await run(session, firing)
                fired_at = clock.now()
                result = await session.execute(
                    update(Timer)
                    .where(
                        Timer.id == firing.id, Timer.claim_token == token, Timer.state == RUNNING
                    )
                    .values(state=FIRED, fired_at=fired_at, lease_until=None, last_error=None)
                )
                if not rows_affected(result):
                    raise LostClaim(firing.id)
        except LostClaim:
            log.info("timer %s was cancelled or re-claimed while firing", firing.id)
            return
        except Exception as exc:
            await self._record_failure(firing, token, exc)
            return
        self._count_fired([firing], fired_at)

    async def _record_failure(self, firing: TimerFiring, token: uuid.UUID, exc: Exception) -> None:
        log.warning(
            "timer %s (%s) failed on attempt %s: %s", firing.id, firing.kind, firing.attempt, exc
        )
        metrics.timers_failed.labels(firing.kind).inc()
        park = firing.attempt >= self.max_attempts or isinstance(exc, LookupError)
        # backoff is wall time: a drill's fast clock must not turn 2 s into 3 ms
        backoff = timedelta(seconds=min(2**firing.attempt, 600)) * clock.get_clock().rate
        values: dict[str, Any] = {
            "state": PARKED if park else PENDING,
            "last_error": f"{type(exc).__name__}: {exc}"[:4000],
            "lease_until": None,
        }
        if not park:
            values["due_at"] = clock.now() + backoff
        async with self.db.unit_of_work() as session:
            await session.execute(
                update(Timer)
                .where(Timer.id == firing.id, Timer.claim_token == token, Timer.state == RUNNING)
                .values(**values)
            )
        if park:
            metrics.timers_parked.labels(firing.kind).inc()


__all__ = [
    "CANCELLED",
    "FIRED",
    "PARKED",
    "PENDING",
    "RUNNING",
    "Timer",
    "TimerFiring",
    "TimerHandler",
    "TimerWorker",
    "cancel",
    "handlers",
    "register",
    "retry_parked",
    "schedule",
]


async def list_timers(
    session: AsyncSession,
    *,
    state: str | None = None,
    kind: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[Timer], int]:
    stmt = select(Timer)
    if state:
        stmt = stmt.where(Timer.state == state)
    if kind:
        stmt = stmt.where(Timer.kind == kind)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = (await session.scalars(stmt.order_by(Timer.due_at).offset(offset).limit(limit))).all()
    return list(rows), total
