from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from yingji.cli import app as cli
from yingji.core import audit
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.settings import Settings


async def write_entries(db: Database, n: int) -> None:
    for i in range(n):
        async with db.unit_of_work() as session:
            await audit.record(
                session,
                action="test.changed",
                subject_type="thing",
                subject_id=i,
                area=None,
                before={"v": i},
                after={"v": i + 1},
                context=audit.RequestContext("u1", "alice", "10.1.2.3", "req-1"),
            )


async def verify(db: Database) -> audit.VerifyResult:
    async with db.unit_of_work(readonly=True) as session:
        return await audit.verify(session)


async def drop_guard(db: Database) -> None:
    """What an attacker with database access does first: remove the append-only triggers."""
    async with db.unit_of_work() as session:
        if db.is_postgres:
            await session.execute(text("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log"))
        else:
            await session.execute(text("DROP TRIGGER audit_log_no_update"))
            await session.execute(text("DROP TRIGGER audit_log_no_delete"))


@pytest.fixture(autouse=True)
async def restore_guard(db: Database):
    """PostgreSQL test runs share one database: put the trigger back after each test."""
    yield
    if db.is_postgres:
        async with db.unit_of_work() as session:
            await session.execute(text("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log"))
            await session.execute(
                text(
                    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
                )
            )


async def test_intact_log_verifies(db: Database, clock) -> None:
    await write_entries(db, 5)
    result = await verify(db)
    assert result.intact and result.checked == 5


async def test_several_rows_of_one_transaction_chain_in_order_with_the_next_ones(
    db: Database, clock
) -> None:
    await write_entries(db, 1)
    async with db.unit_of_work() as session:
        for i in range(3):
            await audit.record(
                session, action="test.batch", subject_type="thing", subject_id=i, area=None
            )
    await write_entries(db, 2)
    result = await verify(db)
    assert result.intact and result.checked == 6
    async with db.unit_of_work(readonly=True) as session:
        rows = (await session.execute(text("SELECT id, action FROM audit_log ORDER BY id"))).all()
    assert [tuple(r) for r in rows] == [
        (1, "test.changed"),
        (2, "test.batch"),
        (3, "test.batch"),
        (4, "test.batch"),
        (5, "test.changed"),
        (6, "test.changed"),
    ]


async def test_audit_rows_refuse_update_and_delete(db: Database, clock) -> None:
    await write_entries(db, 1)
    for statement in ("UPDATE audit_log SET actor_name = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.unit_of_work() as session:
                await session.execute(text(statement))


async def test_altered_row_is_reported_as_the_first_broken_link(db: Database, clock) -> None:
    await write_entries(db, 6)
    await drop_guard(db)
    async with db.unit_of_work() as session:
        await session.execute(text("UPDATE audit_log SET actor_name = 'mallory' WHERE id = 4"))
    result = await verify(db)
    assert result.first_break is not None
    assert result.first_break.entry_id == 4 and "altered" in result.first_break.reason
    assert result.checked == 3


async def test_removed_row_is_reported(db: Database, clock) -> None:
    await write_entries(db, 6)
    await drop_guard(db)
    async with db.unit_of_work() as session:
        await session.execute(text("DELETE FROM audit_log WHERE id = 2"))
    result = await verify(db)
    assert result.first_break is not None and result.first_break.entry_id == 2
    assert "missing" in result.first_break.reason


async def test_rehashed_forgery_is_caught_at_the_next_row(db: Database, clock) -> None:
    """Altering a row and recomputing its own hash still breaks the link to the next row."""
    await write_entries(db, 4)
    await drop_guard(db)
    async with db.unit_of_work() as session:
        entry = await session.get(audit.AuditEntry, 2)
        assert entry is not None
        entry.after = {"v": 999}
        entry.hash = audit.entry_hash(entry)
    result = await verify(db)
    assert result.first_break is not None and result.first_break.entry_id == 3


def test_cli_audit_verify_exits_1_and_names_the_broken_entry(
    settings: Settings, cli_env: None, clock: ManualClock
) -> None:
    async def prepare() -> None:
        db = Database(settings.database_url)
        audit.configure(audit.config_from(settings))
        await write_entries(db, 3)
        await drop_guard(db)
        async with db.unit_of_work() as session:
            await session.execute(text("UPDATE audit_log SET ip = '1.1.1.1' WHERE id = 2"))
        await db.dispose()

    asyncio.run(prepare())
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert "entry 2" in result.output


async def test_transactions_writing_at_once_keep_one_intact_chain(db: Database, clock) -> None:
    """Each transaction chains its rows to the tail it reads under the journal lock, so rows
    written by transactions committing at once never fork the chain or reuse an id."""

    async def writer(n: int) -> None:
        for i in range(8):
            async with db.unit_of_work() as session:
                await audit.record(
                    session,
                    action="test.changed",
                    subject_type="thing",
                    subject_id=f"{n}-{i}",
                    area=None,
                )
                await asyncio.sleep(0.001 * ((n + i) % 3))  # commits interleave
                await audit.record(
                    session,
                    action="test.again",
                    subject_type="thing",
                    subject_id=f"{n}-{i}",
                    area=None,
                )

    await asyncio.gather(*(writer(n) for n in range(6)))
    result = await verify(db)
    assert result.intact and result.checked == 6 * 8 * 2
