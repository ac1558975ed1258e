"""HTTP routes of the resource registry: the kinds, and list/create/read/change/delete of the
resources of every kind (the ten databases), scoped to the principal's jurisdiction."""

from __future__ import annotations

import math
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core.errors import ValidationFailed
from yingji.core.security import Permission as P
from yingji.core.security import Principal
from yingji.core.web import Require, Session
from yingji.resources import flows, kinds, schemas, service
from yingji.resources.models import Resource, ResourceKind

router = APIRouter(prefix="/api/v1", tags=["resources"])

Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Reader = Annotated[Principal, Require(P.RESOURCE_READ)]
Writer = Annotated[Principal, Require(P.RESOURCE_WRITE)]


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``minLon,minLat,maxLon,maxLat`` (WGS-84) or None; anything else is ``invalid_bbox``."""
    if text is None:
        return None
    parts = text.split(",")
    try:
        if len(parts) != 4:
            raise ValueError
        min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
    except ValueError:
        raise ValidationFailed(
            "invalid_bbox", "bbox is minLon,minLat,maxLon,maxLat", {"bbox": text[:100]}
        ) from None
    numbers = (min_lon, min_lat, max_lon, max_lat)
    if (
        not all(math.isfinite(n) for n in numbers)
        or not -180 <= min_lon <= max_lon <= 180
        or not -90 <= min_lat <= max_lat <= 90
    ):
        raise ValidationFailed(
            "invalid_bbox", "bbox is minLon,minLat,maxLon,maxLat", {"bbox": text[:100]}
        )
    return numbers


async def resource_filter(
    session: AsyncSession,
    *,
    kind: ResourceKind | None,
    division: str | None,
    status: str | None,
    q: str | None,
    tag: str | None,
    bbox: str | None,
) -> service.ResourceFilter | None:
    """The list filters from a query string; None when they can match nothing (an unknown
    division)."""
    division_path = None
    if division:
        division_path = await service.division_filter_path(session=session, adcode=division)
        if division_path is None:
            return None
    return service.ResourceFilter(
        kind=kind.value if kind else None,
        division_path=division_path,
        status=status,
        q=q,
        tag=tag,
        bbox=parse_bbox(bbox),
    )


async def read_all(session: AsyncSession, rows: list[Resource]) -> list[schemas.ResourceRead]:
    divisions, units = await service.names_for(session=session, resources=rows)
    return [
        schemas.ResourceRead(
            id=r.id,
            kind=r.kind,
            code=r.code,
            name=r.name,
            status=r.status,
            division_adcode=r.division_adcode,
            division_name=divisions.get(r.division_adcode),
            owner_unit_id=r.owner_unit_id,
            owner_unit_name=units.get(r.owner_unit_id) if r.owner_unit_id else None,
            unit_id=r.unit_id,
            address=r.address,
            lon=r.lon,
            lat=r.lat,
            area=r.area,
            contact_name=r.contact_name,
            contact_phone=r.contact_phone,
            attrs=r.attrs or {},
            tags=[t for t in (r.tags or "").split("|") if t],
            version=r.version,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in rows
    ]


async def read_one(session: AsyncSession, row: Resource) -> schemas.ResourceRead:
    return (await read_all(session, [row]))[0]


@router.get(
    "/resources/kinds",
    response_model=schemas.KindsRead,
    summary="The ten kinds (statuses, own fields with Chinese headers) and the common columns",
)
async def list_kinds(_me: Reader) -> schemas.KindsRead:
    return schemas.KindsRead.model_validate(
        {
            "common": [f.describe() for f in kinds.COMMON],
            "kinds": [spec.describe() for spec in kinds.SPECS.values()],
        }
    )


@router.get(
    "/resources",
    response_model=schemas.ResourcePage,
    summary="Resources you may see (filter by kind, division subtree, status, text, tag, bbox)",
)
async def list_resources(
    session: Session,
    me: Reader,
    kind: ResourceKind | None = None,
    division: Annotated[str | None, Query(pattern=schemas.ADCODE_PATTERN)] = None,
    status: Annotated[str | None, Query(max_length=24)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    bbox: Annotated[
        str | None, Query(max_length=100, description="minLon,minLat,maxLon,maxLat (WGS-84)")
    ] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> schemas.ResourcePage:
    filters = await resource_filter(
        session, kind=kind, division=division, status=status, q=q, tag=tag, bbox=bbox
    )
    if filters is None:
        return schemas.ResourcePage(items=[], total=0)
    rows, total = await service.list_resources(
        session=session, scope=me.scope, filters=filters, offset=offset, limit=limit
    )
    return schemas.ResourcePage(items=await read_all(session, rows), total=total)


@router.post(
    "/resources",
    response_model=schemas.ResourceRead,
    status_code=201,
    summary="Add a resource (a rescue team creates or links its rescue_team unit)",
)
async def create_resource(
    body: schemas.ResourceCreate, session: Session, me: Writer
) -> schemas.ResourceRead:
    values = service.ResourceValues(**{**body.model_dump(), "kind": body.kind.value})
    resource = await flows.create_resource(session=session, principal=me, values=values)
    return await read_one(session, resource)


@router.get(
    "/resources/{resource_id}",
    response_model=schemas.ResourceRead,
    responses={404: {}},
    summary="One resource",
)
async def get_resource(
    resource_id: uuid.UUID, session: Session, me: Reader
) -> schemas.ResourceRead:
    resource = await service.get_resource_or_raise(
        session=session, resource_id=resource_id, scope=me.scope
    )
    return await read_one(session, resource)


@router.patch(
    "/resources/{resource_id}",
    response_model=schemas.ResourceRead,
    responses={404: {}, 409: {}},
    summary="Change a resource at the version read (409 stale_version otherwise)",
)
async def update_resource(
    resource_id: uuid.UUID, body: schemas.ResourceUpdate, session: Session, me: Writer
) -> schemas.ResourceRead:
    changes = body.model_dump(exclude_unset=True)
    version = changes.pop("version")
    resource = await flows.update_resource(
        session=session, principal=me, resource_id=resource_id, changes=changes, version=version
    )
    return await read_one(session, resource)


@router.delete(
    "/resources/{resource_id}",
    status_code=204,
    responses={404: {}, 409: {}},
    summary="Delete a resource (409 resource_in_use while an allocation holds it)",
)
async def delete_resource(resource_id: uuid.UUID, session: Session, me: Writer) -> Response:
    await flows.delete_resource(session=session, principal=me, resource_id=resource_id)
    return Response(status_code=204)
