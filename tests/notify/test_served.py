"""The whole path in real processes: ``yingji seed demo`` writes the demo's contact points and
devices, ``yingji serve`` runs the sender with channels configured from its environment, a
local SMS gateway and mailbox receive, and the gateway's receipt comes back over HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy import func, select

from tests.conftest import served_demo
from tests.notify.peers import http_gateway, smtp_server, warning_content
from yingji.core.db import Database
from yingji.notify import delivery
from yingji.notify.delivery import DeliverySpec
from yingji.notify.models import BroadcastDevice, ContactPoint, Delivery

SECRET = "served-receipt-secret-0123"


async def test_yingji_serve_sends_and_takes_receipts(tmp_path: Path) -> None:
    with http_gateway() as sms, smtp_server() as (smtp_port, inbox):
        settings = {
            "YINGJI_SMS_GATEWAY_URL": sms.url,
            "YINGJI_SMTP_HOST": "127.0.0.1",
            "YINGJI_SMTP_PORT": str(smtp_port),
            "YINGJI_NOTIFY_RECEIPT_SECRET": SECRET,
            "YINGJI_NOTIFY_POLL_SECONDS": "0.2",
        }
        with served_demo(tmp_path, **settings) as base:
            db = Database(f"sqlite+aiosqlite:///{tmp_path}/yingji.db")
            try:
                async with db.unit_of_work(readonly=True) as session:
                    devices = await session.scalar(
                        select(func.count()).select_from(BroadcastDevice)
                    )
                    reachable = await session.scalar(
                        select(func.count(func.distinct(ContactPoint.person_id)))
                    )
                assert devices == 38 and reachable
                async with db.unit_of_work() as session:
                    await delivery.enqueue(
                        session,
                        subject_type="warning",
                        subject_id="w-served",
                        kind="warning.publish",
                        content=warning_content(),
                        scope_path="330000/331100/331126/",
                        items=[
                            DeliverySpec("r1", "甲", [("sms", "13800000001")], ack_token="a1"),
                            DeliverySpec("r2", "乙", [("email", "yi@example.org")]),
                        ],
                    )
                for _ in range(150):  # the served sender polls every 0.2 s
                    if sms.sent and inbox.messages:
                        break
                    await asyncio.sleep(0.1)
                assert len(sms.sent) == 1 and len(inbox.messages) == 1
                assert sms.sent[0]["text"].endswith("/ack/a1")
                async with httpx.AsyncClient(base_url=base) as client:
                    receipt = await client.post(
                        "/api/v1/notify/receipts/sms",
                        json={"ref": sms.sent[0]["id"], "status": "delivered"},
                        headers={"X-Yingji-Receipt-Secret": SECRET},
                    )
                assert receipt.status_code == 200, receipt.text
                async with db.unit_of_work(readonly=True) as session:
                    states = dict(
                        (await session.execute(select(Delivery.channel, Delivery.state))).all()
                    )
                assert states == {"sms": "delivered", "email": "sent"}
            finally:
                await db.dispose()
