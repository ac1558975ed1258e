"""What matching reads of a candidate incident: the texts of its first reports."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event

from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.incidents import service as incidents
from yingji.intake import service


async def test_matching_reads_the_first_five_reports_of_each_incident_in_arrival_order(
    db: Database, clock: ManualClock
) -> None:
    start = clock.now()
    async with db.unit_of_work() as session:
        big, small = [
            await incidents.create_incident(
                session=session,
                values={
                    "title": title,
                    "level": "IV",
                    "first_reported_at": start,
                    "last_reported_at": start,
                },
            )
            for title in ("洪水", "火灾")
        ]
        arrivals = [(big, n) for n in (7, 2, 5, 0, 6, 1, 3, 4)] + [(small, 0), (small, 1)]
        for incident, n in arrivals:  # stored out of arrival order
            await service.insert_report(
                session=session,
                report=service.new_report(
                    {
                        "channel": "hotline_110",
                        "external_id": f"{incident.title}-{n}",
                        "received_at": start + timedelta(minutes=n),
                        "text": f"{incident.title}第{n}报",
                        "address": "甲镇" if n == 0 else None,
                        "status": "accepted",
                        "incident_id": incident.id,
                    }
                ),
            )
    async with db.unit_of_work(readonly=True) as session:
        texts = await service.texts_of_incidents(session=session, incident_ids=[big.id, small.id])
    assert texts[big.id] == ["甲镇 洪水第0报", "洪水第1报", "洪水第2报", "洪水第3报", "洪水第4报"]
    assert texts[small.id] == ["甲镇 火灾第0报", "火灾第1报"]


async def test_reading_texts_for_any_number_of_candidates_uses_a_handful_of_statements(
    db: Database, clock: ManualClock
) -> None:
    """Each length of an ``IN`` list is its own statement (on PostgreSQL, its own prepared
    statement per connection): candidate pools of 1..20 incidents share 5 shapes, not 20."""
    start = clock.now()
    async with db.unit_of_work() as session:
        opened = []
        for n in range(20):
            incident = await incidents.create_incident(
                session=session,
                values={
                    "title": f"第{n}起",
                    "level": "IV",
                    "first_reported_at": start,
                    "last_reported_at": start,
                },
            )
            await service.insert_report(
                session=session,
                report=service.new_report(
                    {
                        "channel": "hotline_119",
                        "external_id": f"t-{n}",
                        "received_at": start,
                        "text": f"第{n}起火情",
                        "status": "accepted",
                        "incident_id": incident.id,
                    }
                ),
            )
            opened.append(incident.id)
    statements: set[str] = set()

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "row_number" in statement:
            statements.add(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with db.unit_of_work(readonly=True) as session:
            for count in range(1, 21):
                ids = opened[:count]
                texts = await service.texts_of_incidents(session=session, incident_ids=ids)
                assert texts == {i: [f"第{n}起火情"] for n, i in enumerate(ids)}
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert len(statements) == 6  # lists of 1, 2, 4, 8, 16 and 32 ids (17..20 go as 32)
