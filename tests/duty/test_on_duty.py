"""Who is on duty drives the alerts that went to every duty leader: the resolver answers with the
nearest division's roster (``core.on_duty``), and the 首报 alert, 督办 to the centre and 叫应's
duty leader go to the leader on duty — to every duty leader by role when nobody is rostered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.dispatch.test_order_flows import dispatched
from tests.dispatch.test_order_flows import world as dispatch_world  # noqa: F401 - a fixture
from tests.duty.roster_helpers import (
    TOWN_A,
    County,
    add_duty_people,
    make_county,
    roster_month,
    rotations,
)
from tests.factories import bearer, deliver_events
from tests.incidents.test_incident_lifecycle import open_incident, post
from yingji.app import install_jobs
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.events import Bus
from yingji.core.on_duty import Position, on_duty
from yingji.core.timers import TimerWorker, handlers
from yingji.duty import attendance
from yingji.warning import calling, targeting
from yingji.warning.models import Warning

COUNTY_PATH = "330000/331126/"
TOWN_A_PATH = "330000/331126/331126101000/"
#: 2026-07-01 16:00 in Beijing (the ManualClock's start): the day shift of 1 July, 甲's
JULY_FIRST = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
async def county(app: object, db: Database) -> County:
    return await make_county(db)


async def who(db: Database, path: str, at: datetime) -> list[str] | None:
    async with db.unit_of_work(readonly=True) as session:
        found = await on_duty(session, division_path=path, positions=(Position.LEADER,), at=at)
    return None if found is None else [p.name for p in found]


async def test_the_nearest_rostered_division_answers_and_none_means_ask_the_roles(
    client: httpx.AsyncClient, db: Database, county: County
) -> None:
    assert await who(db, TOWN_A_PATH, JULY_FIRST) is None  # no roster anywhere
    made = await roster_month(client, county, "2026-07", leader=["L1", "L2"], chief=["C1", "C2"])
    assert made.status_code == 201, made.text
    # town A has no roster of its own: the county's leader on duty answers for it
    assert await who(db, TOWN_A_PATH, JULY_FIRST) == ["甲"]
    assert await who(db, TOWN_A_PATH, JULY_FIRST + timedelta(hours=5)) == ["乙"]  # 21:00: night
    assert await who(db, COUNTY_PATH, datetime(2026, 6, 30, tzinfo=UTC)) is None  # no June roster

    town = await bearer(client, "leader_a")
    assert (
        await client.put(
            "/api/v1/duty/positions",
            params={"division": TOWN_A},
            headers=town,
            json={
                "positions": [
                    {"position": "leader"},
                    {"position": "chief"},
                    {"position": "officer"},
                ]
            },
        )
    ).status_code == 200
    pattern = await client.post(
        "/api/v1/duty/patterns",
        headers=town,
        json={
            "division_adcode": TOWN_A,
            "name": "24小时",
            "kind": "full_day",
            "shifts": [{"code": "day", "start": "08:30", "hours": 24}],
        },
    )
    generated = await client.post(
        "/api/v1/duty/roster/generate",
        headers=town,
        json={
            "division_adcode": TOWN_A,
            "month": "2026-07",
            "pattern_id": pattern.json()["id"],
            "rotations": rotations(county, leader=["TA1"]),
        },
    )
    assert generated.status_code == 201, generated.text
    assert await who(db, TOWN_A_PATH, JULY_FIRST) == ["庚"]  # the town's own leader on duty
    assert await who(db, COUNTY_PATH, JULY_FIRST) == ["甲"]


def but_check_ins() -> dict[str, Any]:
    """Every timer handler but the check-in's: the rostered people of these tests never check
    in, and their missed check-ins (tests/duty/test_attendance.py) are not what is asked here."""
    return {
        kind: handler
        for kind, handler in handlers().items()
        if kind not in (attendance.CHECK_IN_TIMER, attendance.ARM_TIMER)
    }


async def test_the_first_report_alert_goes_to_the_leader_on_duty_only(
    client: httpx.AsyncClient, db: Database, county: County, clock: ManualClock
) -> None:
    await roster_month(client, county, "2026-07", leader=["L1", "L2"], chief=["C1", "C2"])
    officer = await bearer(client, "county")
    incident = await open_incident(
        client, officer, "fr-duty", casualties={"dead": 3, "injured": 0, "missing": 0, "trapped": 0}
    )
    assert (await post(client, officer, f"{incident}/verify")).json()["level"] == "III"
    bus = Bus()
    install_jobs(bus, db)
    await bus.start(db, run_relay=False)
    try:
        clock.advance(timedelta(minutes=61))
        # the incident's 首报 timer, and the duty desk's phone and written report deadlines
        assert await TimerWorker(db, handler_map=but_check_ins()).run_due() == 3
        for sub in bus.subscriptions:
            await bus.deliver_durable(sub)
    finally:
        await bus.stop()
    on_shift = (
        await client.get("/api/v1/notifications", headers=await bearer(client, "manager"))
    ).json()
    assert "first_report_overdue" in [n["kind"] for n in on_shift["items"]]
    off_shift = (
        await client.get("/api/v1/notifications", headers=await bearer(client, "other_leader"))
    ).json()
    # a duty leader of the county, but not on duty now: told nothing
    assert off_shift["total"] == 0, off_shift


async def test_supervision_to_the_centre_goes_to_the_leader_on_duty(
    client: httpx.AsyncClient,
    db: Database,
    clock: ManualClock,
    dispatch_world: dict[str, Any],  # noqa: F811
) -> None:
    county = await add_duty_people(db)
    await roster_month(client, county, "2026-07", leader=["L1", "L2"], chief=["C1", "C2"])
    await dispatched(client, dispatch_world)
    worker = TimerWorker(db, handler_map=but_check_ins())
    for step in (timedelta(seconds=145), timedelta(seconds=40), timedelta(minutes=5)):
        clock.advance(step)
        await worker.run_due()
    await deliver_events(db)
    on_shift = (
        await client.get("/api/v1/notifications", headers=await bearer(client, "manager"))
    ).json()
    assert {n["kind"] for n in on_shift["items"]} == {"supervise_center"}
    role_only = (await client.get("/api/v1/notifications", headers=dispatch_world["leader"])).json()
    assert role_only["total"] == 0  # the county's other duty leader is not on duty


async def test_warnings_call_and_escalate_to_the_leader_on_duty(
    client: httpx.AsyncClient, db: Database, county: County
) -> None:
    warning = Warning(division_path=TOWN_A_PATH)
    async with db.unit_of_work(readonly=True) as session:
        fallback = await calling._duty_leaders(session, warning)
    # no roster: every duty leader whose jurisdiction covers town A, by role
    assert sorted(t.name for t in fallback) == ["leader_a", "manager", "other_leader"]
    await roster_month(client, county, "2026-07", leader=["L2", "L1"], chief=["C1", "C2"])
    async with db.unit_of_work(readonly=True) as session:
        escalated = await calling._duty_leaders(session, warning)
        book = targeting._Book()
        await targeting._add_duty_leaders(session, book, warning)
    assert [(t.name, t.person_id) for t in escalated] == [("乙", county.people["L2"])]
    assert [t.name for t in book.by_key.values()] == ["乙"]
    assert [t.reason for t in book.by_key.values()] == ["duty_leader"]
