"""Engine, sessions and the unit of work; the declarative base and portable column types.

One unit of work per request or job: services ``flush``, the boundary (:class:`UnitOfWork`)
commits or rolls back, then runs the after-commit hooks (waking the relay and the timer worker).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import JSON, DateTime, MetaData, Table, event, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, CursorResult, Result, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, make_transient_to_detached
from sqlalchemy.sql.schema import ScalarElementColumnDefault
from sqlalchemy.types import TypeDecorator, TypeEngine

from yingji.core.clock import as_utc

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which stores naive text) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use yingji.core.clock")
        moment = as_utc(value)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Any,  # noqa: ARG002 - TypeDecorator's signature
    ) -> datetime | None:
        return None if value is None else as_utc(value)


JSONType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")

AfterCommit = Callable[[], Awaitable[None] | None]
JournalWriter = Callable[[AsyncSession], Awaitable[None]]
T = TypeVar("T")


class Database:
    """The process's engine and session factory."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        sqlite_synchronous: str = "FULL",
        pool_size: int = 20,
    ) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "sqlite":
            path = sqlite_file(url)
            if path is not None and not make_url(url).query.get("uri"):
                path.parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            # A fixed pool: requests beyond it wait, in order, for a connection. Overflow
            # connections are closed when returned, so under load they were opened again and
            # again (20-35 new sessions a second at 64 concurrent intake requests), each a
            # PostgreSQL backend to start and every statement to prepare anew.
            kwargs.update(pool_size=pool_size, max_overflow=0, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine, sqlite_synchronous)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        # woken after a commit that wrote outbox rows (the relay), never after one that did not:
        # the relay's own cursor commits must not wake it again
        self.outbox_hooks: list[AfterCommit] = []
        self.timer_worker: Any = None  # the in-process TimerWorker, woken after commits
        # reference data read often and changed rarely (categories, gazetteer), per process
        self.cache: dict[str, tuple[float, Any]] = {}
        # SQLite takes one writer at a time; queueing writers here instead of in SQLite's busy
        # handler (which sleeps and retries) keeps latency flat under load.
        self.write_lock = asyncio.Lock() if self.dialect == "sqlite" else None

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def unit_of_work(self, *, readonly: bool = False) -> UnitOfWork:
        return UnitOfWork(self, readonly=readonly)

    async def probe_write(self) -> None:
        """Raise ``DBAPIError`` unless the database takes a write now (it may be read-only: a
        PostgreSQL standby or ``default_transaction_read_only``, an SQLite file or disk that
        turned read-only). An UPDATE that changes nothing, in a transaction rolled back."""
        if self.write_lock is not None:
            async with self.write_lock:
                await self._probe_write()
        else:
            await self._probe_write()

    async def _probe_write(self) -> None:
        async with self.engine.connect() as connection:
            transaction = await connection.begin()
            try:
                await connection.execute(_PROBE_WRITE)
            finally:
                await transaction.rollback()

    async def dispose(self) -> None:
        await self.engine.dispose()


_PROBE_WRITE = text("UPDATE alembic_version SET version_num = version_num")


def sqlite_file(url: str) -> Path | None:
    """The file an SQLite URL names (``file:`` URIs included); None for memory or other
    databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if parsed.query.get("uri") and database.startswith("file:"):
        database = database[5:]
    if not database or database == ":memory:" or "mode=memory" in str(parsed.query):
        return None
    return Path(database)


#: PostgreSQL SQLSTATEs of a database that cannot take the request now: read-only (a standby,
#: ``default_transaction_read_only``), connection lost, shutting down, out of disk or memory,
#: I/O error. By class (first two characters) or in full.
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P", "58", "25006")
#: SQLite result codes alike: read-only, I/O error, disk full, cannot open
_UNAVAILABLE_SQLITE = ("SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CANTOPEN")
#: PostgreSQL refuses a NUL character in text (22021) and ``\u0000`` in JSONB (22P05)
_NUL_SQLSTATES = ("22021", "22P05")


def _sqlstate(exc: DBAPIError) -> str:
    orig = exc.orig
    return str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")


def database_unavailable(exc: DBAPIError) -> bool:
    """Whether ``exc`` says the database cannot serve now (rather than: this request is
    wrong, or the code is)."""
    if exc.connection_invalidated:
        return True
    state = _sqlstate(exc)
    if state:
        return state.startswith(_UNAVAILABLE_SQLSTATES)
    name = str(getattr(exc.orig, "sqlite_errorname", ""))
    return name.startswith(_UNAVAILABLE_SQLITE)


def refused_nul_character(exc: DBAPIError) -> bool:
    """Whether the database refused a NUL character in the request's text."""
    if _sqlstate(exc) in _NUL_SQLSTATES:
        return True
    message = str(exc.orig)
    return "invalid byte sequence" in message and "0x00" in message


def _configure_sqlite(engine: AsyncEngine, synchronous: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


class UnitOfWork:
    """One session, one transaction: commit on success, roll back on error, then after-commit."""

    def __init__(self, db: Database, *, readonly: bool = False) -> None:
        self.db = db
        self.readonly = readonly
        self.session: AsyncSession | None = None
        self._locked = False

    async def __aenter__(self) -> AsyncSession:
        if self.db.write_lock is not None and not self.readonly:
            await self.db.write_lock.acquire()
            self._locked = True
        options = {"sqlite_begin": "DEFERRED"} if self.readonly else {}
        self.session = self.db.sessions()
        if options and self.db.dialect == "sqlite":
            await self.session.connection(execution_options=options)
        self.session.info["db"] = self.db
        self.session.info["after_commit"] = []
        return self.session

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        session = self.session
        if session is None:
            raise RuntimeError("unit of work exited without entering")
        try:
            if exc_type is not None:
                await session.rollback()
            elif not self.readonly:
                await _commit(session)
            elif session.info.get("journal"):
                raise RuntimeError("a read-only unit of work cannot write the audit log or outbox")
            # a read-only unit ends with close(): its transaction is released, and what it
            # loaded stays readable (a rollback would expire it)
        finally:
            await session.close()
            if self._locked and self.db.write_lock is not None:
                self.db.write_lock.release()
                self._locked = False
        if exc_type is None:
            hooks = list(session.info.get("after_commit", []))
            if session.info.get("wrote_outbox"):
                hooks += self.db.outbox_hooks
            for hook in hooks:
                result = hook()
                if asyncio.iscoroutine(result):
                    await result


async def _commit(session: AsyncSession) -> None:
    """Write the journal (audit, outbox) and commit. A COMMIT the database refuses (SQLite: a
    deferred foreign key) leaves the transaction open there: it is rolled back, or the
    connection's next BEGIN would fail."""
    await write_journal(session)
    try:
        await session.commit()
    except BaseException:
        await session.rollback()
        raise


def after_commit(session: AsyncSession, hook: AfterCommit) -> None:
    """Run ``hook`` once the unit of work that owns ``session`` has committed."""
    hooks: list[AfterCommit] = session.info.setdefault("after_commit", [])
    if hook not in hooks:
        hooks.append(hook)


def database_of(session: AsyncSession) -> Database:
    db = session.info.get("db")
    if not isinstance(db, Database):
        raise RuntimeError("session was not opened by a Yingji unit of work")
    return db


def dialect_of(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def rows_affected(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched (``session.execute`` types a plain Result)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


def blank_row(table: Table) -> dict[str, Any]:
    """A new row of ``table`` before its values: each column's plain default, else None (for
    rows inserted with Core statements, which do not apply the ORM's defaults to given keys)."""
    return {
        c.key: c.default.arg if isinstance(c.default, ScalarElementColumnDefault) else None
        for c in table.columns
    }


def in_list(values: Sequence[T]) -> list[T]:
    """``values`` for an expanding ``IN`` parameter, padded to a power of two with its last
    value (duplicates in ``IN`` change nothing). Each list length renders its own SQL, and on
    PostgreSQL its own prepared statement per connection: lengths 1..64 are 7 statements, not
    64, and a connection's statement cache is not churned."""
    padded = list(dict.fromkeys(values))
    if padded:
        padded += [padded[-1]] * ((1 << (len(padded) - 1).bit_length()) - len(padded))
    return padded


class InsertUnlessTaken:
    """``INSERT … ON CONFLICT (unique) DO NOTHING RETURNING`` the primary key, of a new ORM
    entity's row: one statement per dialect, built once."""

    def __init__(self, table: Table, unique: list[str]) -> None:
        self._columns = [c.key for c in table.columns]
        key = list(table.primary_key.columns)
        self._statements = {
            name: dialect.insert(table)
            .on_conflict_do_nothing(index_elements=unique)
            .returning(*key)
            for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
        }

    async def __call__(self, session: AsyncSession, entity: Any) -> bool:
        """Insert ``entity`` (not yet in a session): True when stored, and the session then
        tracks it as loaded; False when another row already has its ``unique`` values
        (nothing written)."""
        row = {key: getattr(entity, key) for key in self._columns}
        if (await session.execute(self._statements[dialect_of(session)], row)).first() is None:
            return False
        make_transient_to_detached(entity)
        session.add(entity)
        return True


def enqueue_journal(session: AsyncSession, writer: JournalWriter) -> None:
    """Queue an audit or outbox write for the end of the transaction.

    The ordered journals (audit hash chain, outbox) are written just before commit, under the
    journal lock, so a transaction holds that lock only for its last inserts and its commit —
    not while it matches, computes and waits (docs/decisions/0006).
    """
    session.info.setdefault("journal", []).append(writer)


def journal_row(session: AsyncSession, table: Table, row: dict[str, Any]) -> None:
    """From a journal writer: insert ``row`` into ``table`` with the transaction's other rows
    of that table, in one statement, in the order they were given."""
    pending: dict[Table, list[dict[str, Any]]] = session.info.setdefault("journal_rows", {})
    pending.setdefault(table, []).append(row)


async def write_journal(session: AsyncSession) -> None:
    writers: list[JournalWriter] = session.info.pop("journal", [])
    if not writers:
        return
    session.info.pop("audit_chain_tail", None)  # read again under the lock (core.audit)
    await lock_journal(session)
    session.info.pop("journal_rows", None)
    for writer in writers:
        await writer(session)
    pending: dict[Table, list[dict[str, Any]]] = session.info.pop("journal_rows", {})
    for table, rows in pending.items():
        await session.execute(insert(table), rows)


@asynccontextmanager
async def savepoint(session: AsyncSession) -> AsyncIterator[None]:
    """A nested transaction whose queued journal writes are dropped if it rolls back."""
    queued = len(session.info.get("journal", []))
    try:
        async with session.begin_nested():
            yield
    except BaseException:
        del session.info.setdefault("journal", [])[queued:]
        raise


_LOCK_JOURNAL = text("SELECT tail_id, tail_hash FROM yingji_lock_journal()")


async def lock_journal(session: AsyncSession) -> None:
    """Serialise writers of the ordered journals (outbox, audit) until this transaction ends.

    On PostgreSQL an advisory transaction lock makes sequence order equal commit order, which the
    relay and the audit hash chain rely on. SQLite already allows one writer at a time.

    The same round trip reads the audit chain's tail under the lock (``yingji_lock_journal()``,
    migration 3f7a1c9e5d20), which ``core.audit`` chains this transaction's first row to.
    """
    if session.info.get("journal_locked") or dialect_of(session) != "postgresql":
        return
    tail = (await session.execute(_LOCK_JOURNAL)).first()
    session.info["journal_locked"] = True
    if tail is not None:  # an empty log: core.audit starts the chain
        session.info["audit_chain_tail"] = (int(tail.tail_id), str(tail.tail_hash))


__all__ = [
    "Base",
    "Database",
    "JSONType",
    "UTCDateTime",
    "InsertUnlessTaken",
    "UnitOfWork",
    "after_commit",
    "blank_row",
    "database_of",
    "database_unavailable",
    "refused_nul_character",
    "sqlite_file",
    "enqueue_journal",
    "in_list",
    "journal_row",
    "lock_journal",
    "rows_affected",
    "savepoint",
    "write_journal",
]
