"""What the caller's words give the desk: the casualties they state and the place they name."""

from __future__ import annotations

import httpx

from tests.factories import bearer, make_county_with_two_towns, report
from yingji.core.db import Database


async def test_classify_suggests_the_casualties_and_the_place_the_words_name(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    answer = await client.post(
        "/api/v1/intake/classify",
        headers=officer,
        json={"text": "甲镇老街民房着火，有人被困，暂无人员受伤"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["casualties"] == {"dead": 0, "injured": 0, "missing": 0, "trapped": 1}
    assert body["place"] is not None and body["place"]["name"].startswith("甲")
    nowhere = await client.post(
        "/api/v1/intake/classify", headers=officer, json={"text": "有东西着火了"}
    )
    assert nowhere.json()["place"] is None
    assert nowhere.json()["casualties"]["trapped"] == 0


async def test_a_report_sent_without_casualties_takes_those_its_text_states(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    text = "甲镇老街工厂爆炸，三人死亡，暂无人员被困"
    stated = await client.post(
        "/api/v1/intake/reports", headers=officer, json=report("119-0950", text)
    )
    given = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json=report("119-0951", text, casualties={"dead": 0}),
    )
    first = await client.get(
        f"/api/v1/intake/reports/{stated.json()['report_id']}", headers=officer
    )
    second = await client.get(
        f"/api/v1/intake/reports/{given.json()['report_id']}", headers=officer
    )
    assert first.json()["dead"] == 3 and first.json()["trapped"] == 0
    assert first.json()["suggested_level"] == "III"
    assert second.json()["dead"] == 0  # the sender's own counts stand
