"""HTTP routes of the archive: an incident's case file (build, versions, downloads), its
evaluation (总结评估) and its replay (回溯)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status

from yingji.archive import casefile, flows, replay, schemas, service
from yingji.core.errors import NotFound
from yingji.core.files import FILE_CSP, LocalFileStore, content_disposition
from yingji.core.security import Permission as P
from yingji.core.security import Principal
from yingji.core.web import Require, Session, get_settings
from yingji.incidents import service as incidents

router = APIRouter(prefix="/api/v1", tags=["archive"])

Reader = Annotated[Principal, Require(P.ARCHIVE_READ)]
Writer = Annotated[Principal, Require(P.ARCHIVE_WRITE)]
Version = Annotated[int, Path(ge=1, le=1_000_000)]


def _store(request: Request) -> LocalFileStore:
    return LocalFileStore(get_settings(request).file_store)


@router.post(
    "/incidents/{incident_id}/case-file",
    response_model=schemas.CaseFileBuilt,
    status_code=status.HTTP_201_CREATED,
    summary="Build the incident's case file (一事一档) from its data now: 201 with a new version, "
    "or 200 with the last version when the data has not changed",
    responses={200: {"model": schemas.CaseFileBuilt}, 403: {}, 404: {}},
)
async def build(
    incident_id: uuid.UUID, request: Request, response: Response, session: Session, me: Writer
) -> Any:
    row, created = await flows.build_case_file(
        session=session, principal=me, incident_id=incident_id, store=_store(request)
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return schemas.CaseFileBuilt(
        **schemas.CaseFileRead.model_validate(row).model_dump(), created=created
    )


@router.get(
    "/incidents/{incident_id}/case-files",
    response_model=list[schemas.CaseFileRead],
    summary="The incident's case-file versions, newest first",
    responses={403: {}, 404: {}},
)
async def list_case_files(incident_id: uuid.UUID, session: Session, me: Reader) -> Any:
    incident = await incidents.get_incident_or_raise(
        session=session, incident_id=incident_id, scope=me.scope
    )
    return await service.case_files(session=session, incident_id=incident.id)


def _download(body: bytes, media_type: str, name: str) -> Response:
    return Response(
        content=body,
        media_type=media_type,
        headers={
            "Content-Disposition": content_disposition(name, media_type),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": FILE_CSP,
            "Cache-Control": "private, no-store",
        },
    )


async def _stored(
    request: Request, session: Session, me: Principal, incident_id: uuid.UUID, version: int
) -> tuple[Any, Any, LocalFileStore]:
    incident = await incidents.get_incident_or_raise(
        session=session, incident_id=incident_id, scope=me.scope
    )
    row = await service.get_case_file_or_raise(
        session=session, incident_id=incident.id, version=version
    )
    return incident, row, _store(request)


async def _read(store: LocalFileStore, sha256: str) -> bytes:
    try:
        return await store.get(sha256)
    except NotFound as error:
        raise NotFound(
            "case_file_missing", "the case file is not in the file store: build it again"
        ) from error


@router.get(
    "/incidents/{incident_id}/case-files/{version}.docx",
    response_class=Response,
    summary="One version of the case file as a .docx (the paper file)",
    responses={200: {"content": {casefile.DOCX_TYPE: {}}}, 403: {}, 404: {}},
)
async def download_docx(
    incident_id: uuid.UUID, version: Version, request: Request, session: Session, me: Reader
) -> Response:
    incident, row, store = await _stored(request, session, me, incident_id, version)
    body = await _read(store, row.docx_sha256)
    return _download(body, casefile.DOCX_TYPE, f"{incident.number}-档案-v{version}.docx")


@router.get(
    "/incidents/{incident_id}/case-files/{version}.zip",
    response_class=Response,
    summary="One version of the case file as a .zip (data as JSON, attachments, the .docx, "
    "manifest.json with SHA-256 hashes)",
    responses={200: {"content": {casefile.ZIP_TYPE: {}}}, 403: {}, 404: {}},
)
async def download_zip(
    incident_id: uuid.UUID, version: Version, request: Request, session: Session, me: Reader
) -> Response:
    incident, row, store = await _stored(request, session, me, incident_id, version)
    body = await _read(store, row.zip_sha256)
    return _download(body, casefile.ZIP_TYPE, f"{incident.number}-档案-v{version}.zip")


@router.get(
    "/incidents/{incident_id}/evaluation",
    response_model=schemas.EvaluationRead | None,
    summary="The incident's evaluation (总结评估), or null before one is written",
    responses={403: {}, 404: {}},
)
async def get_evaluation(incident_id: uuid.UUID, session: Session, me: Reader) -> Any:
    incident = await incidents.get_incident_or_raise(
        session=session, incident_id=incident_id, scope=me.scope
    )
    return await service.get_evaluation(session=session, incident_id=incident.id)


@router.put(
    "/incidents/{incident_id}/evaluation",
    response_model=schemas.EvaluationRead,
    summary="Write or revise the evaluation of a closed incident; response times are measured "
    "from its timeline when saved",
    responses={403: {}, 404: {}, 409: {"description": "incident_not_closed, evaluation_changed"}},
)
async def put_evaluation(
    incident_id: uuid.UUID, body: schemas.EvaluationIn, session: Session, me: Writer
) -> Any:
    return await flows.save_evaluation(
        session=session,
        principal=me,
        incident_id=incident_id,
        what_happened=body.what_happened,
        went_well=body.went_well or None,
        to_improve=body.to_improve or None,
        expected_version=body.expected_version,
    )


@router.get(
    "/incidents/{incident_id}/replay",
    response_model=schemas.ReplayRead,
    summary="回溯: the incident's history in time order, with the places of reports and of units "
    "arriving, to play on its map",
    responses={403: {}, 404: {}},
)
async def get_replay(incident_id: uuid.UUID, session: Session, me: Reader) -> Any:
    incident = await incidents.get_incident_or_raise(
        session=session, incident_id=incident_id, scope=me.scope
    )
    found = await replay.frames(session, incident=incident)
    return schemas.ReplayRead(
        incident_id=incident.id,
        number=incident.number,
        title=incident.title,
        lon=incident.lon,
        lat=incident.lat,
        start=found[0].at if found else None,
        end=found[-1].at if found else None,
        frames=[schemas.ReplayFrame.model_validate(f, from_attributes=True) for f in found],
    )
