"""HTTP routes of dispatch: dispatching, the unit inbox, order stages, supervision, callback,
routing and deadline tables."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Path, Query, Request, Response, UploadFile

from yingji.core import audit, clock, geo
from yingji.core.errors import NotFound, ValidationFailed
from yingji.core.file_serving import file_response
from yingji.core.files import LocalFileStore
from yingji.core.instant import Instant
from yingji.core.security import Permission as P
from yingji.core.security import Principal, Scope
from yingji.core.web import Require, Session, get_settings
from yingji.dispatch import access, bulletin, flows, kpi, routing_io, schemas, service
from yingji.dispatch.access import OrderReader
from yingji.dispatch.models import Order
from yingji.incidents import service as incidents
from yingji.intake import service as intake
from yingji.org import schemas as org_schemas
from yingji.org import service as org

router = APIRouter(prefix="/api/v1", tags=["dispatch"])
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

Dispatcher = Annotated[Principal, Require(P.DISPATCH_WRITE)]
Actor = Annotated[Principal, Require(P.ORDER_ACT)]
Reader = Annotated[Principal, Require(P.INCIDENT_READ)]
Admin = Annotated[Principal, Require(P.ORG_WRITE)]
# the tables every area shares: only an administrator of everything holds this
SharedTables = Annotated[Principal, Require(P.REFERENCE_WRITE)]


@router.post(
    "/incidents/{incident_id}/dispatch",
    response_model=list[schemas.OrderRead],
    status_code=201,
    summary="派单: by the routing table (no body) or to chosen units",
)
async def dispatch(
    incident_id: uuid.UUID,
    session: Session,
    me: Dispatcher,
    body: schemas.DispatchRequest | None = None,
) -> Any:
    units: list[tuple[uuid.UUID, str]] | None = None
    if body is not None and body.units is not None:
        units = [(u.unit_id, u.role) for u in body.units]
    return await flows.dispatch(session=session, principal=me, incident_id=incident_id, units=units)


@router.get(
    "/incidents/{incident_id}/orders",
    response_model=list[schemas.InboxOrder],
    summary="The incident's orders with their stages, deadlines and units (a unit holding an "
    "order on it reads the others' too)",
    responses={404: {"description": "incident_not_found"}},
)
async def incident_orders(incident_id: uuid.UUID, session: Session, me: OrderReader) -> Any:
    rows = await service.visible_orders_of_incident(
        session=session, scope=me.scope, incident_id=incident_id
    )
    return await _named(session, rows)


async def _named(session: Session, rows: list[Order]) -> list[schemas.InboxOrder]:
    """Each order with the names of its units (a unit reads the others' names on its incident,
    though its own unit list holds only itself)."""
    names = await service.unit_names(
        session=session, unit_ids={u for r in rows for u in (r.unit_id, r.responsible_unit_id)}
    )
    items = []
    for row in rows:
        item = schemas.InboxOrder.model_validate(row)
        item.unit_name = names.get(row.unit_id)
        item.responsible_unit_name = names.get(row.responsible_unit_id)
        items.append(item)
    return items


@router.get(
    "/orders",
    response_model=schemas.OrderPage,
    summary="单位待办: the orders you may see (a unit's inbox), newest first",
)
async def list_orders(
    request: Request,
    session: Session,
    me: Reader,
    open: bool = False,
    stage: Annotated[str | None, Query(max_length=24)] = None,
    unit_id: uuid.UUID | None = None,
    mine: Annotated[bool, Query(description="only my unit's inbox")] = False,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> schemas.OrderPage:
    if mine and me.unit_id is None:
        raise ValidationFailed("no_unit", "you belong to no linkage unit")
    rows, total = await service.list_orders(
        session=session,
        scope=me.scope,
        open_only=open,
        stage=stage,
        unit_id=unit_id,
        for_unit=me.unit_id if mine else None,
        offset=offset,
        limit=limit,
    )
    readable = await access.reading_scope(request, session, me)
    return schemas.OrderPage(items=await _with_incidents(session, rows, readable), total=total)


async def _with_incidents(
    session: Session, rows: list[Order], readable: Scope
) -> list[schemas.InboxOrder]:
    """Each order with the title, place and casualties of its incident and the names of its
    units: a unit sees the incident it is ordered to (and whom it handed it to) even outside
    its own area; what the first call said, and who made it, only while ``readable`` reads it."""
    found = await service.incidents_of_orders(session=session, orders=rows)
    told = await incidents.readable_incident_ids(session=session, ids=found, scope=readable)
    calls = await intake.first_reports(session=session, incident_ids=told)
    items = await _named(session, rows)
    for item in items:
        incident = found.get(item.incident_id)
        if incident is None:
            continue
        brief = schemas.OrderIncident.model_validate(incident)
        call = calls.get(incident.id)
        if call is not None:
            brief.description = call.text
            brief.reporter_name, brief.reporter_phone = call.reporter_name, call.reporter_phone
        item.incident = brief
    return items


@router.get(
    "/orders/{order_id}",
    response_model=schemas.OrderDetail,
    summary="An order with its feedback and escalations (a unit reads the other units' orders "
    "on the incidents it holds orders on)",
    responses={404: {}},
)
async def get_order(order_id: uuid.UUID, session: Session, me: OrderReader) -> Any:
    order = await service.get_order_or_raise(session=session, order_id=order_id, scope=me.scope)
    return schemas.OrderDetail(
        **schemas.OrderRead.model_validate(order).model_dump(exclude={"next_deadline"}),
        feedback=[
            schemas.FeedbackRead.model_validate(f)
            for f in await service.feedback_of(session=session, order_id=order.id)
        ],
        escalations=[
            schemas.EscalationRead.model_validate(e)
            for e in await service.escalations_of(session=session, order_id=order.id)
        ],
    )


@router.post("/orders/{order_id}/sign", response_model=schemas.OrderRead, summary="签收")
async def sign(order_id: uuid.UUID, session: Session, me: Actor) -> Any:
    return await flows.sign(session=session, principal=me, order_id=order_id)


@router.post(
    "/orders/{order_id}/arrive", response_model=schemas.OrderRead, summary="到场, with the position"
)
async def arrive(
    order_id: uuid.UUID, session: Session, me: Actor, body: schemas.ArriveRequest | None = None
) -> Any:
    lon = lat = None
    if body is not None and body.lon is not None and body.lat is not None:
        lon, lat = geo.to_wgs84(body.lon, body.lat, body.crs)
        if not geo.in_china(lon, lat):
            raise ValidationFailed("coordinates_out_of_range", "the position lies outside China")
    return await flows.arrive(session=session, principal=me, order_id=order_id, lon=lon, lat=lat)


@router.post(
    "/orders/{order_id}/feedback",
    response_model=schemas.OrderRead,
    summary="反馈 (any number of times after signing), with photos uploaded for the order",
)
async def feedback(
    order_id: uuid.UUID, body: schemas.FeedbackRequest, session: Session, me: Actor
) -> Any:
    return await flows.feedback(
        session=session,
        principal=me,
        order_id=order_id,
        text=body.text,
        attachments=[a.sha256 for a in body.attachments or []],
    )


@router.post(
    "/orders/{order_id}/photos",
    response_model=schemas.FeedbackPhoto,
    status_code=201,
    summary="Upload a photo (multipart) to send with a feedback (反馈附图); JPEG, PNG or WebP",
)
async def upload_feedback_photo(
    order_id: uuid.UUID,
    request: Request,
    session: Session,
    me: Actor,
    file: Annotated[UploadFile, File()],
) -> Any:
    settings = get_settings(request)
    return await flows.upload_photo(
        session=session,
        principal=me,
        order_id=order_id,
        store=LocalFileStore(settings.file_store),
        data=await file.read(settings.attachment_max_bytes + 1),
        filename=file.filename or "photo",
        max_bytes=settings.attachment_max_bytes,
    )


@router.get(
    "/orders/{order_id}/photos/{sha256}",
    response_class=Response,
    summary="A photo sent with one of the order's feedbacks (served as recorded at upload)",
    responses={404: {}},
)
async def get_feedback_photo(
    order_id: uuid.UUID,
    sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")],
    request: Request,
    session: Session,
    me: OrderReader,
) -> Response:
    order = await service.get_order_or_raise(session=session, order_id=order_id, scope=me.scope)
    photo = await service.feedback_photo(session=session, order_id=order.id, sha256=sha256)
    if photo is None:
        raise NotFound("attachment_not_found", "no such photo on this order's feedback")
    data = await LocalFileStore(get_settings(request).file_store).get(photo.sha256)
    return file_response(data, content_type=photo.content_type, filename=photo.filename)


@router.post("/orders/{order_id}/complete", response_model=schemas.OrderRead, summary="办结")
async def complete(
    order_id: uuid.UUID, session: Session, me: Actor, body: schemas.NoteRequest | None = None
) -> Any:
    return await flows.complete(
        session=session, principal=me, order_id=order_id, note=body.note if body else None
    )


@router.post(
    "/orders/{order_id}/return", response_model=schemas.OrderRead, summary="退回, with the reason"
)
async def return_order(
    order_id: uuid.UUID, body: schemas.ReturnRequest, session: Session, me: Actor
) -> Any:
    return await flows.return_order(
        session=session, principal=me, order_id=order_id, reason=body.reason
    )


@router.post(
    "/orders/{order_id}/transfer",
    response_model=schemas.OrderRead,
    status_code=201,
    summary="移交: the new unit's order; the first unit answers until it is signed",
)
async def transfer(
    order_id: uuid.UUID, body: schemas.TransferRequest, session: Session, me: Actor
) -> Any:
    return await flows.transfer(
        session=session,
        principal=me,
        order_id=order_id,
        to_unit_id=body.to_unit_id,
        reason=body.reason,
    )


@router.get(
    "/orders/{order_id}/transfer-units",
    response_model=list[org_schemas.UnitRead],
    summary="The units an order may be handed to (移交): active units of the order's county",
)
async def transfer_units(
    order_id: uuid.UUID,
    session: Session,
    me: Actor,
    q: Annotated[str | None, Query(max_length=50)] = None,
) -> Any:
    order = await service.get_order_or_raise(session=session, order_id=order_id, scope=me.scope)
    # the county: the deepest 6-digit code of the path (towns and villages have 12 digits)
    parts = [p for p in (order.division_path or "").split("/") if p]
    county_depth = max((i for i, p in enumerate(parts) if len(p) == 6), default=-1)
    county = "/".join(parts[: county_depth + 1]) + "/" if county_depth >= 0 else ""
    rows, _ = await org.list_units(
        session=session, scope=Scope(division_path=county), q=q or None, limit=500
    )
    return [u for u in rows if u.active and u.id != order.unit_id]


@router.post(
    "/orders/{order_id}/remind",
    response_model=schemas.OrderRead,
    summary="催办 now (from the supervision board)",
)
async def remind(order_id: uuid.UUID, session: Session, me: Dispatcher) -> Any:
    return await flows.remind(session=session, principal=me, order_id=order_id)


@router.get(
    "/supervision",
    response_model=list[schemas.SupervisedOrder],
    summary="督办看板: open orders overdue or due within the horizon, with their incident and "
    "the reminders and supervision already sent",
)
async def supervision(
    session: Session, me: Reader, within_minutes: Annotated[int, Query(ge=0, le=10_080)] = 30
) -> list[schemas.SupervisedOrder]:
    rows = await service.open_and_soon_due(
        session=session, scope=me.scope, horizon=timedelta(minutes=within_minutes)
    )
    sent = await service.escalations_of_orders(session=session, order_ids=[r.id for r in rows])
    return [
        schemas.SupervisedOrder(
            **item.model_dump(exclude={"next_deadline"}),
            escalations=[schemas.EscalationRead.model_validate(e) for e in sent[item.id]],
        )
        for item in await _with_incidents(session, rows, me.scope)
    ]


@router.post(
    "/incidents/{incident_id}/callback",
    response_model=schemas.CallbackRead,
    summary="回访: record whether the reporter was reached and satisfied",
)
async def callback(
    incident_id: uuid.UUID, body: schemas.CallbackRequest, session: Session, me: Dispatcher
) -> Any:
    return await flows.record_callback(
        session=session,
        principal=me,
        incident_id=incident_id,
        reachable=body.reachable,
        reached=body.reached,
        satisfied=body.satisfied,
        note=body.note,
    )


# --- the tables an administrator edits -----------------------------------------------------------


@router.get(
    "/routing-rules",
    response_model=list[schemas.RoutingRuleRead],
    tags=["routing"],
    summary="The routing rules that apply in your area (for everywhere, your area and above it) "
    "and those inside it",
)
async def list_routing_rules(session: Session, me: Reader) -> Any:
    return await service.list_routing_rules(session=session, scope=me.scope)


@router.post(
    "/routing-rules",
    response_model=schemas.RoutingRuleRead,
    status_code=201,
    tags=["routing"],
    summary="Add a routing rule (category × level × area → unit): an area administrator adds "
    "rules inside its area naming its units; a rule for everywhere needs reference.write",
    responses={
        403: {"description": "permission_denied (reference.write)"},
        409: {"description": "routing_rule_duplicate: details.rule_id is the same rule"},
        422: {"description": "division_not_found, unit_not_found, unit_required"},
    },
)
async def add_routing_rule(body: schemas.RoutingRuleIn, session: Session, me: Admin) -> Any:
    return await flows.add_routing_rule(session=session, principal=me, data=body)


RuleId = Annotated[int, Path(ge=1, le=2**62)]


@router.patch(
    "/routing-rules/{rule_id}",
    response_model=schemas.RoutingRuleRead,
    tags=["routing"],
    summary="Change a routing rule: the fields sent, checked as when adding one",
    responses={
        403: {"description": "permission_denied (reference.write), outside_scope"},
        404: {"description": "routing_rule_not_found"},
        409: {"description": "routing_rule_duplicate: details.rule_id is the same rule"},
    },
)
async def change_routing_rule(
    rule_id: RuleId, body: schemas.RoutingRuleUpdate, session: Session, me: Admin
) -> Any:
    return await flows.update_routing_rule(
        session=session,
        principal=me,
        rule_id=rule_id,
        changes=body,
    )


@router.delete(
    "/routing-rules/{rule_id}",
    status_code=204,
    tags=["routing"],
    responses={
        403: {"description": "permission_denied (reference.write), outside_scope"},
        404: {"description": "routing_rule_not_found"},
    },
)
async def delete_routing_rule(rule_id: RuleId, session: Session, me: Admin) -> None:
    await flows.delete_routing_rule(session=session, principal=me, rule_id=rule_id)


@router.get(
    "/stage-deadlines",
    response_model=list[schemas.StageDeadlineRead],
    tags=["routing"],
    summary="限时: minutes per stage by category, level and tier",
)
async def list_stage_deadlines(session: Session, _me: Reader) -> Any:
    return await service.list_stage_deadlines(session=session)


@router.put(
    "/stage-deadlines",
    response_model=schemas.StageDeadlineRead,
    tags=["routing"],
    summary="Set the minutes of each stage for one category prefix, level and tier (a shared "
    "table: reference.write)",
    responses={403: {"description": "permission_denied (reference.write)"}},
)
async def set_stage_deadline(
    body: schemas.StageDeadlineIn, session: Session, _me: SharedTables
) -> Any:
    return await flows.set_stage_deadline(session=session, data=body)


# --- KPIs and the monthly bulletin ---------------------------------------------------------------

Kpi = Annotated[Principal, Require(P.KPI_READ)]


def _figures(figures: kpi.KpiFigures) -> dict[str, Any]:
    body: dict[str, Any] = audit.jsonable(dataclasses.asdict(figures))
    body["score"] = figures.score
    return body


def _period(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    end = until or clock.now() + timedelta(seconds=1)  # up to and including now
    start = since or end - timedelta(days=30)
    if start >= end:
        raise ValidationFailed("invalid_period", "from must be before to")
    return start, end


KpiKind = Annotated[
    Literal["emergency", "service"],
    Query(description="orders of emergency incidents (default) or of service cases (服务类事务)"),
]


@router.get(
    "/kpi/units",
    tags=["kpi"],
    summary="五个100%: acceptance, turnout, punctuality, feedback and callback rates per "
    "unit for orders issued in [from, to)",
)
async def kpi_units(
    session: Session,
    me: Kpi,
    since: Annotated[Instant | None, Query(alias="from")] = None,
    until: Annotated[Instant | None, Query(alias="to")] = None,
    tier: Annotated[int | None, Query(ge=1, le=3)] = None,
    kind: KpiKind = "emergency",
) -> list[dict[str, Any]]:
    start, end = _period(since, until)
    rows = await kpi.unit_kpis(
        session=session, since=start, until=end, scope=me.scope, tier=tier, kind=kind
    )
    return [_figures(row) for row in rows]


@router.get("/kpi/tiers", tags=["kpi"], summary="The five rates per linkage tier")
async def kpi_tiers(
    session: Session,
    me: Kpi,
    since: Annotated[Instant | None, Query(alias="from")] = None,
    until: Annotated[Instant | None, Query(alias="to")] = None,
    kind: KpiKind = "emergency",
) -> list[dict[str, Any]]:
    start, end = _period(since, until)
    rows = await kpi.tier_kpis(session=session, since=start, until=end, scope=me.scope, kind=kind)
    return [_figures(row) for row in rows]


@router.get(
    "/reports/bulletin",
    tags=["kpi"],
    response_class=Response,
    summary="通报: the monthly bulletin as Word (.docx) or HTML",
    responses={200: {"content": {DOCX: {}, "text/html": {}}}},
)
async def monthly_bulletin(
    session: Session,
    me: Kpi,
    month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")],
    format: Annotated[str, Query(pattern="^(docx|html)$")] = "docx",
) -> Response:
    built = await bulletin.build_bulletin(session=session, month=month, scope=me.scope)
    if format == "html":
        return Response(bulletin.render_html(built), media_type="text/html; charset=utf-8")
    return Response(
        bulletin.render_docx(built),
        media_type=DOCX,
        headers={"Content-Disposition": f'attachment; filename="bulletin-{month}.docx"'},
    )


@router.get(
    "/routing-rules.csv",
    summary="The routing rules you may import back, as CSV (units and divisions by code): the "
    "whole table for an administrator of everything, else the rules inside your area",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def routing_rules_csv(session: Session, me: Reader) -> Response:
    return Response(
        await routing_io.export_rules(session=session, scope=me.scope),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="routing-rules.csv"'},
    )


@router.post(
    "/routing-rules:import",
    response_model=org_schemas.ImportReport,
    summary="Import routing rules from CSV: all rows or none, each inside your area "
    "(replace=true first deletes the rules inside your area: for an administrator of "
    "everything, the whole table)",
    responses={422: {"description": "import_failed, with details.errors by line"}},
)
async def import_routing_rules(
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GB18030)")],
    session: Session,
    me: Admin,
    replace: Annotated[bool, Query()] = False,
) -> Any:
    parsed = routing_io.parse_rules(await file.read())
    created, updated = await flows.import_routing_rules(
        session=session, principal=me, parsed=parsed, replace=replace
    )
    return org_schemas.ImportReport(created=created, updated=updated, errors=[])
