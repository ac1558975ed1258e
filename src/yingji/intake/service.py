"""Queries and single-entity commands of intake. Flushes, never commits."""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Collection
from datetime import timedelta
from importlib import resources
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import Select, Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock, files
from yingji.core.db import InsertUnlessTaken, blank_row, database_of, in_list, rows_affected
from yingji.core.errors import Conflict, NotFound, ValidationFailed
from yingji.core.files import FileStore
from yingji.core.ids import new_id
from yingji.core.security import Scope
from yingji.intake import gazetteer as gz
from yingji.intake.matching import CallerFix
from yingji.intake.models import Attachment, Category, Place, Report
from yingji.intake.schemas import PUBLIC_WEB, REPORT_TRANSITIONS, ReportStatus
from yingji.org import service as org

T = TypeVar("T")
CACHE_SECONDS = 30.0
KNOWLEDGE = "intake.knowledge"  # the parsed category table: classifier, level rules, matcher


async def reference_version(session: AsyncSession) -> tuple[object, ...]:
    """The state of the intake's reference data (categories, divisions, gazetteer places) in
    one cheap read: the counts and the latest edits."""
    row = (
        await session.execute(
            select(
                select(func.count()).select_from(Category).scalar_subquery(),
                select(func.max(Category.updated_at)).scalar_subquery(),
                *org.divisions_version(),
                select(func.count()).select_from(Place).scalar_subquery(),
            )
        )
    ).one()
    return tuple(row)


async def cached(session: AsyncSession, key: str, build: Callable[[], Awaitable[T]]) -> T:
    """Reference data kept per process; edits in this process drop it at once.

    Every ``CACHE_SECONDS`` the reference data's version is read again (edits made by another
    process show up then), and the value is rebuilt only if it changed: a rebuild (the
    gazetteer with every county of China, the matcher's indexes) takes 40-180 ms inside a
    request on the demo county, and the matcher's text profiles are kept with the value. The
    version is read before the build, so a change made during the build is seen next time."""
    cache = database_of(session).cache
    hit = cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        value: T = hit[1][1]
        return value
    version = await reference_version(session)
    if hit is not None and hit[1][0] == version:
        cache[key] = (now, hit[1])
        kept: T = hit[1][1]
        return kept
    value = await build()
    cache[key] = (now, (version, value))
    return value


def forget(session: AsyncSession, key: str) -> None:
    database_of(session).cache.pop(key, None)


# --- categories ----------------------------------------------------------------------------------


def shipped_categories() -> dict[str, Any]:
    text = resources.files("yingji").joinpath("data/categories.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


async def ensure_categories(*, session: AsyncSession) -> int:
    """Add the shipped categories that the table lacks; never overwrite an edited one."""
    existing = set((await session.scalars(select(Category.code))).all())
    added = 0
    now = clock.now()
    for rule in shipped_categories()["subtypes"]:
        if rule["code"] in existing:
            continue
        session.add(
            Category(
                code=rule["code"],
                parent_code=rule.get("parent"),
                name_zh=rule["name_zh"],
                name_en=rule["name_en"],
                rule=rule,
                active=True,
                updated_at=now,
            )
        )
        added += 1
    await session.flush()
    if added:
        forget(session, KNOWLEDGE)
    return added


async def list_categories(*, session: AsyncSession) -> list[Category]:
    rows = await session.scalars(select(Category).order_by(Category.code))
    return list(rows.all())


async def get_category_or_raise(*, session: AsyncSession, code: str) -> Category:
    category = await session.get(Category, code)
    if category is None:
        raise NotFound("category_not_found", f"no category {code}", {"code": code})
    return category


async def update_category(
    *,
    session: AsyncSession,
    category: Category,
    rule: dict[str, Any],
    active: bool | None,
) -> Category:
    """Give the category its edited rule (and active flag); the category table's cache goes."""
    category.rule = rule
    if active is not None:
        category.active = active
    category.updated_at = clock.now()
    await session.flush()
    forget(session, KNOWLEDGE)
    return category


async def category_rules(*, session: AsyncSession) -> list[tuple[dict[str, Any], bool]]:
    """Every category's rule and whether it is active (inactive ones are never suggested), in
    the shipped table's order, then the administrator's own by code: the classifier breaks a
    tie by this order, so the platform decides as ``classify.load_categories()`` does."""
    shipped = {rule["code"]: i for i, rule in enumerate(shipped_categories()["subtypes"])}
    rows = (await session.scalars(select(Category))).all()
    ordered = sorted(rows, key=lambda row: (shipped.get(row.code, len(shipped)), row.code))
    return [(dict(row.rule), row.active) for row in ordered]


# --- gazetteer -----------------------------------------------------------------------------------


async def gazetteer(*, session: AsyncSession) -> gz.Gazetteer:
    async def build() -> gz.Gazetteer:
        divisions = await org.division_place_names(session=session)
        entries = [
            gz.Entry(name, code, level, lon, lat, parent)
            for name, code, level, lon, lat, parent in divisions
        ]
        places = (await session.scalars(select(Place))).all()
        for place in places:
            entries.extend(
                gz.Entry(
                    name,
                    place.division_adcode,
                    "place",
                    place.lon,
                    place.lat,
                    place.division_adcode,
                )
                for name in [place.name, *(place.aliases or [])]
            )
        local = {code[:6] for _, code, *_ in divisions}
        entries.extend(gz.china_counties(exclude=local))
        return gz.Gazetteer(entries)

    return await cached(session, "gazetteer", build)


async def division_path_of(*, session: AsyncSession, adcode: str | None) -> str | None:
    """The division's path. A division's path never changes once it exists (it is made of the
    adcodes above it), so the paths found are kept per process; an unknown adcode is read each
    time (a division created since)."""
    if not adcode:
        return None
    known: dict[str, str] = database_of(session).cache.setdefault("division_paths", (0.0, {}))[1]
    path = known.get(adcode)
    if path is None:
        path = await org.path_of_division(session=session, adcode=adcode)
        if path is not None:
            known[adcode] = path
    return path


# --- reports -------------------------------------------------------------------------------------


def report_query(scope: Scope) -> Select[Report]:
    return select(Report).where(scope.clause(Report.division_path, None, Report.incident_id))


async def find_report(*, session: AsyncSession, channel: str, external_id: str) -> Report | None:
    return await session.scalar(
        select(Report).where(Report.channel == channel, Report.external_id == external_id)
    )


async def get_report_or_raise(
    *, session: AsyncSession, report_id: uuid.UUID, scope: Scope
) -> Report:
    report = await session.scalar(report_query(scope).where(Report.id == report_id))
    if report is None:
        raise NotFound("report_not_found", f"no report {report_id}")
    return report


async def list_reports(
    *,
    session: AsyncSession,
    scope: Scope,
    located: bool | None = None,
    status: str | None = None,
    incident_id: uuid.UUID | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Report], int]:
    stmt = report_query(scope)
    if located is not None:
        stmt = stmt.where(Report.located.is_(located))
    if status:
        stmt = stmt.where(Report.status == status)
    if incident_id:
        stmt = stmt.where(Report.incident_id == incident_id)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.scalars(
        stmt.order_by(Report.received_at.desc(), Report.id).offset(offset).limit(limit)
    )
    return list(rows.all()), total


class FirstReport(NamedTuple):
    """What the first report of an incident says: the call a responding unit reads first."""

    incident_id: uuid.UUID
    text: str
    reporter_name: str | None
    reporter_phone: str | None


async def first_reports(
    *, session: AsyncSession, incident_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, FirstReport]:
    """The earliest report of each of ``incident_ids``, by incident (no scope: callers pass
    incidents they may read)."""
    if not incident_ids:
        return {}
    rank = (
        func.row_number()
        .over(partition_by=Report.incident_id, order_by=(Report.received_at, Report.id))
        .label("rank")
    )
    ranked = (
        select(*(getattr(Report, name) for name in FirstReport._fields), rank)
        .where(Report.incident_id.in_(in_list(list(incident_ids))))
        .subquery()
    )
    rows = await session.execute(
        select(*(ranked.c[name] for name in FirstReport._fields)).where(ranked.c.rank == 1)
    )
    return {row.incident_id: FirstReport(*row) for row in rows}


_REPORT = cast(Table, Report.__table__)
_REPORT_BLANK = blank_row(_REPORT)
_INSERT_REPORT = InsertUnlessTaken(_REPORT, ["channel", "external_id"])


def new_report(values: dict[str, Any]) -> Report:
    """A report not yet stored, with its id: the columns' plain defaults, then ``values``."""
    return Report(**{**_REPORT_BLANK, **values, "id": new_id(), "created_at": clock.now()})


async def insert_report(*, session: AsyncSession, report: Report) -> tuple[Report, bool]:
    """Store ``report`` (from :func:`new_report`) and return it with True; if the source already
    sent it (same channel and id), store nothing and return the stored one with False.

    One ``INSERT … ON CONFLICT DO NOTHING``: a retry that races its first attempt waits for it
    and then finds the stored report, with no savepoint to set and release."""
    if await _INSERT_REPORT(session, report):
        return report, True
    existing = await find_report(
        session=session, channel=report.channel, external_id=report.external_id
    )
    if existing is None:
        raise RuntimeError("report insert was refused, yet no report has its channel and id")
    return existing, False


async def public_quota_left(
    *, session: AsyncSession, ip: str | None, phone: str | None, per_address: int, per_phone: int
) -> str | None:
    """Which limit a public report would break, if any ("address" or "phone").

    Reports are counted by when the server stored them (``created_at``), never by the
    ``received_at`` the sender claims: a back-dated report counts like any other."""
    since = clock.now() - timedelta(hours=1)
    base = (
        select(func.count())
        .select_from(Report)
        .where(Report.channel == PUBLIC_WEB, Report.created_at >= since)
    )
    if ip and int(await session.scalar(base.where(Report.source_ip == ip)) or 0) >= per_address:
        return "address"
    if (
        phone
        and int(await session.scalar(base.where(Report.reporter_phone == phone)) or 0) >= per_phone
    ):
        return "phone"
    return None


@functools.cache
def _first_texts_query() -> Any:
    """The first ``per`` reports (text, address) of each incident of ``ids``, by arrival:
    rows beyond ``per`` are not read, however many reports a large incident has."""
    ranked = (
        select(
            Report.incident_id,
            Report.text,
            Report.address,
            Report.caller_lon,
            Report.caller_lat,
            Report.caller_accuracy_m,
            func.row_number()
            .over(partition_by=Report.incident_id, order_by=(Report.received_at, Report.id))
            .label("n"),
        )
        .where(Report.incident_id.in_(bindparam("ids", expanding=True)))
        .subquery()
    )
    return (
        select(
            ranked.c.incident_id,
            ranked.c.text,
            ranked.c.address,
            ranked.c.caller_lon,
            ranked.c.caller_lat,
            ranked.c.caller_accuracy_m,
        )
        .where(ranked.c.n <= bindparam("per"))
        .order_by(ranked.c.incident_id, ranked.c.n)
    )


class IncidentTexts(dict[uuid.UUID, list[str]]):
    """The texts of incidents by id; ``callers``: their reports' caller locations."""

    def __init__(self) -> None:
        super().__init__()
        self.callers: dict[uuid.UUID, list[CallerFix]] = {}


async def texts_of_incidents(
    *, session: AsyncSession, incident_ids: list[uuid.UUID], per_incident: int = 5
) -> IncidentTexts:
    """The texts (address first) of the first ``per_incident`` reports of each incident, and
    the caller locations those reports carry."""
    texts = IncidentTexts()
    if not incident_ids:
        return texts
    rows = await session.execute(
        _first_texts_query(), {"ids": in_list(incident_ids), "per": per_incident}
    )
    for incident_id, text, address, lon, lat, accuracy in rows:
        texts.setdefault(incident_id, []).append(f"{address or ''} {text}".strip())
        if lon is not None and lat is not None:
            fix = CallerFix(lon, lat, accuracy or 0.0)
            texts.callers.setdefault(incident_id, []).append(fix)
    return texts


async def change_status(
    *,
    session: AsyncSession,
    report: Report,
    to: ReportStatus,
    values: dict[str, Any] | None = None,
) -> None:
    """Compare-and-set the report's status (``REPORT_TRANSITIONS``): two officers verifying
    one public report at once, one wins and the other is told it is no longer pending (409
    ``report_not_pending``), whatever state it read."""
    starts = [state for state, nexts in REPORT_TRANSITIONS.items() if to in nexts]
    result = await session.execute(
        update(Report)
        .where(Report.id == report.id, Report.status.in_(starts))
        .values(status=to, **(values or {}))
        .execution_options(synchronize_session=False)
    )
    await session.refresh(report)
    if not rows_affected(result):
        raise Conflict(
            "report_not_pending",
            f"the report is {report.status}",
            {"status": report.status, "to": str(to)},
        )


async def move_reports(
    *, session: AsyncSession, from_incident: uuid.UUID, to_incident: uuid.UUID
) -> int:
    result = await session.execute(
        update(Report)
        .where(Report.incident_id == from_incident)
        .values(incident_id=to_incident)
        .execution_options(synchronize_session=False)
    )
    return rows_affected(result)


async def store_attachment(
    *,
    session: AsyncSession,
    store: FileStore,
    report_id: uuid.UUID,
    filename: str,
    content_type: str,
    data: bytes,
    max_bytes: int,
) -> Attachment:
    if len(data) > max_bytes:
        raise ValidationFailed(
            "attachment_too_large",
            f"{filename} is larger than {max_bytes // 2**20} MiB",
            {"filename": filename, "max_bytes": max_bytes},
        )
    found = await files.identify_async(data, claimed=content_type, filename=filename)
    digest = await store.put(data)
    attachment = Attachment(
        report_id=report_id,
        kind=found.kind,
        filename=filename[:200],
        content_type=found.content_type,
        size=len(data),
        sha256=digest,
        created_at=clock.now(),
    )
    session.add(attachment)
    await session.flush()
    return attachment


async def attachments_of(*, session: AsyncSession, report_id: uuid.UUID) -> list[Attachment]:
    rows = await session.scalars(select(Attachment).where(Attachment.report_id == report_id))
    return list(rows.all())


async def add_places(*, session: AsyncSession, places: list[dict[str, Any]]) -> int:
    """Add gazetteer places not yet known (same name in the same division); returns how many."""
    known = set((await session.execute(select(Place.name, Place.division_adcode))).all())
    added = 0
    for place in places:
        if (place["name"], place.get("division_adcode")) in known:
            continue
        session.add(Place(**place))
        added += 1
    await session.flush()
    if added:
        forget(session, "gazetteer")
    return added
