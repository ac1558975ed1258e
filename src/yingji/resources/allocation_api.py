"""HTTP routes of requests (申请) and allocations (调派): asking, deciding, forwarding, and moving
what was promised; an incident's allocations for its map and case record."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from yingji.core.reasons import Reason
from yingji.core.security import Permission as P  # noqa: N817 - as every api.py
from yingji.core.security import Principal
from yingji.core.web import IncidentReader, Require, Session
from yingji.incidents import service as incidents
from yingji.resources import allocation
from yingji.resources.models import REQUEST_TRANSITIONS, RequestState, ResourceRequest

router = APIRouter(prefix="/api/v1", tags=["resources"])

Reader = Annotated[Principal, Require(P.RESOURCE_READ)]
Asker = Annotated[Principal, Require(P.RESOURCE_REQUEST)]
Decider = Annotated[Principal, Require(P.RESOURCE_APPROVE)]

RequestableKind = Literal["rescue_team", "equipment", "expert"]
Step = Literal[
    "approve",
    "reject",
    "forward",
    "dispatch",
    "arrive",
    "return",
    "issue",
    "receive",
    "close",
    "cancel",
]
NOTE = 2000


# --- shapes --------------------------------------------------------------------------------------


class RequestCreate(BaseModel):
    """申请: a whole resource (``target: unit`` with ``resource_id``, or only its ``kind`` for the
    decider to choose) or a quantity of a supply item (``target: supply``)."""

    model_config = ConfigDict(extra="forbid")

    target: Literal["unit", "supply"]
    incident_id: uuid.UUID | None = None
    resource_id: uuid.UUID | None = None
    kind: RequestableKind | None = None
    item_id: uuid.UUID | None = None
    quantity: int = Field(default=1, ge=1, le=1_000_000)
    warehouse_id: uuid.UUID | None = None
    note: str | None = Field(default=None, max_length=NOTE)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    division_adcode: str | None = Field(
        default=None,
        pattern=r"^\d{6,12}$",
        description="the asking division (default: yours, else the incident's)",
    )

    @model_validator(mode="after")
    def _point_whole(self) -> RequestCreate:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        return self


class Versioned(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(
        default=None, ge=1, description="the version read; 409 stale_version if it moved on"
    )
    note: str | None = Field(default=None, max_length=NOTE)


class ApproveBody(Versioned):
    resource_id: uuid.UUID | None = Field(
        default=None, description="the team, equipment or expert sent (a request by kind)"
    )
    warehouse_id: uuid.UUID | None = Field(
        default=None, description="the warehouse that gives (default: the nearest with enough)"
    )


class RejectBody(Versioned):
    reason: str | None = Field(default=None, max_length=500)


class CloseBody(Versioned):
    returned_quantity: int = Field(
        default=0, ge=0, le=1_000_000, description="what came back unused (into its batches)"
    )


class AllocationRead(BaseModel):
    id: uuid.UUID
    state: str
    quantity: int
    resource_id: uuid.UUID | None
    resource_name: str | None = None
    batch_id: uuid.UUID | None
    batch_no: str | None = None
    expires_on: date | None = None
    warehouse_id: uuid.UUID | None = None


class RequestRead(BaseModel):
    id: uuid.UUID
    number: str
    state: str
    target: str
    kind: str | None
    resource_id: uuid.UUID | None
    resource_name: str | None = None
    item_id: uuid.UUID | None
    item_name: str | None = None
    unit_of_measure: str | None = None
    warehouse_id: uuid.UUID | None
    warehouse_name: str | None = None
    quantity: int
    incident_id: uuid.UUID | None
    incident_number: str | None = None
    incident_title: str | None = None
    from_division_adcode: str
    from_division_name: str | None = None
    to_division_adcode: str
    to_division_name: str | None = None
    forwarded_from_id: uuid.UUID | None
    forwarded_to_id: uuid.UUID | None
    lon: float | None
    lat: float | None
    note: str | None
    why: Reason | None
    requested_by: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime
    allocations: list[AllocationRead] = []
    actions: list[Step] = Field(
        default=[], description="the steps you may take on it now (the console's buttons)"
    )


class RequestPage(BaseModel):
    items: list[RequestRead]
    total: int


class Place(BaseModel):
    id: uuid.UUID
    kind: str
    name: str
    lon: float | None
    lat: float | None


class IncidentAllocation(BaseModel):
    """One allocation of an incident: what is promised or out, from where, to where."""

    id: uuid.UUID
    state: str
    quantity: int
    request_id: uuid.UUID
    request_number: str
    request_state: str
    target: str
    resource: Place | None = None
    warehouse: Place | None = None
    item_id: uuid.UUID | None = None
    item_name: str | None = None
    unit_of_measure: str | None = None
    batch_no: str | None = None
    expires_on: date | None = None
    #: the place of need
    lon: float | None = None
    lat: float | None = None


# --- reading -------------------------------------------------------------------------------------

_DECIDER_STEPS: dict[Step, RequestState] = {
    "approve": RequestState.APPROVED,
    "reject": RequestState.REJECTED,
    "forward": RequestState.FORWARDED,
}
_MOVE_OF: dict[Step, str] = {
    "dispatch": "dispatched",
    "arrive": "arrived",
    "return": "returned",
    "issue": "issued",
    "receive": "received",
    "close": "closed",
    "cancel": "cancelled",
}


def _actions(me: Principal, request: ResourceRequest) -> list[Step]:
    state = RequestState(request.state)
    allowed = REQUEST_TRANSITIONS[state]
    decides = me.can(P.RESOURCE_APPROVE) and me.scope.covers(division_path=request.to_division_path)
    asks = me.can(P.RESOURCE_REQUEST) and me.scope.covers(division_path=request.from_division_path)
    steps: list[Step] = []
    if state != RequestState.FORWARDED and decides:
        steps += [s for s, to in _DECIDER_STEPS.items() if to in allowed]
    for step, name in _MOVE_OF.items():
        move = allocation.MOVES[name]
        if move.target is not None and move.target != request.target:
            continue
        if move.decider and request.forwarded_to_id is not None:
            continue  # the division above moves it, on the request it received
        if state == RequestState.FORWARDED and not move.decider:
            # taken on the request at the end of the chain, which the original follows
            ok = name == "cancelled"
        else:
            ok = move.to in allowed
        side = decides if move.decider else asks or (move.either and decides)
        if ok and side and (move.decider or me.can(P.RESOURCE_REQUEST)):
            steps.append(step)
    return steps


async def _read(
    session: Session, me: Principal, requests: list[ResourceRequest]
) -> list[RequestRead]:
    allocations = await allocation.allocations_of(
        session=session, request_ids=[r.id for r in requests]
    )
    named = await allocation.names_of(session=session, requests=requests, allocations=allocations)
    out = []
    for request in requests:
        item = named.items.get(request.item_id) if request.item_id else None
        resource = named.resources.get(request.resource_id) if request.resource_id else None
        warehouse = named.resources.get(request.warehouse_id) if request.warehouse_id else None
        incident = named.incidents.get(request.incident_id) if request.incident_id else None
        held = []
        for a in allocations:
            if a.request_id != request.id:
                continue
            batch = named.batches.get(a.batch_id) if a.batch_id else None
            held.append(
                AllocationRead(
                    id=a.id,
                    state=a.state,
                    quantity=a.quantity,
                    resource_id=a.resource_id,
                    resource_name=named.resources[a.resource_id].name
                    if a.resource_id in named.resources
                    else None,
                    batch_id=a.batch_id,
                    batch_no=batch.batch_no if batch else None,
                    expires_on=batch.expires_on if batch else None,
                    warehouse_id=batch.warehouse_id if batch else None,
                )
            )
        out.append(
            RequestRead(
                id=request.id,
                number=request.number,
                state=request.state,
                target=request.target,
                kind=request.kind,
                resource_id=request.resource_id,
                resource_name=resource.name if resource else None,
                item_id=request.item_id,
                item_name=item.name if item else None,
                unit_of_measure=item.unit_of_measure if item else None,
                warehouse_id=request.warehouse_id,
                warehouse_name=warehouse.name if warehouse else None,
                quantity=request.quantity,
                incident_id=request.incident_id,
                incident_number=incident[0] if incident else None,
                incident_title=incident[1] if incident else None,
                from_division_adcode=request.from_division_adcode,
                from_division_name=named.divisions.get(request.from_division_adcode),
                to_division_adcode=request.to_division_adcode,
                to_division_name=named.divisions.get(request.to_division_adcode),
                forwarded_from_id=request.forwarded_from_id,
                forwarded_to_id=request.forwarded_to_id,
                lon=request.lon,
                lat=request.lat,
                note=request.note,
                why=Reason.model_validate(request.why) if request.why else None,
                requested_by=request.requested_by,
                version=request.version,
                created_at=request.created_at,
                updated_at=request.updated_at,
                allocations=held,
                actions=_actions(me, request),
            )
        )
    return out


async def _one(session: Session, me: Principal, request: ResourceRequest) -> RequestRead:
    return (await _read(session, me, [request]))[0]


_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "permission_denied, not_the_decider, not_the_requester"},
    404: {"description": "request_not_found"},
    409: {
        "description": "request_invalid_transition, stale_version, request_forwarded, "
        "resource_unavailable, resource_out_of_reach, insufficient_stock (params.available), "
        "warehouse_closed, no_division_above"
    },
}


@router.post(
    "/resource-requests",
    response_model=RequestRead,
    status_code=201,
    summary="申请: ask for a team, equipment, an expert or a quantity of a supply item",
    responses={404: {"description": "incident_not_found, resource_not_found, item_not_found"}},
)
async def create_request(body: RequestCreate, session: Session, me: Asker) -> RequestRead:
    request = await allocation.create_request(
        session=session,
        principal=me,
        draft=allocation.RequestDraft(**body.model_dump()),
    )
    return await _one(session, me, request)


@router.get(
    "/resource-requests",
    response_model=RequestPage,
    summary="Requests asked from or decided in your area, newest first",
)
async def list_requests(
    session: Session,
    me: Reader,
    incident_id: uuid.UUID | None = None,
    state: RequestState | None = None,
    direction: Annotated[
        Literal["incoming", "outgoing"] | None,
        Query(description="incoming: decided in your area; outgoing: asked from it"),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> RequestPage:
    rows, total = await allocation.list_requests(
        session=session,
        scope=me.scope,
        wanted=allocation.RequestFilter(
            incident_id=incident_id,
            state=state.value if state else None,
            direction=direction,
        ),
        offset=offset,
        limit=limit,
    )
    return RequestPage(items=await _read(session, me, rows), total=total)


@router.get(
    "/resource-requests/{request_id}",
    response_model=RequestRead,
    summary="A request with its allocations and the steps you may take",
    responses={404: {"description": "request_not_found"}},
)
async def get_request(request_id: uuid.UUID, session: Session, me: Reader) -> RequestRead:
    request = await allocation.get_request_or_raise(
        session=session, request_id=request_id, scope=me.scope
    )
    return await _one(session, me, request)


@router.post(
    "/resource-requests/{request_id}/approve",
    response_model=RequestRead,
    summary="审批通过: promise the resource, or reserve the quantity earliest expiry first",
    responses=_ERRORS,
)
async def approve(
    request_id: uuid.UUID, session: Session, me: Decider, body: ApproveBody | None = None
) -> RequestRead:
    body = body or ApproveBody()
    request = await allocation.approve(
        session=session,
        principal=me,
        request_id=request_id,
        approval=allocation.Approval(
            version=body.version,
            resource_id=body.resource_id,
            warehouse_id=body.warehouse_id,
            note=body.note,
        ),
    )
    return await _one(session, me, request)


@router.post(
    "/resource-requests/{request_id}/reject",
    response_model=RequestRead,
    summary="驳回, with a reason",
    responses=_ERRORS,
)
async def reject(
    request_id: uuid.UUID, session: Session, me: Decider, body: RejectBody | None = None
) -> RequestRead:
    body = body or RejectBody()
    request = await allocation.reject(
        session=session,
        principal=me,
        request_id=request_id,
        reason=body.reason or body.note,
        version=body.version,
    )
    return await _one(session, me, request)


@router.post(
    "/resource-requests/{request_id}/forward",
    response_model=RequestRead,
    status_code=201,
    summary="上报上级: a new request to the division above; this one follows its outcome",
    responses=_ERRORS,
)
async def forward(
    request_id: uuid.UUID, session: Session, me: Decider, body: Versioned | None = None
) -> RequestRead:
    body = body or Versioned()
    upward = await allocation.forward(
        session=session,
        principal=me,
        request_id=request_id,
        note=body.note,
        version=body.version,
    )
    return await _one(session, me, upward)


async def _step(
    session: Session, me: Principal, request_id: uuid.UUID, step: str, body: Versioned | None
) -> RequestRead:
    body = body or Versioned()
    request = await allocation.take_step(
        session=session,
        principal=me,
        request_id=request_id,
        step=step,
        version=body.version,
        returned=body.returned_quantity if isinstance(body, CloseBody) else 0,
        note=body.note,
    )
    return await _one(session, me, request)


@router.post(
    "/resource-requests/{request_id}/dispatch",
    response_model=RequestRead,
    summary="出动: the promised team, equipment or expert sets out",
    responses=_ERRORS,
)
async def dispatch(
    request_id: uuid.UUID, session: Session, me: Decider, body: Versioned | None = None
) -> RequestRead:
    return await _step(session, me, request_id, "dispatched", body)


@router.post(
    "/resource-requests/{request_id}/issue",
    response_model=RequestRead,
    summary="出库: the reserved quantities leave their batches",
    responses=_ERRORS,
)
async def issue(
    request_id: uuid.UUID, session: Session, me: Decider, body: Versioned | None = None
) -> RequestRead:
    return await _step(session, me, request_id, "issued", body)


@router.post(
    "/resource-requests/{request_id}/arrive",
    response_model=RequestRead,
    summary="到场: what was sent is at the scene",
    responses=_ERRORS,
)
async def arrive(
    request_id: uuid.UUID, session: Session, me: Asker, body: Versioned | None = None
) -> RequestRead:
    return await _step(session, me, request_id, "arrived", body)


@router.post(
    "/resource-requests/{request_id}/return",
    response_model=RequestRead,
    summary="归队: what was sent is back and free again",
    responses=_ERRORS,
)
async def return_(
    request_id: uuid.UUID, session: Session, me: Asker, body: Versioned | None = None
) -> RequestRead:
    return await _step(session, me, request_id, "returned", body)


@router.post(
    "/resource-requests/{request_id}/receive",
    response_model=RequestRead,
    summary="签收: the requester received the supplies",
    responses=_ERRORS,
)
async def receive(
    request_id: uuid.UUID, session: Session, me: Asker, body: Versioned | None = None
) -> RequestRead:
    return await _step(session, me, request_id, "received", body)


@router.post(
    "/resource-requests/{request_id}/close",
    response_model=RequestRead,
    summary="消耗/归还: the supplies were used; what came back unused returns to its batches",
    responses=_ERRORS,
)
async def close(
    request_id: uuid.UUID, session: Session, me: Asker, body: CloseBody | None = None
) -> RequestRead:
    return await _step(session, me, request_id, "closed", body or CloseBody())


@router.post(
    "/resource-requests/{request_id}/cancel",
    response_model=RequestRead,
    summary="撤回: the requester takes it back before anything set out; promises are released",
    responses=_ERRORS,
)
async def cancel(
    request_id: uuid.UUID, session: Session, me: Asker, body: Versioned | None = None
) -> RequestRead:
    return await _step(session, me, request_id, "cancelled", body)


@router.get(
    "/incidents/{incident_id}/allocations",
    response_model=list[IncidentAllocation],
    summary="What is promised to and out at an incident, with places (its map, its case record)",
    responses={404: {"description": "incident_not_found"}},
)
async def incident_allocations(
    incident_id: uuid.UUID,
    session: Session,
    me: IncidentReader,
    released: Annotated[
        bool, Query(description="also what was returned, consumed or cancelled")
    ] = False,
) -> list[IncidentAllocation]:
    await incidents.get_incident_or_raise(session=session, incident_id=incident_id, scope=me.scope)
    requests, allocations = await allocation.incident_allocations(
        session=session, incident_id=incident_id, include_released=released
    )
    named = await allocation.names_of(session=session, requests=requests, allocations=allocations)
    by_id = {r.id: r for r in requests}

    def place(resource_id: uuid.UUID | None) -> Place | None:
        found = named.resources.get(resource_id) if resource_id else None
        if found is None:
            return None
        return Place(id=found.id, kind=found.kind, name=found.name, lon=found.lon, lat=found.lat)

    out = []
    for a in allocations:
        request = by_id[a.request_id]
        batch = named.batches.get(a.batch_id) if a.batch_id else None
        item = named.items.get(request.item_id) if request.item_id else None
        out.append(
            IncidentAllocation(
                id=a.id,
                state=a.state,
                quantity=a.quantity,
                request_id=request.id,
                request_number=request.number,
                request_state=request.state,
                target=request.target,
                resource=place(a.resource_id),
                warehouse=place(batch.warehouse_id) if batch else None,
                item_id=request.item_id,
                item_name=item.name if item else None,
                unit_of_measure=item.unit_of_measure if item else None,
                batch_no=batch.batch_no if batch else None,
                expires_on=batch.expires_on if batch else None,
                lon=request.lon,
                lat=request.lat,
            )
        )
    return out
