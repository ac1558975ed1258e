"""申请 · 审批 · 调派: requests for teams, equipment, experts and supplies, and what they hold.

A request goes to the division that decides (``to_division``): the requester's own, or the
lowest division over both the requester and the resource it names. Approving *promises* with a
compare-and-set, so nothing is promised twice:

- a team, a piece of equipment or an expert goes from a usable status to its busy status
  (``HOLD_STATUS``) in one ``UPDATE … WHERE status IN (usable)``, and an allocation row holds it;
- a quantity of a supply item is reserved from the warehouse's batches, earliest expiry first,
  each with ``UPDATE stock_batch SET reserved = reserved + :n WHERE quantity - reserved >= :n``.
  Two deciders approving the last 100 tents at once: one reservation matches, the other
  matches no row, reads again and is told what is left (``insufficient_stock``,
  ``params.available``).

A level that cannot meet a request forwards it: a new request from that division to the one
above (``forwarded_from_id``); the original then follows its outcome, step by step. The
requester's later steps (arrival, receipt, closing, cancelling) named on the original are
taken on the request that holds the allocation, at the end of the chain.

Every step goes through :func:`_step`: the state compare-and-set, the incident's timeline line,
the audit row and the event ``resource.request.<step>`` whose payload names the people told
(``notices``: the deciders, the requester, the owning unit), delivered by ``notify.jobs``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit, clock, reasons, timers
from yingji.core.changes import record_change
from yingji.core.db import rows_affected
from yingji.core.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from yingji.core.events import EventScope
from yingji.core.security import Principal, Role, Scope
from yingji.incidents import service as incidents
from yingji.org import service as org
from yingji.resources import kinds, service
from yingji.resources.models import (
    REQUEST_TRANSITIONS,
    Allocation,
    RequestState,
    Resource,
    ResourceKind,
    ResourceRequest,
    StockBatch,
    SupplyItem,
)

#: the status a requestable resource takes while an approved request holds it
HOLD_STATUS: dict[str, str] = {
    ResourceKind.RESCUE_TEAM: "deployed",
    ResourceKind.EQUIPMENT: "in_use",
    ResourceKind.EXPERT: "engaged",
}
HELD, OUT, RELEASED = "held", "out", "released"
LIVE_ALLOCATIONS = service.HOLDING_STATES  # held, out
UNIT, SUPPLY = "unit", "supply"
#: a below-minimum check of one item in one warehouse, due when stock leaves it (``jobs``)
STOCK_CHECK_TIMER = "resources.stock_check"
#: the roles told of a request to decide on (those that hold ``resource.approve``)
DECIDER_ROLES = (Role.COMMANDER, Role.DUTY_LEADER)
REQUEST_FIELDS = (
    "number",
    "state",
    "target",
    "kind",
    "resource_id",
    "item_id",
    "warehouse_id",
    "quantity",
    "incident_id",
    "from_division_adcode",
    "to_division_adcode",
    "forwarded_from_id",
    "forwarded_to_id",
    "version",
)
STEP_NAMES = {
    "created": "申请",
    "approved": "审批通过",
    "rejected": "驳回",
    "forwarded": "上报上级",
    "dispatched": "出动",
    "arrived": "到场",
    "returned": "归队",
    "issued": "出库",
    "received": "签收",
    "closed": "办结",
    "cancelled": "撤回",
}
_RETRIES = 20


# --- queries -------------------------------------------------------------------------------------


async def get_resource_or_raise(*, session: AsyncSession, resource_id: uuid.UUID) -> Resource:
    """The resource, whatever its area (a request may name one above the asker's), read afresh."""
    resource = await service.get_resource_or_raise(session=session, resource_id=resource_id)
    await session.refresh(resource)
    return resource


def request_query(scope: Scope) -> Select[ResourceRequest]:
    """Requests a principal reads: those asked from its area (its deciders' too, as the
    deciding division is always the asking one or above it), and a unit's principal those for
    what its unit owns (a team sent, a warehouse giving) — its notices link to them."""
    conditions = [
        scope.clause(ResourceRequest.from_division_path),
        scope.clause(ResourceRequest.to_division_path),
    ]
    if scope.unit_id is not None and not scope.everything:
        owned = select(Resource.id).where(
            or_(Resource.owner_unit_id == scope.unit_id, Resource.unit_id == scope.unit_id)
        )
        conditions += [
            ResourceRequest.resource_id.in_(owned),
            ResourceRequest.warehouse_id.in_(owned),
        ]
    return select(ResourceRequest).where(or_(*conditions))


async def get_request_or_raise(
    *, session: AsyncSession, request_id: uuid.UUID, scope: Scope, lock: bool = False
) -> ResourceRequest:
    stmt = request_query(scope).where(ResourceRequest.id == request_id)
    if lock:
        stmt = stmt.with_for_update()
    found = await session.scalar(stmt.execution_options(populate_existing=True))
    if found is None:
        raise NotFound(
            "request_not_found", f"no request {request_id}", {"request_id": str(request_id)}
        )
    return found


@dataclass(frozen=True)
class RequestFilter:
    incident_id: uuid.UUID | None = None
    state: str | None = None
    #: ``incoming``: decided in my area; ``outgoing``: asked from my area
    direction: str | None = None


async def list_requests(
    *, session: AsyncSession, scope: Scope, wanted: RequestFilter, offset: int, limit: int
) -> tuple[list[ResourceRequest], int]:
    stmt = request_query(scope)
    if wanted.incident_id is not None:
        stmt = stmt.where(ResourceRequest.incident_id == wanted.incident_id)
    if wanted.state is not None:
        stmt = stmt.where(ResourceRequest.state == wanted.state)
    if wanted.direction == "incoming":
        stmt = stmt.where(scope.clause(ResourceRequest.to_division_path))
    elif wanted.direction == "outgoing":
        stmt = stmt.where(scope.clause(ResourceRequest.from_division_path))
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.scalars(
        stmt.order_by(ResourceRequest.created_at.desc(), ResourceRequest.number.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows.all()), total


async def allocations_of(
    *, session: AsyncSession, request_ids: Sequence[uuid.UUID]
) -> list[Allocation]:
    if not request_ids:
        return []
    rows = await session.scalars(
        select(Allocation)
        .where(Allocation.request_id.in_(list(request_ids)))
        .order_by(Allocation.created_at, Allocation.id)
    )
    return list(rows.all())


@dataclass
class Named:
    """The names a request's screen shows beside its ids."""

    resources: dict[uuid.UUID, Resource] = field(default_factory=dict)
    items: dict[uuid.UUID, SupplyItem] = field(default_factory=dict)
    batches: dict[uuid.UUID, StockBatch] = field(default_factory=dict)
    divisions: dict[str, str] = field(default_factory=dict)
    incidents: dict[uuid.UUID, tuple[str, str]] = field(default_factory=dict)


async def names_of(
    *, session: AsyncSession, requests: Sequence[ResourceRequest], allocations: Sequence[Allocation]
) -> Named:
    named = Named()
    resource_ids = {r.resource_id for r in requests} | {r.warehouse_id for r in requests}
    resource_ids |= {a.resource_id for a in allocations}
    ids = [i for i in resource_ids if i is not None]
    if ids:
        rows = await session.scalars(select(Resource).where(Resource.id.in_(ids)))
        named.resources = {r.id: r for r in rows}
    item_ids = [r.item_id for r in requests if r.item_id is not None]
    if item_ids:
        items = await session.scalars(select(SupplyItem).where(SupplyItem.id.in_(item_ids)))
        named.items = {i.id: i for i in items}
    batch_ids = [a.batch_id for a in allocations if a.batch_id is not None]
    if batch_ids:
        batches = await session.scalars(select(StockBatch).where(StockBatch.id.in_(batch_ids)))
        named.batches = {b.id: b for b in batches}
        named.resources.update(
            {
                r.id: r
                for r in await session.scalars(
                    select(Resource).where(
                        Resource.id.in_({b.warehouse_id for b in named.batches.values()})
                    )
                )
            }
        )
    adcodes = {r.from_division_adcode for r in requests} | {r.to_division_adcode for r in requests}
    for adcode in adcodes:
        division = await org.get_division(session=session, adcode=adcode)
        if division is not None:
            named.divisions[adcode] = division.name
    incident_ids = {r.incident_id for r in requests if r.incident_id is not None}
    found = await incidents.incidents_by_id(session=session, ids=list(incident_ids))
    named.incidents = {i: (x.number, x.title) for i, x in found.items()}
    return named


# --- sides ---------------------------------------------------------------------------------------


def _decides(principal: Principal, request: ResourceRequest) -> None:
    """Only the deciding division's desk (or one above it) decides and moves what it promised."""
    if not principal.scope.covers(division_path=request.to_division_path):
        raise PermissionDenied(
            "not_the_decider",
            "this request is decided by another division",
            {"division_adcode": request.to_division_adcode},
        )


def _asks(principal: Principal, request: ResourceRequest) -> None:
    """Only the asking division (or one above it) takes the requester's steps."""
    if not principal.scope.covers(division_path=request.from_division_path):
        raise PermissionDenied(
            "not_the_requester",
            "this request was made by another division",
            {"division_adcode": request.from_division_adcode},
        )


# --- divisions -----------------------------------------------------------------------------------


def _adcode(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _common(a: str, b: str) -> str:
    """The path of the lowest division over both paths (``330000/331126/`` …)."""
    shared: list[str] = []
    for x, y in zip(a.rstrip("/").split("/"), b.rstrip("/").split("/"), strict=False):
        if x != y:
            break
        shared.append(x)
    return "".join(f"{part}/" for part in shared)


async def _asking_path(
    session: AsyncSession,
    principal: Principal,
    division_adcode: str | None,
    incident: incidents.Incident | None,
) -> str:
    if division_adcode is not None:
        path = await org.path_of_division(session=session, adcode=division_adcode)
        if path is None or not principal.scope.covers(division_path=path):
            raise NotFound(
                "division_not_found", f"no division {division_adcode}", {"adcode": division_adcode}
            )
        return path
    path = principal.scope.division_path
    if path is None and incident is not None:
        path = incident.division_path
    if path is None:
        raise ValidationFailed("division_required", "name the division that asks (division_adcode)")
    return path


# --- recording -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """A notification this step sends (``notify.jobs.Notices`` creates it after commit)."""

    kind: str
    title: str
    body: str
    user_ids: tuple[str, ...]
    said: dict[str, Any] = field(default_factory=dict)

    def as_payload(self, request: ResourceRequest) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "body": self.body,
            "user_ids": list(self.user_ids),
            "subject_type": "resource_request",
            "subject_id": str(request.id),
            "said": self.said,
        }


async def deciders_of(*, session: AsyncSession, division_path: str) -> list[str]:
    """The desk of one division (its commanders and duty leaders), not those above it."""
    adcode = _adcode(division_path)
    found: dict[str, None] = {}
    for role in DECIDER_ROLES:
        people = await org.users_covering(session=session, role=role, division_path=division_path)
        for user in people:
            if user.division_adcode == adcode:
                found[str(user.id)] = None
    return list(found)


async def unit_people(*, session: AsyncSession, resource: Resource | None) -> list[str]:
    """The people of the unit that owns ``resource`` (and of a team's own unit)."""
    if resource is None:
        return []
    people: dict[str, None] = {}
    for unit_id in (resource.owner_unit_id, resource.unit_id):
        if unit_id is not None:
            for user in await org.users_of_unit(session=session, unit_id=unit_id):
                people[str(user.id)] = None
    return list(people)


async def _what(session: AsyncSession, request: ResourceRequest) -> str:
    """What is asked for, as the Chinese line of a notification and the timeline summary."""
    if request.target == SUPPLY and request.item_id is not None:
        item = await session.get(SupplyItem, request.item_id)
        if item is not None:
            return f"{item.name} {request.quantity}{item.unit_of_measure}"
    if request.resource_id is not None:
        resource = await session.get(Resource, request.resource_id)
        if resource is not None:
            return resource.name
    if request.kind is not None:
        return kinds.spec(request.kind).zh
    return ""


async def _step(
    session: AsyncSession,
    request: ResourceRequest,
    *,
    step: str,
    before: dict[str, Any] | None,
    tell: Sequence[str] = (),
    owners: Resource | None = None,
    params: dict[str, Any] | None = None,
    timeline: bool = True,
) -> None:
    """Record one step of ``request``: its incident's timeline line (``resource.request.<step>``
    with the request's number and what is asked as ``params``), the audit row and the event to
    the asking area (which the deciding division covers) and the owning unit, naming the people
    told: ``tell`` (deciders, requesters) and, given ``owners``, the owning unit's people."""
    action = f"resource.request.{step}"
    after = audit.snapshot(request, REQUEST_FIELDS)
    what = await _what(session, request)
    words = {"number": request.number, "what": what, **(params or {})}
    incident = (
        await incidents.find_incident(session=session, incident_id=request.incident_id)
        if request.incident_id is not None
        else None
    )
    owner_people = await unit_people(session=session, resource=owners)
    notices: list[Notice] = []
    said = {"code": action, "params": words}
    title = f"{STEP_NAMES[step]} {request.number}"
    if tell:
        notices.append(Notice("resource_request", title, what, tuple(dict.fromkeys(tell)), said))
    if owner_people:
        notices.append(Notice("resource_allocation", title, what, tuple(owner_people), said))
    units = tuple(
        str(u) for u in ((owners.owner_unit_id, owners.unit_id) if owners else ()) if u is not None
    )
    await record_change(
        session,
        action=action,
        subject_type="resource_request",
        subject_id=request.id,
        before=before,
        after=after,
        audience=EventScope(division_path=request.from_division_path, unit_ids=units),
        timeline=incidents.timeline_entry(
            incident,
            code=action,
            summary=f"{STEP_NAMES[step]}：{what}（{request.number}）",
            params=words,
            data={"request_id": str(request.id)},
        )
        if incident is not None and timeline
        else None,
        payload={
            "request": after,
            "params": words,
            **(
                {"incident": {"id": str(incident.id), "number": incident.number}}
                if incident is not None
                else {}
            ),
            **({"notices": [n.as_payload(request) for n in notices]} if notices else {}),
        },
    )


async def _move(
    session: AsyncSession, request: ResourceRequest, to: RequestState, *, version: int | None
) -> dict[str, Any]:
    """The request's state compare-and-set: from the state read (and the version named, if
    any) to ``to``; returns the request as it was."""
    current = RequestState(request.state)
    if to not in REQUEST_TRANSITIONS[current]:
        raise InvalidTransition(
            "request_invalid_transition",
            f"a request that is {current} cannot become {to}",
            {"state": current.value, "to": to.value},
        )
    before = audit.snapshot(request, REQUEST_FIELDS)
    stmt = (
        update(ResourceRequest)
        .where(ResourceRequest.id == request.id, ResourceRequest.state == current.value)
        .values(state=to.value, version=ResourceRequest.version + 1, updated_at=clock.now())
    )
    if version is not None:
        stmt = stmt.where(ResourceRequest.version == version)
    if not rows_affected(await session.execute(stmt)):
        raise Conflict(
            "stale_version",
            "the request changed meanwhile; read it again",
            {"request_id": str(request.id)},
        )
    await session.refresh(request)
    return before


# --- creating ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestDraft:
    target: str
    incident_id: uuid.UUID | None = None
    resource_id: uuid.UUID | None = None
    kind: str | None = None
    item_id: uuid.UUID | None = None
    warehouse_id: uuid.UUID | None = None
    quantity: int = 1
    note: str | None = None
    lon: float | None = None
    lat: float | None = None
    division_adcode: str | None = None


def _requestable(resource: Resource) -> None:
    if resource.kind not in HOLD_STATUS:
        raise ValidationFailed(
            "not_requestable",
            "only teams, equipment and experts are requested whole",
            {"kind": resource.kind},
        )


async def _warehouse(session: AsyncSession, warehouse_id: uuid.UUID) -> Resource:
    found = await get_resource_or_raise(session=session, resource_id=warehouse_id)
    if found.kind != ResourceKind.WAREHOUSE:
        raise ValidationFailed(
            "not_a_warehouse", "supplies come from a warehouse", {"resource_id": str(found.id)}
        )
    return found


async def _target(
    session: AsyncSession, draft: RequestDraft
) -> tuple[str | None, Resource | None, Resource | None]:
    """What is asked for: the kind, the resource and the warehouse named (checked)."""
    if draft.target == UNIT:
        if draft.resource_id is None and draft.kind is None:
            raise ValidationFailed("resource_required", "name a resource or a kind")
        resource = None
        if draft.resource_id is not None:
            resource = await get_resource_or_raise(session=session, resource_id=draft.resource_id)
            _requestable(resource)
            if draft.kind is not None and draft.kind != resource.kind:
                raise ValidationFailed(
                    "kind_mismatch", "the resource is of another kind", {"kind": resource.kind}
                )
        elif draft.kind not in HOLD_STATUS:
            raise ValidationFailed(
                "not_requestable",
                "only teams, equipment and experts are requested whole",
                {"kind": draft.kind},
            )
        return (resource.kind if resource else draft.kind), resource, None
    if draft.item_id is None:
        raise ValidationFailed("item_required", "name the supply item and the quantity")
    await service.get_supply_item_or_raise(session=session, item_id=draft.item_id)
    warehouse = None
    if draft.warehouse_id is not None:
        warehouse = await _warehouse(session, draft.warehouse_id)
    return None, None, warehouse


async def create_request(
    *, session: AsyncSession, principal: Principal, draft: RequestDraft
) -> ResourceRequest:
    """申请: to the requester's own division, or to the lowest one over both the requester and
    the resource (or warehouse) it names."""
    incident = None
    if draft.incident_id is not None:
        incident = await incidents.get_incident_or_raise(
            session=session, incident_id=draft.incident_id, scope=principal.scope
        )
    from_path = await _asking_path(session, principal, draft.division_adcode, incident)
    kind, resource, warehouse = await _target(session, draft)
    to_path = from_path
    for named in (resource, warehouse):
        if named is not None and not named.division_path.startswith(to_path):
            to_path = _common(to_path, named.division_path)
    if not to_path:
        raise ValidationFailed("no_deciding_division", "no division decides over both")
    lon, lat = draft.lon, draft.lat
    if lon is None and incident is not None:
        lon, lat = incident.lon, incident.lat
    now = clock.now()
    request = ResourceRequest(
        number=f"SQ{now.astimezone(clock.LOCAL_TZ):%Y%m%d}-{uuid.uuid4().hex[:6].upper()}",
        incident_id=draft.incident_id,
        target=draft.target,
        kind=kind,
        resource_id=resource.id if resource else None,
        item_id=draft.item_id if draft.target == SUPPLY else None,
        warehouse_id=warehouse.id if warehouse else None,
        quantity=draft.quantity if draft.target == SUPPLY else 1,
        state=RequestState.REQUESTED.value,
        from_division_adcode=_adcode(from_path),
        from_division_path=from_path,
        to_division_adcode=_adcode(to_path),
        to_division_path=to_path,
        lon=lon,
        lat=lat,
        note=draft.note,
        requested_by=principal.user_id if principal.user_id.int else None,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(request)
    await session.flush()
    await _step(
        session,
        request,
        step="created",
        before=None,
        tell=await deciders_of(session=session, division_path=to_path),
    )
    return request


# --- promising -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Approval:
    version: int | None = None
    resource_id: uuid.UUID | None = None
    warehouse_id: uuid.UUID | None = None
    note: str | None = None


async def _hold_resource(
    session: AsyncSession, request: ResourceRequest, resource: Resource
) -> Allocation:
    """A usable resource becomes busy, or nobody gets it (compare-and-set on its status)."""
    _requestable(resource)
    if request.kind is not None and resource.kind != request.kind:
        raise ValidationFailed(
            "kind_mismatch", "the resource is of another kind", {"kind": resource.kind}
        )
    if not resource.division_path.startswith(request.to_division_path):
        raise Conflict(
            "resource_out_of_reach",
            "the resource is not this division's to give; forward the request",
            {"division_adcode": resource.division_adcode},
        )
    usable = kinds.spec(resource.kind).usable
    result = await session.execute(
        update(Resource)
        .where(
            Resource.id == resource.id,
            Resource.status.in_(sorted(usable)),
            # a status set back by hand while a promise holds it does not free it
            ~exists().where(
                Allocation.resource_id == resource.id, Allocation.state.in_(LIVE_ALLOCATIONS)
            ),
        )
        .values(
            status=HOLD_STATUS[resource.kind],
            version=Resource.version + 1,
            updated_at=clock.now(),
        )
    )
    if not rows_affected(result):
        await session.refresh(resource)
        raise Conflict(
            "resource_unavailable",
            "the resource is not free to promise",
            {"resource_id": str(resource.id), "status": resource.status},
        )
    allocation = _allocation(request, resource_id=resource.id, quantity=1)
    session.add(allocation)
    return allocation


def _allocation(
    request: ResourceRequest,
    *,
    resource_id: uuid.UUID | None = None,
    batch_id: uuid.UUID | None = None,
    quantity: int,
) -> Allocation:
    now = clock.now()
    return Allocation(
        request_id=request.id,
        resource_id=resource_id,
        batch_id=batch_id,
        quantity=quantity,
        state=HELD,
        created_at=now,
        updated_at=now,
    )


def _promisable(warehouse_id: uuid.UUID, item_id: uuid.UUID, today: date) -> Any:
    """The batches of an item in a warehouse that may still be promised, earliest expiry first
    (undated last); an expired batch is never promised. Read afresh each time (no ORM cache)."""
    return (
        select(StockBatch.id, (StockBatch.quantity - StockBatch.reserved).label("free"))
        .where(
            StockBatch.warehouse_id == warehouse_id,
            StockBatch.item_id == item_id,
            StockBatch.quantity > StockBatch.reserved,
            or_(StockBatch.expires_on.is_(None), StockBatch.expires_on >= today),
        )
        .order_by(
            StockBatch.expires_on.is_(None),
            StockBatch.expires_on,
            StockBatch.received_on,
            StockBatch.batch_no,
        )
    )


def _today() -> date:
    return clock.now().astimezone(clock.LOCAL_TZ).date()


def _insufficient(request: ResourceRequest, warehouse_id: uuid.UUID | None, left: int) -> Conflict:
    return Conflict(
        "insufficient_stock",
        f"only {left} left to promise",
        {
            "available": left,
            "requested": request.quantity,
            "item_id": str(request.item_id),
            "warehouse_id": str(warehouse_id) if warehouse_id else None,
        },
    )


async def _reserve(
    session: AsyncSession, request: ResourceRequest, warehouse: Resource
) -> list[Allocation]:
    """Reserve the request's quantity from ``warehouse``, earliest expiry first, each batch with
    a compare-and-set; a batch taken meanwhile sends it round again on fresh reads."""
    if request.item_id is None:
        raise ValidationFailed("item_required", "name the supply item and the quantity")
    if warehouse.status not in kinds.spec(ResourceKind.WAREHOUSE).usable:
        raise Conflict(
            "warehouse_closed", "the warehouse is not open", {"resource_id": str(warehouse.id)}
        )
    taken: dict[uuid.UUID, int] = {}
    remaining = request.quantity
    for _ in range(_RETRIES):
        rows = (await session.execute(_promisable(warehouse.id, request.item_id, _today()))).all()
        free = sum(int(r.free) for r in rows)
        if free < remaining:
            # what this transaction took goes back when it rolls back
            raise _insufficient(request, warehouse.id, free + sum(taken.values()))
        for row in rows:
            take = min(int(row.free), remaining)
            if take <= 0:
                break
            result = await session.execute(
                update(StockBatch)
                .where(StockBatch.id == row.id, StockBatch.quantity - StockBatch.reserved >= take)
                .values(reserved=StockBatch.reserved + take, updated_at=clock.now())
            )
            if not rows_affected(result):
                break  # another decider got there first: read again
            taken[row.id] = taken.get(row.id, 0) + take
            remaining -= take
        if remaining == 0:
            break
    if remaining:
        raise Conflict("stock_busy", "the stock kept changing; try again")
    allocations = [_allocation(request, batch_id=b, quantity=q) for b, q in taken.items()]
    session.add_all(allocations)
    return allocations


async def _choose_warehouse(session: AsyncSession, request: ResourceRequest) -> Resource:
    """The open warehouse within the deciding division that can give the whole quantity, the
    nearest to the place of need (else the one holding most); none can: what is left where most
    is left."""
    if request.item_id is None:
        raise ValidationFailed("item_required", "name the supply item and the quantity")
    free = StockBatch.quantity - StockBatch.reserved
    today = _today()
    rows = (
        await session.execute(
            select(Resource, func.sum(free).label("free"))
            .join(StockBatch, StockBatch.warehouse_id == Resource.id)
            .where(
                Resource.kind == ResourceKind.WAREHOUSE.value,
                Resource.status.in_(sorted(kinds.spec(ResourceKind.WAREHOUSE).usable)),
                Resource.division_path.startswith(request.to_division_path, autoescape=True),
                StockBatch.item_id == request.item_id,
                free > 0,
                or_(StockBatch.expires_on.is_(None), StockBatch.expires_on >= today),
            )
            .group_by(Resource.id)
        )
    ).all()
    enough = [(w, int(f)) for w, f in rows if int(f) >= request.quantity]
    if not enough:
        raise _insufficient(request, None, max((int(f) for _, f in rows), default=0))

    def rank(pair: tuple[Resource, int]) -> tuple[float, int]:
        w, f = pair
        if request.lon is None or request.lat is None or w.lon is None or w.lat is None:
            return (math.inf, -f)
        dx = (w.lon - request.lon) * math.cos(math.radians(request.lat))
        return (dx * dx + (w.lat - request.lat) ** 2, -f)

    return min(enough, key=rank)[0]


async def approve(
    *, session: AsyncSession, principal: Principal, request_id: uuid.UUID, approval: Approval
) -> ResourceRequest:
    """审批通过: promise the resource or the quantity, or change nothing."""
    request = await get_request_or_raise(
        session=session, request_id=request_id, scope=principal.scope, lock=True
    )
    _decides(principal, request)
    _not_forwarded(request)
    before = await _move(session, request, RequestState.APPROVED, version=approval.version)
    owner: Resource | None
    if request.target == UNIT:
        chosen = approval.resource_id or request.resource_id
        if chosen is None:
            raise ValidationFailed("resource_required", "choose the resource to send")
        owner = await get_resource_or_raise(session=session, resource_id=chosen)
        await _hold_resource(session, request, owner)
        request.resource_id = owner.id
    else:
        chosen = approval.warehouse_id or request.warehouse_id
        if chosen is not None:
            owner = await _warehouse(session, chosen)
            if not owner.division_path.startswith(request.to_division_path):
                raise Conflict(
                    "resource_out_of_reach",
                    "the warehouse is not this division's to give; forward the request",
                    {"division_adcode": owner.division_adcode},
                )
        else:
            owner = await _choose_warehouse(session, request)
        await _reserve(session, request, owner)
        request.warehouse_id = owner.id
    if approval.note:
        request.why = _why("request.approved", text=approval.note)
    await session.flush()
    await _step(
        session,
        request,
        step="approved",
        before=before,
        tell=_requester(request),
        owners=owner,
        params={"resource": owner.name},
    )
    await _follow(session, request)
    return request


def _why(code: reasons.ReasonCode, **params: Any) -> dict[str, Any]:
    return dict(reasons.reason(code, **params))


def _requester(request: ResourceRequest) -> list[str]:
    return [str(request.requested_by)] if request.requested_by else []


def _not_forwarded(request: ResourceRequest) -> None:
    if request.state == RequestState.FORWARDED:
        raise InvalidTransition(
            "request_forwarded",
            "the division above decides on a forwarded request",
            {"forwarded_to_id": str(request.forwarded_to_id)},
        )


async def reject(
    *,
    session: AsyncSession,
    principal: Principal,
    request_id: uuid.UUID,
    reason: str | None,
    version: int | None,
) -> ResourceRequest:
    """驳回, with the decider's reason."""
    request = await get_request_or_raise(
        session=session, request_id=request_id, scope=principal.scope, lock=True
    )
    _decides(principal, request)
    _not_forwarded(request)
    before = await _move(session, request, RequestState.REJECTED, version=version)
    request.why = _why("request.rejected", text=reason or "")
    await session.flush()
    await _step(
        session,
        request,
        step="rejected",
        before=before,
        tell=_requester(request),
        params={"reason": reason or ""},
    )
    await _follow(session, request)
    return request


async def forward(
    *,
    session: AsyncSession,
    principal: Principal,
    request_id: uuid.UUID,
    note: str | None,
    version: int | None,
) -> ResourceRequest:
    """上报上级: the division cannot meet it; a request of its own goes to the division above
    (from this one), which chooses what to send. Returns the new request."""
    request = await get_request_or_raise(
        session=session, request_id=request_id, scope=principal.scope, lock=True
    )
    _decides(principal, request)
    division = await org.get_division_or_raise(session=session, adcode=request.to_division_adcode)
    if division.parent_adcode is None:
        raise Conflict("no_division_above", "there is no division above this one")
    parent = await org.get_division_or_raise(session=session, adcode=division.parent_adcode)
    before = await _move(session, request, RequestState.FORWARDED, version=version)
    now = clock.now()
    upward = ResourceRequest(
        number=f"SQ{now.astimezone(clock.LOCAL_TZ):%Y%m%d}-{uuid.uuid4().hex[:6].upper()}",
        incident_id=request.incident_id,
        target=request.target,
        kind=request.kind,
        resource_id=None,
        item_id=request.item_id,
        warehouse_id=None,
        quantity=request.quantity,
        state=RequestState.REQUESTED.value,
        from_division_adcode=division.adcode,
        from_division_path=division.path,
        to_division_adcode=parent.adcode,
        to_division_path=parent.path,
        forwarded_from_id=request.id,
        lon=request.lon,
        lat=request.lat,
        note=note or request.note,
        requested_by=principal.user_id if principal.user_id.int else None,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(upward)
    await session.flush()
    request.forwarded_to_id = upward.id
    request.why = _why(
        "request.forwarded", division=parent.name, number=upward.number, text=note or ""
    )
    await session.flush()
    await _step(
        session,
        request,
        step="forwarded",
        before=before,
        tell=_requester(request),
        params={"division": parent.name, "to_number": upward.number},
    )
    await _step(
        session,
        upward,
        step="created",
        before=None,
        tell=await deciders_of(session=session, division_path=parent.path),
        params={"from_number": request.number},
    )
    return upward


# --- moving what was promised --------------------------------------------------------------------


async def _live(session: AsyncSession, request: ResourceRequest) -> list[Allocation]:
    rows = await session.scalars(
        select(Allocation)
        .where(Allocation.request_id == request.id, Allocation.state.in_(LIVE_ALLOCATIONS))
        .order_by(Allocation.created_at, Allocation.id)
    )
    return list(rows.all())


async def _release_resource(session: AsyncSession, resource_id: uuid.UUID) -> None:
    """Back to its kind's usable status, unless someone set another status meanwhile."""
    resource = await get_resource_or_raise(session=session, resource_id=resource_id)
    if resource.kind not in HOLD_STATUS:
        return
    back = kinds.spec(resource.kind).default_status
    await session.execute(
        update(Resource)
        .where(Resource.id == resource_id, Resource.status == HOLD_STATUS[resource.kind])
        .values(status=back, version=Resource.version + 1, updated_at=clock.now())
    )


async def _release(session: AsyncSession, request: ResourceRequest) -> None:
    """Let go of what the request holds: a resource is free again, a reservation returns."""
    for allocation in await _live(session, request):
        if allocation.resource_id is not None:
            await _release_resource(session, allocation.resource_id)
        elif allocation.batch_id is not None and allocation.state == HELD:
            await session.execute(
                update(StockBatch)
                .where(
                    StockBatch.id == allocation.batch_id,
                    StockBatch.reserved >= allocation.quantity,
                )
                .values(reserved=StockBatch.reserved - allocation.quantity, updated_at=clock.now())
            )
        allocation.state = RELEASED
        allocation.updated_at = clock.now()


async def _owner(session: AsyncSession, request: ResourceRequest) -> Resource | None:
    owned = request.resource_id if request.target == UNIT else request.warehouse_id
    return await session.get(Resource, owned) if owned is not None else None


async def _leaf(session: AsyncSession, request: ResourceRequest) -> ResourceRequest:
    """The request at the end of a forwarding chain: the one holding the allocation."""
    seen = {request.id}
    while request.forwarded_to_id is not None:
        upward = await session.get(
            ResourceRequest, request.forwarded_to_id, populate_existing=True, with_for_update=True
        )
        if upward is None or upward.id in seen:
            break
        seen.add(upward.id)
        request = upward
    return request


async def _follow(session: AsyncSession, request: ResourceRequest) -> None:
    """The requests this one was forwarded from take its state (one step each, recorded for
    their requesters; the incident's timeline already has this step)."""
    child = request
    while child.forwarded_from_id is not None:
        original = await session.get(
            ResourceRequest, child.forwarded_from_id, populate_existing=True, with_for_update=True
        )
        if original is None or original.state == child.state:
            return
        if RequestState(child.state) not in REQUEST_TRANSITIONS[RequestState(original.state)]:
            return
        before = audit.snapshot(original, REQUEST_FIELDS)
        original.state = child.state
        original.resource_id = child.resource_id
        original.warehouse_id = child.warehouse_id
        original.version += 1
        original.updated_at = clock.now()
        await session.flush()
        await _step(
            session,
            original,
            step=child.state,
            before=before,
            tell=_requester(original),
            params={"via": child.number},
            timeline=False,
        )
        child = original


@dataclass(frozen=True)
class Move:
    """A step after approval: who may take it and what it does to the allocations."""

    to: RequestState
    decider: bool  # the deciding side (else the asking side, or either for ``either``)
    either: bool = False
    target: str | None = None  # only for this target


MOVES: dict[str, Move] = {
    "dispatched": Move(RequestState.DISPATCHED, decider=True, target=UNIT),
    "arrived": Move(RequestState.ARRIVED, decider=False, either=True, target=UNIT),
    "returned": Move(RequestState.RETURNED, decider=False, either=True, target=UNIT),
    "issued": Move(RequestState.ISSUED, decider=True, target=SUPPLY),
    "received": Move(RequestState.RECEIVED, decider=False, target=SUPPLY),
    "closed": Move(RequestState.CLOSED, decider=False, either=True, target=SUPPLY),
    "cancelled": Move(RequestState.CANCELLED, decider=False),
}


def _may(principal: Principal, request: ResourceRequest, move: Move) -> None:
    if move.either:
        if principal.scope.covers(division_path=request.to_division_path):
            return
        _asks(principal, request)
    elif move.decider:
        _decides(principal, request)
    else:
        _asks(principal, request)


async def _issue(session: AsyncSession, request: ResourceRequest) -> None:
    """出库: the reserved quantities leave their batches; a below-minimum check is due now."""
    for allocation in await _live(session, request):
        if allocation.batch_id is None:
            continue
        result = await session.execute(
            update(StockBatch)
            .where(
                StockBatch.id == allocation.batch_id,
                StockBatch.reserved >= allocation.quantity,
                StockBatch.quantity >= allocation.quantity,
            )
            .values(
                quantity=StockBatch.quantity - allocation.quantity,
                reserved=StockBatch.reserved - allocation.quantity,
                updated_at=clock.now(),
            )
        )
        if not rows_affected(result):
            raise Conflict(
                "stock_changed",
                "the reserved stock was corrected meanwhile; cancel and ask again",
                {"batch_id": str(allocation.batch_id)},
            )
        allocation.state = OUT
        allocation.updated_at = clock.now()
    if request.warehouse_id is not None and request.item_id is not None:
        await timers.schedule(
            session,
            kind=STOCK_CHECK_TIMER,
            subject=request.warehouse_id,
            key=str(request.item_id),
            due_at=clock.now(),
        )


async def _give_back(session: AsyncSession, request: ResourceRequest, returned: int) -> None:
    """What comes back unused goes into the batches it left, the latest expiry first."""
    if returned > request.quantity:
        raise ValidationFailed(
            "returned_too_many",
            "more cannot come back than was issued",
            {"issued": request.quantity},
        )
    rows = await session.execute(
        select(Allocation.batch_id, Allocation.quantity, StockBatch.expires_on)
        .join(StockBatch, StockBatch.id == Allocation.batch_id)
        .where(Allocation.request_id == request.id)
        .order_by(StockBatch.expires_on.desc())
    )
    left = returned
    for row in rows:
        back = min(left, int(row.quantity))
        if back <= 0:
            break
        await session.execute(
            update(StockBatch)
            .where(StockBatch.id == row.batch_id)
            .values(quantity=StockBatch.quantity + back, updated_at=clock.now())
        )
        left -= back


async def take_step(
    *,
    session: AsyncSession,
    principal: Principal,
    request_id: uuid.UUID,
    step: str,
    version: int | None = None,
    returned: int = 0,
    note: str | None = None,
) -> ResourceRequest:
    """One step after approval (or a cancellation). A step named on a request that was
    forwarded is taken on the request at the end of the chain, which holds the allocation
    (the asker's steps by the original's asker, the deciders' by that request's deciders)."""
    move = MOVES[step]
    named = await get_request_or_raise(
        session=session, request_id=request_id, scope=principal.scope, lock=True
    )
    if move.target is not None and named.target != move.target:
        raise InvalidTransition(
            "step_not_for_target",
            f"{step} is not a step of a {named.target} request",
            {"target": named.target},
        )
    request = await _leaf(session, named)
    # the deciders' steps are the deciding division's of the request that holds the promise
    _may(principal, request if move.decider else named, move)
    if request is not named:
        version = None  # the version named was the original's
    before = await _move(session, request, move.to, version=version)
    if step == "issued":
        await _issue(session, request)
    elif step == "dispatched":
        for allocation in await _live(session, request):
            allocation.state = OUT
            allocation.updated_at = clock.now()
    elif step in ("returned", "cancelled"):
        await _release(session, request)
    elif step == "closed":
        if returned:
            await _give_back(session, request, returned)
        await _release(session, request)
    if note:
        request.why = _why("request.noted", step=step, text=note)
    await session.flush()
    owner = await _owner(session, request)
    tell = (
        _requester(request)
        if move.decider
        else await deciders_of(session=session, division_path=request.to_division_path)
    )
    await _step(
        session,
        request,
        step=step,
        before=before,
        tell=tell,
        owners=owner if step in ("dispatched", "issued", "returned", "cancelled") else None,
        params={"resource": owner.name if owner else "", "returned": returned},
    )
    await _follow(session, request)
    await session.refresh(named)
    return named


# --- an incident's allocations -------------------------------------------------------------------


async def incident_allocations(
    *, session: AsyncSession, incident_id: uuid.UUID, include_released: bool
) -> tuple[list[ResourceRequest], list[Allocation]]:
    """What is promised to (and out at) an incident: the requests that hold something, at the
    end of their forwarding chains, with their allocations."""
    requests = list(
        (
            await session.scalars(
                select(ResourceRequest)
                .where(
                    ResourceRequest.incident_id == incident_id,
                    ResourceRequest.forwarded_to_id.is_(None),
                )
                .order_by(ResourceRequest.created_at, ResourceRequest.number)
            )
        ).all()
    )
    allocations = await allocations_of(session=session, request_ids=[r.id for r in requests])
    if not include_released:
        allocations = [a for a in allocations if a.state in LIVE_ALLOCATIONS]
    holding = {a.request_id for a in allocations}
    return [r for r in requests if r.id in holding], allocations
