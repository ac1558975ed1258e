"""The county and towns of the attendance tests, with people on duty and their accounts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_county_with_two_towns, make_unit, make_user
from yingji.core.db import Database
from yingji.core.on_duty import OnDuty, Position
from yingji.duty.models import DutyShift
from yingji.org import service as org
from yingji.org.models import UserAccount

TOWN_A = "331126101000"
TOWN_B = "331126102000"
COUNTY = "331126"


async def make_person(
    db: Database, unit_code: str, name: str, *, user: str | None = None
) -> uuid.UUID:
    """A person of the unit; with ``user``, that account is theirs."""
    async with db.unit_of_work() as session:
        unit = await org.get_unit_by_code(session=session, code=unit_code)
        assert unit is not None
        person = await org.create_person(session=session, data={"unit_id": unit.id, "name": name})
        if user is not None:
            account = await session.scalar(select(UserAccount).where(UserAccount.username == user))
            assert account is not None
            account.person_id = person.id
        return person.id


async def make_duty_county(db: Database) -> dict[str, uuid.UUID]:
    """县 331126 with towns A and B; duty leaders at each level; people on duty with accounts:
    张三 (officer_a, town A), 李四 (chief_a, town A), 王五 (county bureau), 赵六 (county bureau)."""
    await make_county_with_two_towns(db)
    await make_unit(db, "CB", division=COUNTY, kind="department")
    await make_user(db, "leader", roles=["duty_leader"], division=COUNTY)
    await make_user(db, "leader_a", roles=["duty_leader"], division=TOWN_A)
    await make_user(db, "leader_b", roles=["duty_leader"], division=TOWN_B)
    await make_user(db, "officer_a", roles=["duty_officer"], division=TOWN_A)
    await make_user(db, "chief_a", roles=["duty_officer"], division=TOWN_A)
    return {
        "张三": await make_person(db, "TA", "张三", user="officer_a"),
        "李四": await make_person(db, "TA", "李四", user="chief_a"),
        "王五": await make_person(db, "CB", "王五"),
        "赵六": await make_person(db, "CB", "赵六"),
    }


async def make_shift(
    db: Database,
    *,
    division: str,
    person_id: uuid.UUID | None,
    name: str | None,
    starts_at: datetime,
    hours: int = 12,
    position: Position = Position.OFFICER,
    seat: int = 1,
    code: str = "day",
) -> uuid.UUID:
    """One seat of one shift, as the roster writes it."""
    async with db.unit_of_work() as session:
        shift = DutyShift(
            division_adcode=division,
            position=position.value,
            label="",
            seat=seat,
            shift_code=code,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=hours),
            person_id=person_id,
            person_name=name,
            state="scheduled",
            version=1,
            created_at=starts_at - timedelta(days=3),
            updated_at=starts_at - timedelta(days=3),
        )
        session.add(shift)
        await session.flush()
        return shift.id


async def roster_resolver(
    session: AsyncSession, *, division_path: str, positions: Sequence[Position], at: datetime
) -> list[OnDuty] | None:
    """A resolver reading the shifts as a roster would: the nearest division on the path with a
    shift on those positions then."""
    for adcode in reversed([code for code in division_path.split("/") if code]):
        shifts = (
            await session.scalars(
                select(DutyShift).where(
                    DutyShift.division_adcode == adcode,
                    DutyShift.position.in_([p.value for p in positions]),
                    DutyShift.starts_at <= at,
                    DutyShift.ends_at > at,
                )
            )
        ).all()
        if shifts:
            people = {
                p.id: p
                for p in await org.people_by_ids(
                    session=session, person_ids=[s.person_id for s in shifts if s.person_id]
                )
            }
            return [
                OnDuty(
                    person_id=s.person_id,
                    user_id=people[s.person_id].user_id if s.person_id in people else None,
                    name=s.person_name or "",
                    position=Position(s.position),
                    division_adcode=s.division_adcode,
                    shift_id=s.id,
                )
                for s in shifts
            ]
    return None
