"""What the case file (``archive``) reads from the duty desk: the reports an incident's
divisions sent up (首报, 续报, 终报, corrections), as plain facts. Read-only; the reporting
flows own the rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.duty.models import ReportState, StatutoryReport

#: the states of a report that went up (a draft or an approved one not yet sent did not)
SENT_STATES = (
    ReportState.SENT,
    ReportState.OPENED,
    ReportState.ACKNOWLEDGED,
    ReportState.CORRECTED,
)


@dataclass(frozen=True, slots=True)
class SentReport:
    """A statutory report that went up about an incident."""

    id: uuid.UUID
    number: str
    kind: str
    seq: int
    state: str
    division_adcode: str
    to_division_adcode: str | None
    title: str
    level: str | None
    dead: int
    injured: int
    missing: int
    trapped: int
    loss_wan_yuan: float | None
    cause: str | None
    measures: str | None
    next_steps: str | None
    body: str | None
    reporter_name: str
    approver_name: str | None
    due_at: datetime | None
    sent_at: datetime | None
    late: bool | None
    opened_at: datetime | None
    acked_at: datetime | None
    acked_by_name: str | None
    corrects_id: uuid.UUID | None
    correction_reason: str | None
    docx_sha256: str | None


async def sent_reports(*, session: AsyncSession, incident_id: uuid.UUID) -> list[SentReport]:
    """The reports sent up about the incident, in the order they went (no scope: the caller
    reads an incident it may read)."""
    rows = await session.scalars(
        select(StatutoryReport)
        .where(
            StatutoryReport.incident_id == incident_id,
            StatutoryReport.state.in_([s.value for s in SENT_STATES]),
        )
        .order_by(StatutoryReport.sent_at, StatutoryReport.kind, StatutoryReport.seq)
    )
    return [
        SentReport(
            id=r.id,
            number=r.number,
            kind=r.kind,
            seq=r.seq,
            state=r.state,
            division_adcode=r.division_adcode,
            to_division_adcode=r.to_division_adcode,
            title=r.title,
            level=r.level,
            dead=r.dead,
            injured=r.injured,
            missing=r.missing,
            trapped=r.trapped,
            loss_wan_yuan=r.loss_wan_yuan,
            cause=r.cause,
            measures=r.measures,
            next_steps=r.next_steps,
            body=r.body,
            reporter_name=r.reporter_name,
            approver_name=r.approver_name,
            due_at=r.due_at,
            sent_at=r.sent_at,
            late=r.late,
            opened_at=r.opened_at,
            acked_at=r.acked_at,
            acked_by_name=r.acked_by_name,
            corrects_id=r.corrects_id,
            correction_reason=r.correction_reason,
            docx_sha256=r.docx_sha256,
        )
        for r in rows.all()
    ]
