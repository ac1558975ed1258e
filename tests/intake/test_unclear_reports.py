"""A report that names no category and no place (nonsense, a pocket dial typed up) asks the
officer before it opens an incident; it may still be filed as a report alone."""

from __future__ import annotations

import httpx

from tests.factories import bearer, counts, make_county_with_two_towns, report
from yingji.core.db import Database

NONSENSE = "asdfgh 哈哈哈 ？？？ 123"


async def test_nonsense_without_a_place_asks_before_opening_an_incident(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    asked = await client.post(
        "/api/v1/intake/reports", headers=officer, json=report("119-0900", NONSENSE)
    )
    assert asked.status_code == 409, asked.text
    error = asked.json()["error"]
    assert error["code"] == "report_needs_confirmation"
    assert error["details"] == {"missing": ["category", "place"]}
    assert await counts(db) == (0, 0)


async def test_confirmed_nonsense_opens_an_incident(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    body = report("119-0901", NONSENSE, if_unclear="open_incident")
    sent = await client.post("/api/v1/intake/reports", headers=officer, json=body)
    assert sent.status_code == 201, sent.text
    assert sent.json()["incident_id"] is not None and sent.json()["outcome"] == "opened"
    assert await counts(db) == (1, 1)


async def test_nonsense_may_be_filed_as_a_report_without_an_incident(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    body = report("119-0902", NONSENSE, if_unclear="file_only")
    sent = await client.post("/api/v1/intake/reports", headers=officer, json=body)
    assert sent.status_code == 201, sent.text
    receipt = sent.json()
    assert receipt["incident_id"] is None and receipt["outcome"] == "filed"
    assert receipt["status"] == "accepted"
    assert await counts(db) == (1, 0)
    again = await client.post(
        "/api/v1/intake/reports", headers=officer, json=report("119-0902", NONSENSE)
    )
    assert again.status_code == 200 and again.json()["report_id"] == receipt["report_id"]
    stored = await client.get(f"/api/v1/intake/reports/{receipt['report_id']}", headers=officer)
    assert stored.json()["match_outcome"] == "filed" and stored.json()["text"] == NONSENSE


async def test_a_report_with_a_category_or_a_place_is_not_questioned(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    burning = await client.post(
        "/api/v1/intake/reports", headers=officer, json=report("119-0903", "有东西着火了")
    )
    somewhere = await client.post(
        "/api/v1/intake/reports", headers=officer, json=report("119-0904", "甲镇老街 哈哈哈 123")
    )
    pointed = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-0905", NONSENSE, lon=119.012, lat=27.512),
    )
    assert [a.status_code for a in (burning, somewhere, pointed)] == [201, 201, 201]
    assert all(a.json()["incident_id"] for a in (burning, somewhere, pointed))


async def test_public_nonsense_waits_for_verification_as_any_public_report(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    body = {"channel": "public_web", "external_id": "web-0906", "text": NONSENSE}
    sent = await client.post("/api/v1/intake/reports", headers=officer, json=body)
    assert sent.status_code == 201 and sent.json()["status"] == "pending_verification"


async def test_unknown_if_unclear_is_refused_and_stores_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    body = report("119-0907", NONSENSE, if_unclear="maybe")
    sent = await client.post("/api/v1/intake/reports", headers=officer, json=body)
    assert sent.status_code == 422
    assert await counts(db) == (0, 0)
