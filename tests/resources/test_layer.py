"""GET /api/v1/resources:layer and :counts — the map's layers, never too many features."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import login, make_county_with_two_towns, make_user
from tests.resources.near_data import PATHS, SPOT, add_resource, east
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.resources import service

TOWN_A_BOX = "119.0,27.5,119.1,27.6"
COUNTY_BOX = "118.9,27.4,119.3,27.8"


@pytest.fixture
async def county(db: Database, clock: ManualClock) -> Database:
    await make_county_with_two_towns(db)
    return db


async def add_many_cameras(db: Database, n: int, *, division: str = "331126101000") -> None:
    """``n`` cameras on a grid across town A (bulk, as an import writes them)."""
    side = int(n**0.5) + 1
    rows = []
    for i in range(n):
        values = service.ResourceValues(
            kind="video_point",
            code=f"cam{i:05d}",
            name=f"摄像头{i}",
            division_adcode=division,
            lon=119.001 + 0.098 * (i % side) / side,
            lat=27.501 + 0.098 * (i // side) / side,
            attrs={"device_type": "camera"},
        )
        rows.append(service.prepare_resource(values, division_path=PATHS[division]))
    async with db.unit_of_work() as session:
        await service.insert_resources(session=session, rows=rows)


async def test_few_resources_come_as_points(county: Database, client: httpx.AsyncClient) -> None:
    for code, metres in (("w1", 100), ("w2", 200), ("w3", 300)):
        await add_resource(county, "warehouse", code, east(metres))
    await add_resource(county, "warehouse", "far", (119.25, 27.7), division="331126102000")
    await login(client, "county")
    response = await client.get(
        "/api/v1/resources:layer", params={"kind": "warehouse", "bbox": TOWN_A_BOX, "zoom": 12}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "FeatureCollection" and body["clustered"] is False
    features = body["features"]
    assert [f["properties"]["code"] for f in features] == ["w1", "w2", "w3"]
    assert all(not f["properties"]["cluster"] and f["properties"]["id"] for f in features)
    assert features[0]["geometry"] == {"type": "Point", "coordinates": list(east(100))}


async def test_many_resources_come_as_at_most_2000_grid_clusters(
    county: Database, client: httpx.AsyncClient
) -> None:
    await add_many_cameras(county, 2500)
    await login(client, "county")
    sizes = {}
    for zoom in (10, 14):
        response = await client.get(
            "/api/v1/resources:layer",
            params={"kind": "video_point", "bbox": TOWN_A_BOX, "zoom": zoom},
        )
        body = response.json()
        features = body["features"]
        assert body["clustered"] is True and 0 < len(features) <= 2000
        assert all(f["properties"]["cluster"] for f in features)
        assert sum(f["properties"]["count"] for f in features) == 2500
        sizes[zoom] = len(features)
    assert sizes[10] < sizes[14]  # coarser cells when zoomed out
    # the grid is the map's, not the box's: panning a little moves no cluster
    panned = [
        (
            await client.get(
                "/api/v1/resources:layer",
                params={"kind": "video_point", "bbox": box, "zoom": 12},
            )
        ).json()["features"]
        for box in (TOWN_A_BOX, "118.99,27.49,119.11,27.61")
    ]
    assert panned[0] == panned[1]
    # even a box of the whole world at the deepest zoom stays within the bound
    response = await client.get(
        "/api/v1/resources:layer",
        params={"kind": "video_point", "bbox": "-180,-90,180,90", "zoom": 24},
    )
    assert 0 < len(response.json()["features"]) <= 2000


async def test_the_layer_shows_only_what_the_user_sees(
    county: Database, client: httpx.AsyncClient
) -> None:
    await add_many_cameras(county, 30)
    await login(client, "town_b")
    response = await client.get(
        "/api/v1/resources:layer", params={"kind": "video_point", "bbox": TOWN_A_BOX, "zoom": 12}
    )
    assert response.json()["features"] == []
    await login(client, "town_a")
    response = await client.get(
        "/api/v1/resources:layer", params={"kind": "video_point", "bbox": TOWN_A_BOX, "zoom": 12}
    )
    assert len(response.json()["features"]) == 30


async def test_counts_per_kind_in_a_box_and_in_scope(
    county: Database, client: httpx.AsyncClient
) -> None:
    await add_resource(county, "shelter", "s1", SPOT, attrs={"capacity": 10})
    await add_resource(county, "expert", "e1", east(200), attrs={"specialties": ["flood"]})
    await add_resource(
        county,
        "expert",
        "e2",
        (119.15, 27.55),
        division="331126102000",
        attrs={"specialties": ["fire"]},
    )
    await add_resource(county, "plan", "p1", None, attrs={"plan_type": "overall"})
    await login(client, "county")
    everything = (await client.get("/api/v1/resources:counts")).json()["counts"]
    assert everything["expert"] == 2 and everything["shelter"] == 1 and everything["plan"] == 1
    assert everything["warehouse"] == 0 and len(everything) == 10
    boxed = (await client.get("/api/v1/resources:counts", params={"bbox": TOWN_A_BOX})).json()
    assert boxed["counts"]["expert"] == 1 and boxed["counts"]["plan"] == 0
    await login(client, "town_b")
    theirs = (await client.get("/api/v1/resources:counts", params={"bbox": COUNTY_BOX})).json()
    assert theirs["counts"]["expert"] == 1 and theirs["counts"]["shelter"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "warehouse", "bbox": "119,27", "zoom": 10},
        {"kind": "warehouse", "bbox": "119.1,27.5,119.0,27.6", "zoom": 10},
        {"kind": "warehouse", "bbox": "0,0,200,10", "zoom": 10},
        {"kind": "warehouse", "bbox": "nan,0,1,1", "zoom": 10},
    ],
)
async def test_a_bad_box_is_refused(
    county: Database, client: httpx.AsyncClient, params: dict[str, object]
) -> None:
    await login(client, "county")
    response = await client.get("/api/v1/resources:layer", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_bbox"
    counts = await client.get("/api/v1/resources:counts", params={"bbox": params["bbox"]})
    assert counts.status_code == 422


async def test_layers_need_a_reader_a_kind_and_a_zoom(
    county: Database, client: httpx.AsyncClient
) -> None:
    good = {"kind": "warehouse", "bbox": TOWN_A_BOX, "zoom": 10}
    assert (await client.get("/api/v1/resources:layer", params=good)).status_code == 401
    assert (await client.get("/api/v1/resources:counts")).status_code == 401
    await make_user(county, "nobody", roles=[], division="331126")
    await login(client, "nobody")
    assert (await client.get("/api/v1/resources:layer", params=good)).status_code == 403
    assert (await client.get("/api/v1/resources:counts")).status_code == 403
    await login(client, "county")
    for bad in (
        {**good, "kind": "ufo"},
        {**good, "zoom": 25},
        {"kind": "warehouse", "bbox": TOWN_A_BOX},
    ):
        assert (await client.get("/api/v1/resources:layer", params=bad)).status_code == 422
