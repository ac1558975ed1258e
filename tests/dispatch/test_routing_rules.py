"""An administrator adds, changes and deletes routing rules one at a time; each change is checked
as an added rule is, audited, and refused whole when it is wrong."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from tests.factories import bearer, make_county_with_two_towns, make_user
from yingji.core.audit import AuditEntry
from yingji.core.db import Database
from yingji.core.events import OutboxEvent


async def audit_of(db: Database, action: str) -> list[AuditEntry]:
    async with db.unit_of_work(readonly=True) as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return list(rows.all())


async def setup(client: httpx.AsyncClient, db: Database) -> tuple[dict[str, str], dict[str, Any]]:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    units = {
        u["code"]: u["id"]
        for u in (await client.get("/api/v1/units", headers=admin)).json()["items"]
    }
    added = await client.post(
        "/api/v1/routing-rules",
        headers=admin,
        json={
            "category_prefix": "accident.fire",
            "levels": ["III", "IV"],
            "role": "lead",
            "unit_id": units["TA"],
            "note": "甲镇主办",
        },
    )
    assert added.status_code == 201, added.text
    return admin, {"rule": added.json(), "units": units}


async def test_an_administrator_changes_a_rule_and_the_change_is_audited(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin, world = await setup(client, db)
    rule = world["rule"]
    changed = await client.patch(
        f"/api/v1/routing-rules/{rule['id']}",
        headers=admin,
        json={"unit_id": world["units"]["TB"], "priority": 20, "levels": ["I"], "note": None},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["unit_id"], body["priority"], body["levels"], body["note"]) == (
        world["units"]["TB"],
        20,
        ["I"],
        None,
    )
    assert (body["category_prefix"], body["role"], body["selector"]) == (
        "accident.fire",
        "lead",
        "unit",
    )
    listed = (await client.get("/api/v1/routing-rules", headers=admin)).json()
    assert [r for r in listed if r["id"] == rule["id"]] == [body]
    [entry] = await audit_of(db, "dispatch.routing_rule_changed")
    assert entry.subject_id == str(rule["id"]) and entry.actor_name == "admin"
    assert entry.before is not None and entry.after is not None
    assert (entry.before["unit_id"], entry.after["unit_id"]) == (
        world["units"]["TA"],
        world["units"]["TB"],
    )
    assert (entry.before["note"], entry.after["note"]) == ("甲镇主办", None)


async def test_a_rule_can_change_from_a_named_unit_to_the_local_town(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin, world = await setup(client, db)
    changed = await client.patch(
        f"/api/v1/routing-rules/{world['rule']['id']}",
        headers=admin,
        json={"selector": "town", "unit_id": None, "role": "co"},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["selector"], changed.json()["unit_id"]) == ("town", None)


async def test_a_change_that_names_nothing_new_is_not_audited(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin, world = await setup(client, db)
    rule = world["rule"]
    same = await client.patch(
        f"/api/v1/routing-rules/{rule['id']}", headers=admin, json={"priority": rule["priority"]}
    )
    assert same.status_code == 200 and same.json() == rule
    assert (
        await client.patch(f"/api/v1/routing-rules/{rule['id']}", headers=admin, json={})
    ).json() == rule
    assert await audit_of(db, "dispatch.routing_rule_changed") == []


async def test_a_bad_change_gets_a_stable_code_and_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin, world = await setup(client, db)
    rule = world["rule"]
    url = f"/api/v1/routing-rules/{rule['id']}"
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("/api/v1/routing-rules/999999", {"priority": 5}, 404, "routing_rule_not_found"),
        ("/api/v1/routing-rules/0", {"priority": 5}, 422, "validation_failed"),
        ("/api/v1/routing-rules/abc", {"priority": 5}, 422, "validation_failed"),
        (url, {"unit_id": None}, 422, "unit_required"),
        (url, {"unit_id": "00000000-0000-0000-0000-000000000001"}, 422, "unit_not_found"),
        (url, {"selector": "unit", "unit_id": None, "priority": 1}, 422, "unit_required"),
        (url, {"role": "boss"}, 422, "validation_failed"),
        (url, {"role": None}, 422, "validation_failed"),
        (url, {"levels": ["V"]}, 422, "validation_failed"),
        (url, {"levels": None}, 422, "validation_failed"),
        (url, {"priority": -1}, 422, "validation_failed"),
        (url, {"priority": 10_001, "note": "x"}, 422, "validation_failed"),
        (url, {"category_prefix": "Accident!"}, 422, "validation_failed"),
        (url, {"note": "长" * 301}, 422, "validation_failed"),
        (url, {"active": None}, 422, "validation_failed"),
    ]
    for path, body, status, code in cases:
        response = await client.patch(path, headers=admin, json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body
    listed = (await client.get("/api/v1/routing-rules", headers=admin)).json()
    assert listed == [rule]
    assert await audit_of(db, "dispatch.routing_rule_changed") == []


async def test_a_second_rule_routing_the_same_incidents_to_the_same_unit_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin, world = await setup(client, db)
    rule, units = world["rule"], world["units"]
    same = {
        "category_prefix": "accident.fire",
        "levels": ["IV", "III"],  # the same levels in another order
        "role": "lead",
        "unit_id": units["TA"],
        "priority": 5,
        "note": "另一条",
    }
    refused = await client.post("/api/v1/routing-rules", headers=admin, json=same)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "routing_rule_duplicate"
    assert refused.json()["error"]["details"] == {"rule_id": rule["id"]}

    # Another unit, role or level set is another rule.
    other = await client.post(
        "/api/v1/routing-rules", headers=admin, json={**same, "unit_id": units["TB"]}
    )
    assert other.status_code == 201, other.text
    # ... and it cannot be changed into a copy of the first one.
    copied = await client.patch(
        f"/api/v1/routing-rules/{other.json()['id']}",
        headers=admin,
        json={"unit_id": units["TA"], "priority": 1},
    )
    assert copied.status_code == 409, copied.text
    assert copied.json()["error"]["details"] == {"rule_id": rule["id"]}

    listed = (await client.get("/api/v1/routing-rules", headers=admin)).json()
    assert sorted(listed, key=lambda r: r["id"]) == [rule, other.json()]
    assert len(await audit_of(db, "dispatch.routing_rule_added")) == 2
    assert await audit_of(db, "dispatch.routing_rule_changed") == []


async def test_only_an_administrator_changes_the_routing_table(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin, world = await setup(client, db)
    officer = await bearer(client, "county")
    refused = await client.patch(
        f"/api/v1/routing-rules/{world['rule']['id']}", headers=officer, json={"priority": 1}
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert (await client.get("/api/v1/routing-rules", headers=admin)).json() == [world["rule"]]


async def test_deleting_a_rule_is_audited_with_the_whole_rule_and_a_second_delete_is_404(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin, world = await setup(client, db)
    rule = world["rule"]
    assert (
        await client.delete(f"/api/v1/routing-rules/{rule['id']}", headers=admin)
    ).status_code == 204
    again = await client.delete(f"/api/v1/routing-rules/{rule['id']}", headers=admin)
    assert (again.status_code, again.json()["error"]["code"]) == (404, "routing_rule_not_found")
    [entry] = await audit_of(db, "dispatch.routing_rule_deleted")
    assert entry.before is not None and entry.before["unit_id"] == world["units"]["TA"]
    assert entry.before["note"] == "甲镇主办"


async def test_every_change_to_the_routing_and_deadline_tables_is_emitted_to_all_readers(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin, world = await setup(client, db)
    rule = world["rule"]
    await client.patch(f"/api/v1/routing-rules/{rule['id']}", headers=admin, json={"priority": 1})
    await client.delete(f"/api/v1/routing-rules/{rule['id']}", headers=admin)
    csv = "category_prefix,role,selector,unit_code\naccident,co,unit,TB\n"
    imported = await client.post(
        "/api/v1/routing-rules:import",
        headers=admin,
        files={"file": ("rules.csv", csv.encode(), "text/csv")},
    )
    assert imported.status_code == 200, imported.text
    minutes = {"sign_minutes": 5, "arrive_minutes": 30, "feedback_minutes": 60}
    stage = await client.put(
        "/api/v1/stage-deadlines",
        headers=admin,
        json={"category_prefix": "accident", "complete_minutes": 600, **minutes},
    )
    assert stage.status_code == 200, stage.text
    reporting = await client.put(
        "/api/v1/reporting-deadlines",
        headers=admin,
        json={
            "category_prefix": "accident",
            "level": "I",
            "phone_minutes": 10,
            "written_minutes": 40,
        },
    )
    assert reporting.status_code == 200, reporting.text
    async with db.unit_of_work(readonly=True) as session:
        emitted = (
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.type.not_like("org.%"))
                .order_by(OutboxEvent.id)
            )
        ).all()
    assert [e.type for e in emitted] == [
        "dispatch.routing_rule_added",
        "dispatch.routing_rule_changed",
        "dispatch.routing_rule_deleted",
        "dispatch.routing_rules_imported",
        "dispatch.stage_deadline_set",
        "incidents.reporting_deadline_set",
    ]
    assert all(e.everywhere and e.permission == "incident.read" for e in emitted)
    assert emitted[1].payload["before"]["priority"] == 100
    assert emitted[1].payload["after"]["priority"] == 1
    assert emitted[2].payload["after"] is None
    assert emitted[3].payload["after"] == {"created": 1, "updated": 0, "replace": False}
    assert emitted[4].subject_id == str(stage.json()["id"])
    assert emitted[5].payload["after"]["written_minutes"] == 40


async def test_a_refused_table_change_emits_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin, world = await setup(client, db)
    async with db.unit_of_work(readonly=True) as session:
        before = len((await session.scalars(select(OutboxEvent.id))).all())
    await client.patch(
        f"/api/v1/routing-rules/{world['rule']['id']}", headers=admin, json={"unit_id": None}
    )
    await client.put("/api/v1/stage-deadlines", headers=admin, json={"sign_minutes": 0})
    bad_csv = "category_prefix,role,selector,unit_code\naccident,co,unit,NOPE\n"
    await client.post(
        "/api/v1/routing-rules:import",
        headers=admin,
        files={"file": ("rules.csv", bad_csv.encode(), "text/csv")},
    )
    async with db.unit_of_work(readonly=True) as session:
        assert len((await session.scalars(select(OutboxEvent.id))).all()) == before


TOWN_A = "330000/331126/331126101000/"
TOWN_B = "330000/331126/331126102000/"


async def town_world(
    client: httpx.AsyncClient, db: Database
) -> tuple[dict[str, str], dict[str, str], dict[str, Any]]:
    """The setup's rule for everywhere, a rule inside each town (added by the administrator of
    everything), and an administrator of town A."""
    admin, world = await setup(client, db)
    units = world["units"]
    for code, path in (("TA", TOWN_A), ("TB", TOWN_B)):
        added = await client.post(
            "/api/v1/routing-rules",
            headers=admin,
            json={
                "category_prefix": "natural",
                "role": "lead",
                "unit_id": units[code],
                "division_path": path,
            },
        )
        assert added.status_code == 201, added.text
        world[code] = added.json()
    await make_user(db, "admin_a", roles=["admin"], division="331126101000")
    return admin, await bearer(client, "admin_a"), world


async def test_a_town_admin_adds_changes_and_deletes_rules_inside_its_town(
    client: httpx.AsyncClient, db: Database
) -> None:
    _, town, world = await town_world(client, db)
    units = world["units"]
    added = await client.post(
        "/api/v1/routing-rules",
        headers=town,
        json={
            "category_prefix": "accident",
            "role": "co",
            "unit_id": units["TA"],
            "division_path": TOWN_A,
        },
    )
    assert added.status_code == 201, added.text
    changed = await client.patch(
        f"/api/v1/routing-rules/{world['TA']['id']}", headers=town, json={"priority": 7}
    )
    assert changed.status_code == 200 and changed.json()["priority"] == 7
    deleted = await client.delete(f"/api/v1/routing-rules/{added.json()['id']}", headers=town)
    assert deleted.status_code == 204


async def test_a_town_admin_cannot_touch_a_rule_for_everywhere_or_another_towns_rule(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin, town, world = await town_world(client, db)
    units = world["units"]
    shared = world["rule"]["id"]  # the setup's rule has no area: it routes everywhere
    for answer in (
        await client.patch(f"/api/v1/routing-rules/{shared}", headers=town, json={"priority": 1}),
        await client.delete(f"/api/v1/routing-rules/{shared}", headers=town),
        await client.post(
            "/api/v1/routing-rules",
            headers=town,
            json={"category_prefix": "accident", "role": "co", "unit_id": units["TA"]},
        ),
        # nor move its own rule out to everywhere
        await client.patch(
            f"/api/v1/routing-rules/{world['TA']['id']}", headers=town, json={"division_path": None}
        ),
    ):
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "permission_denied"
        assert answer.json()["error"]["details"] == {"permission": "reference.write"}
    other = world["TB"]["id"]
    for answer in (
        await client.patch(f"/api/v1/routing-rules/{other}", headers=town, json={"priority": 1}),
        await client.delete(f"/api/v1/routing-rules/{other}", headers=town),
    ):
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "routing_rule_not_found"
    listed = {r["id"] for r in (await client.get("/api/v1/routing-rules", headers=town)).json()}
    assert listed == {shared, world["TA"]["id"]}
    # what it names lies in its town too: the other town's area, the other town's unit
    for body, code in (
        ({"division_path": TOWN_B, "unit_id": units["TA"]}, "division_not_found"),
        ({"division_path": TOWN_A, "unit_id": units["TB"]}, "unit_not_found"),
    ):
        answer = await client.post(
            "/api/v1/routing-rules",
            headers=town,
            json={"category_prefix": "accident", "role": "co", **body},
        )
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, code), body
        moved = await client.patch(
            f"/api/v1/routing-rules/{world['TA']['id']}", headers=town, json=body
        )
        assert (moved.status_code, moved.json()["error"]["code"]) == (422, code), body
    everything = sorted(
        (await client.get("/api/v1/routing-rules", headers=admin)).json(), key=lambda r: r["id"]
    )
    assert everything == [world["rule"], world["TA"], world["TB"]]


async def test_a_rules_area_is_the_path_of_a_division_that_exists(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin, world = await setup(client, db)
    for path in ("331126101000", "nowhere/", "330000/331126/331126109000/", ""):
        answer = await client.post(
            "/api/v1/routing-rules",
            headers=admin,
            json={
                "category_prefix": "natural",
                "role": "co",
                "selector": "town",
                "division_path": path,
            },
        )
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["error"]["code"] == "division_not_found"
        assert answer.json()["error"]["details"] == {"division_path": path}
        changed = await client.patch(
            f"/api/v1/routing-rules/{world['rule']['id']}",
            headers=admin,
            json={"division_path": path},
        )
        assert changed.json()["error"]["code"] == "division_not_found", path
    assert (await client.get("/api/v1/routing-rules", headers=admin)).json() == [world["rule"]]


async def test_a_change_to_a_towns_rule_is_emitted_to_that_town_and_a_shared_one_to_everyone(
    client: httpx.AsyncClient, db: Database
) -> None:
    _, town, world = await town_world(client, db)
    moved = await client.patch(
        f"/api/v1/routing-rules/{world['TA']['id']}",
        headers=town,
        json={"division_path": f"{TOWN_A}331126101201/"},
    )
    assert moved.status_code == 422  # no such village: the rule stays in its town
    await client.patch(
        f"/api/v1/routing-rules/{world['TA']['id']}", headers=town, json={"priority": 3}
    )
    async with db.unit_of_work(readonly=True) as session:
        emitted = (
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.type.like("dispatch.routing_rule_%"))
                .order_by(OutboxEvent.id)
            )
        ).all()
    audiences = [(e.type, e.subject_id, e.everywhere, e.division_path) for e in emitted]
    assert audiences == [
        ("dispatch.routing_rule_added", str(world["rule"]["id"]), True, None),
        ("dispatch.routing_rule_added", str(world["TA"]["id"]), False, TOWN_A),
        ("dispatch.routing_rule_added", str(world["TB"]["id"]), False, TOWN_B),
        ("dispatch.routing_rule_changed", str(world["TA"]["id"]), False, TOWN_A),
    ]
