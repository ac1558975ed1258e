from __future__ import annotations

import httpx
from sqlalchemy import func, select

from tests.factories import bearer, make_county_with_two_towns, square
from yingji.core.audit import AuditEntry
from yingji.core.db import Database
from yingji.core.events import OutboxEvent
from yingji.org.models import LinkageUnit


async def test_creating_a_unit_writes_audit_and_event_with_before_and_after(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    created = await client.post(
        "/api/v1/units",
        headers={**admin, "X-Forwarded-For": "1.2.3.4"},
        json={
            "code": "WATER",
            "name": "县水利局",
            "kind": "department",
            "tier": 1,
            "division_adcode": "331126",
            "lon": 119.05,
            "lat": 27.6,
        },
    )
    assert created.status_code == 201
    unit_id = created.json()["id"]
    patched = await client.patch(f"/api/v1/units/{unit_id}", headers=admin, json={"tier": 2})
    assert patched.json()["tier"] == 2
    async with db.unit_of_work(readonly=True) as session:
        entries = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.subject_id == unit_id).order_by(AuditEntry.id)
            )
        ).all()
        emitted = (
            await session.scalars(
                select(OutboxEvent.type)
                .where(OutboxEvent.subject_id == unit_id)
                .order_by(OutboxEvent.id)
            )
        ).all()
    assert [e.action for e in entries] == ["org.unit.created", "org.unit.updated"]
    assert entries[0].actor_name == "admin" and entries[0].ip == "203.0.113.7"
    assert entries[1].before is not None and entries[1].before["tier"] == 1
    assert entries[1].after is not None and entries[1].after["tier"] == 2
    assert list(emitted) == ["org.unit.created", "org.unit.updated"]


async def test_bad_input_gets_a_stable_code_and_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    cases = [
        (
            {"code": "A", "name": "x", "kind": "spaceship", "tier": 1, "division_adcode": "331126"},
            422,
            "validation_failed",
        ),
        (
            {
                "code": "A",
                "name": "x",
                "kind": "department",
                "tier": 7,
                "division_adcode": "331126",
            },
            422,
            "validation_failed",
        ),
        (
            {
                "code": "A",
                "name": "x",
                "kind": "department",
                "tier": 1,
                "division_adcode": "999999",
            },
            422,
            "division_not_found",
        ),
        (
            {
                "code": "A",
                "name": "x",
                "kind": "department",
                "tier": 1,
                "division_adcode": "331126",
                "lon": 2.35,
                "lat": 48.85,
            },
            422,
            "coordinates_out_of_range",
        ),
        (
            {
                "code": "TA",
                "name": "x",
                "kind": "department",
                "tier": 1,
                "division_adcode": "331126",
            },
            409,
            "unit_exists",
        ),
    ]
    async with db.unit_of_work(readonly=True) as session:
        before = await session.scalar(select(func.count()).select_from(LinkageUnit))
    for body, status, code in cases:
        response = await client.post("/api/v1/units", headers=admin, json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body
    malformed = await client.post(
        "/api/v1/units", headers={**admin, "Content-Type": "application/json"}, content=b"{not json"
    )
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "validation_failed"
    async with db.unit_of_work(readonly=True) as session:
        assert await session.scalar(select(func.count()).select_from(LinkageUnit)) == before


async def test_division_boundary_must_be_a_polygon_inside_china(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    base = {"adcode": "331126103000", "name": "丙镇", "level": "town", "parent_adcode": "331126"}
    line = {"type": "LineString", "coordinates": [[119.0, 27.5], [119.1, 27.6]]}
    r = await client.post("/api/v1/divisions", headers=admin, json={**base, "boundary": line})
    assert r.json()["error"]["code"] == "invalid_geometry"
    r = await client.post(
        "/api/v1/divisions", headers=admin, json={**base, "boundary": square(10.0, 50.0)}
    )
    assert r.json()["error"]["code"] == "coordinates_out_of_range"
    r = await client.post("/api/v1/divisions", headers=admin, json={**base, "level": "province"})
    assert r.json()["error"]["code"] == "invalid_level"
    ok = await client.post(
        "/api/v1/divisions", headers=admin, json={**base, "boundary": square(119.2, 27.5, 0.1)}
    )
    assert ok.status_code == 201
    assert ok.json()["path"] == "330000/331126/331126103000/"
    assert abs(ok.json()["centroid_lon"] - 119.25) < 1e-9
