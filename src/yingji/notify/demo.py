"""The demo county's ways to reach people and its broadcast devices (演示数据), for
``yingji seed demo``: every demo person with a mobile gets SMS then voice contact points (leaders
an e-mail first, at the reserved ``example.org``), and every town one village loudspeaker and one
LED board at its centroid, on ``<YINGJI_MQTT_TOPIC_ROOT>/<code>``. A second run changes
nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit, clock, events, security
from yingji.core.events import EventScope
from yingji.core.ids import new_id
from yingji.notify.models import BroadcastDevice, ContactPoint
from yingji.org import service as org

COUNTY_ADCODE = "331126"
MARKER = "QY-LS-001"
_CONTACTS = cast(Table, ContactPoint.__table__)
_DEVICES = cast(Table, BroadcastDevice.__table__)


@dataclass
class DemoNotifyReport:
    already: bool = False
    contact_points: int = 0
    devices: int = 0


async def seed_demo_notify(
    *, session: AsyncSession, topic_root: str = "yingji/devices"
) -> DemoNotifyReport:
    """Write the demo's contact points and devices once (after ``org.seed.seed_demo``)."""
    report = DemoNotifyReport()
    county = await org.get_division(session=session, adcode=COUNTY_ADCODE)
    taken = await session.scalar(select(BroadcastDevice.id).where(BroadcastDevice.code == MARKER))
    if county is None or taken is not None:
        report.already = True
        return report
    now = clock.now()
    people, _ = await org.list_people(session=session, scope=security.SYSTEM.scope, limit=100_000)
    contacts: list[dict[str, Any]] = []
    for index, person in enumerate(people):
        mobile = re.sub(r"[\s-]", "", person.mobile or "")
        if not re.fullmatch(r"\+?[0-9]{5,20}", mobile):
            continue
        ways = [("sms", mobile), ("voice", mobile)]
        if person.is_leader:
            ways.insert(0, ("email", f"leader{index:04d}@qingyuan.example.org"))
        contacts += [
            {
                "id": new_id(),
                "person_id": person.id,
                "channel": channel,
                "address": address,
                "priority": priority,
                "created_at": now,
            }
            for priority, (channel, address) in enumerate(ways)
        ]
    towns, _ = await org.list_divisions(
        session=session,
        scope=security.SYSTEM.scope,
        parent_adcode=COUNTY_ADCODE,
        level="town",
        limit=100,
    )
    root = topic_root.strip("/")
    devices: list[dict[str, Any]] = []
    for town in towns:
        code3 = town.adcode[6:9]
        for kind, code, label in (
            ("loudspeaker", f"QY-LS-{code3}", "应急广播"),
            ("led", f"QY-LED-{code3}", "LED显示屏"),
        ):
            devices.append(
                {
                    "id": new_id(),
                    "code": code,
                    "kind": kind,
                    "name": f"{town.name}{label}",
                    "division_adcode": town.adcode,
                    "division_path": town.path,
                    "lon": town.centroid_lon,
                    "lat": town.centroid_lat,
                    "topic": f"{root}/{code}",
                    "active": True,
                    "state": {},
                    "seen_at": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    if contacts:
        await session.execute(insert(_CONTACTS), contacts)
    if devices:
        await session.execute(insert(_DEVICES), devices)
    report.contact_points, report.devices = len(contacts), len(devices)
    after = {"contact_points": report.contact_points, "devices": report.devices}
    await audit.record(
        session,
        action="notify.demo_seeded",
        subject_type="notify",
        subject_id=COUNTY_ADCODE,
        area=county.path,
        before=None,
        after=after,
    )
    await events.emit(
        session,
        type="notify.demo_seeded",
        subject_type="notify",
        subject_id=COUNTY_ADCODE,
        payload=after,
        scope=EventScope(division_path=county.path),
    )
    return report
