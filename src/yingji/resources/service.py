"""Queries and single-entity commands of the resource registry (the ten databases) and of the
supply catalogue and stock. Flushes, never commits.

Every query that returns rows takes the principal's :class:`~yingji.core.security.Scope` and
applies it in SQL (:func:`scope_clause`): a resource outside the scope is "not found", exactly
as one that does not exist. Other parts of the domain (the spatial queries, the importer, the
requests) build on :func:`resource_query`, :func:`filtered_query`, :func:`create_resource`,
:func:`get_resource` and :func:`resource_facts`.

A value the kind refuses is a ``ValidationFailed`` with code ``field_invalid`` and details
``{field, problem, params}`` (``problem`` is the :class:`~yingji.resources.kinds.FieldProblem`
code the console words as ``resource.field.<problem>``).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock, geo, security
from yingji.core.db import rows_affected
from yingji.core.errors import Conflict, NotFound, ValidationFailed
from yingji.core.ids import new_id
from yingji.core.security import Scope
from yingji.org import service as org
from yingji.resources import kinds
from yingji.resources.kinds import FieldProblem, KindSpec
from yingji.resources.models import (
    Allocation,
    Resource,
    ResourceKind,
    ResourceRequest,
    StockBatch,
    StockMinimum,
    SupplyItem,
)

#: what an audit row and an event carry of a resource
RESOURCE_FIELDS = (
    "kind",
    "code",
    "name",
    "status",
    "division_adcode",
    "owner_unit_id",
    "unit_id",
    "address",
    "lon",
    "lat",
    "area",
    "contact_name",
    "contact_phone",
    "attrs",
    "version",
)
#: the columns a change may set (``kind`` and ``code`` are the row's identity; ``unit_id`` is
#: set when a team is created)
CHANGEABLE = (
    "name",
    "status",
    "division_adcode",
    "owner_unit_id",
    "address",
    "lon",
    "lat",
    "area",
    "contact_name",
    "contact_phone",
    "attrs",
)
#: the columns of a rescue team its linkage unit holds (the row mirrors them)
UNIT_MIRRORED = ("name", "division_adcode", "address", "lon", "lat")
#: allocation states that hold a resource or a batch
HOLDING_STATES = ("held", "out")
#: the most vertices an area may have
MAX_AREA_POINTS = 5000
#: a linkage unit's code (a team's resource code becomes its unit's code)
UNIT_CODE_MAX = 50


def _field_problem(key: str, problem: FieldProblem) -> ValidationFailed:
    return ValidationFailed(
        "field_invalid",
        f"{key}: {problem.code}",
        {"field": key, "problem": problem.code, "params": dict(problem.params)},
    )


def kind_spec(kind: str) -> KindSpec:
    """The spec of ``kind``; an unknown kind is ``field_invalid`` on ``kind``."""
    try:
        return kinds.spec(kind)
    except FieldProblem as problem:
        raise _field_problem("kind", problem) from None


# --- scope and filters ---------------------------------------------------------------------------


def scope_clause(scope: Scope) -> ColumnElement[bool]:
    """SQL: the resources ``scope`` sees — its division subtree; a unit's principal its own
    unit's (those it owns, and a team's own row)."""
    if scope.everything:
        return true()
    conditions: list[ColumnElement[bool]] = []
    if scope.division_path:
        conditions.append(Resource.division_path.startswith(scope.division_path, autoescape=True))
    if scope.unit_id is not None:
        conditions.append(Resource.owner_unit_id == scope.unit_id)
        conditions.append(Resource.unit_id == scope.unit_id)
    return or_(*conditions) if conditions else false()


def resource_query(scope: Scope) -> Select[Resource]:
    return select(Resource).where(scope_clause(scope))


@dataclass(frozen=True)
class ResourceFilter:
    """The list filters (``GET /api/v1/resources``), shared by exports and map layers."""

    kind: str | None = None
    #: a division subtree, by the path of its root (see :func:`division_filter_path`)
    division_path: str | None = None
    status: str | None = None
    q: str | None = None
    tag: str | None = None
    #: min_lon, min_lat, max_lon, max_lat
    bbox: tuple[float, float, float, float] | None = None
    conditions: tuple[ColumnElement[bool], ...] = field(default=())


def filter_clauses(filters: ResourceFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = list(filters.conditions)
    if filters.kind:
        clauses.append(Resource.kind == filters.kind)
    if filters.division_path:
        clauses.append(Resource.division_path.startswith(filters.division_path, autoescape=True))
    if filters.status:
        clauses.append(Resource.status == filters.status)
    if filters.q:
        clauses.append(
            Resource.name.contains(filters.q, autoescape=True)
            | Resource.code.contains(filters.q, autoescape=True)
            | Resource.address.contains(filters.q, autoescape=True)
        )
    if filters.tag:
        clauses.append(Resource.tags.contains(f"|{filters.tag}|", autoescape=True))
    if filters.bbox is not None:
        min_lon, min_lat, max_lon, max_lat = filters.bbox
        clauses.append(Resource.lon.between(min_lon, max_lon))
        clauses.append(Resource.lat.between(min_lat, max_lat))
    return clauses


def filtered_query(scope: Scope, filters: ResourceFilter) -> Select[Resource]:
    """The resources ``scope`` sees that pass ``filters`` (unordered)."""
    return resource_query(scope).where(*filter_clauses(filters))


async def division_filter_path(*, session: AsyncSession, adcode: str) -> str | None:
    """The path of the division a list is narrowed to (None: no such division)."""
    return await org.path_of_division(session=session, adcode=adcode)


async def list_resources(
    *,
    session: AsyncSession,
    scope: Scope,
    filters: ResourceFilter,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[Resource], int]:
    stmt = filtered_query(scope, filters)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.scalars(
        stmt.order_by(Resource.kind, Resource.code).offset(offset).limit(limit)
    )
    return list(rows), total


async def get_resource(
    *, session: AsyncSession, resource_id: uuid.UUID, scope: Scope = security.SYSTEM.scope
) -> Resource | None:
    return await session.scalar(resource_query(scope).where(Resource.id == resource_id))


async def get_resource_or_raise(
    *, session: AsyncSession, resource_id: uuid.UUID, scope: Scope = security.SYSTEM.scope
) -> Resource:
    resource = await get_resource(session=session, resource_id=resource_id, scope=scope)
    if resource is None:
        raise NotFound(
            "resource_not_found", f"no resource {resource_id}", {"resource_id": str(resource_id)}
        )
    return resource


async def get_resource_by_code(
    *, session: AsyncSession, kind: str, code: str, scope: Scope = security.SYSTEM.scope
) -> Resource | None:
    return await session.scalar(
        resource_query(scope).where(Resource.kind == kind, Resource.code == code)
    )


async def get_team_of_unit(*, session: AsyncSession, unit_id: uuid.UUID) -> Resource | None:
    """The rescue team row of the linkage unit ``unit_id``, if it has one."""
    return await session.scalar(select(Resource).where(Resource.unit_id == unit_id))


@dataclass(frozen=True)
class ResourceFacts:
    """What other parts of the platform show of a resource (a request, an allocation, a map)."""

    id: uuid.UUID
    kind: str
    code: str
    name: str
    status: str
    division_adcode: str
    division_path: str
    owner_unit_id: uuid.UUID | None
    unit_id: uuid.UUID | None
    lon: float | None
    lat: float | None
    usable: bool


def facts_of(resource: Resource) -> ResourceFacts:
    usable = resource.status in kinds.SPECS[ResourceKind(resource.kind)].usable
    return ResourceFacts(
        id=resource.id,
        kind=resource.kind,
        code=resource.code,
        name=resource.name,
        status=resource.status,
        division_adcode=resource.division_adcode,
        division_path=resource.division_path,
        owner_unit_id=resource.owner_unit_id,
        unit_id=resource.unit_id,
        lon=resource.lon,
        lat=resource.lat,
        usable=usable,
    )


async def resource_facts(
    *,
    session: AsyncSession,
    resource_ids: Collection[uuid.UUID],
    scope: Scope = security.SYSTEM.scope,
) -> dict[uuid.UUID, ResourceFacts]:
    """The facts of the given resources that ``scope`` sees, by id (the others absent)."""
    if not resource_ids:
        return {}
    rows = await session.scalars(resource_query(scope).where(Resource.id.in_(set(resource_ids))))
    return {row.id: facts_of(row) for row in rows}


async def names_for(
    *, session: AsyncSession, resources: Collection[Resource]
) -> tuple[dict[str, str], dict[uuid.UUID, str]]:
    """The names of the divisions and owning units of ``resources`` (for reading them): two
    queries, whatever the number of rows."""
    divisions = await org.division_names(
        session=session, adcodes={r.division_adcode for r in resources}
    )
    units = await org.unit_names(
        session=session, unit_ids={r.owner_unit_id for r in resources if r.owner_unit_id}
    )
    return divisions, units


# --- checking what is written --------------------------------------------------------------------


def check_area(area: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[float, float]]:
    """A GeoJSON Polygon/MultiPolygon area, made valid, with a point inside it."""
    coordinates = area.get("coordinates")
    if not isinstance(coordinates, list) or _count_points(coordinates) > MAX_AREA_POINTS:
        raise ValidationFailed(
            "invalid_geometry",
            f"area must be a Polygon or MultiPolygon of at most {MAX_AREA_POINTS} points",
            {"field": "area", "max_points": MAX_AREA_POINTS},
        )
    normalised, _bounds, inside = org.normalise_boundary(dict(area))
    return normalised, inside


def _count_points(value: object, depth: int = 0) -> int:
    if depth > 4 or not isinstance(value, list):
        return MAX_AREA_POINTS + 1  # deeper than a MultiPolygon: not GeoJSON we take
    if value and all(isinstance(v, int | float) for v in value):
        return 1
    return sum(_count_points(v, depth + 1) for v in value)


def check_point(lon: float | None, lat: float | None) -> None:
    if (lon is None) != (lat is None):
        raise ValidationFailed("incomplete_point", "give both lon and lat, or neither")
    if lon is not None and lat is not None and not geo.in_china(lon, lat):
        raise ValidationFailed("coordinates_out_of_range", "the point lies outside China")


def check_status(kind: KindSpec, status: str | None) -> str:
    if status is None:
        return kind.default_status
    try:
        checked: str = kinds.convert(kinds.status_field(kind), status)
    except FieldProblem as problem:
        raise _field_problem("status", problem) from None
    return checked or kind.default_status


def check_attrs(kind: KindSpec, attrs: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return kinds.check_attrs(kind, attrs)
    except FieldProblem as problem:
        key = str(problem.params.get("field", "attrs"))
        params = {k: v for k, v in problem.params.items() if k != "field"}
        raise _field_problem(f"attrs.{key}", FieldProblem(problem.code, params)) from None


@dataclass
class ResourceValues:
    """A resource as written (``POST``, an import row): the common columns and ``attrs``.
    ``owner_unit_id`` names the owning unit (an import resolves its code first)."""

    kind: str
    code: str
    name: str
    division_adcode: str
    status: str | None = None
    address: str | None = None
    lon: float | None = None
    lat: float | None = None
    area: dict[str, Any] | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    owner_unit_id: uuid.UUID | None = None
    unit_id: uuid.UUID | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


async def _division_path(
    session: AsyncSession, adcode: str, known: Mapping[str, str] | None
) -> str:
    path = known.get(adcode) if known is not None else None
    if path is None:
        path = await org.path_of_division(session=session, adcode=adcode)
    if path is None:
        raise ValidationFailed(
            "division_not_found", f"no division {adcode}", {"division_adcode": adcode}
        )
    return path


async def _check_owner(session: AsyncSession, owner_unit_id: uuid.UUID | None) -> None:
    if (
        owner_unit_id is not None
        and await org.get_unit(session=session, unit_id=owner_unit_id) is None
    ):
        raise ValidationFailed(
            "unit_not_found", f"no unit {owner_unit_id}", {"owner_unit_id": str(owner_unit_id)}
        )


def _placed(spec: KindSpec, values: ResourceValues) -> ResourceValues:
    """``values`` with its area checked (kinds with areas only) and its point defaulted."""
    values = dataclasses.replace(values)
    if values.area is not None:
        if not spec.area:
            raise ValidationFailed(
                "area_not_allowed", f"{spec.kind.value} has no area", {"kind": spec.kind.value}
            )
        values.area, (lon, lat) = check_area(values.area)
        if values.lon is None and values.lat is None:
            values.lon, values.lat = lon, lat
    check_point(values.lon, values.lat)
    return values


def prepare_resource(values: ResourceValues, *, division_path: str) -> dict[str, Any]:
    """The column values of a new resource from ``values``, checked against its kind (code,
    status, ``attrs``, area and point), without touching the database: what a bulk import
    checks each row with before :func:`insert_resources`. The division path is the caller's
    (``org.service.division_paths``); the owning unit is the caller's to check."""
    spec = kind_spec(values.kind)
    try:
        code = kinds.convert(kinds.COMMON[0], values.code)
    except FieldProblem as problem:
        raise _field_problem("code", problem) from None
    try:
        name = kinds.convert(kinds.COMMON[1], values.name)
    except FieldProblem as problem:
        raise _field_problem("name", problem) from None
    attrs = check_attrs(spec, values.attrs)
    status = check_status(spec, values.status)
    values = _placed(spec, values)
    now = clock.now()
    return {
        "id": new_id(),
        "kind": spec.kind.value,
        "code": code,
        "name": name,
        "status": status,
        "division_adcode": values.division_adcode,
        "division_path": division_path,
        "owner_unit_id": values.owner_unit_id,
        "unit_id": values.unit_id,
        "address": values.address,
        "lon": values.lon,
        "lat": values.lat,
        "area": values.area,
        "contact_name": values.contact_name,
        "contact_phone": values.contact_phone,
        "attrs": attrs,
        "tags": kinds.tags_of(spec, attrs),
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


async def existing_codes(
    *, session: AsyncSession, kind: str, codes: Collection[str]
) -> dict[str, uuid.UUID]:
    """The ids of the resources of ``kind`` with the given codes, by code (an import's
    upsert key)."""
    found: dict[str, uuid.UUID] = {}
    wanted = sorted(set(codes))
    for start in range(0, len(wanted), 1000):
        rows = await session.execute(
            select(Resource.code, Resource.id).where(
                Resource.kind == kind, Resource.code.in_(wanted[start : start + 1000])
            )
        )
        found.update({row.code: row.id for row in rows})
    return found


async def insert_resources(*, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows made by :func:`prepare_resource` in one statement (executemany)."""
    if rows:
        await session.execute(insert(Resource), [dict(row) for row in rows])


async def create_resource(
    *,
    session: AsyncSession,
    values: ResourceValues,
    division_paths: Mapping[str, str] | None = None,
) -> Resource:
    """A new resource of ``values.kind``, checked (``division_paths`` spares a caller one
    query per row). A taken (kind, code) is a ``Conflict`` ``resource_exists``; an unknown
    division ``division_not_found``, an unknown owning unit ``unit_not_found``."""
    path = await _division_path(session, values.division_adcode, division_paths)
    row = prepare_resource(values, division_path=path)
    taken = await session.scalar(
        select(Resource.id).where(Resource.kind == row["kind"], Resource.code == row["code"])
    )
    if taken is not None:
        raise Conflict(
            "resource_exists",
            f"a {row['kind']} with code {row['code']} exists",
            {"kind": row["kind"], "code": row["code"], "resource_id": str(taken)},
        )
    await _check_owner(session, values.owner_unit_id)
    resource = Resource(**row)
    session.add(resource)
    await session.flush()
    return resource


async def _checked_changes(
    session: AsyncSession, spec: KindSpec, resource: Resource, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """The column values ``changes`` set, checked (the derived columns added)."""
    values: dict[str, Any] = dict(changes)
    for key in ("name", "status", "division_adcode"):
        if key in values and values[key] is None:
            raise _field_problem(key, FieldProblem("required", {}))
    if "status" in values:
        values["status"] = check_status(spec, values["status"])
    if "attrs" in values:
        values["attrs"] = check_attrs(spec, values["attrs"] or {})
        values["tags"] = kinds.tags_of(spec, values["attrs"])
    if "area" in values and values["area"] is not None:
        placed = _placed(
            spec,
            ResourceValues(
                kind=resource.kind,
                code=resource.code,
                name=resource.name,
                division_adcode=resource.division_adcode,
                area=values["area"],
                lon=values.get("lon"),
                lat=values.get("lat"),
            ),
        )
        values["area"], values["lon"], values["lat"] = placed.area, placed.lon, placed.lat
    elif "lon" in values or "lat" in values:
        check_point(values.get("lon", resource.lon), values.get("lat", resource.lat))
    if "division_adcode" in values:
        values["division_path"] = await _division_path(session, values["division_adcode"], None)
    if "owner_unit_id" in values:
        await _check_owner(session, values["owner_unit_id"])
    return values


async def update_resource(
    *, session: AsyncSession, resource: Resource, changes: Mapping[str, Any], version: int | None
) -> Resource:
    """Apply ``changes`` (columns of :data:`CHANGEABLE`; ``attrs`` replaces the kind's fields
    whole) if the row is still at ``version`` (None: whatever it is, for the team mirror);
    else ``Conflict`` ``stale_version`` with the current version."""
    spec = kind_spec(resource.kind)
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise ValidationFailed("field_not_changeable", unknown[0], {"field": unknown[0]})
    values = await _checked_changes(session, spec, resource, changes)
    current = resource.version if version is None else version
    result = await session.execute(
        update(Resource)
        .where(Resource.id == resource.id, Resource.version == current)
        .values(**values, version=current + 1, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if rows_affected(result) == 0:
        await session.refresh(resource)
        raise Conflict(
            "stale_version",
            "the resource changed since it was read",
            {"version": resource.version, "given": version},
        )
    await session.refresh(resource)
    return resource


async def holding_allocations(*, session: AsyncSession, resource: Resource) -> int:
    """How many allocations hold ``resource`` (whole, or a batch of its stock)."""
    batches = select(StockBatch.id).where(StockBatch.warehouse_id == resource.id)
    count = await session.scalar(
        select(func.count())
        .select_from(Allocation)
        .where(
            Allocation.state.in_(HOLDING_STATES),
            or_(Allocation.resource_id == resource.id, Allocation.batch_id.in_(batches)),
        )
    )
    return int(count or 0)


async def delete_resource(*, session: AsyncSession, resource: Resource) -> None:
    """Delete ``resource`` (its stock goes with it). Refused with ``resource_in_use`` while an
    allocation holds it, and ``resource_has_requests`` while requests name it (their history
    stays: set its status instead)."""
    held = await holding_allocations(session=session, resource=resource)
    if held:
        raise Conflict(
            "resource_in_use",
            "an allocation holds the resource",
            {"resource_id": str(resource.id), "allocations": held},
        )
    batches = select(StockBatch.id).where(StockBatch.warehouse_id == resource.id)
    named = await session.scalar(
        select(func.count())
        .select_from(ResourceRequest)
        .where(
            or_(
                ResourceRequest.resource_id == resource.id,
                ResourceRequest.warehouse_id == resource.id,
            )
        )
    )
    history = await session.scalar(
        select(func.count())
        .select_from(Allocation)
        .where(or_(Allocation.resource_id == resource.id, Allocation.batch_id.in_(batches)))
    )
    if named or history:
        raise Conflict(
            "resource_has_requests",
            "requests name the resource; change its status instead",
            {"resource_id": str(resource.id), "requests": int(named or 0)},
        )
    await session.execute(delete(StockMinimum).where(StockMinimum.warehouse_id == resource.id))
    await session.execute(delete(StockBatch).where(StockBatch.warehouse_id == resource.id))
    await session.delete(resource)
    await session.flush()


# --- rescue teams: the linkage unit extended -----------------------------------------------------


def unit_values(unit: org.LinkageUnit) -> dict[str, Any]:
    """The columns a team row mirrors from its unit."""
    return {
        "name": unit.name,
        "division_adcode": unit.division_adcode,
        "address": unit.address,
        "lon": unit.lon,
        "lat": unit.lat,
    }


async def rescue_units_without_team(*, session: AsyncSession) -> list[org.LinkageUnit]:
    """Every rescue_team linkage unit that has no team row yet."""
    linked = select(Resource.unit_id).where(Resource.unit_id.is_not(None))
    units, _total = await org.list_units(
        session=session, scope=security.SYSTEM.scope, kind="rescue_team", limit=100_000
    )
    taken = set(await session.scalars(linked))
    return [unit for unit in units if unit.id not in taken]


# --- supplies ------------------------------------------------------------------------------------


async def list_supply_items(
    *,
    session: AsyncSession,
    q: str | None = None,
    category: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[SupplyItem], int]:
    stmt = select(SupplyItem)
    if q:
        stmt = stmt.where(
            SupplyItem.name.contains(q, autoescape=True)
            | SupplyItem.code.contains(q, autoescape=True)
        )
    if category:
        stmt = stmt.where(SupplyItem.category == category)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.scalars(stmt.order_by(SupplyItem.code).offset(offset).limit(limit))
    return list(rows), total


async def get_supply_item(*, session: AsyncSession, item_id: uuid.UUID) -> SupplyItem | None:
    return await session.get(SupplyItem, item_id)


async def get_supply_item_or_raise(*, session: AsyncSession, item_id: uuid.UUID) -> SupplyItem:
    item = await session.get(SupplyItem, item_id)
    if item is None:
        raise NotFound("item_not_found", f"no supply item {item_id}", {"item_id": str(item_id)})
    return item


async def get_supply_item_by_code(*, session: AsyncSession, code: str) -> SupplyItem | None:
    return await session.scalar(select(SupplyItem).where(SupplyItem.code == code))


async def create_supply_item(
    *,
    session: AsyncSession,
    code: str,
    name: str,
    unit_of_measure: str,
    category: str | None = None,
) -> SupplyItem:
    if await get_supply_item_by_code(session=session, code=code) is not None:
        raise Conflict("item_exists", f"an item with code {code} exists", {"code": code})
    now = clock.now()
    item = SupplyItem(
        code=code,
        name=name,
        category=category,
        unit_of_measure=unit_of_measure,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    await session.flush()
    return item


def require_warehouse(resource: Resource) -> None:
    if resource.kind != ResourceKind.WAREHOUSE.value:
        raise ValidationFailed(
            "not_a_warehouse", "only a warehouse holds stock", {"kind": resource.kind}
        )


@dataclass(frozen=True)
class StockTotal:
    """An item's totals in one warehouse."""

    item: SupplyItem
    quantity: int
    reserved: int
    minimum: int | None

    @property
    def available(self) -> int:
        return self.quantity - self.reserved

    @property
    def below_minimum(self) -> bool:
        return self.minimum is not None and self.quantity < self.minimum


async def stock_of(
    *, session: AsyncSession, warehouse: Resource
) -> tuple[list[StockBatch], list[StockTotal]]:
    """A warehouse's batches (by item, earliest expiry first) and its per-item totals (every
    item it holds or keeps a minimum of)."""
    batches = list(
        await session.scalars(
            select(StockBatch)
            .where(StockBatch.warehouse_id == warehouse.id)
            .order_by(
                StockBatch.item_id,
                StockBatch.expires_on.is_(None),
                StockBatch.expires_on,
                StockBatch.batch_no,
            )
        )
    )
    minimums = {
        m.item_id: m.minimum
        for m in await session.scalars(
            select(StockMinimum).where(StockMinimum.warehouse_id == warehouse.id)
        )
    }
    item_ids = {b.item_id for b in batches} | set(minimums)
    items = {
        i.id: i
        for i in await session.scalars(select(SupplyItem).where(SupplyItem.id.in_(item_ids)))
    }
    sums: dict[uuid.UUID, tuple[int, int]] = dict.fromkeys(item_ids, (0, 0))
    for batch in batches:
        quantity, reserved = sums[batch.item_id]
        sums[batch.item_id] = (quantity + batch.quantity, reserved + batch.reserved)
    totals = [
        StockTotal(items[item_id], quantity, reserved, minimums.get(item_id))
        for item_id, (quantity, reserved) in sums.items()
    ]
    totals.sort(key=lambda t: t.item.code)
    return batches, totals


async def get_batch_or_raise(
    *, session: AsyncSession, warehouse: Resource, batch_id: uuid.UUID
) -> StockBatch:
    batch = await session.scalar(
        select(StockBatch).where(StockBatch.id == batch_id, StockBatch.warehouse_id == warehouse.id)
    )
    if batch is None:
        raise NotFound("batch_not_found", f"no batch {batch_id}", {"batch_id": str(batch_id)})
    return batch


async def receive_batch(
    *,
    session: AsyncSession,
    warehouse: Resource,
    item: SupplyItem,
    batch_no: str,
    quantity: int,
    expires_on: date | None,
    received_on: date | None,
) -> StockBatch:
    """A new batch in ``warehouse``; a batch number the item already has there is
    ``batch_exists`` (correct that batch's count instead)."""
    require_warehouse(warehouse)
    existing = await session.scalar(
        select(StockBatch.id).where(
            StockBatch.warehouse_id == warehouse.id,
            StockBatch.item_id == item.id,
            StockBatch.batch_no == batch_no,
        )
    )
    if existing is not None:
        raise Conflict(
            "batch_exists",
            f"batch {batch_no} of {item.code} is already here",
            {"batch_id": str(existing), "batch_no": batch_no},
        )
    now = clock.now()
    batch = StockBatch(
        warehouse_id=warehouse.id,
        item_id=item.id,
        batch_no=batch_no,
        quantity=quantity,
        reserved=0,
        expires_on=expires_on,
        received_on=received_on or now.date(),
        created_at=now,
        updated_at=now,
    )
    session.add(batch)
    await session.flush()
    return batch


async def correct_batch(
    *,
    session: AsyncSession,
    batch: StockBatch,
    quantity: int,
    expected_quantity: int,
    expires_on: date | None = None,
    change_expiry: bool = False,
) -> StockBatch:
    """Set the counted ``quantity`` if the batch still holds ``expected_quantity`` (what the
    counter read: compare-and-set) and it covers what is reserved; else ``Conflict``
    ``stale_quantity`` (with the current count) or ``below_reserved``."""
    values: dict[str, Any] = {"quantity": quantity, "updated_at": clock.now()}
    if change_expiry:
        values["expires_on"] = expires_on
    result = await session.execute(
        update(StockBatch)
        .where(
            StockBatch.id == batch.id,
            StockBatch.quantity == expected_quantity,
            StockBatch.reserved <= quantity,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(batch)
    if rows_affected(result) == 0:
        if batch.quantity != expected_quantity:
            raise Conflict(
                "stale_quantity",
                "the batch changed since it was counted",
                {"quantity": batch.quantity, "expected": expected_quantity},
            )
        raise Conflict(
            "below_reserved",
            "more than that is promised to approved requests",
            {"reserved": batch.reserved, "quantity": quantity},
        )
    return batch


async def set_minimums(
    *, session: AsyncSession, warehouse: Resource, minimums: Mapping[uuid.UUID, int]
) -> dict[uuid.UUID, int]:
    """Replace the warehouse's minimum stock by ``minimums`` (item id → minimum); returns what
    it was before. An unknown item is ``item_not_found``."""
    require_warehouse(warehouse)
    known = set(
        await session.scalars(select(SupplyItem.id).where(SupplyItem.id.in_(set(minimums))))
    )
    missing = sorted(str(i) for i in set(minimums) - known)
    if missing:
        raise ValidationFailed(
            "item_not_found", f"no supply item {missing[0]}", {"item_id": missing[0]}
        )
    rows = {
        m.item_id: m
        for m in await session.scalars(
            select(StockMinimum).where(StockMinimum.warehouse_id == warehouse.id)
        )
    }
    before = {item_id: row.minimum for item_id, row in rows.items()}
    now = clock.now()
    for item_id, row in rows.items():
        if item_id not in minimums:
            await session.delete(row)
    for item_id, minimum in minimums.items():
        kept = rows.get(item_id)
        if kept is None:
            session.add(
                StockMinimum(
                    warehouse_id=warehouse.id,
                    item_id=item_id,
                    minimum=minimum,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif kept.minimum != minimum:
            kept.minimum, kept.updated_at = minimum, now
            kept.alerted_at = None  # a new threshold: its next fall alerts again
    await session.flush()
    return before


def stock_clause_available(item_id: uuid.UUID, at_least: int) -> ColumnElement[bool]:
    """SQL: a warehouse (``Resource``) holding at least ``at_least`` available of the item."""
    available = (
        select(func.coalesce(func.sum(StockBatch.quantity - StockBatch.reserved), 0))
        .where(StockBatch.warehouse_id == Resource.id, StockBatch.item_id == item_id)
        .scalar_subquery()
    )
    return and_(Resource.kind == ResourceKind.WAREHOUSE.value, available >= at_least)


# --- what warning targeting reads (靶向发布, issue 19) ------------------------------------------


@dataclass(frozen=True)
class ResourceContact:
    """A resource's contact, for a warning over the place it stands (危险源, 防护目标)."""

    id: uuid.UUID
    kind: str
    name: str
    division_adcode: str
    division_path: str
    lon: float | None
    lat: float | None
    contact_name: str | None
    contact_phone: str | None


async def contacts_in_area(
    *,
    session: AsyncSession,
    kinds_wanted: Collection[str],
    path_prefixes: Collection[str],
    bbox: tuple[float, float, float, float] | None,
) -> list[ResourceContact]:
    """Resources of ``kinds_wanted`` with a contact phone, in a division under any of
    ``path_prefixes`` or standing inside ``bbox`` (the caller keeps those inside its area)."""
    where: list[ColumnElement[bool]] = [
        Resource.division_path.startswith(prefix, autoescape=True)
        for prefix in sorted(set(path_prefixes))
    ]
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        where.append(
            (Resource.lon >= min_lon)
            & (Resource.lon <= max_lon)
            & (Resource.lat >= min_lat)
            & (Resource.lat <= max_lat)
        )
    if not where or not kinds_wanted:
        return []
    rows = await session.execute(
        select(
            Resource.id,
            Resource.kind,
            Resource.name,
            Resource.division_adcode,
            Resource.division_path,
            Resource.lon,
            Resource.lat,
            Resource.contact_name,
            Resource.contact_phone,
        )
        .where(
            Resource.kind.in_(sorted(set(kinds_wanted))),
            Resource.contact_phone.is_not(None),
            or_(*where),
        )
        .order_by(Resource.kind, Resource.code)
    )
    return [ResourceContact(*row) for row in rows]
