"""What an administrator of everything may change that an administrator of an area may not: the
tables the whole platform shares (categories, reporting and stage deadlines) and the kernel's
views (timers, event subscribers). An area administrator is refused with 403 and a stable code,
and changes nothing; ``/auth/me`` says which permissions the signed-in user holds, so the web app
hides what it may not use."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import bearer, make_county_with_two_towns, make_user
from yingji.core.db import Database

TOWN_A = "331126101000"
EVERYTHING_ONLY = {"reference.write", "system.admin"}


@pytest.fixture
async def admins(client: httpx.AsyncClient, db: Database) -> dict[str, dict[str, str]]:
    await make_county_with_two_towns(db)
    await make_user(db, "admin_a", roles=["admin"], division=TOWN_A)
    await make_user(db, "admin_county", roles=["admin"], division="331126")
    return {
        "everything": await bearer(client, "admin"),
        "town": await bearer(client, "admin_a"),
        "county": await bearer(client, "admin_county"),
    }


def refused(response: httpx.Response, permission: str) -> bool:
    error = response.json().get("error") or {}
    return (
        response.status_code == 403
        and error.get("code") == "permission_denied"
        and error.get("details", {}).get("permission") == permission
    )


async def test_me_reports_the_shared_table_and_system_permissions_only_to_an_admin_of_everything(
    client: httpx.AsyncClient, admins: dict[str, dict[str, str]]
) -> None:
    me = (await client.get("/api/v1/auth/me", headers=admins["everything"])).json()
    assert set(me["permissions"]) >= EVERYTHING_ONLY
    for area in ("town", "county"):
        mine = set(
            (await client.get("/api/v1/auth/me", headers=admins[area])).json()["permissions"]
        )
        assert not mine & EVERYTHING_ONLY, area
        assert {"org.write", "user.manage"} <= mine  # it still administers its area


async def test_a_town_admin_cannot_change_a_shared_category(
    client: httpx.AsyncClient, admins: dict[str, dict[str, str]]
) -> None:
    url = "/api/v1/intake/categories/accident.elevator"
    for area in ("town", "county"):
        answer = await client.patch(url, headers=admins[area], json={"active": False})
        assert refused(answer, "reference.write"), (area, answer.text)
    categories = (await client.get("/api/v1/intake/categories", headers=admins["town"])).json()
    assert next(c for c in categories if c["code"] == "accident.elevator")["active"] is True
    allowed = await client.patch(url, headers=admins["everything"], json={"active": False})
    assert allowed.status_code == 200 and allowed.json()["active"] is False


async def test_a_town_admin_cannot_set_a_reporting_or_a_stage_deadline(
    client: httpx.AsyncClient, admins: dict[str, dict[str, str]]
) -> None:
    reporting = {
        "category_prefix": "accident",
        "level": "IV",
        "phone_minutes": 5,
        "written_minutes": 9,
    }
    stage = {
        "category_prefix": "accident",
        "sign_minutes": 1,
        "arrive_minutes": 2,
        "feedback_minutes": 3,
        "complete_minutes": 4,
    }
    before_reporting = (
        await client.get("/api/v1/reporting-deadlines", headers=admins["town"])
    ).json()
    before_stage = (await client.get("/api/v1/stage-deadlines", headers=admins["town"])).json()
    for area in ("town", "county"):
        answer = await client.put(
            "/api/v1/reporting-deadlines", headers=admins[area], json=reporting
        )
        assert refused(answer, "reference.write"), (area, answer.text)
        answer = await client.put("/api/v1/stage-deadlines", headers=admins[area], json=stage)
        assert refused(answer, "reference.write"), (area, answer.text)
    assert (
        await client.get("/api/v1/reporting-deadlines", headers=admins["town"])
    ).json() == before_reporting
    assert (
        await client.get("/api/v1/stage-deadlines", headers=admins["town"])
    ).json() == before_stage
    everything = admins["everything"]
    assert (
        await client.put("/api/v1/reporting-deadlines", headers=everything, json=reporting)
    ).status_code == 200
    assert (
        await client.put("/api/v1/stage-deadlines", headers=everything, json=stage)
    ).status_code == 200


async def test_only_an_admin_of_everything_sees_the_timers_and_subscribers_and_retries_a_timer(
    client: httpx.AsyncClient, admins: dict[str, dict[str, str]]
) -> None:
    for area in ("town", "county"):
        headers = admins[area]
        for answer in (
            await client.get("/api/v1/system/timers", headers=headers, params={"state": ""}),
            await client.get("/api/v1/system/subscribers", headers=headers),
            await client.post("/api/v1/system/timers/1/retry", headers=headers),
        ):
            assert refused(answer, "system.admin"), (area, answer.text)
    everything = admins["everything"]
    assert (await client.get("/api/v1/system/timers", headers=everything)).status_code == 200
    assert (await client.get("/api/v1/system/subscribers", headers=everything)).status_code == 200
    # reference data schedules periodic timers (the 叫应 auditor): a number no timer has
    missing = await client.post("/api/v1/system/timers/999999999/retry", headers=everything)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "timer_not_found"
