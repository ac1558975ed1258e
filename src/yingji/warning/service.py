"""Warnings as stored: reading them within a scope (a desk reads its division subtree, a
recipient reads the warning sent to them), numbering, checking what a draft says, the frozen
recipient list (written with Core bulk inserts) and the facts events carry."""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    Table,
    exists,
    false,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock
from yingji.core.db import InsertUnlessTaken, blank_row, dialect_of
from yingji.core.errors import NotFound, ValidationFailed
from yingji.core.security import Principal, Scope
from yingji.org import service as org
from yingji.warning import catalogue
from yingji.warning.models import (
    Warning,
    WarningLevel,
    WarningRecipient,
    WarningState,
    WarningType,
)

#: bounds on what a draft says
MAX_AREA_POINTS = 5000
MAX_AREA_ADCODES = 200
ADCODE = re.compile(r"\d{6}(?:\d{3}){0,2}")
CAP_STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
#: rows per INSERT statement when the recipient list is written
INSERT_CHUNK = 2000

#: the fields a draft's author writes (PATCH takes any of them)
DRAFT_FIELDS = (
    "type_code",
    "level",
    "headline",
    "description",
    "instruction",
    "headline_en",
    "description_en",
    "instruction_en",
    "issuer",
    "area_desc",
    "area",
    "area_adcodes",
    "onset_at",
    "expires_at",
    "cap_status",
)
#: what the audit row keeps of a warning
SNAPSHOT_FIELDS = (
    "number",
    "state",
    "origin",
    "msg_type",
    "type_code",
    "level",
    "headline",
    "division_adcode",
    "area_desc",
    "area_adcodes",
    "onset_at",
    "expires_at",
    "sent_at",
    "identifier",
    "state_reason",
    "recipient_count",
    "version",
)


# --- reading -------------------------------------------------------------------------------------


def scope_clause(scope: Scope) -> ColumnElement[bool]:
    """Warnings a desk reads: those issued (or received) by a division of its subtree."""
    return scope.clause(path_column=Warning.division_path)


def _readable(principal: Principal) -> ColumnElement[bool]:
    """A desk's subtree, or a warning the principal is a recipient of."""
    as_recipient = exists().where(
        WarningRecipient.warning_id == Warning.id,
        WarningRecipient.user_id == principal.user_id,
    )
    return or_(scope_clause(principal.scope), as_recipient)


async def get_warning(
    *, session: AsyncSession, warning_id: uuid.UUID, principal: Principal
) -> Warning | None:
    return await session.scalar(
        select(Warning).where(Warning.id == warning_id, _readable(principal))
    )


async def get_warning_or_raise(
    *, session: AsyncSession, warning_id: uuid.UUID, principal: Principal
) -> Warning:
    warning = await get_warning(session=session, warning_id=warning_id, principal=principal)
    if warning is None:
        raise NotFound("warning_not_found", "no such warning", {"warning_id": str(warning_id)})
    return warning


async def get_desk_warning_or_raise(
    *, session: AsyncSession, warning_id: uuid.UUID, scope: Scope
) -> Warning:
    """A warning of the desk's subtree (what the workflow may change)."""
    warning = await session.scalar(
        select(Warning).where(Warning.id == warning_id, scope_clause(scope))
    )
    if warning is None:
        raise NotFound("warning_not_found", "no such warning", {"warning_id": str(warning_id)})
    return warning


@dataclass(frozen=True)
class WarningFilter:
    state: str | None = None
    origin: str | None = None
    level: str | None = None
    type_code: str | None = None
    q: str | None = None


def filtered_query(principal: Principal, filters: WarningFilter) -> Select[Warning]:
    stmt = select(Warning).where(_readable(principal))
    if filters.state:
        stmt = stmt.where(Warning.state == filters.state)
    if filters.origin:
        stmt = stmt.where(Warning.origin == filters.origin)
    if filters.level:
        stmt = stmt.where(Warning.level == filters.level)
    if filters.type_code:
        stmt = stmt.where(Warning.type_code == filters.type_code)
    if filters.q:
        stmt = stmt.where(
            Warning.headline.contains(filters.q, autoescape=True)
            | Warning.number.contains(filters.q, autoescape=True)
            | Warning.area_desc.contains(filters.q, autoescape=True)
        )
    return stmt


async def list_warnings(
    *,
    session: AsyncSession,
    principal: Principal,
    filters: WarningFilter,
    offset: int,
    limit: int,
) -> tuple[list[Warning], int]:
    stmt = filtered_query(principal, filters)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.scalars(
        stmt.order_by(Warning.created_at.desc(), Warning.number.desc()).offset(offset).limit(limit)
    )
    return list(rows.all()), total


async def list_types(*, session: AsyncSession) -> list[WarningType]:
    rows = await session.scalars(
        select(WarningType).where(WarningType.active.is_(True)).order_by(WarningType.sort)
    )
    return list(rows.all())


async def get_type(*, session: AsyncSession, code: str) -> WarningType | None:
    return await session.get(WarningType, code)


# --- numbering -----------------------------------------------------------------------------------


async def new_number(*, session: AsyncSession, moment: datetime) -> str:
    """``YJ-W-<date in +08:00>-NNNN``: the day's next number (a unique column backs it)."""
    day = clock.as_utc(moment).astimezone(catalogue.CHINA).strftime("%Y%m%d")
    prefix = f"YJ-W-{day}-"
    last = await session.scalar(
        select(func.max(Warning.number)).where(Warning.number.startswith(prefix))
    )
    sequence = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{sequence:04d}"


_WARNING = cast(Table, Warning.__table__)
#: a new warning's columns before its values (Core inserts apply no ORM defaults)
BLANK_WARNING = blank_row(_WARNING)
_INSERT_WARNING = InsertUnlessTaken(_WARNING, ["number"])
NUMBER_DRAWS = 8


async def store_warning(session: AsyncSession, warning: Warning) -> None:
    """Insert a new warning (every column set; see ``BLANK_WARNING``) and track it in
    ``session``; while another warning has its number (two drafts at once), the day's next."""
    for _ in range(NUMBER_DRAWS):
        if await _INSERT_WARNING(session, warning):
            return
        warning.number = await new_number(session=session, moment=warning.created_at)
    raise RuntimeError(f"no free warning number after {NUMBER_DRAWS} draws")


async def next_cap_sequence(*, session: AsyncSession, stem: str) -> int:
    """The sequence number of an identifier issued in the second ``stem`` names (from 1)."""
    taken = await session.scalar(
        select(func.count()).where(Warning.identifier.startswith(stem, autoescape=True))
    )
    return int(taken or 0) + 1


# --- checking a draft ----------------------------------------------------------------------------


def _invalid(code: str, message: str, **details: object) -> ValidationFailed:
    return ValidationFailed(code, message, details or None)


def _count_points(value: object, depth: int = 0) -> int:
    if depth > 4 or not isinstance(value, list):
        return MAX_AREA_POINTS + 1
    if len(value) in (2, 3) and all(isinstance(v, int | float) for v in value):
        return 1
    return sum(_count_points(v, depth + 1) for v in value)


def check_area(
    area: Mapping[str, Any] | None,
) -> tuple[dict[str, Any] | None, tuple[float, float, float, float] | None]:
    """A GeoJSON Polygon/MultiPolygon (WGS-84, inside China, at most ``MAX_AREA_POINTS``
    points), made valid, with its box; None for none."""
    if area is None:
        return None, None
    if area.get("type") not in ("Polygon", "MultiPolygon") or (
        _count_points(area.get("coordinates")) > MAX_AREA_POINTS
    ):
        raise _invalid(
            "warning_area_invalid",
            f"area is a GeoJSON Polygon or MultiPolygon of at most {MAX_AREA_POINTS} points",
            problem="not_a_polygon",
            max_points=MAX_AREA_POINTS,
        )
    try:
        normalised, bounds, _inside = org.normalise_boundary(dict(area))
    except ValidationFailed as exc:
        raise _invalid(
            "warning_area_invalid", "area is not a usable polygon", problem=exc.code
        ) from None
    min_lon, min_lat, max_lon, max_lat = (float(b) for b in bounds)
    if not all(math.isfinite(b) for b in (min_lon, min_lat, max_lon, max_lat)):
        raise _invalid("warning_area_invalid", "area is not finite", problem="not_finite")
    return normalised, (min_lon, min_lat, max_lon, max_lat)


async def check_area_adcodes(
    *, session: AsyncSession, adcodes: Sequence[str], within_path: str
) -> list[str]:
    """Distinct 12-digit division codes (at most ``MAX_AREA_ADCODES``), each a division in the
    subtree at ``within_path``."""
    codes = list(dict.fromkeys(adcodes))
    if len(codes) > MAX_AREA_ADCODES:
        raise _invalid(
            "warning_area_invalid", "too many division codes", max_adcodes=MAX_AREA_ADCODES
        )
    bad = [code for code in codes if not ADCODE.fullmatch(code)]
    if bad:
        raise _invalid(
            "warning_area_invalid", "division codes have 6, 9 or 12 digits", adcode=bad[0][:20]
        )
    paths = await org.division_paths(session=session, adcodes=codes, scope=Scope(everything=True))
    for code in codes:
        path = paths.get(code)
        if path is None:
            raise _invalid("division_not_found", f"no division {code}", adcode=code)
        if not path.startswith(within_path):
            raise _invalid(
                "warning_area_outside", "the area lies outside the issuing division", adcode=code
            )
    return codes


async def check_type_and_level(
    *, session: AsyncSession, type_code: str | None, level: str | None
) -> None:
    if level is not None and level not in {lv.value for lv in WarningLevel}:
        raise _invalid("warning_level_unknown", "no such level", level=level[:20])
    if type_code is None:
        return
    kind = await get_type(session=session, code=type_code)
    if kind is None or not kind.active:
        raise _invalid("warning_type_unknown", "no such warning type", type_code=type_code[:40])
    if level is not None and level not in kind.levels:
        raise _invalid(
            "warning_level_not_allowed",
            "this type has no such colour",
            type_code=type_code,
            level=level,
            allowed=list(kind.levels),
        )


def check_times(onset_at: datetime | None, expires_at: datetime | None) -> None:
    if onset_at is not None and expires_at is not None and expires_at <= onset_at:
        raise _invalid(
            "warning_times_disordered",
            "expires_at comes after onset_at",
            onset_at=onset_at.isoformat(),
            expires_at=expires_at.isoformat(),
        )


def check_ready(warning: Warning) -> None:
    """What a warning needs before it goes out (submit and publish): a type and level, a
    headline, an area, and an end not yet passed."""
    missing = [
        name
        for name, present in (
            ("type_code", warning.type_code),
            ("level", warning.level),
            ("headline", warning.headline.strip()),
            ("issuer", warning.issuer.strip()),
            ("area", warning.area is not None or bool(warning.area_adcodes)),
        )
        if not present
    ]
    if missing:
        raise _invalid("warning_incomplete", "the warning misses fields", fields=missing)
    if warning.expires_at is not None and clock.as_utc(warning.expires_at) <= clock.now():
        raise _invalid(
            "warning_expired_already",
            "the warning's end has passed",
            expires_at=warning.expires_at.isoformat(),
        )


# --- the frozen recipient list -------------------------------------------------------------------


async def copy_rows(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write rows (every column given) in the session's transaction: on PostgreSQL with the
    driver's binary COPY (the 100,000-recipient path), elsewhere with Core bulk inserts."""
    if not rows:
        return
    if dialect_of(session) != "postgresql":
        for start in range(0, len(rows), INSERT_CHUNK):
            await session.execute(insert(table), list(rows[start : start + INSERT_CHUNK]))
        return
    columns = [c.name for c in table.columns]
    as_json = {c.name for c in table.columns if isinstance(c.type, JSON)}
    records = [
        tuple(json.dumps(row[c], ensure_ascii=False) if c in as_json else row[c] for c in columns)
        for row in rows
    ]
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection  # asyncpg's connection
    await driver.copy_records_to_table(table.name, records=records, columns=columns)


async def insert_recipients(*, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write recipient rows (every column given) in bulk."""
    await copy_rows(session, cast(Table, WarningRecipient.__table__), rows)


@dataclass(frozen=True)
class RecipientFilter:
    reason: str | None = None
    must_ack: bool | None = None
    call_state: str | None = None
    town_adcode: str | None = None
    q: str | None = None


def recipients_query(warning_id: uuid.UUID, filters: RecipientFilter) -> Select[Any]:
    stmt = select(WarningRecipient).where(WarningRecipient.warning_id == warning_id)
    if filters.reason:
        stmt = stmt.where(WarningRecipient.reason == filters.reason)
    if filters.must_ack is not None:
        stmt = stmt.where(WarningRecipient.must_ack.is_(filters.must_ack))
    if filters.call_state:
        stmt = stmt.where(WarningRecipient.call_state == filters.call_state)
    if filters.town_adcode:
        stmt = stmt.where(WarningRecipient.town_adcode == filters.town_adcode)
    if filters.q:
        stmt = stmt.where(WarningRecipient.name.contains(filters.q, autoescape=True))
    return stmt


async def list_recipients(
    *,
    session: AsyncSession,
    warning_id: uuid.UUID,
    filters: RecipientFilter,
    offset: int,
    limit: int,
) -> tuple[list[WarningRecipient], int]:
    stmt = recipients_query(warning_id, filters)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.scalars(
        stmt.order_by(WarningRecipient.reason, WarningRecipient.name, WarningRecipient.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows.all()), total


async def reached_recipients(
    *, session: AsyncSession, warning_id: uuid.UUID
) -> list[tuple[uuid.UUID, str, list[dict[str, str]], uuid.UUID | None]]:
    """Everyone the warning went to: (id, name, channels, user id)."""
    rows = await session.execute(
        select(
            WarningRecipient.id,
            WarningRecipient.name,
            WarningRecipient.channels,
            WarningRecipient.user_id,
        ).where(WarningRecipient.warning_id == warning_id)
    )
    return [(r[0], r[1], list(r[2] or []), r[3]) for r in rows]


# --- facts ---------------------------------------------------------------------------------------


def facts(warning: Warning) -> dict[str, Any]:
    """What every warning event names (``{"warning": facts(w)}``)."""
    return {
        "id": str(warning.id),
        "number": warning.number,
        "state": warning.state,
        "level": warning.level,
        "type_code": warning.type_code,
        "headline": warning.headline,
        "division_adcode": warning.division_adcode,
    }


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else clock.as_utc(moment).isoformat()


async def warnings_in_force(
    *, session: AsyncSession, division_path: str, at: datetime, limit: int = 200
) -> list[Warning]:
    """Published warnings in force over a division at ``at`` (a duty handover lists them):
    those issued within its subtree, and those issued above it whose area names it or one of
    its parents (or names no division at all, the issuer's whole area)."""
    ancestors = [part for part in division_path.strip("/").split("/") if part]
    above = [f"{'/'.join(ancestors[:n])}/" for n in range(1, len(ancestors))]
    rows = await session.scalars(
        select(Warning)
        .where(
            Warning.state == WarningState.PUBLISHED,
            or_(Warning.expires_at.is_(None), Warning.expires_at > at),
            or_(
                Warning.division_path.startswith(division_path, autoescape=True),
                Warning.division_path.in_(above) if above else false(),
            ),
        )
        .order_by(Warning.onset_at, Warning.number)
        .limit(limit)
    )
    mine = set(ancestors)
    return [
        w
        for w in rows.all()
        if w.division_path.startswith(division_path)
        or not w.area_adcodes
        or mine.intersection(w.area_adcodes)
    ]
