from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from tests.conftest import PG_URL
from yingji.core import timers
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.timers import Timer, TimerFiring, TimerWorker


def recorder(fired: list[TimerFiring], fail_times: int = 0):
    failures = {"left": fail_times}

    async def handle(session, firing: TimerFiring) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise RuntimeError("downstream unavailable")
        fired.append(firing)

    return handle


async def schedule(
    db: Database, kind: str, subject: str, due_in: float, clock: ManualClock, **kw
) -> int:
    async with db.unit_of_work() as session:
        timer = await timers.schedule(
            session,
            kind=kind,
            subject=subject,
            due_at=clock.now() + timedelta(seconds=due_in),
            **kw,
        )
        return timer.id


async def test_timer_fires_once_at_its_time_and_not_before(
    db: Database, clock: ManualClock
) -> None:
    fired: list[TimerFiring] = []
    worker = TimerWorker(db, handler_map={"t.deadline": recorder(fired)})
    await schedule(db, "t.deadline", "order-1", 300, clock, payload={"stage": "sign"})
    clock.advance(299)
    assert await worker.run_due() == 0
    clock.advance(1)
    assert await worker.run_due() == 1
    assert [(f.subject, f.payload) for f in fired] == [("order-1", {"stage": "sign"})]
    clock.advance(3600)
    assert await worker.run_due() == 0
    assert len(fired) == 1


async def test_cancelled_timer_never_fires(db: Database, clock: ManualClock) -> None:
    fired: list[TimerFiring] = []
    worker = TimerWorker(db, handler_map={"t.deadline": recorder(fired)})
    await schedule(db, "t.deadline", "order-2", 60, clock, key="sign")
    await schedule(db, "t.deadline", "order-2", 60, clock, key="arrive")
    async with db.unit_of_work() as session:
        assert await timers.cancel(session, kind="t.deadline", subject="order-2", key="sign") == 1
    clock.advance(61)
    await worker.run_due()
    assert [f.key for f in fired] == ["arrive"]


async def test_timers_scheduled_in_bulk_fire_at_their_times_and_cancel_in_bulk(
    db: Database, clock: ManualClock
) -> None:
    fired: list[TimerFiring] = []
    worker = TimerWorker(db, batch=5000, handler_map={"t.bulk": recorder(fired)})
    due = clock.now() + timedelta(seconds=60)
    async with db.unit_of_work() as session:
        made = await timers.schedule_many(
            session,
            kind="t.bulk",
            timers=[
                timers.NewTimer(subject=f"p-{n}", key=f"k{n}", due_at=due, payload={"n": n})
                for n in range(2500)  # more than one INSERT's chunk
            ],
        )
        assert made == 2500
    async with db.unit_of_work() as session:
        cancelled = await timers.cancel_many(
            session, kind="t.bulk", subjects=[f"p-{n}" for n in range(0, 2500, 2)]
        )
        assert cancelled == 1250
    clock.advance(59)
    assert await worker.run_due() == 0
    clock.advance(1)
    while await worker.run_due():
        pass
    assert sorted(f.payload["n"] for f in fired) == list(range(1, 2500, 2))


async def test_scheduling_the_same_deadline_again_moves_it(
    db: Database, clock: ManualClock
) -> None:
    fired: list[TimerFiring] = []
    worker = TimerWorker(db, handler_map={"t.deadline": recorder(fired)})
    await schedule(db, "t.deadline", "order-3", 60, clock)
    await schedule(db, "t.deadline", "order-3", 600, clock)
    clock.advance(61)
    assert await worker.run_due() == 0
    clock.advance(600)
    assert await worker.run_due() == 1


async def test_timer_survives_a_restart(settings, clock: ManualClock) -> None:
    first = Database(settings.database_url)
    await schedule(first, "t.deadline", "order-4", 30, clock)
    await first.dispose()  # the process is gone; only the row remains
    second = Database(settings.database_url)
    fired: list[TimerFiring] = []
    clock.advance(31)
    assert await TimerWorker(second, handler_map={"t.deadline": recorder(fired)}).run_due() == 1
    assert [f.subject for f in fired] == ["order-4"]
    await second.dispose()


async def test_timer_claimed_by_a_worker_that_died_is_fired_after_its_lease(
    db: Database, clock: ManualClock
) -> None:
    fired: list[TimerFiring] = []
    await schedule(db, "t.deadline", "order-5", 10, clock)
    clock.advance(11)
    dead = TimerWorker(db, name="dead", lease_seconds=60, handler_map={})
    claimed, _token = await dead._claim()  # claimed, then the process was killed (SIGKILL)
    assert len(claimed) == 1
    alive = TimerWorker(db, name="alive", handler_map={"t.deadline": recorder(fired)})
    assert await alive.run_due() == 0  # the lease still holds
    clock.advance(61)
    assert await alive.run_due() == 1
    assert len(fired) == 1


async def test_late_firing_of_a_lost_claim_rolls_back_its_effects(
    db: Database, clock: ManualClock
) -> None:
    """A stalled worker that wakes after another took over must not apply its effect again."""
    async with db.unit_of_work() as session:
        await session.execute(text("DROP TABLE IF EXISTS effect"))
        await session.execute(text("CREATE TABLE effect (timer_id INTEGER)"))
    await schedule(db, "t.effect", "order-6", 1, clock)
    clock.advance(2)

    async def apply(session, firing: TimerFiring) -> None:
        await session.execute(text("INSERT INTO effect VALUES (:id)"), {"id": firing.id})

    stalled = TimerWorker(db, name="stalled", lease_seconds=5, handler_map={"t.effect": apply})
    claimed, stale_token = await stalled._claim()
    clock.advance(10)
    other = TimerWorker(db, name="other", handler_map={"t.effect": apply})
    assert await other.run_due() == 1
    await stalled._fire(claimed[0], stale_token)  # wakes up late
    async with db.unit_of_work(readonly=True) as session:
        count = await session.scalar(text("SELECT count(*) FROM effect"))
        state = await session.scalar(select(Timer.state).where(Timer.id == claimed[0].id))
    assert count == 1
    assert state == "fired"


async def test_failing_timer_is_retried_with_backoff_then_parked(
    db: Database, clock: ManualClock
) -> None:
    fired: list[TimerFiring] = []
    worker = TimerWorker(db, max_attempts=3, handler_map={"t.flaky": recorder(fired, 5)})
    timer_id = await schedule(db, "t.flaky", "order-7", 0, clock)
    assert await worker.run_due() == 1  # attempt 1 fails, retry in 2 s
    assert await worker.run_due() == 0
    clock.advance(2)
    assert await worker.run_due() == 1  # attempt 2 fails, retry in 4 s
    clock.advance(4)
    assert await worker.run_due() == 1  # attempt 3 fails: parked
    clock.advance(3600)
    assert await worker.run_due() == 0
    async with db.unit_of_work(readonly=True) as session:
        timer = await session.get(Timer, timer_id)
        assert timer is not None
        assert timer.state == "parked" and "downstream unavailable" in (timer.last_error or "")
    async with db.unit_of_work() as session:
        await timers.retry_parked(session, timer_id=timer_id)
    worker.handler_map = {"t.flaky": recorder(fired)}
    assert await worker.run_due() == 1
    assert len(fired) == 1


async def test_timer_of_unknown_kind_is_parked_at_once(db: Database, clock: ManualClock) -> None:
    timer_id = await schedule(db, "t.nobody", "x", 0, clock)
    await TimerWorker(db, handler_map={}).run_due()
    async with db.unit_of_work(readonly=True) as session:
        timer = await session.get(Timer, timer_id)
        assert timer is not None and timer.state == "parked"


async def test_running_worker_fires_a_timer_scheduled_in_the_same_process_without_polling(
    db: Database, clock: ManualClock
) -> None:
    fired: list[TimerFiring] = []
    got = asyncio.Event()

    async def handle(session, firing: TimerFiring) -> None:
        fired.append(firing)
        got.set()

    worker = TimerWorker(db, poll_seconds=30, handler_map={"t.now": handle})
    worker.start()
    try:
        await asyncio.sleep(0.05)
        await schedule(db, "t.now", "order-8", 0, clock)
        await asyncio.wait_for(got.wait(), timeout=2)
    finally:
        await worker.stop()
    assert len(fired) == 1


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: set YINGJI_TEST_DATABASE_URL")
async def test_two_workers_on_postgres_never_fire_one_timer_twice(
    settings, clock: ManualClock
) -> None:
    db_a, db_b = Database(settings.database_url), Database(settings.database_url)
    async with db_a.unit_of_work() as session:
        await session.execute(text("DROP TABLE IF EXISTS effect"))
        await session.execute(text("CREATE TABLE effect (timer_id BIGINT, worker TEXT)"))
        for i in range(600):
            await timers.schedule(
                session,
                kind="t.race",
                subject=f"s{i}",
                due_at=clock.now() + timedelta(milliseconds=i),
            )

    def apply(name: str):
        async def run(session, firing: TimerFiring) -> None:
            await session.execute(
                text("INSERT INTO effect VALUES (:id, :w)"), {"id": firing.id, "w": name}
            )
            await asyncio.sleep(0)

        return run

    clock.advance(1)
    a = TimerWorker(db_a, name="a", batch=50, handler_map={"t.race": apply("a")})
    b = TimerWorker(db_b, name="b", batch=50, handler_map={"t.race": apply("b")})

    async def drain(worker: TimerWorker) -> None:
        while await worker.run_due():
            pass

    await asyncio.gather(drain(a), drain(b), drain(a), drain(b))
    async with db_a.unit_of_work(readonly=True) as session:
        rows = (
            await session.execute(
                text(
                    "SELECT count(*), count(DISTINCT timer_id), count(DISTINCT worker) FROM effect"
                )
            )
        ).one()
    await db_a.dispose()
    await db_b.dispose()
    assert rows[0] == rows[1] == 600
    assert rows[2] == 2  # both workers really took part


async def test_many_due_timers_fire_in_shared_transactions_and_one_failure_spares_the_rest(
    db: Database, clock: ManualClock
) -> None:
    """Under load timers fire in chunks; a handler that raises fails alone, once."""
    async with db.unit_of_work() as session:
        await session.execute(text("DROP TABLE IF EXISTS effect"))
        await session.execute(text("CREATE TABLE effect (subject TEXT)"))
    calls: dict[str, int] = {}

    async def apply(session, firing: TimerFiring) -> None:
        calls[firing.subject] = calls.get(firing.subject, 0) + 1
        if firing.subject == "s3":
            raise RuntimeError("this one is broken")
        await session.execute(text("INSERT INTO effect VALUES (:s)"), {"s": firing.subject})

    for i in range(10):
        await schedule(db, "t.chunk", f"s{i}", 0, clock)
    worker = TimerWorker(db, handler_map={"t.chunk": apply})
    claimed, token = await worker._claim()
    assert len(claimed) == 10
    async with db.unit_of_work() as session:  # cancelled between claim and fire
        await timers.cancel(session, kind="t.chunk", subject="s7")
    await worker._fire_chunk(claimed, token)
    async with db.unit_of_work(readonly=True) as session:
        done = sorted((await session.execute(text("SELECT subject FROM effect"))).scalars())
        states = dict((await session.execute(select(Timer.subject, Timer.state))).all())
    assert done == sorted(f"s{i}" for i in range(10) if i not in (3, 7))
    assert states["s3"] == "pending" and states["s7"] == "cancelled"
    assert calls["s3"] == 1  # failed once for this attempt, not again in the fall-back
