"""The demo county's contact points and broadcast devices, seeded once."""

from __future__ import annotations

from sqlalchemy import func, select

from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.notify import demo
from yingji.notify.models import BroadcastDevice, ContactPoint
from yingji.org import seed


async def test_demo_people_are_reachable_and_each_town_has_a_loudspeaker_and_an_led(
    db: Database, clock: ManualClock
) -> None:
    async with db.unit_of_work() as session:
        await seed.seed_demo(session=session)
    async with db.unit_of_work() as session:
        report = await demo.seed_demo_notify(session=session, topic_root="yingji/devices")
    assert not report.already and report.devices == 38 and report.contact_points > 100
    async with db.unit_of_work(readonly=True) as session:
        kinds = dict(
            (
                await session.execute(
                    select(BroadcastDevice.kind, func.count()).group_by(BroadcastDevice.kind)
                )
            ).all()
        )
        towns = await session.scalar(
            select(func.count(func.distinct(BroadcastDevice.division_adcode)))
        )
        channels = dict(
            (
                await session.execute(
                    select(ContactPoint.channel, func.count()).group_by(ContactPoint.channel)
                )
            ).all()
        )
        speaker = await session.scalar(
            select(BroadcastDevice).where(BroadcastDevice.code == "QY-LS-001")
        )
    assert kinds == {"loudspeaker": 19, "led": 19} and towns == 19
    assert channels["sms"] == channels["voice"] and channels["email"] >= 19
    assert speaker is not None and speaker.topic == "yingji/devices/QY-LS-001"
    assert speaker.lon is not None and speaker.division_path.endswith("/331126/331126001000/")
    async with db.unit_of_work() as session:
        again = await demo.seed_demo_notify(session=session)
    assert again.already
