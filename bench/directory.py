"""A generated province-sized directory for the warning benchmarks: divisions (province → cities →
counties → towns → villages, each a rectangle of the one above), linkage units (two departments
per county, one unit per town and per village), ``people`` people spread over the units (the first
of each unit its leader), an account for every person (in-app reachable) and their contact points,
plus the province's desk (an officer who drafts and publishes, a commander who reviews and signs,
a duty leader for 叫应 escalation).

Everything is written with Core bulk inserts (``insert(table)`` with a list of rows, a few
thousand per statement), never ORM objects one by one.

    .venv/bin/python -m bench.directory --database-url postgresql+asyncpg://…/h19_bench_dir \\
        --people 100000

The database must be migrated (``yingji db upgrade``) and hold the reference data.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock, security
from yingji.core.db import Database
from yingji.core.ids import new_id
from yingji.core.security import Role
from yingji.notify.models import ContactPoint
from yingji.org.models import Division, LinkageUnit, Person, UserAccount

PROVINCE = "330000"
PROVINCE_NAME = "浙江省"
#: the province's rectangle (WGS-84): roughly Zhejiang
Box = tuple[float, float, float, float]
BOUNDS: Box = (118.0, 27.0, 123.0, 31.2)
PEOPLE_PER_VILLAGE = 6
VILLAGES_PER_TOWN = 15
TOWNS_PER_COUNTY = 12
COUNTIES_PER_CITY = 9
MAX_CITIES = 11
DEPARTMENTS = (("water", "水利局"), ("emergency", "应急管理局"))
CHUNK = 5000
PASSWORD = "bench-password-19"  # noqa: S105 - every generated account (a scratch database)
#: the province desk's accounts: (username, role)
DESK = (
    ("bench_officer", Role.DUTY_OFFICER),
    ("bench_commander", Role.COMMANDER),
    ("bench_leader", Role.DUTY_LEADER),
)
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国海燕红梅玉兰志强"


@dataclass(frozen=True)
class Shape:
    """How many divisions of each level a directory of ``people`` people has."""

    people: int
    cities: int
    counties: int
    towns: int
    villages: int

    @classmethod
    def for_people(cls, people: int) -> Shape:
        if people < 1:
            raise ValueError("a directory needs at least one person")
        villages = max(1, people // PEOPLE_PER_VILLAGE)
        towns = max(1, math.ceil(villages / VILLAGES_PER_TOWN))
        counties = max(1, math.ceil(towns / TOWNS_PER_COUNTY))
        cities = max(1, min(MAX_CITIES, math.ceil(counties / COUNTIES_PER_CITY)))
        return cls(people, cities, counties, towns, villages)

    @property
    def units(self) -> int:
        return self.counties * len(DEPARTMENTS) + self.towns + self.villages


@dataclass
class Directory:
    """What was generated: counts, the province's code and the desk's user names."""

    shape: Shape
    province: str
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    town_adcodes: list[str] = field(default_factory=list)
    desk: dict[str, str] = field(default_factory=dict)  # role -> username

    @property
    def rows_per_second(self) -> float:
        return sum(self.rows.values()) / self.seconds if self.seconds else 0.0


def _split(bounds: Box, n: int) -> list[Box]:
    """``n`` rectangles tiling ``bounds`` (a grid, row by row)."""
    min_lon, min_lat, max_lon, max_lat = bounds
    columns = max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / columns))
    width, height = (max_lon - min_lon) / columns, (max_lat - min_lat) / rows
    return [
        (
            min_lon + (i % columns) * width,
            min_lat + (i // columns) * height,
            min_lon + (i % columns + 1) * width,
            min_lat + (i // columns + 1) * height,
        )
        for i in range(n)
    ]


def _spread(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal counts (the first ones one larger)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _name(i: int) -> str:
    return SURNAMES[i % len(SURNAMES)] + GIVEN[(i // len(SURNAMES)) % len(GIVEN)] + str(i % 97)


def mobile_of(i: int) -> str:
    """The generated mobile number of person ``i`` (distinct for every i < 10**8)."""
    return f"139{i:08d}"


class _Writer:
    """Collects rows per table and writes them in Core bulk inserts of ``CHUNK`` rows."""

    def __init__(self, session: AsyncSession, directory: Directory) -> None:
        self.session, self.directory = session, directory
        self.pending: dict[Any, list[dict[str, Any]]] = {}

    async def add(self, table: Any, row: dict[str, Any]) -> None:
        batch = self.pending.setdefault(table, [])
        batch.append(row)
        if len(batch) >= CHUNK:
            await self.flush()  # every table, parents first (foreign keys are not deferred)

    async def flush(self, table: Any | None = None) -> None:
        for each in [table] if table is not None else list(self.pending):
            batch = self.pending.get(each) or []
            if batch:
                await self.session.execute(insert(each), batch)
                name = each.__tablename__
                self.directory.rows[name] = self.directory.rows.get(name, 0) + len(batch)
            self.pending[each] = []


def _division(
    adcode: str, name: str, level: str, parent: str | None, path: str, box: Box
) -> dict[str, Any]:
    min_lon, min_lat, max_lon, max_lat = box
    now = clock.now()
    ring = [
        [min_lon, min_lat],
        [max_lon, min_lat],
        [max_lon, max_lat],
        [min_lon, max_lat],
        [min_lon, min_lat],
    ]
    return {
        "adcode": adcode,
        "name": name,
        "level": level,
        "parent_adcode": parent,
        "path": path,
        "centroid_lon": (min_lon + max_lon) / 2,
        "centroid_lat": (min_lat + max_lat) / 2,
        "boundary": {"type": "Polygon", "coordinates": [ring]},
        "min_lon": min_lon,
        "min_lat": min_lat,
        "max_lon": max_lon,
        "max_lat": max_lat,
        "created_at": now,
        "updated_at": now,
    }


@dataclass(frozen=True)
class _Unit:
    id: uuid.UUID
    division: str
    path: str
    kind: str
    lon: float
    lat: float
    parent: uuid.UUID | None  # the unit above (a village's town, a town's emergency bureau)


def _tree(shape: Shape) -> Iterator[tuple[dict[str, Any], list[_Unit]]]:
    """Every division (parents first) with the units serving it."""
    root_path = f"{PROVINCE}/"
    yield _division(PROVINCE, PROVINCE_NAME, "province", None, root_path, BOUNDS), []
    counties_of_city = _spread(shape.counties, shape.cities)
    towns_of_county = _spread(shape.towns, shape.counties)
    villages_of_town = _spread(shape.villages, shape.towns)
    county_no = town_no = 0
    for c, city_box in enumerate(_split(BOUNDS, shape.cities), start=1):
        city = f"33{c:02d}00"
        city_path = f"{root_path}{city}/"
        yield _division(city, f"第{c}市", "city", PROVINCE, city_path, city_box), []
        for k, county_box in enumerate(_split(city_box, counties_of_city[c - 1]), start=1):
            county = f"33{c:02d}{k:02d}"
            county_path = f"{city_path}{county}/"
            lon, lat = (county_box[0] + county_box[2]) / 2, (county_box[1] + county_box[3]) / 2
            departments = [
                _Unit(new_id(), county, county_path, "department", lon, lat, None)
                for _ in DEPARTMENTS
            ]
            emergency = departments[-1].id
            yield (
                _division(county, f"第{c}市第{k}县", "county", city, county_path, county_box),
                departments,
            )
            towns = towns_of_county[county_no]
            county_no += 1
            for t, town_box in enumerate(_split(county_box, towns), start=1):
                town = f"{county}{t:03d}000"
                town_path = f"{county_path}{town}/"
                tlon, tlat = (town_box[0] + town_box[2]) / 2, (town_box[1] + town_box[3]) / 2
                town_unit = _Unit(new_id(), town, town_path, "town", tlon, tlat, emergency)
                yield (
                    _division(town, f"第{t}镇", "town", county, town_path, town_box),
                    [town_unit],
                )
                villages = villages_of_town[town_no]
                town_no += 1
                for v, village_box in enumerate(_split(town_box, villages), start=1):
                    village = f"{town[:9]}{v:03d}"
                    path = f"{town_path}{village}/"
                    vlon = (village_box[0] + village_box[2]) / 2
                    vlat = (village_box[1] + village_box[3]) / 2
                    yield (
                        _division(village, f"第{v}村", "village", town, path, village_box),
                        [_Unit(new_id(), village, path, "village", vlon, vlat, town_unit.id)],
                    )


async def generate(
    db: Database,
    people: int,
    *,
    contacts: Sequence[str] = ("sms",),
    accounts: bool = True,
    mobiles: bool = True,
) -> Directory:
    """Write a directory of ``people`` people into ``db`` (one unit of work) and say what it holds.

    ``contacts``: the contact points each person gets, in their order of preference (``sms`` and
    ``voice`` at their mobile, ``email`` at a generated address). ``accounts``: every person also
    gets a user account (field worker of their unit), so the in-app channel reaches them.
    ``mobiles``: every person has a mobile number on their record (publication adds SMS and voice
    at it after their contact points); without one and without contact points, a person's first
    channel is the app.
    """
    shape = Shape.for_people(people)
    directory = Directory(shape=shape, province=PROVINCE)
    started = time.perf_counter()
    password_hash = await security.hash_password(PASSWORD)
    now = clock.now()
    units: list[_Unit] = []
    async with db.unit_of_work() as session:
        writer = _Writer(session, directory)
        for division, served in _tree(shape):
            await writer.add(Division, division)
            if division["level"] == "town":
                directory.town_adcodes.append(division["adcode"])
            units.extend(served)
        await writer.flush(Division)
        for n, unit in enumerate(units):
            kind_name = {"department": "局", "town": "镇政府", "village": "村委会"}[unit.kind]
            await writer.add(
                LinkageUnit,
                {
                    "id": unit.id,
                    "code": f"B{n:07d}",
                    "name": f"{unit.division}{kind_name}{n}",
                    "kind": unit.kind,
                    "tier": 1 if unit.kind == "department" else 2,
                    "division_adcode": unit.division,
                    "division_path": unit.path,
                    "parent_id": unit.parent,
                    "phone": f"0571-{n:08d}",
                    "lon": unit.lon,
                    "lat": unit.lat,
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                },
            )
        await writer.flush(LinkageUnit)
        for i in range(people):
            unit = units[i % len(units)]
            person_id = new_id()
            leader = i < len(units)
            await writer.add(
                Person,
                {
                    "id": person_id,
                    "unit_id": unit.id,
                    "name": _name(i),
                    "position": "负责人" if leader else "工作人员",
                    "mobile": mobile_of(i) if mobiles else None,
                    "office_phone": None,
                    "is_leader": leader,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            for priority, channel in enumerate(contacts):
                address = mobile_of(i) if channel in ("sms", "voice") else f"p{i}@bench.example"
                await writer.add(
                    ContactPoint,
                    {
                        "id": new_id(),
                        "person_id": person_id,
                        "channel": channel,
                        "address": address,
                        "priority": priority,
                        "created_at": now,
                    },
                )
            if accounts:
                await writer.add(
                    UserAccount,
                    {
                        "id": new_id(),
                        "username": f"p{i:07d}",
                        "username_key": f"p{i:07d}",
                        "display_name": _name(i),
                        "password_hash": password_hash,
                        "roles": [Role.FIELD_WORKER.value],
                        "division_adcode": unit.division,
                        "unit_id": unit.id,
                        "person_id": person_id,
                        "active": True,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
        await writer.flush()
        for username, role in DESK:
            desk_person = new_id()
            await writer.add(
                Person,
                {
                    "id": desk_person,
                    "unit_id": units[0].id,
                    "name": username,
                    "position": role.value,
                    "mobile": None,
                    "office_phone": None,
                    "is_leader": False,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            await writer.flush(Person)
            await writer.add(
                UserAccount,
                {
                    "id": new_id(),
                    "username": username,
                    "username_key": username,
                    "display_name": username,
                    "password_hash": password_hash,
                    "roles": [role.value],
                    "division_adcode": PROVINCE,
                    "unit_id": None,
                    "person_id": desk_person,
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            directory.desk[role.value] = username
        await writer.flush()
    directory.seconds = time.perf_counter() - started
    return directory


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.directory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database-url", required=True, help="a migrated database")
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--contacts", default="sms", help="comma-separated channels, in order")
    parser.add_argument("--no-mobiles", action="store_true", help="people without a mobile")
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace) -> Directory:
    db = Database(args.database_url)
    try:
        contacts = [c for c in args.contacts.split(",") if c]
        return await generate(db, args.people, contacts=contacts, mobiles=not args.no_mobiles)
    finally:
        await db.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    made = asyncio.run(_main(parse_args(argv)))
    print(  # noqa: T201
        f"directory: {made.shape.people} people, {made.shape.villages} villages, "
        f"{made.shape.towns} towns, {made.shape.counties} counties, {made.shape.cities} cities; "
        f"{sum(made.rows.values())} rows in {made.seconds:.1f} s "
        f"({made.rows_per_second:,.0f} rows/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
