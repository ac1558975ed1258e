"""GET /api/v1/resources:nearest — the nearest of a kind, with distance and travel time."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import login, make_county_with_two_towns, make_user
from tests.resources.near_data import PATHS, SPOT, add_batch, add_item, add_resource, days, east
from yingji.app import create_app
from yingji.core import geo
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.resources import service
from yingji.settings import Settings

TEAM = {"capabilities": ["water_rescue"], "members": 20}


async def _nearest(client: httpx.AsyncClient, **params: Any) -> httpx.Response:
    return await client.get(
        "/api/v1/resources:nearest", params={"lon": SPOT[0], "lat": SPOT[1], **params}
    )


@pytest.fixture
async def county(db: Database, clock: ManualClock) -> Database:
    await make_county_with_two_towns(db)
    return db


async def test_nearest_lists_teams_nearest_first_with_distance_and_travel_time(
    county: Database, client: httpx.AsyncClient
) -> None:
    for code, metres in (("far", 9000), ("near", 1000), ("mid", 4000)):
        await add_resource(county, "rescue_team", code, east(metres), attrs=TEAM)
    await login(client, "county")
    response = await _nearest(client, kind="rescue_team", n=2)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [i["resource"]["code"] for i in body["items"]] == ["near", "mid"]
    first = body["items"][0]
    expected = geo.haversine_m(*SPOT, *east(1000))
    assert abs(first["distance_m"] - expected) < 0.05
    assert first["travel_minutes"] == round(expected / 1000 / 50 * 60, 1)  # teams: 50 km/h
    assert first["resource"]["division_name"] == "甲镇"
    assert body["travel"] == {"method": "straight_line", "speed_kmh": 50.0, "speeds_kmh": None}
    assert first["resource"]["attrs"] == {"capabilities": ["water_rescue"], "members": 20}
    assert first["resource"]["tags"] == ["water_rescue"]


async def test_nearest_filters_by_capability_status_and_distance(
    county: Database, client: httpx.AsyncClient
) -> None:
    await add_resource(county, "rescue_team", "busy", east(500), attrs=TEAM, status="deployed")
    await add_resource(
        county, "rescue_team", "mountain", east(800), attrs={"capabilities": ["mountain"]}
    )
    await add_resource(county, "rescue_team", "water", east(1500), attrs=TEAM)
    await add_resource(county, "rescue_team", "water2", east(30_000), attrs=TEAM)
    await login(client, "county")

    usable = await _nearest(client, kind="rescue_team", status="usable")
    assert [i["resource"]["code"] for i in usable.json()["items"]] == [
        "mountain",
        "water",
        "water2",
    ]
    water = await _nearest(client, kind="rescue_team", capability="water_rescue", status="usable")
    assert [i["resource"]["code"] for i in water.json()["items"]] == ["water", "water2"]
    close = await _nearest(client, kind="rescue_team", capability="water_rescue", max_km=10)
    assert [i["resource"]["code"] for i in close.json()["items"]] == ["busy", "water"]


async def test_nearest_warehouses_hold_enough_available_of_the_item(
    county: Database, client: httpx.AsyncClient
) -> None:
    tents = await add_item(county, "tent", "帐篷", "顶")
    near = await add_resource(county, "warehouse", "near", east(1000))
    mid = await add_resource(county, "warehouse", "mid", east(2000))
    far = await add_resource(county, "warehouse", "far", east(5000))
    await add_batch(county, near, tents, 100, reserved=60)  # 40 available
    await add_batch(county, mid, tents, 80, expires_on=days(-1))  # expired: none available
    await add_batch(county, mid, tents, 10, expires_on=days(30))
    await add_batch(county, far, tents, 70, reserved=10)
    await add_batch(county, far, tents, 30, expires_on=days(5))  # 90 available
    await login(client, "county")

    response = await _nearest(client, kind="warehouse", item="tent", min_quantity=50)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["resource"]["code"], i["available_quantity"]) for i in items] == [("far", 90)]
    by_id = await _nearest(client, kind="warehouse", item=str(tents))
    assert [(i["resource"]["code"], i["available_quantity"]) for i in by_id.json()["items"]] == [
        ("near", 40),
        ("mid", 10),
        ("far", 90),
    ]


async def test_travel_speeds_follow_the_setting(
    county: Database, settings: Settings, clock: ManualClock
) -> None:
    await add_resource(county, "rescue_team", "t", east(10_000), attrs=TEAM)
    app = create_app(
        settings.model_copy(update={"travel_speeds": {"rescue_team": 20.0}}),
        run_worker=False,
        clock_override=clock,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await login(client, "county")
            body = (await _nearest(client, kind="rescue_team")).json()
    assert body["travel"]["speed_kmh"] == 20.0
    assert body["items"][0]["travel_minutes"] == 30.0  # 10 km at 20 km/h


async def test_a_town_user_finds_only_the_resources_of_its_town(
    county: Database, client: httpx.AsyncClient
) -> None:
    await add_resource(county, "shelter", "a", east(3000), attrs={"capacity": 10})
    await add_resource(
        county, "shelter", "b", east(100), division="331126102000", attrs={"capacity": 10}
    )
    await add_resource(
        county, "shelter", "county", east(200), division="331126", attrs={"capacity": 10}
    )
    await login(client, "town_a")
    mine = await _nearest(client, kind="shelter")
    assert [i["resource"]["code"] for i in mine.json()["items"]] == ["a"]
    await login(client, "county")
    everything = await _nearest(client, kind="shelter")
    assert [i["resource"]["code"] for i in everything.json()["items"]] == ["b", "county", "a"]


@pytest.mark.parametrize("role", ["viewer", "field_worker", "expert", "commander"])
async def test_every_reader_may_ask_what_is_nearest(
    county: Database, client: httpx.AsyncClient, role: str
) -> None:
    unit = "TA" if role == "field_worker" else None
    await make_user(county, f"u_{role}", roles=[role], division="331126", unit=unit)
    await login(client, f"u_{role}")
    assert (await _nearest(client, kind="expert")).status_code == 200


async def test_nearest_needs_a_signed_in_reader(
    county: Database, client: httpx.AsyncClient
) -> None:
    assert (await _nearest(client, kind="expert")).status_code == 401
    await make_user(county, "nobody", roles=[], division="331126")
    await login(client, "nobody")
    assert (await _nearest(client, kind="expert")).status_code == 403


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"kind": "spaceship"}, 422, "validation_failed"),
        ({"kind": "rescue_team", "status": "asleep"}, 422, "unknown_status"),
        ({"kind": "rescue_team", "item": "tent"}, 422, "item_needs_warehouse"),
        ({"kind": "warehouse", "item": "unicorn"}, 404, "item_not_found"),
        ({"kind": "rescue_team", "n": 51}, 422, None),
        ({"kind": "rescue_team", "max_km": 0}, 422, None),
        ({"kind": "rescue_team", "capability": "a|b"}, 422, None),
        ({"kind": "rescue_team", "lon": 200}, 422, None),
    ],
)
async def test_bad_questions_are_refused_with_a_code(
    county: Database,
    client: httpx.AsyncClient,
    params: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    await login(client, "county")
    response = await _nearest(client, **params)
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["error"]["code"] == code


@pytest.mark.parametrize("speeds", [{"rescue_team": 0}, {"rescue_team": 5000}, {"a-b": 10}])
def test_travel_speeds_that_make_no_sense_are_refused_at_start(speeds: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="YINGJI_TRAVEL_SPEEDS"):
        Settings(env="test", travel_speeds=speeds)


async def test_nearest_looks_across_the_antimeridian(
    county: Database, client: httpx.AsyncClient
) -> None:
    await add_resource(county, "expert", "west", (-179.99, 10.0), attrs={"specialties": ["flood"]})
    await add_resource(county, "expert", "east", (179.97, 10.0), attrs={"specialties": ["flood"]})
    await add_resource(county, "expert", "far", (170.0, 10.0), attrs={"specialties": ["flood"]})
    await login(client, "county")
    response = await client.get(
        "/api/v1/resources:nearest",
        params={"kind": "expert", "lon": 179.995, "lat": 10.0, "n": 2},
    )
    assert [i["resource"]["code"] for i in response.json()["items"]] == ["west", "east"]
    assert response.json()["items"][0]["distance_m"] < 2000


async def test_a_warehouse_holding_the_item_is_found_beyond_many_that_do_not(
    county: Database, client: httpx.AsyncClient
) -> None:
    rows = []
    for i in range(100):  # empty warehouses all around the spot, nearer than the one with tents
        values = service.ResourceValues(
            kind="warehouse",
            code=f"empty{i:03d}",
            name=f"空仓库{i}",
            division_adcode="331126101000",
            lon=east(100 + 10 * i)[0],
            lat=SPOT[1],
        )
        rows.append(service.prepare_resource(values, division_path=PATHS["331126101000"]))
    async with county.unit_of_work() as session:
        await service.insert_resources(session=session, rows=rows)
    tents = await add_item(county, "tent", "帐篷", "顶")
    full = await add_resource(county, "warehouse", "full", east(-5000))
    await add_batch(county, full, tents, 10)
    await login(client, "county")
    response = await _nearest(client, kind="warehouse", item="tent")
    assert [i["resource"]["code"] for i in response.json()["items"]] == ["full"]
