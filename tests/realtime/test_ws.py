"""/ws pushes the domain events the principal may see, right after the commit."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
import websockets

from tests.factories import PASSWORD, make_county_with_two_towns, make_user
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.settings import Settings


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


async def events_until(ws, subject_id: str, timeout: float = 3.0) -> list[dict]:
    """Every event received up to and including the one about ``subject_id``."""
    seen = []
    while True:
        event = await next_event(ws, timeout)
        seen.append(event)
        if event["subject_id"] == subject_id:
            return seen


async def test_ws_tells_every_reader_of_incidents_when_the_routing_table_changes(
    live_server: str, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await token_for(live_server, "admin")
    county = await token_for(live_server, "county")
    town_a = await token_for(live_server, "town_a")
    async with (
        websockets.connect(f"ws://{live_server}/ws?token={county}") as ws_county,
        websockets.connect(f"ws://{live_server}/ws?token={town_a}") as ws_town,
    ):
        for ws in (ws_county, ws_town):
            assert json.loads(await ws.recv())["type"] == "hello"
        async with httpx.AsyncClient(
            base_url=f"http://{live_server}", headers={"Authorization": f"Bearer {admin}"}
        ) as c:
            units = {u["code"]: u["id"] for u in (await c.get("/api/v1/units")).json()["items"]}
            rule = (
                await c.post("/api/v1/routing-rules", json={"role": "lead", "unit_id": units["TA"]})
            ).json()
            await c.patch(f"/api/v1/routing-rules/{rule['id']}", json={"priority": 5})
        for ws in (ws_county, ws_town):
            added = await next_event(ws)
            changed = await next_event(ws)
            assert (added["type"], changed["type"]) == (
                "dispatch.routing_rule_added",
                "dispatch.routing_rule_changed",
            )
            assert changed["subject_id"] == str(rule["id"])
            assert changed["payload"]["after"]["priority"] == 5


async def test_ws_gives_a_user_account_change_only_to_those_who_manage_users_in_its_area(
    live_server: str, db: Database
) -> None:
    await make_county_with_two_towns(db)
    await make_user(db, "county_admin", roles=["admin"], division="331126")
    await make_user(db, "other_admin", roles=["admin"], division="331126102000")
    admin = await token_for(live_server, "admin")
    tokens = {
        name: await token_for(live_server, name)
        for name in ("county_admin", "other_admin", "town_a", "county")
    }
    sockets = {
        name: await websockets.connect(f"ws://{live_server}/ws?token={token}")
        for name, token in tokens.items()
    }
    try:
        for ws in sockets.values():
            assert json.loads(await ws.recv())["type"] == "hello"
        async with httpx.AsyncClient(
            base_url=f"http://{live_server}", headers={"Authorization": f"Bearer {admin}"}
        ) as c:
            users = {u["username"]: u["id"] for u in (await c.get("/api/v1/users")).json()["items"]}
            units = {u["code"]: u["id"] for u in (await c.get("/api/v1/units")).json()["items"]}
            # town A's account, then a unit change in town A that all four may see
            await c.patch(f"/api/v1/users/{users['town_a']}", json={"display_name": "甲镇联络员"})
            await c.patch(f"/api/v1/units/{units['TA']}", json={"phone": "0578-6000003"})
        seen = {
            name: [(e["type"], e["subject_id"]) for e in await events_until(ws, units["TA"])]
            for name, ws in sockets.items()
            if name != "other_admin"
        }
        user_event = ("org.user.updated", users["town_a"])
        unit_event = ("org.unit.updated", units["TA"])
        assert seen["county_admin"] == [user_event, unit_event]
        assert seen["town_a"] == [unit_event]  # a liaison does not manage users
        assert seen["county"] == [unit_event]  # nor does a duty officer
        # an administrator of town B sees neither: both lie in town A
        with pytest.raises(TimeoutError):
            await next_event(sockets["other_admin"], timeout=0.5)
    finally:
        for ws in sockets.values():
            await ws.close()


async def test_a_unit_or_account_moved_to_another_town_is_announced_in_the_town_it_left(
    live_server: str, db: Database
) -> None:
    await make_county_with_two_towns(db)
    await make_user(db, "town_b_admin", roles=["admin"], division="331126102000")
    admin = await token_for(live_server, "admin")
    token = await token_for(live_server, "town_b_admin")
    async with websockets.connect(f"ws://{live_server}/ws?token={token}") as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        async with httpx.AsyncClient(
            base_url=f"http://{live_server}", headers={"Authorization": f"Bearer {admin}"}
        ) as c:
            users = {u["username"]: u["id"] for u in (await c.get("/api/v1/users")).json()["items"]}
            units = {u["code"]: u["id"] for u in (await c.get("/api/v1/units")).json()["items"]}
            moved = await c.patch(
                f"/api/v1/units/{units['TB']}", json={"division_adcode": "331126101000"}
            )
            assert moved.status_code == 200, moved.text
            moved = await c.patch(
                f"/api/v1/users/{users['town_b']}",
                json={"division_adcode": "331126101000", "unit_code": "TA"},
            )
            assert moved.status_code == 200, moved.text
        unit_left = await next_event(ws)
        assert (unit_left["type"], unit_left["subject_id"]) == ("org.unit.updated", units["TB"])
        assert unit_left["payload"]["after"]["division_adcode"] == "331126101000"
        user_left = await next_event(ws)
        assert (user_left["type"], user_left["subject_id"]) == ("org.user.updated", users["town_b"])
        # each change reaches town B once, and nothing more follows
        with pytest.raises(TimeoutError):
            await next_event(ws, timeout=0.5)


async def closed_with(ws, timeout: float = 3.0) -> int | None:
    """Read until the server closes the socket; its close code."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return closed.value.rcvd.code if closed.value.rcvd else None


async def test_ws_is_closed_when_its_session_signs_out_and_not_the_users_other_one(
    live_server: str, db: Database
) -> None:
    await make_county_with_two_towns(db)
    first, second = [await token_for(live_server, "town_a") for _ in range(2)]
    async with (
        websockets.connect(f"ws://{live_server}/ws?token={first}") as ws_first,
        websockets.connect(f"ws://{live_server}/ws?token={second}") as ws_second,
    ):
        for ws in (ws_first, ws_second):
            assert json.loads(await ws.recv())["type"] == "hello"
        async with httpx.AsyncClient(base_url=f"http://{live_server}") as c:
            out = await c.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {first}"})
            assert out.status_code == 204
        assert await closed_with(ws_first) == 4401
        await ws_second.send(json.dumps({"type": "ping"}))
        while (message := json.loads(await asyncio.wait_for(ws_second.recv(), 3)))[
            "type"
        ] != "pong":
            assert message["type"] == "event"


@pytest.mark.parametrize(
    "change", [{"active": False}, {"password": "Bamboo-river-42"}, "logout-all"]
)
async def test_ws_is_closed_when_the_account_is_deactivated_reset_or_signed_out_everywhere(
    live_server: str, db: Database, change: dict | str
) -> None:
    await make_county_with_two_towns(db)
    admin = await token_for(live_server, "admin")
    town_a = await token_for(live_server, "town_a")
    async with websockets.connect(f"ws://{live_server}/ws?token={town_a}") as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        async with httpx.AsyncClient(
            base_url=f"http://{live_server}", headers={"Authorization": f"Bearer {admin}"}
        ) as c:
            users = {u["username"]: u["id"] for u in (await c.get("/api/v1/users")).json()["items"]}
            if change == "logout-all":
                done = await c.post(f"/api/v1/users/{users['town_a']}/logout-all")
            else:
                done = await c.patch(f"/api/v1/users/{users['town_a']}", json=change)
            assert done.status_code in (200, 204), done.text
        assert await closed_with(ws) == 4401


async def test_ws_checks_its_session_periodically_and_closes_once_it_expired(
    live_server: str, db: Database, settings: Settings, clock: ManualClock
) -> None:
    await make_county_with_two_towns(db)
    settings.ws_recheck_seconds = 0.2
    town_a = await token_for(live_server, "town_a")
    async with websockets.connect(f"ws://{live_server}/ws?token={town_a}") as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        await asyncio.sleep(0.5)  # a few checks pass: the session is still valid
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 3))["type"] == "pong"
        clock.advance(timedelta(hours=25))  # past the token's lifetime; no event says so
        assert await closed_with(ws) == 4401
