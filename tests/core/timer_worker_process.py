"""A timer worker as its own OS process, for the SIGKILL test.

Usage: python -m tests.core.timer_worker_process DATABASE_URL NAME
"""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core.db import Database
from yingji.core.timers import TimerFiring, TimerWorker


async def slow_effect(session: AsyncSession, firing: TimerFiring) -> None:
    await session.execute(
        text("INSERT INTO effect (timer_id, worker) VALUES (:id, :w)"),
        {"id": firing.id, "w": sys.argv[2]},
    )
    await asyncio.sleep(0.01)


async def main() -> None:
    db = Database(sys.argv[1])
    worker = TimerWorker(
        db,
        name=sys.argv[2],
        batch=20,
        concurrency=4,
        lease_seconds=2,
        poll_seconds=0.1,
        handler_map={"t.kill": slow_effect},
    )
    worker.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
