from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from datetime import timedelta

from sqlalchemy import select

from yingji.core import events, metrics
from yingji.core.db import Database
from yingji.core.events import Bus, DomainEvent, EventScope, OutboxCursor


async def emit_many(db: Database, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        async with db.unit_of_work() as session:
            await events.emit(
                session,
                type="test.happened",
                subject_type="thing",
                subject_id=i,
                payload={"n": i},
                scope=EventScope(division_path="331126/"),
            )


async def test_durable_subscriber_gets_events_in_commit_order(db: Database, clock) -> None:
    seen: list[int] = []

    async def handler(event: DomainEvent) -> None:
        seen.append(event.payload["n"])

    bus = Bus()
    bus.subscribe("test.durable", handler)
    await bus.start(db, run_relay=True)
    try:
        await emit_many(db, 50)
        for _ in range(100):
            if len(seen) == 50:
                break
            await asyncio.sleep(0.02)
    finally:
        await bus.stop()
    assert seen == list(range(50))


async def test_event_rolled_back_with_its_transaction_is_never_delivered(
    db: Database, clock
) -> None:
    seen: list[int] = []

    async def handler(event: DomainEvent) -> None:
        seen.append(event.payload["n"])

    bus = Bus()
    bus.subscribe("test.durable", handler)
    await bus.start(db, run_relay=False)
    try:
        async with db.unit_of_work() as session:
            await events.emit(
                session, type="test.happened", subject_type="thing", subject_id=1, payload={"n": 1}
            )
            raise RuntimeError("the flow failed")
    except RuntimeError:
        pass
    await emit_many(db, 1, start=2)
    await bus.deliver_durable(bus.subscriptions[0])
    await bus.stop()
    assert seen == [2]


async def test_failing_subscriber_gets_the_event_again_and_later_ones_wait(
    db: Database, clock
) -> None:
    seen: list[int] = []
    fail = {"on": 3, "times": 2}

    async def handler(event: DomainEvent) -> None:
        n = event.payload["n"]
        if n == fail["on"] and fail["times"] > 0:
            fail["times"] -= 1
            raise RuntimeError("subscriber down")
        seen.append(n)

    bus = Bus()
    bus.subscribe("test.flaky", handler)
    await bus.start(db, run_relay=False)
    await emit_many(db, 6)
    sub = bus.subscriptions[0]
    await bus.deliver_durable(sub)
    assert seen == [0, 1, 2]  # stopped at 3, nothing after it was skipped
    async with db.unit_of_work(readonly=True) as session:
        cursor = await session.get(OutboxCursor, "test.flaky")
        assert cursor is not None and cursor.failures == 1 and cursor.retry_at is not None
    assert await bus.deliver_durable(sub) == 0  # backing off
    clock.advance(3)
    await bus.deliver_durable(sub)
    clock.advance(5)
    await bus.deliver_durable(sub)
    await bus.stop()
    assert seen == [0, 1, 2, 3, 4, 5]


async def test_durable_cursor_resumes_after_a_restart(db: Database, clock) -> None:
    seen: list[int] = []

    async def handler(event: DomainEvent) -> None:
        seen.append(event.payload["n"])

    first = Bus()
    first.subscribe("test.resume", handler)
    await first.start(db, run_relay=False)
    await emit_many(db, 3)
    await first.deliver_durable(first.subscriptions[0])
    await first.stop()
    await emit_many(db, 3, start=3)  # committed while no relay ran
    second = Bus()
    second.subscribe("test.resume", handler)
    await second.start(db, run_relay=False)
    await second.deliver_durable(second.subscriptions[0])
    await second.stop()
    assert seen == [0, 1, 2, 3, 4, 5]
    async with db.unit_of_work(readonly=True) as session:
        last = await session.scalar(
            select(OutboxCursor.last_id).where(OutboxCursor.subscriber == "test.resume")
        )
    assert last == 6


async def test_live_subscriber_is_called_within_milliseconds_of_commit(db: Database, clock) -> None:
    got = asyncio.Event()
    received: list[DomainEvent] = []

    async def live(event: DomainEvent) -> None:
        received.append(event)
        got.set()

    bus = Bus()
    bus.RELAY_POLL_SECONDS = 30  # prove the commit wakes the relay, not the poll
    bus.subscribe("test.live", live, durable=False)
    await bus.start(db, run_relay=True)
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await emit_many(db, 1)
        await asyncio.wait_for(got.wait(), timeout=2)
        elapsed = loop.time() - started
    finally:
        await bus.stop()
    assert received[0].scope.division_path == "331126/"
    assert elapsed < 2


async def test_a_burst_of_commits_is_relayed_in_a_few_passes_every_event_in_order(
    db: Database, clock
) -> None:
    """Under load one read of the outbox serves the commits that gathered since the last pass,
    instead of one pass (one read transaction) per commit."""
    received: list[int] = []

    async def live(event: DomainEvent) -> None:
        received.append(event.payload["n"])

    class CountingBus(Bus):
        RELAY_GATHER_SECONDS = 0.2
        busy_passes = 0

        async def pump(self) -> int:
            handled = await super().pump()
            self.busy_passes += handled > 0
            return handled

    bus = CountingBus()
    bus.subscribe("test.live", live, durable=False)
    await bus.start(db, run_relay=True)
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await emit_many(db, 30)
        burst = loop.time() - started
        for _ in range(200):
            if len(received) == 30:
                break
            await asyncio.sleep(0.02)
    finally:
        await bus.stop()
    assert received == list(range(30))
    assert bus.busy_passes <= burst / bus.RELAY_GATHER_SECONDS + 2


async def test_idle_relay_waits_instead_of_spinning_on_its_own_commits(
    db: Database,
    clock,
) -> None:
    async def handler(event: DomainEvent) -> None:
        return None

    bus = Bus()
    bus.RELAY_POLL_SECONDS = 0.2
    bus.subscribe("test.idle", handler)
    passes = 0
    pump = bus.pump

    async def counting_pump() -> int:
        nonlocal passes
        passes += 1
        return await pump()

    bus.pump = counting_pump
    await bus.start(db, run_relay=True)
    try:
        await asyncio.sleep(1.0)
    finally:
        await bus.stop()
    assert passes <= 7  # one per poll (0.2 s), not one per cursor commit


async def _cursor_of(db: Database, name: str) -> int:
    async with db.unit_of_work(readonly=True) as session:
        last = await session.scalar(
            select(OutboxCursor.last_id).where(OutboxCursor.subscriber == name)
        )
    return int(last or 0)


async def _eventually(check) -> bool:
    for _ in range(150):
        if await check():
            return True
        await asyncio.sleep(0.02)
    return False


@contextlib.asynccontextmanager
async def _picky_relay(
    db: Database, idle_advance: float = 0.3
) -> AsyncIterator[tuple[Bus, Counter[int], list[str]]]:
    """A running relay with one durable subscriber that wants only ``wanted.*`` events; with a
    count of how often each outbox row was read (live fan-out and deliveries alike) and the
    types the subscriber got."""
    seen: list[str] = []

    async def handler(event: DomainEvent) -> None:
        seen.append(event.type)

    bus = Bus()
    bus.RELAY_POLL_SECONDS = 0.05
    bus.IDLE_ADVANCE_SECONDS = idle_advance
    bus.subscribe("test.picky", handler, types=("wanted.",))
    reads: Counter[int] = Counter()
    read_after = bus._read_after

    async def counting_read(last_id: int, limit: int) -> list[DomainEvent]:
        found = await read_after(last_id, limit)
        reads.update(event.id for event in found)
        return found

    bus._read_after = counting_read
    await bus.start(db, run_relay=True)
    try:
        yield bus, reads, seen
    finally:
        await bus.stop()


async def test_subscriber_is_left_alone_while_only_events_it_ignores_arrive(
    db: Database, clock
) -> None:
    """No lease and no cursor write per commit for a subscriber that ignores the traffic; the
    cursor catches up within the idle interval, and an event it wants is delivered at once."""

    def cursor() -> Awaitable[int]:
        return _cursor_of(db, "test.picky")

    await emit_many(db, 1)
    async with _picky_relay(db, idle_advance=0.5) as (_bus, _reads, seen):
        await emit_many(db, 1, start=1)
        assert await _eventually(lambda: _equals(cursor(), 2))  # first pass: leased, moved on
        await emit_many(db, 5, start=2)
        await asyncio.sleep(0.2)
        assert await cursor() == 2  # ignored traffic: the cursor was not written
        assert await _eventually(lambda: _equals(cursor(), 7))  # … until the idle interval
        async with db.unit_of_work() as session:
            await events.emit(
                session, type="wanted.thing", subject_type="thing", subject_id=9, payload={}
            )
        assert await _eventually(lambda: _true(seen == ["wanted.thing"]))
        assert await _eventually(lambda: _equals(cursor(), 8))


async def test_an_idle_cursor_catches_up_without_reading_the_ignored_events_again(
    db: Database, clock
) -> None:
    async with _picky_relay(db) as (_bus, reads, seen):
        await emit_many(db, 1)
        assert await _eventually(lambda: _equals(_cursor_of(db, "test.picky"), 1))
        reads.clear()
        await emit_many(db, 20, start=1)
        assert await _eventually(lambda: _equals(_cursor_of(db, "test.picky"), 21))
    assert set(reads) == set(range(2, 22))
    assert max(reads.values()) == 1  # read once, for the live fan-out; the catch-up read none
    assert seen == []


async def test_an_idle_cursor_is_not_moved_while_another_relay_holds_its_lease(
    db: Database, clock
) -> None:
    async def lease_held_by(holder: str | None) -> None:
        async with db.unit_of_work() as session:
            cursor = await session.get(OutboxCursor, "test.picky")
            assert cursor is not None
            cursor.leased_by = holder
            cursor.lease_until = clock.now() + timedelta(hours=1) if holder else None

    async with _picky_relay(db) as (bus, _reads, seen):
        await emit_many(db, 1)
        assert await _eventually(lambda: _equals(_cursor_of(db, "test.picky"), 1))
        await lease_held_by("other-node:1")
        await emit_many(db, 5, start=1)
        await asyncio.sleep(4 * bus.IDLE_ADVANCE_SECONDS)
        assert await _cursor_of(db, "test.picky") == 1  # the other relay's position stands
        await lease_held_by(None)
        assert await _eventually(lambda: _equals(_cursor_of(db, "test.picky"), 6))
    assert seen == []


async def test_each_event_handed_to_a_subscriber_is_counted_for_prometheus(
    db: Database, clock
) -> None:
    def delivered() -> float:
        sample = metrics.REGISTRY.get_sample_value(
            "yingji_events_delivered_total", {"subscriber": "test.picky"}
        )
        return sample or 0.0

    before = delivered()
    async with _picky_relay(db) as (_bus, _reads, seen):
        await emit_many(db, 3)  # of a type the subscriber ignores
        async with db.unit_of_work() as session:
            for n in range(2):
                await events.emit(
                    session, type="wanted.thing", subject_type="thing", subject_id=n, payload={}
                )
        assert await _eventually(lambda: _true(len(seen) == 2))
    assert delivered() - before == 2


async def _equals(value, expected: int) -> bool:
    return await value == expected


async def _true(value: bool) -> bool:
    return value


async def test_an_events_audience_survives_the_outbox_and_the_wire(db: Database, clock) -> None:
    seen: list[DomainEvent] = []

    async def handler(event: DomainEvent) -> None:
        seen.append(event)

    bus = Bus()
    bus.subscribe("test.audience", handler)
    await bus.start(db, run_relay=True)
    try:
        async with db.unit_of_work() as session:
            await events.emit(
                session,
                type="test.table_changed",
                subject_type="table",
                subject_id=1,
                payload={},
                scope=EventScope(everywhere=True, permission="incident.read"),
            )
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.02)
    finally:
        await bus.stop()
    [event] = seen
    assert event.scope == EventScope(everywhere=True, permission="incident.read")
    # the shape NATS carries between processes keeps it too
    assert DomainEvent.from_json(event.to_json()).scope == event.scope
