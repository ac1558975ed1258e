"""Domain events: the outbox table, the relay and the bus.

A flow appends events with :func:`emit` in its own transaction. After commit the relay reads the
outbox in id order (which is commit order, see :func:`yingji.core.db.lock_journal`) and hands each
event to subscribers:

* **durable** subscribers (other domains' jobs, notification, federation) keep a cursor row in the
  database; an event is delivered at least once, in order, and again after a failure or a crash
  until the handler succeeds. Handlers are idempotent.
* **live** subscribers (the WebSocket hub) get events from the moment they subscribe, in memory.

With ``YINGJI_NATS_URL`` set the relay publishes to NATS JetStream instead (message id = event id,
so a republish is dropped by the stream), durable subscribers become JetStream durable consumers
shared by every worker, and live subscribers in every process read the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Integer,
    String,
    Table,
    Text,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
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
    enqueue_journal,
    journal_row,
    rows_affected,
)
from yingji.core.ids import new_id

log = logging.getLogger(__name__)

BigId = BigInteger().with_variant(Integer(), "sqlite")


class OutboxEvent(Base):
    """One domain event, written in the transaction that caused it."""

    __tablename__ = "outbox_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    type: Mapped[str] = mapped_column(String(100), index=True)
    subject_type: Mapped[str] = mapped_column(String(50))
    subject_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    division_path: Mapped[str | None] = mapped_column(String(200))
    unit_ids: Mapped[list[str] | None] = mapped_column(JSONType)
    user_ids: Mapped[list[str] | None] = mapped_column(JSONType)
    permission: Mapped[str | None] = mapped_column(String(40))
    everywhere: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    actor_id: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)


_OUTBOX = cast(Table, OutboxEvent.__table__)


@functools.cache
def _events_after(limit: int) -> Any:
    """The outbox rows after a position, oldest first: plain rows, built once (the relay reads
    them after every commit)."""
    after = _OUTBOX.c.id > bindparam("after")
    return select(*_OUTBOX.columns).where(after).order_by(_OUTBOX.c.id).limit(limit)


class OutboxCursor(Base):
    """How far a durable subscriber has got through the outbox."""

    __tablename__ = "outbox_cursor"

    subscriber: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigId, default=0)
    leased_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class EventScope:
    """Who may see an event: a division subtree (path of adcodes) and/or units, or everyone
    (``everywhere``: a table the whole platform shares, such as the routing table). With no area
    at all only principals that see everything get it. ``permission`` narrows any of these to the
    principals holding it (a user account's change goes only to those who manage users)."""

    division_path: str | None = None
    unit_ids: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()  # addressed to these people only (a notification)
    permission: str | None = None
    everywhere: bool = False


@dataclass(frozen=True)
class DomainEvent:
    id: int
    event_id: str
    type: str
    subject_type: str
    subject_id: str
    payload: dict[str, Any]
    occurred_at: str
    scope: EventScope = field(default_factory=EventScope)
    actor_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "type": self.type,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "payload": self.payload,
            "occurred_at": self.occurred_at,
            "actor_id": self.actor_id,
            "scope": {
                "division_path": self.scope.division_path,
                "unit_ids": list(self.scope.unit_ids),
                "user_ids": list(self.scope.user_ids),
                "permission": self.scope.permission,
                "everywhere": self.scope.everywhere,
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DomainEvent:
        scope = data.get("scope") or {}
        return cls(
            id=int(data["id"]),
            event_id=str(data["event_id"]),
            type=str(data["type"]),
            subject_type=str(data["subject_type"]),
            subject_id=str(data["subject_id"]),
            payload=dict(data.get("payload") or {}),
            occurred_at=str(data["occurred_at"]),
            actor_id=data.get("actor_id"),
            scope=EventScope(
                scope.get("division_path"),
                tuple(scope.get("unit_ids") or ()),
                tuple(scope.get("user_ids") or ()),
                scope.get("permission"),
                bool(scope.get("everywhere")),
            ),
        )

    @classmethod
    def from_row(cls, row: Any) -> DomainEvent:
        """From an outbox row (an ``OutboxEvent`` or a row of its columns)."""
        return cls(
            id=row.id,
            event_id=str(row.event_id),
            type=row.type,
            subject_type=row.subject_type,
            subject_id=row.subject_id,
            payload=row.payload,
            occurred_at=clock.as_utc(row.occurred_at).isoformat(),
            actor_id=row.actor_id,
            scope=EventScope(
                row.division_path,
                tuple(row.unit_ids or ()),
                tuple(row.user_ids or ()),
                row.permission,
                bool(row.everywhere),
            ),
        )


Handler = Callable[[DomainEvent], Awaitable[None]]


async def emit(
    session: AsyncSession,
    *,
    type: str,  # noqa: A002 - the event's type is its name in the domain
    subject_type: str,
    subject_id: object,
    payload: dict[str, Any],
    scope: EventScope | None = None,
    actor_id: object | None = None,
) -> None:
    """Append a domain event to the outbox of the caller's transaction (written before commit)."""
    scope = scope or EventScope()
    row = {
        "event_id": new_id(),
        "type": type,
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "payload": json.loads(json.dumps(payload, default=str)),
        "division_path": scope.division_path,
        "unit_ids": list(scope.unit_ids) or None,
        "user_ids": list(scope.user_ids) or None,
        "permission": scope.permission,
        "everywhere": scope.everywhere,
        "actor_id": None if actor_id is None else str(actor_id),
        "occurred_at": clock.now(),
    }

    async def write(session: AsyncSession) -> None:
        journal_row(session, _OUTBOX, row)
        session.info["wrote_outbox"] = True

    enqueue_journal(session, write)


@dataclass
class Subscription:
    name: str
    handler: Handler
    durable: bool
    types: tuple[str, ...] = ()

    _answers: dict[str, bool] = field(default_factory=dict, init=False, repr=False, compare=False)

    def wants(self, event_type: str) -> bool:
        answer = self._answers.get(event_type)
        if answer is None:
            answer = not self.types or any(event_type.startswith(p) for p in self.types)
            self._answers[event_type] = answer
        return answer

    async def deliver(self, event: DomainEvent) -> None:
        """Hand ``event`` to the handler if this subscriber wants its type, and count it
        (``yingji_events_delivered_total``); a handler's exception goes to the caller."""
        if self.wants(event.type):
            await self.handler(event)
            metrics.events_delivered.labels(self.name).inc()


def _wall(seconds: float) -> timedelta:
    """``seconds`` of wall time as business time: leases and backoff outlast a fast clock."""
    return timedelta(seconds=seconds) * clock.get_clock().rate


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Bus:
    """The in-process bus: the relay reads the outbox and calls subscribers in this process."""

    RELAY_POLL_SECONDS = 1.0
    # After a pass that found events, commits gather this long before the next pass: under
    # load one read of the outbox serves several commits instead of one each (the first event
    # after a quiet spell still goes out at once).
    RELAY_GATHER_SECONDS = 0.05
    LEASE_SECONDS = 30
    BATCH = 500
    # A durable subscriber whose pending events are all of types it ignores keeps its cursor
    # where it is for up to this long (no lease, no write); then the cursor catches up with one
    # write, without reading those events again.
    IDLE_ADVANCE_SECONDS = 5.0
    RECENT_EVENTS = 4096

    def __init__(self) -> None:
        self.subscriptions: list[Subscription] = []
        self.db: Database | None = None
        self.run_relay = False
        self.me = worker_name()
        self._kick = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._live_cursor = 0
        self._stopping = False
        # What this process's relay has read of the outbox (id, type), every event after
        # ``_recent_from``; and where it last left each durable cursor (id, monotonic time).
        self._recent: deque[tuple[int, str]] = deque(maxlen=self.RECENT_EVENTS)
        self._recent_from: int | None = None
        self._released: dict[str, tuple[int, float]] = {}
        # per durable subscriber, the outbox id up to which every event is of a type it ignores
        self._ignored_through: dict[str, int] = {}

    def subscribe(
        self, name: str, handler: Handler, *, durable: bool = True, types: Sequence[str] = ()
    ) -> None:
        if any(sub.name == name for sub in self.subscriptions):
            raise ValueError(f"subscriber {name!r} already registered")
        self.subscriptions.append(Subscription(name, handler, durable, tuple(types)))

    def unsubscribe(self, name: str) -> None:
        self.subscriptions = [sub for sub in self.subscriptions if sub.name != name]

    @property
    def _database(self) -> Database:
        if self.db is None:
            raise RuntimeError("the bus has not been started")
        return self.db

    def kick(self) -> None:
        """Something was committed: look at the outbox now rather than at the next poll."""
        self._kick.set()

    async def start(self, db: Database, *, run_relay: bool) -> None:
        self.db = db
        self.run_relay = run_relay
        self._stopping = False
        if self.kick not in db.outbox_hooks:
            db.outbox_hooks.append(self.kick)
        self._live_cursor = await self._ensure_cursors(
            [s.name for s in self.subscriptions if s.durable]
        )
        self._tasks.append(asyncio.create_task(self._loop(), name="yingji-relay"))

    async def stop(self) -> None:
        self._stopping = True
        self._kick.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.db is not None and self.kick in self.db.outbox_hooks:
            self.db.outbox_hooks.remove(self.kick)

    async def _loop(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=self.RELAY_POLL_SECONDS)
            self._kick.clear()
            try:
                handled = await self.pump()
            except Exception:
                log.exception("relay pass failed")
                await asyncio.sleep(0.5)
                continue
            if handled and not self._stopping:
                await asyncio.sleep(self.RELAY_GATHER_SECONDS)

    async def pump(self) -> int:
        """One relay pass: live fan-out, then every durable subscriber. Returns events handled."""
        handled = await self._pump_live()
        if self.run_relay:
            for sub in [s for s in self.subscriptions if s.durable]:
                handled += await self.deliver_durable(sub)
        return handled

    async def _read_after(self, last_id: int, limit: int) -> list[DomainEvent]:
        async with self._database.unit_of_work(readonly=True) as session:
            rows = await session.execute(_events_after(limit), {"after": last_id})
            return [DomainEvent.from_row(row) for row in rows]

    async def _pump_live(self) -> int:
        live = [sub for sub in self.subscriptions if not sub.durable]
        events = await self._read_after(self._live_cursor, self.BATCH)
        if self._recent_from is None:
            self._recent_from = self._live_cursor
        for event in events:
            await self.fan_out_live(event, live)
            self._remember(event)
            self._live_cursor = event.id
        return len(events)

    def _remember(self, event: DomainEvent) -> None:
        if len(self._recent) == self._recent.maxlen:
            self._recent_from = self._recent[0][0]  # everything after the dropped one is kept
        self._recent.append((event.id, event.type))

    def _pass_for(self, sub: Subscription) -> Literal["read", "skip", "advance"]:
        """What this pass does for ``sub``: ``"read"`` its pending events, ``"skip"`` (leave it
        alone: no lease, no write) or ``"advance"`` its cursor past events it ignores.

        Skip when nothing was committed after the cursor this process last released, or when
        everything after it is of types the subscriber ignores and the cursor moved recently;
        advance in the second case once the cursor has stood still for ``IDLE_ADVANCE_SECONDS``.
        The outbox ids grow in commit order (decision 0006), so ``_recent`` holds every event
        after ``_recent_from``.
        """
        known = self._released.get(sub.name)
        if known is None or self._recent_from is None:
            return "read"
        position, released_at = known
        if position >= self._live_cursor:
            return "skip"
        if position < self._recent_from:
            return "read"
        # events up to ``ignored`` were found ignored by an earlier pass: scan only the newer
        ignored = max(position, self._ignored_through.get(sub.name, position))
        for event_id, event_type in reversed(self._recent):  # newest first
            if event_id <= ignored:
                break
            if sub.wants(event_type):
                return "read"
        self._ignored_through[sub.name] = self._live_cursor
        if time.monotonic() - released_at >= self.IDLE_ADVANCE_SECONDS:
            return "advance"
        return "skip"

    async def fan_out_live(
        self, event: DomainEvent, live: list[Subscription] | None = None
    ) -> None:
        for sub in live if live is not None else [s for s in self.subscriptions if not s.durable]:
            try:
                await sub.deliver(event)
            except Exception:
                log.exception("live subscriber %s failed on event %s", sub.name, event.id)

    async def deliver_durable(self, sub: Subscription) -> int:
        """Deliver pending events to one durable subscriber under a lease on its cursor."""
        what = self._pass_for(sub)
        if what == "skip":
            return 0
        if what == "advance":
            await self._advance_cursor(sub.name, self._released[sub.name][0], self._live_cursor)
            return 0
        last_id = await self._lease_cursor(sub.name)
        if last_id is None:
            return 0
        delivered = 0
        try:
            events = await self._read_after(last_id, self.BATCH)
            for event in events:
                await sub.deliver(event)
                last_id = event.id
                delivered += 1
            await self._release_cursor(sub.name, last_id, error=None)
            self._released[sub.name] = (last_id, time.monotonic())
        except Exception as exc:
            log.exception("durable subscriber %s failed after event %s", sub.name, last_id)
            self._released.pop(sub.name, None)
            await self._release_cursor(sub.name, last_id, error=f"{type(exc).__name__}: {exc}")
        return delivered

    async def _ensure_cursors(self, names: list[str]) -> int:
        """Create missing cursors at the current end of the outbox; return that end.

        A subscriber sees the events committed after it was first registered, then every one.
        """
        async with self._database.unit_of_work() as session:
            end = int(
                (
                    await session.execute(select(func.coalesce(func.max(OutboxEvent.id), 0)))
                ).scalar_one()
            )
            for name in names:
                if await session.get(OutboxCursor, name) is None:
                    session.add(OutboxCursor(subscriber=name, last_id=end, failures=0))
        return end

    def _takeable(self, now: datetime) -> ColumnElement[bool]:
        """A cursor this process may lease or move: no other relay's lease is running on it and
        no retry after a failure is pending."""
        return and_(
            or_(
                OutboxCursor.lease_until.is_(None),
                OutboxCursor.lease_until < now,
                OutboxCursor.leased_by == self.me,
            ),
            or_(OutboxCursor.retry_at.is_(None), OutboxCursor.retry_at <= now),
        )

    async def _lease_cursor(self, name: str) -> int | None:
        now = clock.now()
        async with self._database.unit_of_work() as session:
            result = await session.execute(
                update(OutboxCursor)
                .where(OutboxCursor.subscriber == name)
                .where(self._takeable(now))
                .values(leased_by=self.me, lease_until=now + _wall(self.LEASE_SECONDS))
                .returning(OutboxCursor.last_id)
            )
            row = result.first()
            return None if row is None else int(row[0])

    async def _advance_cursor(self, name: str, known: int, to: int) -> None:
        """Move a cursor from ``known`` to ``to`` over events its subscriber ignores: one
        compare-and-set write, made only while the cursor is still where this process left it
        and nobody else holds its lease (another relay may have moved it meanwhile)."""
        now = clock.now()
        async with self._database.unit_of_work() as session:
            result = await session.execute(
                update(OutboxCursor)
                .where(OutboxCursor.subscriber == name)
                .where(OutboxCursor.last_id == known)
                .where(self._takeable(now))
                .values(last_id=to, leased_by=None, lease_until=None, updated_at=now)
            )
        if rows_affected(result):
            self._released[name] = (to, time.monotonic())
        else:  # the next pass leases the cursor and reads from wherever it is
            self._released.pop(name, None)

    async def _release_cursor(self, name: str, last_id: int, *, error: str | None) -> None:
        now = clock.now()
        async with self._database.unit_of_work() as session:
            cursor = await session.get(OutboxCursor, name)
            if cursor is None or cursor.leased_by != self.me:
                return
            cursor.last_id = last_id
            cursor.leased_by = None
            cursor.lease_until = None
            cursor.updated_at = now
            if error is None:
                cursor.failures, cursor.last_error, cursor.retry_at = 0, None, None
            else:
                cursor.failures += 1
                cursor.last_error = error[:2000]
                backoff = min(2 ** min(cursor.failures, 8), 300)
                cursor.retry_at = now + _wall(backoff)


class NatsBus(Bus):
    """Events between processes over NATS JetStream."""

    SUBJECT = "yingji.events"
    KICK = "yingji.outbox.kick"

    def __init__(self, url: str, stream: str) -> None:
        super().__init__()
        self.url = url
        self.stream = stream
        self.nc: Any = None
        self.js: Any = None

    async def start(self, db: Database, *, run_relay: bool) -> None:
        self.nc = await nats.connect(self.url, name=f"yingji-{self.me}", max_reconnect_attempts=-1)
        self.js = self.nc.jetstream()
        await self._ensure_stream()
        self.db = db
        self.run_relay = run_relay
        self._stopping = False
        if self.kick not in db.outbox_hooks:
            db.outbox_hooks.append(self.kick)
        await self._ensure_cursors(["jetstream"])
        if run_relay:
            await self.nc.subscribe(self.KICK, cb=self._on_remote_kick)
            self._tasks.append(asyncio.create_task(self._loop(), name="yingji-relay"))
        live = [s for s in self.subscriptions if not s.durable]
        if live:
            await self.js.subscribe(
                f"{self.SUBJECT}.>",
                cb=self._on_live,
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.NEW,
            )
        for sub in self.subscriptions:
            if sub.durable:
                self._tasks.append(
                    asyncio.create_task(self._consume(sub), name=f"yingji-{sub.name}")
                )

    async def _ensure_stream(self) -> None:
        config = StreamConfig(
            name=self.stream,
            subjects=[f"{self.SUBJECT}.>"],
            duplicate_window=24 * 3600.0,
            max_age=7 * 24 * 3600.0,
        )
        try:
            await self.js.stream_info(self.stream)
        except Exception:
            await self.js.add_stream(config)

    async def _on_remote_kick(self, _msg: Any) -> None:
        self._kick.set()

    def kick(self) -> None:
        self._kick.set()
        if self.nc is not None and not self.run_relay and self.nc.is_connected:
            asyncio.get_running_loop().create_task(self.nc.publish(self.KICK, b""))

    async def _on_live(self, msg: Any) -> None:
        event = DomainEvent.from_json(json.loads(msg.data))
        await self.fan_out_live(event)

    async def pump(self) -> int:
        """Relay: publish outbox rows to JetStream under the ``jetstream`` cursor."""
        last_id = await self._lease_cursor("jetstream")
        if last_id is None:
            return 0
        published = 0
        try:
            for event in await self._read_after(last_id, self.BATCH):
                await self.js.publish(
                    f"{self.SUBJECT}.{event.type}",
                    json.dumps(event.to_json()).encode(),
                    headers={"Nats-Msg-Id": event.event_id},
                )
                last_id = event.id
                published += 1
            await self._release_cursor("jetstream", last_id, error=None)
        except Exception as exc:
            log.exception("publishing to JetStream failed after event %s", last_id)
            await self._release_cursor("jetstream", last_id, error=str(exc))
        return published

    async def _consume(self, sub: Subscription) -> None:
        config = ConsumerConfig(
            durable_name=sub.name, ack_policy=AckPolicy.EXPLICIT, max_ack_pending=1, ack_wait=60.0
        )
        psub = await self.js.pull_subscribe(
            f"{self.SUBJECT}.>", durable=sub.name, stream=self.stream, config=config
        )
        while not self._stopping:
            try:
                msgs = await psub.fetch(1, timeout=1.0)
            except TimeoutError:
                continue
            except Exception:
                if self._stopping:
                    return
                log.exception("fetch for %s failed", sub.name)
                await asyncio.sleep(1.0)
                continue
            for msg in msgs:
                event = DomainEvent.from_json(json.loads(msg.data))
                try:
                    await sub.deliver(event)
                    await msg.ack()
                except Exception:
                    log.exception("durable subscriber %s failed on event %s", sub.name, event.id)
                    await msg.nak(delay=1.0)

    async def stop(self) -> None:
        await super().stop()
        if self.nc is not None:
            await self.nc.drain()
            self.nc = None


def make_bus(nats_url: str | None, stream: str = "YINGJI_EVENTS") -> Bus:
    return NatsBus(nats_url, stream) if nats_url else Bus()


__all__ = [
    "Bus",
    "DomainEvent",
    "EventScope",
    "NatsBus",
    "OutboxCursor",
    "OutboxEvent",
    "emit",
    "make_bus",
]
