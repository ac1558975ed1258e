"""HTTP routes of what is near: the nearest resources of a kind, an incident's surroundings, and
the map's layer feed and counts (``resources.spatial`` answers them)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core.errors import NotFound, ValidationFailed
from yingji.core.geo import to_wgs84
from yingji.core.security import Permission, Principal
from yingji.core.web import IncidentReader, Require, Session, get_settings
from yingji.incidents import service as incidents
from yingji.resources import api, kinds, schemas, spatial
from yingji.resources.models import Resource, ResourceKind, SupplyItem

router = APIRouter(prefix="/api/v1", tags=["resources"])


# --- shapes -------------------------------------------------------------------------------------


class Nearby(BaseModel):
    resource: schemas.ResourceRead
    #: on the sphere, metres, to the resource's point
    distance_m: float
    #: straight line at the kind's speed
    travel_minutes: float
    #: asked with ``item``: what the warehouse has available of it (quantity − reserved)
    available_quantity: int | None = None


class Travel(BaseModel):
    """How travel times are estimated: a straight line at a speed (per kind)."""

    method: Literal["straight_line"] = "straight_line"
    speed_kmh: float | None = None
    speeds_kmh: dict[str, float] | None = None


class NearestPage(BaseModel):
    items: list[Nearby]
    travel: Travel


class HeldItem(BaseModel):
    """An item a warehouse holds: available (quantity − reserved) and on hand, unexpired."""

    item_id: uuid.UUID
    code: str
    name: str
    unit: str
    available: int
    quantity: int


class NearbyWarehouse(Nearby):
    items: list[HeldItem]


class NearbyShelter(Nearby):
    capacity: int | None = None
    occupancy: int | None = None
    free_capacity: int | None = None


class NearCenter(BaseModel):
    lon: float
    lat: float


class NeededItem(BaseModel):
    item_id: uuid.UUID
    code: str
    name: str
    unit: str


class SurroundingsRead(BaseModel):
    """What is around an incident's place, each group nearest first. ``center`` is None (and
    every group empty) while the incident has no place."""

    incident_id: uuid.UUID
    center: NearCenter | None
    radius_m: float
    category_code: str | None
    #: the supplies the category needs (``data/category_supplies.json``)
    needed_items: list[NeededItem]
    hazard_sources: list[Nearby]
    protection_targets: list[Nearby]
    teams: list[Nearby]
    warehouses: list[NearbyWarehouse]
    shelters: list[NearbyShelter]
    video_points: list[Nearby]
    medical_facilities: list[Nearby]
    travel: Travel


class PointGeometry(BaseModel):
    type: Literal["Point"] = "Point"
    coordinates: tuple[float, float]


class LayerProperties(BaseModel):
    """One resource (id, code, name, status), or a grid cluster (``cluster``, ``count``)."""

    kind: str
    cluster: bool = False
    count: int = 1
    id: uuid.UUID | None = None
    code: str | None = None
    name: str | None = None
    status: str | None = None


class LayerFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    geometry: PointGeometry
    properties: LayerProperties


class LayerCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[LayerFeature]
    #: whether the features are grid clusters; the cell's side in degrees
    clustered: bool
    cell_deg: float | None = None


class KindCounts(BaseModel):
    counts: dict[str, int]


# --- inputs -------------------------------------------------------------------------------------


def _statuses(spec: kinds.KindSpec, status: str | None) -> frozenset[str] | None:
    if status is None:
        return None
    if status == "usable":
        return spec.usable
    if status not in spec.statuses:
        raise ValidationFailed(
            "unknown_status",
            "not a status of this kind",
            {"status": status, "allowed": ["usable", *spec.statuses]},
        )
    return frozenset({status})


BBoxText = Annotated[str, Query(max_length=100, description="minLon,minLat,maxLon,maxLat (WGS-84)")]


def _box(text: str) -> spatial.BBox:
    box = api.parse_bbox(text)
    if box is None:  # parse_bbox answers None for None only
        raise ValidationFailed("invalid_bbox", "bbox is minLon,minLat,maxLon,maxLat")
    return box


# --- answers ------------------------------------------------------------------------------------


async def _briefs(
    session: AsyncSession, rows: Iterable[Resource]
) -> dict[uuid.UUID, schemas.ResourceRead]:
    unique = list({r.id: r for r in rows}.values())
    return {read.id: read for read in await api.read_all(session, unique)}


def _nearby(
    hit: spatial.NearHit, briefs: dict[uuid.UUID, schemas.ResourceRead], speeds: dict[str, float]
) -> dict[str, Any]:
    return {
        "resource": briefs[hit.resource.id],
        "distance_m": round(hit.distance_m, 2),
        "travel_minutes": spatial.travel_minutes(hit.distance_m, speeds[hit.resource.kind]),
        "available_quantity": hit.available_quantity,
    }


def _speeds(request: Request) -> dict[str, float]:
    return spatial.travel_speeds(get_settings(request).travel_speeds)


@router.get(
    "/resources:nearest",
    summary="The nearest resources of a kind, with distance and estimated travel time",
    description="Straight-line distance on the sphere and travel time at the kind's speed "
    "(`travel` says which). `status=usable`: the statuses in which the kind can be sent. "
    "`capability`: a word of the kind's lists (capabilities, specialties, type). `item` (code "
    "or id, warehouses only): those with at least `min_quantity` available (quantity − "
    "reserved, unexpired batches).",
)
async def nearest(
    request: Request,
    session: Session,
    me: Annotated[Principal, Require(Permission.RESOURCE_READ)],
    kind: ResourceKind,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    n: Annotated[int, Query(ge=1, le=spatial.MAX_NEAREST)] = 10,
    crs: Annotated[str, Query(pattern="^(wgs84|gcj02)$")] = "wgs84",
    status: Annotated[str | None, Query(max_length=24)] = None,
    capability: Annotated[
        str | None, Query(min_length=1, max_length=50, pattern=r"^[^|]+$")
    ] = None,
    item: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    min_quantity: Annotated[int, Query(ge=1, le=1_000_000_000)] = 1,
    max_km: Annotated[float | None, Query(gt=0, le=2000)] = None,
) -> NearestPage:
    spec = kinds.SPECS[kind]
    lon, lat = to_wgs84(lon, lat, crs)
    item_ids: frozenset[uuid.UUID] | None = None
    if item is not None:
        if spec.kind is not ResourceKind.WAREHOUSE:
            raise ValidationFailed(
                "item_needs_warehouse", "an item is held by warehouses", {"kind": kind}
            )
        found = await spatial.item_by_code_or_id(session, item)
        if found is None:
            raise NotFound("item_not_found", "no such supply item", {"item": item})
        item_ids = frozenset({found.id})
    query = spatial.NearQuery(
        spec.kind.value,
        statuses=_statuses(spec, status),
        tag=capability,
        item_ids=item_ids,
        min_quantity=min_quantity,
        max_m=None if max_km is None else max_km * 1000.0,
    )
    hits = await spatial.nearest(session, scope=me.scope, lon=lon, lat=lat, query=query, n=n)
    briefs = await _briefs(session, (h.resource for h in hits))
    speeds = _speeds(request)
    return NearestPage(
        items=[Nearby.model_validate(_nearby(h, briefs, speeds)) for h in hits],
        travel=Travel(speed_kmh=speeds[spec.kind.value]),
    )


def _held(
    warehouse: Resource, found: spatial.Surroundings, needed: Sequence[SupplyItem]
) -> list[HeldItem]:
    stock = found.stock.get(warehouse.id, {})
    return [
        HeldItem(
            item_id=item.id,
            code=item.code,
            name=item.name,
            unit=item.unit_of_measure,
            available=stock[item.id][0],
            quantity=stock[item.id][1],
        )
        for item in needed
        if item.id in stock and stock[item.id][0] > 0
    ]


@router.get(
    "/incidents/{incident_id}/surroundings",
    summary="What is around an incident: hazards, targets, teams, supplies, shelters, cameras",
    description="Hazard sources and protection targets within `radius_m`; the 5 nearest usable "
    "rescue teams; the 5 nearest open warehouses holding what the incident's category needs "
    "(with what is available); the 5 nearest shelters with room; the video points that see the "
    "place (within their range and view cone); the 3 nearest open medical facilities.",
)
async def surroundings(
    incident_id: uuid.UUID,
    request: Request,
    session: Session,
    me: IncidentReader,
    radius_m: Annotated[float, Query(gt=0, le=50_000)] = 3000,
) -> SurroundingsRead:
    incident = await incidents.get_incident_or_raise(
        session=session, incident_id=incident_id, scope=me.scope
    )
    speeds = _speeds(request)
    empty = SurroundingsRead(
        incident_id=incident.id,
        center=None,
        radius_m=radius_m,
        category_code=incident.category_code,
        needed_items=[],
        hazard_sources=[],
        protection_targets=[],
        teams=[],
        warehouses=[],
        shelters=[],
        video_points=[],
        medical_facilities=[],
        travel=Travel(speeds_kmh=speeds),
    )
    if incident.lon is None or incident.lat is None:
        return empty
    found = await spatial.surroundings(
        session,
        scope=me.scope,
        lon=incident.lon,
        lat=incident.lat,
        radius_m=radius_m,
        category_code=incident.category_code,
    )
    groups = (
        found.hazard_sources,
        found.protection_targets,
        found.teams,
        found.warehouses,
        found.shelters,
        found.video_points,
        found.medical_facilities,
    )
    briefs = await _briefs(session, (h.resource for group in groups for h in group))

    def near(group: list[spatial.NearHit]) -> list[Nearby]:
        return [Nearby.model_validate(_nearby(h, briefs, speeds)) for h in group]

    shelters = []
    for hit in found.shelters:
        capacity = hit.resource.attrs.get("capacity")
        occupancy = int(hit.resource.attrs.get("occupancy") or 0)
        shelters.append(
            NearbyShelter.model_validate(
                {
                    **_nearby(hit, briefs, speeds),
                    "capacity": capacity,
                    "occupancy": occupancy,
                    "free_capacity": None if capacity is None else int(capacity) - occupancy,
                }
            )
        )
    return empty.model_copy(
        update={
            "center": NearCenter(lon=incident.lon, lat=incident.lat),
            "needed_items": [
                NeededItem(item_id=i.id, code=i.code, name=i.name, unit=i.unit_of_measure)
                for i in found.needed_items
            ],
            "hazard_sources": near(found.hazard_sources),
            "protection_targets": near(found.protection_targets),
            "teams": near(found.teams),
            "warehouses": [
                NearbyWarehouse.model_validate(
                    {
                        **_nearby(h, briefs, speeds),
                        "items": _held(h.resource, found, found.needed_items),
                    }
                )
                for h in found.warehouses
            ],
            "shelters": shelters,
            "video_points": near(found.video_points),
            "medical_facilities": near(found.medical_facilities),
        }
    )


@router.get(
    "/resources:layer",
    response_model=LayerCollection,
    summary="A kind's resources in a box for the map: points when few, else grid clusters",
    description=f"At most {spatial.MAX_LAYER_FEATURES} features: every resource while there are "
    "no more, else clusters of a grid about 64 screen pixels wide at `zoom` (`cluster: true`, "
    "`count`, at the mean point of the cell), counted in the database.",
)
async def layer(
    session: Session,
    me: Annotated[Principal, Require(Permission.RESOURCE_READ)],
    kind: ResourceKind,
    bbox: BBoxText,
    zoom: Annotated[float, Query(ge=0, le=24)],
) -> Response:
    spec = kinds.SPECS[kind]
    box = _box(bbox)
    found = await spatial.layer(session, scope=me.scope, kind=spec.kind.value, bbox=box, zoom=zoom)
    # Up to a few thousand features, written straight to JSON (the shape of LayerCollection)
    # in a worker thread: building a model per feature cost more than the query.
    body = await run_in_threadpool(_layer_json, spec.kind.value, found, box, zoom)
    return Response(body, media_type="application/json")


def _layer_json(
    kind: str,
    found: list[spatial.LayerPoint] | list[spatial.LayerCluster],
    box: spatial.BBox,
    zoom: float,
) -> bytes:
    features: list[dict[str, Any]] = []
    clustered = False
    for f in found:
        if isinstance(f, spatial.LayerCluster):
            clustered = True
            props: dict[str, Any] = {"kind": kind, "cluster": True, "count": f.count}
        else:
            props = {
                "kind": kind,
                "cluster": False,
                "count": 1,
                "id": str(f.id),
                "code": f.code,
                "name": f.name,
                "status": f.status,
            }
        point = {"type": "Point", "coordinates": [f.lon, f.lat]}
        features.append({"type": "Feature", "geometry": point, "properties": props})
    return orjson.dumps(
        {
            "type": "FeatureCollection",
            "features": features,
            "clustered": clustered,
            "cell_deg": spatial.grid_cell_deg(box, zoom) if clustered else None,
        }
    )


@router.get(
    "/resources:counts",
    summary="How many resources of each kind you see, in a box or in all",
)
async def counts(
    session: Session,
    me: Annotated[Principal, Require(Permission.RESOURCE_READ)],
    bbox: Annotated[str | None, Query(max_length=100)] = None,
) -> KindCounts:
    box = api.parse_bbox(bbox)
    return KindCounts(counts=await spatial.counts(session, scope=me.scope, bbox=box))
