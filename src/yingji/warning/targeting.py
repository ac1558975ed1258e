"""靶向发布 — who a warning goes to, worked out from its area (decision 0020).

The area is a (Multi)Polygon and/or division codes. Inside it are: the divisions under the
codes, and the towns and villages whose outline meets the polygon (or whose centroid lies in
it when they have no outline); the units serving such a division or standing inside the
polygon; the resources (hazard sources, protection targets) in such a division or standing
inside; the broadcast devices likewise.

Recipients, in the order a person's first reason is taken: department heads (the leaders of
the issuing division's departments and of departments inside), town heads and village heads
(the leaders of town and village units inside), the on-duty leaders covering the issuing
division, every other unit inside (its leaders and its accounts), the contacts of hazard
sources and protection targets inside, the members of subscribed groups that want this type
and level over the area, and the broadcast devices inside. One recipient per someone
(``recipient_key``).

Channels per person: their contact points in order, then their mobile for SMS and voice, then
the app when they have an account; a person the frozen 叫应 plan names (by their reason) gets
the plan's channels first, in the plan's order.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock, geo
from yingji.core.on_duty import Position, on_duty
from yingji.core.security import SYSTEM, Role
from yingji.notify import service as notify
from yingji.org import service as org
from yingji.resources import service as resources
from yingji.warning import catalogue
from yingji.warning.models import RecipientReason as R
from yingji.warning.models import SubscriberGroup, Warning

#: the reasons a call plan's ``positions`` may name
CALL_POSITIONS = frozenset({R.DEPARTMENT_HEAD, R.TOWN_HEAD, R.VILLAGE_HEAD, R.DUTY_LEADER})


@dataclass
class Target:
    """One recipient as targeting found them (a ``WarningRecipient`` row before it is written)."""

    recipient_key: str
    reason: str
    name: str
    person_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    unit_id: uuid.UUID | None = None
    resource_id: uuid.UUID | None = None
    device_id: uuid.UUID | None = None
    position: str | None = None
    division_adcode: str | None = None
    town_adcode: str | None = None
    mobile: str | None = None
    channels: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Area:
    """A warning's area, ready to test things against."""

    prefixes: tuple[str, ...]  # paths of the divisions the codes name
    shape: BaseGeometry | None
    bbox: tuple[float, float, float, float] | None

    def holds_point(self, lon: float | None, lat: float | None) -> bool:
        if self.shape is None or lon is None or lat is None:
            return False
        return bool(shapely.contains_xy(self.shape, lon, lat))

    def under(self, path: str) -> bool:
        return any(path.startswith(prefix) for prefix in self.prefixes)


async def area_of(session: AsyncSession, warning: Warning) -> Area:
    paths = await org.division_paths(
        session=session, adcodes=warning.area_adcodes or [], scope=SYSTEM.scope
    )
    shape = None
    if warning.area is not None:
        shape = geo.geometry(warning.area)
        shapely.prepare(shape)
    bbox = None
    if warning.min_lon is not None and warning.max_lon is not None:
        bbox = (
            warning.min_lon,
            warning.min_lat if warning.min_lat is not None else -90.0,
            warning.max_lon,
            warning.max_lat if warning.max_lat is not None else 90.0,
        )
    return Area(prefixes=tuple(sorted(set(paths.values()))), shape=shape, bbox=bbox)


def _town_of(path: str, towns: Collection[str]) -> str | None:
    """The adcode of the town on ``path`` (a town itself, or a village's parent)."""
    for code in reversed([c for c in path.split("/") if c]):
        if code in towns:
            return code
    return None


class _Book:
    """Recipients by key; the first reason that names someone is theirs."""

    def __init__(self) -> None:
        self.by_key: dict[str, Target] = {}

    def add(self, target: Target) -> Target:
        return self.by_key.setdefault(target.recipient_key, target)


def _person_target(
    person: org.ReachablePerson, reason: str, unit: org.ReachableUnit | None, town: str | None
) -> Target:
    return Target(
        recipient_key=f"person:{person.id}",
        reason=reason,
        name=person.name,
        person_id=person.id,
        user_id=person.user_id,
        unit_id=person.unit_id,
        position=person.position,
        division_adcode=unit.division_adcode if unit else None,
        town_adcode=town,
        mobile=person.mobile,
    )


async def resolve(
    session: AsyncSession, warning: Warning, *, plan: Mapping[str, Any] | None = None
) -> list[Target]:
    """Everyone ``warning`` goes to, each once, with their channels in order. ``plan``: the 叫应
    steps frozen into the warning (its ``positions`` and ``channels``)."""
    area = await area_of(session, warning)
    divisions = await org.divisions_in_area(
        session=session, path_prefixes=area.prefixes, bbox=area.bbox
    )
    inside_codes = {d.adcode for d in divisions if area.under(d.path) or _meets(area, d)}
    towns = _Towns({d.adcode for d in divisions if d.level == "town"})
    # the units inside: serving a division inside or standing inside the polygon, and the
    # departments of the issuing division (their heads are called); one query each for their
    # leaders and their accounts, each row with its unit
    codes = inside_codes | {warning.division_adcode}
    verdicts: dict[uuid.UUID, bool] = {}

    def unit_inside(unit: org.ReachableUnit) -> bool:
        verdict = verdicts.get(unit.id)
        if verdict is None:
            verdict = verdicts[unit.id] = (
                area.under(unit.division_path)
                or unit.division_adcode in inside_codes
                or area.holds_point(unit.lon, unit.lat)
                or (unit.kind == "department" and unit.division_adcode == warning.division_adcode)
            )
        return verdict

    leaders = [
        (person, unit)
        for person, unit in await org.leaders_in_area(
            session=session, path_prefixes=area.prefixes, bbox=area.bbox, division_adcodes=codes
        )
        if unit_inside(unit)
    ]
    accounts = [
        (account, unit)
        for account, unit in await org.accounts_in_area(
            session=session, path_prefixes=area.prefixes, bbox=area.bbox, division_adcodes=codes
        )
        if unit_inside(unit)
    ]
    book = _Book()
    by_kind = {"department": R.DEPARTMENT_HEAD, "town": R.TOWN_HEAD, "village": R.VILLAGE_HEAD}
    for person, unit in leaders:
        reason = by_kind.get(unit.kind)
        if reason is not None:
            book.add(_person_target(person, reason, unit, towns.of(unit.division_path)))
    await _add_duty_leaders(session, book, warning)
    for person, unit in leaders:
        book.add(_person_target(person, R.UNIT_IN_AREA, unit, towns.of(unit.division_path)))
    for account, unit in accounts:
        _add_user(
            book,
            account.id,
            account.display_name,
            account.person_id,
            R.UNIT_IN_AREA,
            unit,
            towns.of(unit.division_path),
        )
    await _add_contacts(session, book, area, inside_codes, towns)
    await _add_subscribers(session, book, warning, area)
    await _add_devices(session, book, area, inside_codes, towns)
    targets = list(book.by_key.values())
    points = await notify.contact_points_where(
        session=session,
        person_ids=org.people_in_area(area.prefixes, area.bbox, codes),
    )
    covered = {person.id for person, _unit in leaders}
    covered |= {account.person_id for account, _unit in accounts if account.person_id}
    await _fill_people(session, targets, points, covered)
    _fill_channels(targets, plan)
    return targets


class _Towns:
    """The town on a division path (a town itself, or a village's parent), remembered by path."""

    def __init__(self, adcodes: set[str]) -> None:
        self.adcodes = adcodes
        self.by_path: dict[str, str | None] = {}

    def of(self, path: str) -> str | None:
        if path not in self.by_path:
            self.by_path[path] = _town_of(path, self.adcodes)
        return self.by_path[path]


def _meets(area: Area, division: org.AreaDivision) -> bool:
    """A town or village is inside a polygon area when its outline meets it (its centroid lies
    in it when it has no outline); larger divisions only through the area's codes."""
    if area.shape is None or division.level not in ("town", "village"):
        return False
    if division.boundary is not None:
        try:
            return bool(area.shape.intersects(geo.geometry(division.boundary)))
        except (ValueError, TypeError, KeyError):
            return False
    return area.holds_point(division.centroid_lon, division.centroid_lat)


async def _add_duty_leaders(session: AsyncSession, book: _Book, warning: Warning) -> None:
    """The duty leader on duty over the warning's division (the nearest roster, through
    ``core.on_duty``); every duty leader whose jurisdiction covers it when nobody is rostered."""
    rostered = await on_duty(
        session, division_path=warning.division_path, positions=(Position.LEADER,), at=clock.now()
    )
    person_ids = [p.person_id for p in rostered or [] if p.person_id is not None]
    people = await org.people_by_ids(session=session, person_ids=person_ids) if person_ids else []
    if people:
        for person in sorted(people, key=lambda p: person_ids.index(p.id)):
            book.add(_person_target(person, R.DUTY_LEADER, None, None))
        return
    for user in await org.users_with_role_over(
        session=session, role=Role.DUTY_LEADER, division_path=warning.division_path
    ):
        _add_user(book, user.id, user.display_name, user.person_id, R.DUTY_LEADER, None, None)


def _add_user(
    book: _Book,
    user_id: uuid.UUID,
    name: str,
    person_id: uuid.UUID | None,
    reason: str,
    unit: org.ReachableUnit | None,
    town: str | None,
) -> None:
    key = f"person:{person_id}" if person_id else f"user:{user_id}"
    existing = book.by_key.get(key)
    if existing is not None:
        if existing.user_id is None:
            existing.user_id = user_id
        return
    book.add(
        Target(
            recipient_key=key,
            reason=reason,
            name=name,
            person_id=person_id,
            user_id=user_id,
            unit_id=unit.id if unit else None,
            division_adcode=unit.division_adcode if unit else None,
            town_adcode=town,
        )
    )


async def _add_contacts(
    session: AsyncSession,
    book: _Book,
    area: Area,
    inside_codes: set[str],
    towns: _Towns,
) -> None:
    reasons = {"hazard_source": R.HAZARD_CONTACT, "protection_target": R.PROTECTION_CONTACT}
    found = await resources.contacts_in_area(
        session=session,
        kinds_wanted=list(reasons),
        path_prefixes=area.prefixes,
        bbox=area.bbox,
    )
    for contact in found:
        if not (
            area.under(contact.division_path)
            or contact.division_adcode in inside_codes
            or area.holds_point(contact.lon, contact.lat)
        ):
            continue
        book.add(
            Target(
                recipient_key=f"contact:{contact.id}",
                reason=reasons[contact.kind],
                name=(contact.contact_name or contact.name)[:200],
                resource_id=contact.id,
                position=contact.name[:100],
                division_adcode=contact.division_adcode,
                town_adcode=towns.of(contact.division_path),
                mobile=contact.contact_phone,
            )
        )


async def _add_subscribers(
    session: AsyncSession, book: _Book, warning: Warning, area: Area
) -> None:
    """Members of groups that want this type at this level over a division the area meets
    (the group's division contains the issuing division, or lies inside the area)."""
    rank = catalogue.level_rank(warning.level)
    groups = (await session.scalars(select(SubscriberGroup))).all()
    wanted: list[uuid.UUID] = []
    for group in groups:
        if group.type_codes and warning.type_code not in group.type_codes:
            continue
        if rank < catalogue.level_rank(group.min_level):
            continue
        if not (
            warning.division_path.startswith(group.division_path) or area.under(group.division_path)
        ):
            continue
        for text in group.person_ids or []:
            try:
                wanted.append(uuid.UUID(str(text)))
            except ValueError:
                continue
    for person in await org.people_by_ids(session=session, person_ids=wanted):
        book.add(_person_target(person, R.SUBSCRIBER, None, None))


async def _add_devices(
    session: AsyncSession,
    book: _Book,
    area: Area,
    inside_codes: set[str],
    towns: _Towns,
) -> None:
    devices = await notify.devices_near(
        session=session, bbox=area.bbox, division_paths=area.prefixes
    )
    for device in devices:
        if not (
            area.under(device.division_path)
            or device.division_adcode in inside_codes
            or area.holds_point(device.lon, device.lat)
        ):
            continue
        target = book.add(
            Target(
                recipient_key=f"device:{device.id}",
                reason=R.DEVICE,
                name=device.name[:200],
                device_id=device.id,
                division_adcode=device.division_adcode,
                town_adcode=towns.of(device.division_path),
            )
        )
        target.channels = [(device.kind, device.code)]


async def _fill_people(
    session: AsyncSession,
    targets: Iterable[Target],
    points: Mapping[uuid.UUID, list[tuple[str, str]]],
    covered: set[uuid.UUID],
) -> None:
    """Every person's contact points (``points`` holds those of the ``covered`` people; the
    few others are read here) and their mobile when not known yet."""
    people = [t for t in targets if t.person_id is not None]
    others = [t.person_id for t in people if t.person_id and t.person_id not in covered]
    more = await notify.contact_points_of(session=session, person_ids=others) if others else {}
    missing = [t.person_id for t in people if t.mobile is None and t.person_id]
    mobiles: dict[uuid.UUID, str | None] = {}
    if missing:
        mobiles = {
            p.id: p.mobile for p in await org.people_by_ids(session=session, person_ids=missing)
        }
    for target in people:
        person_id = target.person_id or uuid.UUID(int=0)
        if target.mobile is None:
            target.mobile = mobiles.get(person_id)
        target.channels = list(points.get(person_id) or more.get(person_id) or [])


def _fill_channels(targets: Iterable[Target], plan: Mapping[str, Any] | None) -> None:
    positions = set((plan or {}).get("positions") or [])
    plan_channels = [str(c) for c in (plan or {}).get("channels") or []]
    for target in targets:
        if target.device_id is not None:
            continue
        channels = list(target.channels)
        if target.mobile:
            channels += [("sms", target.mobile), ("voice", target.mobile)]
        if target.user_id is not None:
            channels.append(("app", str(target.user_id)))
        channels = list(dict.fromkeys(channels))
        if target.reason in positions and plan_channels:
            order = {name: i for i, name in enumerate(plan_channels)}
            first = sorted(
                (c for c in channels if c[0] in order),
                key=lambda c: order[c[0]],
            )
            channels = first + [c for c in channels if c[0] not in order]
        target.channels = channels


def must_ack(target: Target, plan: Mapping[str, Any] | None) -> bool:
    """On the 叫应 list: the frozen plan names the person's position (their reason)."""
    return plan is not None and target.reason in set(plan.get("positions") or [])
