"""Every DomainError kind maps to its HTTP status with the one error body shape."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter

from yingji.core.errors import (
    ERROR_KINDS,
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    Throttled,
    Unauthenticated,
    Unavailable,
    ValidationFailed,
)

EXPECTED = {
    ValidationFailed: 422,
    Unauthenticated: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    InvalidTransition: 409,
    Throttled: 429,
    Unavailable: 503,
}


def test_every_error_kind_has_an_expected_status() -> None:
    assert set(ERROR_KINDS) == set(EXPECTED)


@pytest.mark.parametrize("kind", list(EXPECTED), ids=lambda k: k.__name__)
async def test_error_kind_maps_to_its_http_status_and_body(app, kind: type[DomainError]) -> None:
    router = APIRouter()
    path = f"/test-raise/{kind.__name__}"

    @router.get(path)
    async def boom() -> None:
        raise kind("some_stable_code", "something went wrong", {"field": "x"})

    app.router.routes[:0] = router.routes  # ahead of the web app's catch-all route
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get(path)
    assert response.status_code == EXPECTED[kind]
    assert response.json() == {
        "error": {
            "code": "some_stable_code",
            "message": "something went wrong",
            "details": {"field": "x"},
        }
    }
    if kind is Throttled:
        assert response.headers["Retry-After"] == "60"
    if kind is Unauthenticated:
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_unknown_route_and_unexpected_exception_use_the_same_shape(app) -> None:
    router = APIRouter()

    @router.get("/test-crash")
    async def crash() -> None:
        raise ZeroDivisionError("secret internals")

    app.router.routes[:0] = router.routes  # ahead of the web app's catch-all route
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        missing = await client.get("/api/v1/nothing-here")
        crashed = await client.get("/test-crash")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert crashed.status_code == 500
    assert crashed.json()["error"]["code"] == "internal_error"
    assert "secret internals" not in crashed.text
    assert crashed.json()["error"]["details"]["request_id"]


async def test_nul_character_in_input_is_bad_input_not_a_server_error(app, db) -> None:
    from tests.factories import bearer, make_county_with_two_towns

    await make_county_with_two_towns(db)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        admin = await bearer(client, "admin")
        response = await client.get("/api/v1/audit?subject_type=a%00b", headers=admin)
    # refused at the edge on both databases (PostgreSQL cannot store it; SQLite could)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_character"
