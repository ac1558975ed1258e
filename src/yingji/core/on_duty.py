"""Who is on duty now (值班): the kernel's question, answered by the duty domain's rosters.

Alerts that go to "the duty leader" (the 首报 alert, 督办 to the centre, 叫应 escalation) ask
:func:`on_duty` for the people rostered on a position over a division at a moment. The duty
domain declares the resolver (``Domain.on_duty``); the kernel holds it, so the domains that ask
never import the duty domain (which itself reads incidents, orders and warnings for its
handovers). ``None`` means no roster covers that division and position: the asker falls back to
every user holding the matching role, as before rosters existed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class Position(StrEnum):
    """The four positions of a 1+1+X+X shift (glossary, 值班值守)."""

    LEADER = "leader"  # 带班领导
    CHIEF = "chief"  # 值班长
    OFFICER = "officer"  # 值班员
    PROFESSIONAL = "professional"  # 专业值班人员


@dataclass(frozen=True, slots=True)
class OnDuty:
    """One person rostered on a position at a moment: whom to tell (``user_id`` when the person
    has an account) and where (``division_adcode`` of the roster that matched)."""

    person_id: uuid.UUID | None
    user_id: uuid.UUID | None
    name: str
    position: Position
    division_adcode: str
    shift_id: uuid.UUID


class OnDutyResolver(Protocol):
    """The people on ``positions`` at ``at`` for the nearest division on ``division_path``
    (the division itself first, then its parents) whose roster has a shift then; ``None`` when
    no division on the path has a roster for those positions."""

    async def __call__(
        self,
        session: AsyncSession,
        *,
        division_path: str,
        positions: Sequence[Position],
        at: datetime,
    ) -> list[OnDuty] | None: ...


_resolver: OnDutyResolver | None = None


def set_resolver(resolver: OnDutyResolver | None) -> None:
    """Install the duty domain's resolver (``core.domain.install``); ``None`` removes it."""
    global _resolver
    _resolver = resolver


async def on_duty(
    session: AsyncSession,
    *,
    division_path: str,
    positions: Sequence[Position],
    at: datetime,
) -> list[OnDuty] | None:
    """Who is on duty on ``positions`` over ``division_path`` at ``at``; ``None`` when no roster
    applies (or no duty domain is installed): ask the roles instead."""
    if _resolver is None:
        return None
    return await _resolver(session, division_path=division_path, positions=positions, at=at)
