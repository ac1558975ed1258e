"""The situation board's map data: `GET /incidents.geojson` carries what a point needs (level,
state, time) under the same filters as the list, and only the caller's incidents."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import bearer, make_county_with_two_towns, make_user
from tests.incidents.test_incident_lifecycle import open_incident, post
from yingji.core.db import Database


@pytest.fixture
async def officer(client: httpx.AsyncClient, db: Database) -> dict[str, str]:
    await make_county_with_two_towns(db)
    return await bearer(client, "county")


async def test_points_carry_level_state_and_time_and_follow_the_list_filters(
    client: httpx.AsyncClient, officer: dict[str, str]
) -> None:
    fire = await open_incident(client, officer, "bg-1", lon=119.05, lat=27.55)
    flood = await open_incident(
        client, officer, "bg-2", text="乙镇河水漫过桥面", lon=119.15, lat=27.55
    )
    raised = await post(client, officer, f"{fire}/level", {"level": "II", "reason": "蔓延"})
    assert raised.status_code == 200, raised.text
    assert (await post(client, officer, f"{flood}/verify")).status_code == 200

    answer = await client.get("/api/v1/incidents.geojson", headers=officer)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(
        "application/json"
    )
    features = {f["id"]: f for f in answer.json()["features"]}
    assert set(features) == {fire, flood}
    point = features[fire]
    assert point["geometry"] == {"type": "Point", "coordinates": [119.05, 27.55]}
    props = point["properties"]
    assert props["id"] == fire and props["level"] == "II" and props["state"] == "reported"
    assert props["last_reported_at"].endswith("+00:00") and props["report_count"] == 1
    assert features[flood]["properties"]["state"] == "verified"

    listed = (await client.get("/api/v1/incidents?level=II", headers=officer)).json()
    by_level = (await client.get("/api/v1/incidents.geojson?level=II", headers=officer)).json()
    assert [i["id"] for i in listed["items"]] == [f["id"] for f in by_level["features"]] == [fire]
    by_state = (
        await client.get("/api/v1/incidents.geojson?state=verified&state=closed", headers=officer)
    ).json()
    assert [f["id"] for f in by_state["features"]] == [flood]
    in_town_b = (
        await client.get("/api/v1/incidents.geojson?division=331126102000", headers=officer)
    ).json()
    assert [f["id"] for f in in_town_b["features"]] == [flood]
    limited = (await client.get("/api/v1/incidents.geojson?limit=1", headers=officer)).json()
    assert len(limited["features"]) == 1


async def test_points_outside_the_callers_jurisdiction_are_left_out(
    client: httpx.AsyncClient, officer: dict[str, str], db: Database
) -> None:
    mine = await open_incident(client, officer, "bg-3", lon=119.05, lat=27.55)
    await open_incident(client, officer, "bg-4", text="乙镇着火", lon=119.15, lat=27.55)
    await make_user(db, "viewer_a", roles=["viewer"], division="331126101000")
    geo = (
        await client.get("/api/v1/incidents.geojson", headers=await bearer(client, "viewer_a"))
    ).json()
    assert [f["id"] for f in geo["features"]] == [mine]
