"""What the case file (``archive``) reads from warnings: the warnings that were in force over an
incident's place while it lasted, with their 叫应 totals. Read-only."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock
from yingji.warning.models import Warning, WarningRecipient, WarningState

#: the states of a warning that went out or came in (drafts, returned and dismissed ones did not)
WENT_OUT = (
    WarningState.PUBLISHED,
    WarningState.RECEIVED,
    WarningState.RELAYED,
    WarningState.CANCELLED,
    WarningState.SUPERSEDED,
    WarningState.EXPIRED,
)
#: at most this many warnings in one case file (a county sees a few a week)
MAX_WARNINGS = 200


@dataclass(frozen=True, slots=True)
class WarningInForce:
    id: uuid.UUID
    number: str
    headline: str
    type_code: str | None
    level: str | None
    issuer: str
    state: str
    area_desc: str
    sent_at: datetime | None
    expires_at: datetime | None
    called: int
    answered: int
    escalated: int
    exhausted: int


def _covers(warning: Warning, division_path: str) -> bool:
    """The warning's area names the incident's division or one above it, or it was issued by a
    division the incident lies in and names no area of its own."""
    adcodes = set(division_path.strip("/").split("/"))
    if set(warning.area_adcodes or ()) & adcodes:
        return True
    return not warning.area_adcodes and division_path.startswith(warning.division_path)


async def warnings_over(
    *,
    session: AsyncSession,
    division_path: str | None,
    since: datetime,
    until: datetime | None,
) -> list[WarningInForce]:
    """Warnings that went out before ``until`` (or now), had not expired by ``since``, and cover
    the division at ``division_path``; oldest first."""
    if not division_path:
        return []
    end = clock.as_utc(until) if until is not None else clock.now()
    sent = func.coalesce(Warning.sent_at, Warning.published_at)
    rows = await session.scalars(
        select(Warning)
        .where(
            Warning.state.in_([s.value for s in WENT_OUT]),
            sent <= end,
            or_(Warning.expires_at.is_(None), Warning.expires_at >= clock.as_utc(since)),
        )
        .order_by(sent, Warning.number)
        .limit(MAX_WARNINGS * 5)
    )
    found = [w for w in rows.all() if _covers(w, division_path)][:MAX_WARNINGS]
    totals = await _calling_totals(session, [w.id for w in found])
    return [
        WarningInForce(
            id=w.id,
            number=w.number,
            headline=w.headline,
            type_code=w.type_code,
            level=w.level,
            issuer=w.issuer,
            state=w.state,
            area_desc=w.area_desc,
            sent_at=w.sent_at or w.published_at,
            expires_at=w.expires_at,
            **totals.get(w.id, {"called": 0, "answered": 0, "escalated": 0, "exhausted": 0}),
        )
        for w in found
    ]


async def _calling_totals(
    session: AsyncSession, warning_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    if not warning_ids:
        return {}

    def count(state: str) -> ColumnElement[int]:
        return func.sum(case((WarningRecipient.call_state == state, 1), else_=0))

    rows = await session.execute(
        select(
            WarningRecipient.warning_id,
            func.count(),
            count("answered"),
            count("escalated"),
            count("exhausted"),
        )
        .where(WarningRecipient.warning_id.in_(list(warning_ids)), WarningRecipient.must_ack)
        .group_by(WarningRecipient.warning_id)
    )
    return {
        wid: {
            "called": int(called or 0),
            "answered": int(answered or 0),
            "escalated": int(escalated or 0),
            "exhausted": int(exhausted or 0),
        }
        for wid, called, answered, escalated, exhausted in rows.all()
    }
