"""Small factories: each makes what one test needs through the services, committed."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from yingji.app import install_jobs
from yingji.core.db import Database
from yingji.core.events import Bus
from yingji.incidents.models import Incident
from yingji.intake.models import Report
from yingji.org import service
from yingji.org.models import Division, LinkageUnit, UserAccount

PASSWORD = "correct-horse-1"


def square(lon: float, lat: float, size: float = 0.05) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [
            [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
        ],
    }


async def make_division(
    db: Database,
    adcode: str,
    *,
    name: str | None = None,
    level: str = "town",
    parent: str | None = None,
    boundary: dict[str, Any] | None = None,
) -> Division:
    async with db.unit_of_work() as session:
        return await service.create_division(
            session=session,
            data={
                "adcode": adcode,
                "name": name or f"区划{adcode}",
                "level": level,
                "parent_adcode": parent,
                "boundary": boundary,
            },
        )


async def make_unit(
    db: Database,
    code: str,
    *,
    division: str,
    tier: int = 1,
    kind: str = "department",
    lon: float | None = None,
    lat: float | None = None,
    parent_code: str | None = None,
) -> LinkageUnit:
    async with db.unit_of_work() as session:
        return await service.create_unit(
            session=session,
            data={
                "code": code,
                "name": f"单位{code}",
                "kind": kind,
                "tier": tier,
                "division_adcode": division,
                "parent_code": parent_code,
                "lon": lon,
                "lat": lat,
            },
        )


async def make_user(
    db: Database,
    username: str,
    *,
    roles: list[str],
    division: str | None = None,
    unit: str | None = None,
    password: str = PASSWORD,
    display_name: str | None = None,
) -> UserAccount:
    async with db.unit_of_work() as session:
        return await service.create_user(
            session=session,
            username=username,
            display_name=display_name,
            password=password,
            roles=roles,
            division_adcode=division,
            unit_code=unit,
        )


async def make_county_with_two_towns(db: Database) -> None:
    """县 331126 with towns A (331126101000) and B (331126102000), a unit and a user in each."""
    await make_division(db, "330000", name="浙江省", level="province")
    await make_division(
        db,
        "331126",
        name="庆元县",
        level="county",
        parent="330000",
        boundary=square(119.0, 27.5, 0.2),
    )
    await make_division(
        db, "331126101000", name="甲镇", parent="331126", boundary=square(119.0, 27.5, 0.1)
    )
    await make_division(
        db, "331126102000", name="乙镇", parent="331126", boundary=square(119.1, 27.5, 0.1)
    )
    await make_unit(db, "TA", division="331126101000", kind="town", lon=119.05, lat=27.55)
    await make_unit(db, "TB", division="331126102000", kind="town", lon=119.15, lat=27.55)
    await make_user(db, "admin", roles=["admin"])
    await make_user(db, "county", roles=["duty_officer"], division="331126")
    await make_user(db, "town_a", roles=["unit_liaison"], division="331126101000", unit="TA")
    await make_user(db, "town_b", roles=["unit_liaison"], division="331126102000", unit="TB")


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    """Sign in with the browser flow; returns the CSRF token for unsafe requests."""
    response = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    return token


async def bearer(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def report(external_id: str, text: str, **extra: object) -> dict[str, object]:
    """The body of a 119 call's report (``POST /api/v1/intake/reports``)."""
    return {"channel": "hotline_119", "external_id": external_id, "text": text, **extra}


async def counts(db: Database) -> tuple[int, int]:
    """How many reports and incidents are stored."""
    async with db.unit_of_work(readonly=True) as session:
        reports = await session.scalar(select(func.count()).select_from(Report))
        incidents = await session.scalar(select(func.count()).select_from(Incident))
    return int(reports or 0), int(incidents or 0)


async def deliver_events(db: Database) -> None:
    """Hand every event committed so far to the durable subscribers, as the relay does: the
    notifications a change sends (``notify.jobs``) are created then."""
    bus = Bus()
    install_jobs(bus, db)
    await bus.start(db, run_relay=False)
    try:
        for sub in bus.subscriptions:
            await bus.deliver_durable(sub)
    finally:
        await bus.stop()
