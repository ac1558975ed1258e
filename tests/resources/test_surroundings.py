"""GET /api/v1/incidents/{id}/surroundings — what is around an incident's place."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import login, make_county_with_two_towns, make_user
from tests.resources.near_data import (
    SPOT,
    add_batch,
    add_incident,
    add_item,
    add_resource,
    east,
)
from yingji.core.clock import ManualClock
from yingji.core.db import Database


def codes(group: list[dict[str, Any]]) -> list[str]:
    """The codes of one group of a surroundings answer (JSON), nearest first."""
    return [str(hit["resource"]["code"]) for hit in group]


@pytest.fixture
async def scene(db: Database, clock: ManualClock) -> Database:
    """Around SPOT in town A: a flood's needs, and what is near."""
    await make_county_with_two_towns(db)
    hazard = {"hazard_type": "chemical", "substances": ["液氨"]}
    await add_resource(db, "hazard_source", "hz-in", east(2000), attrs=hazard)
    await add_resource(db, "hazard_source", "hz-out", east(4000), attrs=hazard)
    await add_resource(db, "hazard_source", "hz-closed", east(500), attrs=hazard, status="closed")
    await add_resource(
        db, "protection_target", "pt-school", east(0, 900), attrs={"target_type": "school"}
    )
    team = {"capabilities": ["water_rescue"]}
    for n, metres in enumerate((1000, 2000, 3000, 4000, 5000, 6000, 7000)):
        await add_resource(db, "rescue_team", f"team-{n}", east(-metres), attrs=team)
    await add_resource(db, "rescue_team", "team-busy", east(-10), attrs=team, status="deployed")
    sandbag = await add_item(db, "sandbag", "编织袋", "条")
    jacket = await add_item(db, "life_jacket", "救生衣", "件")
    tent = await add_item(db, "tent", "帐篷", "顶")
    food = await add_item(db, "canned_meat", "肉罐头", "箱")  # a flood does not need it
    wh_near = await add_resource(db, "warehouse", "wh-near", east(0, 1500))
    wh_food = await add_resource(db, "warehouse", "wh-food", east(0, 500))
    wh_far = await add_resource(db, "warehouse", "wh-far", east(0, 8000))
    wh_closed = await add_resource(db, "warehouse", "wh-closed", east(0, 200), status="closed")
    await add_batch(db, wh_near, sandbag, 500, reserved=100)
    await add_batch(db, wh_near, jacket, 20)
    await add_batch(db, wh_food, food, 50)
    await add_batch(db, wh_far, tent, 10)
    await add_batch(db, wh_closed, sandbag, 999)
    await add_resource(
        db, "shelter", "sh-full", east(300), attrs={"capacity": 100, "occupancy": 100}
    )
    await add_resource(
        db, "shelter", "sh-room", east(600), attrs={"capacity": 100, "occupancy": 30}
    )
    # cameras 200 m west of the spot: facing it (east, 90°), facing away, all around, too far
    camera = {"device_type": "camera", "range_m": 300}
    await add_resource(
        db,
        "video_point",
        "cam-east",
        east(-200),
        attrs={**camera, "direction_deg": 90, "fov_deg": 60},
    )
    await add_resource(
        db, "video_point", "cam-west", east(-200, 5), attrs={**camera, "direction_deg": 270}
    )
    await add_resource(db, "video_point", "cam-round", east(-250), attrs=camera)
    await add_resource(
        db, "video_point", "cam-short", east(-200, -5), attrs={**camera, "range_m": 150}
    )
    await add_resource(db, "video_point", "cam-off", east(-100), attrs=camera, status="offline")
    await add_resource(
        db, "video_point", "drone", east(2500), attrs={"device_type": "drone", "range_m": 3000}
    )
    await add_resource(db, "medical_facility", "hospital", east(0, -2500), attrs={"beds": 100})
    await add_resource(db, "medical_facility", "clinic-closed", east(0, -100), status="closed")
    return db


async def test_surroundings_list_what_is_around_an_incident(
    scene: Database, client: httpx.AsyncClient
) -> None:
    incident = await add_incident(scene, SPOT, category="natural.flood")
    await login(client, "county")
    response = await client.get(f"/api/v1/incidents/{incident}/surroundings")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["center"] == {"lon": SPOT[0], "lat": SPOT[1]} and body["radius_m"] == 3000
    assert codes(body["hazard_sources"]) == ["hz-in"]
    assert codes(body["protection_targets"]) == ["pt-school"]
    assert codes(body["teams"]) == [f"team-{n}" for n in range(5)]
    assert [i["code"] for i in body["needed_items"]][:3] == ["sandbag", "life_jacket", "tent"]
    warehouses = body["warehouses"]
    assert codes(warehouses) == ["wh-near", "wh-far"]
    assert [(i["code"], i["available"], i["quantity"]) for i in warehouses[0]["items"]] == [
        ("sandbag", 400, 500),
        ("life_jacket", 20, 20),
    ]
    shelter = body["shelters"][0]
    assert codes(body["shelters"]) == ["sh-room"]
    assert (shelter["capacity"], shelter["occupancy"], shelter["free_capacity"]) == (100, 30, 70)
    assert shelter["travel_minutes"] == round(shelter["distance_m"] / 1000 / 5 * 60, 1)
    assert codes(body["video_points"]) == ["cam-east", "cam-round", "drone"]
    assert codes(body["medical_facilities"]) == ["hospital"]
    assert body["travel"]["method"] == "straight_line"
    assert body["travel"]["speeds_kmh"]["rescue_team"] == 50.0


async def test_a_wider_radius_reaches_farther_hazards(
    scene: Database, client: httpx.AsyncClient
) -> None:
    incident = await add_incident(scene, SPOT)
    await login(client, "county")
    response = await client.get(
        f"/api/v1/incidents/{incident}/surroundings", params={"radius_m": 5000}
    )
    assert codes(response.json()["hazard_sources"]) == ["hz-in", "hz-out"]


async def test_an_incident_without_a_place_has_no_surroundings(
    scene: Database, client: httpx.AsyncClient
) -> None:
    incident = await add_incident(scene, None)
    await login(client, "county")
    body = (await client.get(f"/api/v1/incidents/{incident}/surroundings")).json()
    assert body["center"] is None
    assert body["teams"] == [] and body["warehouses"] == [] and body["video_points"] == []


async def test_another_towns_incident_is_not_found(
    scene: Database, client: httpx.AsyncClient
) -> None:
    incident = await add_incident(scene, SPOT)
    await login(client, "town_b")
    response = await client.get(f"/api/v1/incidents/{incident}/surroundings")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "incident_not_found"
    await login(client, "town_a")
    assert (await client.get(f"/api/v1/incidents/{incident}/surroundings")).status_code == 200


async def test_surroundings_need_a_reader_and_a_bounded_radius(
    scene: Database, client: httpx.AsyncClient
) -> None:
    incident = await add_incident(scene, SPOT)
    url = f"/api/v1/incidents/{incident}/surroundings"
    assert (await client.get(url)).status_code == 401
    await make_user(scene, "nobody", roles=[], division="331126")
    await login(client, "nobody")
    assert (await client.get(url)).status_code == 403
    await login(client, "county")
    for radius in (0, 50_001, "wide"):
        assert (await client.get(url, params={"radius_m": radius})).status_code == 422
