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
        "/api/v1/divisions", headers=admin, json={**base, "boundary": square(119.0, 27.6, 0.1)}
    )
    assert ok.status_code == 201
    assert ok.json()["path"] == "330000/331126/331126103000/"
    assert abs(ok.json()["centroid_lon"] - 119.05) < 1e-9


async def test_an_administrator_changes_a_units_kind_with_audit_and_event(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    units = (await client.get("/api/v1/units", headers=admin)).json()["items"]
    ta = next(u for u in units if u["code"] == "TA")
    assert ta["kind"] == "town"
    patched = await client.patch(
        f"/api/v1/units/{ta['id']}", headers=admin, json={"kind": "rescue_team"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["kind"] == "rescue_team"
    assert (await client.get(f"/api/v1/units/{ta['id']}", headers=admin)).json()[
        "kind"
    ] == "rescue_team"
    async with db.unit_of_work(readonly=True) as session:
        entry = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.subject_id == ta["id"], AuditEntry.action == "org.unit.updated")
            .order_by(AuditEntry.id.desc())
        )
        event = await session.scalar(
            select(OutboxEvent)
            .where(OutboxEvent.subject_id == ta["id"], OutboxEvent.type == "org.unit.updated")
            .order_by(OutboxEvent.id.desc())
        )
    assert entry is not None and entry.before is not None and entry.after is not None
    assert (entry.before["kind"], entry.after["kind"]) == ("town", "rescue_team")
    assert event is not None and event.payload["after"]["kind"] == "rescue_team"
    # the event names the same actor as the audit row: the administrator who changed it
    assert entry.actor_name == "admin" and event.actor_id == entry.actor_id is not None


async def test_an_unknown_unit_kind_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    units = (await client.get("/api/v1/units", headers=admin)).json()["items"]
    ta = next(u for u in units if u["code"] == "TA")
    async with db.unit_of_work(readonly=True) as session:
        audited = await session.scalar(select(func.count()).select_from(AuditEntry))
    for body in ({"kind": "spaceship"}, {"kind": 3}, {"kind": "spaceship", "name": "新名字"}):
        refused = await client.patch(f"/api/v1/units/{ta['id']}", headers=admin, json=body)
        assert refused.status_code == 422, body
        assert refused.json()["error"]["code"] == "validation_failed"
    unit = (await client.get(f"/api/v1/units/{ta['id']}", headers=admin)).json()
    assert (unit["kind"], unit["name"]) == ("town", ta["name"])
    async with db.unit_of_work(readonly=True) as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == audited


async def test_a_town_liaison_may_not_change_a_units_kind(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    liaison = await bearer(client, "town_a")
    units = (await client.get("/api/v1/units", headers=admin)).json()["items"]
    ta = next(u for u in units if u["code"] == "TA")
    refused = await client.patch(
        f"/api/v1/units/{ta['id']}", headers=liaison, json={"kind": "department"}
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert (await client.get(f"/api/v1/units/{ta['id']}", headers=admin)).json()["kind"] == "town"
