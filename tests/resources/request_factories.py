"""Rows the request and alert tests start from: resources, the supply catalogue, batches and
minimums, written straight to the tables (the registry's own API is tested on its own), and a
county whose desks ask and decide."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx
from sqlalchemy import select

from tests.factories import (
    bearer,
    make_county_with_two_towns,
    make_unit,
    make_user,
)
from yingji.core import clock
from yingji.core.db import Database
from yingji.org import service as org
from yingji.resources.models import Resource, StockBatch, StockMinimum, SupplyItem

TOWN_A, TOWN_B, COUNTY, PROVINCE = "331126101000", "331126102000", "331126", "330000"


async def make_resource(
    db: Database,
    *,
    kind: str,
    code: str,
    division: str,
    status: str,
    owner_unit: uuid.UUID | None = None,
    unit_id: uuid.UUID | None = None,
    lon: float | None = None,
    lat: float | None = None,
    name: str | None = None,
) -> str:
    async with db.unit_of_work() as session:
        path = await org.path_of_division(session=session, adcode=division)
        assert path is not None
        now = clock.now()
        row = Resource(
            kind=kind,
            code=code,
            name=name or f"{kind}-{code}",
            status=status,
            division_adcode=division,
            division_path=path,
            owner_unit_id=owner_unit,
            unit_id=unit_id,
            lon=lon,
            lat=lat,
            attrs={},
            tags="",
            version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        return str(row.id)


async def make_item(db: Database, code: str, name: str, unit: str) -> str:
    async with db.unit_of_work() as session:
        now = clock.now()
        item = SupplyItem(
            code=code, name=name, unit_of_measure=unit, created_at=now, updated_at=now
        )
        session.add(item)
        await session.flush()
        return str(item.id)


async def make_batch(
    db: Database,
    *,
    warehouse: str,
    item: str,
    batch_no: str,
    quantity: int,
    expires_on: date | None = None,
) -> str:
    async with db.unit_of_work() as session:
        now = clock.now()
        batch = StockBatch(
            warehouse_id=uuid.UUID(warehouse),
            item_id=uuid.UUID(item),
            batch_no=batch_no,
            quantity=quantity,
            reserved=0,
            expires_on=expires_on,
            received_on=None,
            created_at=now,
            updated_at=now,
        )
        session.add(batch)
        await session.flush()
        return str(batch.id)


async def make_minimum(db: Database, *, warehouse: str, item: str, minimum: int) -> None:
    async with db.unit_of_work() as session:
        now = clock.now()
        session.add(
            StockMinimum(
                warehouse_id=uuid.UUID(warehouse),
                item_id=uuid.UUID(item),
                minimum=minimum,
                created_at=now,
                updated_at=now,
            )
        )


async def batches(db: Database, warehouse: str) -> dict[str, tuple[int, int]]:
    """Each batch of a warehouse: (quantity, reserved) by batch number."""
    async with db.unit_of_work(readonly=True) as session:
        rows = await session.execute(
            select(StockBatch.batch_no, StockBatch.quantity, StockBatch.reserved).where(
                StockBatch.warehouse_id == uuid.UUID(warehouse)
            )
        )
        return {r.batch_no: (r.quantity, r.reserved) for r in rows}


async def status_of(db: Database, resource: str) -> str:
    async with db.unit_of_work(readonly=True) as session:
        found = await session.get(Resource, uuid.UUID(resource))
        assert found is not None
        return found.status


async def unit_id(db: Database, code: str) -> uuid.UUID:
    async with db.unit_of_work(readonly=True) as session:
        unit = await org.get_unit_by_code(session=session, code=code)
        assert unit is not None
        return unit.id


async def make_world(client: httpx.AsyncClient, db: Database) -> dict[str, Any]:
    """庆元县 with towns 甲 and 乙 (``make_county_with_two_towns``) and: the desks that decide
    (town 甲's duty leader, the county's commander, the province's commander), town 甲's duty
    officer who asks, a county rescue team with its liaison, and a warehouse in town 甲 (owned
    by the town's unit) and one in the county with tents (帐篷)."""
    await make_county_with_two_towns(db)
    await make_user(db, "a_officer", roles=["duty_officer"], division=TOWN_A)
    await make_user(db, "a_leader", roles=["duty_leader"], division=TOWN_A)
    await make_user(db, "b_leader", roles=["duty_leader"], division=TOWN_B)
    await make_user(db, "county_cmd", roles=["commander"], division=COUNTY)
    await make_user(db, "prov_cmd", roles=["commander"], division=PROVINCE)
    await make_unit(db, "TEAM1", division=COUNTY, kind="rescue_team", lon=119.1, lat=27.6)
    await make_user(db, "team_liaison", roles=["unit_liaison"], unit="TEAM1")
    team_unit = await unit_id(db, "TEAM1")
    town_unit = await unit_id(db, "TA")
    team = await make_resource(
        db,
        kind="rescue_team",
        code="T1",
        division=COUNTY,
        status="standby",
        unit_id=team_unit,
        owner_unit=team_unit,
        lon=119.1,
        lat=27.6,
        name="县水上救援队",
    )
    tents = await make_item(db, "tent", "帐篷", "顶")
    town_store = await make_resource(
        db,
        kind="warehouse",
        code="WA",
        division=TOWN_A,
        status="open",
        owner_unit=town_unit,
        lon=119.05,
        lat=27.56,
        name="甲镇仓库",
    )
    county_store = await make_resource(
        db,
        kind="warehouse",
        code="WC",
        division=COUNTY,
        status="open",
        lon=119.1,
        lat=27.6,
        name="县储备库",
    )
    people = {
        name: await bearer(client, name)
        for name in (
            "a_officer",
            "a_leader",
            "b_leader",
            "county_cmd",
            "prov_cmd",
            "town_a",
            "team_liaison",
            "county",
            "admin",
        )
    }
    return {
        "team": team,
        "tents": tents,
        "town_store": town_store,
        "county_store": county_store,
        **people,
    }


async def open_incident(client: httpx.AsyncClient, headers: dict[str, str], eid: str) -> str:
    """A flood in town 甲, reported by phone."""
    answer = await client.post(
        "/api/v1/intake/reports",
        headers=headers,
        json={
            "channel": "hotline_119",
            "external_id": eid,
            "text": "甲镇河边村被洪水围困，需要救援",
            "lon": 119.05,
            "lat": 27.55,
        },
    )
    assert answer.status_code in (200, 201), answer.text
    incident: str = answer.json()["incident_id"]
    return incident
