"""What is near (附近资源): the nearest resources of a kind, what surrounds an incident, and the
map's layer feed — one interface, two paths, like ``gis.service``.

On PostgreSQL the nearest-first questions run on PostGIS: a KNN scan of the GiST index of
``resource.geog`` (``ORDER BY geog <-> point``), distances on the sphere
(``ST_Distance(…, false)``). On SQLite (or with ``portable=True``) they run on the
``(kind, lon, lat)`` index: a box around the point that grows until it holds enough, and the
haversine distance on the same sphere. Both paths order by (distance, code) and agree to the
centimetre; a differential test holds them to it.

Distances are to a resource's point (for an area — a shelter, a hazard zone — its
representative point inside it). Travel time is the straight-line distance at a speed per kind
(``kinds.SPECS``, overridable by ``YINGJI_TRAVEL_SPEEDS``); every answer says so.

A supply is *available* as ``quantity − reserved`` over the batches that have not expired.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources as package_files
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    bindparam,
    cast,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock, geo
from yingji.core.db import dialect_of
from yingji.core.security import Scope
from yingji.resources import kinds, service
from yingji.resources.models import Resource, ResourceKind, StockBatch, SupplyItem

#: the most a nearest-first answer lists
MAX_NEAREST = 50
#: a KNN scan reads this many more than asked and orders them by exact distance
_KNN_MARGIN = 10
#: the portable path's first box (half-side, metres) for a kind not asked before; it grows (by
#: the density it found, at least twofold) until it holds enough. Later questions of the kind
#: start from the radius the last one needed (the answer does not depend on where it starts).
_FIRST_RADIUS_M = 2_000.0
_last_radius: dict[str, float] = {}
#: half the circumference: a box this wide holds the whole sphere
_WHOLE_EARTH_M = math.pi * geo.EARTH_RADIUS_M
#: a video point without a range sees this far (metres); without a field of view, this wide
DEFAULT_VIEW_RANGE_M = 300.0
DEFAULT_FOV_DEG = 90.0
#: the farthest any video point sees (``kinds``: ``range_m`` ≤ 20 000)
MAX_VIEW_RANGE_M = 20_000.0
#: the map's layer feed never sends more features than this
MAX_LAYER_FEATURES = 2_000
TRAVEL_METHOD = "straight_line"


# --- filters -----------------------------------------------------------------------------------


def free_capacity() -> ColumnElement[int]:
    """SQL: a shelter's capacity less its occupancy (``attrs``; a missing occupancy is 0)."""
    capacity: ColumnElement[int] = Resource.attrs["capacity"].as_integer()
    return capacity - func.coalesce(Resource.attrs["occupancy"].as_integer(), 0)


def _unexpired(item_ids: Collection[uuid.UUID]) -> list[ColumnElement[bool]]:
    today = clock.now().date()
    return [
        StockBatch.item_id.in_(list(item_ids)),
        or_(StockBatch.expires_on.is_(None), StockBatch.expires_on >= today),
    ]


def available_here(item_ids: Collection[uuid.UUID]) -> Any:
    """SQL: what the warehouse of the row (``Resource``) has available of ``item_ids``."""
    return (
        select(func.sum(StockBatch.quantity - StockBatch.reserved))
        .where(StockBatch.warehouse_id == Resource.id, *_unexpired(item_ids))
        .scalar_subquery()
    )


@dataclass(frozen=True)
class NearQuery:
    """What to look for: a kind with filters. ``statuses`` None is every status."""

    kind: str
    statuses: frozenset[str] | None = None
    tag: str | None = None
    #: warehouses holding at least ``min_quantity`` available of one of these items
    item_ids: frozenset[uuid.UUID] | None = None
    min_quantity: int = 1
    #: only shelters with room (capacity − occupancy ≥ 1)
    with_room: bool = False
    max_m: float | None = None

    def clauses(self, scope: Scope) -> list[ColumnElement[bool]]:
        found = [
            service.scope_clause(scope),
            *service.filter_clauses(service.ResourceFilter(kind=self.kind, tag=self.tag)),
        ]
        if self.statuses is not None:
            found.append(Resource.status.in_(sorted(self.statuses)))
        if self.with_room:
            found.append(free_capacity() >= 1)
        return found


@dataclass(frozen=True)
class NearHit:
    """A resource at ``distance_m`` from the point (and, asked with an item, what is
    available of it there)."""

    resource: Resource
    distance_m: float
    available_quantity: int | None = None


def _use_postgis(session: AsyncSession, portable: bool) -> bool:
    return not portable and dialect_of(session) == "postgresql"


def _pg_point() -> Any:
    return func.geography(
        func.ST_SetSRID(
            func.ST_MakePoint(bindparam("p_lon", type_=Float), bindparam("p_lat", type_=Float)),
            4326,
        )
    )


_GEOG: ColumnElement[Any] = literal_column("resource.geog")


def circle_box(lon: float, lat: float, radius_m: float) -> tuple[float, float, float, float]:
    """A box holding every point within ``radius_m`` (on the sphere) of the point; the whole
    range of longitudes when the circle reaches a pole."""
    angle = radius_m / geo.EARTH_RADIUS_M
    dlat = math.degrees(angle)
    min_lat, max_lat = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    reach = math.sin(angle) / max(math.cos(math.radians(lat)), 1e-12)
    if angle >= math.pi / 2 or reach >= 1.0 or max_lat >= 90.0 or min_lat <= -90.0:
        return -180.0, min_lat, 180.0, max_lat
    dlon = math.degrees(math.asin(reach)) * 1.000001 + 1e-9
    return lon - dlon, min_lat, lon + dlon, max_lat


def _box_clauses(box: tuple[float, float, float, float]) -> list[ColumnElement[bool]]:
    min_lon, min_lat, max_lon, max_lat = box
    found: list[ColumnElement[bool]] = [Resource.lat.between(min_lat, max_lat)]
    if min_lon < -180.0:  # across the antimeridian
        found.append(or_(Resource.lon >= min_lon + 360.0, Resource.lon <= max_lon))
    elif max_lon > 180.0:
        found.append(or_(Resource.lon >= min_lon, Resource.lon <= max_lon - 360.0))
    else:
        found.append(Resource.lon.between(min_lon, max_lon))
    return found


# --- nearest -----------------------------------------------------------------------------------


async def nearest(
    session: AsyncSession,
    *,
    scope: Scope,
    lon: float,
    lat: float,
    query: NearQuery,
    n: int = 10,
    portable: bool = False,
) -> list[NearHit]:
    """The ``n`` resources matching ``query`` nearest the point, nearest first (ties by code)."""
    n = max(1, min(n, MAX_NEAREST))
    if _use_postgis(session, portable):
        return await _nearest_postgis(session, scope=scope, lon=lon, lat=lat, query=query, n=n)
    found = await _nearest_portable(session, scope=scope, lon=lon, lat=lat, query=query, n=n)
    return await _hits(session, found)


#: (id, code, distance, available)
_Found = tuple[uuid.UUID, str, float, int | None]


def _candidates(query: NearQuery, scope: Scope, *, whole: bool = False) -> Select[Any]:
    """What a nearest-first scan reads — the whole rows, or (id, code, lon, lat) — and what is
    available, with the stock join when an item is asked."""
    columns: tuple[Any, ...] = (
        (Resource,) if whole else (Resource.id, Resource.code, Resource.lon, Resource.lat)
    )
    if query.item_ids is not None:
        # a per-row condition (not a join the planner could turn the KNN scan into a sort with)
        available = available_here(query.item_ids)
        stmt = select(*columns, available).where(available >= query.min_quantity)
    else:
        stmt = select(*columns, literal_column("NULL"))
    return stmt.where(*query.clauses(scope))


#: a stock question reads this many nearest warehouses first, then asks the stock
_STOCK_FIRST_CANDIDATES = 64


async def _nearest_postgis(
    session: AsyncSession, *, scope: Scope, lon: float, lat: float, query: NearQuery, n: int
) -> list[NearHit]:
    """One KNN scan of the GiST index reading whole rows: a few more than asked, ordered by
    their exact distance on the sphere. A stock question first narrows by the KNN scan alone
    (see :func:`_stock_candidates`)."""
    point = _pg_point()
    params = {"p_lon": lon, "p_lat": lat}
    distance = func.ST_Distance(_GEOG, point, False)
    where = [*query.clauses(scope), _GEOG.is_not(None)]
    if query.max_m is not None:
        where.append(func.ST_DWithin(_GEOG, point, query.max_m, False))
    if query.item_ids is not None:
        rows = await _stock_candidates(session, query, where, n, params)
    else:
        stmt = select(Resource, literal_column("NULL"), distance.label("d")).where(*where)
        stmt = stmt.order_by(_GEOG.op("<->")(point)).limit(n + _KNN_MARGIN)
        rows = list((await session.execute(stmt, params)).all())
    hits = [NearHit(row[0], float(row[2]), _int(row[1])) for row in rows]
    if query.max_m is not None:
        hits = [h for h in hits if h.distance_m <= query.max_m]
    hits.sort(key=lambda h: (h.distance_m, h.resource.code))
    return hits[:n]


async def _stock_candidates(
    session: AsyncSession,
    query: NearQuery,
    where: list[ColumnElement[bool]],
    n: int,
    params: dict[str, float],
) -> list[Any]:
    """Warehouses holding enough, nearest first. First the ``m`` nearest of the kind (a KNN
    scan the planner cannot trade for a sort) with the stock condition on those: enough found
    among them are the nearest of all. Else the stock decides first: the warehouses whose
    unexpired batches of the items hold enough (one aggregate over ``stock_batch`` by item),
    ordered by distance — bounded by how many warehouses hold the items, never by the whole
    table (a KNN scan that kept growing read every warehouse when the item was rare)."""
    assert query.item_ids is not None  # noqa: S101 - the caller asks only then
    point = _pg_point()
    distance = func.ST_Distance(_GEOG, point, False)
    available = available_here(query.item_ids)
    nearest_m = (
        select(Resource.id.label("rid"), distance.label("d"))
        .where(*where)
        .order_by(_GEOG.op("<->")(point))
        .limit(_STOCK_FIRST_CANDIDATES)
        .subquery()
    )
    stmt = (
        select(Resource, available, nearest_m.c.d)
        .join(nearest_m, nearest_m.c.rid == Resource.id)
        .where(available >= query.min_quantity)
        .order_by(nearest_m.c.d)
        .limit(n + _KNN_MARGIN)
    )
    rows = list((await session.execute(stmt, params)).all())
    if len(rows) >= n:
        return rows
    on_hand = func.sum(StockBatch.quantity - StockBatch.reserved)
    holding = (
        select(StockBatch.warehouse_id.label("wid"), on_hand.label("available"))
        .where(*_unexpired(query.item_ids))
        .group_by(StockBatch.warehouse_id)
        .having(on_hand >= query.min_quantity)
        .subquery()
    )
    stmt = (
        select(Resource, holding.c.available, distance.label("d"))
        .join(holding, holding.c.wid == Resource.id)
        .where(*where)
        .order_by(distance, Resource.code)
        .limit(n + _KNN_MARGIN)
    )
    return list((await session.execute(stmt, params)).all())


async def _nearest_portable(
    session: AsyncSession, *, scope: Scope, lon: float, lat: float, query: NearQuery, n: int
) -> list[_Found]:
    stmt = _candidates(query, scope)
    stmt = stmt.where(Resource.lon.is_not(None), Resource.lat.is_not(None))
    limit_m = min(query.max_m, _WHOLE_EARTH_M) if query.max_m is not None else _WHOLE_EARTH_M
    radius = min(_last_radius.get(query.kind, _FIRST_RADIUS_M), limit_m)
    while True:
        rows = (
            await session.execute(stmt.where(*_box_clauses(circle_box(lon, lat, radius))))
        ).all()
        found = [
            (row[0], row[1], geo.haversine_m(lon, lat, row[2], row[3]), _int(row[4]))
            for row in rows
        ]
        found = [f for f in found if f[2] <= radius]
        if len(found) >= n or radius >= limit_m:
            break
        # points thin out evenly on a map: n of them need sqrt(n / found) times the radius
        grow = 4.0 if not found else min(4.0, max(2.0, 1.25 * math.sqrt(n / len(found))))
        radius = min(radius * grow, limit_m)
    _last_radius[query.kind] = max(_FIRST_RADIUS_M / 8, min(radius, 1_000_000.0) * 0.7)
    found.sort(key=lambda f: (f[2], f[1]))
    return found[:n]


def _int(value: object) -> int | None:
    return None if value is None else int(str(value))


async def _hits(session: AsyncSession, found: Sequence[_Found]) -> list[NearHit]:
    if not found:
        return []
    rows = {
        r.id: r
        for r in await session.scalars(
            select(Resource).where(Resource.id.in_([f[0] for f in found]))
        )
    }
    return [NearHit(rows[i], d, available) for i, _, d, available in found if i in rows]


async def within(
    session: AsyncSession,
    *,
    scope: Scope,
    lon: float,
    lat: float,
    radius_m: float,
    query: NearQuery,
    limit: int = MAX_NEAREST,
    portable: bool = False,
) -> list[NearHit]:
    """The resources matching ``query`` within ``radius_m`` of the point, nearest first (at
    most ``limit``)."""
    bounded = NearQuery(**{**query.__dict__, "max_m": radius_m})
    return await nearest(
        session, scope=scope, lon=lon, lat=lat, query=bounded, n=limit, portable=portable
    )


# --- travel ------------------------------------------------------------------------------------


def travel_speeds(overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """km/h per kind: the kinds' defaults, with the operator's overrides."""
    speeds = {kind.value: spec.speed_kmh for kind, spec in kinds.SPECS.items()}
    for kind, speed in (overrides or {}).items():
        if kind in speeds:
            speeds[kind] = float(speed)
    return speeds


def travel_minutes(distance_m: float, speed_kmh: float) -> float:
    """Straight-line minutes at ``speed_kmh``, to a tenth of a minute."""
    return round(distance_m / 1000.0 / speed_kmh * 60.0, 1)


# --- supplies an incident needs ----------------------------------------------------------------


@lru_cache(maxsize=1)
def category_supplies() -> dict[str, tuple[str, ...]]:
    """Category code (or prefix, ``""`` for any) → the item codes an incident of it needs."""
    text = package_files.files("yingji").joinpath("data/category_supplies.json").read_text("utf-8")
    table = json.loads(text)["categories"]
    return {str(key): tuple(str(code) for code in codes) for key, codes in table.items()}


def supplies_for(category_code: str | None) -> tuple[str, ...]:
    """The item codes for the category: the longest key that is it or a prefix of it."""
    table = category_supplies()
    code = category_code or ""
    keys = [k for k in table if k == "" or code == k or code.startswith(k + ".")]
    return table[max(keys, key=len)] if keys else ()


async def items_by_code(session: AsyncSession, codes: Sequence[str]) -> list[SupplyItem]:
    """The catalogue items of ``codes`` that exist, in the order of ``codes``."""
    if not codes:
        return []
    rows = {
        i.code: i
        for i in await session.scalars(select(SupplyItem).where(SupplyItem.code.in_(codes)))
    }
    return [rows[c] for c in codes if c in rows]


async def item_by_code_or_id(session: AsyncSession, key: str) -> SupplyItem | None:
    """A catalogue item by its code, or by its id."""
    try:
        item_id = uuid.UUID(key)
    except ValueError:
        return await service.get_supply_item_by_code(session=session, code=key)
    return await service.get_supply_item(session=session, item_id=item_id)


async def available_items(
    session: AsyncSession, *, warehouse_ids: Collection[uuid.UUID], item_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, dict[uuid.UUID, tuple[int, int]]]:
    """warehouse → item → (available, on hand) over the batches not expired."""
    if not warehouse_ids or not item_ids:
        return {}
    today = clock.now().date()
    rows = await session.execute(
        select(
            StockBatch.warehouse_id,
            StockBatch.item_id,
            func.sum(StockBatch.quantity - StockBatch.reserved),
            func.sum(StockBatch.quantity),
        )
        .where(
            StockBatch.warehouse_id.in_(list(warehouse_ids)),
            StockBatch.item_id.in_(list(item_ids)),
            or_(StockBatch.expires_on.is_(None), StockBatch.expires_on >= today),
        )
        .group_by(StockBatch.warehouse_id, StockBatch.item_id)
    )
    found: dict[uuid.UUID, dict[uuid.UUID, tuple[int, int]]] = {}
    for warehouse_id, item_id, available, on_hand in rows:
        found.setdefault(warehouse_id, {})[item_id] = (int(available), int(on_hand))
    return found


# --- surroundings ------------------------------------------------------------------------------


def bearing_deg(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """The initial compass bearing from point 1 to point 2 (0 = north, clockwise)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(y, x)) + 360.0) % 360.0


def sees(camera: Resource, distance_m: float, lon: float, lat: float) -> bool:
    """Whether the video point sees the spot: within its range, and inside its view cone
    (``direction_deg ± fov_deg/2``; without a direction it looks all around)."""
    attrs = camera.attrs or {}
    if distance_m > float(attrs.get("range_m") or DEFAULT_VIEW_RANGE_M):
        return False
    direction = attrs.get("direction_deg")
    fov = float(attrs.get("fov_deg") or DEFAULT_FOV_DEG)
    if direction is None or fov >= 360.0 or distance_m < 0.5:
        return True
    if camera.lon is None or camera.lat is None:
        return False
    off = abs(
        (bearing_deg(camera.lon, camera.lat, lon, lat) - float(direction) + 180.0) % 360.0 - 180.0
    )
    return off <= fov / 2.0


@dataclass
class Surroundings:
    """What is around a spot (an incident's place), each group nearest first."""

    lon: float
    lat: float
    radius_m: float
    needed_items: list[SupplyItem] = field(default_factory=list)
    hazard_sources: list[NearHit] = field(default_factory=list)
    protection_targets: list[NearHit] = field(default_factory=list)
    teams: list[NearHit] = field(default_factory=list)
    warehouses: list[NearHit] = field(default_factory=list)
    #: warehouse → item → (available, on hand), for the needed items
    stock: dict[uuid.UUID, dict[uuid.UUID, tuple[int, int]]] = field(default_factory=dict)
    shelters: list[NearHit] = field(default_factory=list)
    video_points: list[NearHit] = field(default_factory=list)
    medical_facilities: list[NearHit] = field(default_factory=list)


#: how many of each group the surroundings list
NEAREST_TEAMS = 5
NEAREST_WAREHOUSES = 5
NEAREST_SHELTERS = 5
NEAREST_MEDICAL = 3
MAX_WITHIN = 50


async def surroundings(
    session: AsyncSession,
    *,
    scope: Scope,
    lon: float,
    lat: float,
    radius_m: float,
    category_code: str | None,
    portable: bool = False,
) -> Surroundings:
    """Hazard sources and protection targets within ``radius_m``; the nearest usable teams;
    the nearest open warehouses holding what the category needs; the nearest shelters with
    room; the video points that see the spot; the nearest open medical facilities."""
    kind = ResourceKind
    found = Surroundings(lon=lon, lat=lat, radius_m=radius_m)

    async def near(query: NearQuery, n: int, radius: float | None = None) -> list[NearHit]:
        if radius is not None:
            query = NearQuery(**{**query.__dict__, "max_m": radius})
        return await nearest(
            session, scope=scope, lon=lon, lat=lat, query=query, n=n, portable=portable
        )

    def usable(of: ResourceKind, **more: Any) -> NearQuery:
        return NearQuery(of.value, statuses=kinds.SPECS[of].usable, **more)

    found.hazard_sources = await near(usable(kind.HAZARD_SOURCE), MAX_WITHIN, radius_m)
    found.protection_targets = await near(
        NearQuery(kind.PROTECTION_TARGET.value), MAX_WITHIN, radius_m
    )
    found.teams = await near(usable(kind.RESCUE_TEAM), NEAREST_TEAMS)
    found.needed_items = await items_by_code(session, supplies_for(category_code))
    if found.needed_items:
        item_ids = frozenset(i.id for i in found.needed_items)
        found.warehouses = await near(usable(kind.WAREHOUSE, item_ids=item_ids), NEAREST_WAREHOUSES)
        found.stock = await available_items(
            session, warehouse_ids=[h.resource.id for h in found.warehouses], item_ids=item_ids
        )
    found.shelters = await near(usable(kind.SHELTER, with_room=True), NEAREST_SHELTERS)
    cameras = await near(usable(kind.VIDEO_POINT), MAX_NEAREST, MAX_VIEW_RANGE_M)
    found.video_points = [h for h in cameras if sees(h.resource, h.distance_m, lon, lat)]
    found.medical_facilities = await near(usable(kind.MEDICAL_FACILITY), NEAREST_MEDICAL)
    return found


# --- the map's layer feed and counts ---------------------------------------------------------


BBox = tuple[float, float, float, float]


def grid_cell_deg(bbox: BBox, zoom: float) -> float:
    """The side of a cluster cell (degrees): about 64 screen pixels at ``zoom``, widened until
    the box meets at most ``MAX_LAYER_FEATURES`` cells of the global grid."""
    cell = 360.0 / float(2.0 ** max(0.0, zoom)) / 4.0
    width, height = bbox[2] - bbox[0], bbox[3] - bbox[1]
    while (math.floor(width / cell) + 2) * (math.floor(height / cell) + 2) > MAX_LAYER_FEATURES:
        cell *= 2.0
    return cell


@dataclass(frozen=True)
class LayerPoint:
    id: uuid.UUID
    code: str
    name: str
    status: str
    lon: float
    lat: float


@dataclass(frozen=True)
class LayerCluster:
    lon: float
    lat: float
    count: int


async def layer(
    session: AsyncSession, *, scope: Scope, kind: str, bbox: BBox, zoom: float
) -> list[LayerPoint] | list[LayerCluster]:
    """The resources of ``kind`` in the box: each one while they are at most
    ``MAX_LAYER_FEATURES``, else grid clusters (count and mean point per cell) counted in SQL."""
    where = [
        service.scope_clause(scope),
        *service.filter_clauses(service.ResourceFilter(kind=kind, bbox=bbox)),
    ]
    rows = (
        await session.execute(
            select(
                Resource.id,
                Resource.code,
                Resource.name,
                Resource.status,
                Resource.lon,
                Resource.lat,
            )
            .where(*where)
            .order_by(Resource.code)
            .limit(MAX_LAYER_FEATURES + 1)
        )
    ).all()
    if len(rows) <= MAX_LAYER_FEATURES:
        return [LayerPoint(r[0], r[1], r[2], r[3], r[4] or 0.0, r[5] or 0.0) for r in rows]
    cell = grid_cell_deg(bbox, zoom)
    # a grid anchored at (−180°, −90°), not at the box: a cluster stays put as the map pans
    x, y = (Resource.lon + 180.0) / cell, (Resource.lat + 90.0) / cell
    gx: ColumnElement[Any]
    gy: ColumnElement[Any]
    if dialect_of(session) == "postgresql":
        gx, gy = func.floor(x), func.floor(y)
    else:  # both offsets are ≥ 0: truncation is the floor
        gx, gy = cast(x, Integer), cast(y, Integer)
    cells = await session.execute(
        select(func.count(), func.avg(Resource.lon), func.avg(Resource.lat))
        .where(*where)
        .group_by(gx, gy)
        .order_by(gx, gy)
    )
    return [LayerCluster(float(x), float(y), int(count)) for count, x, y in cells]


async def counts(session: AsyncSession, *, scope: Scope, bbox: BBox | None) -> dict[str, int]:
    """How many resources of each kind (every kind, zero included) the scope sees in the box."""
    rows = await session.execute(
        select(Resource.kind, func.count())
        .where(
            service.scope_clause(scope),
            *service.filter_clauses(service.ResourceFilter(bbox=bbox)),
        )
        .group_by(Resource.kind)
    )
    found = {kind.value: 0 for kind in kinds.SPECS}
    for kind, count in rows:
        if kind in found:
            found[kind] = int(count)
    return found
