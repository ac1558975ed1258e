from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.factories import bearer, make_county_with_two_towns, square
from yingji.cli import app as cli
from yingji.core.db import Database
from yingji.org.models import Division, LinkageUnit

DIVISIONS_CSV = """adcode,name,level,parent_adcode,centroid_lon,centroid_lat
330000,浙江省,province,,,
331126,庆元县,county,330000,119.06,27.62
331126101000,竹口镇,town,331126,118.95,27.70
331126101201,竹口村,village,331126101000,118.95,27.71
"""


async def count(db: Database, model: type) -> int:
    async with db.unit_of_work(readonly=True) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def test_cli_imports_divisions_from_csv_with_a_progress_bar(
    cli_env, tmp_path: Path, db: Database, clock
) -> None:
    path = tmp_path / "divisions.csv"
    path.write_text(DIVISIONS_CSV, encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", "divisions", str(path)])
    assert result.exit_code == 0, result.output
    assert "4 created, 0 updated" in result.output
    assert "importing divisions" in result.output and "4/4" in result.output
    assert asyncio.run(count(db, Division)) == 4


def test_cli_import_with_bad_lines_reports_each_and_imports_nothing(
    cli_env, tmp_path: Path, db: Database, clock
) -> None:
    bad = (
        DIVISIONS_CSV + "33112610X000,坏镇,town,331126,,\n331126102000,乙镇,hamlet,331126,,\n"
        "331126103000,丙镇,town,999999,,\n"
    )
    path = tmp_path / "divisions.csv"
    path.write_text(bad, encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", "divisions", str(path)])
    assert result.exit_code == 1
    assert "import_failed" in result.output
    assert "line 6, adcode" in result.output
    assert "line 7, level" in result.output
    assert "line 8" in result.output and "parent_not_found" in result.output
    assert asyncio.run(count(db, Division)) == 0


def test_cli_imports_units_from_geojson_parents_first(
    cli_env, tmp_path: Path, db: Database, clock
) -> None:
    (tmp_path / "d.csv").write_text(DIVISIONS_CSV, encoding="utf-8")
    assert CliRunner().invoke(cli, ["import", "divisions", str(tmp_path / "d.csv")]).exit_code == 0
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [118.95, 27.71]},
            "properties": {
                "code": "V1",
                "name": "竹口村便民服务中心",
                "kind": "village",
                "tier": 2,
                "division_adcode": "331126101201",
                "parent_code": "T1",
            },
        },
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [118.95, 27.70]},
            "properties": {
                "code": "T1",
                "name": "竹口镇人民政府",
                "kind": "town",
                "tier": 1,
                "division_adcode": "331126101000",
            },
        },
    ]
    path = tmp_path / "units.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    result = CliRunner().invoke(cli, ["import", "units", str(path)])
    assert result.exit_code == 0, result.output
    assert asyncio.run(count(db, LinkageUnit)) == 2
    again = CliRunner().invoke(cli, ["import", "units", str(path)])
    assert "0 created, 2 updated" in again.output


async def test_api_import_of_geojson_divisions_is_all_or_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    good = {
        "type": "Feature",
        "geometry": square(119.0, 27.5, 0.01),
        "properties": {
            "adcode": "331126101201",
            "name": "甲村",
            "level": "village",
            "parent_adcode": "331126101000",
        },
    }
    bad = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [1, 2]},
        "properties": {
            "adcode": "331126101202",
            "name": "",
            "level": "village",
            "parent_adcode": "331126101000",
        },
    }
    body = json.dumps({"type": "FeatureCollection", "features": [good, bad]}).encode()
    before = await count(db, Division)
    refused = await client.post(
        "/api/v1/divisions:import",
        headers=admin,
        files={"file": ("villages.geojson", body, "application/geo+json")},
    )
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "import_failed"
    assert [e["line"] for e in error["details"]["errors"]] == [2]
    assert await count(db, Division) == before
    body = json.dumps({"type": "FeatureCollection", "features": [good]}).encode()
    accepted = await client.post(
        "/api/v1/divisions:import", headers=admin, files={"file": ("villages.geojson", body)}
    )
    assert accepted.json() == {"created": 1, "updated": 0, "errors": []}


async def test_reimporting_a_unit_with_another_kind_changes_its_kind(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    text = "code,name,kind,tier,division_adcode\nTA,甲镇救援队,rescue_team,1,331126101000\n"
    answer = await client.post(
        "/api/v1/units:import",
        headers=admin,
        files={"file": ("units.csv", text.encode(), "text/csv")},
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["created"], answer.json()["updated"]) == (0, 1)
    async with db.unit_of_work(readonly=True) as session:
        unit = await session.scalar(select(LinkageUnit).where(LinkageUnit.code == "TA"))
    assert unit is not None and (unit.kind, unit.name) == ("rescue_team", "甲镇救援队")


async def test_import_problems_carry_a_code_and_params_that_the_screens_word(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    body = (
        "adcode,name,level,parent_adcode\n"
        "331126101201,甲村,village,331126101000\n"
        "331126101201,乙村,village,331126101000\n"
        "33112610120,丙村,village,331126101000\n"
        "331126101203,丁村,hamlet,331126101000\n"
        "331126101204,戊村,village,331126999000\n"
    ).encode()
    refused = await client.post(
        "/api/v1/divisions:import", headers=admin, files={"file": ("villages.csv", body)}
    )
    assert refused.status_code == 422
    problems = {
        (e["line"], e["field"]): (e["code"], e["params"])
        for e in refused.json()["error"]["details"]["errors"]
    }
    assert problems[(3, "adcode")] == ("repeats", {"value": "331126101201", "line": 2})
    assert problems[(4, "adcode")] == ("pattern", {})
    code, params = problems[(5, "level")]
    assert code == "one_of" and "'village'" in params["value"]
    assert problems[(6, None)][0] == "parent_not_found"
