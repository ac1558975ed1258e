"""Spatial questions, one interface, two paths: PostGIS on PostgreSQL, shapely + bounding-box SQL
on SQLite. A differential test runs both on the same data and requires the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import shapely
from shapely import STRtree
from shapely.geometry import Point
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import geo
from yingji.core.db import database_of, dialect_of
from yingji.org import service as org


@dataclass(frozen=True)
class Hit:
    key: str
    distance_m: float


def _use_postgis(session: AsyncSession, portable: bool) -> bool:
    return not portable and dialect_of(session) == "postgresql"


async def division_at(
    session: AsyncSession,
    *,
    lon: float,
    lat: float,
    level: str | None = None,
    portable: bool = False,
) -> str | None:
    """The adcode of the deepest division (or the one of ``level``) containing the point."""
    if _use_postgis(session, portable):
        sql = text(
            "SELECT adcode FROM division WHERE geom IS NOT NULL "
            "AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
            "AND (CAST(:level AS text) IS NULL OR level = :level) "
            "ORDER BY length(path) DESC, adcode LIMIT 1"
        )
        adcode: str | None = await session.scalar(sql, {"lon": lon, "lat": lat, "level": level})
        return adcode
    index = await _division_index(session)
    hits = [
        index.entries[i]
        for i in index.tree.query(Point(lon, lat), predicate="covered_by").tolist()
        if level is None or index.entries[i][2] == level
    ]
    if not hits:
        return None
    deepest: str = min(hits, key=lambda e: (-e[1], e[0]))[0]
    return deepest


@dataclass(frozen=True)
class _DivisionIndex:
    version: tuple[object, ...]
    tree: STRtree
    entries: list[tuple[str, int, str]]  # adcode, depth (path length), level


async def _division_index(session: AsyncSession) -> _DivisionIndex:
    """Every boundary parsed once per process into an STRtree; rebuilt when divisions change."""
    version = await org.boundaries_version(session=session)
    cache = database_of(session).cache
    hit = cache.get("gis.divisions")
    if hit is not None and hit[1].version == version:
        index: _DivisionIndex = hit[1]
        return index
    rows = await org.division_boundaries(session=session)
    shapes = [geo.geometry(boundary) for _, _, _, boundary in rows]
    for shape in shapes:
        shapely.prepare(shape)
    index = _DivisionIndex(
        version, STRtree(shapes), [(code, len(path), level) for code, path, level, _ in rows]
    )
    cache["gis.divisions"] = (0.0, index)
    return index


async def units_near(
    session: AsyncSession,
    *,
    lon: float,
    lat: float,
    radius_m: float,
    limit: int = 20,
    portable: bool = False,
) -> list[Hit]:
    """Active linkage units within ``radius_m`` of the point, nearest first.

    Distances are on the sphere of mean radius on both paths (PostGIS ``use_spheroid=false``):
    within 0.5 % of the ellipsoid, and the two paths agree to the centimetre.
    """
    if _use_postgis(session, portable):
        rows = await session.execute(
            text(
                "SELECT code, ST_Distance(geog, "
                "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, false) AS d "
                "FROM linkage_unit WHERE active AND geog IS NOT NULL AND ST_DWithin(geog, "
                "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :r, false) "
                "ORDER BY d, code LIMIT :n"
            ),
            {"lon": lon, "lat": lat, "r": radius_m, "n": limit},
        )
        return [Hit(code, float(d)) for code, d in rows]
    min_lon, min_lat, max_lon, max_lat = geo.radius_bbox(lon, lat, radius_m)
    rows2 = await org.active_unit_points(
        session=session, min_lon=min_lon, min_lat=min_lat, max_lon=max_lon, max_lat=max_lat
    )
    hits = [
        Hit(code, geo.haversine_m(lon, lat, ulon, ulat))
        for code, ulon, ulat in rows2
        if ulon is not None and ulat is not None
    ]
    hits = [h for h in hits if h.distance_m <= radius_m]
    hits.sort(key=lambda h: (h.distance_m, h.key))
    return hits[:limit]


async def divisions_covering(
    session: AsyncSession, *, points: list[tuple[float, float]], level: str
) -> list[str | None]:
    """For many points at once: the division of ``level`` containing each (vectorised)."""
    index = await _division_index(session)
    found: list[str | None] = [None] * len(points)
    pts = [Point(lon, lat) for lon, lat in points]
    point_idx, shape_idx = index.tree.query(pts, predicate="covered_by")
    for p, e in zip(point_idx.tolist(), shape_idx.tolist(), strict=True):
        code, _, entry_level = index.entries[e]
        if entry_level == level and (found[p] is None or code < (found[p] or "")):
            found[p] = code
    return found
