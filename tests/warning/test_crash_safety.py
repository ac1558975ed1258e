"""Crash safety of publication and 叫应: a real ``yingji worker`` process is SIGKILLed while it
sends a warning's deliveries, and again while it runs 叫应 chains (repeats and escalations);
another worker is started on the same database and finishes. Sends are counted at a real peer (a
local HTTP SMS/voice gateway, ``bench.gateway``) by idempotency key (the delivery id); the 叫应
chain is read from the tables.

Nothing may be lost (every delivery sent, every chain step taken) and nothing doubled (one
delivery row per recipient/channel/step, every key the gateway saw is a delivery's, a key resent
only when the killed worker had it in flight, one call event per person, kind and step).

The publication is made through the API (an app in this process, no worker); the workers are
separate OS processes with a short claim lease so that rows the killed one held are taken over
within seconds. 叫应 waits are minutes long: the test pulls each open step's timer forward
to now instead of waiting (the worker's own clock decides everything else).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from bench import directory
from bench.gateway import Gateway
from tests.conftest import YINGJI, served_env
from yingji.app import create_app
from yingji.core import clock
from yingji.core.db import Database
from yingji.core.timers import OPEN_STATES, PENDING, Timer
from yingji.notify.models import Delivery, DeliveryState
from yingji.settings import Settings
from yingji.warning.models import CallEvent, WarningRecipient

LEASE_SECONDS = "5"  # the workers' delivery claim lease (the least allowed)
TIMER_LEASE_SECONDS = "5"  # and their timer claim lease
STEP_TIMER = "warning.call_step"
SENT = (DeliveryState.SENT.value, DeliveryState.DELIVERED.value)
OPEN_DELIVERY = (DeliveryState.QUEUED.value, DeliveryState.SENDING.value)


# --- the harness -------------------------------------------------------------------------------


class Worker:
    """A ``yingji worker`` OS process on the test's database."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as sink:
            self.proc = subprocess.Popen(  # noqa: S603 - our own console script
                [YINGJI, "worker"], env=env, stdout=sink, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        """SIGKILL: nothing is finished, nothing released."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def worker_env(settings: Settings, gateway: Gateway) -> dict[str, str]:
    return served_env(
        settings.database_url,
        YINGJI_SECRET_KEY=settings.secret_key,
        YINGJI_TIMER_LEASE_SECONDS=TIMER_LEASE_SECONDS,
        YINGJI_TIMER_POLL_SECONDS="0.1",
        YINGJI_SMS_GATEWAY_URL=gateway.url,
        YINGJI_VOICE_GATEWAY_URL=gateway.url,
        YINGJI_NOTIFY_LEASE_SECONDS=LEASE_SECONDS,
        YINGJI_NOTIFY_POLL_SECONDS="0.1",
        YINGJI_NOTIFY_RETRY_SECONDS="0.5",
        YINGJI_PUBLIC_URL="http://127.0.0.1:9",
    )


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app in this process on the real clock, without a worker (the workers are processes)."""
    application = create_app(settings, run_worker=False)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def until(
    check: Callable[[], Awaitable[bool]], seconds: float, what: str, *logs: Path
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await check():
        if loop.time() > deadline:
            tails = "\n".join(f"{log.name}: {log.read_text()[-3000:]}" for log in logs)
            pytest.fail(f"not within {seconds:g} s: {what}\n{tails}")
        await asyncio.sleep(0.1)


async def bearer(api: httpx.AsyncClient, username: str) -> dict[str, str]:
    answer = await api.post(
        "/api/v1/auth/token", data={"username": username, "password": directory.PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def publish(api: httpx.AsyncClient, made: directory.Directory, level: str) -> str:
    """A warning over the generated province, through draft → submit → approve → sign →
    publish by the desk's officer and commander; its id."""
    officer = await bearer(api, "bench_officer")
    commander = await bearer(api, "bench_commander")
    now = clock.now()
    answer = await api.post(
        "/api/v1/warnings",
        headers=officer,
        json={
            "type_code": "rainstorm",
            "level": level,
            "headline": "暴雨预警（崩溃测试）",
            "description": "预计未来6小时有暴雨。",
            "instruction": "做好防御准备。",
            "issuer": "浙江省应急管理厅",
            "area_desc": directory.PROVINCE_NAME,
            "area_adcodes": [made.province],
            "division_adcode": made.province,
            "onset_at": now.isoformat(),
            "expires_at": (now + timedelta(hours=6)).isoformat(),
        },
    )
    assert answer.status_code == 201, answer.text
    warning = answer.json()
    for step, who in (
        ("submit", officer),
        ("approve", commander),
        ("sign", commander),
        ("publish", officer),
    ):
        answer = await api.post(
            f"/api/v1/warnings/{warning['id']}/{step}",
            headers=who,
            json={"version": warning["version"]},
        )
        assert answer.status_code == 200, (step, answer.text)
        warning = answer.json()
    assert warning["state"] == "published"
    return str(warning["id"])


async def delivery_counts(db: Database, warning_id: str) -> Counter[str]:
    async with db.unit_of_work(readonly=True) as session:
        rows = await session.execute(
            select(Delivery.state, func.count())
            .where(Delivery.subject_id == warning_id)
            .group_by(Delivery.state)
        )
        return Counter({state: int(n) for state, n in rows.all()})


async def gateway_deliveries(db: Database, warning_id: str) -> dict[str, Any]:
    """The warning's SMS/voice deliveries by idempotency key (``delivery-<id>``, as the gateway
    channel sends it): state, recipient and channel."""
    async with db.unit_of_work(readonly=True) as session:
        rows = await session.execute(
            select(Delivery.id, Delivery.state, Delivery.recipient_ref, Delivery.channel)
            .where(Delivery.subject_id == warning_id, Delivery.channel.in_(("sms", "voice")))
            .order_by(Delivery.id)
        )
        return {f"delivery-{i}": (state, ref, channel) for i, state, ref, channel in rows.all()}


# --- publication --------------------------------------------------------------------------------


async def test_a_worker_killed_mid_publication_loses_and_doubles_no_delivery(
    db: Database, settings: Settings, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    made = await directory.generate(db, 120, contacts=("sms",), accounts=True)
    # blue: no 叫应 plan, so every delivery is the publication's (step 0), first channel SMS
    warning_id = await publish(api, made, "blue")
    expected = await gateway_deliveries(db, warning_id)
    assert len(expected) >= made.shape.people  # one SMS delivery per generated person
    with Gateway(delay=0.03) as gateway:
        env = worker_env(settings, gateway)
        first = Worker(env, tmp_path / "worker-1.log")
        try:
            await until(
                lambda: asyncio.sleep(0, gateway.distinct() >= len(expected) // 3),
                30,
                "the first worker sent a third of the SMS",
                first.log,
            )
            first.kill()
        finally:
            first.stop()
        in_flight = {
            key
            for key, (state, _ref, _channel) in (await gateway_deliveries(db, warning_id)).items()
            if state == DeliveryState.SENDING.value
        }
        sent_before = gateway.distinct()
        assert sent_before < len(expected), "the kill came after the last send"
        second = Worker(env, tmp_path / "worker-2.log")
        try:

            async def finished() -> bool:
                counts = await delivery_counts(db, warning_id)
                return not any(counts[s] for s in OPEN_DELIVERY)

            await until(finished, 40, "every delivery sent after the restart", second.log)
        finally:
            second.stop()
        after = await gateway_deliveries(db, warning_id)
        # nothing lost: every SMS delivery is sent, and the gateway got each one's key
        assert {k: v[0] for k, v in after.items() if v[0] not in SENT} == {}
        assert set(gateway.sends) == set(after), "keys the gateway never got, or unknown keys"
        assert gateway.unkeyed == 0
        # nothing doubled: one delivery per recipient and channel at step 0; a key twice at the
        # gateway only if the killed worker had it in flight (the gateway keeps it once)
        per_recipient = Counter((ref, channel) for _state, ref, channel in after.values())
        assert max(per_recipient.values()) == 1
        assert set(gateway.doubled()) <= in_flight
        assert len(after) == len(expected)


# --- 叫应 ----------------------------------------------------------------------------------------


async def pull_step_timers_forward(db: Database) -> int:
    """Every open 叫应 step timer made due now (the plan's minutes are not waited for)."""
    async with db.unit_of_work() as session:
        result = await session.execute(
            update(Timer)
            .where(Timer.kind == STEP_TIMER, Timer.state == PENDING, Timer.due_at > clock.now())
            .values(due_at=clock.now())
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


async def open_step_timers(db: Database) -> int:
    async with db.unit_of_work(readonly=True) as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Timer)
                .where(Timer.kind == STEP_TIMER, Timer.state.in_(OPEN_STATES))
            )
            or 0
        )


async def chain_steps(db: Database, warning_id: uuid.UUID) -> list[tuple[str, str, int]]:
    """(recipient id, kind, step) of every call event of the warning."""
    async with db.unit_of_work(readonly=True) as session:
        rows = await session.execute(
            select(CallEvent.recipient_id, CallEvent.kind, CallEvent.step).where(
                CallEvent.warning_id == warning_id
            )
        )
        return [(str(r), k, int(s)) for r, k, s in rows.all()]


async def test_a_worker_killed_mid_escalation_misses_and_doubles_no_step(
    db: Database, settings: Settings, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    made = await directory.generate(db, 40, contacts=("sms",), accounts=True)
    warning_id = uuid.UUID(await publish(api, made, "orange"))  # the default orange plan: 叫应
    async with db.unit_of_work(readonly=True) as session:
        plan = (
            await session.execute(
                select(WarningRecipient.id).where(
                    WarningRecipient.warning_id == warning_id, WarningRecipient.must_ack
                )
            )
        ).all()
    called = len(plan)
    assert called > 0
    with Gateway() as gateway:
        env = worker_env(settings, gateway)
        first = Worker(env, tmp_path / "worker-1.log")
        try:

            async def escalating() -> bool:
                await pull_step_timers_forward(db)
                kinds = Counter(kind for _r, kind, _s in await chain_steps(db, warning_id))
                return kinds["escalate"] >= 1

            await until(escalating, 40, "the first worker escalated a chain", first.log)
            first.kill()
        finally:
            first.stop()
        in_flight = {
            key
            for key, (state, _ref, _channel) in (
                await gateway_deliveries(db, str(warning_id))
            ).items()
            if state == DeliveryState.SENDING.value
        }
        second = Worker(env, tmp_path / "worker-2.log")
        try:
            quiet = 0

            async def settled() -> bool:
                nonlocal quiet
                await pull_step_timers_forward(db)
                counts = await delivery_counts(db, str(warning_id))
                open_deliveries = sum(counts[s] for s in OPEN_DELIVERY)
                quiet = quiet + 1 if not await open_step_timers(db) and not open_deliveries else 0
                return quiet >= 5

            await until(
                settled, 45, "every 叫应 chain ran to its end after the restart", second.log
            )
        finally:
            second.stop()
    steps = await chain_steps(db, warning_id)
    # nothing doubled: one event per person, kind and step
    doubled = {k: n for k, n in Counter(steps).items() if n > 1}
    assert doubled == {}
    # nothing missed: nobody answered, so every called person (including those added by
    # escalation) has had the call, every repeat, and then an escalation or the chain's end
    async with db.unit_of_work(readonly=True) as session:
        recipients = (
            await session.execute(
                select(WarningRecipient.id, WarningRecipient.call_state).where(
                    WarningRecipient.warning_id == warning_id, WarningRecipient.must_ack
                )
            )
        ).all()
    by_person: dict[str, Counter[str]] = {}
    for recipient, kind, _step in steps:
        by_person.setdefault(recipient, Counter())[kind] += 1
    repeats = 2  # the default orange plan (catalogue.DEFAULT_CALL_STEPS)
    for recipient, call_state in recipients:
        seen = by_person.get(str(recipient), Counter())
        assert seen["call"] == 1, (recipient, seen)
        assert seen["repeat"] == repeats, (recipient, seen)
        assert seen["escalate"] + seen["exhausted"] == 1, (recipient, seen)
        assert call_state in ("escalated", "exhausted"), (recipient, call_state)
    assert len(recipients) > called, "escalation added nobody"
    # every call, repeat and escalation delivery on SMS/voice reached the gateway, once per key
    # but for those the killed worker had in flight
    sent = await gateway_deliveries(db, str(warning_id))
    assert {k: v[0] for k, v in sent.items() if v[0] not in SENT} == {}
    assert set(gateway.sends) == set(sent)
    assert set(gateway.doubled()) <= in_flight
    assert gateway.unkeyed == 0
