"""HTTP routes of intake under an incident's path: the incident's reports, and splitting one
off (拆分). Intake reaches incidents, never the other way: a report opens or joins one."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter

from yingji.core.security import Permission, Principal
from yingji.core.web import IncidentReader, Require, Session
from yingji.incidents import schemas as incident_schemas
from yingji.intake import flows, schemas

router = APIRouter(prefix="/api/v1", tags=["incidents"])

Writer = Annotated[Principal, Require(Permission.INCIDENT_WRITE)]


@router.get(
    "/incidents/{incident_id}/reports",
    response_model=schemas.ReportPage,
    summary="The incident's reports (texts, callers, places), for its area and the units "
    "holding orders on it",
)
async def get_reports(incident_id: uuid.UUID, session: Session, me: IncidentReader) -> Any:
    rows, total = await flows.reports_of_incident(
        session=session, scope=me.scope, incident_id=incident_id
    )
    return schemas.ReportPage(items=rows, total=total)


@router.post(
    "/incidents/{incident_id}/split",
    response_model=incident_schemas.IncidentRead,
    status_code=201,
    summary="拆分: a report leaves and opens an incident of its own",
)
async def split(
    incident_id: uuid.UUID, body: incident_schemas.SplitRequest, session: Session, me: Writer
) -> Any:
    return await flows.split_report(
        session=session, principal=me, incident_id=incident_id, report_id=body.report_id
    )
