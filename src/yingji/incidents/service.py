"""Queries and single-entity commands of incidents. Flushes, never commits."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any, NamedTuple, Protocol, cast

from sqlalchemy import Row, Select, Subquery, Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit, clock, geo, reasons
from yingji.core.changes import record_change
from yingji.core.db import InsertUnlessTaken, blank_row, in_list, rows_affected
from yingji.core.errors import InvalidTransition, NotFound
from yingji.core.events import EventScope
from yingji.core.ids import new_id
from yingji.core.security import Scope
from yingji.incidents.models import LEVELS, ReportingDeadline, TimelineEntry
from yingji.incidents.models import Incident as Incident
from yingji.incidents.schemas import INCIDENT_TRANSITIONS, OPEN_STATES, IncidentState

CASUALTY_FIELDS = ("dead", "injured", "missing", "trapped")
#: Location sources of a measured point (GPS, or set by the duty officer on the map); the others
#: (a gazetteer place's point, a division's centroid) only stand for a named place.
MEASURED_SOURCES = frozenset(("point", "manual"))
INCIDENT_FIELDS = (
    "number",
    "state",
    "level",
    "category_code",
    "division_adcode",
    "lon",
    "lat",
    "location_source",
    "report_count",
    *CASUALTY_FIELDS,
    "cancel_reason",
    "merged_into_id",
)


class IncomingReport(Protocol):
    """What the incidents domain reads of a report that opens, joins or refines an incident
    (intake's ``Report`` is one): the incident side never imports intake."""

    @property
    def received_at(self) -> datetime: ...
    @property
    def text(self) -> str: ...
    @property
    def address(self) -> str | None: ...
    @property
    def category_code(self) -> str | None: ...
    @property
    def suggested_level(self) -> str | None: ...
    @property
    def level_reason(self) -> str | None: ...
    @property
    def level_why(self) -> reasons.Why | None: ...
    @property
    def division_adcode(self) -> str | None: ...
    @property
    def division_path(self) -> str | None: ...
    @property
    def lon(self) -> float | None: ...
    @property
    def lat(self) -> float | None: ...
    @property
    def location_source(self) -> str | None: ...
    @property
    def dead(self) -> int: ...
    @property
    def injured(self) -> int: ...
    @property
    def missing(self) -> int: ...
    @property
    def trapped(self) -> int: ...


def is_open(incident: Incident) -> bool:
    return incident.state in OPEN_STATES


def incident_query(scope: Scope) -> Select[Incident]:
    return select(Incident).where(scope.clause(Incident.division_path, None, Incident.id))


async def get_incident(
    *, session: AsyncSession, incident_id: uuid.UUID, scope: Scope
) -> Incident | None:
    return await session.scalar(incident_query(scope).where(Incident.id == incident_id))


async def get_incident_or_raise(
    *, session: AsyncSession, incident_id: uuid.UUID, scope: Scope
) -> Incident:
    incident = await get_incident(session=session, incident_id=incident_id, scope=scope)
    if incident is None:
        raise NotFound(
            "incident_not_found", f"no incident {incident_id}", {"incident_id": str(incident_id)}
        )
    return incident


async def find_incident(*, session: AsyncSession, incident_id: uuid.UUID) -> Incident | None:
    """The incident, whatever its area (for a caller that holds its id from a row it read)."""
    return await session.get(Incident, incident_id)


async def lock_incident(*, session: AsyncSession, incident_id: uuid.UUID) -> Incident | None:
    """The incident read afresh and locked until the transaction ends (reports joining one
    incident at once each add their count)."""
    return await session.get(Incident, incident_id, with_for_update=True, populate_existing=True)


@dataclass(frozen=True)
class IncidentFilter:
    states: Sequence[str] = ()
    category: str | None = None
    levels: Sequence[str] = ()
    division_path: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    #: emergency incidents, or service cases (服务类事务); never both in one list
    kind: str = "emergency"


#: the prefix of the service-matter categories (服务类事务): their cases are ``kind`` service
SERVICE_PREFIX = "service."


def kind_of(category_code: str | None) -> str:
    """``service`` for a service-matter category, else ``emergency``."""
    return "service" if (category_code or "").startswith(SERVICE_PREFIX) else "emergency"


def _filtered(stmt: Select[Incident], f: IncidentFilter) -> Select[Incident]:
    stmt = stmt.where(Incident.kind == f.kind)
    if f.states:
        stmt = stmt.where(Incident.state.in_(f.states))
    if f.category:
        stmt = stmt.where(
            (Incident.category_code == f.category)
            | Incident.category_code.startswith(f"{f.category}.", autoescape=True)
        )
    if f.levels:
        stmt = stmt.where(Incident.level.in_(f.levels))
    if f.division_path:
        stmt = stmt.where(Incident.division_path.startswith(f.division_path, autoescape=True))
    if f.since:
        stmt = stmt.where(Incident.last_reported_at >= f.since)
    if f.until:
        stmt = stmt.where(Incident.first_reported_at <= f.until)
    if f.text:
        stmt = stmt.where(
            Incident.title.contains(f.text, autoescape=True)
            | Incident.address.contains(f.text, autoescape=True)
            | (Incident.number == f.text)
        )
    return stmt


async def list_incidents(
    *,
    session: AsyncSession,
    scope: Scope,
    filters: IncidentFilter,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Incident], int]:
    stmt = _filtered(incident_query(scope), filters)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = (
        await session.scalars(
            stmt.order_by(Incident.last_reported_at.desc(), Incident.id).offset(offset).limit(limit)
        )
    ).all()
    return list(rows), total


_POINT_COLUMNS = (
    Incident.id,
    Incident.number,
    Incident.title,
    Incident.level,
    Incident.state,
    Incident.category_code,
    Incident.last_reported_at,
    Incident.report_count,
    Incident.lon,
    Incident.lat,
)


async def incident_points(
    *, session: AsyncSession, scope: Scope, filters: IncidentFilter, limit: int
) -> list[Row[Any]]:
    """The incidents of the list's filters that have a point, only the columns a map needs
    (the situation board loads thousands), newest activity first."""
    stmt = (
        _filtered(incident_query(scope), filters)
        .with_only_columns(*_POINT_COLUMNS)
        .where(Incident.lon.is_not(None), Incident.lat.is_not(None))
        .order_by(Incident.last_reported_at.desc(), Incident.id)
        .limit(limit)
    )
    return cast("list[Row[Any]]", list((await session.execute(stmt)).all()))


def new_number(moment: datetime) -> str:
    """日期-六位 (date and six hex digits): short enough to read out on the phone; random, so
    two incidents of one day may draw the same one (``store_incident`` draws again)."""
    local = moment.astimezone(clock.LOCAL_TZ)
    return f"{local:%Y%m%d}-{uuid.uuid4().hex[:6].upper()}"


_INCIDENT = cast(Table, Incident.__table__)
_INCIDENT_BLANK = blank_row(_INCIDENT)
_INSERT_INCIDENT = InsertUnlessTaken(_INCIDENT, ["number"])
NUMBER_DRAWS = 8


def new_incident(values: dict[str, Any]) -> Incident:
    """An incident in state ``reported``, with its id and a number, not yet stored."""
    now = clock.now()
    return Incident(
        **{
            **_INCIDENT_BLANK,
            "id": new_id(),
            "number": new_number(values["first_reported_at"]),
            "state": "reported",
            "report_count": 0,
            "created_at": now,
            "updated_at": now,
            **values,
        }
    )


async def store_incident(session: AsyncSession, incident: Incident) -> None:
    """Insert a new incident (from :func:`new_incident`) and track it in ``session``.

    Its number is drawn again while another incident has it: with a thousand incidents a day,
    two of a day's 16.7 million numbers coincide on about one day in thirty, and the report
    that opened the second one must not fail for it."""
    for _ in range(NUMBER_DRAWS):
        if await _INSERT_INCIDENT(session, incident):
            return
        incident.number = new_number(clock.as_utc(incident.first_reported_at))
    raise RuntimeError(f"no free incident number after {NUMBER_DRAWS} draws")


async def create_incident(*, session: AsyncSession, values: dict[str, Any]) -> Incident:
    incident = new_incident(values)
    await store_incident(session, incident)
    return incident


def absorb_report(incident: Incident, *, received_at: datetime, casualties: dict[str, int]) -> None:
    """Fold one more report into the incident's counters (casualties: the highest reported)."""
    incident.report_count += 1
    incident.last_reported_at = max(clock.as_utc(incident.last_reported_at), received_at)
    incident.first_reported_at = min(clock.as_utc(incident.first_reported_at), received_at)
    for name in CASUALTY_FIELDS:
        setattr(incident, name, max(getattr(incident, name) or 0, casualties.get(name, 0)))
    incident.updated_at = clock.now()


async def add_timeline(
    *,
    session: AsyncSession,
    incident_id: uuid.UUID,
    kind: str,
    summary: str,
    data: dict[str, Any] | None = None,
    code: str = reasons.LEGACY,
    params: dict[str, Any] | None = None,
) -> TimelineEntry:
    """A timeline row: ``code`` and ``params`` say what happened for the screens (see
    ``core.reasons``; the words are in ``web/src/i18n``), ``summary`` in Chinese for the
    bulletin. The actor is named as people know them (the account's display name)."""
    ctx = audit.current_context.get()
    entry = TimelineEntry(
        incident_id=incident_id,
        at=clock.now(),
        kind=kind,
        actor_id=ctx.actor_id,
        actor_name=ctx.actor_display or ctx.actor_name,
        code=code,
        params=None if params is None else audit.jsonable(params),
        summary=summary,
        data=None if data is None else audit.jsonable(data),
    )
    session.add(entry)  # inserted with the transaction's next flush
    return entry


async def timeline(*, session: AsyncSession, incident_id: uuid.UUID) -> list[TimelineEntry]:
    rows = await session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident_id)
        .order_by(TimelineEntry.at, TimelineEntry.id)
    )
    return list(rows.all())


def meant_for_units(entry: TimelineEntry) -> bool:
    """A note the centre wrote for the units on the incident (``for_units``)."""
    return entry.kind == "noted" and bool((entry.data or {}).get("for_units"))


async def readable_timeline(
    *, session: AsyncSession, incident: Incident, scope: Scope
) -> list[TimelineEntry]:
    """The timeline as ``scope`` reads it: whole inside its area; a unit that reads the incident
    only through its order (``Scope.incident_ids``) reads the notes meant for units."""
    entries = await timeline(session=session, incident_id=incident.id)
    if scope.covers(division_path=incident.division_path):
        return entries
    return [e for e in entries if meant_for_units(e)]


def reachable_from(to: str) -> tuple[IncidentState, ...]:
    """The states from which an incident may become ``to`` (``INCIDENT_TRANSITIONS``)."""
    target = IncidentState(to)
    return tuple(state for state, nexts in INCIDENT_TRANSITIONS.items() if target in nexts)


async def transition(
    *,
    session: AsyncSession,
    incident: Incident,
    to: str,
    allowed_from: Collection[str] | None = None,
    values: dict[str, Any] | None = None,
) -> str:
    """Compare-and-set the state; returns the state it left. Raises if it was not allowed.

    The step must be one of ``INCIDENT_TRANSITIONS``; ``allowed_from`` narrows the states it
    may start from (default: every state the table allows it from)."""
    possible = reachable_from(to)
    starts = possible if allowed_from is None else tuple(IncidentState(s) for s in allowed_from)
    if not set(starts) <= set(possible):
        raise ValueError(f"no transition to {to} from {sorted(set(starts) - set(possible))}")
    before = incident.state
    result = await session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.state.in_(starts))
        .values(state=IncidentState(to), updated_at=clock.now(), **(values or {}))
        .execution_options(synchronize_session=False)
    )
    if not rows_affected(result):
        await session.refresh(incident)
        raise InvalidTransition(
            "invalid_transition",
            f"an incident that is {incident.state} cannot become {to}",
            {"state": incident.state, "to": str(to), "allowed_from": [str(s) for s in starts]},
        )
    await session.refresh(incident)
    return before


def level_at_least(level: str, threshold: str) -> bool:
    """``I`` is the most severe: ``level_at_least('II', 'III')`` is True."""
    return LEVELS.index(level) <= LEVELS.index(threshold)


class CandidateRow(NamedTuple):
    """What matching reads of a candidate incident: a row of a few columns, not an entity, so
    that reading the tens of incidents near a report stays cheap."""

    id: uuid.UUID
    category_code: str | None
    lon: float | None
    lat: float | None
    location_source: str | None
    division_adcode: str | None
    division_path: str | None
    first_reported_at: datetime
    last_reported_at: datetime
    address: str | None


_CANDIDATE_COLUMNS = tuple(getattr(Incident, name) for name in CandidateRow._fields)


async def candidates(
    *,
    session: AsyncSession,
    categories: Sequence[str] | None,
    received_at: datetime,
    window: timedelta,
    lon: float | None,
    lat: float | None,
    distance_m: float,
    division_path: str | None,
    scope: Scope | None = None,
    limit: int = 200,
) -> list[CandidateRow]:
    """Open incidents a report might be about: related category, in the time window, nearby:
    with a measured point inside the bounding box around (``lon``, ``lat``), or without one
    inside ``division_path``, or placed nowhere by a centre whose area holds it. The newest
    ``limit`` (a typhoon day in one town stays well below it). With ``scope``, only those it
    may read (a duty officer's draft is shown the incidents of the officer's area)."""
    params: dict[str, Any] = {"since": received_at - window, "until": received_at + window}
    if categories is not None:
        params["categories"] = list(categories)
    if division_path:
        params["path_prefix"] = _like_prefix(division_path)
        params["above"] = _paths_above(division_path)
    if lon is not None and lat is not None:
        bbox = geo.radius_bbox(lon, lat, distance_m)
        params.update(zip(("min_lon", "min_lat", "max_lon", "max_lat"), bbox, strict=True))
    elif not division_path:
        return []
    stmt = _candidate_query(
        by_category=categories is not None,
        by_point=lon is not None and lat is not None,
        by_path=bool(division_path),
        limit=limit,
    )
    rows = [CandidateRow(*row) for row in await session.execute(stmt, params)]
    if scope is not None:
        rows = [r for r in rows if scope.covers(division_path=r.division_path)]
    return rows


async def incidents_by_id(
    *, session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Incident]:
    """The incidents of ``ids`` that exist, by id (no scope: callers pass ids they may see)."""
    if not ids:
        return {}
    rows = await session.scalars(select(Incident).where(Incident.id.in_(list(ids))))
    return {i.id: i for i in rows.all()}


async def readable_incident_ids(
    *, session: AsyncSession, ids: Collection[uuid.UUID], scope: Scope
) -> set[uuid.UUID]:
    """Those of ``ids`` that ``scope`` may read (one query; none for an unlimited scope)."""
    if not ids or scope.everything:
        return set(ids)
    rows = await session.scalars(
        incident_query(scope)
        .with_only_columns(Incident.id)
        .where(Incident.id.in_(in_list(list(ids))))
    )
    return set(rows.all())


def measured(source: str | None) -> bool:
    """Whether a point from ``source`` was measured rather than taken from a named place."""
    return source in MEASURED_SOURCES


def refine_place(incident: Incident, report: IncomingReport) -> None:
    """Place the incident better from a report that joined it (an intake Report).

    The report's point is taken when the incident has none, or when it is measured and the
    incident's is only a named place's; its division is taken when it lies inside the
    incident's and is finer (the incident is never moved out of where it was seen)."""
    if report.lon is not None and report.lat is not None:
        better = measured(report.location_source) and not measured(incident.location_source)
        if incident.lon is None or incident.lat is None or better:
            incident.lon, incident.lat = report.lon, report.lat
            incident.location_source = report.location_source
    path = report.division_path if report.division_adcode else None
    current = incident.division_path or ""
    if path and len(path) > len(current) and path.startswith(current):
        incident.division_adcode, incident.division_path = report.division_adcode, path


@functools.cache
def _candidate_query(*, by_category: bool, by_point: bool, by_path: bool, limit: int) -> Any:
    """The statement of :func:`candidates` for one shape of question, built once: building
    and caching-keying it cost more than running it. Its values are bound at execution."""
    stmt = select(*_CANDIDATE_COLUMNS).where(
        Incident.state.in_(OPEN_STATES),
        Incident.last_reported_at >= bindparam("since"),
        Incident.first_reported_at <= bindparam("until"),
    )
    if by_category:
        related = Incident.category_code.in_(bindparam("categories", expanding=True))
        stmt = stmt.where(related | Incident.category_code.is_(None))
    # in the subtree, or placed nowhere, kept with the area of a centre above it
    in_path = Incident.division_path.like(bindparam("path_prefix"), escape="\\")
    nowhere_above = Incident.division_adcode.is_(None) & Incident.division_path.in_(
        bindparam("above", expanding=True)
    )
    if by_point:
        has_point = Incident.location_source.in_(sorted(MEASURED_SOURCES))
        near = (
            has_point
            & Incident.lon.between(bindparam("min_lon"), bindparam("max_lon"))
            & Incident.lat.between(bindparam("min_lat"), bindparam("max_lat"))
        )
        if by_path:
            near = near | ((Incident.location_source.is_(None) | ~has_point) & in_path)
            near = near | nowhere_above
        stmt = stmt.where(near)
    else:
        stmt = stmt.where(in_path | nowhere_above)
    return stmt.order_by(Incident.last_reported_at.desc()).limit(limit)


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern (escape character ``\\``) matching the strings that start with ``prefix``."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def _paths_above(division_path: str) -> list[str]:
    parts = [p for p in division_path.split("/") if p]
    return ["".join(f"{p}/" for p in parts[:i]) for i in range(1, len(parts))]


def absorb_counts(target: Incident, source: Incident) -> None:
    """Fold a merged incident's counters into the one that remains."""
    target.report_count += source.report_count
    target.first_reported_at = min(
        clock.as_utc(target.first_reported_at), clock.as_utc(source.first_reported_at)
    )
    target.last_reported_at = max(
        clock.as_utc(target.last_reported_at), clock.as_utc(source.last_reported_at)
    )
    for name in CASUALTY_FIELDS:
        setattr(target, name, max(getattr(target, name) or 0, getattr(source, name) or 0))
    target.updated_at = clock.now()


def recount(incident: Incident, *, report_count: int) -> None:
    incident.report_count = report_count
    incident.updated_at = clock.now()


def casualties_of(report: IncomingReport) -> dict[str, int]:
    return {name: int(getattr(report, name) or 0) for name in CASUALTY_FIELDS}


def values_from_report(report: IncomingReport, *, title: str | None = None) -> dict[str, Any]:
    """The first values of an incident opened by ``report`` (an intake Report)."""
    received = clock.as_utc(report.received_at)
    place = report.address or ""
    return {
        "title": (title or f"{place} {report.text}".strip())[:200],
        "kind": kind_of(report.category_code),
        "category_code": report.category_code,
        "level": report.suggested_level or "IV",
        "level_reason": report.level_reason,
        "level_why": report.level_why,
        "division_adcode": report.division_adcode,
        "division_path": report.division_path,
        "lon": report.lon,
        "lat": report.lat,
        "location_source": report.location_source if report.lon is not None else None,
        "address": report.address,
        "first_reported_at": received,
        "last_reported_at": received,
    }


# --- reporting deadlines (信息报送时限) --------------------------------------------------


async def ensure_reporting_deadlines(*, session: AsyncSession) -> int:
    """Add the shipped default deadlines that the table lacks; never overwrite an edited one."""
    text = resources.files("yingji").joinpath("data/reporting_deadlines.json").read_text("utf-8")
    existing = {
        (r.division_adcode, r.category_prefix, r.level)
        for r in (await session.scalars(select(ReportingDeadline))).all()
    }
    added = 0
    for row in json.loads(text)["deadlines"]:
        key = (row.get("division_adcode", ""), row["category_prefix"], row["level"])
        if key not in existing:
            session.add(ReportingDeadline(**{"division_adcode": "", **row}))
            added += 1
    await session.flush()
    return added


async def list_reporting_deadlines(*, session: AsyncSession) -> list[ReportingDeadline]:
    rows = await session.scalars(
        select(ReportingDeadline).order_by(
            ReportingDeadline.division_adcode,
            ReportingDeadline.category_prefix,
            ReportingDeadline.level,
        )
    )
    return list(rows.all())


async def reporting_rule(
    *, session: AsyncSession, category_code: str | None, level: str, division_path: str | None
) -> ReportingDeadline | None:
    """The rule an incident answers to: within the nearest jurisdiction on ``division_path``
    (the incident's division first, then its parents, then "" everywhere) that has a rule
    fitting the category and level, the most specific category prefix."""
    rows = (
        await session.scalars(select(ReportingDeadline).where(ReportingDeadline.level == level))
    ).all()
    code = category_code or ""
    fitting = [
        r
        for r in rows
        if code == r.category_prefix
        or code.startswith(f"{r.category_prefix}.")
        or r.category_prefix == ""
    ]
    jurisdictions = [a for a in (division_path or "").split("/") if a][::-1] + [""]
    for adcode in jurisdictions:
        mine = [r for r in fitting if r.division_adcode == adcode]
        if mine:
            return max(mine, key=lambda r: len(r.category_prefix))
    return None


async def written_deadline_minutes(
    *,
    session: AsyncSession,
    category_code: str | None,
    level: str,
    fallback: int,
    division_path: str | None = None,
) -> int:
    """The written 首报's minutes by :func:`reporting_rule`, else ``fallback`` minutes."""
    rule = await reporting_rule(
        session=session, category_code=category_code, level=level, division_path=division_path
    )
    return fallback if rule is None else rule.written_minutes


REPORTING_DEADLINE_FIELDS = (
    "division_adcode",
    "category_prefix",
    "level",
    "phone_minutes",
    "written_minutes",
    "followup_hours",
    "final_days",
    "basis",
)


async def get_reporting_deadline(
    *, session: AsyncSession, category_prefix: str, level: str, division_adcode: str = ""
) -> ReportingDeadline | None:
    return await session.scalar(
        select(ReportingDeadline).where(
            ReportingDeadline.division_adcode == division_adcode,
            ReportingDeadline.category_prefix == category_prefix,
            ReportingDeadline.level == level,
        )
    )


async def set_reporting_deadline(
    *,
    session: AsyncSession,
    category_prefix: str,
    level: str,
    phone_minutes: int,
    written_minutes: int,
    basis: str | None,
    division_adcode: str = "",
    followup_hours: int | None = None,
    final_days: int | None = None,
) -> ReportingDeadline:
    row = await get_reporting_deadline(
        session=session,
        category_prefix=category_prefix,
        level=level,
        division_adcode=division_adcode,
    )
    if row is None:
        row = ReportingDeadline(
            division_adcode=division_adcode, category_prefix=category_prefix, level=level
        )
        session.add(row)
    row.phone_minutes, row.written_minutes, row.basis = phone_minutes, written_minutes, basis
    row.followup_hours, row.final_days = followup_hours, final_days
    await session.flush()
    return row


def _display(incident: Incident) -> dict[str, Any]:
    """What a screen needs to draw the incident from its event alone (no fetch first)."""
    return {
        "title": incident.title,
        "address": incident.address,
        "first_reported_at": clock.as_utc(incident.first_reported_at).isoformat(),
        "last_reported_at": clock.as_utc(incident.last_reported_at).isoformat(),
    }


@dataclass(frozen=True)
class IncidentTimelineEntry:
    """One line for an incident's timeline, written by ``core.changes.record_change``."""

    incident_id: uuid.UUID
    kind: str
    summary: str
    code: str
    params: dict[str, Any] | None
    data: dict[str, Any] | None

    async def write(self, session: AsyncSession) -> None:
        await add_timeline(
            session=session,
            incident_id=self.incident_id,
            kind=self.kind,
            summary=self.summary,
            data=self.data,
            code=self.code,
            params=self.params,
        )


def timeline_entry(
    incident: Incident,
    *,
    code: str,
    summary: str,
    params: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    kind: str | None = None,
) -> IncidentTimelineEntry:
    """The timeline line of a change to ``incident``: ``code`` and ``params`` for the screens,
    ``summary`` in Chinese, ``kind`` (default: the code's last word)."""
    return IncidentTimelineEntry(
        incident_id=incident.id,
        kind=kind or code.rsplit(".", 1)[-1],
        summary=summary,
        code=code,
        params=params,
        data=data,
    )


async def trace(
    *,
    session: AsyncSession,
    incident: Incident,
    action: str,
    summary: str,
    before: dict[str, Any] | None,
    data: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    code: str | None = None,
) -> None:
    """A change to an incident, recorded (``core.changes.record_change``) with what is the
    incident's own: its timeline line and an event a screen can draw the incident from.

    The timeline row's code is ``code`` or else ``action``, with ``params`` (else ``data``)
    for its words; the event's payload is the incident after the change, the summary and
    ``data``. What the change was is the caller's, how it is recorded is here.
    """
    after = audit.snapshot(incident, INCIDENT_FIELDS)
    await record_change(
        session,
        action=action,
        subject_type="incident",
        subject_id=incident.id,
        before=before,
        after=after,
        audience=EventScope(division_path=incident.division_path),
        timeline=timeline_entry(
            incident,
            code=code or action,
            kind=action.rsplit(".", 1)[-1],
            summary=summary,
            params=params if params is not None else (data or {}),
            data=data,
        ),
        payload={"incident": {**after, **_display(incident)}, "summary": summary, **(data or {})},
    )


def incident_from_report(report: IncomingReport, *, title: str | None = None) -> Incident:
    """A new incident whose first report is ``report`` (an intake Report), with its id and
    counts, not yet added to a session."""
    incident = new_incident(values_from_report(report, title=title))
    absorb_report(
        incident, received_at=clock.as_utc(report.received_at), casualties=casualties_of(report)
    )
    return incident


async def open_from_report(
    *, session: AsyncSession, report: IncomingReport, title: str | None = None
) -> Incident:
    """A new incident whose first report is ``report`` (an intake Report), stored."""
    incident = incident_from_report(report, title=title)
    await store_incident(session, incident)  # one INSERT, counts included
    return incident


# --- read for other domains (dispatch) -----------------------------------------------------------


def incident_facts() -> Subquery:
    """SQL: every incident's ``id``, ``number``, ``title``, ``kind``, ``state``, ``closed_at``
    and where it is (``division_adcode``, ``division_path``), to join in other domains'
    set-based queries (the dispatch KPIs and bulletin, the reporting board)."""
    return select(
        Incident.id,
        Incident.number,
        Incident.title,
        Incident.kind,
        Incident.state,
        Incident.closed_at,
        Incident.division_adcode,
        Incident.division_path,
    ).subquery("incident_facts")


def incident_ids_of_kind(kind: str) -> Select[uuid.UUID]:
    """SQL: the ids of the incidents of ``kind`` (emergency, or service cases), for other
    domains' set-based queries (the dispatch KPIs count the two apart)."""
    return select(Incident.id).where(Incident.kind == kind)
