"""The NATS JetStream bus against the real nats-server: events cross processes, in order,
and a durable subscriber that fails gets the event again."""

from __future__ import annotations

import asyncio
import os
import uuid

import nats
import pytest

from yingji.core import events
from yingji.core.db import Database
from yingji.core.events import DomainEvent, EventScope, NatsBus

NATS_URL = os.environ.get("YINGJI_TEST_NATS_URL", "nats://127.0.0.1:4222")


@pytest.fixture
async def stream() -> str:
    name = f"YINGJI_TEST_{uuid.uuid4().hex[:8].upper()}"
    yield name
    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().delete_stream(name)
    finally:
        await nc.close()


async def emit(db: Database, n: int) -> None:
    for i in range(n):
        async with db.unit_of_work() as session:
            await events.emit(
                session,
                type="test.happened",
                subject_type="thing",
                subject_id=i,
                payload={"n": i},
                scope=EventScope(division_path="331126/"),
            )


async def wait_for(predicate, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


async def test_events_reach_live_and_durable_subscribers_of_another_process(
    db: Database, stream: str, clock
) -> None:
    # "worker" relays the outbox to JetStream and runs a durable job; "api" only serves /ws
    worker, api = NatsBus(NATS_URL, stream), NatsBus(NATS_URL, stream)
    job_seen: list[int] = []
    ws_seen: list[int] = []
    failures = {"left": 1}

    async def job(event: DomainEvent) -> None:
        if event.payload["n"] == 2 and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("job failed once")
        job_seen.append(event.payload["n"])

    async def hub(event: DomainEvent) -> None:
        ws_seen.append(event.payload["n"])

    worker.subscribe(f"job-{stream.lower()}", job)
    api.subscribe("hub", hub, durable=False)
    api_db = Database(db.url)
    await worker.start(db, run_relay=True)
    await api.start(api_db, run_relay=False)
    try:
        await emit(api_db, 5)  # committed by the API process; its kick wakes the worker's relay
        await wait_for(lambda: len(ws_seen) == 5 and len(job_seen) == 5, timeout=10)
    finally:
        await api.stop()
        await worker.stop()
        await api_db.dispose()
    assert ws_seen == [0, 1, 2, 3, 4]
    assert job_seen == [0, 1, 2, 3, 4]  # 2 failed once, was redelivered, and 3 waited for it


async def test_relay_that_republishes_after_a_crash_creates_no_duplicate(
    db: Database, stream: str, clock
) -> None:
    relay = NatsBus(NATS_URL, stream)
    await relay.start(db, run_relay=False)
    await emit(db, 3)
    await relay.pump()
    # the crash: the cursor was not saved, so the next relay publishes the same events again
    async with db.unit_of_work() as session:
        cursor = await session.get(events.OutboxCursor, "jetstream")
        assert cursor is not None
        cursor.last_id -= 3
    await relay.pump()
    info = await relay.js.stream_info(stream)
    await relay.stop()
    assert info.state.messages == 3
