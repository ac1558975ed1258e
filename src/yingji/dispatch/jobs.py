"""Timers and event handlers of dispatch: stage deadlines, and the callback task on closing."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import timers
from yingji.core.db import Database
from yingji.core.events import DomainEvent
from yingji.dispatch import flows


async def stage_deadline(session: AsyncSession, firing: timers.TimerFiring) -> None:
    await flows.escalate(
        session=session,
        order_id=uuid.UUID(firing.subject),
        stage=str(firing.payload["stage"]),
        step=str(firing.payload["step"]),
        due_at=firing.payload.get("due_at"),
    )


class CallbackOnClose:
    """办结 → a 回访 task for the duty officer."""

    name = "dispatch.callback_on_close"
    types = ("incidents.closed",)

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(self, event: DomainEvent) -> None:
        async with self.db.unit_of_work() as session:
            await flows.open_callback(session=session, incident_id=uuid.UUID(event.subject_id))
