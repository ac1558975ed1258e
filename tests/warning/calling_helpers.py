"""A published warning with its call list, made the way publication (part B) makes it: the
warning row in state published with its frozen plan, recipients with ``must_ack``/``ack_token``/
``call_state='waiting'`` for the 叫应 people, one outbound message with the step-0 deliveries,
and the ``warning.published`` event (payload ``{"warning": {…}, "recipients": {…}}``)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select

from tests.factories import make_county_with_two_towns, make_division, make_unit, make_user
from yingji.core import clock, events
from yingji.core.db import Database
from yingji.core.events import EventScope
from yingji.core.ids import new_id
from yingji.core.timers import Timer, TimerWorker, handlers
from yingji.notify import delivery
from yingji.org import service as org_service
from yingji.warning.models import Warning, WarningRecipient

COUNTY = "331126"
COUNTY_PATH = "330000/331126/"
TOWN_A = "331126101000"
TOWN_B = "331126102000"
VILLAGE_A1 = "331126101001"

#: a quick plan: 10 minutes, two repeats, then the superior, then the duty leader
STEPS: dict[str, Any] = {
    "positions": ["department_head", "town_head", "village_head", "duty_leader"],
    "channels": ["voice", "sms", "app"],
    "wait_minutes": 10,
    "repeats": 2,
    "escalate_to": ["superior", "duty_leader"],
}


@dataclass
class World:
    """The county, its towns and the people of the call lists."""

    people: dict[str, uuid.UUID] = field(default_factory=dict)  # name → person id
    units: dict[str, uuid.UUID] = field(default_factory=dict)  # code → unit id
    users: dict[str, uuid.UUID] = field(default_factory=dict)  # username → user id


async def make_world(db: Database) -> World:
    """County 331126 with towns A and B (``make_county_with_two_towns``), a village A1 under
    town A whose unit's parent is town A's; people: 甲镇长 (leader of TA), 甲干部 (TA),
    乙镇长 (leader of TB), 村主任 (leader of village V1); a duty leader account for the county
    and a desk (commander) of the county."""
    await make_county_with_two_towns(db)
    await make_division(db, VILLAGE_A1, name="一村", level="village", parent=TOWN_A)
    await make_unit(db, "V1", division=VILLAGE_A1, kind="village", parent_code="TA")
    world = World()
    async with db.unit_of_work() as session:
        world.units = await org_service.unit_ids_by_code(session=session)
        for name, unit, leader, mobile in (
            ("甲镇长", "TA", True, "13900000001"),
            ("甲干部", "TA", False, "13900000002"),
            ("乙镇长", "TB", True, "13900000003"),
            ("村主任", "V1", True, "13900000004"),
        ):
            person = await org_service.create_person(
                session=session,
                data={
                    "unit_id": world.units[unit],
                    "name": name,
                    "position": "负责人" if leader else "干部",
                    "mobile": mobile,
                    "is_leader": leader,
                },
            )
            world.people[name] = person.id
    leader = await make_user(db, "duty_leader", roles=["duty_leader"], division=COUNTY)
    desk = await make_user(db, "desk", roles=["commander"], division=COUNTY)
    checker = await make_user(db, "officer", roles=["duty_officer"], division=COUNTY)
    other = await make_user(db, "other_desk", roles=["commander"], division=TOWN_B)
    world.users = {
        "duty_leader": leader.id,
        "desk": desk.id,
        "officer": checker.id,
        "other_desk": other.id,
    }
    return world


@dataclass(frozen=True)
class Called:
    """A recipient of a published warning."""

    id: uuid.UUID
    name: str
    token: str | None


@dataclass
class Published:
    warning_id: uuid.UUID
    recipients: dict[str, Called]


async def publish(
    db: Database,
    world: World,
    *,
    called: tuple[str, ...] = ("甲干部", "乙镇长", "村主任"),
    informed: tuple[str, ...] = (),
    steps: dict[str, Any] | None = None,
    level: str = "orange",
    user_recipient: str | None = None,
) -> Published:
    """Publish an orange warning of the county as part B does (see the module's docstring):
    ``called`` people must acknowledge, ``informed`` are only told; ``user_recipient`` (a
    username) is on the list as an account that must acknowledge in the app."""
    now = clock.now()
    warning_id = new_id()
    recipients: dict[str, Called] = {}
    rows: list[dict[str, Any]] = []
    async with db.unit_of_work() as session:
        count = await session.scalar(select(func.count()).select_from(Warning)) or 0
        plan = {"id": str(uuid.uuid4()), "version": 1, "name": "测试方案", "steps": steps or STEPS}
        await session.execute(
            insert(Warning).values(
                id=warning_id,
                number=f"YJ-W-20261207-{count + 1:04d}",
                identifier=f"33112600000000_20261207120000_{count + 1}",
                origin="authored",
                state="published",
                msg_type="Alert",
                type_code=None,
                level=level,
                headline="暴雨橙色预警",
                description="未来3小时将有50毫米以上降雨",
                instruction="转移危险区群众",
                issuer="庆元县应急管理局",
                division_adcode=COUNTY,
                division_path=COUNTY_PATH,
                area_desc="甲镇、乙镇",
                area_adcodes=[TOWN_A, TOWN_B],
                sent_at=now,
                published_at=now,
                call_plan=plan,
                recipient_count=0,
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        people = {**world.people}
        for name in (*called, *informed):
            must = name in called
            person_id = people[name]
            town = TOWN_B if name.startswith("乙") else TOWN_A
            row = {
                "id": new_id(),
                "warning_id": warning_id,
                "recipient_key": f"person:{person_id}",
                "reason": "town_head" if name.endswith("镇长") else "village_head",
                "person_id": person_id,
                "user_id": None,
                "unit_id": None,
                "name": name,
                "position": "负责人",
                "division_adcode": town,
                "town_adcode": town,
                "channels": [
                    {"channel": "voice", "address": f"139{len(rows):08d}"},
                    {"channel": "sms", "address": f"139{len(rows):08d}"},
                ],
                "must_ack": must,
                "ack_token": secrets.token_urlsafe(24) if must else None,
                "call_state": "waiting" if must else "",
                "call_step": 0,
                "created_at": now,
            }
            rows.append(row)
        if user_recipient is not None:
            user_id = world.users[user_recipient]
            rows.append(
                {
                    "id": new_id(),
                    "warning_id": warning_id,
                    "recipient_key": f"user:{user_id}",
                    "reason": "duty_leader",
                    "person_id": None,
                    "user_id": user_id,
                    "unit_id": None,
                    "name": user_recipient,
                    "position": "带班领导",
                    "division_adcode": COUNTY,
                    "town_adcode": None,
                    "channels": [{"channel": "app", "address": str(user_id)}],
                    "must_ack": True,
                    "ack_token": secrets.token_urlsafe(24),
                    "call_state": "waiting",
                    "call_step": 0,
                    "created_at": now,
                }
            )
        await session.execute(insert(WarningRecipient), rows)
        await delivery.enqueue(
            session,
            subject_type="warning",
            subject_id=warning_id,
            kind="warning.publish",
            content={"kind": "warning", "warning_id": str(warning_id)},
            scope_path=COUNTY_PATH,
            items=[
                delivery.DeliverySpec(
                    recipient_ref=str(r["id"]),
                    name=r["name"],
                    channels=[(c["channel"], c["address"]) for c in r["channels"]],
                    user_id=r["user_id"],
                    ack_token=r["ack_token"],
                )
                for r in rows
            ],
        )
        await events.emit(
            session,
            type="warning.published",
            subject_type="warning",
            subject_id=warning_id,
            payload={
                "warning": {
                    "id": str(warning_id),
                    "number": "",
                    "state": "published",
                    "level": level,
                    "type_code": None,
                    "headline": "暴雨橙色预警",
                    "division_adcode": COUNTY,
                },
                "recipients": {"total": len(rows), "must_ack": len(called)},
            },
            scope=EventScope(division_path=COUNTY_PATH),
        )
    for r in rows:
        recipients[r["name"]] = Called(r["id"], r["name"], r["ack_token"])
    return Published(warning_id, recipients)


async def run_timers(db: Database) -> int:
    """Fire every due timer (and those they make due) as the worker would."""
    worker = TimerWorker(db, handler_map=handlers())
    fired = 0
    while n := await worker.run_due():
        fired += n
    return fired


async def open_step_timers(db: Database) -> dict[str, Timer]:
    """The open ``warning.call_step`` timers by recipient id."""
    async with db.unit_of_work(readonly=True) as session:
        rows = await session.scalars(
            select(Timer).where(Timer.kind == "warning.call_step", Timer.state == "pending")
        )
        return {t.subject: t for t in rows.all()}


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
