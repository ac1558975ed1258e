"""Sections other domains add to the monthly bulletin (通报), without the bulletin importing them.

The bulletin belongs to dispatch (the five KPIs of the linkage units); the monthly counts of
statutory reports (信息报送: owed, on time, 迟报, 漏报 by town) belong to duty, which imports
dispatch for its handovers, so dispatch may not import duty (``acyclic_siblings``). As with "who
is on duty now" (``core.on_duty``, decision 0024), the kernel holds the question: a domain
declares a :class:`SectionContributor` (``Domain.bulletin_sections``), ``core.domain.install``
hands it here, and the bulletin asks :func:`sections` for the month and the reader's scope and
lays out what comes back (decision 0033). With no contributor installed the bulletin has only its
own sections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core.security import Scope


@dataclass(frozen=True, slots=True)
class BulletinSection:
    """One section as the bulletin shows it: a heading (the bulletin numbers it), a sentence,
    then a table (``rows`` may be empty: the sentence alone says there is nothing). Every word
    is the document's own (zh-CN): the bulletin is a document, not a console screen."""

    title: str
    summary: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if not self.title or not self.header:
            raise ValueError("a bulletin section has a title and a header")
        for row in self.rows:
            if len(row) != len(self.header):
                raise ValueError(f"a row of {self.title!r} does not match its header")


class SectionContributor(Protocol):
    """A domain's section of the bulletin of the month ``[since, until)`` (UTC bounds of a
    Beijing-time month) as ``scope`` may read it; ``None`` when it has nothing to say there
    (say, a scope without an area)."""

    async def __call__(
        self, session: AsyncSession, *, since: datetime, until: datetime, scope: Scope
    ) -> BulletinSection | None: ...


_contributors: list[SectionContributor] = []


def add_contributor(contributor: SectionContributor) -> None:
    """Install a domain's contributor (``core.domain.install``); idempotent."""
    if contributor not in _contributors:
        _contributors.append(contributor)


def set_contributors(contributors: Sequence[SectionContributor]) -> tuple[SectionContributor, ...]:
    """Replace the installed contributors (tests); returns the previous ones."""
    previous = tuple(_contributors)
    _contributors[:] = list(contributors)
    return previous


async def sections(
    session: AsyncSession, *, since: datetime, until: datetime, scope: Scope
) -> list[BulletinSection]:
    """The installed domains' sections for the month and scope, in the order they were
    installed (the order of ``yingji.domains``)."""
    found = []
    for contributor in _contributors:
        section = await contributor(session, since=since, until=until, scope=scope)
        if section is not None:
            found.append(section)
    return found
