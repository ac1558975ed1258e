"""What the intake reads of a report's words, through the API: casualties with the words that
gave them, the level on confirmed or extracted-and-marked counts, a place outside that places
nothing, homophones as suggestions."""

from __future__ import annotations

import httpx

from tests.factories import bearer, make_county_with_two_towns, make_division, report
from yingji.core.db import Database

CLASSIFY = "/api/v1/intake/classify"


async def test_the_preview_returns_counts_with_their_words_and_marks_the_level(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    text = "甲镇发生车祸，一辆货车撞上护栏，事故造成3人死亡、12人受伤"
    read = await client.post(CLASSIFY, json={"text": text}, headers=officer)
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["category_code"] == "accident.traffic"
    assert body["casualties"] == {"dead": 3, "injured": 12, "missing": 0, "trapped": 0}
    assert {(w["kind"], w["count"], w["words"]) for w in body["casualty_words"]} == {
        ("dead", 3, "事故造成3人死亡"),
        ("injured", 12, "12人受伤"),
    }
    # no counts confirmed: the level uses the extracted ones and says so
    assert body["suggested_level"] == "III"
    assert body["level_why"]["params"]["counts"] == "extracted"
    # the officer's confirmed counts decide, unmarked
    confirmed = await client.post(
        CLASSIFY,
        json={"text": text, "casualties": {"dead": 0, "injured": 1}},
        headers=officer,
    )
    assert confirmed.json()["suggested_level"] == "IV"
    assert "counts" not in confirmed.json()["level_why"]["params"]


async def test_a_place_outside_says_where_and_a_homophone_is_only_suggested(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    await make_division(db, "331126101201", name="竹口村", level="village", parent="331126101000")
    officer = await bearer(client, "county")
    outside = await client.post(
        CLASSIFY, json={"text": "四川南充市南部县发生山体滑坡，2人失联"}, headers=officer
    )
    assert outside.json()["place"] is None
    assert outside.json()["outside"]["name"] == "南部县"
    assert outside.json()["outside"]["province"] == "四川省"
    typo = await client.post(CLASSIFY, json={"text": "竺口村有人落水了"}, headers=officer)
    assert typo.json()["place"] is None
    assert typo.json()["homophones"] == [
        {"written": "竺口村", "name": "竹口村", "adcode": "331126101201", "level": "village"}
    ]


async def test_a_report_placed_only_outside_has_no_point_and_no_division(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    sent = await client.post(
        "/api/v1/intake/reports",
        json=report("119-out-1", "新华社电 印度南部一辆大巴坠河，云南昆明发生火灾，造成3人死亡"),
        headers=officer,
    )
    assert sent.status_code == 201, sent.text
    stored = await client.get(f"/api/v1/intake/reports/{sent.json()['report_id']}", headers=officer)
    row = stored.json()
    assert (row["lon"], row["lat"], row["located"]) == (None, None, False)
    assert (row["location_source"], row["division_adcode"]) == ("outside", None)
    # counts read from the text, the level marked as extracted
    assert (row["dead"], row["suggested_level"]) == (3, "III")
    assert row["level_why"]["params"]["counts"] == "extracted"
