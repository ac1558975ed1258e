"""Rows for the spatial tests: resources placed at known distances, stock, incidents.

Written straight into the tables (the registry's own tests cover creating them through the
API); every row is checked by the kinds' catalogue as the registry checks it."""

from __future__ import annotations

import math
import uuid
from datetime import date, timedelta
from typing import Any

from yingji.core import clock
from yingji.core.db import Database
from yingji.incidents import service as incidents
from yingji.resources import kinds
from yingji.resources.models import Resource, ResourceKind, StockBatch, SupplyItem

#: the spot the tests look around: inside town A of ``make_county_with_two_towns``
SPOT = (119.05, 27.55)
PATHS = {
    "331126": "330000/331126/",
    "331126101000": "330000/331126/331126101000/",
    "331126102000": "330000/331126/331126102000/",
}


def east(
    metres: float, north: float = 0.0, origin: tuple[float, float] = SPOT
) -> tuple[float, float]:
    """The point ``metres`` east and ``north`` metres north of ``origin`` (small distances)."""
    lon, lat = origin
    dlat = math.degrees(north / 6_371_008.8)
    dlon = math.degrees(metres / 6_371_008.8) / math.cos(math.radians(lat))
    return lon + dlon, lat + dlat


async def add_resource(
    db: Database,
    kind: str,
    code: str,
    at: tuple[float, float] | None,
    *,
    division: str = "331126101000",
    status: str | None = None,
    attrs: dict[str, Any] | None = None,
    owner: uuid.UUID | None = None,
) -> uuid.UUID:
    spec = kinds.spec(kind)
    checked = kinds.check_attrs(spec, attrs or {})
    now = clock.now()
    row = Resource(
        kind=kind,
        code=code,
        name=f"{spec.zh}{code}",
        status=status or spec.default_status,
        division_adcode=division,
        division_path=PATHS[division],
        owner_unit_id=owner,
        lon=None if at is None else at[0],
        lat=None if at is None else at[1],
        attrs=checked,
        tags=kinds.tags_of(spec, checked),
        version=1,
        created_at=now,
        updated_at=now,
    )
    async with db.unit_of_work() as session:
        session.add(row)
    return row.id


async def add_item(db: Database, code: str, name: str | None = None, unit: str = "件") -> uuid.UUID:
    now = clock.now()
    item = SupplyItem(
        code=code, name=name or code, unit_of_measure=unit, created_at=now, updated_at=now
    )
    async with db.unit_of_work() as session:
        session.add(item)
    return item.id


async def add_batch(
    db: Database,
    warehouse_id: uuid.UUID,
    item_id: uuid.UUID,
    quantity: int,
    *,
    reserved: int = 0,
    expires_on: date | None = None,
    batch_no: str | None = None,
) -> None:
    now = clock.now()
    async with db.unit_of_work() as session:
        session.add(
            StockBatch(
                warehouse_id=warehouse_id,
                item_id=item_id,
                batch_no=batch_no or uuid.uuid4().hex[:12],
                quantity=quantity,
                reserved=reserved,
                expires_on=expires_on,
                created_at=now,
                updated_at=now,
            )
        )


def days(n: int) -> date:
    return clock.now().date() + timedelta(days=n)


async def add_incident(
    db: Database,
    at: tuple[float, float] | None,
    *,
    division: str = "331126101000",
    category: str | None = "natural.flood",
) -> uuid.UUID:
    async with db.unit_of_work() as session:
        incident = await incidents.create_incident(
            session=session,
            values={
                "title": "河水漫堤",
                "level": "IV",
                "category_code": category,
                "division_adcode": division,
                "division_path": PATHS[division],
                "lon": None if at is None else at[0],
                "lat": None if at is None else at[1],
                "first_reported_at": clock.now(),
                "last_reported_at": clock.now(),
            },
        )
        return incident.id


KIND = ResourceKind
