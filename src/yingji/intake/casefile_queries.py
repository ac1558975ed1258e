"""What the case file (``archive``) reads from intake in one query: the attachments of many
reports. Read-only."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core.db import in_list
from yingji.intake.models import Attachment

#: report ids per query (well inside the bound parameters a statement may carry)
CHUNK = 512


async def attachments_of_reports(
    *, session: AsyncSession, report_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[Attachment]]:
    """The attachments of each of ``report_ids`` (every id present, an empty list if none),
    ordered by hash and name."""
    found: dict[uuid.UUID, list[Attachment]] = {i: [] for i in report_ids}
    if not found:
        return found
    ids = list(found)
    for start in range(0, len(ids), CHUNK):
        rows = await session.scalars(
            select(Attachment)
            .where(Attachment.report_id.in_(in_list(ids[start : start + CHUNK])))
            .order_by(Attachment.sha256, Attachment.filename, Attachment.id)
        )
        for row in rows.all():
            found[row.report_id].append(row)
    return found
