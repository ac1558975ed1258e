"""Contact points and broadcast devices over HTTP: who may (a desk with warning.manage, within
its area), who may not (no permission: 403; another town's person or device: 404), bounds and
codes for bad input, which changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from tests.factories import login, make_county_with_two_towns, make_user
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.notify.models import BroadcastDevice, ContactPoint
from yingji.org import service as org


async def _setup(db: Database) -> dict[str, Any]:
    await make_county_with_two_towns(db)
    await make_user(db, "desk", roles=["duty_leader"], division="331126")
    await make_user(db, "desk_b", roles=["duty_leader"], division="331126102000")
    async with db.unit_of_work() as session:
        unit = await org.get_unit_by_code(session=session, code="TA")
        assert unit is not None
        person = await org.create_person(
            session=session,
            data={
                "unit_id": unit.id,
                "name": "甲镇镇长",
                "mobile": "13800000001",
                "is_leader": True,
            },
        )
    return {"person_id": str(person.id)}


async def _count(db: Database, model: Any) -> int:
    async with db.unit_of_work(readonly=True) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_contact_points_of_a_person_in_scope(
    db: Database, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    facts = await _setup(db)
    csrf = await login(client, "desk")
    headers = {"X-CSRF-Token": csrf}
    made = await client.post(
        "/api/v1/notify/contacts",
        json={**facts, "channel": "sms", "address": "138-0000-0001", "priority": 1},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["address"] == "13800000001"
    first = await client.post(
        "/api/v1/notify/contacts",
        json={**facts, "channel": "email", "address": "zz@example.org", "priority": 0},
        headers=headers,
    )
    assert first.status_code == 201
    listed = await client.get("/api/v1/notify/contacts", params={"person_id": facts["person_id"]})
    assert [c["channel"] for c in listed.json()["items"]] == ["email", "sms"]
    twice = await client.post(
        "/api/v1/notify/contacts",
        json={**facts, "channel": "sms", "address": "13800000001"},
        headers=headers,
    )
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "contact_point_exists"
    for bad in (
        {"channel": "sms", "address": "call me"},
        {"channel": "email", "address": "not-an-email"},
        {"channel": "dingtalk", "address": "https://evil.example/robot"},
    ):
        refused = await client.post(
            "/api/v1/notify/contacts", json={**facts, **bad}, headers=headers
        )
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "contact_address_invalid"
    for bad in (
        {"channel": "app", "address": "x"},
        {"channel": "sms", "address": "1" * 501},
        {"channel": "sms", "address": "13800000002", "priority": -1},
    ):
        refused = await client.post(
            "/api/v1/notify/contacts", json={**facts, **bad}, headers=headers
        )
        assert refused.status_code == 422
    assert await _count(db, ContactPoint) == 2
    contact_id = made.json()["id"]
    changed = await client.patch(
        f"/api/v1/notify/contacts/{contact_id}", json={"priority": 5}, headers=headers
    )
    assert changed.status_code == 200 and changed.json()["priority"] == 5
    gone = await client.delete(f"/api/v1/notify/contacts/{contact_id}", headers=headers)
    assert gone.status_code == 204
    assert await _count(db, ContactPoint) == 1


async def test_contact_points_are_not_for_others(
    db: Database, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    facts = await _setup(db)
    csrf = await login(client, "desk")
    made = await client.post(
        "/api/v1/notify/contacts",
        json={**facts, "channel": "sms", "address": "13800000001"},
        headers={"X-CSRF-Token": csrf},
    )
    contact_id = made.json()["id"]
    await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    # another town's desk: the person and their contact points do not exist for it
    csrf = await login(client, "desk_b")
    headers = {"X-CSRF-Token": csrf}
    listed = await client.get("/api/v1/notify/contacts", params={"person_id": facts["person_id"]})
    assert listed.status_code == 404
    for response in (
        await client.post(
            "/api/v1/notify/contacts",
            json={**facts, "channel": "sms", "address": "13800000009"},
            headers=headers,
        ),
        await client.patch(
            f"/api/v1/notify/contacts/{contact_id}", json={"priority": 2}, headers=headers
        ),
        await client.delete(f"/api/v1/notify/contacts/{contact_id}", headers=headers),
    ):
        assert response.status_code == 404, response.text
    await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    # a town's liaison holds no warning.manage
    csrf = await login(client, "town_a")
    listed = await client.get("/api/v1/notify/contacts", params={"person_id": facts["person_id"]})
    assert listed.status_code == 403
    assert await _count(db, ContactPoint) == 1


async def test_devices_in_scope(
    db: Database, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    await _setup(db)
    csrf = await login(client, "desk")
    headers = {"X-CSRF-Token": csrf}
    body = {
        "code": "QY-LS-101",
        "kind": "loudspeaker",
        "name": "甲镇广播",
        "division_adcode": "331126101000",
        "lon": 119.05,
        "lat": 27.55,
    }
    made = await client.post("/api/v1/notify/devices", json=body, headers=headers)
    assert made.status_code == 201, made.text
    device = made.json()
    assert device["topic"] == "yingji/devices/QY-LS-101" and device["state"] == {}
    again = await client.post("/api/v1/notify/devices", json=body, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "device_code_taken"
    for bad in (
        {**body, "code": "a/b#"},
        {**body, "code": "X2", "kind": "siren"},
        {**body, "code": "X3", "lon": 200},
        {**body, "code": "X4", "lat": None},
        {**body, "code": "X5", "name": "x" * 201},
    ):
        refused = await client.post("/api/v1/notify/devices", json=bad, headers=headers)
        assert refused.status_code == 422, bad
    outside = await client.post(
        "/api/v1/notify/devices",
        json={**body, "code": "X6", "division_adcode": "110000"},
        headers=headers,
    )
    assert outside.status_code == 404
    assert await _count(db, BroadcastDevice) == 1
    listed = await client.get("/api/v1/notify/devices", params={"kind": "loudspeaker"})
    assert listed.json()["total"] == 1
    changed = await client.patch(
        f"/api/v1/notify/devices/{device['id']}", json={"active": False}, headers=headers
    )
    assert changed.status_code == 200 and changed.json()["active"] is False
    await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})

    csrf = await login(client, "desk_b")
    headers = {"X-CSRF-Token": csrf}
    assert (await client.get("/api/v1/notify/devices")).json()["total"] == 0
    assert (await client.get(f"/api/v1/notify/devices/{device['id']}")).status_code == 404
    moved = await client.patch(
        f"/api/v1/notify/devices/{device['id']}", json={"name": "x"}, headers=headers
    )
    assert moved.status_code == 404
    into_a = await client.post(
        "/api/v1/notify/devices", json={**body, "code": "X7"}, headers=headers
    )
    assert into_a.status_code == 404  # town B's desk cannot place a device in town A
    deleted = await client.delete(f"/api/v1/notify/devices/{device['id']}", headers=headers)
    assert deleted.status_code == 404
    await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})

    csrf = await login(client, "town_a")
    assert (await client.get("/api/v1/notify/devices")).status_code == 403
    await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    csrf = await login(client, "desk")
    gone = await client.delete(
        f"/api/v1/notify/devices/{device['id']}", headers={"X-CSRF-Token": csrf}
    )
    assert gone.status_code == 204 and await _count(db, BroadcastDevice) == 0
