"""Who is told about what: event subscribers that turn domain events into notifications.

Flows never create notifications themselves: they record their change, whose event either names
the notifications it sends (``payload["notices"]``, see :class:`Notices`) or is one a subscriber
here knows whom to tell about (:class:`FirstReportOverdue`, :class:`ReadyToClose`). Each
subscriber is idempotent: a notification's key is the event and the person, so an event
delivered twice tells nobody twice.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock, events
from yingji.core.db import Database
from yingji.core.events import DomainEvent, EventScope
from yingji.core.on_duty import Position, on_duty
from yingji.core.security import Role
from yingji.notify import service
from yingji.org import service as org


async def _tell(
    session: AsyncSession,
    event: DomainEvent,
    user_ids: Iterable[uuid.UUID],
    *,
    kind: str,
    title: str,
    body: str,
    subject_type: str,
    subject_id: str,
    said: dict[str, Any],
) -> None:
    """One notification per person (none twice for the same event), dated when the event
    occurred, then one ``notify.created`` event to those newly told, carrying ``said``."""
    told = []
    for user_id in dict.fromkeys(user_ids):
        created = await service.create(
            session=session,
            user_id=user_id,
            kind=kind,
            title=title,
            body=body,
            subject_type=subject_type,
            subject_id=subject_id,
            dedupe_key=f"{event.event_id}:{user_id}",
            at=datetime.fromisoformat(event.occurred_at),
        )
        if created is not None:
            told.append(str(user_id))
    if told:
        await events.emit(
            session,
            type="notify.created",
            subject_type=subject_type,
            subject_id=subject_id,
            payload={"kind": kind, **said},
            scope=EventScope(user_ids=tuple(told)),
        )


def _number_and_title(event: DomainEvent) -> tuple[str, str]:
    incident = event.payload.get("incident") or {}
    number = event.payload.get("number") or incident.get("number", "")
    title = event.payload.get("title") or incident.get("title") or ""
    return str(number), str(title)


class _CoveringAlert(abc.ABC):
    """An incident's event → everyone with ``role`` whose jurisdiction covers the incident."""

    name: str
    types: tuple[str, ...]
    role: Role
    kind: str
    #: the roster positions asked first (``core.on_duty``); the role when nobody is rostered
    positions: tuple[Position, ...] = ()

    def __init__(self, db: Database) -> None:
        self.db = db

    @abc.abstractmethod
    def words(self, number: str, title: str) -> tuple[str, str]:
        """The notification's title and body."""

    async def __call__(self, event: DomainEvent) -> None:
        number, title = _number_and_title(event)
        heading, body = self.words(number, title)
        async with self.db.unit_of_work() as session:
            await _tell(
                session,
                event,
                await self._whom(session, event.scope.division_path),
                kind=self.kind,
                title=heading,
                body=body,
                subject_type="incident",
                subject_id=event.subject_id,
                said={"number": number, "title": title},
            )

    async def _whom(self, session: AsyncSession, division_path: str | None) -> list[uuid.UUID]:
        """The accounts of the people on duty on ``positions`` over the division (the nearest
        roster on the path), else every user with ``role`` whose jurisdiction covers it."""
        if self.positions and division_path:
            rostered = await on_duty(
                session, division_path=division_path, positions=self.positions, at=clock.now()
            )
            accounts = [p.user_id for p in rostered or [] if p.user_id is not None]
            if accounts:
                return list(dict.fromkeys(accounts))
        people = await org.users_covering(
            session=session, role=self.role, division_path=division_path
        )
        return [user.id for user in people]


class FirstReportOverdue(_CoveringAlert):
    """首报超时 → the duty leader on duty over the incident (the roster), else every duty leader
    whose jurisdiction covers it."""

    name = "notify.first_report_overdue"
    types = ("incidents.first_report_overdue",)
    role = Role.DUTY_LEADER
    kind = "first_report_overdue"
    positions = (Position.LEADER,)

    def words(self, number: str, title: str) -> tuple[str, str]:
        return f"首报超时 {number}", f"{title}：首报（书面）已超过时限，请督促报送。"


class ReadyToClose(_CoveringAlert):
    """全部派单已办结 → every duty officer whose jurisdiction covers the incident (可办结)."""

    name = "notify.ready_to_close"
    types = ("dispatch.ready_to_close",)
    role = Role.DUTY_OFFICER
    kind = "ready_to_close"

    def words(self, number: str, title: str) -> tuple[str, str]:
        return f"可办结 {number}", f"{title}：全部派单已办结"


class Notices:
    """The notifications a change names in its event (``payload["notices"]``: kind, title, body,
    the people, what it links to, the event's subject unless named, and what the ``notify.created``
    event says besides the title): a dispatch order issued, returned, reminded, escalated or ended
    with its incident; repeated failed sign-ins. A person named twice in one event is told once."""

    name = "notify.notices"
    types = (
        "dispatch.order_issued",
        "dispatch.order_transfer_requested",
        "dispatch.order_returned",
        "dispatch.reminded",
        "dispatch.remind",
        "dispatch.supervise_unit",
        "dispatch.supervise_center",
        "dispatch.order_closed_with_incident",
        "auth.repeated_failures",
        "resource.request.created",
        "resource.request.approved",
        "resource.request.rejected",
        "resource.request.forwarded",
        "resource.request.dispatched",
        "resource.request.arrived",
        "resource.request.returned",
        "resource.request.issued",
        "resource.request.received",
        "resource.request.closed",
        "resource.request.cancelled",
        "resource.stock.expiring",
        "resource.stock.below_minimum",
        # warnings, part A: a CAP message received for a division tells its desk
        "warning.received",
        # the warning workflow (issue 19, B): the next role in the chain is told
        "warning.submitted",
        "warning.approved",
        "warning.returned",
        "warning.signed",
        # statutory reporting (issue 20): a report received above, acknowledged, flagged late or
        # missing, an instruction come down
        "duty.report_sent",
        "duty.report_acknowledged",
        "duty.report_flagged",
        "duty.instruction_issued",
        # rosters (issue 20): a swap's decision tells the person who asked
        "duty.swap.approved",
        "duty.swap.rejected",
        # duty (issue 20): a handover still unsigned past its time tells the duty leader
        "duty.handover_unsigned",
        # the duty desk (issue 20): a missed check-in, an unanswered spot check
        "duty.check_in_missed",
        "duty.spot_checked",
    )

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(self, event: DomainEvent) -> None:
        notices = [n for n in event.payload.get("notices") or [] if n.get("user_ids")]
        if not notices:
            return
        async with self.db.unit_of_work() as session:
            for notice in notices:
                await _tell(
                    session,
                    event,
                    [uuid.UUID(user_id) for user_id in notice["user_ids"]],
                    kind=str(notice["kind"]),
                    title=str(notice["title"]),
                    body=str(notice["body"]),
                    subject_type=str(notice.get("subject_type") or event.subject_type),
                    subject_id=str(notice.get("subject_id") or event.subject_id),
                    said={"title": str(notice["title"]), **(notice.get("said") or {})},
                )
