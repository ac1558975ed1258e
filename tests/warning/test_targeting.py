"""靶向发布: who a warning goes to, from its division codes or its polygon, each once, with the
first reason that named them and their channels in order (the 叫应 plan's first)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from tests.factories import square
from tests.warning.workflow_setup import COUNTY, TOWN_A, TOWN_B, make_warning_county
from yingji.core import clock
from yingji.core.db import Database
from yingji.warning import catalogue, targeting
from yingji.warning.models import Warning


def _warning(**extra: object) -> Warning:
    now = clock.now()
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "number": "YJ-W-TEST-0001",
        "origin": "authored",
        "state": "signed",
        "type_code": "rainstorm",
        "level": "orange",
        "headline": "暴雨橙色预警",
        "issuer": "庆元县应急管理局",
        "division_adcode": COUNTY,
        "division_path": f"330000/{COUNTY}/",
        "area_adcodes": [],
        "created_at": now,
        "updated_at": now,
        **extra,
    }
    return Warning(**values)


async def _plan(db: Database, level: str = "orange") -> dict[str, object] | None:
    async with db.unit_of_work(readonly=True) as session:
        plan = await catalogue.choose_call_plan(
            session, division_path=f"330000/{COUNTY}/", type_code="rainstorm", level=level
        )
        return None if plan is None else dict(plan.steps)


async def test_division_codes_reach_heads_units_contacts_devices_and_subscribers(
    db: Database,
) -> None:
    people = await make_warning_county(db)
    plan = await _plan(db)
    async with db.unit_of_work(readonly=True) as session:
        targets = await targeting.resolve(session, _warning(area_adcodes=[TOWN_A]), plan=plan)
    by_key = {t.recipient_key: t for t in targets}
    reasons = {key: t.reason for key, t in by_key.items()}
    assert reasons == {
        f"person:{people.water_head}": "department_head",
        f"person:{people.town_a_head}": "town_head",
        f"person:{people.village_head}": "village_head",
        f"user:{people.reviewer}": "duty_leader",
        f"user:{people.town_a_user}": "unit_in_area",
        f"contact:{people.hazard}": "hazard_contact",
        f"person:{people.expert}": "subscriber",
        f"device:{people.speaker}": "device",
    }
    # town B's head and town A's clerk (not a leader, no account) are not reached
    assert f"person:{people.town_b_head}" not in by_key
    assert f"person:{people.clerk}" not in by_key
    # a 叫应 person: the plan's channels first (voice, sms), then their own e-mail
    head = by_key[f"person:{people.town_a_head}"]
    assert head.channels == [
        ("voice", "13800000001"),
        ("sms", "13800000001"),
        ("email", "zhen@example.org"),
    ]
    assert head.town_adcode == TOWN_A
    assert targeting.must_ack(head, plan)
    # not on the 叫应 list: own order, contact points then SMS and voice
    expert = by_key[f"person:{people.expert}"]
    assert expert.channels == [("sms", "13800000006"), ("voice", "13800000006")]
    assert not targeting.must_ack(expert, plan)
    assert by_key[f"user:{people.reviewer}"].channels == [("app", str(people.reviewer))]
    assert by_key[f"device:{people.speaker}"].channels == [("loudspeaker", "LS-A1")]
    assert by_key[f"contact:{people.hazard}"].channels == [
        ("sms", "13900000001"),
        ("voice", "13900000001"),
    ]


async def test_a_polygon_reaches_what_lies_inside_it(db: Database) -> None:
    people = await make_warning_county(db)
    area = square(119.11, 27.51, 0.08)  # inside town B only
    async with db.unit_of_work(readonly=True) as session:
        targets = await targeting.resolve(
            session,
            _warning(area=area, min_lon=119.11, min_lat=27.51, max_lon=119.19, max_lat=27.59),
        )
    keys = {t.recipient_key: t.reason for t in targets}
    assert keys.get(f"person:{people.town_b_head}") == "town_head"
    assert f"person:{people.town_a_head}" not in keys
    assert f"person:{people.village_head}" not in keys
    assert f"device:{people.speaker}" not in keys
    assert f"contact:{people.hazard}" not in keys
    # without a 叫应 plan nobody must acknowledge, and order is the person's own
    assert not any(targeting.must_ack(t, None) for t in targets)
    head = next(t for t in targets if t.recipient_key == f"person:{people.town_b_head}")
    assert head.channels == [("sms", "13800000002"), ("voice", "13800000002")]
    assert head.town_adcode == TOWN_B


async def test_a_subscribed_group_that_wants_a_higher_level_is_not_told(db: Database) -> None:
    people = await make_warning_county(db)
    async with db.unit_of_work(readonly=True) as session:
        blue = await targeting.resolve(
            session, _warning(area_adcodes=[TOWN_A], level="blue"), plan=None
        )
        other_type = await targeting.resolve(
            session, _warning(area_adcodes=[TOWN_A], type_code="typhoon"), plan=None
        )
        stored = await session.scalar(select(Warning.id))
    assert stored is None  # resolving writes nothing
    assert f"person:{people.expert}" not in {t.recipient_key for t in blue}
    assert f"person:{people.expert}" not in {t.recipient_key for t in other_type}
