"""The e-mail, DingTalk and WeCom channels against real peers: an SMTP server (aiosmtpd) and a
robot webhook on 127.0.0.1."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.conftest import free_port
from tests.notify.peers import http_gateway, smtp_server, warning_content, with_settings
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.notify import delivery
from yingji.notify.channels import Outgoing
from yingji.notify.channels.email import MapCache
from yingji.notify.channels.webhook import webhook_allowed
from yingji.notify.delivery import DeliverySpec, DeliveryWorker
from yingji.notify.models import Delivery
from yingji.settings import Settings


async def _enqueue(db: Database, items: list[DeliverySpec], **content: Any) -> None:
    async with db.unit_of_work() as session:
        await delivery.enqueue(
            session,
            subject_type="warning",
            subject_id="w-1",
            kind="warning.publish",
            content=warning_content(**content),
            scope_path="331126/",
            items=items,
        )


async def _states(db: Database) -> list[tuple[str, str, str | None]]:
    async with db.unit_of_work(readonly=True) as session:
        rows = (await session.scalars(select(Delivery).order_by(Delivery.id))).all()
    return [(r.channel, r.state, r.error) for r in rows]


async def test_email_arrives_with_the_map_inline(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    with smtp_server() as (port, inbox):
        config = with_settings(
            settings, smtp_host="127.0.0.1", smtp_port=port, smtp_from="yj@example.org"
        )
        worker = DeliveryWorker(db, config)
        await _enqueue(
            db,
            [DeliverySpec("r1", "张三", [("email", "zhang@example.org")], ack_token="tokE")],
            headline="暴雨<b>橙色</b>预警",
        )
        await worker.run_due()
        await worker.stop()
    assert await _states(db) == [("email", "sent", None)]
    (message,) = inbox.messages
    assert inbox.envelopes == [("yj@example.org", ["zhang@example.org"])]
    assert message["Subject"] == "【橙色暴雨预警】暴雨<b>橙色</b>预警"
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and "https://yingji.example.org/ack/tokE" in plain.get_content()
    assert html is not None and "暴雨&lt;b&gt;橙色&lt;/b&gt;预警" in html.get_content()
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1 and images[0]["Content-ID"] == "<area-map>"
    assert images[0].get_payload(decode=True)[:8] == b"\x89PNG\r\n\x1a\n"


async def test_an_unreachable_smtp_server_is_retried(
    db: Database, settings: Settings, clock: ManualClock
) -> None:

    config = with_settings(settings, smtp_host="127.0.0.1", smtp_port=free_port())
    worker = DeliveryWorker(db, config)
    await _enqueue(db, [DeliverySpec("r1", "张三", [("email", "zhang@example.org")])])
    await worker.run_due()
    await worker.stop()
    assert await _states(db) == [("email", "queued", "email_unavailable")]


async def test_dingtalk_and_wecom_robots_get_a_card_with_the_ack_link(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    with http_gateway("/robot/send") as robot:
        config = with_settings(settings, notify_webhook_hosts=["127.0.0.1"])
        worker = DeliveryWorker(db, config)
        await _enqueue(
            db,
            [
                DeliverySpec("r1", "甲", [("dingtalk", robot.url)], ack_token="tokD"),
                DeliverySpec("r2", "乙", [("wecom", robot.url)], ack_token="tokW"),
                DeliverySpec("r3", "丙", [("dingtalk", "http://203.0.113.9/robot/send")]),
            ],
        )
        await worker.run_due()
        await worker.stop()
    assert await _states(db) == [
        ("dingtalk", "sent", None),
        ("wecom", "sent", None),
        ("dingtalk", "failed", "dingtalk_webhook_not_allowed"),
    ]
    # sent concurrently: in either order
    (ding,) = [r for r in robot.requests if r["msgtype"] == "actionCard"]
    (wecom,) = [r for r in robot.requests if r["msgtype"] == "markdown"]
    assert ding["actionCard"]["title"] == "橙色暴雨预警"
    assert ding["actionCard"]["singleURL"] == "https://yingji.example.org/ack/tokD"
    assert wecom["markdown"]["content"].endswith("(https://yingji.example.org/ack/tokW)")


async def test_a_robot_that_answers_an_error_code_is_retried(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    with http_gateway("/robot/send") as robot:
        robot.answer = {"errcode": 130101, "errmsg": "send too fast"}
        worker = DeliveryWorker(db, with_settings(settings, notify_webhook_hosts=["127.0.0.1"]))
        await _enqueue(db, [DeliverySpec("r1", "甲", [("dingtalk", robot.url)])])
        await worker.run_due()
        await worker.stop()
    assert await _states(db) == [("dingtalk", "queued", "dingtalk_errcode")]


def test_webhooks_only_to_the_allowed_hosts() -> None:
    hosts = ["oapi.dingtalk.com", "127.0.0.1"]
    assert webhook_allowed("https://oapi.dingtalk.com/robot/send?access_token=x", hosts)
    assert webhook_allowed("http://127.0.0.1:8080/robot", hosts)
    assert not webhook_allowed("http://oapi.dingtalk.com/robot/send", hosts)  # not https
    assert not webhook_allowed("https://evil.example/robot", hosts)
    assert not webhook_allowed("https://user:pw@oapi.dingtalk.com/", hosts)
    assert not webhook_allowed("file:///etc/passwd", hosts)


def test_the_idempotency_key_is_the_delivery() -> None:
    item = Outgoing(7, "sms", "1", "n", "r", "s", 0, "k", {}, None)
    assert item.idempotency_key == "delivery-7"


def test_the_map_is_drawn_once_per_message() -> None:

    maps = MapCache()
    content: dict[str, object] = dict(warning_content())
    first = maps.get(content)
    assert first is not None and maps.get(content) is first
    other: dict[str, object] = dict(warning_content(level="red"))
    assert maps.get(other) is not first
