"""Rescue teams are the rescue_team linkage units, extended: a team creates or links its unit,
and the two keep one name, division and place whichever side changes."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from tests.factories import bearer, deliver_events, make_unit
from tests.resources.test_registry_api import TOWN_A, TOWN_B, create, make_desks
from yingji.core import security
from yingji.core.db import Database
from yingji.org import seed
from yingji.org import service as org
from yingji.resources import flows
from yingji.resources.models import Resource


def team(code: str = "TEAM-1", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "rescue_team",
        "code": code,
        "name": "甲镇应急救援队",
        "division_adcode": TOWN_A,
        "lon": 119.04,
        "lat": 27.54,
        "address": "甲镇人民路1号",
        "contact_phone": "0578-6123456",
        "attrs": {"members": 30, "capabilities": ["water_rescue", "山地救援"]},
        **extra,
    }


async def test_creating_a_team_creates_its_rescue_team_unit(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    cmd = await bearer(client, "cmd")
    created = await create(client, cmd, team())
    assert created["unit_id"] is not None
    assert created["owner_unit_id"] == created["unit_id"]
    assert created["tags"] == ["water_rescue", "mountain"]
    admin = await bearer(client, "admin")
    unit = (await client.get(f"/api/v1/units/{created['unit_id']}", headers=admin)).json()
    assert unit["kind"] == "rescue_team" and unit["code"] == "TEAM-1"
    assert unit["name"] == "甲镇应急救援队" and unit["division_adcode"] == TOWN_A
    assert (unit["lon"], unit["lat"]) == (119.04, 27.54)
    assert unit["phone"] == "0578-6123456"
    refused = await client.post("/api/v1/resources", headers=cmd, json=team("TEAM.2"))
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["field"] == "code"


async def test_a_team_links_an_existing_unit_and_takes_its_name_and_place(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    unit = await make_unit(db, "FIRE-A", division=TOWN_A, kind="rescue_team", lon=119.06, lat=27.56)
    cmd = await bearer(client, "cmd")
    linked_row = await create(client, cmd, team("FIRE-A2", unit_id=str(unit.id)))
    assert linked_row["owner_unit_id"] == str(unit.id)
    async with db.unit_of_work() as session:
        rows = (await session.scalars(select(Resource).where(Resource.unit_id == unit.id))).all()
    assert len(rows) == 1
    linked = rows[0]
    assert linked.name == unit.name and (linked.lon, linked.lat) == (119.06, 27.56)
    assert linked.division_adcode == TOWN_A
    town_unit = await client.get("/api/v1/units?q=TA", headers=cmd)
    ta = next(u for u in town_unit.json()["items"] if u["code"] == "TA")
    wrong = await client.post(
        "/api/v1/resources", headers=cmd, json=team("NOT-A-TEAM", unit_id=ta["id"])
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "not_a_rescue_team"
    other = {**team("WH-9"), "kind": "warehouse", "attrs": {}, "unit_id": str(unit.id)}
    wrong = await client.post("/api/v1/resources", headers=cmd, json=other)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "unit_only_for_teams"


async def test_linking_a_unit_that_has_no_row_yet_takes_the_units_columns(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    unit = await make_unit(db, "BLUE", division=TOWN_B, kind="rescue_team", lon=119.16, lat=27.5)
    async with db.unit_of_work() as session:
        for row in await session.scalars(select(Resource).where(Resource.unit_id == unit.id)):
            await session.delete(row)
    cmd = await bearer(client, "cmd")
    linked = await create(client, cmd, team("BLUE-SKY", unit_id=str(unit.id)))
    assert linked["unit_id"] == str(unit.id) and linked["name"] == unit.name
    assert linked["division_adcode"] == TOWN_B and (linked["lon"], linked["lat"]) == (119.16, 27.5)
    assert linked["attrs"]["members"] == 30
    taken = await client.post(
        "/api/v1/resources", headers=cmd, json=team("BLUE-2", unit_id=str(unit.id))
    )
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "team_exists"
    leader_a = await bearer(client, "leader_a")
    hidden = await client.post(
        "/api/v1/resources", headers=leader_a, json=team("BLUE-3", unit_id=str(unit.id))
    )
    assert hidden.status_code == 422 and hidden.json()["error"]["code"] == "not_a_rescue_team"


async def test_renaming_or_moving_a_team_changes_its_unit_in_the_same_change(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    cmd = await bearer(client, "cmd")
    created = await create(client, cmd, team())
    patched = await client.patch(
        f"/api/v1/resources/{created['id']}",
        headers=cmd,
        json={"version": 1, "name": "甲镇蓝天救援队", "lon": 119.03, "lat": 27.53},
    )
    assert patched.status_code == 200, patched.text
    admin = await bearer(client, "admin")
    unit = (await client.get(f"/api/v1/units/{created['unit_id']}", headers=admin)).json()
    assert unit["name"] == "甲镇蓝天救援队" and (unit["lon"], unit["lat"]) == (119.03, 27.53)
    await deliver_events(db)  # the unit's change comes back to the row: nothing moves
    again = (await client.get(f"/api/v1/resources/{created['id']}", headers=cmd)).json()
    assert again["version"] == 2 and again["name"] == "甲镇蓝天救援队"


async def test_a_unit_changed_through_org_brings_its_team_row_along(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    cmd = await bearer(client, "cmd")
    created = await create(client, cmd, team())
    admin = await bearer(client, "admin")
    changed = await client.patch(
        f"/api/v1/units/{created['unit_id']}",
        headers=admin,
        json={"name": "乙镇救援队", "division_adcode": TOWN_B, "lon": 119.15, "lat": 27.55},
    )
    assert changed.status_code == 200, changed.text
    await deliver_events(db)
    row = (await client.get(f"/api/v1/resources/{created['id']}", headers=cmd)).json()
    assert row["name"] == "乙镇救援队" and row["division_adcode"] == TOWN_B
    assert (row["lon"], row["lat"]) == (119.15, 27.55) and row["version"] == 2
    leader_a = await bearer(client, "leader_a")
    moved_away = await client.get(f"/api/v1/resources/{created['id']}", headers=leader_a)
    assert moved_away.status_code == 404
    await deliver_events(db)  # delivered again: nothing changes
    assert (await client.get(f"/api/v1/resources/{created['id']}", headers=cmd)).json()[
        "version"
    ] == 2


async def test_a_new_rescue_team_unit_gets_its_row(client: httpx.AsyncClient, db: Database) -> None:
    await make_desks(db)
    admin = await bearer(client, "admin")
    made = await client.post(
        "/api/v1/units",
        headers=admin,
        json={
            "code": "RED-CROSS",
            "name": "县红十字救援队",
            "kind": "rescue_team",
            "tier": 1,
            "division_adcode": "331126",
            "lon": 119.1,
            "lat": 27.6,
        },
    )
    assert made.status_code == 201
    await deliver_events(db)
    cmd = await bearer(client, "cmd")
    listed = (await client.get("/api/v1/resources?kind=rescue_team", headers=cmd)).json()
    assert [(r["code"], r["unit_id"], r["status"]) for r in listed["items"]] == [
        ("RED-CROSS", made.json()["id"], "standby")
    ]


async def test_reference_data_makes_a_row_for_every_team_unit_lacking_one(db: Database) -> None:
    await make_desks(db)
    unit = await make_unit(db, "OLD-TEAM", division=TOWN_A, kind="rescue_team")
    await make_unit(db, "NOT-TEAM", division=TOWN_A)
    async with db.unit_of_work() as session:
        before = (await session.scalars(select(Resource))).all()
        await flows.ensure_team_rows(session)
        await flows.ensure_team_rows(session)  # idempotent
    async with db.unit_of_work(readonly=True) as session:
        rows = (await session.scalars(select(Resource))).all()
    assert before == []
    assert [(r.kind, r.code, r.unit_id, r.owner_unit_id) for r in rows] == [
        ("rescue_team", "OLD-TEAM", unit.id, unit.id)
    ]


async def test_the_demo_county_teams_get_their_rows_once_the_seed_is_delivered(
    client: httpx.AsyncClient, db: Database
) -> None:
    async with db.unit_of_work() as session:
        await seed.seed_demo(session=session)
    async with db.unit_of_work(readonly=True) as session:
        units, total = await org.list_units(
            session=session, scope=security.SYSTEM.scope, kind="rescue_team"
        )
    assert total > 0
    await deliver_events(db)
    await deliver_events(db)
    async with db.unit_of_work(readonly=True) as session:
        rows = (await session.scalars(select(Resource).where(Resource.kind == "rescue_team"))).all()
    assert sorted((r.code, r.name, r.unit_id) for r in rows) == sorted(
        (u.code, u.name, u.id) for u in units
    )


async def test_a_team_row_is_not_deleted_while_its_unit_lives(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    cmd = await bearer(client, "cmd")
    created = await create(client, cmd, team())
    refused = await client.delete(f"/api/v1/resources/{created['id']}", headers=cmd)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "team_follows_unit"
    assert (await client.get(f"/api/v1/resources/{created['id']}", headers=cmd)).status_code == 200
