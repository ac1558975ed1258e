from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher, extract_parameters
from sqlalchemy import select

from tests.factories import (
    PASSWORD,
    bearer,
    deliver_events,
    login,
    make_county_with_two_towns,
    make_user,
)
from yingji.core import metrics, security
from yingji.core.audit import AuditEntry
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.settings import Settings


async def test_browser_sign_in_sets_httponly_session_and_csrf_cookies(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    response = await client.post(
        "/api/v1/auth/login", json={"username": "county", "password": PASSWORD}
    )
    assert response.status_code == 200
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("yingji_session="))
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie
    assert any(c.startswith("yingji_csrf=") and "HttpOnly" not in c for c in cookies)
    me = (await client.get("/api/v1/auth/me")).json()
    assert me["username"] == "county" and me["roles"] == ["duty_officer"]
    assert me["scope"]["division_path"].endswith("331126/")


async def test_unsafe_request_with_cookie_but_no_csrf_header_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    csrf = await login(client, "admin")
    body = {
        "code": "X1",
        "name": "新单位",
        "kind": "department",
        "tier": 1,
        "division_adcode": "331126",
    }
    refused = await client.post("/api/v1/units", json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    wrong = await client.post("/api/v1/units", json=body, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    ok = await client.post("/api/v1/units", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201, ok.text


async def test_bearer_token_from_oauth2_password_form_authenticates_without_csrf(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    response = await client.post(
        "/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and len(body["access_token"]) > 30
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    created = await client.post(
        "/api/v1/units",
        headers=headers,
        json={
            "code": "X2",
            "name": "单位",
            "kind": "department",
            "tier": 2,
            "division_adcode": "331126",
        },
    )
    assert created.status_code == 201, created.text


async def test_wrong_password_and_unknown_user_get_the_same_401(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    wrong = await client.post("/api/v1/auth/login", json={"username": "county", "password": "x"})
    unknown = await client.post("/api/v1/auth/login", json={"username": "ghost", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["code"] == unknown.json()["error"]["code"] == "invalid_credentials"


async def test_refused_sign_ins_are_counted_for_prometheus(
    client: httpx.AsyncClient, db: Database
) -> None:
    def failures() -> float:
        return metrics.REGISTRY.get_sample_value("yingji_login_failures_total") or 0.0

    await make_county_with_two_towns(db)
    before = failures()
    await client.post("/api/v1/auth/login", json={"username": "county", "password": "x"})
    await client.post("/api/v1/auth/login", json={"username": "ghost", "password": "x"})
    ok = await client.post("/api/v1/auth/login", json={"username": "county", "password": PASSWORD})
    assert ok.status_code == 200
    assert failures() - before == 2
    exposed = (await client.get("/metrics")).text
    assert f"yingji_login_failures_total {failures()}" in exposed


def client_from(app: Any, address: str) -> httpx.AsyncClient:
    """A client whose requests come from ``address`` (another machine, another office)."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )


async def test_failures_of_a_name_from_one_address_delay_it_there_longer_each_time(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    for _ in range(5):  # the first five are free
        assert (await sign_in(client, "county", "x")).status_code == 401
    sixth = await sign_in(client, "county", "x")
    assert sixth.status_code == 429
    assert sixth.json()["error"]["code"] == "too_many_attempts"
    assert sixth.headers["Retry-After"] == "2"
    # while the delay holds even the right password is refused, unchecked
    held = await sign_in(client, "county", PASSWORD)
    assert held.status_code == 429 and held.headers["Retry-After"] == "2"
    clock.advance(timedelta(seconds=2))
    assert (await sign_in(client, "county", "x")).headers["Retry-After"] == "4"
    clock.advance(timedelta(seconds=4))
    assert (await sign_in(client, "county", "x")).headers["Retry-After"] == "8"
    clock.advance(timedelta(seconds=8))
    assert (await sign_in(client, "county", PASSWORD)).status_code == 200
    # a success forgets the failures: the next mistake is free again
    assert (await sign_in(client, "county", "x")).status_code == 401


async def test_the_delay_grows_to_its_cap_and_failures_are_forgotten_after_the_window(
    client: httpx.AsyncClient, db: Database, clock: ManualClock, settings: Settings
) -> None:
    await make_county_with_two_towns(db)
    delays = []
    for _ in range(16):
        answer = await sign_in(client, "county", "x")
        delays.append(int(answer.headers.get("Retry-After", 0)))
        clock.advance(timedelta(seconds=delays[-1]))
    assert delays[:8] == [0, 0, 0, 0, 0, 2, 4, 8]
    assert max(delays) == delays[-1] == settings.login_delay_max_seconds == 900
    clock.advance(timedelta(minutes=settings.login_window_minutes, seconds=1))
    assert (await sign_in(client, "county", "x")).status_code == 401


async def test_failures_from_one_address_do_not_delay_the_same_name_from_another(
    app: Any, client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    for _ in range(8):
        await sign_in(client, "county", "x")
    assert (await sign_in(client, "county", PASSWORD)).status_code == 429
    async with client_from(app, "198.51.100.20") as elsewhere:
        assert (await sign_in(elsewhere, "county", PASSWORD)).status_code == 200


async def test_many_failures_from_an_office_address_do_not_lock_the_office_out(
    app: Any, client: httpx.AsyncClient, db: Database, clock: ManualClock, settings: Settings
) -> None:
    await make_county_with_two_towns(db)
    # one shared address: thirty mistyped sign-ins of several people lock nobody out
    for name in ["county", "town_a", "town_b", "admin", "nobody"] * 6:
        clock.advance(timedelta(seconds=30))
        assert (await sign_in(client, name.upper(), "wrong")).status_code in (401, 429)
    clock.advance(timedelta(seconds=30))
    for name in ("county", "town_a", "admin"):
        assert (await sign_in(client, name, PASSWORD)).status_code == 200, name
    # past the (much higher) per-address threshold a spraying address is slowed down; names
    # that signed in from it lately are not, so the office keeps working
    settings.login_address_free_failures = 40
    for number in range(45):
        await sign_in(client, f"guess{number}", "wrong")
    assert (await sign_in(client, "town_b", PASSWORD)).status_code == 429
    assert (await sign_in(client, "county", PASSWORD)).status_code == 200


async def test_an_unknown_name_is_checked_against_a_hash_as_costly_as_a_real_one(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []
    real_verify = PasswordHasher.verify

    def recording(self: PasswordHasher, hash: str, password: str | bytes) -> bool:  # noqa: A002
        verified.append(hash)
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", recording)
    security.configure_hasher(cheap=False)  # the parameters of production
    try:
        await make_user(db, "chief", roles=["admin"])
        assert (await sign_in(client, "chief", "wrong-password")).status_code == 401
        assert (await sign_in(client, "ghost", "wrong-password")).status_code == 401
    finally:
        security.configure_hasher(cheap=True)
    known, unknown = (extract_parameters(h) for h in verified)
    assert unknown == known  # same memory, time and parallelism: the same cost
    assert verified[0] != verified[1]


async def test_many_failures_of_one_name_alert_the_administrators_of_its_account(
    app: Any, client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    await make_user(db, "county_admin", roles=["admin"], division="331126")
    await make_user(db, "town_b_admin", roles=["admin"], division="331126102000")
    # twenty failures of one name from four addresses (none of them delayed there)
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"):
        async with client_from(app, address) as attacker:
            for _ in range(5):
                assert (await sign_in(attacker, "town_a", "guess")).status_code == 401
    assert (await sign_in(client, "town_a", PASSWORD)).status_code == 200  # not locked
    await deliver_events(db)  # the alert's event notifies the administrators

    async def notifications(username: str) -> list[dict[str, Any]]:
        headers = await bearer(client, username)
        items: list[dict[str, Any]] = (
            await client.get("/api/v1/notifications", headers=headers)
        ).json()["items"]
        return [n for n in items if n["kind"] == "repeated_sign_in_failures"]

    for admin in ("admin", "county_admin"):
        alerts = await notifications(admin)
        assert len(alerts) == 1, admin
        assert "town_a" in alerts[0]["title"] and "20" in alerts[0]["body"]
    assert await notifications("town_b_admin") == []  # town A's account is not in its scope
    async with db.unit_of_work(readonly=True) as session:
        rows = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "auth.repeated_failures")
            )
        ).all()
    assert len(rows) == 1 and rows[0].after is not None
    assert rows[0].after["failures"] == 20 and rows[0].ip == "198.51.100.4"


async def test_sign_in_refuses_overlong_or_malformed_names_and_passwords_with_422(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    refused = [
        await client.post("/api/v1/auth/token", data={"username": "a" * 200, "password": "x"}),
        await client.post("/api/v1/auth/token", data={"username": "a", "password": "x" * 201}),
        await sign_in(client, "a" * 65, "x"),
        await sign_in(client, "county", "x" * 201),
        await sign_in(client, "tab\tname", "x"),
    ]
    for answer in refused:
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "validation_failed"
    # a NUL character is refused at the edge, before the form is read (core.edge)
    nul = await client.post("/api/v1/auth/token", data={"username": "a\x00b", "password": "x"})
    assert nul.status_code == 422
    assert nul.json()["error"]["code"] == "invalid_character"
    # the longest name a form may carry is an ordinary wrong sign-in
    longest = await client.post(
        "/api/v1/auth/token", data={"username": "名" * 64, "password": "x" * 200}
    )
    assert longest.status_code == 401


async def test_expired_session_is_not_accepted(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    await login(client, "county")
    assert (await client.get("/api/v1/auth/me")).status_code == 200
    clock.advance(timedelta(hours=13))
    expired = await client.get("/api/v1/auth/me")
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "not_authenticated"


async def test_logout_revokes_the_token(client: httpx.AsyncClient, db: Database) -> None:
    await make_county_with_two_towns(db)
    headers = await bearer(client, "county")
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401


async def test_route_refuses_a_principal_without_its_permission(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    headers = await bearer(client, "town_a")
    denied = await client.get("/api/v1/users", headers=headers)
    assert denied.status_code == 403
    assert denied.json()["error"] == {
        "code": "permission_denied",
        "message": "this action needs the permission user.manage",
        "details": {"permission": "user.manage"},
    }


async def test_every_api_route_declares_authentication_except_sign_in_and_probes(app) -> None:
    open_routes = {"/api/v1/auth/login", "/api/v1/auth/token"}
    for route in app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/api/") or path in open_routes:
            continue
        names = {d.call.__name__ for d in _flatten(route.dependant)}
        assert "current_principal" in names, f"{path} does not authenticate"


def _flatten(dependant):
    for dep in dependant.dependencies:
        yield dep
        yield from _flatten(dep)


async def test_sign_in_finds_the_account_whatever_the_case_of_its_name(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    answer = await sign_in(client, "TOWN_A", PASSWORD)
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"]["username"] == "town_a"


async def test_sign_out_everywhere_ends_every_session_and_token_of_ones_own_account(
    app: Any, client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    tokens = [await bearer(client, "town_a"), await bearer(client, "town_a")]
    other = await bearer(client, "town_b")
    csrf = await login(client, "town_a")  # a browser session as well
    cookie = {"Cookie": f"yingji_session={client.cookies['yingji_session']}"}
    ended = await client.post("/api/v1/auth/logout-all", headers={"X-CSRF-Token": csrf})
    assert ended.status_code == 204
    assert 'yingji_session=""' in ended.headers.get("set-cookie", "")
    for headers in [*tokens, cookie]:
        async with client_from(app, "203.0.113.7") as fresh:
            assert (await fresh.get("/api/v1/auth/me", headers=headers)).status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=other)).status_code == 200
    async with db.unit_of_work(readonly=True) as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "auth.signed_out_everywhere")
        )
    assert entry is not None and entry.after == {"sessions_revoked": 3}


async def test_an_administrator_signs_an_account_in_its_scope_out_everywhere(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    await make_user(db, "county_admin", roles=["admin"], division="331126")
    await make_user(db, "town_b_admin", roles=["admin"], division="331126102000")
    victim = await bearer(client, "town_a")
    me = (await client.get("/api/v1/auth/me", headers=victim)).json()
    path = f"/api/v1/users/{me['id']}/logout-all"
    outside = await client.post(path, headers=await bearer(client, "town_b_admin"))
    assert outside.status_code == 404  # town A's account is not in town B's scope
    denied = await client.post(path, headers=await bearer(client, "town_b"))
    assert denied.status_code == 403
    assert (await client.get("/api/v1/auth/me", headers=victim)).status_code == 200
    done = await client.post(path, headers=await bearer(client, "county_admin"))
    assert done.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=victim)).status_code == 401
