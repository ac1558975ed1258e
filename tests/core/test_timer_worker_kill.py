"""A worker killed with SIGKILL in the middle of its work loses no timer and fires none twice."""

from __future__ import annotations

import asyncio
import signal
import sys

from sqlalchemy import text

from yingji.core import timers
from yingji.core.clock import SystemClock
from yingji.core.db import Database

COUNT = 300


async def effects(db: Database) -> tuple[int, int]:
    async with db.unit_of_work(readonly=True) as session:
        row = (
            await session.execute(text("SELECT count(*), count(DISTINCT timer_id) FROM effect"))
        ).one()
    return int(row[0]), int(row[1])


async def spawn(url: str, name: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.core.timer_worker_process",
        url,
        name,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def test_sigkilled_worker_loses_no_timer_and_fires_none_twice(settings) -> None:
    db = Database(settings.database_url)
    now = SystemClock().now()  # the worker processes run on the wall clock
    async with db.unit_of_work() as session:
        await session.execute(text("DROP TABLE IF EXISTS effect"))
        await session.execute(text("CREATE TABLE effect (timer_id BIGINT, worker TEXT)"))
        for i in range(COUNT):
            await timers.schedule(session, kind="t.kill", subject=f"order-{i}", due_at=now)
    first = await spawn(settings.database_url, "first")
    try:
        for _ in range(600):
            done, _ = await effects(db)
            if done >= 40:
                break
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        killed_at, _ = await effects(db)
        assert 0 < killed_at < COUNT, "the kill must land in the middle of the work"
        second = await spawn(settings.database_url, "second")
        try:
            for _ in range(1500):
                done, _ = await effects(db)
                if done >= COUNT:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)  # would a duplicate still arrive?
        finally:
            second.kill()
            await second.wait()
        total, distinct = await effects(db)
    finally:
        if first.returncode is None:
            first.kill()
        await db.dispose()
    assert distinct == COUNT, f"{COUNT - distinct} timers lost"
    assert total == COUNT, f"{total - distinct} timers fired twice"
