"""The demo county's duty roster (演示数据), for ``yingji seed demo``: 庆元县's 1+1+2+2 positions
(带班领导, 值班长, two 值班员, 水利 and 气象 professional staff), a 24-hour pattern from 08:30, and
this month and the next filled from rotations of the bureaus' people. The demo's ``duty_leader``
and ``duty_officer`` accounts are linked to the people they are named after, so the alerts that go
to the leader on duty reach a demo account. A second run changes nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock, security
from yingji.core.clock import LOCAL_TZ
from yingji.core.on_duty import Position
from yingji.duty import roster
from yingji.org import service as org

COUNTY_ADCODE = "331126"
PATTERN_NAME = "24小时值班"
#: the departments whose people stand duty: (name, what they sit)
_EMERGENCY = "庆元县应急管理局"
_POLICE = "庆元县公安局"
_HEALTH = "庆元县卫生健康局"
_WATER = "庆元县水利局"
_WEATHER = "庆元县气象局"


@dataclass
class DemoDutyReport:
    already: bool = False
    shifts: int = 0
    months: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Staff:
    unit_id: uuid.UUID
    leader: uuid.UUID
    others: tuple[uuid.UUID, ...]
    by_position: dict[str, tuple[uuid.UUID, ...]]


async def _staff(session: AsyncSession, name: str) -> _Staff | None:
    units, _ = await org.list_units(session=session, scope=security.SYSTEM.scope, q=name, limit=5)
    unit = next((u for u in units if u.name == name), None)
    if unit is None:
        return None
    people, _ = await org.list_people(
        session=session, scope=security.SYSTEM.scope, unit_id=unit.id, limit=50
    )
    leaders = [p.id for p in people if p.is_leader]
    if not leaders:
        return None
    by_position: dict[str, list[uuid.UUID]] = {}
    for p in people:
        by_position.setdefault(p.position or "", []).append(p.id)
    return _Staff(
        unit.id,
        leaders[0],
        tuple(p.id for p in people if not p.is_leader),
        {k: tuple(v) for k, v in by_position.items()},
    )


def _months() -> tuple[str, str]:
    today = clock.now().astimezone(LOCAL_TZ).date().replace(day=1)
    following = (today + timedelta(days=32)).replace(day=1)
    return today.strftime("%Y-%m"), following.strftime("%Y-%m")


async def _link(session: AsyncSession, username: str, person_id: uuid.UUID) -> None:
    user = await org.get_user_by_username(session=session, username=username)
    if user is not None and user.person_id is None:
        await org.link_user_to_person(session=session, user_id=user.id, person_id=person_id)


async def seed_demo_duty(*, session: AsyncSession) -> DemoDutyReport:
    """Write the demo county's roster once (after ``org.seed.seed_demo``)."""
    report = DemoDutyReport()
    path = await org.path_of_division(session=session, adcode=COUNTY_ADCODE)
    if path is None or await roster.list_positions(session, division_adcode=COUNTY_ADCODE):
        report.already = True
        return report
    found = {n: await _staff(session, n) for n in (_EMERGENCY, _POLICE, _HEALTH, _WATER, _WEATHER)}
    em, police, health, water, weather = (found[n] for n in found)
    if em is None or police is None or health is None or water is None or weather is None:
        report.already = True
        return report
    officers = em.by_position.get("值班员", ())
    liaison = em.by_position.get("联络员", ())
    await roster.set_positions(
        session,
        division_adcode=COUNTY_ADCODE,
        path=path,
        specs=[
            roster.PositionSpec(Position.LEADER, "", 1, em.unit_id),
            roster.PositionSpec(Position.CHIEF, "", 1, em.unit_id),
            roster.PositionSpec(Position.OFFICER, "", 2, em.unit_id),
            roster.PositionSpec(Position.PROFESSIONAL, "水利", 1, water.unit_id),
            roster.PositionSpec(Position.PROFESSIONAL, "气象", 1, weather.unit_id),
        ],
    )
    pattern = await roster.create_pattern(
        session,
        division_adcode=COUNTY_ADCODE,
        path=path,
        name=PATTERN_NAME,
        kind=roster.PatternKind.FULL_DAY,
        shifts=[roster.ShiftSpec("day", time(8, 30), 24)],
        min_rest_hours=8,
    )
    rotations = [
        roster.SeatRotation(Position.LEADER, "", 1, (em.leader, police.leader, health.leader)),
        roster.SeatRotation(Position.CHIEF, "", 1, (*liaison[:1], *officers[1:2])),
        roster.SeatRotation(Position.OFFICER, "", 1, (*officers[:1], *police.others[:1])),
        roster.SeatRotation(Position.OFFICER, "", 2, (*health.others[:1], *police.others[1:2])),
        roster.SeatRotation(Position.PROFESSIONAL, "水利", 1, (water.leader, *water.others)),
        roster.SeatRotation(Position.PROFESSIONAL, "气象", 1, (weather.leader, *weather.others)),
    ]
    report.months = _months()
    for month in report.months:
        made = await roster.generate_month(
            session,
            division_adcode=COUNTY_ADCODE,
            path=path,
            scope=security.SYSTEM.scope,
            pattern=pattern,
            month=month,
            rotations=rotations,
            replace=False,
        )
        report.shifts += len(made)
    await _link(session, "duty_leader", em.leader)
    if officers:
        await _link(session, "duty_officer", officers[0])
    return report
