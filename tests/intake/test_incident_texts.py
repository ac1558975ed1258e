"""What matching reads of a candidate incident: the texts of its first reports."""

from __future__ import annotations

from datetime import timedelta

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
