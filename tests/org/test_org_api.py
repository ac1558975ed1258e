from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.factories import PASSWORD, bearer, make_county_with_two_towns, make_user, square
from yingji.cli import app as cli
from yingji.core import security
from yingji.core.audit import AuditEntry
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.events import OutboxEvent
from yingji.org.models import LinkageUnit, UserAccount


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


async def user_ids(client: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, str]:
    users = (await client.get("/api/v1/users", headers=admin)).json()["items"]
    return {u["username"]: u["id"] for u in users}


async def test_a_weak_password_is_refused_with_its_reasons_and_nothing_is_created(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    base = {"username": "zhang.san", "roles": ["viewer"], "division_adcode": "331126"}
    cases = {
        "Password2026": ["common"],
        "short-1": ["too_short"],
        "zhang.san-2026": ["contains_username"],
        "abcdefghijkl": ["common", "too_simple"],
        "aaaaaaaaaaa1": ["too_simple"],
    }
    for password, reasons in cases.items():
        refused = await client.post(
            "/api/v1/users", headers=admin, json={**base, "password": password}
        )
        assert refused.status_code == 422, password
        error = refused.json()["error"]
        assert error["code"] == "weak_password"
        assert error["details"] == {"reasons": reasons, "min_length": 10}, password
    assert "zhang.san" not in await user_ids(client, admin)
    created = await client.post(
        "/api/v1/users", headers=admin, json={**base, "password": "Bamboo-river-42"}
    )
    assert created.status_code == 201, created.text
    # a new password for an existing account is held to the same policy
    weak = await client.patch(
        f"/api/v1/users/{created.json()['id']}", headers=admin, json={"password": "1234567890"}
    )
    assert weak.status_code == 422 and weak.json()["error"]["code"] == "weak_password"


async def test_user_names_are_unique_regardless_of_case(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    taken = await client.post(
        "/api/v1/users",
        headers=admin,
        json={
            "username": "Town_A",
            "password": "Bamboo-river-42",
            "roles": ["viewer"],
            "division_adcode": "331126",
        },
    )
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "username_taken"


async def test_a_liaison_or_field_worker_needs_a_unit(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    for role in ("unit_liaison", "field_worker"):
        refused = await client.post(
            "/api/v1/users",
            headers=admin,
            json={
                "username": f"no_unit_{role}",
                "password": "Bamboo-river-42",
                "roles": [role],
                "division_adcode": "331126101000",
            },
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"] == {
            "code": "role_needs_unit",
            "message": f"an account with the role {role} needs a unit (unit_code)",
            "details": {"roles": [role]},
        }
    ids = await user_ids(client, admin)
    assert not any(name.startswith("no_unit_") for name in ids)
    # nor may an update take the unit away, or give the role to an account without one
    moved = await client.patch(
        f"/api/v1/users/{ids['town_a']}",
        headers=admin,
        json={"division_adcode": "331126101000", "unit_code": None},
    )
    assert moved.status_code == 422 and moved.json()["error"]["code"] == "role_needs_unit"
    promoted = await client.patch(
        f"/api/v1/users/{ids['county']}", headers=admin, json={"roles": ["field_worker"]}
    )
    assert promoted.status_code == 422 and promoted.json()["error"]["code"] == "role_needs_unit"
    town_a = (await client.get(f"/api/v1/users/{ids['town_a']}", headers=admin)).json()
    assert town_a["unit_id"] is not None


async def test_a_new_password_ends_every_session_and_token_of_the_account(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    old = [await bearer(client, "town_a"), await bearer(client, "town_a")]
    ids = await user_ids(client, admin)
    reset = await client.patch(
        f"/api/v1/users/{ids['town_a']}", headers=admin, json={"password": "Bamboo-river-42"}
    )
    assert reset.status_code == 200, reset.text
    for headers in old:
        assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    fresh = await bearer(client, "town_a", "Bamboo-river-42")
    assert (await client.get("/api/v1/auth/me", headers=fresh)).status_code == 200
    async with db.unit_of_work(readonly=True) as session:
        entry = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.subject_id == ids["town_a"], AuditEntry.action == "org.user.updated")
            .order_by(AuditEntry.id.desc())
        )
    assert entry is not None and entry.after is not None
    assert entry.after["password_changed"] is True and entry.after["sessions_revoked"] == 2


async def test_an_administrator_changing_its_own_password_keeps_only_the_session_it_uses(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    elsewhere = await bearer(client, "admin")
    admin = await bearer(client, "admin")
    me = (await client.get("/api/v1/auth/me", headers=admin)).json()
    changed = await client.patch(
        f"/api/v1/users/{me['id']}", headers=admin, json={"password": "Bamboo-river-42"}
    )
    assert changed.status_code == 200, changed.text
    assert (await client.get("/api/v1/auth/me", headers=admin)).status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=elsewhere)).status_code == 401


async def test_deactivating_an_account_ends_its_sessions_and_tokens(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    token = await bearer(client, "town_a")
    ids = await user_ids(client, admin)
    off = await client.patch(
        f"/api/v1/users/{ids['town_a']}", headers=admin, json={"active": False}
    )
    assert off.status_code == 200
    back = await client.patch(
        f"/api/v1/users/{ids['town_a']}", headers=admin, json={"active": True}
    )
    assert back.status_code == 200
    # turning the account on again does not bring its old token back
    assert (await client.get("/api/v1/auth/me", headers=token)).status_code == 401


async def test_an_administrator_cannot_deactivate_or_demote_itself(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    await make_user(db, "county_admin", roles=["admin"], division="331126")
    for name in ("admin", "county_admin"):
        headers = await bearer(client, name)
        me = (await client.get("/api/v1/auth/me", headers=headers)).json()
        path = f"/api/v1/users/{me['id']}"
        area = {"division_adcode": None if name == "admin" else "331126"}
        cases = [
            ({"active": False}, "cannot_deactivate_self"),
            ({"roles": ["viewer"], **area}, "cannot_demote_self"),
            ({"roles": ["admin", "viewer"], **area}, None),  # adding is no demotion
            ({"division_adcode": "331126101000"}, "cannot_demote_self"),
        ]
        for body, code in cases:
            answer = await client.patch(path, headers=headers, json=body)
            if code is None:
                assert answer.status_code == 200, (name, body, answer.text)
                continue
            assert answer.status_code == 403, (name, body, answer.text)
            assert answer.json()["error"]["code"] == code
        me_now = (await client.get("/api/v1/auth/me", headers=headers)).json()
        assert "admin" in me_now["roles"] and me_now["scope"] == me["scope"]


async def test_an_area_administrator_changes_roles_without_resending_the_accounts_area(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    await make_user(db, "county_admin", roles=["admin"], division="331126")
    headers = await bearer(client, "county_admin")
    users = (await client.get("/api/v1/users", headers=headers)).json()["items"]
    county = next(u for u in users if u["username"] == "county")
    # roles alone are judged against the account's own area, which stays as it was
    promoted = await client.patch(
        f"/api/v1/users/{county['id']}", headers=headers, json={"roles": ["admin"]}
    )
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["division_adcode"] == "331126"
    assert promoted.json()["roles"] == ["admin"]
    # a town's administrator still cannot reach an account outside its town
    await make_user(db, "town_a_admin", roles=["admin"], division="331126101000")
    town_admin = await bearer(client, "town_a_admin")
    outside = await client.patch(
        f"/api/v1/users/{county['id']}", headers=town_admin, json={"roles": ["admin"]}
    )
    assert outside.status_code == 404, outside.text
    # a unit alone keeps the division
    moved = await client.patch(
        f"/api/v1/users/{county['id']}",
        headers=headers,
        json={"roles": ["unit_liaison"], "unit_code": "TA"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["division_adcode"] == "331126"


async def test_two_administrators_demoting_each_other_at_once_leave_one_administrator(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    await make_user(db, "admin2", roles=["admin"])
    first, second = await bearer(client, "admin"), await bearer(client, "admin2")
    ids = await user_ids(client, first)
    answers = await asyncio.gather(
        client.patch(f"/api/v1/users/{ids['admin2']}", headers=first, json={"active": False}),
        client.patch(f"/api/v1/users/{ids['admin']}", headers=second, json={"active": False}),
    )
    codes = sorted(
        (a.status_code, a.json()["error"]["code"] if a.status_code != 200 else None)
        for a in answers
    )
    assert codes[0] == (200, None)
    # the other was refused: as the last administrator, or because its account was just
    # deactivated (its token ended with it)
    assert codes[1] in ((401, "not_authenticated"), (409, "last_administrator"))
    still_in = [
        name
        for name in ("admin", "admin2")
        if (
            await client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
        ).status_code
        == 200
    ]
    assert len(still_in) == 1


def signs_in(db: Database, username: str, password: str) -> bool:
    async def check() -> bool:
        async with db.unit_of_work(readonly=True) as session:
            user = await session.scalar(select(UserAccount).where(UserAccount.username == username))
            return user is not None and await security.verify_password(user.password_hash, password)

    return asyncio.run(check())


def test_cli_user_create_asks_for_the_password_hidden_and_twice(
    cli_env: None, db: Database, clock: ManualClock
) -> None:
    result = CliRunner().invoke(
        cli,
        ["user", "create", "chief", "--role", "admin"],
        input="Bamboo-river-42\nBamboo-river-42\n",
    )
    assert result.exit_code == 0, result.output
    assert "Bamboo-river-42" not in result.output  # not echoed
    assert "Repeat it" in result.output
    assert signs_in(db, "chief", "Bamboo-river-42")


def test_cli_user_create_reads_the_password_from_standard_input_for_scripts(
    cli_env: None, db: Database, clock: ManualClock
) -> None:
    result = CliRunner().invoke(
        cli,
        ["user", "create", "chief", "--role", "admin", "--password-stdin"],
        input="Bamboo-river-42\n",
    )
    assert result.exit_code == 0, result.output
    assert signs_in(db, "chief", "Bamboo-river-42")


def test_cli_user_create_refuses_a_weak_password_and_a_password_on_the_command_line(
    cli_env: None, db: Database, clock: ManualClock
) -> None:
    weak = CliRunner().invoke(
        cli,
        ["user", "create", "chief", "--role", "admin", "--password-stdin"],
        input="chief-12345\n",
    )
    assert weak.exit_code == 1
    assert "weak_password" in weak.output and "contains_username" in weak.output
    on_argv = CliRunner().invoke(
        cli, ["user", "create", "chief", "--role", "admin", "--password", "Bamboo-river-42"]
    )
    assert on_argv.exit_code == 2  # no such option: arguments are visible to every user
    assert not signs_in(db, "chief", "Bamboo-river-42")
