"""Every response carries a Content-Security-Policy and its companions (issue 15, M10); HSTS
only where the deployment is reached over HTTPS (staging, production)."""

from __future__ import annotations

import json

import httpx
from fastapi import APIRouter, Response

from tests.factories import bearer, make_county_with_two_towns
from yingji.app import create_app
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.settings import Settings

SECRET = "9c1f0e7a3b5d8246aef1c0d9b7e6a5f4"


def directives(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers["content-security-policy"]
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def assert_protected(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    policy = directives(response)
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]


async def test_every_kind_of_response_carries_the_security_headers(
    app, client: httpx.AsyncClient, db: Database
) -> None:
    router = APIRouter()

    @router.get("/api/v1/test-crash")
    async def crash() -> None:
        raise ZeroDivisionError("a bug")

    app.router.routes[:0] = router.routes
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    responses = [
        await client.get("/healthz"),
        await client.get("/api/v1/units", headers=admin),
        await client.get("/api/v1/units"),  # 401
        await client.get("/api/v1/nothing-here"),  # 404
        await client.post("/api/v1/units", headers=admin, json={}),  # 422
        await client.post(
            "/api/v1/units",
            headers={**admin, "Content-Type": "application/json"},
            content=b"[" + b" " * (2 * 1024 * 1024) + b"]",
        ),  # 413
        await client.get("/api/v1/test-crash"),  # 500
        await client.get("/"),  # the web app (or its placeholder)
        await client.get("/map/situation"),  # a client-side route: index.html
    ]
    assert [r.status_code for r in responses] == [200, 200, 401, 404, 422, 413, 500, 200, 200]
    for response in responses:
        assert_protected(response)
        assert "strict-transport-security" not in response.headers  # local and test: no HSTS


async def test_the_browser_app_policy_allows_what_maplibre_and_element_plus_need(
    client: httpx.AsyncClient,
) -> None:
    policy = directives(await client.get("/"))
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval
    assert set(policy["worker-src"]) >= {"'self'", "blob:"}  # MapLibre's worker
    assert set(policy["img-src"]) >= {"'self'", "data:", "blob:"}
    assert "'unsafe-inline'" in policy["style-src"]  # inline style attributes
    assert policy["connect-src"] == ["'self'"]  # the API and /ws; no base layer configured
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]


async def test_configured_map_base_layers_may_be_loaded(
    settings: Settings, clock: ManualClock
) -> None:
    layers = [
        {
            "name": "天地图",
            "type": "wmts",
            "url": "https://t0.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&TILEMATRIX={TileMatrix}"
            "&TILEROW={TileRow}&TILECOL={TileCol}&tk=KEY",
        },
        {"name": "内网", "type": "xyz", "url": "http://10.1.2.3:8080/tiles/{z}/{x}/{y}.png"},
        {"name": "本机", "type": "xyz", "url": "/tiles/{z}/{x}/{y}.png"},
    ]
    application = create_app(
        settings.model_copy(update={"map_base_layers": json.dumps(layers)}),
        run_worker=False,
        clock_override=clock,
    )
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        policy = directives(await client.get("/healthz"))
    for directive in ("img-src", "connect-src"):
        assert "https://t0.tianditu.gov.cn" in policy[directive]
        assert "http://10.1.2.3:8080" in policy[directive]
    assert not any("tiles" in source for source in policy["img-src"])


async def test_production_adds_hsts_and_keeps_a_route_s_own_policy(
    settings: Settings, clock: ManualClock
) -> None:
    application = create_app(
        Settings.model_validate(
            {**settings.model_dump(), "env": "production", "secret_key": SECRET}
        ),
        run_worker=False,
        clock_override=clock,
    )
    router = APIRouter()

    @router.get("/api/v1/test-file")
    async def a_file() -> Response:
        return Response(
            b"\xff\xd8\xff",
            media_type="image/jpeg",
            headers={"Content-Security-Policy": "default-src 'none'; sandbox"},
        )

    application.router.routes[:0] = router.routes
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        health = await client.get("/healthz")
        served = await client.get("/api/v1/test-file")
    assert health.headers["strict-transport-security"].startswith("max-age=")
    assert_protected(health)
    assert served.headers.get_list("content-security-policy") == ["default-src 'none'; sandbox"]
    assert served.headers["x-content-type-options"] == "nosniff"


async def test_the_api_docs_run_under_a_policy_of_their_own(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "https://cdn.jsdelivr.net" in directives(docs)["script-src"]
    assert_protected(docs)
