"""HTTP routes of incidents: list, map, detail, timeline and the lifecycle transitions of the
incident alone. Those that end its orders too (close, cancel, merge) are dispatch's
(``dispatch.incident_api``); its reports and splitting one off are intake's
(``intake.incident_api``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from yingji.core import clock
from yingji.core.instant import Instant
from yingji.core.security import Permission as P
from yingji.core.security import Principal
from yingji.core.web import IncidentReader, Require, Session, get_settings
from yingji.incidents import flows, schemas, service
from yingji.org import service as org

router = APIRouter(prefix="/api/v1", tags=["incidents"])

Reader = Annotated[Principal, Require(P.INCIDENT_READ)]
Writer = Annotated[Principal, Require(P.INCIDENT_WRITE)]
States = Annotated[list[schemas.IncidentState] | None, Query(description="repeat for several")]
CaseKind = Annotated[
    Literal["emergency", "service"],
    Query(description="emergency incidents (default) or service cases (服务类事务, decision 0031)"),
]
Levels = Annotated[list[schemas.Level] | None, Query(description="repeat for several")]


async def _filters(
    session: Session,
    me: Principal,
    state: Sequence[str] | None,
    category: str | None,
    level: Sequence[str] | None,
    division: str | None,
    since: datetime | None,
    until: datetime | None,
    q: str | None,
    kind: str = "emergency",
) -> service.IncidentFilter:
    path = None
    if division:
        found = await org.get_division(session=session, adcode=division, scope=me.scope)
        path = found.path if found else f"{division}/nowhere/"
    return service.IncidentFilter(
        states=state or (),
        category=category,
        levels=level or (),
        division_path=path,
        since=since,
        until=until,
        text=q,
        kind=kind,
    )


@router.get(
    "/incidents",
    response_model=schemas.IncidentPage,
    summary="Incidents in your scope, newest activity first, with filters",
)
async def list_incidents(
    session: Session,
    me: Reader,
    state: States = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    level: Levels = None,
    division: Annotated[str | None, Query(pattern=r"^\d{6}(\d{6})?$")] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    kind: CaseKind = "emergency",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> schemas.IncidentPage:
    filters = await _filters(session, me, state, category, level, division, since, until, q, kind)
    rows, total = await service.list_incidents(
        session=session, scope=me.scope, filters=filters, offset=offset, limit=limit
    )
    return schemas.IncidentPage(
        items=[schemas.IncidentRead.model_validate(r) for r in rows], total=total
    )


@router.get(
    "/incidents.geojson",
    summary="Incidents in your scope as GeoJSON points (the map)",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def incidents_geojson(
    session: Session,
    me: Reader,
    state: States = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    level: Levels = None,
    division: Annotated[str | None, Query(pattern=r"^\d{6}(\d{6})?$")] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=20_000)] = 5000,
) -> Response:
    """Only the columns a point needs, serialised once: the situation board loads thousands."""
    filters = await _filters(session, me, state, category, level, division, since, until, None)
    points = await service.incident_points(
        session=session, scope=me.scope, filters=filters, limit=limit
    )
    # Thousands of points take tens of milliseconds to turn into JSON: a worker thread does it,
    # so the event loop goes on serving the board's script chunks asked for at the same moment.
    body = await run_in_threadpool(_feature_collection, points)
    return Response(body, media_type="application/json")


def _feature_collection(points: Sequence[Any]) -> bytes:
    features = [
        {
            "type": "Feature",
            "id": str(r.id),
            "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
            "properties": {
                "id": str(r.id),
                "number": r.number,
                "title": r.title,
                "level": r.level,
                "state": r.state,
                "category_code": r.category_code,
                "last_reported_at": clock.as_utc(r.last_reported_at).isoformat(),
                "report_count": r.report_count,
            },
        }
        for r in points
    ]
    return orjson.dumps({"type": "FeatureCollection", "features": features})


@router.get(
    "/incidents/{incident_id}",
    response_model=schemas.IncidentRead,
    summary="One incident of your area, or one your unit holds an order on (open, or ended "
    "less than YINGJI_ORDER_READ_DAYS ago)",
    responses={404: {}},
)
async def get_incident(incident_id: uuid.UUID, session: Session, me: IncidentReader) -> Any:
    return await service.get_incident_or_raise(
        session=session, incident_id=incident_id, scope=me.scope
    )


@router.get(
    "/incidents/{incident_id}/timeline",
    response_model=list[schemas.TimelineRead],
    summary="Everything that happened to the incident, in order (痕迹化); a unit reading it "
    "through its order reads the notes meant for units",
)
async def get_timeline(incident_id: uuid.UUID, session: Session, me: IncidentReader) -> Any:
    incident = await service.get_incident_or_raise(
        session=session, incident_id=incident_id, scope=me.scope
    )
    return await service.readable_timeline(session=session, incident=incident, scope=me.scope)


def _minutes(request: Request) -> int:
    return get_settings(request).first_report_minutes


@router.post(
    "/incidents/{incident_id}/verify",
    response_model=schemas.IncidentRead,
    summary="核实: reported → verified (schedules the first report for level III+)",
)
async def verify(
    incident_id: uuid.UUID,
    request: Request,
    session: Session,
    me: Writer,
    body: schemas.ReasonRequest | None = None,
) -> Any:
    return await flows.verify(
        session=session,
        principal=me,
        incident_id=incident_id,
        note=body.reason if body else None,
        first_report_minutes=_minutes(request),
    )


@router.post(
    "/incidents/{incident_id}/control",
    response_model=schemas.IncidentRead,
    summary="得到控制: verified|responding → controlled",
)
async def control(
    incident_id: uuid.UUID, session: Session, me: Writer, body: schemas.ReasonRequest | None = None
) -> Any:
    return await flows.control(
        session=session, principal=me, incident_id=incident_id, note=body.reason if body else None
    )


@router.post(
    "/incidents/{incident_id}/archive",
    response_model=schemas.IncidentRead,
    summary="归档: closed → archived",
)
async def archive(incident_id: uuid.UUID, session: Session, me: Writer) -> Any:
    return await flows.archive(session=session, principal=me, incident_id=incident_id)


@router.post(
    "/incidents/{incident_id}/level",
    response_model=schemas.IncidentRead,
    summary="升级/降级: change the level, with a reason",
)
async def change_level(
    incident_id: uuid.UUID,
    body: schemas.LevelRequest,
    request: Request,
    session: Session,
    me: Writer,
) -> Any:
    return await flows.change_level(
        session=session,
        principal=me,
        incident_id=incident_id,
        level=body.level,
        reason=body.reason,
        first_report_minutes=_minutes(request),
    )


@router.post(
    "/incidents/{incident_id}/notes",
    response_model=schemas.IncidentRead,
    summary="Add a note to the timeline (for_units: the units holding orders read it too)",
)
async def add_note(
    incident_id: uuid.UUID, body: schemas.NoteRequest, session: Session, me: Writer
) -> Any:
    return await flows.add_note(
        session=session,
        principal=me,
        incident_id=incident_id,
        text=body.text,
        for_units=body.for_units,
    )


@router.post(
    "/incidents/{incident_id}/first-report",
    response_model=schemas.IncidentRead,
    summary="首报: record that the written first report went up (stops the deadline)",
)
async def first_report(
    incident_id: uuid.UUID, body: schemas.FirstReportRequest, session: Session, me: Writer
) -> Any:
    return await flows.record_first_report(
        session=session, principal=me, incident_id=incident_id, text=body.text
    )


@router.get(
    "/reporting-deadlines",
    response_model=list[schemas.ReportingDeadlineRead],
    tags=["reporting"],
    summary="信息报送时限: first-report deadlines by category and level",
)
async def list_reporting_deadlines(session: Session, _me: Reader) -> Any:
    return await service.list_reporting_deadlines(session=session)


@router.put(
    "/reporting-deadlines",
    response_model=schemas.ReportingDeadlineRead,
    tags=["reporting"],
    summary="Set the deadline of one category prefix and level (a shared table: reference.write)",
    responses={403: {"description": "permission_denied (reference.write)"}},
)
async def set_reporting_deadline(
    body: schemas.ReportingDeadlineIn,
    session: Session,
    _me: Annotated[Principal, Require(P.REFERENCE_WRITE)],
) -> Any:
    return await flows.set_reporting_deadline(session=session, deadline=body)
