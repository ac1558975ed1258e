"""/ws pushes the domain events the principal may see, right after the commit."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from tests.factories import PASSWORD, make_county_with_two_towns
from yingji.core.db import Database


async def token_for(base: str, username: str) -> str:
    async with httpx.AsyncClient(base_url=f"http://{base}") as c:
        r = await c.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
        return str(r.json()["access_token"])


async def next_event(ws, timeout: float = 3.0) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] == "event":
            return message["event"]


async def test_ws_delivers_events_in_scope_and_withholds_others(
    live_server: str, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await token_for(live_server, "admin")
    town_a = await token_for(live_server, "town_a")
    async with (
        websockets.connect(f"ws://{live_server}/ws?token={town_a}") as ws_a,
        websockets.connect(f"ws://{live_server}/ws?token={admin}") as ws_admin,
    ):
        assert json.loads(await ws_a.recv())["type"] == "hello"
        assert json.loads(await ws_admin.recv())["type"] == "hello"
        async with httpx.AsyncClient(
            base_url=f"http://{live_server}", headers={"Authorization": f"Bearer {admin}"}
        ) as c:
            units = (await c.get("/api/v1/units")).json()["items"]
            ids = {u["code"]: u["id"] for u in units}
            loop = asyncio.get_running_loop()
            sent = loop.time()
            await c.patch(f"/api/v1/units/{ids['TB']}", json={"phone": "0578-6000001"})
            await c.patch(f"/api/v1/units/{ids['TA']}", json={"phone": "0578-6000002"})
        first_admin = await next_event(ws_admin)
        received_after = loop.time() - sent
        assert first_admin["subject_id"] == ids["TB"]
        assert first_admin["type"] == "org.unit.updated"
        # town A's liaison sees only its own town's change: TB's event never reaches it
        seen_by_a = await next_event(ws_a)
        assert seen_by_a["subject_id"] == ids["TA"]
        assert seen_by_a["payload"]["after"]["phone"] == "0578-6000002"
        assert received_after < 3


async def test_ws_without_credentials_is_refused_at_the_handshake(live_server: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"ws://{live_server}/ws"):
            pass
    assert refused.value.response.status_code == 403


async def test_ws_with_a_session_cookie_from_another_origin_is_refused(
    live_server: str, db: Database
) -> None:
    await make_county_with_two_towns(db)
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as c:
        await c.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        cookie = f"yingji_session={c.cookies['yingji_session']}"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(
            f"ws://{live_server}/ws",
            additional_headers={"Cookie": cookie, "Origin": "http://evil.example"},
        ):
            pass
    assert refused.value.response.status_code == 403
    async with websockets.connect(
        f"ws://{live_server}/ws",
        additional_headers={"Cookie": cookie, "Origin": f"http://{live_server}"},
    ) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
