"""A change, recorded in the caller's transaction: one audit row (who changed what, before and
after), one timeline entry where the subject has a timeline (an incident), and one event (so
every screen showing the subject updates live).

Every flow records its changes this way (the administration flows of the reference tables,
the incident lifecycle, intake); only the audience, the payload and the timeline differ. The
timeline is the subject's domain's: it hands a bound entry (``Timeline``), so this module
knows no domain.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit, events
from yingji.core.events import EventScope


class Timeline(Protocol):
    """One entry of a subject's timeline, bound to its subject by the domain that keeps it
    (``incidents.service.timeline_entry``); written with the change's audit row and event."""

    async def write(self, session: AsyncSession) -> None: ...


async def record_change(
    session: AsyncSession,
    *,
    action: str,
    subject_type: str,
    subject_id: object,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    audience: EventScope,
    previous_audience: EventScope | None = None,
    timeline: Timeline | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Audit ``action`` on the subject and emit it as an event of the same name to ``audience``;
    the event's payload carries the subject ``before`` and ``after`` the change, and names the
    actor the audit row names (the request's principal; none for the command line).

    A subject that moved out of an area (a unit or an account given to another division) names
    the area it left as ``previous_audience``: the same event goes there too, once, so the
    screens that showed it there drop it.

    The audit row belongs to the audience's area (the area the subject is in now); a change
    to a table the whole platform shares has none, and only administrators of everything
    read it in the audit log.

    ``timeline``: the subject's timeline entry, written first. ``payload``: the event's
    payload when it carries more than the subject before and after (an incident's event
    carries what a screen needs to draw it)."""
    if timeline is not None:
        await timeline.write(session)
    await audit.record(
        session,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        area=audience.division_path,
        before=before,
        after=after,
    )
    audiences = [audience]
    if previous_audience is not None and previous_audience != audience:
        audiences.append(previous_audience)
    for scope in audiences:
        await events.emit(
            session,
            type=action,
            subject_type=subject_type,
            subject_id="" if subject_id is None else subject_id,
            payload={"before": before, "after": after} if payload is None else payload,
            scope=scope,
            actor_id=audit.current_context.get().actor_id,
        )
