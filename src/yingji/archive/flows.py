"""Archive use cases: building an incident's case file (a new version only when its data
changed) and the evaluation after closing (总结评估)."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from yingji.archive import casefile, service
from yingji.archive.models import CaseFile, Evaluation
from yingji.core import audit, clock
from yingji.core.changes import record_change
from yingji.core.errors import Conflict, NotFound
from yingji.core.events import EventScope
from yingji.core.files import FileStore
from yingji.core.security import Principal
from yingji.dispatch import service as dispatch
from yingji.incidents import service as incidents
from yingji.incidents.schemas import IncidentState

CASE_FILE_FIELDS = (
    "incident_id",
    "version",
    "content_sha256",
    "docx_sha256",
    "docx_size",
    "zip_sha256",
    "zip_size",
    "counts",
)
EVALUATION_FIELDS = ("what_happened", "went_well", "to_improve", "measured", "version")
#: an evaluation is written once the incident is over
EVALUABLE = (IncidentState.CLOSED, IncidentState.ARCHIVED)


async def build_case_file(
    *, session: AsyncSession, principal: Principal, incident_id: uuid.UUID, store: FileStore
) -> tuple[CaseFile, bool]:
    """The incident's case file from its data now: the latest version if its data is unchanged
    (``False``), else a new version, stored (``True``). Building writes no timeline line (that
    would change the data it was built from); it is audited and announced."""
    incident = await incidents.get_incident_or_raise(
        session=session, incident_id=incident_id, scope=principal.scope
    )
    # one builder at a time per incident: the next version number is taken under the lock
    locked = await incidents.lock_incident(session=session, incident_id=incident.id)
    if locked is None:  # pragma: no cover - deleted between the two reads
        raise NotFound("incident_not_found", "no such incident", {"incident_id": str(incident_id)})
    evaluation = await service.get_evaluation(session=session, incident_id=incident.id)
    data = await casefile.gather(session, incident=locked, evaluation=evaluation)
    content = data.content_sha256()
    latest = await service.latest_case_file(session=session, incident_id=incident.id)
    if latest is not None and latest.content_sha256 == content:
        return latest, False
    found = await casefile.fetch_attachments(store, data.attachments)
    built = await asyncio.to_thread(casefile.render, data, found)
    docx_sha256 = await store.put(built.docx)
    zip_sha256 = await store.put(built.zip)
    row = await service.add_case_file(
        session=session,
        row=CaseFile(
            incident_id=incident.id,
            version=await service.next_version(session=session, incident_id=incident.id),
            content_sha256=content,
            docx_sha256=docx_sha256,
            docx_size=len(built.docx),
            zip_sha256=zip_sha256,
            zip_size=len(built.zip),
            counts={
                **casefile.counts(data),
                "missing_attachments": sum(1 for v in found.values() if v is None),
            },
            built_at=clock.now(),
            built_by=str(principal.user_id),
            built_by_name=principal.display_name or principal.username,
        ),
    )
    await record_change(
        session,
        action="archive.case_file_built",
        subject_type="incident",
        subject_id=incident.id,
        before=None,
        after=audit.snapshot(row, CASE_FILE_FIELDS),
        audience=EventScope(division_path=incident.division_path),
        payload={
            "incident": {"id": str(incident.id), "number": incident.number},
            "number": incident.number,
            "title": incident.title,
            "version": row.version,
        },
    )
    return row, True


async def save_evaluation(
    *,
    session: AsyncSession,
    principal: Principal,
    incident_id: uuid.UUID,
    what_happened: str,
    went_well: str | None,
    to_improve: str | None,
    expected_version: int | None,
) -> Evaluation:
    """总结评估: write or revise the incident's evaluation; the response times are measured from
    its timeline when saved. ``expected_version`` (the version the writer read) refuses to
    overwrite someone else's revision."""
    incident = await incidents.get_incident_or_raise(
        session=session, incident_id=incident_id, scope=principal.scope
    )
    if incident.state not in EVALUABLE:
        raise Conflict(
            "incident_not_closed",
            "an incident is evaluated once it is closed",
            {"state": incident.state},
        )
    existing = await service.get_evaluation(session=session, incident_id=incident.id)
    if expected_version is not None and (existing.version if existing else 0) != expected_version:
        raise Conflict(
            "evaluation_changed",
            "the evaluation was revised meanwhile: read it again",
            {"version": existing.version if existing else 0},
        )
    measured = await measure_incident(session, incident)
    now = clock.now()
    who = principal.display_name or principal.username
    before = None if existing is None else audit.snapshot(existing, EVALUATION_FIELDS)
    if existing is None:
        row = await service.add_evaluation(
            session=session,
            row=Evaluation(
                incident_id=incident.id,
                what_happened=what_happened,
                went_well=went_well,
                to_improve=to_improve,
                measured=measured,
                author_id=str(principal.user_id),
                author_name=who,
                version=1,
                created_at=now,
                updated_at=now,
            ),
        )
    else:
        row = existing
        row.what_happened, row.went_well, row.to_improve = what_happened, went_well, to_improve
        row.measured = measured
        row.author_id, row.author_name = str(principal.user_id), who
        row.version += 1
        row.updated_at = now
        await session.flush()
    await record_change(
        session,
        action="archive.evaluation_saved",
        subject_type="incident",
        subject_id=incident.id,
        before=before,
        after=audit.snapshot(row, EVALUATION_FIELDS),
        audience=EventScope(division_path=incident.division_path),
        timeline=incidents.timeline_entry(
            incident,
            code="archive.evaluation_saved",
            summary="总结评估" if existing is None else f"修订总结评估（第{row.version}版）",
            params={"version": row.version},
        ),
        payload={
            "incident": {"id": str(incident.id), "number": incident.number},
            "number": incident.number,
            "title": incident.title,
            "version": row.version,
        },
    )
    return row


async def measure_incident(
    session: AsyncSession, incident: incidents.Incident
) -> dict[str, float | None]:
    """Response times of the incident, measured from its timeline and its orders."""
    timeline = [
        {"at": casefile.iso(e.at), "code": e.code}
        for e in await incidents.timeline(session=session, incident_id=incident.id)
    ]
    orders = [
        {"arrived_at": casefile.iso(o.arrived_at)}
        for o in await dispatch.orders_of_incident(session=session, incident_id=incident.id)
    ]
    return casefile.measure(
        {"incident": casefile.incident_section(incident), "timeline": timeline, "orders": orders}
    )
