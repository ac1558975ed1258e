"""A principal sees only what its scope covers; anything else is 404, never the data."""

from __future__ import annotations

import httpx

from tests.factories import bearer, make_county_with_two_towns, make_user
from yingji.core.db import Database


async def ids_of(db: Database, code: str) -> str:
    from yingji.org import service

    async with db.unit_of_work(readonly=True) as session:
        unit = await service.get_unit_by_code(session=session, code=code)
        assert unit is not None
        return str(unit.id)


async def test_town_user_gets_404_for_the_other_towns_unit_and_division(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    a = await bearer(client, "town_a")
    unit_b = await ids_of(db, "TB")
    unit_a = await ids_of(db, "TA")
    assert (await client.get(f"/api/v1/units/{unit_a}", headers=a)).status_code == 200
    hidden = await client.get(f"/api/v1/units/{unit_b}", headers=a)
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "unit_not_found"
    assert "乙" not in hidden.text
    assert (await client.get("/api/v1/divisions/331126101000", headers=a)).status_code == 200
    assert (await client.get("/api/v1/divisions/331126102000", headers=a)).status_code == 404


async def test_lists_contain_only_the_principals_scope(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    a = await bearer(client, "town_a")
    county = await bearer(client, "county")
    units_a = (await client.get("/api/v1/units", headers=a)).json()
    assert [u["code"] for u in units_a["items"]] == ["TA"] and units_a["total"] == 1
    units_county = (await client.get("/api/v1/units", headers=county)).json()
    assert sorted(u["code"] for u in units_county["items"]) == ["TA", "TB"]
    towns = (await client.get("/api/v1/divisions?level=town", headers=a)).json()
    assert [d["adcode"] for d in towns["items"]] == ["331126101000"]
    geo = (await client.get("/api/v1/divisions.geojson?level=town", headers=a)).json()
    assert [f["properties"]["adcode"] for f in geo["features"]] == ["331126101000"]


async def test_town_user_cannot_write_into_the_other_town(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    await make_user(db, "town_a_admin", roles=["admin"], division="331126101000")
    a = await bearer(client, "town_a_admin")
    unit_b = await ids_of(db, "TB")
    patch = await client.patch(f"/api/v1/units/{unit_b}", headers=a, json={"name": "改名"})
    assert patch.status_code == 404
    create = await client.post(
        "/api/v1/units",
        headers=a,
        json={
            "code": "NEW",
            "name": "新",
            "kind": "village",
            "tier": 2,
            "division_adcode": "331126102000",
        },
    )
    assert create.status_code == 422
    assert create.json()["error"]["code"] == "division_not_found"
    grant = await client.post(
        "/api/v1/users",
        headers=a,
        json={
            "username": "spy",
            "password": "long-enough-1",
            "roles": ["viewer"],
            "division_adcode": "331126102000",
        },
    )
    assert grant.status_code == 403
    assert grant.json()["error"]["code"] == "outside_scope"
    users = (await client.get("/api/v1/users", headers=a)).json()
    assert {u["username"] for u in users["items"]} == {"town_a", "town_a_admin"}


async def test_unit_scoped_principal_sees_its_unit_and_its_area(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    from tests.factories import make_unit

    await make_unit(db, "FIRE", division="331126")
    await make_user(db, "fire", roles=["unit_liaison"], unit="FIRE")
    fire = await bearer(client, "fire")
    units = (await client.get("/api/v1/units", headers=fire)).json()
    assert [u["code"] for u in units["items"]] == ["FIRE"]
    towns = (await client.get("/api/v1/divisions?level=town", headers=fire)).json()
    assert len(towns["items"]) == 2  # the county it serves is its area on the map
