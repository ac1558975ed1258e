from __future__ import annotations

from datetime import timedelta

import httpx

from tests.factories import PASSWORD, bearer, login, make_county_with_two_towns
from yingji.core import metrics
from yingji.core.clock import ManualClock
from yingji.core.db import Database


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


async def test_repeated_failures_lock_the_username_until_the_lockout_passes(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    for _ in range(4):
        r = await client.post("/api/v1/auth/login", json={"username": "county", "password": "x"})
        assert r.status_code == 401
    fifth = await client.post("/api/v1/auth/login", json={"username": "county", "password": "x"})
    assert fifth.status_code == 429
    assert fifth.json()["error"]["code"] == "too_many_attempts"
    assert int(fifth.headers["Retry-After"]) > 0
    # even the right password is refused while locked
    locked = await client.post(
        "/api/v1/auth/login", json={"username": "county", "password": PASSWORD}
    )
    assert locked.status_code == 429
    clock.advance(timedelta(minutes=16))
    assert (
        await client.post("/api/v1/auth/login", json={"username": "county", "password": PASSWORD})
    ).status_code == 200


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
