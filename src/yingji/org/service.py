"""Queries and single-entity commands of the organisation domain. Flushes, never commits.

Every query that returns rows takes the principal's :class:`~yingji.core.security.Scope` and
applies it in SQL: a row outside the scope is "not found", exactly as a row that does not exist.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    Table,
    bindparam,
    delete,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock, geo, security
from yingji.core.db import InsertUnlessTaken, rows_affected
from yingji.core.errors import Conflict, NotFound, ValidationFailed
from yingji.core.security import Principal, Role, Scope
from yingji.org.models import (
    DIVISION_LEVELS,
    AuthSession,
    Division,
    LoginThrottle,
    Person,
    UserAccount,
    username_key,
)
from yingji.org.models import LinkageUnit as LinkageUnit  # other domains name the type

# --- divisions -----------------------------------------------------------------------------------


def division_query(scope: Scope) -> Select[Division]:
    return select(Division).where(scope.area_clause(Division.path))


async def get_division(
    *, session: AsyncSession, adcode: str, scope: Scope = security.SYSTEM.scope
) -> Division | None:
    return await session.scalar(division_query(scope).where(Division.adcode == adcode))


async def get_division_or_raise(
    *, session: AsyncSession, adcode: str, scope: Scope = security.SYSTEM.scope
) -> Division:
    division = await get_division(session=session, adcode=adcode, scope=scope)
    if division is None:
        raise NotFound("division_not_found", f"no division {adcode}", {"adcode": adcode})
    return division


async def get_division_by_path(
    *, session: AsyncSession, path: str, scope: Scope = security.SYSTEM.scope
) -> Division | None:
    """The division whose path (``330000/331126/…/``) is ``path``, if the scope covers it."""
    return await session.scalar(division_query(scope).where(Division.path == path))


async def list_divisions(
    *,
    session: AsyncSession,
    scope: Scope,
    parent_adcode: str | None = None,
    level: str | None = None,
    q: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[Division], int]:
    stmt = division_query(scope)
    if parent_adcode:
        stmt = stmt.where(Division.parent_adcode == parent_adcode)
    if level:
        stmt = stmt.where(Division.level == level)
    if q:
        stmt = stmt.where(Division.name.contains(q, autoescape=True))
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = (await session.scalars(stmt.order_by(Division.adcode).offset(offset).limit(limit))).all()
    return list(rows), total


class PlaceName(NamedTuple):
    """A division as a gazetteer reads it: its name, code, level, centroid and parent."""

    name: str
    adcode: str
    level: str
    lon: float | None
    lat: float | None
    parent_adcode: str | None


async def division_place_names(*, session: AsyncSession) -> list[PlaceName]:
    """Every division as a gazetteer reads it (only the columns it needs)."""
    rows = await session.execute(
        select(
            Division.name,
            Division.adcode,
            Division.level,
            Division.centroid_lon,
            Division.centroid_lat,
            Division.parent_adcode,
        )
    )
    return [PlaceName(*row) for row in rows]


def divisions_version() -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """How many divisions there are and when one was last edited, as two scalar subqueries:
    another domain reads them in its own one query to see whether its cache is stale."""
    return (
        select(func.count()).select_from(Division).scalar_subquery(),
        select(func.max(Division.updated_at)).scalar_subquery(),
    )


async def path_of_division(*, session: AsyncSession, adcode: str) -> str | None:
    """The path of the division ``adcode`` (a division's path never changes), if it exists."""
    path: str | None = await session.scalar(select(Division.path).where(Division.adcode == adcode))
    return path


def normalise_boundary(
    boundary: dict[str, Any],
) -> tuple[dict[str, Any], tuple[float, ...], tuple[float, float]]:
    """Check a GeoJSON area; return it (made valid), its bounding box and an inside point."""
    try:
        shape = geo.geometry(boundary)
    except Exception as exc:
        raise ValidationFailed("invalid_geometry", f"boundary is not GeoJSON: {exc}") from exc
    if shape.geom_type not in ("Polygon", "MultiPolygon") or shape.is_empty:
        raise ValidationFailed("invalid_geometry", "boundary must be a Polygon or MultiPolygon")
    min_lon, min_lat, max_lon, max_lat = shape.bounds
    if not (geo.in_china(min_lon, min_lat) and geo.in_china(max_lon, max_lat)):
        raise ValidationFailed(
            "coordinates_out_of_range",
            "boundary lies outside China's bounding box (lon/lat order?)",
        )
    if not shape.is_valid:
        shape = shape.buffer(0)
    inside = shape.centroid if shape.contains(shape.centroid) else shape.representative_point()
    return dict(mapping(shape)), shape.bounds, (inside.x, inside.y)


def division_path(parent: Division | None, adcode: str) -> str:
    return f"{parent.path if parent else ''}{adcode}/"


# --- where a boundary may lie --------------------------------------------------------------------
#
# Placement takes the deepest division covering a point, so a boundary drawn over land that is not
# its own would take that land's reports. A boundary therefore lies within the boundary of its
# nearest bounded ancestor and does not reach into a sibling's, and a redrawn boundary still holds
# its children. The tolerance is a distance, not a share of the area: borders digitised from
# different sources disagree by a few metres along their whole length, which a distance absorbs
# however large the division is, while a share (say 1 % of a town) would let a long narrow finger
# reach hundreds of metres into a neighbour.

#: How far (metres) a boundary may stray past its parent's or into a sibling's.
BOUNDARY_TOLERANCE_M = 10.0
#: Areas (m²) below this are rounding noise (coordinates carry 6 decimals, about 0.1 m).
_NOISE_M2 = 1.0


@dataclass(frozen=True)
class Outline:
    """A division's boundary as a shape, with its adcode (for the error's details)."""

    adcode: str
    shape: BaseGeometry


class _MetreFrame:
    """A local plane in metres around a point: enough to measure strays of a few metres."""

    def __init__(self, lon0: float, lat0: float) -> None:
        self.origin = np.array([lon0, lat0])
        self.scale = np.array([111_320.0 * math.cos(math.radians(lat0)), 110_574.0])

    def __call__(self, shape: BaseGeometry) -> BaseGeometry:
        return shapely.transform(shape, lambda xy: (xy - self.origin) * self.scale)


def _stray_beyond(part: BaseGeometry, limit: BaseGeometry) -> bool:
    """Whether ``part`` (metres) holds more than noise outside ``limit`` (metres)."""
    return bool(part.difference(limit).area > _NOISE_M2)


def check_boundary(
    shape: BaseGeometry,
    *,
    parent: Outline | None,
    siblings: list[Outline],
    children: list[Outline],
    tolerance_m: float = BOUNDARY_TOLERANCE_M,
) -> None:
    """Refuse ``shape`` (lon/lat) when it strays more than ``tolerance_m`` outside ``parent``,
    reaches more than that into a sibling, or leaves a child more than that outside itself.

    Pure: the API, the importers and the demo seed all call it (see :func:`check_division_boundary`
    for the database side)."""
    centre = shape.centroid
    frame = _MetreFrame(centre.x, centre.y)
    mine = frame(shape)
    if parent is not None:
        theirs = frame(parent.shape)
        if _stray_beyond(mine, theirs) and _stray_beyond(mine, theirs.buffer(tolerance_m)):
            raise ValidationFailed(
                "boundary_outside_parent",
                f"the boundary reaches more than {tolerance_m:g} m outside the boundary of "
                f"{parent.adcode}",
                {"parent_adcode": parent.adcode, "tolerance_m": tolerance_m},
            )
    for sibling in siblings:
        theirs = frame(sibling.shape)
        if not _bounds_meet(mine.bounds, theirs.bounds):
            continue
        overlap = mine.intersection(theirs)
        if overlap.area > _NOISE_M2 and overlap.intersection(theirs.buffer(-tolerance_m)).area > (
            _NOISE_M2
        ):
            raise ValidationFailed(
                "boundary_overlaps_sibling",
                f"the boundary reaches more than {tolerance_m:g} m into {sibling.adcode}",
                {"sibling_adcode": sibling.adcode, "tolerance_m": tolerance_m},
            )
    if children:
        held = mine.buffer(tolerance_m)
        for child in children:
            theirs = frame(child.shape)
            if _stray_beyond(theirs, mine) and _stray_beyond(theirs, held):
                raise ValidationFailed(
                    "boundary_excludes_child",
                    f"the boundary leaves {child.adcode} more than {tolerance_m:g} m outside",
                    {"child_adcode": child.adcode, "tolerance_m": tolerance_m},
                )


def _bounds_meet(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _outline(division: Division) -> Outline:
    return Outline(division.adcode, geo.geometry(division.boundary or {}))


async def bounded_ancestor(*, session: AsyncSession, adcode: str | None) -> Division | None:
    """``adcode`` itself or its nearest ancestor that has a boundary."""
    seen: set[str] = set()
    while adcode and adcode not in seen:
        seen.add(adcode)
        division = await session.get(Division, adcode)
        if division is None:
            return None
        if division.boundary is not None:
            return division
        adcode = division.parent_adcode
    return None


async def boundary_children(*, session: AsyncSession, adcode: str) -> list[Outline]:
    rows = await session.scalars(
        select(Division).where(Division.parent_adcode == adcode, Division.boundary.is_not(None))
    )
    return [_outline(d) for d in rows.all()]


async def check_division_boundary(
    *,
    session: AsyncSession,
    adcode: str,
    parent_adcode: str | None,
    shape: BaseGeometry,
    with_children: bool = True,
) -> None:
    """:func:`check_boundary` against what the database holds: the nearest bounded ancestor,
    the siblings whose boxes meet this one, and (unless the caller checks them later, as an
    import that redraws a parent and its children does) the children."""
    container = await bounded_ancestor(session=session, adcode=parent_adcode)
    min_lon, min_lat, max_lon, max_lat = shape.bounds  # only a sibling whose box meets it
    siblings = await session.scalars(
        select(Division).where(
            Division.parent_adcode == parent_adcode
            if parent_adcode
            else Division.parent_adcode.is_(None),
            Division.adcode != adcode,
            Division.boundary.is_not(None),
            Division.min_lon <= max_lon,
            Division.max_lon >= min_lon,
            Division.min_lat <= max_lat,
            Division.max_lat >= min_lat,
        )
    )
    check_boundary(
        shape,
        parent=_outline(container) if container is not None else None,
        siblings=[_outline(d) for d in siblings.all()],
        children=await boundary_children(session=session, adcode=adcode) if with_children else [],
    )


async def check_children_held(*, session: AsyncSession, division: Division) -> None:
    """Refuse when ``division``'s boundary leaves one of its children outside."""
    if division.boundary is None:
        return
    check_boundary(
        geo.geometry(division.boundary),
        parent=None,
        siblings=[],
        children=await boundary_children(session=session, adcode=division.adcode),
    )


class BoundaryBook:
    """The same check for divisions written in bulk from memory (the demo seed), parents
    before children: each boundary against its nearest bounded ancestor and the siblings
    written before it."""

    def __init__(self) -> None:
        self._outlines: dict[str, Outline] = {}
        self._parents: dict[str, str | None] = {}

    def add(
        self, *, adcode: str, parent_adcode: str | None, boundary: dict[str, Any] | None
    ) -> None:
        self._parents[adcode] = parent_adcode
        if boundary is None:
            return
        shape = geo.geometry(boundary)
        container = None
        ancestor = parent_adcode
        while ancestor is not None and container is None:
            container = self._outlines.get(ancestor)
            ancestor = self._parents.get(ancestor)
        siblings = [
            outline
            for other, outline in self._outlines.items()
            if self._parents[other] == parent_adcode
            and _bounds_meet(shape.bounds, outline.shape.bounds)
        ]
        check_boundary(shape, parent=container, siblings=siblings, children=[])
        self._outlines[adcode] = Outline(adcode, shape)


async def create_division(*, session: AsyncSession, data: dict[str, Any]) -> Division:
    if data["level"] not in DIVISION_LEVELS:
        raise ValidationFailed("invalid_level", f"level must be one of {DIVISION_LEVELS}")
    if await session.get(Division, data["adcode"]) is not None:
        raise Conflict(
            "division_exists", f"division {data['adcode']} exists", {"adcode": data["adcode"]}
        )
    parent = None
    if data.get("parent_adcode"):
        parent = await session.get(Division, data["parent_adcode"])
        if parent is None:
            raise ValidationFailed(
                "parent_not_found", f"no parent division {data['parent_adcode']}"
            )
        if DIVISION_LEVELS.index(data["level"]) <= DIVISION_LEVELS.index(parent.level):
            raise ValidationFailed(
                "invalid_level", f"a {data['level']} cannot sit under a {parent.level}"
            )
    now = clock.now()
    division = Division(
        adcode=data["adcode"],
        name=data["name"],
        level=data["level"],
        parent_adcode=parent.adcode if parent else None,
        path=division_path(parent, data["adcode"]),
        created_at=now,
        updated_at=now,
    )
    await _apply_division_geometry(session, division, data, with_children=False)
    session.add(division)
    await session.flush()
    return division


async def _apply_division_geometry(
    session: AsyncSession, division: Division, data: dict[str, Any], *, with_children: bool
) -> None:
    if data.get("boundary") is not None:
        boundary, bounds, inside = normalise_boundary(data["boundary"])
        await check_division_boundary(
            session=session,
            adcode=division.adcode,
            parent_adcode=division.parent_adcode,
            shape=geo.geometry(boundary),
            with_children=with_children,
        )
        division.boundary = boundary
        division.min_lon, division.min_lat, division.max_lon, division.max_lat = bounds
        division.centroid_lon, division.centroid_lat = inside
    if data.get("centroid_lon") is not None and data.get("centroid_lat") is not None:
        if not geo.in_china(data["centroid_lon"], data["centroid_lat"]):
            raise ValidationFailed("coordinates_out_of_range", "centroid lies outside China")
        division.centroid_lon, division.centroid_lat = data["centroid_lon"], data["centroid_lat"]


async def update_division(
    *, session: AsyncSession, division: Division, data: dict[str, Any], with_children: bool = True
) -> Division:
    """Rename or redraw; a new boundary is checked as a drawn one is (``with_children`` False
    leaves the children's check to the caller, see :func:`check_children_held`)."""
    if data.get("name"):
        division.name = data["name"]
    await _apply_division_geometry(session, division, data, with_children=with_children)
    division.updated_at = clock.now()
    await session.flush()
    return division


DIVISION_FIELDS = ("adcode", "name", "level", "parent_adcode", "centroid_lon", "centroid_lat")

# --- linkage units -------------------------------------------------------------------------------


def unit_query(scope: Scope) -> Select[LinkageUnit]:
    return select(LinkageUnit).where(scope.clause(LinkageUnit.division_path, LinkageUnit.id))


async def get_unit(
    *, session: AsyncSession, unit_id: uuid.UUID, scope: Scope = security.SYSTEM.scope
) -> LinkageUnit | None:
    return await session.scalar(unit_query(scope).where(LinkageUnit.id == unit_id))


async def get_unit_or_raise(
    *, session: AsyncSession, unit_id: uuid.UUID, scope: Scope = security.SYSTEM.scope
) -> LinkageUnit:
    unit = await get_unit(session=session, unit_id=unit_id, scope=scope)
    if unit is None:
        raise NotFound("unit_not_found", f"no linkage unit {unit_id}", {"unit_id": str(unit_id)})
    return unit


async def get_unit_by_code(
    *, session: AsyncSession, code: str, scope: Scope = security.SYSTEM.scope
) -> LinkageUnit | None:
    return await session.scalar(unit_query(scope).where(LinkageUnit.code == code))


async def list_units(
    *,
    session: AsyncSession,
    scope: Scope,
    division_adcode: str | None = None,
    tier: int | None = None,
    kind: str | None = None,
    q: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[LinkageUnit], int]:
    stmt = unit_query(scope)
    if division_adcode:
        division = await session.get(Division, division_adcode)
        if division is None:
            return [], 0
        stmt = stmt.where(LinkageUnit.division_path.startswith(division.path, autoescape=True))
    if tier:
        stmt = stmt.where(LinkageUnit.tier == tier)
    if kind:
        stmt = stmt.where(LinkageUnit.kind == kind)
    if q:
        stmt = stmt.where(
            LinkageUnit.name.contains(q, autoescape=True)
            | LinkageUnit.code.contains(q, autoescape=True)
        )
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = (
        await session.scalars(
            stmt.order_by(LinkageUnit.tier, LinkageUnit.code).offset(offset).limit(limit)
        )
    ).all()
    return list(rows), total


async def create_unit(*, session: AsyncSession, data: dict[str, Any]) -> LinkageUnit:
    if await session.scalar(select(LinkageUnit.id).where(LinkageUnit.code == data["code"])):
        raise Conflict(
            "unit_exists", f"a unit with code {data['code']} exists", {"code": data["code"]}
        )
    division = await session.get(Division, data["division_adcode"])
    if division is None:
        raise ValidationFailed("division_not_found", f"no division {data['division_adcode']}")
    parent_id = None
    if data.get("parent_code"):
        parent_id = await session.scalar(
            select(LinkageUnit.id).where(LinkageUnit.code == data["parent_code"])
        )
        if parent_id is None:
            raise ValidationFailed("parent_not_found", f"no parent unit {data['parent_code']}")
    _check_point(data.get("lon"), data.get("lat"))
    now = clock.now()
    unit = LinkageUnit(
        code=data["code"],
        name=data["name"],
        kind=data["kind"],
        tier=data["tier"],
        division_adcode=division.adcode,
        division_path=division.path,
        parent_id=parent_id,
        phone=data.get("phone"),
        address=data.get("address"),
        lon=data.get("lon"),
        lat=data.get("lat"),
        active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(unit)
    await session.flush()
    return unit


def _check_point(lon: float | None, lat: float | None) -> None:
    if (lon is None) != (lat is None):
        raise ValidationFailed("incomplete_point", "give both lon and lat, or neither")
    if lon is not None and lat is not None and not geo.in_china(lon, lat):
        raise ValidationFailed("coordinates_out_of_range", "the point lies outside China")


async def update_unit(
    *, session: AsyncSession, unit: LinkageUnit, data: dict[str, Any]
) -> LinkageUnit:
    if data.get("division_adcode"):
        division = await session.get(Division, data["division_adcode"])
        if division is None:
            raise ValidationFailed("division_not_found", f"no division {data['division_adcode']}")
        unit.division_adcode, unit.division_path = division.adcode, division.path
    if "lon" in data or "lat" in data:
        _check_point(data.get("lon", unit.lon), data.get("lat", unit.lat))
    for name in ("name", "kind", "tier", "phone", "address", "lon", "lat", "active"):
        if name in data and data[name] is not None:
            setattr(unit, name, data[name])
    unit.updated_at = clock.now()
    await session.flush()
    return unit


UNIT_FIELDS = (
    "code",
    "name",
    "kind",
    "tier",
    "division_adcode",
    "parent_id",
    "phone",
    "address",
    "lon",
    "lat",
    "active",
)

# --- people --------------------------------------------------------------------------------------


def person_query(scope: Scope) -> Select[Person]:
    return (
        select(Person)
        .join(LinkageUnit, LinkageUnit.id == Person.unit_id)
        .where(scope.clause(LinkageUnit.division_path, LinkageUnit.id))
    )


async def get_person_or_raise(
    *, session: AsyncSession, person_id: uuid.UUID, scope: Scope
) -> Person:
    person = await session.scalar(person_query(scope).where(Person.id == person_id))
    if person is None:
        raise NotFound("person_not_found", f"no person {person_id}")
    return person


async def list_people(
    *,
    session: AsyncSession,
    scope: Scope,
    unit_id: uuid.UUID | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[Person], int]:
    stmt = person_query(scope)
    if unit_id:
        stmt = stmt.where(Person.unit_id == unit_id)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = (
        await session.scalars(
            stmt.order_by(Person.unit_id, Person.is_leader.desc(), Person.name)
            .offset(offset)
            .limit(limit)
        )
    ).all()
    return list(rows), total


async def create_person(*, session: AsyncSession, data: dict[str, Any]) -> Person:
    now = clock.now()
    person = Person(
        unit_id=data["unit_id"],
        name=data["name"],
        position=data.get("position"),
        mobile=data.get("mobile"),
        office_phone=data.get("office_phone"),
        is_leader=bool(data.get("is_leader")),
        created_at=now,
        updated_at=now,
    )
    session.add(person)
    await session.flush()
    return person


async def update_person(*, session: AsyncSession, person: Person, data: dict[str, Any]) -> Person:
    for name in ("name", "position", "mobile", "office_phone", "is_leader"):
        if name in data and data[name] is not None:
            setattr(person, name, data[name])
    person.updated_at = clock.now()
    await session.flush()
    return person


PERSON_FIELDS = ("unit_id", "name", "position", "mobile", "office_phone", "is_leader")

# --- users ---------------------------------------------------------------------------------------


def user_query(scope: Scope) -> Select[UserAccount]:
    """Users an administrator may manage: those whose own scope lies inside theirs."""
    if scope.everything:
        return select(UserAccount)
    return (
        select(UserAccount)
        .outerjoin(Division, Division.adcode == UserAccount.division_adcode)
        .outerjoin(LinkageUnit, LinkageUnit.id == UserAccount.unit_id)
        .where(
            scope.clause(Division.path, UserAccount.unit_id)
            | scope.clause(LinkageUnit.division_path, None)
        )
    )


async def get_user_or_raise(
    *, session: AsyncSession, user_id: uuid.UUID, scope: Scope
) -> UserAccount:
    user = await session.scalar(user_query(scope).where(UserAccount.id == user_id))
    if user is None:
        raise NotFound("user_not_found", f"no user {user_id}")
    return user


async def person_of_user(*, session: AsyncSession, user_id: uuid.UUID) -> uuid.UUID | None:
    """The person an account belongs to (``UserAccount.person_id``), if it is linked to one."""
    person_id: uuid.UUID | None = await session.scalar(
        select(UserAccount.person_id).where(UserAccount.id == user_id)
    )
    return person_id


async def link_user_to_person(
    *, session: AsyncSession, user_id: uuid.UUID, person_id: uuid.UUID | None
) -> None:
    """Say which person an account belongs to (rosters name people; alerts reach accounts)."""
    user = await session.get(UserAccount, user_id)
    if user is None:
        raise NotFound("user_not_found", f"no user {user_id}")
    if person_id is not None and await session.get(Person, person_id) is None:
        raise NotFound("person_not_found", f"no person {person_id}")
    user.person_id = person_id
    user.updated_at = clock.now()
    await session.flush()


async def get_user_by_username(*, session: AsyncSession, username: str) -> UserAccount | None:
    """The account of ``username``, whatever its case; None for a name no account could have."""
    if not username or len(username) > USERNAME_MAX_LENGTH:
        return None
    return await session.scalar(
        select(UserAccount).where(UserAccount.username_key == username_key(username))
    )


async def list_users(
    *, session: AsyncSession, scope: Scope, offset: int = 0, limit: int = 100
) -> tuple[list[UserAccount], int]:
    stmt = user_query(scope)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = (
        await session.scalars(stmt.order_by(UserAccount.username).offset(offset).limit(limit))
    ).all()
    return list(rows), total


async def resolve_user_scope(
    *, session: AsyncSession, division_adcode: str | None, unit_code: str | None
) -> tuple[Division | None, LinkageUnit | None]:
    division = unit = None
    if division_adcode:
        division = await session.get(Division, division_adcode)
        if division is None:
            raise ValidationFailed("division_not_found", f"no division {division_adcode}")
    if unit_code:
        unit = await get_unit_by_code(session=session, code=unit_code)
        if unit is None:
            raise ValidationFailed("unit_not_found", f"no linkage unit {unit_code}")
    return division, unit


USERNAME_MAX_LENGTH = 64
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{2,64}")
#: Roles that act for one linkage unit: an account with one of them needs its unit.
UNIT_ROLES = frozenset({Role.UNIT_LIAISON.value, Role.FIELD_WORKER.value})


def check_unit_roles(roles: list[str], unit: LinkageUnit | uuid.UUID | None) -> None:
    """A liaison or field worker acts for its unit: without one it could act for any."""
    needing = sorted(UNIT_ROLES.intersection(roles))
    if needing and unit is None:
        raise ValidationFailed(
            "role_needs_unit",
            f"an account with the role {needing[0]} needs a unit (unit_code)",
            {"roles": needing},
        )


async def create_user(
    *,
    session: AsyncSession,
    username: str,
    password: str,
    roles: list[str],
    display_name: str | None = None,
    division_adcode: str | None = None,
    unit_code: str | None = None,
) -> UserAccount:
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValidationFailed(
            "invalid_username",
            "a user name is 2-64 letters, digits, '.', '_' or '-'",
            {"username": username[:USERNAME_MAX_LENGTH]},
        )
    if await get_user_by_username(session=session, username=username) is not None:
        raise Conflict("username_taken", f"user {username} exists", {"username": username})
    try:
        checked_roles = sorted({Role(role).value for role in roles})
    except ValueError as exc:
        raise ValidationFailed(
            "invalid_role", str(exc), {"allowed": [r.value for r in Role]}
        ) from exc
    division, unit = await resolve_user_scope(
        session=session, division_adcode=division_adcode, unit_code=unit_code
    )
    if Role.ADMIN.value not in checked_roles and division is None and unit is None:
        raise ValidationFailed(
            "scope_required", "a user other than an admin needs a division and/or a unit"
        )
    check_unit_roles(checked_roles, unit)
    security.check_password_policy(password, username=username)
    now = clock.now()
    user = UserAccount(
        username=username,
        display_name=display_name or username,
        password_hash=await security.hash_password(password),
        roles=checked_roles,
        division_adcode=division.adcode if division else None,
        unit_id=unit.id if unit else None,
        active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    await session.flush()
    return user


async def set_password(*, session: AsyncSession, user: UserAccount, password: str) -> None:
    """A new password, if the policy accepts it (the caller revokes the old sessions)."""
    security.check_password_policy(password, username=user.username)
    user.password_hash = await security.hash_password(password)
    await session.flush()


def is_full_administrator(user: UserAccount) -> bool:
    """An active administrator of everything: no division, no unit."""
    return (
        user.active
        and Role.ADMIN.value in user.roles
        and user.division_adcode is None
        and user.unit_id is None
    )


async def lock_full_administrators(*, session: AsyncSession) -> int:
    """How many active administrators of everything there are, their rows locked until the
    transaction ends (PostgreSQL; SQLite has one writer), always in the same order. A change
    that could take the last one away takes this lock before it writes, and counts again
    after: two administrators demoting each other at once cannot both succeed."""
    rows = await session.scalars(
        select(UserAccount)
        .where(
            UserAccount.active.is_(True),
            UserAccount.division_adcode.is_(None),
            UserAccount.unit_id.is_(None),
        )
        .order_by(UserAccount.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return sum(1 for user in rows.all() if is_full_administrator(user))


async def administrators_of(*, session: AsyncSession, user: UserAccount) -> list[UserAccount]:
    """Active administrators whose scope holds ``user``'s account (as the users list shows it):
    those of everything, of a division above the account's division or unit, of its unit."""
    paths: list[str] = []
    if user.division_adcode:
        path = await session.scalar(
            select(Division.path).where(Division.adcode == user.division_adcode)
        )
        paths += [path] if path else []
    if user.unit_id:
        path = await session.scalar(
            select(LinkageUnit.division_path).where(LinkageUnit.id == user.unit_id)
        )
        paths += [path] if path else []
    rows = (
        await session.execute(
            select(UserAccount, Division.path)
            .outerjoin(Division, Division.adcode == UserAccount.division_adcode)
            .where(UserAccount.active.is_(True))
        )
    ).all()
    found = []
    for admin, admin_path in rows:
        if Role.ADMIN.value not in admin.roles:
            continue
        everything = admin.division_adcode is None and admin.unit_id is None
        covers_path = admin_path is not None and any(p.startswith(admin_path) for p in paths)
        same_unit = admin.unit_id is not None and admin.unit_id == user.unit_id
        if everything or covers_path or same_unit:
            found.append(admin)
    return found


USER_FIELDS = ("username", "display_name", "roles", "division_adcode", "unit_id", "active")

# --- principals, sessions and throttling ----------------------------------------------------------


async def principal_for_user(
    *,
    session: AsyncSession,
    user: UserAccount,
    auth: str = "session",
    paths: tuple[str | None, str | None] | None = None,
) -> Principal:
    """The principal of ``user``; ``paths`` (division path, unit's division path) when the
    caller has already loaded them, else they are read here."""
    roles = frozenset(Role(role) for role in user.roles)
    if paths is None:
        division_path = unit_path = None
        if user.division_adcode:
            division_path = await session.scalar(
                select(Division.path).where(Division.adcode == user.division_adcode)
            )
        if user.unit_id:
            unit_path = await session.scalar(
                select(LinkageUnit.division_path).where(LinkageUnit.id == user.unit_id)
            )
    else:
        division_path, unit_path = paths
    # An administrator of everything is one given neither a division nor a unit (judged by the
    # account, not by a path that failed to load); only it holds security.EVERYTHING_ONLY.
    everything = (
        Role.ADMIN in roles
        and user.division_adcode is None
        and division_path is None
        and user.unit_id is None
    )
    scope = Scope(
        everything=everything,
        division_path=division_path,
        unit_id=user.unit_id,
        area_path=division_path or unit_path,
    )
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=roles,
        scope=scope,
        unit_id=user.unit_id,
        auth=auth,
        permissions=security.permissions_for(roles, everything=everything),
    )


async def open_auth_session(
    *,
    session: AsyncSession,
    user: UserAccount,
    kind: str,
    ttl: timedelta,
    ip: str | None,
    user_agent: str | None,
) -> str:
    token = security.new_token()
    now = clock.now()
    session.add(
        AuthSession(
            token_digest=security.token_digest(token),
            user_id=user.id,
            kind=kind,
            created_at=now,
            expires_at=now + ttl,
            ip=ip,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    await session.flush()
    return token


@functools.cache
def _principal_query() -> Any:
    """The statement of :func:`principal_for_token`, built once (values bound at execution)."""
    return (
        select(UserAccount, Division.path, LinkageUnit.division_path)
        .select_from(AuthSession)
        .join(UserAccount, UserAccount.id == AuthSession.user_id)
        .outerjoin(Division, Division.adcode == UserAccount.division_adcode)
        .outerjoin(LinkageUnit, LinkageUnit.id == UserAccount.unit_id)
        .where(
            AuthSession.token_digest == bindparam("digest"),
            AuthSession.kind == bindparam("kind"),
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > bindparam("now"),
            UserAccount.active.is_(True),
        )
    )


async def principal_for_token(session: AsyncSession, token: str, kind: str) -> Principal | None:
    """The authenticator the kernel calls: a live session or token → its principal.

    One query (it runs on every request): the session, its user and the paths of the user's
    division and unit.
    """
    params = {"digest": security.token_digest(token), "kind": kind, "now": clock.now()}
    row = (await session.execute(_principal_query(), params)).first()
    if row is None:
        return None
    user, division_path, unit_path = row
    return await principal_for_user(
        session=session, user=user, auth=kind, paths=(division_path, unit_path)
    )


async def revoke_auth_session(*, session: AsyncSession, token: str) -> None:
    auth = await session.scalar(
        select(AuthSession).where(AuthSession.token_digest == security.token_digest(token))
    )
    if auth is not None and auth.revoked_at is None:
        auth.revoked_at = clock.now()
        await session.flush()


async def revoke_user_sessions(
    *, session: AsyncSession, user_id: uuid.UUID, keep_token: str | None = None
) -> int:
    """End every live browser session and bearer token of a user (but ``keep_token``'s, the
    one making the request); how many were ended."""
    now = clock.now()
    stmt = update(AuthSession).where(
        AuthSession.user_id == user_id,
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > now,
    )
    if keep_token:
        stmt = stmt.where(AuthSession.token_digest != security.token_digest(keep_token))
    result = await session.execute(
        stmt.values(revoked_at=now).execution_options(synchronize_session=False)
    )
    return rows_affected(result)


# Sign-in throttling. Rows are keyed by digests of what was typed, so a key's length does not
# depend on the input: ``pair:`` a name (any case) tried from an address, ``address:`` an address,
# ``name:`` a name from anywhere.


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def pair_key(username: str, ip: str | None) -> str:
    return f"pair:{_digest(username_key(username), ip or '')}"


def address_key(ip: str | None) -> str:
    return f"address:{_digest(ip or '')}"


def name_key(username: str) -> str:
    return f"name:{_digest(username_key(username))}"


KNOWN_PAIR_DAYS = 30
_insert_throttle = InsertUnlessTaken(cast(Table, LoginThrottle.__table__), ["key"])


async def throttle_rows(*, session: AsyncSession, keys: list[str]) -> dict[str, LoginThrottle]:
    rows = await session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    return {row.key: row for row in rows.all()}


def delay_until(row: LoginThrottle | None) -> datetime | None:
    """When the delay on ``row`` ends, if one is in force."""
    if row is None or row.locked_until is None:
        return None
    until = clock.as_utc(row.locked_until)
    return until if until > clock.now() else None


def known_pair(row: LoginThrottle | None) -> bool:
    """The name signed in from this address lately: a delay of the address does not hold it."""
    return (
        row is not None
        and row.last_success_at is not None
        and clock.as_utc(row.last_success_at) > clock.now() - timedelta(days=KNOWN_PAIR_DAYS)
    )


async def _locked_row(session: AsyncSession, key: str) -> LoginThrottle:
    """The row of ``key``, created if missing, locked for this transaction (PostgreSQL)."""
    row = await session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
    if row is None:
        now = clock.now()
        fresh = LoginThrottle(
            key=key,
            failures=0,
            window_started_at=now,
            locked_until=None,
            last_failure_at=None,
            last_success_at=None,
            expires_at=now,
        )
        if await _insert_throttle(session, fresh):
            return fresh
        row = await session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        if row is None:  # pragma: no cover - inserted by another and deleted at once
            raise Conflict("throttle_busy", "try again")
    return row


async def count_failure(
    *,
    session: AsyncSession,
    key: str,
    window: timedelta,
    free: int | None = None,
    delay: timedelta = timedelta(seconds=1),
    max_delay: timedelta = timedelta(minutes=15),
) -> LoginThrottle:
    """Count a failed sign-in on ``key``; past ``free`` failures in a run, delay the next
    attempt by ``delay``, doubled for each further failure up to ``max_delay``. A run ends
    ``window`` after its last failure."""
    now = clock.now()
    row = await _locked_row(session, key)
    last = clock.as_utc(row.last_failure_at) if row.last_failure_at else None
    if last is None or last + window < now:
        row.failures, row.window_started_at, row.locked_until = 0, now, None
    row.failures += 1
    row.last_failure_at = now
    if free is not None and row.failures > free:
        wait = min(delay * 2 ** min(row.failures - free - 1, 30), max_delay)
        row.locked_until = now + wait
    row.expires_at = max(
        now + max(window, max_delay),
        clock.as_utc(row.expires_at) if row.expires_at else now,
    )
    await session.flush()
    return row


async def count_success(*, session: AsyncSession, key: str) -> None:
    """A name signed in from an address: its failures there are forgotten, and the pair is
    known for :data:`KNOWN_PAIR_DAYS`."""
    now = clock.now()
    row = await _locked_row(session, key)
    row.failures, row.locked_until, row.last_success_at = 0, None, now
    row.expires_at = now + timedelta(days=KNOWN_PAIR_DAYS)
    await session.flush()


async def forget_stale_throttles(*, session: AsyncSession) -> None:
    await session.execute(
        delete(LoginThrottle)
        .where(LoginThrottle.expires_at < clock.now())
        .execution_options(synchronize_session=False)
    )


async def users_covering(
    *, session: AsyncSession, role: Role, division_path: str | None
) -> list[UserAccount]:
    """Active users with ``role`` whose jurisdiction contains ``division_path``."""
    rows = (
        await session.execute(
            select(UserAccount, Division.path)
            .outerjoin(Division, Division.adcode == UserAccount.division_adcode)
            .where(UserAccount.active.is_(True))
        )
    ).all()
    return [
        user
        for user, path in rows
        if role.value in user.roles
        and (
            path is None
            and user.unit_id is None
            or (path is not None and division_path is not None and division_path.startswith(path))
        )
    ]


async def users_of_unit(*, session: AsyncSession, unit_id: uuid.UUID) -> list[UserAccount]:
    rows = await session.scalars(
        select(UserAccount).where(UserAccount.unit_id == unit_id, UserAccount.active.is_(True))
    )
    return list(rows.all())


# --- what other domains read of divisions and units ----------------------------------------------


async def division_paths(
    *, session: AsyncSession, adcodes: Collection[str], scope: Scope
) -> dict[str, str]:
    """The paths of the given divisions that ``scope`` sees, by adcode (the others absent)."""
    if not adcodes:
        return {}
    rows = await session.execute(
        division_query(scope)
        .with_only_columns(Division.adcode, Division.path)
        .where(Division.adcode.in_(set(adcodes)))
    )
    return {row.adcode: row.path for row in rows}


async def unit_ids_by_code(
    *,
    session: AsyncSession,
    codes: Collection[str] | None = None,
    scope: Scope = security.SYSTEM.scope,
) -> dict[str, uuid.UUID]:
    """The ids of the given units (every unit for ``codes`` None) that ``scope`` sees, by code."""
    if codes is not None and not codes:
        return {}
    stmt = unit_query(scope).with_only_columns(LinkageUnit.code, LinkageUnit.id)
    if codes is not None:
        stmt = stmt.where(LinkageUnit.code.in_(set(codes)))
    return {row.code: row.id for row in await session.execute(stmt)}


async def unit_codes(*, session: AsyncSession) -> dict[uuid.UUID, str]:
    """The code of every unit, by id."""
    rows = await session.execute(select(LinkageUnit.id, LinkageUnit.code))
    return {row.id: row.code for row in rows}


async def division_names(*, session: AsyncSession, adcodes: Collection[str]) -> dict[str, str]:
    """The names of the given divisions, by adcode (one query)."""
    if not adcodes:
        return {}
    rows = await session.execute(
        select(Division.adcode, Division.name).where(Division.adcode.in_(set(adcodes)))
    )
    return {row.adcode: row.name for row in rows}


async def unit_names(
    *, session: AsyncSession, unit_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The names of the given linkage units, by id."""
    if not unit_ids:
        return {}
    rows = await session.execute(
        select(LinkageUnit.id, LinkageUnit.name).where(LinkageUnit.id.in_(set(unit_ids)))
    )
    return {row.id: row.name for row in rows}


async def unit_of_kind_above(
    *, session: AsyncSession, kind: str, division_path: str
) -> LinkageUnit | None:
    """The active unit of ``kind`` (town, village) whose division is on ``division_path`` (the
    incident's town or village), the first by code."""
    prefixes = [division_path[: i + 1] for i, ch in enumerate(division_path) if ch == "/"]
    return await session.scalar(
        select(LinkageUnit)
        .where(
            LinkageUnit.kind == kind,
            LinkageUnit.active.is_(True),
            LinkageUnit.division_path.in_(prefixes),
        )
        .order_by(LinkageUnit.code)
        .limit(1)
    )


def units_of_tier(tier: int) -> Select[uuid.UUID]:
    """SQL: the ids of the units of ``tier`` (for ``IN``, in other domains' set-based queries)."""
    return select(LinkageUnit.id).where(LinkageUnit.tier == tier)


def unit_facts() -> Subquery:
    """SQL: every unit's ``id``, ``code``, ``name`` and ``tier``, to join in other domains'
    set-based queries (the dispatch KPIs)."""
    return select(LinkageUnit.id, LinkageUnit.code, LinkageUnit.name, LinkageUnit.tier).subquery(
        "unit_facts"
    )


async def active_unit_points(
    *, session: AsyncSession, min_lon: float, min_lat: float, max_lon: float, max_lat: float
) -> list[tuple[str, float | None, float | None]]:
    """The code and point of every active unit inside the box."""
    rows = await session.execute(
        select(LinkageUnit.code, LinkageUnit.lon, LinkageUnit.lat).where(
            LinkageUnit.active.is_(True),
            LinkageUnit.lon.between(min_lon, max_lon),
            LinkageUnit.lat.between(min_lat, max_lat),
        )
    )
    return [(code, lon, lat) for code, lon, lat in rows]


async def boundaries_version(*, session: AsyncSession) -> tuple[object, ...]:
    """What changes when any division changes: how many there are, and the last update."""
    row = (
        await session.execute(select(func.count(Division.adcode), func.max(Division.updated_at)))
    ).one()
    return tuple(row)


async def division_boundaries(
    *, session: AsyncSession
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Every division that has a boundary: adcode, path, level and boundary (GeoJSON)."""
    rows = await session.execute(
        select(Division.adcode, Division.path, Division.level, Division.boundary).where(
            Division.boundary.is_not(None)
        )
    )
    return [(adcode, path, level, boundary) for adcode, path, level, boundary in rows]


# --- what warning targeting reads (靶向发布, issue 19) ------------------------------------------


@dataclass(frozen=True)
class ReachableUnit:
    """A linkage unit as targeting sees it: where it serves and where it stands."""

    id: uuid.UUID
    kind: str
    name: str
    division_adcode: str
    division_path: str
    parent_id: uuid.UUID | None
    lon: float | None
    lat: float | None


@dataclass(frozen=True)
class ReachablePerson:
    """A person of a unit, with the account that is theirs (if any)."""

    id: uuid.UUID
    unit_id: uuid.UUID
    name: str
    position: str | None
    mobile: str | None
    is_leader: bool
    user_id: uuid.UUID | None


@dataclass(frozen=True)
class ReachableUser:
    """An active account (its person, unit and division, if any)."""

    id: uuid.UUID
    display_name: str
    person_id: uuid.UUID | None
    unit_id: uuid.UUID | None
    division_adcode: str | None


@dataclass(frozen=True)
class AreaDivision:
    """A division as targeting sees it: its level, path, outline (or centroid) and box."""

    adcode: str
    level: str
    path: str
    boundary: dict[str, Any] | None
    centroid_lon: float | None
    centroid_lat: float | None


def _under_any(column: Any, prefixes: Collection[str]) -> list[ColumnElement[bool]]:
    return [column.startswith(prefix, autoescape=True) for prefix in sorted(set(prefixes))]


def _in_box(lon: Any, lat: Any, bbox: tuple[float, float, float, float]) -> ColumnElement[bool]:
    min_lon, min_lat, max_lon, max_lat = bbox
    inside: ColumnElement[bool] = (
        (lon >= min_lon) & (lon <= max_lon) & (lat >= min_lat) & (lat <= max_lat)
    )
    return inside


async def divisions_in_area(
    *,
    session: AsyncSession,
    path_prefixes: Collection[str],
    bbox: tuple[float, float, float, float] | None,
) -> list[AreaDivision]:
    """Divisions under any of ``path_prefixes`` or whose box meets ``bbox`` (the caller keeps
    those its area really holds)."""
    where = _under_any(Division.path, path_prefixes)
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        where.append(
            (Division.min_lon <= max_lon)
            & (Division.max_lon >= min_lon)
            & (Division.min_lat <= max_lat)
            & (Division.max_lat >= min_lat)
        )
        where.append(_in_box(Division.centroid_lon, Division.centroid_lat, bbox))
    if not where:
        return []
    rows = await session.execute(
        select(
            Division.adcode,
            Division.level,
            Division.path,
            Division.boundary,
            Division.centroid_lon,
            Division.centroid_lat,
        ).where(or_(*where))
    )
    return [AreaDivision(*row) for row in rows]


#: a person with their active account (if any), as ``ReachablePerson`` takes them
_PEOPLE = select(
    Person.id,
    Person.unit_id,
    Person.name,
    Person.position,
    Person.mobile,
    Person.is_leader,
    UserAccount.id,
).outerjoin(UserAccount, (UserAccount.person_id == Person.id) & UserAccount.active.is_(True))


async def people_by_ids(
    *, session: AsyncSession, person_ids: Collection[uuid.UUID]
) -> list[ReachablePerson]:
    """The given people (those that exist), each with their account."""
    found: dict[uuid.UUID, ReachablePerson] = {}
    ids = sorted(set(person_ids))
    for start in range(0, len(ids), 5000):
        stmt = _PEOPLE.where(Person.id.in_(ids[start : start + 5000]))
        for row in await session.execute(stmt.order_by(Person.id)):
            found.setdefault(row[0], ReachablePerson(*row))
    return list(found.values())


async def users_with_role_over(
    *, session: AsyncSession, role: Role, division_path: str
) -> list[ReachableUser]:
    """Active users with ``role`` whose jurisdiction contains ``division_path`` (their division
    lies on it, or they have neither division nor unit): ``users_covering`` in SQL, for
    directories of many accounts."""
    adcodes = [code for code in division_path.split("/") if code]
    rows = await session.execute(
        select(
            UserAccount.id,
            UserAccount.display_name,
            UserAccount.person_id,
            UserAccount.unit_id,
            UserAccount.division_adcode,
            UserAccount.roles,
        )
        .where(
            UserAccount.active.is_(True),
            UserAccount.division_adcode.in_(adcodes)
            | (UserAccount.division_adcode.is_(None) & UserAccount.unit_id.is_(None)),
        )
        .order_by(UserAccount.username)
    )
    return [ReachableUser(*row[:5]) for row in rows if role.value in (row.roles or [])]


def _unit_in_area(
    path_prefixes: Collection[str],
    bbox: tuple[float, float, float, float] | None,
    division_adcodes: Collection[str],
) -> ColumnElement[bool]:
    where = _under_any(LinkageUnit.division_path, path_prefixes)
    if division_adcodes:
        where.append(LinkageUnit.division_adcode.in_(sorted(set(division_adcodes))))
    if bbox is not None:
        where.append(_in_box(LinkageUnit.lon, LinkageUnit.lat, bbox))
    return LinkageUnit.active.is_(True) & or_(*where) if where else false()


_UNIT_COLUMNS = (
    LinkageUnit.id,
    LinkageUnit.kind,
    LinkageUnit.name,
    LinkageUnit.division_adcode,
    LinkageUnit.division_path,
    LinkageUnit.parent_id,
    LinkageUnit.lon,
    LinkageUnit.lat,
)


async def leaders_in_area(
    *,
    session: AsyncSession,
    path_prefixes: Collection[str],
    bbox: tuple[float, float, float, float] | None,
    division_adcodes: Collection[str] = (),
) -> list[tuple[ReachablePerson, ReachableUnit]]:
    """The leaders of the active units serving a division under any of ``path_prefixes`` or one
    of ``division_adcodes``, or standing inside ``bbox``, each with their unit (one query, no
    list of ids: the 100,000-recipient path; the caller keeps those inside its area)."""
    rows = await session.execute(
        _PEOPLE.add_columns(*_UNIT_COLUMNS)
        .join(LinkageUnit, LinkageUnit.id == Person.unit_id)
        .where(Person.is_leader.is_(True), _unit_in_area(path_prefixes, bbox, division_adcodes))
    )
    found: dict[uuid.UUID, tuple[ReachablePerson, ReachableUnit]] = {}
    for row in rows:
        found.setdefault(row[0], (ReachablePerson(*row[:7]), ReachableUnit(*row[7:])))
    return list(found.values())


async def accounts_in_area(
    *,
    session: AsyncSession,
    path_prefixes: Collection[str],
    bbox: tuple[float, float, float, float] | None,
    division_adcodes: Collection[str] = (),
) -> list[tuple[ReachableUser, ReachableUnit]]:
    """The active accounts of the units ``leaders_in_area`` reads, each with their unit."""
    rows = await session.execute(
        select(
            UserAccount.id,
            UserAccount.display_name,
            UserAccount.person_id,
            UserAccount.unit_id,
            UserAccount.division_adcode,
            *_UNIT_COLUMNS,
        )
        .join(LinkageUnit, LinkageUnit.id == UserAccount.unit_id)
        .where(UserAccount.active.is_(True), _unit_in_area(path_prefixes, bbox, division_adcodes))
    )
    return [(ReachableUser(*tuple(row)[:5]), ReachableUnit(*tuple(row)[5:])) for row in rows]


def people_in_area(
    path_prefixes: Collection[str],
    bbox: tuple[float, float, float, float] | None,
    division_adcodes: Collection[str] = (),
) -> Select[uuid.UUID]:
    """SQL: the ids of the leaders and of the people with accounts of those units (for a join
    by another domain, e.g. their contact points)."""
    inside = _unit_in_area(path_prefixes, bbox, division_adcodes)
    leaders = (
        select(Person.id)
        .join(LinkageUnit, LinkageUnit.id == Person.unit_id)
        .where(Person.is_leader.is_(True), inside)
    )
    with_accounts = (
        select(UserAccount.person_id)
        .join(LinkageUnit, LinkageUnit.id == UserAccount.unit_id)
        .where(UserAccount.active.is_(True), UserAccount.person_id.is_not(None), inside)
    )
    return select(leaders.union(with_accounts).subquery().c[0])
