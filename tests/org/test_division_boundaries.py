"""A division's boundary lies within its parent's and does not reach into its siblings' (a few
metres of tolerance); a parent's boundary keeps holding its children. Placement takes the deepest
division covering a point, so a boundary drawn over another town would take that town's reports:
every way a boundary is written (the API, the importers, the demo seed) is checked the same."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.factories import bearer, make_county_with_two_towns, make_division, make_user, square
from yingji.cli import app as cli
from yingji.core.db import Database
from yingji.org.models import Division
from yingji.settings import Settings

T = TypeVar("T")

TOWN_A, TOWN_B = "331126101000", "331126102000"  # [119.0, 119.1] and [119.1, 119.2] x [27.5, 27.6]
# about 3 m and 100 m of longitude at 27.5° N
THREE_METRES, HUNDRED_METRES = 0.00003, 0.001


def rect(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def village(adcode: str, boundary: dict[str, Any], parent: str = TOWN_A) -> dict[str, Any]:
    return {
        "adcode": adcode,
        "name": f"村{adcode[-3:]}",
        "level": "village",
        "parent_adcode": parent,
        "boundary": boundary,
    }


async def divisions(db: Database) -> int:
    async with db.unit_of_work(readonly=True) as session:
        return int(await session.scalar(select(func.count()).select_from(Division)) or 0)


@pytest.fixture
async def town_admin(client: httpx.AsyncClient, db: Database) -> dict[str, str]:
    """The county of two towns, and an administrator of town A (甲镇)."""
    await make_county_with_two_towns(db)
    await make_user(db, "admin_a", roles=["admin"], division=TOWN_A)
    return await bearer(client, "admin_a")


async def test_a_town_admin_cannot_draw_a_village_over_the_other_town_to_take_its_reports(
    client: httpx.AsyncClient, db: Database, town_admin: dict[str, str]
) -> None:
    before = await divisions(db)
    whole_county = village("331126101201", square(119.0, 27.5, 0.2))
    drawn = await client.post("/api/v1/divisions", headers=town_admin, json=whole_county)
    assert drawn.status_code == 422, drawn.text
    error = drawn.json()["error"]
    assert error["code"] == "boundary_outside_parent"
    assert error["details"]["parent_adcode"] == TOWN_A
    assert await divisions(db) == before

    officer = await bearer(client, "county")
    report = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json={
            "channel": "hotline_110",
            "external_id": "h1-b",
            "text": "乙镇河边有人落水",
            "lon": 119.15,
            "lat": 27.55,
        },
    )
    assert report.status_code in (200, 201), report.text
    incident = report.json()["incident_id"]
    seen_by_b = await client.get(
        f"/api/v1/incidents/{incident}", headers=await bearer(client, "town_b")
    )
    assert seen_by_b.status_code == 200
    assert seen_by_b.json()["division_adcode"] == TOWN_B
    assert (
        await client.get(f"/api/v1/incidents/{incident}", headers=town_admin)
    ).status_code == 404


async def test_a_village_reaching_into_its_sibling_is_refused_with_the_siblings_adcode(
    client: httpx.AsyncClient, town_admin: dict[str, str]
) -> None:
    west = await client.post(
        "/api/v1/divisions",
        headers=town_admin,
        json=village("331126101201", rect(119.0, 27.5, 119.05, 27.6)),
    )
    assert west.status_code == 201, west.text
    # sharing the border is what neighbours do
    east = await client.post(
        "/api/v1/divisions",
        headers=town_admin,
        json=village("331126101202", rect(119.05, 27.5, 119.1, 27.6)),
    )
    assert east.status_code == 201, east.text
    over = await client.post(
        "/api/v1/divisions",
        headers=town_admin,
        json=village("331126101203", rect(119.02, 27.52, 119.04, 27.54)),
    )
    assert over.status_code == 422
    error = over.json()["error"]
    assert error["code"] == "boundary_overlaps_sibling"
    assert error["details"]["sibling_adcode"] == "331126101201"


async def test_a_boundary_a_few_metres_past_the_parent_is_taken_and_a_hundred_metres_is_not(
    client: httpx.AsyncClient, town_admin: dict[str, str]
) -> None:
    sloppy = rect(119.02, 27.5, 119.1 + THREE_METRES, 27.55)
    taken = await client.post(
        "/api/v1/divisions", headers=town_admin, json=village("331126101201", sloppy)
    )
    assert taken.status_code == 201, taken.text
    # and a neighbour drawn from another source, a few metres over the shared border
    beside = rect(119.0, 27.5, 119.02 + THREE_METRES, 27.55)
    assert (
        await client.post(
            "/api/v1/divisions", headers=town_admin, json=village("331126101202", beside)
        )
    ).status_code == 201
    too_far = rect(119.0, 27.56, 119.1 + HUNDRED_METRES, 27.58)
    refused = await client.post(
        "/api/v1/divisions", headers=town_admin, json=village("331126101203", too_far)
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "boundary_outside_parent"


async def test_redrawing_a_village_is_checked_as_drawing_it_and_a_refusal_changes_nothing(
    client: httpx.AsyncClient, db: Database, town_admin: dict[str, str]
) -> None:
    inside = rect(119.0, 27.5, 119.05, 27.6)
    assert (
        await client.post(
            "/api/v1/divisions", headers=town_admin, json=village("331126101201", inside)
        )
    ).status_code == 201
    moved = await client.patch(
        "/api/v1/divisions/331126101201",
        headers=town_admin,
        json={"boundary": square(119.0, 27.5, 0.2)},
    )
    assert moved.status_code == 422
    assert moved.json()["error"]["code"] == "boundary_outside_parent"
    async with db.unit_of_work(readonly=True) as session:
        stored = await session.get(Division, "331126101201")
    assert stored is not None and stored.max_lon == pytest.approx(119.05)


async def test_a_parents_new_boundary_must_still_hold_its_children_and_not_cover_its_sibling(
    client: httpx.AsyncClient, db: Database, town_admin: dict[str, str]
) -> None:
    assert (
        await client.post(
            "/api/v1/divisions",
            headers=town_admin,
            json=village("331126101201", rect(119.06, 27.5, 119.1, 27.55)),
        )
    ).status_code == 201
    admin = await bearer(client, "admin")
    shrunk = await client.patch(
        f"/api/v1/divisions/{TOWN_A}", headers=admin, json={"boundary": square(119.0, 27.5, 0.05)}
    )
    assert shrunk.status_code == 422
    assert shrunk.json()["error"]["code"] == "boundary_excludes_child"
    assert shrunk.json()["error"]["details"]["child_adcode"] == "331126101201"
    grown = await client.patch(
        f"/api/v1/divisions/{TOWN_A}", headers=admin, json={"boundary": square(119.0, 27.5, 0.15)}
    )
    assert grown.status_code == 422
    assert grown.json()["error"]["code"] == "boundary_overlaps_sibling"
    assert grown.json()["error"]["details"]["sibling_adcode"] == TOWN_B
    fine = await client.patch(
        f"/api/v1/divisions/{TOWN_A}",
        headers=admin,
        json={"boundary": rect(119.0, 27.5, 119.1, 27.65)},
    )
    assert fine.status_code == 200, fine.text


async def test_an_area_admin_draws_only_inside_a_boundary_of_its_own_area(
    client: httpx.AsyncClient, db: Database, town_admin: dict[str, str]
) -> None:
    own = await client.patch(
        f"/api/v1/divisions/{TOWN_A}",
        headers=town_admin,
        json={"boundary": square(119.0, 27.5, 0.09)},
    )
    assert own.status_code == 403
    assert own.json()["error"]["code"] == "outside_scope"
    renamed = await client.patch(
        f"/api/v1/divisions/{TOWN_A}", headers=town_admin, json={"name": "甲"}
    )
    assert renamed.status_code == 200
    # a town without a boundary: its administrator could otherwise draw anywhere in the county
    await make_division(db, "331126103000", name="丙镇", parent="331126")
    await make_user(db, "admin_c", roles=["admin"], division="331126103000")
    admin_c = await bearer(client, "admin_c")
    unbounded = await client.post(
        "/api/v1/divisions",
        headers=admin_c,
        json=village("331126103201", rect(119.0, 27.6, 119.1, 27.7), parent="331126103000"),
    )
    assert unbounded.status_code == 422
    assert unbounded.json()["error"]["code"] == "parent_boundary_required"
    no_shape = await client.post(
        "/api/v1/divisions",
        headers=admin_c,
        json={**village("331126103201", None, parent="331126103000"), "boundary": None},
    )
    assert no_shape.status_code == 201


async def test_the_api_import_checks_boundaries_per_line_and_imports_nothing_when_one_fails(
    client: httpx.AsyncClient, db: Database, town_admin: dict[str, str]
) -> None:
    rows = [
        village("331126101201", rect(119.0, 27.5, 119.05, 27.6)),
        village("331126101202", square(119.0, 27.5, 0.2)),
        village("331126101203", rect(119.04, 27.5, 119.1, 27.6)),
        village("331126101204", rect(119.06, 27.5, 119.1, 27.6)),
    ]
    features = [{"type": "Feature", "geometry": r.pop("boundary"), "properties": r} for r in rows]
    body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    before = await divisions(db)
    refused = await client.post(
        "/api/v1/divisions:import",
        headers=town_admin,
        files={"file": ("villages.geojson", body, "application/geo+json")},
    )
    assert refused.status_code == 422
    errors = refused.json()["error"]["details"]["errors"]
    assert [e["line"] for e in errors] == [2, 3]
    assert "boundary_outside_parent" in errors[0]["message"]
    assert "boundary_overlaps_sibling" in errors[1]["message"]
    assert "331126101201" in errors[1]["message"]
    assert await divisions(db) == before


def on_db(url: str, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` in its own event loop with its own engine (the CLI runs in between)."""

    async def run() -> T:
        database = Database(url)
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(run())


def test_the_cli_import_refuses_a_village_outside_its_town_and_imports_nothing(
    cli_env: None, tmp_path: Path, settings: Settings, clock: object
) -> None:
    on_db(settings.database_url, make_county_with_two_towns)
    town = json.dumps(rect(119.0, 27.5, 119.1, 27.6))
    over_b = json.dumps(rect(119.05, 27.5, 119.2, 27.6))
    text = (
        "adcode,name,level,parent_adcode,boundary\n"
        f'331126101201,甲一村,village,{TOWN_A},"{town.replace(chr(34), chr(34) * 2)}"\n'
        f'331126101202,甲二村,village,{TOWN_A},"{over_b.replace(chr(34), chr(34) * 2)}"\n'
    )
    path = tmp_path / "villages.csv"
    path.write_text(text, encoding="utf-8")
    before = on_db(settings.database_url, divisions)
    result = CliRunner().invoke(cli, ["import", "divisions", str(path)])
    assert result.exit_code == 1, result.output
    assert "line 3" in result.output and "boundary_outside_parent" in result.output
    assert "line 2" not in result.output
    assert on_db(settings.database_url, divisions) == before
