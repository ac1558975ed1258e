"""Who is told about what: event subscribers that turn domain events into notifications."""

from __future__ import annotations

from yingji.core import events
from yingji.core.db import Database
from yingji.core.events import DomainEvent, EventScope
from yingji.core.security import Role
from yingji.notify import service
from yingji.org import service as org


class FirstReportOverdue:
    """首报超时 → every duty leader whose jurisdiction covers the incident."""

    name = "notify.first_report_overdue"
    types = ("incidents.first_report_overdue",)

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(self, event: DomainEvent) -> None:
        incident = event.payload.get("incident") or {}
        number = event.payload.get("number") or incident.get("number", "")
        title = event.payload.get("title") or ""
        async with self.db.unit_of_work() as session:
            leaders = await org.users_covering(
                session=session, role=Role.DUTY_LEADER, division_path=event.scope.division_path
            )
            told = []
            for user in leaders:
                created = await service.create(
                    session=session,
                    user_id=user.id,
                    kind="first_report_overdue",
                    title=f"首报超时 {number}",
                    body=f"{title}：首报（书面）已超过时限，请督促报送。",
                    subject_type="incident",
                    subject_id=event.subject_id,
                    dedupe_key=f"{event.event_id}:{user.id}",
                )
                if created is not None:
                    told.append(str(user.id))
            if told:
                await events.emit(
                    session,
                    type="notify.created",
                    subject_type="incident",
                    subject_id=event.subject_id,
                    payload={"kind": "first_report_overdue", "number": number, "title": title},
                    scope=EventScope(user_ids=tuple(told)),
                )
