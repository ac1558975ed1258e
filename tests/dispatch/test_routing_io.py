"""The routing table round-trips through CSV: export, import all rows or none, errors by line."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from tests.factories import bearer, make_county_with_two_towns
from yingji.core.db import Database
from yingji.dispatch.models import RoutingRule

HEADER = "category_prefix,levels,division_adcode,role,selector,unit_code,priority,note,active\n"


async def rule_count(db: Database) -> int:
    async with db.unit_of_work(readonly=True) as session:
        return int(await session.scalar(select(func.count()).select_from(RoutingRule)) or 0)


def upload(text: str) -> dict[str, tuple[str, bytes, str]]:
    return {"file": ("rules.csv", text.encode("utf-8"), "text/csv")}


async def test_import_with_bad_lines_reports_each_line_and_writes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    text = (
        HEADER
        + "accident.fire,I|II,331126,lead,unit,TA,10,ok,true\n"
        + "accident.fire,V,,lead,unit,TA,10,,\n"  # line 3: no level V
        + "accident.fire,,,lead,unit,NOPE,10,,\n"  # line 4: no such unit
        + "accident.fire,,999999,co,town,,10,,\n"  # line 5: no such division
        + "accident.fire,,,boss,unit,TA,10,,\n"  # line 6: no such role
        + "accident.fire,,,lead,unit,,10,,\n"  # line 7: selector unit without unit
    )
    response = await client.post("/api/v1/routing-rules:import", headers=admin, files=upload(text))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "import_failed"
    lines = [(e["line"], e["field"]) for e in error["details"]["errors"]]
    assert (3, "levels.0") in lines
    assert (4, "unit_code") in lines
    assert (5, "division_adcode") in lines
    assert (6, "role") in lines
    assert (7, "unit_code") in lines
    assert 2 not in [line for line, _ in lines]
    assert await rule_count(db) == 0


async def test_import_then_export_gives_back_the_same_rows_and_reimport_updates(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    text = (
        HEADER
        + "accident.fire,II|I,331126101000,lead,unit,TA,10,甲镇主办,true\n"
        + "accident,,,co,town,,50,,no\n"
    )
    response = await client.post("/api/v1/routing-rules:import", headers=admin, files=upload(text))
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 2, "updated": 0, "errors": []}
    listed = (await client.get("/api/v1/routing-rules", headers=admin)).json()
    fire = next(r for r in listed if r["category_prefix"] == "accident.fire")
    assert fire["levels"] == ["I", "II"] and fire["division_path"].endswith("331126101000/")
    assert next(r for r in listed if r["category_prefix"] == "accident")["active"] is False

    exported = await client.get("/api/v1/routing-rules.csv", headers=admin)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    body = exported.content.decode("utf-8-sig")
    assert body.splitlines()[0] + "\n" == HEADER
    assert "accident.fire,I|II,331126101000,lead,unit,TA,10,甲镇主办,true" in body

    again = await client.post(
        "/api/v1/routing-rules:import", headers=admin, files=upload(body.replace(",50,", ",60,"))
    )
    assert again.json() == {"created": 0, "updated": 2, "errors": []}
    assert await rule_count(db) == 2
    listed = (await client.get("/api/v1/routing-rules", headers=admin)).json()
    assert next(r for r in listed if r["category_prefix"] == "accident")["priority"] == 60


async def test_replace_empties_the_table_first(client: httpx.AsyncClient, db: Database) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    first = HEADER + "accident.fire,,,lead,unit,TA,10,,\nnatural,,,co,town,,10,,\n"
    await client.post("/api/v1/routing-rules:import", headers=admin, files=upload(first))
    response = await client.post(
        "/api/v1/routing-rules:import?replace=true",
        headers=admin,
        files=upload(HEADER + "natural.flood,,,lead,unit,TB,5,,\n"),
    )
    assert response.json()["created"] == 1
    listed = (await client.get("/api/v1/routing-rules", headers=admin)).json()
    assert [r["category_prefix"] for r in listed] == ["natural.flood"]


async def test_only_an_administrator_imports(client: httpx.AsyncClient, db: Database) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    response = await client.post(
        "/api/v1/routing-rules:import",
        headers=officer,
        files=upload(HEADER + "accident.fire,,,lead,unit,TA,10,,\n"),
    )
    assert response.status_code == 403
    assert await rule_count(db) == 0
