"""The import job (导入): a spreadsheet of one kind (or of stock) checked row by row and
written all or nothing, in the background, with its progress in its row.

``start_import`` keeps the uploaded file in a ``resource_import`` row and schedules a timer in
the same transaction: the job exists exactly when the upload committed. The timer worker fires
:func:`run_import_timer`, which claims the job (a new ``attempt`` and ``token``), schedules a
watch timer for the same job and, once that commit is done, runs the job in a task of this
process (:data:`RUNNER`). The task reads the file, checks the rows in slices (committing
``done`` and a heartbeat after each), checks what needs the database (divisions inside the
requester's area, owning units, warehouses, rows of other areas), then writes every row in one
transaction that ends by marking the job ``done`` — only if its token is still the job's. A
process that dies part-way leaves a job whose heartbeat stops: its watch timer fires on another
worker, which starts it again; what the dead run wrote was never committed.

Rows go in by bulk statements rather than one flow call each (decision 0017): the import is
one change, audited once (``resource.imported``, with the file's SHA-256, kind and counts) and
announced by one event. Rescue teams are the exception: each row's linkage unit comes from the
registry's flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit, clock, security, tabular, timers
from yingji.core.changes import record_change
from yingji.core.db import Database, after_commit, database_of, rows_affected, savepoint
from yingji.core.errors import DomainError, NotFound, ValidationFailed
from yingji.core.events import EventScope
from yingji.core.ids import new_id
from yingji.core.security import Permission, Principal, Scope
from yingji.org import service as org
from yingji.resources import flows, kinds, service, tabular_io
from yingji.resources.models import (
    ImportState,
    Resource,
    ResourceImport,
    ResourceKind,
    StockBatch,
    SupplyItem,
)
from yingji.resources.tabular_io import STOCK, CellError, SheetRow

log = logging.getLogger(__name__)

IMPORT_TIMER = "resources.import"
#: a run whose heartbeat is older than this is taken for dead and started again
STALE = timedelta(minutes=2)
#: rows checked between two progress commits; rows per bulk statement
CHECK_SLICE = 5000
WRITE_SLICE = 1000
#: the largest file accepted (an .xlsx of 100 000 rows of any kind is ~10 MiB)
MAX_UPLOAD = tabular.XLSX_MAX_BYTES
FINISHED = (ImportState.DONE.value, ImportState.FAILED.value)
#: the kinds a sheet may hold (and ``stock``)
KINDS = tuple(kind.value for kind in ResourceKind)
#: who a job started from the command line was requested by
SYSTEM_NAME = security.SYSTEM.username


# --- starting and reading ------------------------------------------------------------------------


def _check_kind(kind: str) -> str:
    if kind == STOCK:
        return kind
    try:
        return kinds.spec(kind).kind.value
    except kinds.FieldProblem as problem:
        raise ValidationFailed("unknown_kind", f"no kind {kind!r}", dict(problem.params)) from None


def check_upload(content: bytes) -> None:
    """An upload that is no sheet is refused at once: too large, or neither a zip archive
    (.xlsx) nor UTF-8 / GB18030 text."""
    if len(content) > MAX_UPLOAD:
        mib = MAX_UPLOAD // 2**20
        raise ValidationFailed(
            "file_too_large", f"the file is larger than {mib} MiB", {"max_mib": mib}
        )
    if not content:
        raise ValidationFailed("file_empty", "the file is empty", {})
    if not tabular.is_xlsx(content) and tabular.decode(content) is None:
        raise ValidationFailed(
            "not_a_sheet", "the file is neither an .xlsx workbook nor CSV text", {}
        )


async def start_import(
    *,
    session: AsyncSession,
    principal: Principal,
    kind: str,
    filename: str,
    content: bytes,
    claim: bool = False,
) -> ResourceImport:
    """A queued import job of ``kind`` (a resource kind or ``stock``) holding ``content``, for
    the timer worker; ``claim``: claimed for the caller, who runs it (:func:`run_job` with the
    job's ``token``) — its watch timer still starts it again should the caller die."""
    kind = _check_kind(kind)
    check_upload(content)
    scope = principal.scope
    now = clock.now()
    job = ResourceImport(
        kind=kind,
        filename=filename[:200],
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        state=ImportState.QUEUED.value,
        total=0,
        done=0,
        created=0,
        updated=0,
        errors=[],
        error_count=0,
        requested_by=None if principal is security.SYSTEM else principal.user_id,
        requested_by_name=principal.username[:100],
        # rows must lie in the requester's division subtree (a unit's principal has none)
        area_path=None if scope.everything else scope.division_path,
        everything=scope.everything,
        attempt=0,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    await session.flush()
    if claim:
        await _claim(session, job, now, "watch-start")
    else:
        await timers.schedule(session, kind=IMPORT_TIMER, subject=job.id, due_at=now, key="start")
    return job


def _readable_by(job: ResourceImport, scope: Scope, user_id: uuid.UUID) -> bool:
    if scope.everything or job.requested_by == user_id:
        return True
    if job.everything or job.area_path is None:
        return False
    return scope.covers(division_path=job.area_path)


async def get_import_or_raise(
    *, session: AsyncSession, principal: Principal, import_id: uuid.UUID
) -> ResourceImport:
    """The job, if the principal started it or its area lies in the principal's (else 404)."""
    job = await session.get(ResourceImport, import_id)
    if job is None or not _readable_by(job, principal.scope, principal.user_id):
        raise NotFound("import_not_found", f"no import {import_id}", {"id": str(import_id)})
    return job


async def job_summary(*, session: AsyncSession, import_id: uuid.UUID) -> dict[str, Any]:
    """The job as the command line reports it (state, counts, problems)."""
    job = await session.get(ResourceImport, import_id)
    if job is None:
        raise NotFound("import_not_found", f"no import {import_id}", {"id": str(import_id)})
    return {
        "state": job.state,
        "created": job.created,
        "updated": job.updated,
        "errors": job.errors,
        "error_count": job.error_count,
    }


# --- the timer and the runner --------------------------------------------------------------------


class ImportRunner:
    """The import tasks running in this process. A task lost with its process is started again
    by its job's watch timer, so nothing here needs to survive a restart."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, db: Database, job_id: uuid.UUID, token: uuid.UUID) -> None:
        task = asyncio.create_task(run_job(db, job_id, token), name=f"yingji-import-{job_id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def settle(self) -> None:
        """Wait until every running import has finished (tests, shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)


RUNNER = ImportRunner()


async def run_import_timer(session: AsyncSession, firing: timers.TimerFiring) -> None:
    """Claim the job (unless it is finished, or alive elsewhere) and start it after commit; a
    watch timer comes back to start it again should this run die."""
    job = await session.get(ResourceImport, uuid.UUID(firing.subject), with_for_update=True)
    if job is None or job.state in FINISHED:
        return
    now = clock.now()
    watch = f"watch-{firing.id}"
    beat = job.heartbeat_at
    if job.state != ImportState.QUEUED.value and beat is not None and now - beat < STALE:
        due = beat + STALE
        await timers.schedule(session, kind=IMPORT_TIMER, subject=job.id, due_at=due, key=watch)
        return
    token = await _claim(session, job, now, watch)
    db = database_of(session)
    job_id = job.id
    after_commit(session, lambda: RUNNER.start(db, job_id, token))


async def _claim(
    session: AsyncSession, job: ResourceImport, now: datetime, watch: str
) -> uuid.UUID:
    """A new attempt at ``job`` (its token), watched by a timer due when it would be stale."""
    token = uuid.uuid4()
    job.attempt += 1
    job.token = token
    job.state = ImportState.CHECKING.value
    job.done = 0
    job.heartbeat_at = now
    job.updated_at = now
    await timers.schedule(session, kind=IMPORT_TIMER, subject=job.id, due_at=now + STALE, key=watch)
    return token


class LostJob(Exception):
    """Another attempt took the job over; this run's writes roll back."""


async def _progress(db: Database, job_id: uuid.UUID, token: uuid.UUID, **values: Any) -> None:
    now = clock.now()
    async with db.unit_of_work() as session:
        result = await session.execute(
            update(ResourceImport)
            .where(ResourceImport.id == job_id, ResourceImport.token == token)
            .values(**values, heartbeat_at=now, updated_at=now)
        )
        if not rows_affected(result):
            raise LostJob(job_id)


@dataclass
class _Job:
    id: uuid.UUID
    token: uuid.UUID
    kind: str
    content: bytes
    filename: str
    sha256: str
    area_path: str | None
    everything: bool
    requested_by: uuid.UUID | None
    requested_by_name: str | None
    report: Report
    written: int = 0  # rows written when the job's row last said so

    def covers(self, path: str) -> bool:
        return self.everything or (self.area_path is not None and path.startswith(self.area_path))


Report = Callable[[str, int, int], None]


def _quiet(_state: str, _done: int, _total: int) -> None:
    return None


async def run_job(
    db: Database, job_id: uuid.UUID, token: uuid.UUID, report: Report = _quiet
) -> None:
    """Run one attempt of the job; a lost claim ends it quietly, any other error fails it.
    ``report(state, done, total)`` hears the progress in this process (the command line's bar),
    the writing step's on SQLite too."""
    try:
        async with db.unit_of_work(readonly=True) as session:
            row = await session.get(ResourceImport, job_id)
            if row is None or row.token != token or row.content is None:
                return
            job = _Job(
                row.id,
                token,
                row.kind,
                row.content,
                row.filename,
                row.sha256,
                row.area_path,
                row.everything,
                row.requested_by,
                row.requested_by_name,
                report,
            )
        audit.current_context.set(
            audit.RequestContext(
                actor_id=None if job.requested_by is None else str(job.requested_by),
                actor_name=job.requested_by_name,
            )
        )
        await _run(db, job)
    except LostJob:
        log.info("import %s was taken over by another attempt", job_id)
    except IntegrityError:  # another writer stored a row this one meant to add, meanwhile
        log.info("import %s met a concurrent change", job_id)
        problem = CellError(0, None, None, "changed_meanwhile", {}, "import the file again")
        with contextlib.suppress(LostJob):
            await _finish_failed(db, job_id, token, [problem])
    except Exception:
        log.exception("import %s failed", job_id)
        problem = CellError(0, None, None, "import_crashed", {}, "the import stopped unexpectedly")
        try:
            await _finish_failed(db, job_id, token, [problem])
        except LostJob:
            return


async def _run(db: Database, job: _Job) -> None:
    stream = await asyncio.to_thread(tabular.open_table, job.content)
    checker = tabular_io.SheetChecker(job.kind, stream.header, stream.problem)
    total = stream.estimated_rows or 0
    await _progress(db, job.id, job.token, total=total, done=0)
    try:
        while checker.readable:
            records = await asyncio.to_thread(stream.take, CHECK_SLICE)
            if not records:
                break
            checker.check(records)
            total = max(total, checker.checked)
            await _progress(db, job.id, job.token, done=checker.checked, total=total)
            job.report(ImportState.CHECKING.value, checker.checked, total)
    finally:
        stream.close()
    checked = checker.finish(stream.problem if checker.readable else None)
    if checker.checked != total:  # the sheet declared more (or fewer) rows than it had
        await _progress(db, job.id, job.token, done=checker.checked, total=checker.checked)
    if checked.errors:
        await _finish_failed(db, job.id, job.token, checked.errors)
        return
    await _progress(db, job.id, job.token, state=ImportState.WRITING.value, done=0)
    errors: list[CellError] = []
    try:
        async with db.unit_of_work() as session:
            writer = _Writer(
                session, job, checked.columns, lambda n: _writing(db, job, n, len(checked.rows))
            )
            created, updated = await writer.write(checked.rows, errors)
            if errors:
                raise _Refused  # what was written so far rolls back with the unit of work
            await _finish_done(session, job, created, updated)
    except _Refused:
        await _finish_failed(db, job.id, job.token, errors)


class _Refused(Exception):
    """The database refused a row: the import's unit of work rolls back."""


async def _writing(db: Database, job: _Job, done: int, total: int) -> None:
    """Writing progress, from a connection of its own (PostgreSQL only: SQLite's one writer is
    busy writing the rows; the console shows the writing step without a count there)."""
    job.report(ImportState.WRITING.value, done, total)
    if db.write_lock is None and (done - job.written >= WRITE_SLICE or done == total):
        job.written = done
        await _progress(db, job.id, job.token, done=done)


async def _finish_done(session: AsyncSession, job: _Job, created: int, updated: int) -> None:
    now = clock.now()
    result = await session.execute(
        update(ResourceImport)
        .where(ResourceImport.id == job.id, ResourceImport.token == job.token)
        .values(
            state=ImportState.DONE.value,
            created=created,
            updated=updated,
            done=created + updated,
            content=None,
            heartbeat_at=now,
            updated_at=now,
            finished_at=now,
        )
    )
    if not rows_affected(result):
        raise LostJob(job.id)
    await timers.cancel(session, kind=IMPORT_TIMER, subject=job.id)
    after = {
        "kind": job.kind,
        "filename": job.filename,
        "sha256": job.sha256,
        "created": created,
        "updated": updated,
    }
    await record_change(
        session,
        action="resource.imported",
        subject_type="resource_import",
        subject_id=job.id,
        before=None,
        after=after,
        audience=EventScope(division_path=job.area_path),
    )


async def _finish_failed(
    db: Database, job_id: uuid.UUID, token: uuid.UUID, errors: list[CellError]
) -> None:
    errors.sort(key=lambda e: e.line)
    now = clock.now()
    async with db.unit_of_work() as session:
        result = await session.execute(
            update(ResourceImport)
            .where(ResourceImport.id == job_id, ResourceImport.token == token)
            .values(
                state=ImportState.FAILED.value,
                errors=[e.as_dict() for e in errors[: tabular_io.MAX_ERRORS]],
                error_count=len(errors),
                created=0,
                updated=0,
                content=None,
                heartbeat_at=now,
                updated_at=now,
                finished_at=now,
            )
        )
        if not rows_affected(result):
            raise LostJob(job_id)
        await timers.cancel(session, kind=IMPORT_TIMER, subject=job_id)


# --- writing -------------------------------------------------------------------------------------


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Writer:
    """Writes checked rows in the caller's transaction; each problem the database finds is
    added to ``errors`` (the caller then rolls everything back)."""

    def __init__(
        self,
        session: AsyncSession,
        job: _Job,
        columns: Mapping[str, str],
        progress: Callable[[int], Any],
    ) -> None:
        self.session = session
        self.job = job
        self.columns = columns
        self.progress = progress
        self.paths: dict[str, str | None] = {}
        self.units: dict[str, uuid.UUID | None] = {}

    def _error(self, row: SheetRow, key: str, code: str, **params: Any) -> CellError:
        column = self.columns.get(key, key)
        return CellError(row.line, key, column, code, params, f"{key}: {code}")

    async def write(self, rows: list[SheetRow], errors: list[CellError]) -> tuple[int, int]:
        if self.job.kind == STOCK:
            return await self._write_stock(rows, errors)
        return await self._write_resources(rows, errors)

    async def _path(self, adcode: str) -> str | None:
        if adcode not in self.paths:
            self.paths[adcode] = await org.path_of_division(session=self.session, adcode=adcode)
        return self.paths[adcode]

    async def _unit(self, code: str) -> uuid.UUID | None:
        """The owning unit of that code, if it serves the requester's area (else None)."""
        if code not in self.units:
            unit = await org.get_unit_by_code(session=self.session, code=code)
            seen = unit is not None and self.job.covers(unit.division_path)
            self.units[code] = unit.id if unit is not None and seen else None
        return self.units[code]

    async def _existing(self, model: Any, where: Any, keys: list[Any], column: Any) -> list[Any]:
        found: list[Any] = []
        for chunk in _chunks(keys, 500):
            stmt = select(model).where(where, column.in_(chunk)).with_for_update()
            found.extend((await self.session.scalars(stmt)).all())
        return found

    # resources

    async def _placed(
        self, row: SheetRow, errors: list[CellError]
    ) -> tuple[str, uuid.UUID | None] | None:
        v = row.values
        path = await self._path(v["division_adcode"])
        if path is None:
            errors.append(
                self._error(
                    row, "division_adcode", "division_not_found", value=v["division_adcode"]
                )
            )
            return None
        if not self.job.covers(path):
            errors.append(
                self._error(row, "division_adcode", "out_of_scope", value=v["division_adcode"])
            )
            return None
        owner: uuid.UUID | None = None
        if v.get("owner_unit_code"):
            owner = await self._unit(v["owner_unit_code"])
            if owner is None:
                errors.append(
                    self._error(
                        row, "owner_unit_code", "unit_not_found", value=v["owner_unit_code"]
                    )
                )
                return None
        return path, owner

    async def _write_resources(
        self, rows: list[SheetRow], errors: list[CellError]
    ) -> tuple[int, int]:
        if self.job.kind == ResourceKind.RESCUE_TEAM.value:
            return await self._write_teams(rows, errors)
        spec = kinds.spec(self.job.kind)
        existing = {
            r.code: r
            for r in await self._existing(
                Resource,
                Resource.kind == spec.kind.value,
                [r.values["code"] for r in rows],
                Resource.code,
            )
        }
        now = clock.now()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for row in rows:
            placed = await self._placed(row, errors)
            if placed is None:
                continue
            path, owner = placed
            old = existing.get(row.values["code"])
            if old is not None and not self.job.covers(old.division_path):
                errors.append(self._error(row, "code", "out_of_scope", value=row.values["code"]))
                continue
            if old is None:
                try:  # the registry's own checks of a new row (place, status, fields)
                    inserts.append(
                        service.prepare_resource(
                            _values(spec.kind.value, row, owner), division_path=path
                        )
                    )
                except DomainError as exc:
                    errors.append(self._refused(row, exc))
            else:
                updates.append(self._changed(spec, old, row, path, owner, now))
        if errors:
            return 0, 0
        done = 0
        for chunk in _chunks(inserts, WRITE_SLICE):
            await service.insert_resources(session=self.session, rows=chunk)
            done += len(chunk)
            await self.progress(done)
        for chunk in _chunks(updates, WRITE_SLICE):
            await self.session.execute(update(Resource), chunk)
            done += len(chunk)
            await self.progress(done)
        return len(inserts), len(updates)

    def _changed(
        self,
        spec: kinds.KindSpec,
        old: Resource,
        row: SheetRow,
        path: str,
        owner: uuid.UUID | None,
        now: datetime,
    ) -> dict[str, Any]:
        """The row's update: a blank cell changes nothing (its field keeps its value)."""
        v = row.values
        attrs = {**(old.attrs or {}), **row.attrs}
        change: dict[str, Any] = {
            "id": old.id,
            "name": v["name"],
            "division_adcode": v["division_adcode"],
            "division_path": path,
            "attrs": attrs,
            "tags": kinds.tags_of(spec, attrs),
            "version": old.version + 1,
            "updated_at": now,
        }
        for key in ("status", "address", "lon", "lat", "contact_name", "contact_phone"):
            if v.get(key) is not None:
                change[key] = v[key]
        if owner is not None:
            change["owner_unit_id"] = owner
        return change

    # rescue teams: each row through the registry's flow (its linkage unit comes with it)

    async def _principal(self) -> Principal | None:
        if self.job.requested_by is None:  # the command line's, or a user deleted since
            system = self.job.everything and self.job.requested_by_name == SYSTEM_NAME
            return security.SYSTEM if system else None
        try:
            user = await org.get_user_or_raise(
                session=self.session, user_id=self.job.requested_by, scope=security.SYSTEM.scope
            )
        except NotFound:
            return None
        principal = await org.principal_for_user(session=self.session, user=user)
        return principal if principal.can(Permission.RESOURCE_WRITE) else None

    async def _write_teams(self, rows: list[SheetRow], errors: list[CellError]) -> tuple[int, int]:
        principal = await self._principal()
        if principal is None:
            errors.append(CellError(0, None, None, "requester_may_not_write", {}, "no longer"))
            return 0, 0
        kind = ResourceKind.RESCUE_TEAM.value
        existing = {
            r.code: r
            for r in await self._existing(
                Resource, Resource.kind == kind, [r.values["code"] for r in rows], Resource.code
            )
        }
        created = updated = 0
        for row in rows:
            placed = await self._placed(row, errors)
            if placed is None:
                continue
            old = existing.get(row.values["code"])
            try:
                async with savepoint(self.session):
                    if old is None:
                        await flows.create_resource(
                            session=self.session,
                            principal=principal,
                            values=_values(kind, row, placed[1]),
                        )
                        created += 1
                    else:
                        await flows.update_resource(
                            session=self.session,
                            principal=principal,
                            resource_id=old.id,
                            changes=_changes(old, row, placed[1]),
                            version=old.version,
                        )
                        updated += 1
            except DomainError as exc:
                errors.append(self._refused(row, exc))
            await self.progress(created + updated)
        return created, updated

    def _refused(self, row: SheetRow, exc: DomainError) -> CellError:
        details = dict(exc.details) if isinstance(exc.details, dict) else {}
        key = details.get("field")
        key = key if isinstance(key, str) else None
        column = self.columns.get(key) if key else None
        return CellError(row.line, key, column, exc.code, details, exc.message)

    # stock

    async def _write_stock(self, rows: list[SheetRow], errors: list[CellError]) -> tuple[int, int]:
        warehouses = await self._warehouses(rows, errors)
        items = await self._items(rows, errors)
        if errors:
            return 0, 0
        batches = {
            (b.warehouse_id, b.item_id, b.batch_no): b
            for b in await self._existing(
                StockBatch,
                StockBatch.warehouse_id.in_(list(set(warehouses.values()))),
                list({r.values["batch_no"] for r in rows}),
                StockBatch.batch_no,
            )
        }
        now = clock.now()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for row in rows:
            v = row.values
            key = (warehouses[v["warehouse_code"]], items[v["item_code"]], v["batch_no"])
            old = batches.get(key)
            if old is not None and v["quantity"] < old.reserved:
                errors.append(self._error(row, "quantity", "below_reserved", reserved=old.reserved))
                continue
            dates = {
                "expires_on": _day(v.get("expires_on")),
                "received_on": _day(v.get("received_on")),
            }
            if old is None:
                inserts.append(
                    {
                        "id": new_id(),
                        "warehouse_id": key[0],
                        "item_id": key[1],
                        "batch_no": key[2],
                        "quantity": v["quantity"],
                        "reserved": 0,
                        **dates,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            else:
                given = {k: d for k, d in dates.items() if d is not None}
                updates.append(
                    {"id": old.id, "quantity": v["quantity"], **given, "updated_at": now}
                )
        if errors:
            return 0, 0
        done = 0
        for chunk in _chunks(inserts, WRITE_SLICE):
            await self.session.execute(insert(StockBatch), chunk)
            done += len(chunk)
            await self.progress(done)
        for change in updates:  # each its own columns (a blank date changes nothing)
            await self.session.execute(
                update(StockBatch).where(StockBatch.id == change.pop("id")).values(**change)
            )
        return len(inserts), len(updates)

    async def _warehouses(
        self, rows: list[SheetRow], errors: list[CellError]
    ) -> dict[str, uuid.UUID]:
        codes = list({r.values["warehouse_code"] for r in rows})
        found = {
            w.code: w
            for w in await self._existing(
                Resource, Resource.kind == ResourceKind.WAREHOUSE.value, codes, Resource.code
            )
        }
        for row in rows:
            code = row.values["warehouse_code"]
            warehouse = found.get(code)
            if warehouse is None or not self.job.covers(warehouse.division_path):
                errors.append(self._error(row, "warehouse_code", "warehouse_not_found", value=code))
        return {code: w.id for code, w in found.items()}

    async def _items(self, rows: list[SheetRow], errors: list[CellError]) -> dict[str, uuid.UUID]:
        codes = list({r.values["item_code"] for r in rows})
        items = {
            i.code: i.id for i in await self._existing(SupplyItem, true(), codes, SupplyItem.code)
        }
        now = clock.now()
        for row in rows:
            v = row.values
            if v["item_code"] in items:
                continue
            if not v.get("item_name") or not v.get("unit_of_measure"):
                key = "item_name" if not v.get("item_name") else "unit_of_measure"
                errors.append(
                    self._error(row, key, "new_item_needs_name_and_unit", value=v["item_code"])
                )
                continue
            item = SupplyItem(
                code=v["item_code"],
                name=v["item_name"],
                category=v.get("category"),
                unit_of_measure=v["unit_of_measure"],
                created_at=now,
                updated_at=now,
            )
            self.session.add(item)
            await self.session.flush()
            items[item.code] = item.id
        return items


def _values(kind: str, row: SheetRow, owner: uuid.UUID | None) -> service.ResourceValues:
    v = row.values
    return service.ResourceValues(
        kind=kind,
        code=v["code"],
        name=v["name"],
        division_adcode=v["division_adcode"],
        status=v.get("status"),
        address=v.get("address"),
        lon=v.get("lon"),
        lat=v.get("lat"),
        contact_name=v.get("contact_name"),
        contact_phone=v.get("contact_phone"),
        owner_unit_id=owner,
        attrs=row.attrs,
    )


def _changes(old: Resource, row: SheetRow, owner: uuid.UUID | None) -> dict[str, Any]:
    """A row's change to an existing resource: a blank cell changes nothing."""
    v = row.values
    changes: dict[str, Any] = {
        "name": v["name"],
        "division_adcode": v["division_adcode"],
        "attrs": {**(old.attrs or {}), **row.attrs},
    }
    for key in ("status", "address", "lon", "lat", "contact_name", "contact_phone"):
        if v.get(key) is not None:
            changes[key] = v[key]
    if owner is not None:
        changes["owner_unit_id"] = owner
    return changes


def _day(value: str | None) -> date | None:
    """A converted date (ISO text) as a date."""
    return None if value is None else date.fromisoformat(value)
