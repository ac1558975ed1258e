"""The audit log is scoped like the data it records: a town's duty leader reads the rows about
its own town (reports, user changes, sign-ins) and nothing about another town's."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from tests.factories import bearer, make_county_with_two_towns, make_user
from yingji.core.db import Database

TOWN_A, TOWN_B = "331126101000", "331126102000"


def fire(external_id: str, place: str, lon: float) -> dict[str, object]:
    return {
        "channel": "hotline_119",
        "external_id": external_id,
        "text": f"{place}老街5号居民楼着火了，浓烟滚滚",
        "lon": lon,
        "lat": 27.55,
    }


async def audit_of(client: httpx.AsyncClient, who: dict[str, str], **query: str) -> dict[str, Any]:
    response = await client.get("/api/v1/audit", params={"limit": 500, **query}, headers=who)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def two_towns_at_work(client: httpx.AsyncClient, db: Database) -> dict[str, Any]:
    """Each town gets a report, a change to its user's account and a sign-in; a stranger fails
    to sign in under a name that does not exist."""
    await make_county_with_two_towns(db)
    await make_user(db, "leader_a", roles=["duty_leader"], division=TOWN_A)
    await make_user(db, "leader_b", roles=["duty_leader"], division=TOWN_B)
    admin = await bearer(client, "admin")
    officer = await bearer(client, "county")
    report_a = await client.post(
        "/api/v1/intake/reports", headers=officer, json=fire("119-A1", "甲镇", 119.05)
    )
    report_b = await client.post(
        "/api/v1/intake/reports", headers=officer, json=fire("119-B1", "乙镇", 119.15)
    )
    assert report_a.status_code == 201 and report_b.status_code == 201
    users = {
        u["username"]: u["id"]
        for u in (await client.get("/api/v1/users?limit=100", headers=admin)).json()["items"]
    }
    for name in ("town_a", "town_b"):
        changed = await client.patch(
            f"/api/v1/users/{users[name]}", headers=admin, json={"display_name": f"{name} 改"}
        )
        assert changed.status_code == 200, changed.text
    await bearer(client, "town_a")
    await bearer(client, "town_b")
    stranger = await client.post(
        "/api/v1/auth/token", data={"username": "nobody-here", "password": "guess-1234"}
    )
    assert stranger.status_code == 401
    return {
        "admin": admin,
        "leader_a": await bearer(client, "leader_a"),
        "leader_b": await bearer(client, "leader_b"),
        "report_a": report_a.json()["report_id"],
        "report_b": report_b.json()["report_id"],
        "user_a": users["town_a"],
        "user_b": users["town_b"],
        "town_a_people": {users["town_a"], users["leader_a"]},
        "town_b_people": {users["town_b"], users["leader_b"]},
    }


async def test_a_towns_duty_leader_reads_its_own_towns_audit_rows_only(
    client: httpx.AsyncClient, db: Database
) -> None:
    w = await two_towns_at_work(client, db)
    page = await audit_of(client, w["leader_a"])
    subjects = {(row["subject_type"], row["subject_id"], row["action"]) for row in page["items"]}
    assert ("report", w["report_a"], "intake.report_received") in subjects
    assert ("user", w["user_a"], "org.user.updated") in subjects
    assert ("user", w["user_a"], "auth.signed_in") in subjects
    seen = {subject_id for _, subject_id, _ in subjects}
    assert w["report_b"] not in seen and w["user_b"] not in seen
    assert "nobody-here" not in seen  # a failed sign-in under an unknown name has no area
    # the other town's report snapshot and sign-in address are nowhere in the answer
    assert "乙镇" not in str(page["items"])
    assert page["total"] == len(page["items"])

    page_b = await audit_of(client, w["leader_b"])
    seen_b = {row["subject_id"] for row in page_b["items"]}
    assert w["report_b"] in seen_b and w["user_b"] in seen_b
    assert not seen_b & {w["report_a"], w["user_a"]}


async def test_another_towns_subject_is_absent_from_the_audit_log(
    client: httpx.AsyncClient, db: Database
) -> None:
    w = await two_towns_at_work(client, db)
    for subject in (w["report_b"], w["user_b"]):
        page = await audit_of(client, w["leader_a"], subject_id=subject)
        assert page == {"items": [], "total": 0}
    signed_in = await audit_of(client, w["leader_a"], action="auth.signed_in")
    assert {row["subject_id"] for row in signed_in["items"]} == w["town_a_people"]
    signed_in_b = await audit_of(client, w["leader_b"], action="auth.signed_in")
    assert {row["subject_id"] for row in signed_in_b["items"]} == w["town_b_people"]


async def test_an_administrator_of_everything_reads_every_row(
    client: httpx.AsyncClient, db: Database
) -> None:
    w = await two_towns_at_work(client, db)
    page = await audit_of(client, w["admin"])
    seen = {row["subject_id"] for row in page["items"]}
    assert {w["report_a"], w["report_b"], w["user_a"], w["user_b"], "nobody-here"} <= seen


async def test_a_towns_verification_counts_its_rows_and_names_only_its_own_breaks(
    client: httpx.AsyncClient, db: Database
) -> None:
    w = await two_towns_at_work(client, db)
    own = (await audit_of(client, w["leader_a"]))["total"]
    everything = (await audit_of(client, w["admin"]))["total"]
    verdict = (await client.get("/api/v1/audit/verify", headers=w["leader_a"])).json()
    assert verdict["intact"] and verdict["checked"] == own < everything

    async with db.unit_of_work() as session:  # the attacker removes the guard and edits B's row
        if db.is_postgres:
            await session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            await session.execute(text("DROP TRIGGER audit_log_no_update"))
        await session.execute(
            text("UPDATE audit_log SET ip = '6.6.6.6' WHERE subject_id = :s"), {"s": w["user_b"]}
        )
        if db.is_postgres:
            await session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        broken_id = await session.scalar(
            text("SELECT min(id) FROM audit_log WHERE subject_id = :s"), {"s": w["user_b"]}
        )

    for_a = (await client.get("/api/v1/audit/verify", headers=w["leader_a"])).json()
    assert for_a["intact"] is False
    assert for_a["first_broken_id"] is None and for_a["code"] == "outside_area"
    assert "6.6.6.6" not in str(for_a)
    for_b = (await client.get("/api/v1/audit/verify", headers=w["leader_b"])).json()
    assert for_b["intact"] is False and for_b["first_broken_id"] == broken_id
    for_admin = (await client.get("/api/v1/audit/verify", headers=w["admin"])).json()
    assert for_admin["first_broken_id"] == broken_id and for_admin["code"] == "row_altered"
