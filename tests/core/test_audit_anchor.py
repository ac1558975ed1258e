"""The audit chain is keyed with a secret held outside the database and its head is published
outside it: an attacker with the database alone can neither cut the tail nor rewrite the log
and recompute the chain without verification saying so (`yingji audit verify`, `GET
/api/v1/audit/verify`)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from sqlalchemy import insert, select, text
from typer.testing import CliRunner

from tests.factories import bearer, make_user
from yingji.app import create_app
from yingji.cli import app as cli
from yingji.core import audit
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.settings import Settings, get_settings

OTHER_KEY = "another-audit-key-nobody-here-has-seen-0123456789"


@pytest.fixture
def run(settings: Settings, monkeypatch: pytest.MonkeyPatch):
    """``yingji ARGS`` against the test's database and anchor file (in a thread of its own, as
    the command runs its own event loop)."""

    def invoke(*args: str, **env: str) -> Result:
        monkeypatch.setenv("YINGJI_DATABASE_URL", settings.database_url)
        monkeypatch.setenv("YINGJI_ENV", "test")
        monkeypatch.setenv("YINGJI_SECRET_KEY", settings.secret_key)
        monkeypatch.setenv("YINGJI_AUDIT_ANCHOR_FILE", str(settings.audit_anchor_file))
        monkeypatch.delenv("YINGJI_AUDIT_KEY", raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(cli, list(args))
        finally:
            get_settings.cache_clear()

    async def invoke_async(*args: str, **env: str) -> Result:
        return await asyncio.to_thread(invoke, *args, **env)

    return invoke_async


async def write_entries(db: Database, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        async with db.unit_of_work() as session:
            await audit.record(
                session,
                action="test.changed",
                subject_type="thing",
                subject_id=i,
                before={"v": i},
                after={"v": i + 1},
                area="330000/331100/",
                context=audit.RequestContext("u1", "alice", "10.1.2.3", "req-1"),
            )


async def as_attacker(db: Database, *statements: str, params: list[dict[str, Any]]) -> None:
    """What someone with the database (and not the key) does: switch the append-only guard off,
    change rows, switch it on again."""
    async with db.unit_of_work() as session:
        if db.is_postgres:
            await session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            await session.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            await session.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        for statement in statements:
            await session.execute(text(statement), params or [{}])
        if db.is_postgres:
            await session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))


LEGACY_FIELDS = (
    "id",
    "at",
    "actor_id",
    "actor_name",
    "ip",
    "request_id",
    "action",
    "subject_type",
    "subject_id",
    "before",
    "after",
    "prev_hash",
)


async def rows(db: Database) -> list[dict[str, Any]]:
    async with db.unit_of_work(readonly=True) as session:
        entries = (
            await session.scalars(select(audit.AuditEntry).order_by(audit.AuditEntry.id))
        ).all()
        return [
            {c.key: getattr(e, c.key) for c in audit.AuditEntry.__table__.columns} for e in entries
        ]


def plain_sha256(row: dict[str, Any], fields: tuple[str, ...]) -> str:
    """The unkeyed hash of a row: what anyone can compute from the published source."""
    content = {
        name: (row[name].isoformat(timespec="microseconds") if name == "at" else row[name])
        for name in fields
    }
    blob = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


async def recompute_chain(
    db: Database, *, edit: dict[str, Any], unkeyed: bool, after_id: int = 0
) -> None:
    """Edit one row, then recompute every hash from ``after_id`` on with plain SHA-256 (the
    attacker cannot compute the keyed MAC); ``unkeyed`` also dresses the rows as written before
    the chain was keyed."""
    entries = await rows(db)
    fields = LEGACY_FIELDS if unkeyed else tuple(k for k in entries[0] if k != "hash")
    updates, prev = [], None
    for row in entries:
        if row["id"] == edit["id"]:
            row.update(edit)
        if row["id"] <= after_id:
            prev = row["hash"]
            continue
        if prev is not None:
            row["prev_hash"] = prev
        if unkeyed:
            row["key_id"] = row["division_path"] = None
        row["hash"] = plain_sha256(row, fields)
        prev = row["hash"]
        updates.append(row)
    columns = [k for k in updates[0] if k not in ("id", "before", "after", "at")]
    assignments = ", ".join(f"{k} = :{k}" for k in columns)
    await as_attacker(
        db,
        f"UPDATE audit_log SET {assignments} WHERE id = :id",  # noqa: S608 - test SQL
        params=[{k: r[k] for k in [*columns, "id"]} for r in updates],
    )


def anchors(settings: Settings) -> list[dict[str, Any]]:
    path = Path(str(settings.audit_anchor_file))
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def verify_as_admin(client: httpx.AsyncClient, db: Database) -> dict[str, Any]:
    await make_user(db, "auditor", roles=["admin"])
    response = await client.get("/api/v1/audit/verify", headers=await bearer(client, "auditor"))
    assert response.status_code == 200, response.text
    verdict: dict[str, Any] = response.json()
    return verdict


# --- the published head ----------------------------------------------------------------------


async def test_deleting_the_tail_below_the_published_head_fails_verification_naming_it(
    client: httpx.AsyncClient, db: Database, settings: Settings, run
) -> None:
    await write_entries(db, 5)
    published = await run("audit", "anchor")
    assert published.exit_code == 0, published.output
    assert "5" in published.output
    [line] = anchors(settings)
    assert line["id"] == 5 and set(line) >= {"id", "hash", "at", "key_id", "mac"}
    await write_entries(db, 2, start=5)
    intact = await run("audit", "verify")
    assert intact.exit_code == 0, intact.output

    await as_attacker(db, "DELETE FROM audit_log WHERE id > 3", params=[])
    result = await run("audit", "verify")
    assert result.exit_code == 1
    assert "published head 5 is missing" in result.output
    assert "tail was deleted" in result.output
    verdict = await verify_as_admin(client, db)
    assert verdict["intact"] is False
    assert verdict["first_broken_id"] == 5 and verdict["code"] == "anchor_missing"


async def test_a_chain_recomputed_with_plain_sha256_after_an_edit_fails_verification(
    client: httpx.AsyncClient, db: Database, run
) -> None:
    await write_entries(db, 4)
    await recompute_chain(db, edit={"id": 2, "actor_name": "mallory"}, unkeyed=False)
    result = await run("audit", "verify")
    assert result.exit_code == 1
    assert "entry 1" in result.output and "key" in result.output
    verdict = await verify_as_admin(client, db)
    assert verdict["intact"] is False and verdict["first_broken_id"] == 1


async def test_a_chain_rewritten_in_the_unkeyed_form_fails_at_the_published_head(
    client: httpx.AsyncClient, db: Database, run
) -> None:
    await write_entries(db, 4)
    assert (await run("audit", "anchor")).exit_code == 0
    await write_entries(db, 2, start=4)
    await recompute_chain(db, edit={"id": 2, "actor_name": "mallory"}, unkeyed=True)
    result = await run("audit", "verify")
    assert result.exit_code == 1
    assert "published head 4" in result.output
    verdict = await verify_as_admin(client, db)
    assert verdict["first_broken_id"] == 4 and verdict["code"] == "anchor_mismatch"


async def test_rows_past_the_published_head_cannot_be_unkeyed(db: Database, run) -> None:
    await write_entries(db, 3)
    assert (await run("audit", "anchor")).exit_code == 0
    await write_entries(db, 3, start=3)
    await recompute_chain(db, edit={"id": 5, "ip": "6.6.6.6"}, unkeyed=True, after_id=3)
    result = await run("audit", "verify")
    assert result.exit_code == 1
    assert "entry 4" in result.output


# --- rows written before the chain was keyed ---------------------------------------------------


async def write_legacy_rows(db: Database, n: int, clock: ManualClock) -> None:
    """Rows as the unkeyed version wrote them (before the upgrade): plain SHA-256, no area."""
    prev = "0" * 64
    params = []
    for i in range(1, n + 1):
        row: dict[str, Any] = {
            "id": i,
            "at": clock.now(),
            "actor_id": None,
            "actor_name": "system",
            "ip": None,
            "request_id": None,
            "action": "legacy.changed",
            "subject_type": "thing",
            "subject_id": str(i),
            "before": None,
            "after": None,
            "prev_hash": prev,
        }
        row["hash"] = prev = plain_sha256(row, LEGACY_FIELDS)
        params.append(row)
    async with db.unit_of_work() as session:
        await session.execute(insert(audit.AuditEntry.__table__), params)


async def test_an_unkeyed_prefix_from_before_the_upgrade_still_verifies(
    client: httpx.AsyncClient, db: Database, clock: ManualClock, run
) -> None:
    await write_legacy_rows(db, 3, clock)
    await write_entries(db, 2)
    result = await run("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "5 entries" in result.output
    entries = await rows(db)
    assert [r["key_id"] is None for r in entries] == [True, True, True, False, False]
    assert entries[3]["prev_hash"] == entries[2]["hash"]
    verdict = await verify_as_admin(client, db)
    assert verdict["intact"] is True
    assert verdict["checked"] == len(await rows(db))  # and the auditor's sign-in


async def test_rewriting_the_unkeyed_prefix_is_caught_at_the_first_keyed_row(
    db: Database, clock: ManualClock, run
) -> None:
    await write_legacy_rows(db, 3, clock)
    await write_entries(db, 2)
    entries = await rows(db)
    # the attacker rewrites legacy row 2 and recomputes the legacy rows after it; the keyed
    # row 4 covers the hash of row 3 with its MAC, which the attacker cannot recompute
    await recompute_chain(db, edit={"id": 2, "subject_id": "forged"}, unkeyed=True, after_id=1)
    await as_attacker(
        db,
        "UPDATE audit_log SET prev_hash = :p, hash = :h, key_id = :k, division_path = :d "
        "WHERE id = :id",
        params=[
            {
                "id": r["id"],
                "p": r["prev_hash"],
                "h": r["hash"],
                "k": r["key_id"],
                "d": r["division_path"],
            }
            for r in entries[3:]
        ],
    )
    result = await run("audit", "verify")
    assert result.exit_code == 1
    assert "entry 4" in result.output


async def test_an_unkeyed_row_after_keyed_rows_is_refused(
    db: Database, clock: ManualClock, run
) -> None:
    await write_entries(db, 2)
    [*_, last] = await rows(db)
    row: dict[str, Any] = {
        "id": 3,
        "at": clock.now(),
        "actor_id": None,
        "actor_name": "mallory",
        "ip": None,
        "request_id": None,
        "action": "legacy.changed",
        "subject_type": "thing",
        "subject_id": "x",
        "before": None,
        "after": None,
        "prev_hash": last["hash"],
    }
    row["hash"] = plain_sha256(row, LEGACY_FIELDS)
    async with db.unit_of_work() as session:
        await session.execute(insert(audit.AuditEntry.__table__), [row])
    result = await run("audit", "verify")
    assert result.exit_code == 1
    assert "entry 3" in result.output


# --- the key ---------------------------------------------------------------------------------


async def test_verifying_with_another_key_says_the_rows_were_signed_with_another_key(
    client: httpx.AsyncClient, db: Database, run
) -> None:
    await write_entries(db, 3)
    assert (await run("audit", "verify")).exit_code == 0
    result = await run("audit", "verify", YINGJI_AUDIT_KEY=OTHER_KEY)
    assert result.exit_code == 1
    assert "signed with another key" in result.output
    assert "entry 1" in result.output


async def test_a_published_head_signed_with_another_key_is_reported(db: Database, run) -> None:
    await write_entries(db, 3)
    assert (await run("audit", "anchor", YINGJI_AUDIT_KEY=OTHER_KEY)).exit_code == 0
    result = await run("audit", "verify")
    assert result.exit_code == 1
    assert "published head 3" in result.output and "another key" in result.output


async def test_a_forged_published_head_is_reported(db: Database, settings: Settings, run) -> None:
    await write_entries(db, 3)
    assert (await run("audit", "anchor")).exit_code == 0
    [line] = anchors(settings)
    forged = {**line, "id": 2}
    Path(str(settings.audit_anchor_file)).write_text(json.dumps(forged) + "\n")
    result = await run("audit", "verify")
    assert result.exit_code == 1
    assert "published head 2" in result.output and "MAC" in result.output


async def test_a_head_cut_short_by_a_crash_is_passed_over_for_the_one_before(
    db: Database, settings: Settings, run
) -> None:
    await write_entries(db, 3)
    assert (await run("audit", "anchor")).exit_code == 0
    with Path(str(settings.audit_anchor_file)).open("a") as file:
        file.write('{"id": 9, "hash": "ab')  # the process died while appending
    result = await run("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "published head 3" in result.output


def test_a_weak_or_default_audit_key_is_refused_outside_local(tmp_path: Path) -> None:
    secret = "s" * 8 + "0123456789abcdefghijklmnopqrstuvwxyz"
    for weak in (" " * 40, "short-key", "a" * 40):
        with pytest.raises(ValueError, match="YINGJI_AUDIT_KEY"):
            Settings(env="production", secret_key=secret, audit_key=weak)
    strong = Settings(env="production", secret_key=secret, audit_key=OTHER_KEY)
    derived = Settings(env="production", secret_key=secret)
    assert strong.audit_chain_key != derived.audit_chain_key
    assert derived.audit_chain_key != secret.encode()
    assert Settings(env="test", audit_key="short").audit_chain_key == b"short"


# --- publishing on a timer ---------------------------------------------------------------------


async def wait_for(predicate, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_whatever_runs_timers_publishes_the_head_at_start_and_then_periodically(
    settings: Settings, db: Database, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="yingji.core.audit")
    await write_entries(db, 2)
    for _ in range(2):  # a restart schedules no second timer
        application = create_app(settings, run_worker=True, clock_override=clock)
        async with application.router.lifespan_context(application):
            await wait_for(lambda: len(anchors(settings)) >= 1)
            async with db.unit_of_work(readonly=True) as session:
                open_timers = (
                    await session.execute(
                        text(
                            "SELECT count(*) FROM timer WHERE kind = 'audit.anchor' "
                            "AND state IN ('pending', 'running')"
                        )
                    )
                ).scalar_one()
            assert open_timers == 1
    assert len(anchors(settings)) == 1
    assert anchors(settings)[0]["id"] == 2
    assert any("audit head" in r.getMessage() for r in caplog.records)

    application = create_app(settings, run_worker=True, clock_override=clock)
    async with application.router.lifespan_context(application):
        await write_entries(db, 1, start=2)
        clock.advance(timedelta(minutes=settings.audit_anchor_minutes + 1).total_seconds())
        application.state.timer_worker.kick()
        await wait_for(lambda: len(anchors(settings)) >= 2)
    assert anchors(settings)[-1]["id"] == 3
