"""The resource registry through the HTTP API: kinds, list with filters, create, read, change at
a version, delete; who may and who may not; a town sees only its own rows."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from tests.factories import bearer, make_county_with_two_towns, make_user, square
from yingji.core import clock
from yingji.core.audit import AuditEntry
from yingji.core.db import Database
from yingji.core.events import OutboxEvent
from yingji.resources.models import Allocation, Resource, ResourceRequest

TOWN_A = "331126101000"
TOWN_B = "331126102000"


async def make_desks(db: Database) -> None:
    """The county with two towns, and a commander at the county and in each town."""
    await make_county_with_two_towns(db)
    await make_user(db, "cmd", roles=["commander"], division="331126")
    await make_user(db, "leader_a", roles=["duty_leader"], division=TOWN_A)
    await make_user(db, "cmd_b", roles=["commander"], division=TOWN_B)


def warehouse(code: str = "WH-1", division: str = TOWN_A, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "warehouse",
        "code": code,
        "name": f"仓库{code}",
        "division_adcode": division,
        "lon": 119.05 if division == TOWN_A else 119.15,
        "lat": 27.55,
        "attrs": {"grade": "town", "keeper": "张三"},
        **extra,
    }


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post("/api/v1/resources", headers=headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def stored(db: Database) -> int:
    async with db.unit_of_work(readonly=True) as session:
        return int(await session.scalar(select(func.count()).select_from(Resource)) or 0)


async def test_kinds_describe_the_ten_databases_and_the_common_columns(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    reader = await bearer(client, "town_a")  # a unit liaison reads the kinds too
    response = await client.get("/api/v1/resources/kinds", headers=reader)
    assert response.status_code == 200
    body = response.json()
    assert len(body["kinds"]) == 10
    assert [f["key"] for f in body["common"]][:3] == ["code", "name", "division_adcode"]
    team = next(k for k in body["kinds"] if k["kind"] == "rescue_team")
    capabilities = next(f for f in team["fields"] if f["key"] == "capabilities")
    assert (
        capabilities["zh"] == "救援能力" and capabilities["choices"]["water_rescue"] == "水上救援"
    )
    assert (await client.get("/api/v1/resources/kinds")).status_code == 401


async def test_a_commander_creates_a_warehouse_with_audit_and_event(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    cmd = await bearer(client, "cmd")
    created = await create(client, cmd, warehouse(owner_unit_id=None))
    assert created["kind"] == "warehouse" and created["status"] == "open"
    assert created["division_name"] == "甲镇" and created["version"] == 1
    assert created["attrs"] == {"grade": "town", "keeper": "张三"}
    again = await client.get(f"/api/v1/resources/{created['id']}", headers=cmd)
    assert again.status_code == 200 and again.json()["code"] == "WH-1"
    async with db.unit_of_work(readonly=True) as session:
        audit = (
            await session.scalars(select(AuditEntry).where(AuditEntry.subject_id == created["id"]))
        ).all()
        events = (
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.subject_id == created["id"])
            )
        ).all()
    assert [a.action for a in audit] == ["resource.created"]
    assert audit[0].actor_name == "cmd" and audit[0].after is not None
    assert [e.type for e in events] == ["resource.created"]
    assert events[0].division_path == "330000/331126/331126101000/"


async def test_each_desk_role_may_create_and_the_others_may_not(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    await make_user(db, "officer", roles=["duty_officer"], division=TOWN_A)
    leader = await bearer(client, "leader_a")
    await create(client, leader, warehouse("BY-LEADER"))
    for username in ("officer", "town_a"):
        refused = await client.post(
            "/api/v1/resources", headers=await bearer(client, username), json=warehouse("NO")
        )
        assert refused.status_code == 403, username
        assert refused.json()["error"]["code"] == "permission_denied"
    assert await stored(db) == 1


async def test_a_town_sees_only_its_own_resources_and_gets_404_for_the_other_towns(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    cmd = await bearer(client, "cmd")
    mine = await create(client, cmd, warehouse("WH-A"))
    theirs = await create(client, cmd, warehouse("WH-B", TOWN_B))
    leader_a = await bearer(client, "leader_a")
    listed = await client.get("/api/v1/resources", headers=leader_a)
    assert [r["code"] for r in listed.json()["items"]] == ["WH-A"]
    assert listed.json()["total"] == 1
    url = f"/api/v1/resources/{theirs['id']}"
    assert (await client.get(url, headers=leader_a)).status_code == 404
    patched = await client.patch(url, headers=leader_a, json={"version": 1, "name": "改"})
    assert patched.status_code == 404
    assert patched.json()["error"]["code"] == "resource_not_found"
    assert (await client.delete(url, headers=leader_a)).status_code == 404
    assert (
        await client.get(f"/api/v1/resources/{mine['id']}", headers=leader_a)
    ).status_code == 200
    county = await client.get("/api/v1/resources", headers=cmd)
    assert county.json()["total"] == 2


async def test_a_town_may_not_place_a_resource_in_another_town(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    leader_a = await bearer(client, "leader_a")
    refused = await client.post(
        "/api/v1/resources", headers=leader_a, json=warehouse("WH-X", TOWN_B)
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "outside_scope"
    mine = await create(client, leader_a, warehouse("WH-A"))
    moved = await client.patch(
        f"/api/v1/resources/{mine['id']}",
        headers=leader_a,
        json={"version": 1, "division_adcode": TOWN_B},
    )
    assert moved.status_code == 403
    assert await stored(db) == 1


async def test_a_unit_account_sees_the_resources_its_unit_owns(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    await make_user(db, "liaison", roles=["unit_liaison"], unit="TA")
    cmd = await bearer(client, "cmd")
    units = (await client.get("/api/v1/units?q=TA", headers=cmd)).json()["items"]
    ta = next(u for u in units if u["code"] == "TA")
    owned = await create(client, cmd, warehouse("WH-OWNED", TOWN_B, owner_unit_id=ta["id"]))
    await create(client, cmd, warehouse("WH-OTHER", TOWN_B))
    liaison = await bearer(client, "liaison")
    listed = (await client.get("/api/v1/resources", headers=liaison)).json()
    assert [r["code"] for r in listed["items"]] == ["WH-OWNED"]
    assert listed["items"][0]["owner_unit_name"] == ta["name"]
    assert listed["items"][0]["id"] == owned["id"]


async def test_list_filters_by_kind_status_text_tag_division_and_bbox(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    cmd = await bearer(client, "cmd")
    await create(client, cmd, warehouse("WH-A"))
    await create(client, cmd, warehouse("WH-B", TOWN_B, status="closed"))
    await create(
        client,
        cmd,
        {
            "kind": "expert",
            "code": "EX-1",
            "name": "李工",
            "division_adcode": "331126",
            "lon": 119.1,
            "lat": 27.6,
            "attrs": {"specialties": "防汛抗旱、地质灾害", "title": "高级工程师"},
        },
    )

    async def codes(query: str) -> list[str]:
        response = await client.get(f"/api/v1/resources?{query}", headers=cmd)
        assert response.status_code == 200, response.text
        return [r["code"] for r in response.json()["items"]]

    assert await codes("kind=warehouse") == ["WH-A", "WH-B"]
    assert await codes("status=closed") == ["WH-B"]
    assert await codes("q=李") == ["EX-1"]
    assert await codes("tag=geology") == ["EX-1"]
    assert await codes("tag=mining") == []
    assert await codes(f"division={TOWN_B}") == ["WH-B"]
    assert await codes("division=331126999000") == []
    assert await codes("bbox=119.0,27.5,119.1,27.56") == ["WH-A"]
    assert await codes("kind=warehouse&limit=1&offset=1") == ["WH-B"]
    expert = (await client.get("/api/v1/resources?kind=expert", headers=cmd)).json()["items"][0]
    assert expert["tags"] == ["flood", "geology"]
    for bad in ("bbox=1,2,3", "bbox=119.2,27,119.1,28", "bbox=a,b,c,d", "kind=castle", "limit=0"):
        refused = await client.get(f"/api/v1/resources?{bad}", headers=cmd)
        assert refused.status_code == 422, bad


async def test_a_field_the_kind_refuses_is_named_and_nothing_is_stored(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    cmd = await bearer(client, "cmd")
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"attrs": {"grade": "palace"}}, "attrs.grade", "not_a_choice"),
        ({"attrs": {"colour": "red"}}, "attrs.colour", "unknown_field"),
        ({"attrs": {"floor_area_m2": -5}}, "attrs.floor_area_m2", "below_minimum"),
        ({"status": "flying"}, "status", "not_a_choice"),
    ]
    for extra, field, problem in cases:
        refused = await client.post("/api/v1/resources", headers=cmd, json={**warehouse(), **extra})
        assert refused.status_code == 422, extra
        error = refused.json()["error"]
        assert error["code"] == "field_invalid"
        assert error["details"]["field"] == field and error["details"]["problem"] == problem
    equipment = {
        "kind": "equipment",
        "code": "EQ-1",
        "name": "排涝泵",
        "division_adcode": TOWN_A,
        "attrs": {},
    }
    missing = await client.post("/api/v1/resources", headers=cmd, json=equipment)
    assert missing.json()["error"]["details"] == {
        "field": "attrs.equipment_type",
        "problem": "required",
        "params": {},
    }
    for bad in (
        {"code": "has space"},
        {"division_adcode": "abc"},
        {"lon": 500},
        {"contact_phone": "<script>"},
        {"name": "x" * 201},
        {"surprise": 1},
    ):
        refused = await client.post("/api/v1/resources", headers=cmd, json={**warehouse(), **bad})
        assert refused.status_code == 422, bad
    outside = await client.post(
        "/api/v1/resources", headers=cmd, json=warehouse(lon=2.35, lat=48.85)
    )
    assert outside.json()["error"]["code"] == "coordinates_out_of_range"
    half = await client.post("/api/v1/resources", headers=cmd, json=warehouse(lat=None))
    assert half.json()["error"]["code"] == "incomplete_point"
    nowhere = await client.post(
        "/api/v1/resources", headers=cmd, json=warehouse(division="331126999000")
    )
    assert nowhere.json()["error"]["code"] == "division_not_found"
    assert await stored(db) == 0


async def test_a_code_is_unique_within_its_kind(client: httpx.AsyncClient, db: Database) -> None:
    await make_desks(db)
    cmd = await bearer(client, "cmd")
    await create(client, cmd, warehouse("SAME"))
    taken = await client.post("/api/v1/resources", headers=cmd, json=warehouse("SAME"))
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "resource_exists"
    other_kind = {**warehouse("SAME"), "kind": "medical_facility", "attrs": {"beds": 20}}
    await create(client, cmd, other_kind)


async def test_a_shelter_area_places_its_point_inside_and_other_kinds_take_no_area(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    cmd = await bearer(client, "cmd")
    shelter = await create(
        client,
        cmd,
        {
            "kind": "shelter",
            "code": "SH-1",
            "name": "甲镇中学避难场所",
            "division_adcode": TOWN_A,
            "area": square(119.02, 27.52, 0.01),
            "attrs": {"capacity": 800, "occupancy": 0, "shelter_type": "outdoor"},
        },
    )
    assert 119.02 < shelter["lon"] < 119.03 and 27.52 < shelter["lat"] < 27.53
    assert shelter["area"]["type"] == "Polygon"
    refused = await client.post(
        "/api/v1/resources", headers=cmd, json=warehouse(area=square(119.02, 27.52, 0.01))
    )
    assert refused.json()["error"]["code"] == "area_not_allowed"
    line = {"type": "LineString", "coordinates": [[119.0, 27.5], [119.1, 27.6]]}
    bad = await client.post(
        "/api/v1/resources",
        headers=cmd,
        json={**warehouse("SH-2"), "kind": "shelter", "attrs": {"capacity": 1}, "area": line},
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_geometry"
    huge = {"type": "Polygon", "coordinates": [[[119.0, 27.5]] * 6000]}
    bad = await client.post(
        "/api/v1/resources",
        headers=cmd,
        json={**warehouse("SH-3"), "kind": "shelter", "attrs": {"capacity": 1}, "area": huge},
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_geometry"
    assert await stored(db) == 1


async def test_a_change_names_the_version_it_read_and_a_stale_one_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    cmd = await bearer(client, "cmd")
    created = await create(client, cmd, warehouse())
    url = f"/api/v1/resources/{created['id']}"
    first = await client.patch(
        url, headers=cmd, json={"version": 1, "name": "新名", "status": "closed"}
    )
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 2 and first.json()["status"] == "closed"
    stale = await client.patch(url, headers=cmd, json={"version": 1, "name": "又一个名"})
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "stale_version"
    assert stale.json()["error"]["details"]["version"] == 2
    attrs = await client.patch(url, headers=cmd, json={"version": 2, "attrs": {"grade": "county"}})
    assert attrs.json()["attrs"] == {"grade": "county"}
    for bad in ({"version": 3, "name": None}, {"version": 3, "attrs": {"grade": "moon"}}):
        refused = await client.patch(url, headers=cmd, json=bad)
        assert refused.status_code == 422, bad
    assert (await client.patch(url, headers=cmd, json={"name": "无版本"})).status_code == 422
    officer = await bearer(client, "county")
    refused = await client.patch(url, headers=officer, json={"version": 3, "name": "x"})
    assert refused.status_code == 403
    final = (await client.get(url, headers=cmd)).json()
    assert final["name"] == "新名" and final["version"] == 3
    async with db.unit_of_work(readonly=True) as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.subject_id == created["id"])
                .order_by(AuditEntry.id)
            )
        ).all()
    assert list(actions) == ["resource.created", "resource.updated", "resource.updated"]


async def test_a_resource_an_allocation_holds_cannot_be_deleted(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    cmd = await bearer(client, "cmd")
    team = await create(
        client,
        cmd,
        {
            "kind": "equipment",
            "code": "PUMP-1",
            "name": "排涝泵1号",
            "division_adcode": TOWN_A,
            "attrs": {"equipment_type": "pump"},
        },
    )
    spare = await create(client, cmd, warehouse())
    now = clock.now()
    async with db.unit_of_work() as session:
        request = ResourceRequest(
            number="R-1",
            target="unit",
            resource_id=uuid.UUID(team["id"]),
            state="approved",
            from_division_adcode=TOWN_A,
            from_division_path="330000/331126/331126101000/",
            to_division_adcode=TOWN_A,
            to_division_path="330000/331126/331126101000/",
            created_at=now,
            updated_at=now,
        )
        session.add(request)
        await session.flush()
        session.add(
            Allocation(
                request_id=request.id,
                resource_id=uuid.UUID(team["id"]),
                state="held",
                created_at=now,
                updated_at=now,
            )
        )
    officer = await bearer(client, "county")
    assert (
        await client.delete(f"/api/v1/resources/{spare['id']}", headers=officer)
    ).status_code == 403
    held = await client.delete(f"/api/v1/resources/{team['id']}", headers=cmd)
    assert held.status_code == 409 and held.json()["error"]["code"] == "resource_in_use"
    async with db.unit_of_work() as session:
        allocation = await session.scalar(select(Allocation))
        assert allocation is not None
        allocation.state = "released"
    history = await client.delete(f"/api/v1/resources/{team['id']}", headers=cmd)
    assert history.status_code == 409
    assert history.json()["error"]["code"] == "resource_has_requests"
    gone = await client.delete(f"/api/v1/resources/{spare['id']}", headers=cmd)
    assert gone.status_code == 204
    assert (await client.get(f"/api/v1/resources/{spare['id']}", headers=cmd)).status_code == 404
    async with db.unit_of_work(readonly=True) as session:
        deleted = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.subject_id == spare["id"], AuditEntry.action == "resource.deleted"
            )
        )
    assert deleted is not None and deleted.before is not None and deleted.after is None


async def test_two_changes_at_the_same_version_one_wins_the_other_is_told_stale(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_desks(db)
    cmd = await bearer(client, "cmd")
    created = await create(client, cmd, warehouse())
    url = f"/api/v1/resources/{created['id']}"
    answers = await asyncio.gather(
        client.patch(url, headers=cmd, json={"version": 1, "name": "甲"}),
        client.patch(url, headers=cmd, json={"version": 1, "name": "乙"}),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    winner = next(a for a in answers if a.status_code == 200).json()
    final = (await client.get(url, headers=cmd)).json()
    assert final["name"] == winner["name"] and final["version"] == 2
