"""Map configuration and spatial look-ups over HTTP."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from yingji.core.errors import ValidationFailed
from yingji.core.geo import in_china, to_wgs84
from yingji.core.security import Permission as P
from yingji.core.security import Principal
from yingji.core.web import Require, Session, get_settings
from yingji.gis import service
from yingji.org import service as org

router = APIRouter(prefix="/api/v1", tags=["map"])


@router.get("/config/map", summary="Base layers and the initial view of your area")
async def map_config(
    request: Request, session: Session, me: Annotated[Principal, Require(P.ORG_READ)]
) -> dict[str, Any]:
    settings = get_settings(request)
    center, zoom = [119.06, 27.61], 9.5
    area = me.scope.area_path
    if area:
        adcode = area.rstrip("/").rsplit("/", 1)[-1]
        division = await org.get_division(session=session, adcode=adcode, scope=me.scope)
        if division and division.centroid_lon is not None:
            center = [division.centroid_lon, division.centroid_lat or 0.0]
            zoom = {"county": 9.5, "town": 11.5, "village": 13.5}.get(division.level, 8.0)
    layers = json.loads(settings.map_base_layers) if settings.map_base_layers else []
    return {"base_layers": layers, "center": center, "zoom": zoom}


@router.get("/gis/division-at", summary="The division containing a point")
async def division_at(
    session: Session,
    me: Annotated[Principal, Require(P.ORG_READ)],
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    crs: Annotated[str, Query(pattern="^(wgs84|gcj02)$")] = "wgs84",
    level: str | None = None,
) -> dict[str, Any]:
    lon, lat = to_wgs84(lon, lat, crs)
    if not in_china(lon, lat):
        raise ValidationFailed("coordinates_out_of_range", "the point lies outside China")
    adcode = await service.division_at(session, lon=lon, lat=lat, level=level)
    if (
        adcode is not None
        and await org.get_division(session=session, adcode=adcode, scope=me.scope) is None
    ):
        adcode = None
    return {"adcode": adcode, "lon": lon, "lat": lat}
