"""Deliveries: the queue of messages to people and devices, and the sender that works it.

**Enqueue** (:func:`enqueue`): one :class:`~yingji.notify.models.OutboundMessage` (what is said,
once) and one :class:`~yingji.notify.models.Delivery` row per recipient on their *first*
channel, the others kept in ``fallbacks``; the rows are written with one Core ``INSERT`` per
chunk (a warning to 100,000 people is one call), due now, and the sender is woken after commit.

**Send** (:class:`DeliveryWorker`, a background worker of the notify domain):

* in-app deliveries are written in the database, a batch per transaction: the rows are taken
  ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), their notifications inserted, the rows marked
  delivered and one ``notify.created`` event sent to the people of the batch — all or nothing;
* every other channel: due rows are claimed with a compare-and-set (``sending``, a claim token
  and a lease, like ``core.timers``), sent through the channel's plugin outside any transaction,
  then marked with the claim token as guard: sent (or delivered), queued again with exponential
  backoff, or failed for good — then the recipient's next channel gets a new delivery, and when
  none is left ``notify.delivery.failed`` is told. A worker killed mid-send leaves its rows
  ``sending`` under an expired lease; any worker claims them again and sends them with the same
  idempotency key (``delivery-<id>``), so a gateway that honours the key sends each once;
* each channel may be throttled (``YINGJI_NOTIFY_RATES``); progress per subject is told as
  ``notify.deliveries.progress`` at most once a second (and once more when the queue is idle).

**Receipts** (:func:`apply_receipt`): a gateway's report turns a sent delivery delivered or
failed; a voice receipt with a key pressed is told as ``notify.delivery.answered`` (the warning
domain decides what the key means — a receipt alone is never an acknowledgement).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock, events
from yingji.core.db import Database, after_commit, database_of, dialect_of, rows_affected
from yingji.core.events import EventScope, worker_name
from yingji.core.ids import new_id
from yingji.notify import render
from yingji.notify.channels import ChannelError, ChannelPlugin, Outgoing, Sent
from yingji.notify.channels.build import build_channels
from yingji.notify.models import Channel, Delivery, DeliveryState, Notification, OutboundMessage
from yingji.settings import Settings

log = logging.getLogger(__name__)

_MESSAGE = cast(Table, OutboundMessage.__table__)
_DELIVERY = cast(Table, Delivery.__table__)
_NOTIFICATION = cast(Table, Notification.__table__)

CHANNELS = frozenset(c.value for c in Channel)
STATES = tuple(s.value for s in DeliveryState)
INSERT_CHUNK = 5000
ADDRESS_MAX = 500
NAME_MAX = 200


@dataclass(frozen=True)
class DeliverySpec:
    """One recipient of a message: their ways to be reached in order, ``(channel, address)``
    (the in-app channel's address may be empty: ``user_id`` is it), their acknowledgement token
    for the link in the message, and the 叫应 step the deliveries belong to (0: publication)."""

    recipient_ref: str
    name: str
    channels: Sequence[tuple[str, str]]
    user_id: uuid.UUID | None = None
    ack_token: str | None = None
    step: int = 0


class Fallback(TypedDict):
    channel: str
    address: str


def _routes(item: DeliverySpec) -> list[Fallback]:
    """The item's channels, known ones only, each channel+address once; in-app needs a user."""
    found: list[Fallback] = []
    seen: set[tuple[str, str]] = set()
    for channel, address in item.channels:
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        if channel == Channel.APP:
            if item.user_id is None:
                continue
            address = str(item.user_id)
        address = (address or "").strip()
        if not address or len(address) > ADDRESS_MAX or (channel, address) in seen:
            continue
        seen.add((channel, address))
        found.append({"channel": channel, "address": address})
    return found


def _json_text(value: object) -> str:
    """JSON text for a JSONB column (empty ones without calling the encoder)."""
    if value == []:
        return "[]"
    if value == {}:
        return "{}"
    return json.dumps(value, ensure_ascii=False)


async def bulk_insert(
    session: AsyncSession,
    table: Table,
    columns: Sequence[str],
    records: Sequence[tuple[Any, ...]],
    *,
    json_columns: frozenset[str] = frozenset(),
) -> None:
    """Insert ``records`` (values in the order of ``columns``) in the session's transaction: on
    PostgreSQL with ``COPY`` (binary, through the session's own asyncpg connection; the values of
    ``json_columns`` are dumped to JSON text here), elsewhere with Core ``INSERT``s of
    :data:`INSERT_CHUNK` rows. Python-side column defaults are not applied: every column not
    named must be nullable or have a server default."""
    if not records:
        return
    if dialect_of(session) != "postgresql":
        for start in range(0, len(records), INSERT_CHUNK):
            chunk = records[start : start + INSERT_CHUNK]
            await session.execute(
                insert(table), [dict(zip(columns, r, strict=True)) for r in chunk]
            )
        return
    dumped = [i for i, c in enumerate(columns) if c in json_columns]
    if dumped:
        rows = [list(r) for r in records]
        for row in rows:
            for i in dumped:
                row[i] = _json_text(row[i])
        records = [tuple(row) for row in rows]
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if driver is None:
        raise RuntimeError("the session's connection is closed")
    await driver.copy_records_to_table(table.name, records=records, columns=list(columns))


_DELIVERY_COLUMNS = (
    "message_id",
    "subject_id",
    "recipient_ref",
    "step",
    "user_id",
    "name",
    "channel",
    "address",
    "fallbacks",
    "ack_token",
    "state",
    "tries",
    "due_at",
    "receipt",
    "created_at",
)
_JSON_DELIVERY = frozenset({"fallbacks", "receipt"})
_NOTIFICATION_COLUMNS = (
    "id",
    "user_id",
    "kind",
    "title",
    "body",
    "subject_type",
    "subject_id",
    "dedupe_key",
    "created_at",
)


def _kick(session: AsyncSession) -> None:
    worker = _WORKERS.get(database_of(session))
    if worker is not None:
        after_commit(session, worker.kick)


async def enqueue(
    session: AsyncSession,
    *,
    subject_type: str,
    subject_id: object,
    kind: str,
    content: Mapping[str, Any],
    scope_path: str | None,
    items: Sequence[DeliverySpec],
) -> uuid.UUID:
    """Queue ``content`` for every item (their first channel; the rest as fallbacks), due now.
    Returns the message's id. ``scope_path``: the division path whose desks see its events."""
    now = clock.now()
    message_id = new_id()
    stored = {**content, "scope_path": scope_path}
    await session.execute(
        insert(_MESSAGE).values(
            id=message_id,
            subject_type=subject_type,
            subject_id=str(subject_id),
            kind=kind,
            content=stored,
            created_at=now,
        )
    )
    subject = str(subject_id)
    queued = DeliveryState.QUEUED.value
    records: list[tuple[Any, ...]] = []
    for item in items:
        routes = _routes(item)
        if not routes:
            continue
        first = routes[0]
        records.append(
            (
                message_id,
                subject,
                item.recipient_ref,
                item.step,
                item.user_id,
                item.name[:NAME_MAX],
                first["channel"],
                first["address"],
                routes[1:],
                item.ack_token,
                queued,
                0,
                now,
                {},
                now,
            )
        )
    await bulk_insert(session, _DELIVERY, _DELIVERY_COLUMNS, records, json_columns=_JSON_DELIVERY)
    _kick(session)
    return message_id


async def cancel_queued(
    session: AsyncSession, *, subject_id: object, recipient_ref: str | None = None
) -> int:
    """Withdraw what has not gone yet (queued, or waiting for a retry); returns how many."""
    stmt = update(Delivery).where(
        Delivery.subject_id == str(subject_id), Delivery.state == DeliveryState.QUEUED.value
    )
    if recipient_ref is not None:
        stmt = stmt.where(Delivery.recipient_ref == recipient_ref)
    result = await session.execute(
        stmt.values(state=DeliveryState.CANCELLED.value).execution_options(
            synchronize_session=False
        )
    )
    return rows_affected(result)


@dataclass(frozen=True)
class DeliveryView:
    """A delivery as the owner's lists show it."""

    id: int
    message_id: uuid.UUID
    recipient_ref: str
    step: int
    name: str
    channel: str
    address: str
    state: str
    tries: int
    error: str | None
    receipt: dict[str, Any]
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


def _view(row: Delivery) -> DeliveryView:
    return DeliveryView(
        id=row.id,
        message_id=row.message_id,
        recipient_ref=row.recipient_ref,
        step=row.step,
        name=row.name,
        channel=row.channel,
        address=row.address,
        state=row.state,
        tries=row.tries,
        error=row.error,
        receipt=dict(row.receipt or {}),
        created_at=row.created_at,
        sent_at=row.sent_at,
        delivered_at=row.delivered_at,
    )


async def list_deliveries(
    session: AsyncSession,
    *,
    subject_id: object,
    state: str | None = None,
    recipient_ref: str | None = None,
    channel: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[DeliveryView], int]:
    """A subject's deliveries (oldest first) and how many match."""
    stmt = select(Delivery).where(Delivery.subject_id == str(subject_id))
    if state is not None:
        stmt = stmt.where(Delivery.state == state)
    if recipient_ref is not None:
        stmt = stmt.where(Delivery.recipient_ref == recipient_ref)
    if channel is not None:
        stmt = stmt.where(Delivery.channel == channel)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.scalars(stmt.order_by(Delivery.id).offset(offset).limit(limit))
    return [_view(r) for r in rows], total


async def counts(session: AsyncSession, *, subject_id: object) -> dict[str, int]:
    """How many of a subject's deliveries are in each state (every state named)."""
    found = dict.fromkeys(STATES, 0)
    rows = await session.execute(
        select(Delivery.state, func.count())
        .where(Delivery.subject_id == str(subject_id))
        .group_by(Delivery.state)
    )
    for state, number in rows:
        found[state] = int(number)
    return found


async def counts_by_channel(
    session: AsyncSession, *, subject_id: object
) -> dict[str, dict[str, int]]:
    """Per channel, how many of a subject's deliveries are in each state."""
    found: dict[str, dict[str, int]] = {}
    rows = await session.execute(
        select(Delivery.channel, Delivery.state, func.count())
        .where(Delivery.subject_id == str(subject_id))
        .group_by(Delivery.channel, Delivery.state)
    )
    for channel, state, number in rows:
        found.setdefault(channel, dict.fromkeys(STATES, 0))[state] = int(number)
    return found


# --- failures, fallbacks and receipts --------------------------------------------------------


async def _scope_of(session: AsyncSession, message_id: uuid.UUID) -> EventScope:
    content = await session.scalar(
        select(OutboundMessage.content).where(OutboundMessage.id == message_id)
    )
    path = (content or {}).get("scope_path")
    return EventScope(division_path=path if isinstance(path, str) and path else None)


async def _fall_back(session: AsyncSession, row: Delivery, error: str) -> int | None:
    """After ``row`` failed for good: a delivery on the recipient's next channel not yet tried
    for this message and step (its id), or — none left — ``notify.delivery.failed``."""
    remaining: list[Fallback] = [
        {"channel": str(f.get("channel")), "address": str(f.get("address"))}
        for f in (row.fallbacks or [])
    ]
    while remaining:
        route, remaining = remaining[0], remaining[1:]
        taken = await session.scalar(
            select(Delivery.id).where(
                Delivery.message_id == row.message_id,
                Delivery.recipient_ref == row.recipient_ref,
                Delivery.channel == route["channel"],
                Delivery.step == row.step,
            )
        )
        if taken is not None:
            continue
        now = clock.now()
        new = await session.scalar(
            insert(Delivery)
            .values(
                message_id=row.message_id,
                subject_id=row.subject_id,
                recipient_ref=row.recipient_ref,
                step=row.step,
                user_id=row.user_id,
                name=row.name,
                channel=route["channel"],
                address=route["address"],
                fallbacks=remaining,
                ack_token=row.ack_token,
                state=DeliveryState.QUEUED.value,
                tries=0,
                due_at=now,
                receipt={},
                created_at=now,
            )
            .returning(Delivery.id)
        )
        _kick(session)
        return int(new) if new is not None else None
    await events.emit(
        session,
        type="notify.delivery.failed",
        subject_type="delivery",
        subject_id=row.id,
        payload={
            "delivery_id": row.id,
            "subject_id": row.subject_id,
            "recipient_ref": row.recipient_ref,
            "channel": row.channel,
            "step": row.step,
            "error": error,
        },
        scope=await _scope_of(session, row.message_id),
    )
    return None


class ReceiptFacts(TypedDict):
    delivery_id: int
    state: str
    changed: bool


async def find_by_ref(session: AsyncSession, *, channel: str, ref: str) -> Delivery | None:
    """The delivery a gateway's receipt names: our idempotency key, or the gateway's own id."""
    number = ref.removeprefix("delivery-")
    if number != ref and number.isdigit() and len(number) <= 18:  # a bigint
        row = await session.get(Delivery, int(number), with_for_update=True)
    else:
        row = await session.scalar(
            select(Delivery).where(Delivery.gateway_ref == ref).with_for_update()
        )
    return row if row is not None and row.channel == channel else None


async def apply_receipt(
    session: AsyncSession,
    *,
    row: Delivery,
    delivered: bool,
    key: str | None = None,
    code: str | None = None,
) -> ReceiptFacts:
    """A gateway's receipt: a sent (or still sending) delivery becomes delivered or failed (then
    the next channel goes); a key pressed on a voice call is told once as
    ``notify.delivery.answered``. A receipt for a delivery already final changes nothing."""
    now = clock.now()
    changed = False
    takes = (DeliveryState.SENDING.value, DeliveryState.SENT.value)
    if key is not None and not (row.receipt or {}).get("key"):
        row.receipt = {**(row.receipt or {}), "key": key, "key_at": now.isoformat()}
        changed = True
        await events.emit(
            session,
            type="notify.delivery.answered",
            subject_type="delivery",
            subject_id=row.id,
            payload={
                "delivery_id": row.id,
                "subject_id": row.subject_id,
                "recipient_ref": row.recipient_ref,
                "channel": row.channel,
                "step": row.step,
                "key": key,
            },
            scope=await _scope_of(session, row.message_id),
        )
    # a try that timed out here may have reached the gateway after all: its receipt counts
    retrying = row.state == DeliveryState.QUEUED.value and row.tries > 0 and delivered
    if row.state in takes or retrying:
        changed = True
        row.receipt = {**(row.receipt or {}), "status": "delivered" if delivered else "failed"}
        row.lease_until = None
        if delivered:
            row.state = DeliveryState.DELIVERED.value
            row.delivered_at = now
        else:
            row.state = DeliveryState.FAILED.value
            row.error = (code or "receipt_failed")[:200]
            await session.flush()
            await _fall_back(session, row, row.error)
    await session.flush()
    return {"delivery_id": row.id, "state": row.state, "changed": changed}


async def device_acknowledged(session: AsyncSession, *, device_code: str, delivery_id: int) -> bool:
    """A broadcast device played or showed a delivery addressed to it: delivered."""
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.address == device_code,
            Delivery.channel.in_((Channel.LOUDSPEAKER.value, Channel.LED.value)),
            Delivery.state.in_((DeliveryState.SENDING.value, DeliveryState.SENT.value)),
        )
        .values(
            state=DeliveryState.DELIVERED.value,
            delivered_at=clock.now(),
            lease_until=None,
            receipt={"status": "delivered", "by": "device"},
        )
    )
    return rows_affected(result) > 0


# --- the sender ------------------------------------------------------------------------------

_WORKERS: weakref.WeakKeyDictionary[Database, DeliveryWorker] = weakref.WeakKeyDictionary()


class _Rate:
    """At most ``per_second`` sends a second on one channel (in this process, wall time)."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self.next = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self.lock:
            now = time.monotonic()
            if self.next > now:
                await asyncio.sleep(self.next - now)
                now = self.next
            self.next = now + self.interval


@dataclass(frozen=True)
class _Claimed:
    id: int
    message_id: uuid.UUID
    subject_id: str
    recipient_ref: str
    step: int
    name: str
    channel: str
    address: str
    ack_token: str | None
    tries: int


@dataclass
class _Outcome:
    item: _Claimed
    sent: Sent | None = None
    error: ChannelError | None = None


@dataclass
class _Progress:
    scope_path: str | None
    told_at: float = 0.0
    dirty: bool = True


@dataclass
class _Messages:
    """Messages' kind and content, read once per worker (a message never changes)."""

    known: dict[uuid.UUID, tuple[str, str, str, dict[str, Any]]] = field(default_factory=dict)

    async def load(
        self, session: AsyncSession, ids: set[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[str, str, str, dict[str, Any]]]:
        missing = [i for i in ids if i not in self.known]
        if missing:
            rows = await session.execute(
                select(
                    OutboundMessage.id,
                    OutboundMessage.kind,
                    OutboundMessage.subject_type,
                    OutboundMessage.subject_id,
                    OutboundMessage.content,
                ).where(OutboundMessage.id.in_(missing))
            )
            for mid, kind, subject_type, subject_id, content in rows:
                if len(self.known) > 10_000:
                    self.known.clear()
                self.known[mid] = (kind, subject_type, subject_id, dict(content or {}))
        return {i: self.known[i] for i in ids if i in self.known}


class DeliveryWorker:
    """Claims due deliveries and sends them. Run one or many, in one process or several."""

    concurrency = 16
    mark_chunk = 32

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        channels: Mapping[str, ChannelPlugin] | None = None,
        name: str | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.name = name or worker_name()
        self._channels = dict(channels) if channels is not None else None
        self.rates = {c: _Rate(r) for c, r in settings.notify_rates.items() if r > 0}
        self.lease = timedelta(seconds=settings.notify_lease_seconds)
        self._kick = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._messages = _Messages()
        self._progress: dict[str, _Progress] = {}
        self._others_idle = False
        self._skipped = 0
        self.sent = 0

    @property
    def channels(self) -> dict[str, ChannelPlugin]:
        if self._channels is None:
            self._channels = build_channels(self.db, self.settings)
        return self._channels

    def kick(self) -> None:
        self._kick.set()

    def start(self) -> None:
        _WORKERS[self.db] = self
        self._stopping = False
        self._task = asyncio.create_task(self.run_forever(), name=f"yingji-deliveries-{self.name}")

    async def stop(self) -> None:
        self._stopping = True
        self._kick.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if _WORKERS.get(self.db) is self:
            del _WORKERS[self.db]
        for plugin in (self._channels or {}).values():
            with contextlib.suppress(Exception):
                await plugin.close()

    async def run_forever(self) -> None:
        while not self._stopping:
            try:
                done = await self.run_due()
                if done:
                    continue
                wait = await self._seconds_to_next_due()
            except Exception:
                log.exception("delivery pass failed")
                wait = self.settings.notify_poll_seconds
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), timeout=wait)
            self._kick.clear()

    async def _seconds_to_next_due(self) -> float:
        async with self.db.unit_of_work(readonly=True) as session:
            next_due = await session.scalar(
                select(func.min(Delivery.due_at)).where(
                    Delivery.state == DeliveryState.QUEUED.value
                )
            )
            next_lease = await session.scalar(
                select(func.min(Delivery.lease_until)).where(
                    Delivery.state == DeliveryState.SENDING.value
                )
            )
        poll = self.settings.notify_poll_seconds
        soonest = [clock.as_utc(t) for t in (next_due, next_lease) if t is not None]
        if not soonest:
            return poll
        return min(poll, clock.wall_seconds(min(soonest) - clock.now()))

    async def run_due(self) -> int:
        """Deliver what is due now (a batch of each kind); returns how many were handled."""
        done = await self.deliver_app()
        # while a large in-app backlog drains and the other channels had nothing, look for
        # them only every few batches: finding none means reading past every queued in-app row
        backlog = done >= self.settings.notify_app_batch
        if backlog and self._others_idle and self._skipped < 4:
            self._skipped += 1
        else:
            sent = await self.send_due()
            self._others_idle, self._skipped = sent == 0, 0
            done += sent
        await self._tell_progress(idle=done == 0)
        return done

    # -- in-app, in the database --------------------------------------------------------------

    async def deliver_app(self) -> int:
        now = clock.now()
        async with self.db.unit_of_work() as session:
            # one statement takes the batch: the due rows locked (skipping those another
            # worker holds) and marked delivered, their columns returned
            due = (
                select(Delivery.id)
                .where(
                    Delivery.state == DeliveryState.QUEUED.value,
                    Delivery.due_at <= now,
                    Delivery.channel == Channel.APP.value,
                )
                .order_by(Delivery.due_at)
                .limit(self.settings.notify_app_batch)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            rows = (
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(due))
                    .values(
                        state=DeliveryState.DELIVERED.value,
                        tries=Delivery.tries + 1,
                        sent_at=now,
                        delivered_at=now,
                    )
                    .returning(
                        Delivery.id, Delivery.message_id, Delivery.user_id, Delivery.subject_id
                    )
                    .execution_options(synchronize_session=False)
                )
            ).all()
            if not rows:
                return 0
            # an account removed since the enqueue (user_id set null): no in-app, next channel
            orphans = [r.id for r in rows if r.user_id is None]
            rows = [r for r in rows if r.user_id is not None]
            for orphan in orphans:
                row = await session.get(Delivery, orphan)
                if row is not None:
                    row.state, row.error = DeliveryState.FAILED.value, "no_account"
                    row.delivered_at = None
                    await session.flush()
                    await _fall_back(session, row, "no_account")
            messages = await self._messages.load(session, {r.message_id for r in rows})
            notes: list[tuple[Any, ...]] = []
            told: dict[uuid.UUID, list[str]] = {}
            said = {m: render.app_notice(c[3]) for m, c in messages.items()}
            for r in rows:
                kind, subject_type, subject_id, content = messages[r.message_id]
                title, body = said[r.message_id]
                notes.append(
                    (
                        new_id(),
                        r.user_id,
                        kind[:60],
                        title,
                        body,
                        subject_type,
                        subject_id,
                        f"delivery:{r.id}",
                        now,
                    )
                )
                told.setdefault(r.message_id, []).append(str(r.user_id))
                self._touch(r.subject_id, content)
            await bulk_insert(session, _NOTIFICATION, _NOTIFICATION_COLUMNS, notes)
            for message_id, user_ids in told.items():
                kind, subject_type, subject_id, content = messages[message_id]
                title, _body = render.app_notice(content)
                await events.emit(
                    session,
                    type="notify.created",
                    subject_type=subject_type,
                    subject_id=subject_id,
                    payload={"kind": kind, "title": title},
                    scope=EventScope(user_ids=tuple(dict.fromkeys(user_ids))),
                )
        self.sent += len(rows)
        return len(rows)

    # -- every other channel: claim, send, mark -----------------------------------------------

    async def _claim(self) -> tuple[list[_Claimed], uuid.UUID]:
        now = clock.now()
        token = uuid.uuid4()
        batch = self.settings.notify_batch
        cols = (Delivery.id,)
        async with self.db.unit_of_work() as session:
            expired = (
                select(*cols)
                .where(
                    Delivery.state == DeliveryState.SENDING.value,
                    Delivery.lease_until < now,
                )
                .order_by(Delivery.due_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
            ids = list((await session.scalars(expired)).all())
            if len(ids) < batch:
                pending = (
                    select(*cols)
                    .where(
                        Delivery.state == DeliveryState.QUEUED.value,
                        Delivery.due_at <= now,
                        Delivery.channel != Channel.APP.value,
                    )
                    .order_by(Delivery.due_at)
                    .limit(batch - len(ids))
                    .with_for_update(skip_locked=True)
                )
                ids += (await session.scalars(pending)).all()
            if not ids:
                return [], token
            rows = (
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(ids))
                    .values(
                        state=DeliveryState.SENDING.value,
                        claimed_by=self.name,
                        claim_token=token,
                        # wall time, like a timer's lease: a fast drill clock must not expire it
                        lease_until=now + self.lease * clock.get_clock().rate,
                        tries=Delivery.tries + 1,
                    )
                    .returning(
                        Delivery.id,
                        Delivery.message_id,
                        Delivery.subject_id,
                        Delivery.recipient_ref,
                        Delivery.step,
                        Delivery.name,
                        Delivery.channel,
                        Delivery.address,
                        Delivery.ack_token,
                        Delivery.tries,
                    )
                    .execution_options(synchronize_session=False)
                )
            ).all()
        claimed = [
            _Claimed(
                id=r.id,
                message_id=r.message_id,
                subject_id=r.subject_id,
                recipient_ref=r.recipient_ref,
                step=r.step,
                name=r.name,
                channel=r.channel,
                address=r.address,
                ack_token=r.ack_token,
                tries=r.tries,
            )
            for r in rows
        ]
        claimed.sort(key=lambda c: c.id)
        return claimed, token

    async def send_due(self) -> int:
        claimed, token = await self._claim()
        if not claimed:
            return 0
        async with self.db.unit_of_work(readonly=True) as session:
            await self._messages.load(session, {c.message_id for c in claimed})
        limit = asyncio.Semaphore(self.concurrency)

        async def one(item: _Claimed) -> _Outcome:
            async with limit:
                rate = self.rates.get(item.channel)
                if rate is not None:
                    await rate.wait()
                return await self._send_one(item)

        for start in range(0, len(claimed), self.mark_chunk):
            chunk = claimed[start : start + self.mark_chunk]
            outcomes = await asyncio.gather(*(one(item) for item in chunk))
            await self._mark(outcomes, token)
        return len(claimed)

    async def _send_one(self, item: _Claimed) -> _Outcome:
        """Hand one claimed delivery to its channel's plugin; never raises."""
        known = self._messages.known.get(item.message_id)
        if known is None:
            async with self.db.unit_of_work(readonly=True) as session:
                known = (await self._messages.load(session, {item.message_id}))[item.message_id]
        kind, _subject_type, _subject_id, content = known
        self._touch(item.subject_id, content)
        outgoing = Outgoing(
            delivery_id=item.id,
            channel=item.channel,
            address=item.address,
            name=item.name,
            recipient_ref=item.recipient_ref,
            subject_id=item.subject_id,
            step=item.step,
            kind=kind,
            content=content,
            ack_url=render.ack_link(content, item.ack_token),
        )
        plugin = self.channels.get(item.channel)
        try:
            if plugin is None:
                raise ChannelError("channel_not_configured", permanent=True)
            return _Outcome(item, sent=await plugin.send(outgoing))
        except ChannelError as exc:
            return _Outcome(item, error=exc)
        except Exception as exc:  # a plugin's bug must not stop the others
            log.exception("channel %s failed on delivery %s", item.channel, item.id)
            return _Outcome(item, error=ChannelError("send_error", detail=repr(exc)[:200]))

    def _backoff(self, tries: int) -> timedelta:
        seconds = min(self.settings.notify_retry_seconds * 2 ** max(tries - 1, 0), 3600.0)
        return timedelta(seconds=seconds) * clock.get_clock().rate

    async def _mark(self, outcomes: Sequence[_Outcome], token: uuid.UUID) -> None:
        now = clock.now()
        async with self.db.unit_of_work() as session:
            for outcome in outcomes:
                item = outcome.item
                guard = (
                    Delivery.id == item.id,
                    Delivery.claim_token == token,
                    Delivery.state == DeliveryState.SENDING.value,
                )
                if outcome.sent is not None:
                    sent = outcome.sent
                    state = DeliveryState.DELIVERED if sent.delivered else DeliveryState.SENT
                    await session.execute(
                        update(Delivery)
                        .where(*guard)
                        .values(
                            state=state.value,
                            sent_at=now,
                            delivered_at=now if sent.delivered else None,
                            gateway_ref=sent.gateway_ref[:200] if sent.gateway_ref else None,
                            error=None,
                            lease_until=None,
                        )
                        .execution_options(synchronize_session=False)
                    )
                    self.sent += 1
                    continue
                error = outcome.error or ChannelError("send_error")
                final = error.permanent or item.tries >= self.settings.notify_max_tries
                if not final:
                    await session.execute(
                        update(Delivery)
                        .where(*guard)
                        .values(
                            state=DeliveryState.QUEUED.value,
                            due_at=now + self._backoff(item.tries),
                            error=error.code[:200],
                            lease_until=None,
                            claim_token=None,
                        )
                        .execution_options(synchronize_session=False)
                    )
                    continue
                row = await session.scalar(select(Delivery).where(*guard).with_for_update())
                if row is None:  # lost the claim (a receipt or another worker got there)
                    continue
                row.state = DeliveryState.FAILED.value
                row.error = error.code[:200]
                row.lease_until = None
                await session.flush()
                await _fall_back(session, row, row.error)

    # -- progress ------------------------------------------------------------------------------

    def _touch(self, subject_id: str, content: Mapping[str, Any]) -> None:
        progress = self._progress.get(subject_id)
        if progress is None:
            path = content.get("scope_path")
            progress = self._progress[subject_id] = _Progress(
                path if isinstance(path, str) and path else None
            )
        progress.dirty = True

    async def _tell_progress(self, *, idle: bool) -> None:
        now = time.monotonic()
        due = [
            (s, p)
            for s, p in self._progress.items()
            if p.dirty and (idle or now - p.told_at >= 1.0)
        ]
        if not due:
            return
        async with self.db.unit_of_work() as session:
            for subject_id, progress in due:
                await events.emit(
                    session,
                    type="notify.deliveries.progress",
                    subject_type="delivery",
                    subject_id=subject_id,
                    payload={
                        "subject_id": subject_id,
                        "counts": await counts(session, subject_id=subject_id),
                    },
                    scope=EventScope(division_path=progress.scope_path),
                )
                progress.dirty = False
                progress.told_at = now
        if idle:
            self._progress = {s: p for s, p in self._progress.items() if p.dirty}


def sender(db: Database, settings: object) -> DeliveryWorker:
    """The notify domain's background worker (``Domain.workers``)."""
    if not isinstance(settings, Settings):
        raise TypeError("the delivery worker needs yingji.settings.Settings")
    return DeliveryWorker(db, settings)
