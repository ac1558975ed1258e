"""Loading the demo jurisdiction (庆元县) into the database, once."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit, clock, events, security
from yingji.core.events import EventScope
from yingji.core.ids import new_id
from yingji.org import demo_data, service
from yingji.org.models import DIVISION_LEVELS, Division, LinkageUnit, Person, UserAccount

DEMO_SEED = 20190320
DEMO_COUNTY = "331126"


@dataclass(frozen=True)
class DemoAccount:
    """A demo login as the people trying the demo read it: the part it plays and for whom."""

    username: str
    password: str
    part_zh: str
    part_en: str
    serves: str  # the unit's name, else the division's, else "全部 all"


@dataclass
class SeedReport:
    already: bool = False
    divisions: int = 0
    units: int = 0
    people: int = 0
    users: list[demo_data.UserSeed] = field(default_factory=list)
    accounts: list[DemoAccount] = field(default_factory=list)


def demo_accounts(demo: demo_data.DemoJurisdiction) -> list[DemoAccount]:
    """Each demo login with its part (in Chinese and English) and the unit or area it serves."""
    units = {u.code: u.name for u in demo.units}
    divisions = {d.adcode: d.name for d in demo.divisions}
    accounts = []
    for user in demo.users:
        zh, en = demo_data.ROLE_PARTS[user.roles[0]]
        if user.unit_code:
            serves = units[user.unit_code]
        elif user.division_adcode:
            serves = divisions[user.division_adcode]
        else:
            serves = "全部 all"
        accounts.append(DemoAccount(user.username, user.password, zh, en, serves))
    return accounts


async def demo_sign_in(*, session: AsyncSession) -> tuple[str, str] | None:
    """The demo's front-desk account and its password, while that account is there, active and
    still has the demo's published password; else None (never a hint to a changed password)."""
    user = await service.get_user_by_username(session=session, username=demo_data.FRONT_DESK_USER)
    if user is None or not user.active:
        return None
    if not await security.verify_password(user.password_hash, demo_data.DEMO_PASSWORD):
        return None
    return user.username, demo_data.DEMO_PASSWORD


async def seed_demo(*, session: AsyncSession, seed: int = DEMO_SEED) -> SeedReport:
    """Write the demo jurisdiction; a second run changes nothing."""
    demo = demo_data.build_demo(seed)
    report = SeedReport(users=list(demo.users), accounts=demo_accounts(demo))
    if await session.get(Division, DEMO_COUNTY) is not None:
        report.already = True
        return report
    now = clock.now()
    paths: dict[str, str] = {}
    boundaries = service.BoundaryBook()  # the API's boundary check, on the whole tree at once
    for d in sorted(demo.divisions, key=lambda d: DIVISION_LEVELS.index(d.level)):
        path = f"{paths[d.parent_adcode] if d.parent_adcode else ''}{d.adcode}/"
        paths[d.adcode] = path
        division = Division(
            adcode=d.adcode,
            name=d.name,
            level=d.level,
            parent_adcode=d.parent_adcode,
            path=path,
            created_at=now,
            updated_at=now,
        )
        if d.boundary is not None:
            boundary, bounds, inside = service.normalise_boundary(d.boundary)
            boundaries.add(adcode=d.adcode, parent_adcode=d.parent_adcode, boundary=boundary)
            division.boundary = boundary
            division.min_lon, division.min_lat, division.max_lon, division.max_lat = bounds
            division.centroid_lon, division.centroid_lat = d.centroid or inside
        elif d.centroid is not None:
            division.centroid_lon, division.centroid_lat = d.centroid
        session.add(division)
        report.divisions += 1
    await session.flush()

    unit_ids: dict[str, LinkageUnit] = {}
    for u in demo.units:
        unit = LinkageUnit(
            id=new_id(),
            code=u.code,
            name=u.name,
            kind=u.kind,
            tier=u.tier,
            division_adcode=u.division_adcode,
            division_path=paths[u.division_adcode],
            parent_id=unit_ids[u.parent_code].id if u.parent_code else None,
            phone=u.phone,
            address=u.address,
            lon=u.lon,
            lat=u.lat,
            active=True,
            created_at=now,
            updated_at=now,
        )
        session.add(unit)
        unit_ids[u.code] = unit
    await session.flush()
    report.units = len(unit_ids)

    for p in demo.people:
        session.add(
            Person(
                unit_id=unit_ids[p.unit_code].id,
                name=p.name,
                position=p.position,
                mobile=p.mobile,
                office_phone=p.office_phone,
                is_leader=p.is_leader,
                created_at=now,
                updated_at=now,
            )
        )
        report.people += 1
    for user in demo.users:
        session.add(
            UserAccount(
                username=user.username,
                display_name=user.display_name,
                password_hash=await security.hash_password(user.password),
                roles=list(user.roles),
                division_adcode=user.division_adcode,
                unit_id=unit_ids[user.unit_code].id if user.unit_code else None,
                active=True,
                created_at=now,
                updated_at=now,
            )
        )
    await session.flush()

    summary = {
        "seed": seed,
        "divisions": report.divisions,
        "units": report.units,
        "people": report.people,
        "users": [u.username for u in demo.users],
    }
    await audit.record(
        session,
        action="org.demo_seeded",
        subject_type="division",
        subject_id=DEMO_COUNTY,
        area=paths[DEMO_COUNTY],
        after=summary,
    )
    await events.emit(
        session,
        type="org.demo_seeded",
        subject_type="division",
        subject_id=DEMO_COUNTY,
        payload=summary,
        scope=EventScope(division_path=paths[DEMO_COUNTY]),
    )
    return report


def demo_places(seed: int = DEMO_SEED) -> list[dict[str, object]]:
    """Named places for the gazetteer: each town's school and clinic, some village halls."""
    places: list[dict[str, object]] = []
    for d in demo_data.build_demo(seed).divisions:
        if d.centroid is None:
            continue
        lon, lat = d.centroid
        short = d.name.removesuffix("街道").removesuffix("镇").removesuffix("乡")
        if d.level == "town":
            places.append(
                {
                    "name": f"{short}中心学校",
                    "kind": "school",
                    "division_adcode": d.adcode,
                    "lon": round(lon + 0.002, 6),
                    "lat": round(lat + 0.001, 6),
                }
            )
            places.append(
                {
                    "name": f"{short}卫生院",
                    "kind": "clinic",
                    "division_adcode": d.adcode,
                    "lon": round(lon - 0.002, 6),
                    "lat": round(lat - 0.001, 6),
                }
            )
        elif d.level == "village" and int(d.adcode[-3:]) % 4 == 0:
            places.append(
                {
                    "name": f"{d.name}文化礼堂",
                    "kind": "village_hall",
                    "division_adcode": d.adcode,
                    "lon": lon,
                    "lat": lat,
                }
            )
    return places
