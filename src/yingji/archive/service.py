"""Queries and single-row commands of the archive tables: case-file versions and evaluations."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.archive.models import CaseFile, Evaluation
from yingji.core.errors import NotFound


async def case_files(*, session: AsyncSession, incident_id: uuid.UUID) -> list[CaseFile]:
    """The incident's case-file versions, newest first."""
    rows = await session.scalars(
        select(CaseFile)
        .where(CaseFile.incident_id == incident_id)
        .order_by(CaseFile.version.desc())
    )
    return list(rows.all())


async def latest_case_file(*, session: AsyncSession, incident_id: uuid.UUID) -> CaseFile | None:
    found: CaseFile | None = await session.scalar(
        select(CaseFile)
        .where(CaseFile.incident_id == incident_id)
        .order_by(CaseFile.version.desc())
        .limit(1)
    )
    return found


async def get_case_file_or_raise(
    *, session: AsyncSession, incident_id: uuid.UUID, version: int
) -> CaseFile:
    found = await session.scalar(
        select(CaseFile).where(CaseFile.incident_id == incident_id, CaseFile.version == version)
    )
    if found is None:
        raise NotFound(
            "case_file_not_found",
            f"no case file version {version}",
            {"incident_id": str(incident_id), "version": version},
        )
    return found


async def next_version(*, session: AsyncSession, incident_id: uuid.UUID) -> int:
    top = await session.scalar(
        select(func.max(CaseFile.version)).where(CaseFile.incident_id == incident_id)
    )
    return int(top or 0) + 1


async def add_case_file(*, session: AsyncSession, row: CaseFile) -> CaseFile:
    session.add(row)
    await session.flush()
    return row


async def get_evaluation(*, session: AsyncSession, incident_id: uuid.UUID) -> Evaluation | None:
    found: Evaluation | None = await session.scalar(
        select(Evaluation).where(Evaluation.incident_id == incident_id)
    )
    return found


async def add_evaluation(*, session: AsyncSession, row: Evaluation) -> Evaluation:
    session.add(row)
    await session.flush()
    return row
