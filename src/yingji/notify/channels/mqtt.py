"""Village loudspeakers (村村通广播) and LED boards over MQTT (aiomqtt).

A device listens on ``<topic>/play`` (loudspeaker: the speech text, for its TTS) or
``<topic>/show`` (LED: one line), where ``<topic>`` is the device's topic root
(``BroadcastDevice.topic``, normally ``<YINGJI_MQTT_TOPIC_ROOT>/<code>``). The payload is JSON
``{"delivery_id": n, "text": "…", "level": "orange"}``, published with QoS 1. The device reports
back on ``<topic>/ack`` (``{"delivery_id": n}``) and keeps its state retained on
``<topic>/state``; ``notify.devices`` listens to both.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import aiomqtt
from sqlalchemy import select

from yingji.core.db import Database
from yingji.notify import render
from yingji.notify.channels import ChannelError, Outgoing, Sent
from yingji.notify.models import BroadcastDevice
from yingji.settings import Settings


def broker(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 1883


class MqttChannel:
    def __init__(self, name: str, db: Database, settings: Settings) -> None:
        if not settings.mqtt_url:
            raise ValueError("the MQTT channels need YINGJI_MQTT_URL")
        self.name = name
        self.db = db
        self.host, self.port = broker(settings.mqtt_url)
        self.timeout = settings.notify_send_timeout_seconds
        self._client: aiomqtt.Client | None = None
        self._lock = asyncio.Lock()

    async def _topic(self, code: str) -> str:
        async with self.db.unit_of_work(readonly=True) as session:
            device = await session.scalar(
                select(BroadcastDevice).where(BroadcastDevice.code == code)
            )
        if device is None or not device.active or device.kind != self.name:
            raise ChannelError("device_unknown", permanent=True)
        return device.topic.rstrip("/")

    async def _connected(self) -> aiomqtt.Client:
        async with self._lock:
            if self._client is None:
                client = aiomqtt.Client(self.host, self.port, timeout=self.timeout)
                await client.__aenter__()
                self._client = client
            return self._client

    async def send(self, item: Outgoing) -> Sent:
        topic = await self._topic(item.address)
        if item.channel == "loudspeaker":
            text, leaf = render.speech_text(item.content), "play"
        else:
            text, leaf = render.led_text(item.content), "show"
        payload = json.dumps(
            {"delivery_id": item.delivery_id, "text": text, "level": item.content.get("level")},
            ensure_ascii=False,
        )
        try:
            client = await self._connected()
            await client.publish(f"{topic}/{leaf}", payload, qos=1)
        except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
            await self._drop()
            raise ChannelError(f"{self.name}_unavailable", detail=str(exc)[:200]) from exc
        return Sent(gateway_ref=f"{topic}/{leaf}")

    async def _drop(self) -> None:
        async with self._lock:
            client, self._client = self._client, None
        if client is not None:
            try:
                await client.__aexit__(None, None, None)
            except Exception:  # noqa: BLE001 - a broken connection is being thrown away
                return

    async def close(self) -> None:
        await self._drop()
