"""Routes of sheets in and out: templates per kind, the import job and its progress, exports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from pydantic import BaseModel

from yingji.core import tabular
from yingji.core.security import Permission, Principal
from yingji.core.web import Require, Session
from yingji.resources import api, exports, imports, schemas, tabular_io
from yingji.resources.models import ResourceImport, ResourceKind

router = APIRouter(prefix="/api/v1", tags=["resources"])

Reader = Annotated[Principal, Require(Permission.RESOURCE_READ)]
Writer = Annotated[Principal, Require(Permission.RESOURCE_WRITE)]
SheetKind = Literal[
    "rescue_team",
    "warehouse",
    "equipment",
    "expert",
    "shelter",
    "hazard_source",
    "protection_target",
    "medical_facility",
    "video_point",
    "plan",
    "stock",
]
SheetFormat = Literal["xlsx", "csv"]
MEDIA = {
    "xlsx": tabular.XLSX_TYPE,
    "csv": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
}


class ImportProblem(BaseModel):
    """One problem: ``line`` (the header is 1; 0 the whole file), ``field``, ``column`` (the
    header as the file wrote it), ``code`` and ``params`` (worded by the console)."""

    line: int
    field: str | None
    column: str | None
    code: str
    params: dict[str, Any]
    message: str


class ImportRead(BaseModel):
    id: uuid.UUID
    kind: str
    filename: str
    state: Literal["queued", "checking", "writing", "done", "failed"]
    total: int
    done: int
    created: int
    updated: int
    errors: list[ImportProblem]
    error_count: int
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, job: ResourceImport) -> ImportRead:
        return cls(
            id=job.id,
            kind=job.kind,
            filename=job.filename,
            state=job.state,
            total=job.total,
            done=job.done,
            created=job.created,
            updated=job.updated,
            errors=[ImportProblem.model_validate(e) for e in job.errors or []],
            error_count=job.error_count,
            created_at=job.created_at,
            finished_at=job.finished_at,
        )


def _attachment(body: bytes, fmt: str, name: str) -> Response:
    return Response(
        content=body,
        media_type=MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/resources:template",
    summary="An empty sheet of a kind (or of stock) with its Chinese headers; "
    ".xlsx adds a sheet of the allowed words of each choice",
    response_class=Response,
    responses={200: {"content": {tabular.XLSX_TYPE: {}, "text/csv": {}}}},
)
async def resource_template(
    _me: Reader,
    kind: Annotated[SheetKind, Query()],
    format: Annotated[SheetFormat, Query()] = "xlsx",  # noqa: A002 - the query's name
) -> Response:
    return _attachment(tabular_io.template(kind, format), format, f"template-{kind}")


@router.post(
    "/resources:import",
    status_code=202,
    response_model=ImportRead,
    summary="Start importing a sheet (.xlsx or CSV) of one kind or of stock: every row is "
    "checked, then all are stored or none; poll the job for progress and problems",
    responses={422: {"description": "unknown_kind, file_too_large, file_empty, not_a_sheet"}},
)
async def import_resources(
    session: Session,
    me: Writer,
    kind: Annotated[SheetKind, Form()],
    file: Annotated[UploadFile, File(description=".xlsx (first sheet) or CSV (UTF-8 / GB18030)")],
) -> Any:
    content = await file.read(imports.MAX_UPLOAD + 1)
    job = await imports.start_import(
        session=session,
        principal=me,
        kind=kind,
        filename=file.filename or "upload",
        content=content,
    )
    return ImportRead.of(job)


@router.get(
    "/resources/imports/{import_id}",
    response_model=ImportRead,
    summary="An import job: its state, progress and problems (by line and column)",
)
async def get_import(import_id: uuid.UUID, session: Session, me: Reader) -> Any:
    job = await imports.get_import_or_raise(session=session, principal=me, import_id=import_id)
    return ImportRead.of(job)


@router.get(
    "/resources:export",
    summary="The resources of a kind you may see, with the list's filters, as .xlsx or CSV "
    "(the import's layout) or GeoJSON",
    response_class=Response,
    responses={
        200: {"content": {tabular.XLSX_TYPE: {}, "text/csv": {}, "application/geo+json": {}}},
        422: {"description": "export_too_large (narrow the filters)"},
    },
)
async def export_resources(
    session: Session,
    me: Reader,
    kind: ResourceKind,
    format: Annotated[Literal["xlsx", "csv", "geojson"], Query()] = "xlsx",  # noqa: A002
    division: Annotated[str | None, Query(pattern=schemas.ADCODE_PATTERN)] = None,
    status: Annotated[str | None, Query(max_length=24)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    bbox: Annotated[
        str | None, Query(max_length=100, description="minLon,minLat,maxLon,maxLat (WGS-84)")
    ] = None,
) -> Response:
    filters = await api.resource_filter(
        session, kind=kind, division=division, status=status, q=q, tag=tag, bbox=bbox
    )
    if filters is None:  # an unknown division: an empty file of the kind
        filters = exports.matching_nothing(kind.value)
    body = await exports.export_resources(
        session=session, scope=me.scope, filters=filters, fmt=format
    )
    return _attachment(body, format, f"{kind.value}")
