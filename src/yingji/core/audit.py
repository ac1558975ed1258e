"""The audit log (痕迹化管理): append-only, keyed hash chain, head published outside the database.

Every change of state writes one row in the transaction that made it: who, what, when, from which
address, before and after, and the area (division path) of its subject, which scopes who may read
it. Each row's ``hash`` is an HMAC-SHA256, under a key held outside the database (the settings),
of its content and the previous row's hash: altering or removing a row breaks the chain at that
row, and someone with the database but not the key cannot re-compute the chain after an edit.
Database triggers (created by the migration) refuse UPDATE and DELETE on the table.

Rows written before the chain was keyed carry a plain SHA-256 and no key id. They verify as a
prefix only: before the first keyed row (whose MAC covers the last of them) and at or below the
last published head.

Removing rows at the very end leaves a shorter chain that is intact, so the head (id, hash, time,
MAC) is published periodically outside the database (:func:`publish_head`, a durable timer): an
append-only JSON-lines file and the log. :func:`verify` checks the chain against the last
published head: a head that is gone or differs means the tail was deleted or the log rewritten.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import os
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import BigInteger, Integer, String, Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from yingji.core import clock, timers
from yingji.core.db import (
    Base,
    Database,
    JSONType,
    UTCDateTime,
    enqueue_journal,
    journal_row,
    savepoint,
)
from yingji.core.security import Scope
from yingji.settings import Settings, get_settings

log = logging.getLogger(__name__)

BigId = BigInteger().with_variant(Integer(), "sqlite")
GENESIS = "0" * 64


@dataclass(frozen=True)
class RequestContext:
    """Where a change came from: set per request (or job) and read by :func:`record`."""

    actor_id: str | None = None
    actor_name: str | None = None
    #: the person's name as people read it (the account's display name), for the timeline
    actor_display: str | None = None
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
    # the subject's area: who may read the row (None: administrators of everything only)
    division_path: Mapped[str | None] = mapped_column(String(200), index=True)
    # which key signed the row (None: written before the chain was keyed, plain SHA-256)
    key_id: Mapped[str | None] = mapped_column(String(16))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


_TABLE = cast(Table, AuditEntry.__table__)


# --- the key and where the head is published ---------------------------------------------------


@dataclass(frozen=True)
class ChainKey:
    """The secret the chain's MACs are made with; only its id is ever stored."""

    secret: bytes

    @property
    def key_id(self) -> str:
        return hmac.new(self.secret, b"yingji-audit-key-id", hashlib.sha256).hexdigest()[:12]

    def mac(self, blob: bytes) -> str:
        return hmac.new(self.secret, blob, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ChainConfig:
    key: ChainKey
    anchor_file: Path
    anchor_every: timedelta


def config_from(settings: Settings) -> ChainConfig:
    return ChainConfig(
        key=ChainKey(settings.audit_chain_key),
        anchor_file=settings.audit_anchor_path,
        anchor_every=timedelta(minutes=settings.audit_anchor_minutes),
    )


_config: ChainConfig | None = None


def configure(config: ChainConfig | None) -> ChainConfig | None:
    """Set the key and anchor of this process (the app and the command line do, from their
    settings); returns the previous configuration. Unset, they come from the environment."""
    global _config  # noqa: PLW0603 - one configuration per process, like the clock
    previous, _config = _config, config
    return previous


def configuration() -> ChainConfig:
    global _config  # noqa: PLW0603 - one configuration per process
    if _config is None:
        _config = config_from(get_settings())
    return _config


# --- writing -------------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (datetimes and ids become strings, keys sorted)."""
    return json.loads(json.dumps(value, default=str, sort_keys=True, ensure_ascii=False))


def _blob(content: dict[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _content(entry: AuditEntry) -> dict[str, Any]:
    return {
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


def legacy_hash(entry: AuditEntry) -> str:
    """The plain SHA-256 of a row written before the chain was keyed."""
    return hashlib.sha256(_blob(_content(entry))).hexdigest()


def entry_hash(entry: AuditEntry, key: ChainKey | None = None) -> str:
    """The hash ``entry`` must carry: its MAC under ``key`` (default: this process's key) over
    its content, area, key id and the previous row's hash; a plain SHA-256 for an unkeyed row."""
    if entry.key_id is None:
        return legacy_hash(entry)
    content = {**_content(entry), "division_path": entry.division_path, "key_id": entry.key_id}
    return (key or configuration().key).mac(_blob(content))


_CHAIN_TAIL = "audit_chain_tail"


async def record(
    session: AsyncSession,
    *,
    action: str,
    subject_type: str,
    subject_id: object,
    area: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    context: RequestContext | None = None,
) -> None:
    """Append one audit row to the caller's transaction (written, chained, just before commit).

    ``area`` is the division path of the subject (an incident's, an order's, a report's, a
    unit's, an account's division or its unit's): principals whose scope covers it read the row.
    None for what belongs to no area (shared tables, unknown user names): only an administrator
    of everything reads it."""
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
        division_path=area,
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
        key = configuration().key
        entry.id = tail[0] + 1
        entry.prev_hash = tail[1]
        entry.key_id = key.key_id
        entry.hash = entry_hash(entry, key)
        journal_row(session, _TABLE, {c.key: getattr(entry, c.key) for c in _TABLE.columns})
        session.info[_CHAIN_TAIL] = (entry.id, entry.hash)

    enqueue_journal(session, write)


# --- the published head --------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """A published head of the chain: its last row's id, hash and time, when it was published,
    and a MAC over all of it under the chain's key (so no one without the key forges one)."""

    id: int
    hash: str
    at: str | None
    published_at: str
    key_id: str
    mac: str = ""

    def signed_content(self) -> bytes:
        return _blob({k: v for k, v in asdict(self).items() if k != "mac"})

    def to_line(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_line(cls, line: str) -> Anchor:
        data = json.loads(line)
        return cls(
            id=int(data["id"]),
            hash=str(data["hash"]),
            at=None if data.get("at") is None else str(data["at"]),
            published_at=str(data["published_at"]),
            key_id=str(data["key_id"]),
            mac=str(data["mac"]),
        )


class AnchorUnreadable(Exception):
    """The anchor file exists but its last line is not a published head."""


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


async def publish_head(session: AsyncSession, *, config: ChainConfig | None = None) -> Anchor:
    """Append the chain's head (what is committed now) to the anchor file, fsynced, and log it."""
    config = config or configuration()
    last = (
        await session.execute(
            select(AuditEntry.id, AuditEntry.hash, AuditEntry.at)
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
    ).first()
    unsigned = Anchor(
        id=last.id if last else 0,
        hash=last.hash if last else GENESIS,
        at=clock.as_utc(last.at).isoformat(timespec="microseconds") if last else None,
        published_at=clock.now().isoformat(timespec="microseconds"),
        key_id=config.key.key_id,
    )
    anchor = Anchor(**{**asdict(unsigned), "mac": config.key.mac(unsigned.signed_content())})
    await asyncio.to_thread(_append_line, config.anchor_file, anchor.to_line())
    log.info(
        "audit head published: row %s, hash %s",
        anchor.id,
        anchor.hash,
        extra={"audit_anchor": asdict(anchor), "anchor_file": str(config.anchor_file)},
    )
    return anchor


_ANCHOR_TAIL_BYTES = 64 * 1024  # a line is ~300 bytes: the file's end holds the last ones


def read_last_anchor(path: Path) -> Anchor | None:
    """The last head published to ``path``; None if nothing was published yet. A last line cut
    short by a crash while it was written (no newline at its end) is passed over."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - _ANCHOR_TAIL_BYTES))
            tail = file.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AnchorUnreadable(f"the anchor file {path} cannot be read: {exc}") from exc
    lines = tail.split("\n")
    complete = [line for line in lines[:-1] if line.strip()]  # the part after the last newline
    if not complete:
        return None
    try:
        return Anchor.from_line(complete[-1])
    except (ValueError, KeyError, TypeError) as exc:
        raise AnchorUnreadable(f"the last line of the anchor file {path} is not a head") from exc


ANCHOR_TIMER = "audit.anchor"
ANCHOR_SUBJECT = "audit_log"
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _slot(moment: datetime, every: timedelta) -> int:
    return math.floor((clock.as_utc(moment) - _EPOCH) / every)


async def _schedule_anchor(session: AsyncSession, *, slot: int, due_at: datetime) -> None:
    """The anchor timer of ``slot``, unless one is already open (another process just scheduled
    it): the key is the slot, so processes that start together converge on one timer."""
    try:
        async with savepoint(session):
            await timers.schedule(
                session, kind=ANCHOR_TIMER, subject=ANCHOR_SUBJECT, key=str(slot), due_at=due_at
            )
    except IntegrityError:
        log.debug("audit anchor timer of slot %s is already open", slot)


async def publish_on_time(session: AsyncSession, _firing: timers.TimerFiring) -> None:
    """Publish the head, then schedule the next publication (at the next whole interval)."""
    config = configuration()
    await publish_head(session, config=config)
    slot = _slot(clock.now(), config.anchor_every) + 1
    await _schedule_anchor(session, slot=slot, due_at=_EPOCH + slot * config.anchor_every)


async def ensure_anchor_timer(db: Database) -> None:
    """At the start of whatever runs timers: if no publication is scheduled, schedule one now
    (idempotent; the first publication after an upgrade thus happens at once)."""
    async with db.unit_of_work() as session:
        scheduled = await session.scalar(
            select(timers.Timer.id)
            .where(
                timers.Timer.kind == ANCHOR_TIMER,
                timers.Timer.subject == ANCHOR_SUBJECT,
                timers.Timer.state.in_(timers.OPEN_STATES),
            )
            .limit(1)
        )
        if scheduled is None:
            now = clock.now()
            await _schedule_anchor(
                session, slot=_slot(now, configuration().anchor_every), due_at=now
            )


# --- verifying -----------------------------------------------------------------------------------


def in_area(scope: Scope, division_path: str | None) -> bool:
    """Whether a principal of ``scope`` reads a row of this area (as :func:`list_entries`)."""
    if scope.everything:
        return True
    return bool(
        scope.division_path and division_path and division_path.startswith(scope.division_path)
    )


@dataclass(frozen=True)
class ChainBreak:
    entry_id: int
    code: str
    reason: str
    division_path: str | None = None  # the area of the row at fault; None if it has none or is gone


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    first_break: ChainBreak | None
    anchor: Anchor | None = None
    checked_in_area: int = 0  # of ``checked``, the rows in the scope verify was given

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


def _anchor_fault(anchor: Anchor, key: ChainKey) -> ChainBreak | None:
    if anchor.key_id != key.key_id:
        return ChainBreak(
            anchor.id,
            "anchor_other_key",
            f"the published head {anchor.id} was signed with another key (key id "
            f"{anchor.key_id}; this server's key is {key.key_id})",
        )
    if not hmac.compare_digest(anchor.mac, key.mac(anchor.signed_content())):
        return ChainBreak(
            anchor.id,
            "anchor_forged",
            f"the published head {anchor.id} does not carry this key's MAC: the anchor file "
            "was altered",
        )
    return None


def _row_fault(
    entry: AuditEntry, key: ChainKey, keyed_before: bool, anchor: Anchor | None
) -> ChainBreak | None:
    """What is wrong with ``entry`` itself (its link to the row before is checked by the walk)."""
    where = entry.division_path
    if entry.key_id is None:
        if keyed_before:
            return ChainBreak(
                entry.id,
                "unkeyed_after_keyed",
                "an unkeyed row after keyed rows (rows are unkeyed only before the chain was "
                "keyed)",
                where,
            )
        if anchor is not None and entry.id > anchor.id:
            return ChainBreak(
                entry.id,
                "unkeyed_after_anchor",
                f"an unkeyed row after the published head {anchor.id}",
                where,
            )
        if entry.division_path is not None or legacy_hash(entry) != entry.hash:
            return ChainBreak(
                entry.id, "row_altered", "content does not match its hash (the row was altered)"
            )
        return None
    if entry.key_id != key.key_id:
        return ChainBreak(
            entry.id,
            "other_key",
            f"signed with another key (key id {entry.key_id}; this server's key is {key.key_id})",
            where,
        )
    if not hmac.compare_digest(entry.hash, entry_hash(entry, key)):
        return ChainBreak(
            entry.id,
            "row_altered",
            "content does not match its MAC under this server's key (the row was altered, or "
            "its hash re-computed without the key)",
            where,
        )
    return None


async def verify(
    session: AsyncSession,
    *,
    anchor_file: Path | None = None,
    scope: Scope | None = None,
    key: ChainKey | None = None,
) -> VerifyResult:
    """Walk the chain from the first row; report the first row that does not follow, or the
    published head (the last line of ``anchor_file``) if the chain no longer reaches it or
    differs there. ``checked_in_area`` counts the rows checked that ``scope`` reads."""
    key = key or configuration().key
    try:
        anchor = read_last_anchor(anchor_file) if anchor_file is not None else None
    except AnchorUnreadable as exc:
        return VerifyResult(0, ChainBreak(0, "anchor_unreadable", str(exc)))
    if anchor is not None and (fault := _anchor_fault(anchor, key)) is not None:
        return VerifyResult(0, fault, anchor)
    expected_id, prev_hash, checked, in_scope, keyed = 1, GENESIS, 0, 0, False

    def result(fault: ChainBreak | None) -> VerifyResult:
        return VerifyResult(checked, fault, anchor, in_scope)

    async for entry in _entries(session):
        if entry.id != expected_id:
            return result(
                ChainBreak(
                    expected_id,
                    "row_missing",
                    f"row {expected_id} is missing (next row is {entry.id})",
                )
            )
        if entry.prev_hash != prev_hash:
            return result(
                ChainBreak(
                    entry.id,
                    "prev_hash_mismatch",
                    "prev_hash does not match the hash of the row before",
                    entry.division_path,
                )
            )
        if (fault := _row_fault(entry, key, keyed, anchor)) is not None:
            return result(fault)
        if anchor is not None and entry.id == anchor.id and entry.hash != anchor.hash:
            return result(
                ChainBreak(
                    entry.id,
                    "anchor_mismatch",
                    f"the published head {anchor.id} does not match this row: the log was "
                    "rewritten",
                    entry.division_path,
                )
            )
        checked += 1
        in_scope += 1 if scope is None or in_area(scope, entry.division_path) else 0
        keyed = keyed or entry.key_id is not None
        expected_id, prev_hash = entry.id + 1, entry.hash
    if anchor is not None and anchor.id >= expected_id:
        return result(
            ChainBreak(
                anchor.id,
                "anchor_missing",
                f"the published head {anchor.id} is missing: the tail was deleted (the log "
                f"now ends at row {expected_id - 1})",
            )
        )
    return result(None)


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """A plain dict of ``fields`` of ``obj``, for ``before``/``after``."""
    snap: dict[str, Any] = jsonable({name: getattr(obj, name) for name in fields})
    return snap


async def list_entries(
    session: AsyncSession,
    *,
    scope: Scope,
    subject_type: str | None = None,
    subject_id: str | None = None,
    action: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[AuditEntry], int]:
    """Rows ``scope`` reads (those whose area lies in its division subtree; every row for an
    administrator of everything), newest first."""
    stmt = select(AuditEntry).where(scope.clause(path_column=AuditEntry.division_path))
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
