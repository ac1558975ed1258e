"""A county with a roster: the emergency bureau's people, a county duty leader who manages the
roster, desk accounts linked to people, and helpers that set positions, a pattern and a month."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.factories import bearer, make_county_with_two_towns, make_unit, make_user
from yingji.core.db import Database
from yingji.org import service as org

API = "/api/v1/duty"
COUNTY = "331126"
TOWN_A = "331126101000"
TOWN_B = "331126102000"


@dataclass
class County:
    people: dict[str, uuid.UUID] = field(default_factory=dict)
    users: dict[str, uuid.UUID] = field(default_factory=dict)


async def make_person(db: Database, unit_code: str, name: str) -> uuid.UUID:
    async with db.unit_of_work() as session:
        unit = await org.get_unit_by_code(session=session, code=unit_code)
        assert unit is not None
        person = await org.create_person(session=session, data={"unit_id": unit.id, "name": name})
        return person.id


async def link(db: Database, username: str, person_id: uuid.UUID) -> uuid.UUID:
    async with db.unit_of_work() as session:
        user = await org.get_user_by_username(session=session, username=username)
        assert user is not None
        await org.link_user_to_person(session=session, user_id=user.id, person_id=person_id)
        return user.id


async def make_county(db: Database) -> County:
    """庆元县 with towns A and B; the bureau EM with leaders 甲 乙, chiefs 丙 丁, officers 戊 己;
    accounts: ``manager`` (county duty leader, on the roster as 甲), ``officer`` (the county
    duty officer, 戊), ``desk`` (a duty officer on no shift), ``leader_a`` (town A's duty
    leader), ``viewer`` (county viewer)."""
    await make_county_with_two_towns(db)
    return await add_duty_people(db)


async def add_duty_people(db: Database) -> County:
    """The bureau, its people and the duty accounts of :func:`make_county`, in a county that
    ``make_county_with_two_towns`` already made."""
    await make_unit(db, "EM", division=COUNTY, kind="department")
    county = County()
    for key, name in (
        ("L1", "甲"),
        ("L2", "乙"),
        ("C1", "丙"),
        ("C2", "丁"),
        ("O1", "戊"),
        ("O2", "己"),
    ):
        county.people[key] = await make_person(db, "EM", name)
    county.people["TA1"] = await make_person(db, "TA", "庚")
    await make_user(db, "manager", roles=["duty_leader"], division=COUNTY)
    await make_user(db, "other_leader", roles=["duty_leader"], division=COUNTY)
    await make_user(db, "desk", roles=["duty_officer"], division=COUNTY)
    await make_user(db, "leader_a", roles=["duty_leader"], division=TOWN_A)
    await make_user(db, "viewer", roles=["viewer"], division=COUNTY)
    county.users["manager"] = await link(db, "manager", county.people["L1"])
    county.users["officer"] = await link(db, "county", county.people["O1"])
    return county


POSITIONS = [
    {"position": "leader"},
    {"position": "chief"},
    {"position": "officer"},
    {"position": "professional", "label": "水利"},
]


async def set_positions(
    client: httpx.AsyncClient, headers: dict[str, str], division: str = COUNTY
) -> httpx.Response:
    return await client.put(
        f"{API}/positions",
        params={"division": division},
        headers=headers,
        json={"positions": POSITIONS},
    )


async def day_night(
    client: httpx.AsyncClient, headers: dict[str, str], division: str = COUNTY
) -> str:
    answer = await client.post(
        f"{API}/patterns",
        headers=headers,
        json={
            "division_adcode": division,
            "name": "白夜班",
            "kind": "day_night",
            "shifts": [
                {"code": "day", "start": "08:00", "hours": 12},
                {"code": "night", "start": "20:00", "hours": 12},
            ],
            "min_rest_hours": 8,
        },
    )
    assert answer.status_code == 201, answer.text
    pattern_id: str = answer.json()["id"]
    return pattern_id


def rotations(county: County, **seats: list[str]) -> list[dict[str, Any]]:
    """``leader=["L1", "L2"]`` → the leader seat's rotation, people by key."""
    found = []
    for name, keys in seats.items():
        position, _, label = name.partition("_")
        found.append(
            {
                "position": position,
                "label": {"water": "水利"}.get(label, label),
                "people": [str(county.people[k]) for k in keys],
            }
        )
    return found


async def roster_month(
    client: httpx.AsyncClient,
    county: County,
    month: str = "2026-08",
    **seats: list[str],
) -> httpx.Response:
    manager = await bearer(client, "manager")
    assert (await set_positions(client, manager)).status_code == 200
    pattern = await day_night(client, manager)
    return await client.post(
        f"{API}/roster/generate",
        headers=manager,
        json={
            "division_adcode": COUNTY,
            "month": month,
            "pattern_id": pattern,
            "rotations": rotations(county, **seats),
        },
    )
