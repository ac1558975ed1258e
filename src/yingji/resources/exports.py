"""Exports of one kind's resources that a principal sees, with the list's filters: a sheet in
the import's own layout (.xlsx or CSV, so an export edited in a spreadsheet imports back) or a
GeoJSON FeatureCollection (machine keys, one feature per resource: its area, else its point).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core.errors import ValidationFailed
from yingji.core.security import Scope
from yingji.org import service as org
from yingji.resources import service, tabular_io
from yingji.resources.models import Resource

#: the most rows one export holds (a sheet's bound on import, less its header)
MAX_EXPORT = 200_000
FORMATS = ("xlsx", "csv", "geojson")
COMMON_KEYS = ("code", "name", "division_adcode", "status", "address", "lon", "lat")


async def _unit_codes(session: AsyncSession, rows: list[Resource]) -> dict[uuid.UUID, str]:
    codes: dict[uuid.UUID, str] = {}
    for unit_id in {r.owner_unit_id for r in rows if r.owner_unit_id is not None}:
        unit = await org.get_unit(session=session, unit_id=unit_id)
        if unit is not None:
            codes[unit_id] = unit.code
    return codes


def _values(row: Resource, unit_codes: dict[uuid.UUID, str]) -> dict[str, Any]:
    values = {key: getattr(row, key) for key in COMMON_KEYS}
    values["contact_name"] = row.contact_name
    values["contact_phone"] = row.contact_phone
    values["owner_unit_code"] = unit_codes.get(row.owner_unit_id) if row.owner_unit_id else None
    return values


def _geometry(row: Resource) -> dict[str, Any] | None:
    if row.area is not None:
        return row.area
    if row.lon is None or row.lat is None:
        return None
    return {"type": "Point", "coordinates": [row.lon, row.lat]}


def matching_nothing(kind: str) -> service.ResourceFilter:
    """Filters no row passes (the list's filters named an unknown division)."""
    return service.ResourceFilter(kind=kind, conditions=(false(),))


async def export_resources(
    *, session: AsyncSession, scope: Scope, filters: service.ResourceFilter, fmt: str
) -> bytes:
    """The file of the resources of ``filters.kind`` that ``scope`` sees and ``filters`` pass,
    ordered by code; more than :data:`MAX_EXPORT` is ``export_too_large`` (narrow the filters)."""
    if filters.kind is None:
        raise ValidationFailed("kind_required", "an export is of one kind", {})
    query = service.filtered_query(scope, filters)
    count = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    if count > MAX_EXPORT:
        raise ValidationFailed(
            "export_too_large",
            f"{count} rows match; an export holds at most {MAX_EXPORT}",
            {"count": count, "max": MAX_EXPORT},
        )
    rows = list((await session.scalars(query.order_by(Resource.code))).all())
    units = await _unit_codes(session, rows)
    kind = filters.kind
    if fmt == "geojson":
        return tabular_io.geojson_bytes(
            tabular_io.feature(
                _geometry(row),
                {"id": str(row.id), "kind": row.kind, **_values(row, units), **row.attrs},
            )
            for row in rows
        )
    cells = (tabular_io.cells_of(kind, _values(row, units), row.attrs) for row in rows)
    if fmt == "csv":
        return tabular_io.csv_bytes(tabular_io.header_words(kind), cells)
    return tabular_io.xlsx_bytes(kind, cells)


async def export_kind(*, session: AsyncSession, kind: str, division: str | None, fmt: str) -> bytes:
    """Every resource of ``kind`` (in ``division``'s subtree), for the command line."""
    path = None
    if division is not None:
        path = await service.division_filter_path(session=session, adcode=division)
        if path is None:
            raise ValidationFailed(
                "division_not_found", f"no division {division}", {"division_adcode": division}
            )
    filters = service.ResourceFilter(kind=kind, division_path=path)
    return await export_resources(
        session=session, scope=Scope(everything=True), filters=filters, fmt=fmt
    )
