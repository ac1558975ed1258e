"""Deliveries: the bulk enqueue, the sender (in-app batches, gateways, retries, fallbacks,
throttles, leases) and receipts — against a real SMS/voice gateway on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from tests.factories import make_county_with_two_towns, make_user
from tests.notify.peers import http_gateway, warning_content, with_settings
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.events import OutboxEvent
from yingji.notify import delivery
from yingji.notify.delivery import DeliverySpec, DeliveryWorker
from yingji.notify.models import Delivery, Notification, OutboundMessage
from yingji.settings import Settings

SECRET = "receipt-secret-0123456789"
PATH = "331126/"


async def _enqueue(db: Database, items: list[DeliverySpec], **content: Any) -> uuid.UUID:
    async with db.unit_of_work() as session:
        return await delivery.enqueue(
            session,
            subject_type="warning",
            subject_id="w-1",
            kind="warning.publish",
            content=warning_content(**content),
            scope_path=PATH,
            items=items,
        )


async def _rows(db: Database) -> list[Delivery]:
    async with db.unit_of_work(readonly=True) as session:
        return list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())


async def _events(db: Database, type_: str) -> list[OutboxEvent]:
    async with db.unit_of_work(readonly=True) as session:
        rows = await session.scalars(select(OutboxEvent).where(OutboxEvent.type == type_))
        return list(rows.all())


async def test_enqueue_writes_one_message_and_a_row_per_recipient_first_channel(
    db: Database, clock: ManualClock
) -> None:
    message_id = await _enqueue(
        db,
        [
            DeliverySpec("r1", "张三", [("sms", "13800000001"), ("voice", "13800000001")]),
            DeliverySpec("r2", "李四", [("email", "li@example.org")], ack_token="tok2"),
            DeliverySpec("r3", "无人", []),  # nothing to reach them on: no row
            DeliverySpec("r4", "无账号", [("app", ""), ("sms", "13800000004")]),  # no user: sms
        ],
    )
    rows = await _rows(db)
    assert [(r.recipient_ref, r.channel, r.state) for r in rows] == [
        ("r1", "sms", "queued"),
        ("r2", "email", "queued"),
        ("r4", "sms", "queued"),
    ]
    assert rows[0].fallbacks == [{"channel": "voice", "address": "13800000001"}]
    assert rows[1].ack_token == "tok2" and rows[1].fallbacks == []
    assert all(r.message_id == message_id and r.due_at is not None for r in rows)
    async with db.unit_of_work(readonly=True) as session:
        message = await session.get(OutboundMessage, message_id)
        assert message is not None and message.content["scope_path"] == PATH
        assert await delivery.counts(session, subject_id="w-1") == {
            "queued": 3,
            "sending": 0,
            "sent": 0,
            "delivered": 0,
            "failed": 0,
            "cancelled": 0,
        }
        listed, total = await delivery.list_deliveries(
            session, subject_id="w-1", recipient_ref="r2", offset=0, limit=10
        )
        assert total == 1 and listed[0].channel == "email"
    async with db.unit_of_work() as session:
        assert await delivery.cancel_queued(session, subject_id="w-1", recipient_ref="r1") == 1
        assert await delivery.cancel_queued(session, subject_id="w-1") == 2
    assert {r.state for r in await _rows(db)} == {"cancelled"}


async def test_enqueue_of_many_is_one_call(db: Database, clock: ManualClock) -> None:
    items = [DeliverySpec(f"r{i}", f"人{i}", [("sms", f"1380000{i:04d}")]) for i in range(12_000)]
    started = time.perf_counter()
    await _enqueue(db, items)
    elapsed = time.perf_counter() - started
    async with db.unit_of_work(readonly=True) as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 12_000
    assert elapsed < 20, elapsed


async def test_in_app_deliveries_are_notifications_told_in_one_event(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    a = await make_user(db, "leader_a", roles=["duty_leader"], division="331126101000")
    b = await make_user(db, "leader_b", roles=["duty_leader"], division="331126102000")
    await _enqueue(
        db,
        [DeliverySpec(str(u.id), u.display_name, [("app", "")], user_id=u.id) for u in (a, b)],
    )
    worker = DeliveryWorker(db, with_settings(settings), channels={})
    assert await worker.run_due() == 2
    assert {r.state for r in await _rows(db)} == {"delivered"}
    async with db.unit_of_work(readonly=True) as session:
        notes = (await session.scalars(select(Notification))).all()
    assert sorted(n.user_id for n in notes) == sorted([a.id, b.id])
    assert notes[0].title == "橙色暴雨预警" and "暴雨橙色预警" in notes[0].body
    told = await _events(db, "notify.created")
    assert len(told) == 1 and sorted(told[0].user_ids or []) == sorted([str(a.id), str(b.id)])
    progress = await _events(db, "notify.deliveries.progress")
    assert progress and progress[-1].payload["counts"]["delivered"] == 2
    assert progress[-1].division_path == PATH
    assert await worker.run_due() == 0  # nothing twice


async def test_sms_goes_to_the_gateway_and_its_receipt_marks_it_delivered(
    db: Database, settings: Settings, clock: ManualClock, client: httpx.AsyncClient, app: Any
) -> None:
    with http_gateway() as gateway:
        config = with_settings(
            settings,
            sms_gateway_url=gateway.url,
            sms_gateway_token="gw-token",
            notify_receipt_secret=SECRET,
        )
        app.state.settings = config
        await _enqueue(
            db, [DeliverySpec("r1", "张三", [("sms", "138 0000 0001")], ack_token="tokA")]
        )
        worker = DeliveryWorker(app.state.db, config)
        try:
            assert await worker.run_due() == 1
        finally:
            await worker.stop()
        assert len(gateway.sent) == 1
        body = gateway.sent[0]
        assert body["to"] == "13800000001" and body["id"] == gateway.keys[0]
        assert body["text"].startswith("【庆元县应急管理局】橙色暴雨预警：")
        assert body["text"].endswith("https://yingji.example.org/ack/tokA")
        assert gateway.headers[0]["Authorization"] == "Bearer gw-token"
        (row,) = await _rows(db)
        assert row.state == "sent" and row.gateway_ref == "gw-1" and row.tries == 1

        wrong = await client.post(
            "/api/v1/notify/receipts/sms",
            json={"ref": body["id"], "status": "delivered"},
            headers={"X-Yingji-Receipt-Secret": "nope"},
        )
        assert (
            wrong.status_code == 401 and wrong.json()["error"]["code"] == "receipt_secret_invalid"
        )
        unknown = await client.post(
            "/api/v1/notify/receipts/sms",
            json={"ref": "delivery-999", "status": "delivered"},
            headers={"X-Yingji-Receipt-Secret": SECRET},
        )
        assert unknown.status_code == 404
        huge = await client.post(
            "/api/v1/notify/receipts/sms",
            json={"ref": "delivery-" + "9" * 40, "status": "delivered"},
            headers={"X-Yingji-Receipt-Secret": SECRET},
        )
        assert huge.status_code == 404
        bad = await client.post(
            "/api/v1/notify/receipts/sms",
            json={"ref": "x" * 201, "status": "delivered"},
            headers={"X-Yingji-Receipt-Secret": SECRET},
        )
        assert bad.status_code == 422
        assert (await _rows(db))[0].state == "sent"  # refused receipts changed nothing
        ok = await client.post(
            "/api/v1/notify/receipts/sms",
            json={"ref": "gw-1", "status": "delivered"},
            headers={"X-Yingji-Receipt-Secret": SECRET},
        )
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"delivery_id": row.id, "state": "delivered", "changed": True}
        (row,) = await _rows(db)
        assert row.state == "delivered" and row.delivered_at is not None


async def test_voice_key_pressed_is_told_once_and_is_no_delivery_of_its_own(
    db: Database, settings: Settings, clock: ManualClock, client: httpx.AsyncClient, app: Any
) -> None:
    with http_gateway() as gateway:
        config = with_settings(
            settings, voice_gateway_url=gateway.url, notify_receipt_secret=SECRET
        )
        app.state.settings = config
        await _enqueue(db, [DeliverySpec("r9", "王五", [("voice", "13800000009")], ack_token="t")])
        worker = DeliveryWorker(app.state.db, config)
        try:
            await worker.run_due()
        finally:
            await worker.stop()
        (spoken,) = gateway.sent
        assert spoken["keys"] == ["1"] and "确认收到请按1" in spoken["text"]
        assert "http" not in spoken["text"] and "【" not in spoken["text"]
        for _ in range(2):
            response = await client.post(
                "/api/v1/notify/receipts/voice",
                json={"ref": spoken["id"], "status": "delivered", "key": "1"},
                headers={"X-Yingji-Receipt-Secret": SECRET},
            )
            assert response.status_code == 200, response.text
    answered = await _events(db, "notify.delivery.answered")
    assert len(answered) == 1
    assert answered[0].payload["key"] == "1" and answered[0].payload["recipient_ref"] == "r9"
    assert answered[0].payload["subject_id"] == "w-1" and answered[0].division_path == PATH


async def test_failures_are_retried_with_backoff_then_sent(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    with http_gateway() as gateway:
        gateway.fail_with = [503, 503]
        worker = DeliveryWorker(db, with_settings(settings, sms_gateway_url=gateway.url))
        await _enqueue(db, [DeliverySpec("r1", "张三", [("sms", "13800000001")])])
        await worker.run_due()
        (row,) = await _rows(db)
        assert row.state == "queued" and row.error == "sms_unavailable" and row.tries == 1
        assert row.due_at == clock.now() + timedelta(seconds=10)
        assert await worker.run_due() == 0  # not yet due
        clock.advance(10)
        await worker.run_due()
        (row,) = await _rows(db)
        assert row.due_at == clock.now() + timedelta(seconds=20)  # doubled
        clock.advance(20)
        await worker.run_due()
        await worker.stop()
        (row,) = await _rows(db)
        assert row.state == "sent" and row.tries == 3 and row.error is None
        # three tries, one idempotency key: the phone gets one message
        assert len(set(gateway.keys)) == 1 and len(gateway.sent) == 1


async def test_failed_for_good_falls_back_to_the_next_channel_then_tells(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    with http_gateway() as gateway:
        gateway.fail_with = [400]  # the SMS gateway refuses the number: no retry
        config = with_settings(settings, sms_gateway_url=gateway.url)  # no SMTP: e-mail fails
        worker = DeliveryWorker(db, config)
        await _enqueue(
            db,
            [
                DeliverySpec(
                    "r1",
                    "张三",
                    [("email", "z@example.org"), ("sms", "13800000001"), ("voice", "1380001")],
                )
            ],
        )
        await worker.run_due()  # e-mail: channel_not_configured → sms queued
        await worker.run_due()  # sms refused → voice (not configured) queued
        await worker.run_due()  # voice fails → nothing left
        await worker.stop()
    rows = await _rows(db)
    assert [(r.channel, r.state, r.error) for r in rows] == [
        ("email", "failed", "channel_not_configured"),
        ("sms", "failed", "sms_refused"),
        ("voice", "failed", "channel_not_configured"),
    ]
    assert rows[1].fallbacks == [{"channel": "voice", "address": "1380001"}]
    failed = await _events(db, "notify.delivery.failed")
    assert len(failed) == 1 and failed[0].payload["delivery_id"] == rows[2].id
    assert failed[0].payload["error"] == "channel_not_configured"


async def test_a_worker_killed_mid_send_is_taken_over_and_nothing_is_doubled(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    with http_gateway() as gateway:
        config = with_settings(settings, sms_gateway_url=gateway.url, notify_lease_seconds=30)
        first = DeliveryWorker(db, config, name="first")
        await _enqueue(
            db, [DeliverySpec(f"r{i}", "人", [("sms", f"1380000000{i}")]) for i in range(3)]
        )
        claimed, token = await first._claim()
        assert len(claimed) == 3
        # it sent one, then died before marking anything
        outcome = await first._send_one(claimed[0])
        assert outcome.sent is not None
        assert {r.state for r in await _rows(db)} == {"sending"}
        second = DeliveryWorker(db, config, name="second")
        assert await second.run_due() == 0  # the lease holds
        clock.advance(31)
        assert await second.run_due() == 3
        # the dead worker's late mark changes nothing: its claim token is stale
        await first._mark([outcome], token)
        await first.stop()
        await second.stop()
    rows = await _rows(db)
    assert {(r.state, r.claimed_by, r.tries) for r in rows} == {("sent", "second", 2)}
    assert len(gateway.requests) == 4 and len(set(gateway.keys)) == 3
    assert len(gateway.sent) == 3  # the gateway's idempotency key held the repeat


async def test_a_throttled_channel_keeps_its_rate(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    with http_gateway() as gateway:
        config = with_settings(settings, sms_gateway_url=gateway.url, notify_rates={"sms": 20.0})
        worker = DeliveryWorker(db, config)
        await _enqueue(
            db, [DeliverySpec(f"r{i}", "人", [("sms", f"138000000{i:02d}")]) for i in range(11)]
        )
        started = time.perf_counter()
        assert await worker.run_due() == 11
        elapsed = time.perf_counter() - started
        await worker.stop()
    assert len(gateway.sent) == 11
    assert elapsed >= 0.45, elapsed  # 11 sends at 20/s: at least 10 intervals of 50 ms


async def test_the_running_worker_wakes_after_an_enqueue_commits(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    user = await make_user(db, "leader_a", roles=["duty_leader"], division="331126101000")
    worker = DeliveryWorker(db, with_settings(settings, notify_poll_seconds=30), channels={})
    worker.start()
    try:
        await asyncio.sleep(0.1)  # its first pass found nothing and waits 30 s
        await _enqueue(db, [DeliverySpec("r1", "甲", [("app", "")], user_id=user.id)])
        for _ in range(100):
            if (await _rows(db))[0].state == "delivered":
                break
            await asyncio.sleep(0.02)
    finally:
        await worker.stop()
    assert (await _rows(db))[0].state == "delivered"


async def test_an_address_that_is_no_phone_number_fails_at_once(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    """An address that is no phone number fails at once, without calling the gateway."""
    with http_gateway() as gateway:
        worker = DeliveryWorker(db, with_settings(settings, sms_gateway_url=gateway.url))
        await _enqueue(db, [DeliverySpec("r1", "张三", [("sms", "not-a-number")])])
        await worker.run_due()
        await worker.stop()
        assert gateway.requests == []
    (row,) = await _rows(db)
    assert row.state == "failed" and row.error == "sms_address_invalid"


async def test_an_in_app_delivery_whose_account_is_gone_falls_back(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    user = await make_user(db, "leader_a", roles=["duty_leader"], division="331126101000")
    await _enqueue(
        db,
        [DeliverySpec("r1", "甲", [("app", ""), ("sms", "13800000001")], user_id=user.id)],
    )
    async with db.unit_of_work() as session:
        await session.execute(update(Delivery).values(user_id=None))  # as ON DELETE SET NULL
    worker = DeliveryWorker(db, with_settings(settings), channels={})
    await worker.run_due()
    await worker.stop()
    rows = await _rows(db)
    assert [(r.channel, r.state, r.error) for r in rows] == [
        ("app", "failed", "no_account"),
        ("sms", "failed", "channel_not_configured"),
    ]
    async with db.unit_of_work(readonly=True) as session:
        assert await session.scalar(select(func.count()).select_from(Notification)) == 0


def test_serve_and_worker_run_the_sender_and_the_device_listener(
    db: Database, settings: Settings
) -> None:
    from yingji.app import background_workers
    from yingji.notify.devices import DeviceListener

    kinds = {type(w) for w in background_workers(db, settings)}
    assert {DeliveryWorker, DeviceListener} <= kinds


async def test_a_receipt_for_a_try_that_timed_out_here_counts(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    with http_gateway() as gateway:
        gateway.fail_with = [503]  # as if the gateway took it but its answer got lost
        worker = DeliveryWorker(db, with_settings(settings, sms_gateway_url=gateway.url))
        await _enqueue(db, [DeliverySpec("r1", "张三", [("sms", "13800000001")])])
        await worker.run_due()
        await worker.stop()
    (row,) = await _rows(db)
    assert row.state == "queued" and row.tries == 1
    async with db.unit_of_work() as session:
        found = await delivery.find_by_ref(session, channel="sms", ref=f"delivery-{row.id}")
        assert found is not None
        facts = await delivery.apply_receipt(session, row=found, delivered=True)
    assert facts["state"] == "delivered"
    clock.advance(60)
    assert await DeliveryWorker(db, with_settings(settings), channels={}).run_due() == 0
