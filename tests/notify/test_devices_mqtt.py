"""Loudspeakers and LED boards over the machine's Mosquitto (127.0.0.1:1883): a fake device
subscribes to its topics, plays and acknowledges; the listener marks the delivery delivered and
keeps the device's retained state."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
import pytest
from sqlalchemy import select

from tests.factories import make_county_with_two_towns
from tests.notify.peers import warning_content, with_settings
from yingji.core import clock as clock_module
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.notify import delivery
from yingji.notify.delivery import DeliverySpec, DeliveryWorker
from yingji.notify.devices import DeviceListener
from yingji.notify.models import BroadcastDevice, Delivery
from yingji.settings import Settings

BROKER = "mqtt://127.0.0.1:1883"


async def _device(db: Database, root: str, code: str, kind: str) -> None:
    now = clock_module.now()
    async with db.unit_of_work() as session:
        session.add(
            BroadcastDevice(
                code=code,
                kind=kind,
                name=f"设备{code}",
                division_adcode="331126101000",
                division_path="330000/331126/331126101000/",
                lon=119.05,
                lat=27.55,
                topic=f"{root}/{code}",
                active=True,
                state={},
                created_at=now,
                updated_at=now,
            )
        )


@contextlib.asynccontextmanager
async def fake_device(
    root: str, code: str, leaf: str, *, ack: bool = True
) -> AsyncIterator[list[dict[str, Any]]]:
    """A device on the broker: takes what comes on ``<root>/<code>/<leaf>``, acknowledges it,
    and publishes its retained state."""
    heard: list[dict[str, Any]] = []
    ready = asyncio.Event()

    async def run() -> None:
        async with aiomqtt.Client("127.0.0.1", 1883) as client:
            await client.subscribe(f"{root}/{code}/{leaf}", qos=1)
            await client.publish(
                f"{root}/{code}/state", json.dumps({"online": True, "volume": 7}), retain=True
            )
            ready.set()
            async for message in client.messages:
                data = json.loads(bytes(message.payload or b""))
                heard.append(data)
                if ack:
                    await client.publish(
                        f"{root}/{code}/ack", json.dumps({"delivery_id": data["delivery_id"]})
                    )

    task = asyncio.create_task(run())
    await asyncio.wait_for(ready.wait(), 5)
    try:
        yield heard
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with aiomqtt.Client("127.0.0.1", 1883) as client:  # leave no retained state
            await client.publish(f"{root}/{code}/state", b"", retain=True)


async def _wait_for(predicate: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


@pytest.fixture
def root() -> str:
    return f"yingji-test/{uuid.uuid4().hex[:12]}"


async def test_loudspeaker_and_led_play_acknowledge_and_report_state(
    db: Database, settings: Settings, clock: ManualClock, root: str
) -> None:
    await make_county_with_two_towns(db)
    await _device(db, root, "LS-1", "loudspeaker")
    await _device(db, root, "LED-1", "led")
    config = with_settings(settings, mqtt_url=BROKER, mqtt_topic_root=root)
    listener = DeviceListener(db, config)
    listener.start()
    worker = DeliveryWorker(db, config)
    try:
        await asyncio.wait_for(listener.subscribed.wait(), 5)
        async with (
            fake_device(root, "LS-1", "play") as played,
            fake_device(root, "LED-1", "show") as shown,
        ):
            async with db.unit_of_work() as session:
                await delivery.enqueue(
                    session,
                    subject_type="warning",
                    subject_id="w-1",
                    kind="warning.publish",
                    content=warning_content(),
                    scope_path="331126/",
                    items=[
                        DeliverySpec("d1", "广播", [("loudspeaker", "LS-1")]),
                        DeliverySpec("d2", "屏", [("led", "LED-1")]),
                    ],
                )
            await worker.run_due()

            async def delivered() -> bool:
                async with db.unit_of_work(readonly=True) as session:
                    states = (await session.scalars(select(Delivery.state))).all()
                return set(states) == {"delivered"}

            await _wait_for(delivered)

            async def seen() -> bool:
                async with db.unit_of_work(readonly=True) as session:
                    found = (await session.scalars(select(BroadcastDevice))).all()
                return all(d.seen_at is not None for d in found)

            await _wait_for(seen)
        assert played[0]["text"].startswith("庆元县应急管理局发布橙色暴雨预警。")
        assert "http" not in played[0]["text"]
        assert shown[0]["text"].startswith("橙色暴雨预警 ") and shown[0]["level"] == "orange"
        async with db.unit_of_work(readonly=True) as session:
            device = await session.scalar(
                select(BroadcastDevice).where(BroadcastDevice.code == "LS-1")
            )
        assert device is not None and device.state == {"online": True, "volume": 7}
    finally:
        await worker.stop()
        await listener.stop()


async def test_a_device_cannot_acknowledge_another_devices_delivery(
    db: Database, settings: Settings, clock: ManualClock, root: str
) -> None:
    await make_county_with_two_towns(db)
    await _device(db, root, "LS-1", "loudspeaker")
    config = with_settings(settings, mqtt_url=BROKER, mqtt_topic_root=root)
    listener = DeviceListener(db, config)
    worker = DeliveryWorker(db, config)
    async with fake_device(root, "LS-1", "play", ack=False):
        async with db.unit_of_work() as session:
            await delivery.enqueue(
                session,
                subject_type="warning",
                subject_id="w-1",
                kind="warning.publish",
                content=warning_content(),
                scope_path="331126/",
                items=[DeliverySpec("d1", "广播", [("loudspeaker", "LS-1")])],
            )
        await worker.run_due()
    await worker.stop()
    async with db.unit_of_work(readonly=True) as session:
        (row,) = (await session.scalars(select(Delivery))).all()
    assert row.state == "sent"
    await listener.handle(f"{root}/OTHER/ack", json.dumps({"delivery_id": row.id}).encode())
    await listener.handle(f"{root}/LS-1/ack", b"not json")
    await listener.handle(f"{root}/LS-1/ack", b"x" * 10_000)
    await listener.handle("elsewhere/LS-1/ack", json.dumps({"delivery_id": row.id}).encode())
    async with db.unit_of_work(readonly=True) as session:
        assert (await session.get(Delivery, row.id)) is not None
        state = await session.scalar(select(Delivery.state).where(Delivery.id == row.id))
    assert state == "sent"
    await listener.handle(f"{root}/LS-1/ack", json.dumps({"delivery_id": row.id}).encode())
    async with db.unit_of_work(readonly=True) as session:
        state = await session.scalar(select(Delivery.state).where(Delivery.id == row.id))
    assert state == "delivered"


async def test_an_unknown_device_fails_at_once(
    db: Database, settings: Settings, clock: ManualClock, root: str
) -> None:
    config = with_settings(settings, mqtt_url=BROKER, mqtt_topic_root=root)
    worker = DeliveryWorker(db, config)
    async with db.unit_of_work() as session:
        await delivery.enqueue(
            session,
            subject_type="warning",
            subject_id="w-1",
            kind="warning.publish",
            content=warning_content(),
            scope_path="331126/",
            items=[DeliverySpec("d1", "屏", [("led", "NOPE")])],
        )
    await worker.run_due()
    await worker.stop()
    async with db.unit_of_work(readonly=True) as session:
        (row,) = (await session.scalars(select(Delivery))).all()
    assert (row.state, row.error) == ("failed", "device_unknown")
