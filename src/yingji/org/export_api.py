"""Division and unit exports (CSV or GeoJSON) in the very columns the imports read, so a file
exported here can be edited in a spreadsheet and imported back (`divisions:import`,
`units:import`). Only what the caller may see is exported."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import tabular
from yingji.core.security import Permission, Principal, Scope
from yingji.core.web import Require, Session
from yingji.org import service
from yingji.org.models import Division, LinkageUnit

router = APIRouter(prefix="/api/v1", tags=["organisation"])

DIVISION_COLUMNS = [
    "adcode",
    "name",
    "level",
    "parent_adcode",
    "centroid_lon",
    "centroid_lat",
    "boundary",
]
UNIT_COLUMNS = [
    "code",
    "name",
    "kind",
    "tier",
    "division_adcode",
    "parent_code",
    "phone",
    "address",
    "lon",
    "lat",
]
Format = Literal["csv", "geojson"]
Reader = Annotated[Principal, Require(Permission.ORG_READ)]


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """CSV text; a text cell a spreadsheet would run as a formula is neutralised
    (:func:`tabular.csv_cell`, undone by the import)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: "" if row.get(k) is None else tabular.csv_cell(row[k]) for k in columns}
        )
    return "\ufeff" + out.getvalue()  # a BOM, so spreadsheet programs read Chinese


def _download(body: str, filename: str, media_type: str) -> Response:
    return Response(
        body,
        media_type=f"{media_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def division_rows(*, session: AsyncSession, scope: Scope) -> list[Division]:
    """Every visible division, parents before children."""
    rows = (await session.scalars(service.division_query(scope))).all()
    return sorted(rows, key=lambda d: (d.path.count("/"), d.adcode))


async def unit_rows(*, session: AsyncSession, scope: Scope) -> list[tuple[LinkageUnit, str | None]]:
    """Every visible unit with its parent's code."""
    units = (await session.scalars(service.unit_query(scope).order_by(LinkageUnit.code))).all()
    parent_ids = {u.parent_id for u in units if u.parent_id}
    codes: dict[Any, str] = {}
    if parent_ids:
        found = await session.execute(
            select(LinkageUnit.id, LinkageUnit.code).where(LinkageUnit.id.in_(parent_ids))
        )
        codes = dict(found.all())
    return [(u, codes.get(u.parent_id) if u.parent_id else None) for u in units]


@router.get(
    "/divisions:export",
    tags=["divisions"],
    summary="Export your divisions as CSV or GeoJSON, in the columns divisions:import reads",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/geo+json": {}}}},
)
async def export_divisions(
    session: Session, me: Reader, format: Annotated[Format, Query()] = "csv"
) -> Response:
    rows = await division_rows(session=session, scope=me.scope)
    if format == "geojson":
        features = [
            {
                "type": "Feature",
                "id": d.adcode,
                "geometry": d.boundary,
                "properties": {
                    "adcode": d.adcode,
                    "name": d.name,
                    "level": d.level,
                    "parent_adcode": d.parent_adcode,
                    "centroid_lon": d.centroid_lon,
                    "centroid_lat": d.centroid_lat,
                },
            }
            for d in rows
        ]
        body = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
        return _download(body, "divisions.geojson", "application/geo+json")
    records = [
        {
            "adcode": d.adcode,
            "name": d.name,
            "level": d.level,
            "parent_adcode": d.parent_adcode,
            "centroid_lon": d.centroid_lon,
            "centroid_lat": d.centroid_lat,
            "boundary": json.dumps(d.boundary, ensure_ascii=False) if d.boundary else None,
        }
        for d in rows
    ]
    return _download(_csv(DIVISION_COLUMNS, records), "divisions.csv", "text/csv")


@router.get(
    "/units:export",
    tags=["units"],
    summary="Export your linkage units as CSV or GeoJSON, in the columns units:import reads",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/geo+json": {}}}},
)
async def export_units(
    session: Session, me: Reader, format: Annotated[Format, Query()] = "csv"
) -> Response:
    rows = await unit_rows(session=session, scope=me.scope)
    records = [
        {
            "code": u.code,
            "name": u.name,
            "kind": u.kind,
            "tier": u.tier,
            "division_adcode": u.division_adcode,
            "parent_code": parent,
            "phone": u.phone,
            "address": u.address,
            "lon": u.lon,
            "lat": u.lat,
        }
        for u, parent in rows
    ]
    if format == "geojson":
        features = [
            {
                "type": "Feature",
                "geometry": (
                    {"type": "Point", "coordinates": [r["lon"], r["lat"]]}
                    if r["lon"] is not None and r["lat"] is not None
                    else None
                ),
                "properties": {k: v for k, v in r.items() if k not in ("lon", "lat")},
            }
            for r in records
        ]
        body = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
        return _download(body, "units.geojson", "application/geo+json")
    return _download(_csv(UNIT_COLUMNS, records), "units.csv", "text/csv")
