"""A report's changes (verify, refuse) and the category table's: compare-and-set, and every
change told to the screens (an event in the outbox) beside its audit row."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from tests.factories import bearer, make_county_with_two_towns, make_user
from yingji.core.db import Database
from yingji.core.errors import Conflict
from yingji.core.events import OutboxEvent
from yingji.core.security import SYSTEM
from yingji.incidents.models import Incident
from yingji.intake import flows, service
from yingji.intake.models import Report


def public(external_id: str) -> dict[str, object]:
    return {
        "channel": "public_web",
        "external_id": external_id,
        "text": "甲镇河边有人落水",
        "reporter_phone": "13900000001",
        "lon": 119.05,
        "lat": 27.55,
    }


async def pending_report(client: httpx.AsyncClient, db: Database, external_id: str) -> str:
    """A public report from 甲镇, waiting for a duty officer to verify it."""
    await make_county_with_two_towns(db)
    sent = await client.post(
        "/api/v1/intake/reports", headers=await bearer(client, "county"), json=public(external_id)
    )
    assert sent.status_code == 201 and sent.json()["status"] == "pending_verification", sent.text
    report_id: str = sent.json()["report_id"]
    return report_id


async def events_of(db: Database, type_: str) -> list[OutboxEvent]:
    async with db.unit_of_work(readonly=True) as session:
        rows = await session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == type_).order_by(OutboxEvent.id)
        )
        return list(rows.all())


async def incident_count(db: Database) -> int:
    async with db.unit_of_work(readonly=True) as session:
        return int(await session.scalar(select(func.count()).select_from(Incident)) or 0)


async def test_two_officers_accepting_one_public_report_at_once_open_one_incident(
    client: httpx.AsyncClient, db: Database
) -> None:
    report_id = await pending_report(client, db, "web-race-1")
    officer = await bearer(client, "county")
    url = f"/api/v1/intake/reports/{report_id}/accept"
    first, second = await asyncio.gather(
        client.post(url, headers=officer), client.post(url, headers=officer)
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    loser = first if first.status_code == 409 else second
    assert loser.json()["error"]["code"] == "report_not_pending"
    assert await incident_count(db) == 1


async def test_an_accept_that_read_the_report_before_another_accepted_it_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    """The second officer's transaction still holds the report as pending (read before the
    first officer's accept); its accept is a compare-and-set, so it is refused, not repeated."""
    report_id = await pending_report(client, db, "web-race-2")
    rid = uuid.UUID(report_id)
    async with db.unit_of_work() as session:
        seen = await service.get_report_or_raise(session=session, report_id=rid, scope=SYSTEM.scope)
        assert seen.status == "pending_verification"
        # the other officer's accept, committed meanwhile (the row changes under the read)
        await session.execute(
            Report.__table__.update().where(Report.id == rid).values(status="accepted")
        )
        with pytest.raises(Conflict) as refused:
            await flows.accept_public_report(session=session, principal=SYSTEM, report_id=rid)
        assert refused.value.code == "report_not_pending"
        assert refused.value.details["status"] == "accepted"
        await session.rollback()
    assert await incident_count(db) == 0


async def test_rejecting_a_public_report_tells_the_screens_of_its_area(
    client: httpx.AsyncClient, db: Database
) -> None:
    report_id = await pending_report(client, db, "web-reject-1")
    officer = await bearer(client, "county")
    refused = await client.post(
        f"/api/v1/intake/reports/{report_id}/reject", headers=officer, json={"reason": "恶作剧"}
    )
    assert refused.status_code == 200 and refused.json()["status"] == "rejected"
    [event] = await events_of(db, "intake.report_rejected")
    assert event.subject_id == report_id
    assert event.division_path == "330000/331126/331126101000/"
    assert event.payload["after"]["status"] == "rejected"
    assert event.payload["after"]["reason"] == "恶作剧"
    again = await client.post(
        f"/api/v1/intake/reports/{report_id}/reject", headers=officer, json={"reason": "x"}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "report_not_pending"


async def test_another_towns_officer_can_neither_accept_nor_reject_a_report(
    client: httpx.AsyncClient, db: Database
) -> None:
    report_id = await pending_report(client, db, "web-other-town")
    await make_user(db, "duty_b", roles=["duty_officer"], division="331126102000")
    other_town = await bearer(client, "duty_b")
    accept = await client.post(f"/api/v1/intake/reports/{report_id}/accept", headers=other_town)
    reject = await client.post(
        f"/api/v1/intake/reports/{report_id}/reject", headers=other_town, json={"reason": "x"}
    )
    assert accept.status_code == 404 and reject.status_code == 404
    assert accept.json()["error"]["code"] == "report_not_found"
    assert await events_of(db, "intake.report_rejected") == []
    assert await incident_count(db) == 0


async def test_editing_a_category_tells_every_screen_that_reads_incidents(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    edited = await client.patch(
        "/api/v1/intake/categories/accident.elevator",
        headers=admin,
        json={"active": False, "keywords": {"电梯困人": 3.0}},
    )
    assert edited.status_code == 200, edited.text
    [event] = await events_of(db, "intake.category_updated")
    assert event.subject_type == "category" and event.subject_id == "accident.elevator"
    assert event.everywhere and event.permission == "incident.read"
    assert event.payload["before"]["active"] is True
    assert event.payload["after"]["active"] is False
    assert event.payload["after"]["rule"]["keywords"] == {"电梯困人": 3.0}


async def test_a_category_edit_takes_typed_rules_and_refuses_free_fields_changing_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    url = "/api/v1/intake/categories/accident.elevator"
    for bad in (
        {"level_rules": [{"measure": ["dead"], "I": 3, "note": "<img src=x onerror=alert(1)>"}]},
        {"level_rules": [{"measure": ["<b>dead</b>"], "I": 3}]},
        {"match": {"distance_m": 500, "window_minutes": 60, "html": "<script>"}},
        {"match": {"distance_m": -1, "window_minutes": 60}},
    ):
        refused = await client.patch(url, headers=admin, json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    assert await events_of(db, "intake.category_updated") == []
    edited = await client.patch(
        url,
        headers=admin,
        json={
            "match": {"distance_m": 800, "window_minutes": 90},
            "level_rules": [{"measure": ["dead", "missing"], "I": 30, "II": 10, "III": 3}],
        },
    )
    assert edited.status_code == 200, edited.text
    [event] = await events_of(db, "intake.category_updated")
    assert event.payload["after"]["rule"]["match"] == {
        "distance_m": 800,
        "window_minutes": 90,
        "related": [],
    }
    assert event.payload["after"]["rule"]["level_rules"] == [
        {"measure": ["dead", "missing"], "I": 30, "II": 10, "III": 3}
    ]
