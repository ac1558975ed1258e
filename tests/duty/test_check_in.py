"""到岗签到: who checks in on a shift and when; a missed check-in is marked by its timer and told
to the duty chief on duty and the level above."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from tests.duty.attendance_setup import (
    TOWN_A,
    TOWN_B,
    make_duty_county,
    make_shift,
    roster_resolver,
)
from tests.factories import bearer, deliver_events
from yingji.core import on_duty
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.on_duty import Position
from yingji.core.timers import Timer, TimerFiring, TimerWorker, handlers
from yingji.duty import attendance


@pytest.fixture
async def people(db: Database, client: httpx.AsyncClient) -> dict[str, uuid.UUID]:
    return await make_duty_county(db)


async def arm(db: Database) -> int:
    async with db.unit_of_work() as session:
        return await attendance.arm(session)


async def kinds_told(client: httpx.AsyncClient, username: str) -> list[str]:
    told = (
        await client.get("/api/v1/notifications", headers=await bearer(client, username))
    ).json()
    return [n["kind"] for n in told["items"]]


async def test_the_person_on_the_shift_checks_in_and_its_timer_stops(
    client: httpx.AsyncClient, db: Database, clock: ManualClock, people: dict[str, uuid.UUID]
) -> None:
    start = clock.now() + timedelta(minutes=30)
    shift = await make_shift(
        db, division=TOWN_A, person_id=people["张三"], name="张三", starts_at=start
    )
    assert await arm(db) == 1
    me = await bearer(client, "officer_a")
    mine = (await client.get("/api/v1/duty/my-shifts", headers=me)).json()["items"]
    assert [s["id"] for s in mine] == [str(shift)]
    done = await client.post(f"/api/v1/duty/shifts/{shift}/check-in", headers=me, json={})
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "checked_in" and done.json()["late"] is False
    again = await client.post(f"/api/v1/duty/shifts/{shift}/check-in", headers=me)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_checked_in"
    clock.advance(timedelta(hours=1))
    assert await TimerWorker(db, handler_map=handlers()).run_due() == 0


async def test_only_the_person_or_a_roster_manager_checks_in_within_the_shift(
    client: httpx.AsyncClient, db: Database, clock: ManualClock, people: dict[str, uuid.UUID]
) -> None:
    start = clock.now() + timedelta(minutes=30)
    shift = await make_shift(
        db, division=TOWN_A, person_id=people["张三"], name="张三", starts_at=start
    )
    url = f"/api/v1/duty/shifts/{shift}/check-in"
    # a colleague of the desk (duty.write, no duty.roster) may not check in for him
    colleague = await client.post(url, headers=await bearer(client, "chief_a"))
    assert colleague.status_code == 403
    assert colleague.json()["error"]["code"] == "check_in_not_yours"
    # another town's leader does not see the shift at all
    other = await client.post(url, headers=await bearer(client, "leader_b"))
    assert other.status_code == 404
    missing = await client.post(
        f"/api/v1/duty/shifts/{uuid.uuid4()}/check-in", headers=await bearer(client, "leader")
    )
    assert missing.status_code == 404
    # the next day's shift does not open yet; a stale version is refused
    later = await make_shift(
        db,
        division=TOWN_A,
        person_id=people["张三"],
        name="张三",
        starts_at=start + timedelta(days=1),
    )
    early = await client.post(
        f"/api/v1/duty/shifts/{later}/check-in", headers=await bearer(client, "officer_a")
    )
    assert early.status_code == 409 and early.json()["error"]["code"] == "check_in_not_open"
    stale = await client.post(url, headers=await bearer(client, "leader"), json={"version": 7})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "version_conflict"
    # the county's duty leader manages the roster below it
    managed = await client.post(url, headers=await bearer(client, "leader"), json={"version": 1})
    assert managed.status_code == 200 and managed.json()["state"] == "checked_in"
    clock.advance(timedelta(hours=37))  # past the end of the next day's shift
    ended = await client.post(
        f"/api/v1/duty/shifts/{later}/check-in", headers=await bearer(client, "officer_a")
    )
    assert ended.status_code == 409 and ended.json()["error"]["code"] == "check_in_closed"


async def test_a_missed_check_in_is_marked_and_told_to_the_division_and_the_level_above(
    client: httpx.AsyncClient, db: Database, clock: ManualClock, people: dict[str, uuid.UUID]
) -> None:
    start = clock.now() + timedelta(hours=1)
    shift = await make_shift(
        db, division=TOWN_A, person_id=people["张三"], name="张三", starts_at=start
    )
    assert await arm(db) == 1
    assert await arm(db) == 0  # armed once
    worker = TimerWorker(db, handler_map=handlers())
    clock.advance(timedelta(hours=1, minutes=14))
    assert await worker.run_due() == 0
    clock.advance(timedelta(minutes=2))
    assert await worker.run_due() == 1
    await deliver_events(db)
    # no roster names a chief: the duty leaders of the town and of the county are told
    assert await kinds_told(client, "leader_a") == ["duty_check_in_missed"]
    assert await kinds_told(client, "leader") == ["duty_check_in_missed"]
    assert await kinds_told(client, "leader_b") == []
    assert await kinds_told(client, "officer_a") == []  # never the person who missed it
    missed = await client.get(
        "/api/v1/duty/shifts",
        params={"division": TOWN_A, "state": "missed"},
        headers=await bearer(client, "leader"),
    )
    assert [(s["id"], s["late"]) for s in missed.json()["items"]] == [(str(shift), True)]
    hidden = await client.get(
        "/api/v1/duty/shifts", params={"division": TOWN_A}, headers=await bearer(client, "leader_b")
    )
    assert hidden.status_code == 404
    # arriving late still checks in, and says so
    late = await client.post(
        f"/api/v1/duty/shifts/{shift}/check-in", headers=await bearer(client, "officer_a")
    )
    assert late.status_code == 200
    assert late.json()["state"] == "checked_in" and late.json()["late"] is True


@pytest.fixture
async def rostered() -> AsyncIterator[None]:
    previous = on_duty._resolver
    on_duty.set_resolver(roster_resolver)
    yield
    on_duty.set_resolver(previous)


@pytest.mark.usefixtures("rostered")
async def test_a_missed_check_in_goes_to_the_chief_on_duty_when_a_roster_names_one(
    client: httpx.AsyncClient, db: Database, clock: ManualClock, people: dict[str, uuid.UUID]
) -> None:
    start = clock.now() + timedelta(hours=1)
    await make_shift(
        db,
        division=TOWN_A,
        person_id=people["李四"],
        name="李四",
        starts_at=start - timedelta(hours=2),
        hours=24,
        position=Position.CHIEF,
    )
    await make_shift(db, division=TOWN_A, person_id=people["张三"], name="张三", starts_at=start)
    assert await arm(db) == 2
    clock.advance(timedelta(hours=1, minutes=16))
    fired = await TimerWorker(db, handler_map=handlers()).run_due()
    assert fired == 2  # the chief's shift was never checked in on either
    await deliver_events(db)
    # 李四, the chief on duty, hears of 张三's shift; of his own the town's leader hears
    # (the roster's chief stands in for the leader otherwise); the county has no roster: its
    # leaders hear of both
    assert await kinds_told(client, "chief_a") == ["duty_check_in_missed"]
    assert await kinds_told(client, "leader_a") == ["duty_check_in_missed"]
    assert await kinds_told(client, "leader") == ["duty_check_in_missed", "duty_check_in_missed"]


async def test_the_arming_timer_arms_what_starts_soon_and_runs_again(
    db: Database, clock: ManualClock, people: dict[str, uuid.UUID]
) -> None:
    soon = await make_shift(
        db, division=TOWN_B, person_id=people["王五"], name="王五", starts_at=clock.now()
    )
    await make_shift(
        db,
        division=TOWN_B,
        person_id=people["赵六"],
        name="赵六",
        starts_at=clock.now() + timedelta(days=3),
    )
    firing = TimerFiring(0, attendance.ARM_TIMER, "shifts", "", clock.now(), {}, 1)
    async with db.unit_of_work() as session:
        await attendance.arm_on_time(session, firing)
    async with db.unit_of_work(readonly=True) as session:
        open_ = (
            await session.execute(
                select(Timer.kind, Timer.subject, Timer.due_at).where(Timer.state == "pending")
            )
        ).all()
    check_ins = [(s, d) for k, s, d in open_ if k == attendance.CHECK_IN_TIMER]
    assert check_ins == [(str(soon), clock.now() + attendance.GRACE)]
    assert any(
        k == attendance.ARM_TIMER and d == clock.now() + attendance.ARM_EVERY for k, _, d in open_
    )
