"""The batch of reports (``POST /api/v1/intake/reports:batch``): each report succeeds or fails on
its own, on SQLite as on PostgreSQL, and a large batch does not keep single reports waiting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select, text

from tests.factories import bearer, counts, login, make_county_with_two_towns, make_user, report
from yingji.core.audit import AuditEntry
from yingji.core.db import Database
from yingji.intake.models import Report

REFUSED = "数据库拒收"  # a text this test teaches the database to refuse


@pytest.fixture
async def refusing_db(db: Database) -> AsyncIterator[Database]:
    """The database refuses a report whose text holds ``REFUSED`` (a trigger, as a constraint
    only the database knows would): a failure inside one report that no validation foresaw."""
    if db.is_postgres:
        create = [
            f"""CREATE FUNCTION refuse_report() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.text LIKE '%{REFUSED}%' THEN
                    RAISE EXCEPTION 'report refused by the database';
                END IF;
                RETURN NEW;
            END $$""",
            """CREATE TRIGGER refuse_report BEFORE INSERT ON report
            FOR EACH ROW EXECUTE FUNCTION refuse_report()""",
        ]
        drop = ["DROP TRIGGER IF EXISTS refuse_report ON report", "DROP FUNCTION refuse_report()"]
    else:
        create = [
            f"""CREATE TRIGGER refuse_report BEFORE INSERT ON report
            WHEN NEW.text LIKE '%{REFUSED}%'
            BEGIN SELECT RAISE(ABORT, 'report refused by the database'); END"""
        ]
        drop = ["DROP TRIGGER refuse_report"]
    async with db.unit_of_work() as session:
        for statement in create:
            await session.execute(text(statement))
    try:
        yield db
    finally:
        async with db.unit_of_work() as session:
            for statement in drop:
                await session.execute(text(statement))


async def test_a_report_the_database_refuses_fails_alone_in_the_batch(
    client: httpx.AsyncClient, refusing_db: Database
) -> None:
    await make_county_with_two_towns(refusing_db)
    officer = await bearer(client, "county")
    batch = {
        "reports": [
            report("bat-1", "甲镇山体滑坡，路被堵了", lon=119.02, lat=27.52),
            report("bat-2", f"乙镇有人落水 {REFUSED}", lon=119.18, lat=27.58),
            report("bat-3", "乙镇一居民楼着火，浓烟滚滚", lon=119.15, lat=27.56),
            report("bat-1", "甲镇山体滑坡，路被堵了", lon=119.02, lat=27.52),
        ]
    }
    answer = await client.post("/api/v1/intake/reports:batch", headers=officer, json=batch)
    assert answer.status_code == 200
    body = answer.json()
    assert [i["status"] for i in body["items"]] == [201, 500, 201, 200]
    assert body["items"][1]["error"]["code"] == "internal_error"
    assert body["items"][1]["receipt"] is None
    assert (body["created"], body["existing"], body["failed"]) == (2, 1, 1)
    assert await counts(refusing_db) == (2, 2)
    # what was stored is whole: each report with its incident, its audit row and its event
    listed = (await client.get("/api/v1/intake/reports", headers=officer)).json()
    assert sorted(r["external_id"] for r in listed["items"]) == ["bat-1", "bat-3"]
    async with refusing_db.unit_of_work(readonly=True) as session:
        audited = await session.scalars(
            select(AuditEntry.subject_id).where(AuditEntry.action == "intake.report_received")
        )
        assert len(audited.all()) == 2
    # the same report alone is refused whole, as before
    alone = await client.post("/api/v1/intake/reports", headers=officer, json=batch["reports"][1])
    assert alone.status_code == 500
    assert await counts(refusing_db) == (2, 2)


@pytest.fixture
async def refusing_at_commit_db(db: Database) -> AsyncIterator[Database]:
    """The database refuses a report whose text holds ``REFUSED`` only when its transaction
    commits, so the batch's chunk cannot be committed at all: on PostgreSQL a deferred
    constraint trigger; on SQLite a trigger that marks the report with a row whose deferred
    foreign key points nowhere (checked at COMMIT)."""
    if db.is_postgres:
        create = [
            f"""CREATE FUNCTION refuse_report_late() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.text LIKE '%{REFUSED}%' THEN
                    RAISE EXCEPTION 'report refused by the database at commit';
                END IF;
                RETURN NULL;
            END $$""",
            """CREATE CONSTRAINT TRIGGER refuse_report_late AFTER INSERT ON report
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_report_late()""",
        ]
        drop = [
            "DROP TRIGGER IF EXISTS refuse_report_late ON report",
            "DROP FUNCTION refuse_report_late()",
        ]
    else:
        create = [
            "CREATE TABLE refusal_parent (id INTEGER PRIMARY KEY)",
            """CREATE TABLE refusal_mark (parent_id INTEGER
            REFERENCES refusal_parent (id) DEFERRABLE INITIALLY DEFERRED)""",
            f"""CREATE TRIGGER refuse_report_late AFTER INSERT ON report
            WHEN NEW.text LIKE '%{REFUSED}%'
            BEGIN INSERT INTO refusal_mark (parent_id) VALUES (1); END""",
        ]
        drop = [
            "DROP TRIGGER refuse_report_late",
            "DROP TABLE refusal_mark",
            "DROP TABLE refusal_parent",
        ]
    async with db.unit_of_work() as session:
        for statement in create:
            await session.execute(text(statement))
    try:
        yield db
    finally:
        async with db.unit_of_work() as session:
            for statement in drop:
                await session.execute(text(statement))


async def test_a_report_refused_at_commit_fails_alone_in_the_batch(
    client: httpx.AsyncClient, refusing_at_commit_db: Database
) -> None:
    await make_county_with_two_towns(refusing_at_commit_db)
    officer = await bearer(client, "county")
    batch = {
        "reports": [
            report("late-1", "甲镇山体滑坡，路被堵了", lon=119.02, lat=27.52),
            report("late-2", f"乙镇有人落水 {REFUSED}", lon=119.18, lat=27.58),
            report("late-3", "着火", category_code="accident.nonsense"),
            report("late-4", "乙镇一居民楼着火，浓烟滚滚", lon=119.15, lat=27.56),
        ]
    }
    answer = await client.post("/api/v1/intake/reports:batch", headers=officer, json=batch)
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert [i["status"] for i in items] == [201, 500, 422, 201]
    assert [i["index"] for i in items] == [0, 1, 2, 3]
    assert items[2]["error"]["code"] == "unknown_category"
    assert await counts(refusing_at_commit_db) == (2, 2)


async def test_a_failed_report_in_a_batch_leaves_the_others_and_changes_nothing_itself(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    town = await bearer(client, "town_a")
    batch = {
        "reports": [
            report("bat-10", "甲镇学校门口有人打架", lon=119.03, lat=27.53),
            report("bat-11", "着火", category_code="accident.nonsense"),
            report("bat-12", "甲镇老街居民楼着火，浓烟很大", lon=119.05, lat=27.55),
        ]
    }
    answer = await client.post("/api/v1/intake/reports:batch", headers=town, json=batch)
    assert [i["status"] for i in answer.json()["items"]] == [201, 422, 201]
    assert await counts(db) == (2, 2)
    listed = (await client.get("/api/v1/intake/reports", headers=officer)).json()
    assert sorted(r["external_id"] for r in listed["items"]) == ["bat-10", "bat-12"]


async def test_only_a_signed_in_reporter_may_send_a_batch(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    await make_user(db, "watcher", roles=["viewer"], division="331126")
    batch = {"reports": [report("who-1", "甲镇学校门口有人打架", lon=119.03, lat=27.53)]}
    anonymous = await client.post("/api/v1/intake/reports:batch", json=batch)
    assert anonymous.status_code == 401
    viewer = await bearer(client, "watcher")
    refused = await client.post("/api/v1/intake/reports:batch", headers=viewer, json=batch)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "permission_denied")
    csrf = await login(client, "county")
    forged = await client.post("/api/v1/intake/reports:batch", json=batch)
    assert (forged.status_code, forged.json()["error"]["code"]) == (403, "csrf_failed")
    assert await counts(db) == (0, 0)
    signed = await client.post(
        "/api/v1/intake/reports:batch", headers={"X-CSRF-Token": csrf}, json=batch
    )
    assert signed.status_code == 200 and signed.json()["created"] == 1


async def test_a_single_report_is_stored_while_a_large_batch_is_still_arriving(
    client: httpx.AsyncClient, db: Database
) -> None:
    """The batch commits report by report: a single report sent meanwhile waits for one of
    them, not for the whole batch (ordering, not time: the single report's audit row comes
    before the batch's last)."""
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    size = 60
    batch = {
        "reports": [
            report(
                f"bulk-{n}",
                f"甲镇{n}号楼前有人打架",
                lon=round(119.005 + 0.0015 * n, 4),
                lat=round(27.505 + 0.0013 * n, 4),
            )
            for n in range(size)
        ]
    }
    sending = asyncio.create_task(
        client.post("/api/v1/intake/reports:batch", headers=officer, json=batch)
    )
    while not sending.done():  # until the batch's first report is stored (or it is over)
        async with db.unit_of_work(readonly=True) as session:
            stored = await session.scalar(
                select(func.count()).select_from(Report).where(Report.external_id == "bulk-0")
            )
        if stored:
            break
        await asyncio.sleep(0.01)
    single = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("110-alone", "乙镇水库大坝出现裂缝", lon=119.18, lat=27.58),
    )
    assert single.status_code == 201
    answer = await sending
    assert answer.status_code == 200
    assert answer.json()["created"] == size
    async with db.unit_of_work(readonly=True) as session:
        order = list(
            (
                await session.scalars(
                    select(AuditEntry.subject_id)
                    .where(AuditEntry.action == "intake.report_received")
                    .order_by(AuditEntry.id)
                )
            ).all()
        )
    last_of_batch = str(answer.json()["items"][-1]["receipt"]["report_id"])
    assert order.index(single.json()["report_id"]) < order.index(last_of_batch)
