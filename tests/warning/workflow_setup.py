"""The county of ``make_county_with_two_towns`` made ready for warnings: the workflow's desks,
a village, a department, the responsible people with their ways to be reached, a hazard source,
a loudspeaker and a subscribed group (shared by the workflow and targeting tests)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from tests.factories import make_county_with_two_towns, make_division, make_unit, make_user, square
from yingji.core import clock
from yingji.core.db import Database
from yingji.notify.models import BroadcastDevice, ContactPoint
from yingji.org import service as org
from yingji.resources.models import Resource
from yingji.warning.models import SubscriberGroup

COUNTY = "331126"
TOWN_A = "331126101000"
TOWN_B = "331126102000"
VILLAGE_A = "331126101001"


@dataclass
class People:
    town_a_head: uuid.UUID
    town_b_head: uuid.UUID
    village_head: uuid.UUID
    water_head: uuid.UUID
    clerk: uuid.UUID
    expert: uuid.UUID
    hazard: uuid.UUID
    speaker: uuid.UUID
    town_a_user: uuid.UUID
    reviewer: uuid.UUID


async def _person(db: Database, unit: uuid.UUID, name: str, **extra: Any) -> uuid.UUID:
    async with db.unit_of_work() as session:
        person = await org.create_person(
            session=session, data={"unit_id": unit, "name": name, **extra}
        )
        return person.id


async def make_warning_county(db: Database) -> People:
    """Desks: drafter (duty officer), reviewer (duty leader), chief (commander) at the county;
    desk_b (duty officer) in town B."""
    await make_county_with_two_towns(db)
    await make_user(db, "drafter", roles=["duty_officer"], division=COUNTY)
    reviewer = await make_user(db, "reviewer", roles=["duty_leader"], division=COUNTY)
    await make_user(db, "chief", roles=["commander"], division=COUNTY)
    await make_user(db, "desk_b", roles=["duty_officer"], division=TOWN_B)
    await make_division(
        db,
        VILLAGE_A,
        name="甲村",
        level="village",
        parent=TOWN_A,
        boundary=square(119.0, 27.5, 0.03),
    )
    village = await make_unit(db, "VA", division=VILLAGE_A, kind="village", lon=119.01, lat=27.51)
    water = await make_unit(db, "WATER", division=COUNTY, kind="department", lon=119.3, lat=27.3)
    async with db.unit_of_work(readonly=True) as session:
        ta = await org.get_unit_by_code(session=session, code="TA")
        tb = await org.get_unit_by_code(session=session, code="TB")
        town_a_user = await org.get_user_by_username(session=session, username="town_a")
    assert ta is not None and tb is not None and town_a_user is not None
    people = People(
        town_a_head=await _person(db, ta.id, "甲镇长", is_leader=True, mobile="13800000001"),
        town_b_head=await _person(db, tb.id, "乙镇长", is_leader=True, mobile="13800000002"),
        village_head=await _person(
            db, village.id, "甲村书记", is_leader=True, mobile="13800000003"
        ),
        water_head=await _person(db, water.id, "水利局长", is_leader=True, mobile="13800000004"),
        clerk=await _person(db, ta.id, "甲镇干事", mobile="13800000005"),
        expert=await _person(db, water.id, "水利专家", mobile="13800000006"),
        hazard=uuid.uuid4(),
        speaker=uuid.uuid4(),
        town_a_user=town_a_user.id,
        reviewer=reviewer.id,
    )
    now = clock.now()
    async with db.unit_of_work() as session:
        session.add(
            ContactPoint(
                person_id=people.town_a_head,
                channel="email",
                address="zhen@example.org",
                priority=0,
                created_at=now,
            )
        )
        session.add(
            Resource(
                id=people.hazard,
                kind="hazard_source",
                code="HZ-1",
                name="甲镇尾矿库",
                status="normal",
                division_adcode=TOWN_A,
                division_path=f"330000/{COUNTY}/{TOWN_A}/",
                lon=119.05,
                lat=27.56,
                contact_name="库长",
                contact_phone="13900000001",
                attrs={},
                tags="",
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        session.add(
            BroadcastDevice(
                id=people.speaker,
                code="LS-A1",
                kind="loudspeaker",
                name="甲村大喇叭",
                division_adcode=VILLAGE_A,
                division_path=f"330000/{COUNTY}/{TOWN_A}/{VILLAGE_A}/",
                lon=119.01,
                lat=27.51,
                topic="yingji/devices/LS-A1",
                active=True,
                state={},
                created_at=now,
                updated_at=now,
            )
        )
        session.add(
            SubscriberGroup(
                name="水利专家组",
                division_adcode=COUNTY,
                division_path=f"330000/{COUNTY}/",
                type_codes=["rainstorm"],
                min_level="yellow",
                person_ids=[str(people.expert)],
                created_at=now,
                updated_at=now,
            )
        )
    return people


def draft_body(**extra: Any) -> dict[str, Any]:
    """An orange rainstorm warning over town A, ending in six hours."""
    return {
        "type_code": "rainstorm",
        "level": "orange",
        "headline": "庆元县气象台发布暴雨橙色预警",
        "description": "预计未来6小时甲镇降雨量将达50毫米以上",
        "instruction": "做好防御暴雨工作，转移危险区域人员",
        "issuer": "庆元县应急管理局",
        "area_desc": "甲镇",
        "area_adcodes": [TOWN_A],
        "expires_at": "2026-07-01T14:00:00+00:00",
        **extra,
    }
