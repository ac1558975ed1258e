"""The demo county's roster: this month and the next, conflict-free, its leader on duty reaching
the demo's duty_leader account; seeded once."""

from __future__ import annotations

from datetime import UTC, datetime

from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.on_duty import Position, on_duty
from yingji.duty import demo, roster
from yingji.org import seed
from yingji.org import service as org


async def test_the_demo_county_has_two_months_of_roster_without_conflicts(
    db: Database, clock: ManualClock, app: object
) -> None:
    async with db.unit_of_work() as session:
        await seed.seed_demo(session=session)
        report = await demo.seed_demo_duty(session=session)
    assert not report.already and report.months == ("2026-07", "2026-08")
    assert report.shifts == (31 + 31) * 6  # a 24-hour shift a day for each of six seats
    async with db.unit_of_work(readonly=True) as session:
        _, start, end = roster.month_bounds("2026-07")
        shifts = await roster.shifts_between(
            session, division_adcode="331126", start=start, end=end
        )
        assert await roster.find_conflicts(session, shifts=shifts) == []
        # the leaders take turns of 24 hours from 08:30: the bureau's leader within three days
        leader = await org.get_user_by_username(session=session, username="duty_leader")
        assert leader is not None
        answers = []
        for day in (1, 2, 3):
            found = await on_duty(
                session,
                division_path="330000/331126/331126001000/",
                positions=(Position.LEADER,),
                at=datetime(2026, 7, day, 4, 0, tzinfo=UTC),
            )
            assert found is not None and len(found) == 1
            answers.append(found[0].user_id)
    assert answers.count(leader.id) == 1
    async with db.unit_of_work() as session:
        assert (await demo.seed_demo_duty(session=session)).already
