"""The broadcast devices' side of MQTT: a background worker that listens to every device's
retained state (``<root>/<code>/state``) and its acknowledgements (``<root>/<code>/ack``).

A state message updates the device's ``state`` and ``seen_at``; an acknowledgement
``{"delivery_id": n}`` marks that delivery delivered — only a delivery addressed to that very
device (a device cannot acknowledge another's). Payloads are untrusted: bounded, JSON objects
only, anything else ignored. The listener reconnects after the broker goes away.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiomqtt
from sqlalchemy import update

from yingji.core import clock
from yingji.core.db import Database
from yingji.notify import delivery
from yingji.notify.channels.mqtt import broker
from yingji.notify.models import BroadcastDevice
from yingji.settings import Settings

log = logging.getLogger(__name__)

PAYLOAD_MAX = 4096
CODE_MAX = 64


def _object(payload: bytes) -> dict[str, Any] | None:
    if len(payload) > PAYLOAD_MAX:
        return None
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class DeviceListener:
    """Background worker (``Domain.workers``): does nothing without ``YINGJI_MQTT_URL``."""

    reconnect_seconds = 2.0

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.root = settings.mqtt_topic_root.strip("/")
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()
        self.handled = 0

    def start(self) -> None:
        if self.settings.mqtt_url:
            self._task = asyncio.create_task(self.run_forever(), name="yingji-devices")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def run_forever(self) -> None:
        host, port = broker(self.settings.mqtt_url or "")
        while True:
            try:
                async with aiomqtt.Client(host, port) as client:
                    await client.subscribe(f"{self.root}/+/state", qos=1)
                    await client.subscribe(f"{self.root}/+/ack", qos=1)
                    self.subscribed.set()
                    async for message in client.messages:
                        try:
                            await self.handle(str(message.topic), bytes(message.payload or b""))
                        except Exception:
                            log.exception("device message on %s failed", message.topic)
            except aiomqtt.MqttError as exc:
                self.subscribed.clear()
                log.warning("MQTT listener lost the broker: %s", exc)
                await asyncio.sleep(self.reconnect_seconds)

    async def handle(self, topic: str, payload: bytes) -> None:
        """One message on ``<root>/<code>/state`` or ``<root>/<code>/ack``."""
        parts = topic.split("/")
        root = self.root.split("/")
        if len(parts) != len(root) + 2 or parts[: len(root)] != root:
            return
        code, leaf = parts[-2], parts[-1]
        data = _object(payload)
        if not code or len(code) > CODE_MAX or data is None:
            return
        async with self.db.unit_of_work() as session:
            if leaf == "state":
                await session.execute(
                    update(BroadcastDevice)
                    .where(BroadcastDevice.code == code)
                    .values(state=data, seen_at=clock.now())
                )
            elif leaf == "ack":
                number = data.get("delivery_id")
                if isinstance(number, int) and not isinstance(number, bool) and 0 < number < 2**63:
                    await delivery.device_acknowledged(
                        session, device_code=code, delivery_id=number
                    )
        self.handled += 1


def listener(db: Database, settings: object) -> DeviceListener:
    """The notify domain's MQTT listener (``Domain.workers``)."""
    if not isinstance(settings, Settings):
        raise TypeError("the device listener needs yingji.settings.Settings")
    return DeviceListener(db, settings)


__all__ = ["DeviceListener", "listener"]
