"""HTTP routes of intake (统一接警): reports from every channel, categories, gazetteer."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import geo
from yingji.core.db import savepoint
from yingji.core.errors import DomainError, NotFound, ValidationFailed
from yingji.core.file_serving import file_response
from yingji.core.files import LocalFileStore
from yingji.core.reasons import Reason
from yingji.core.security import Permission as P
from yingji.core.security import Principal
from yingji.core.web import (
    IncidentReader,
    Require,
    Session,
    client_ip,
    current_principal,
    get_db,
    get_settings,
)
from yingji.intake import flows, levels, schemas, service
from yingji.intake.casualties import read_casualties

router = APIRouter(prefix="/api/v1/intake", tags=["intake"])
log = logging.getLogger(__name__)

Reporter = Annotated[Principal, Require(P.REPORT_CREATE)]
Reader = Annotated[Principal, Require(P.INCIDENT_READ)]
Writer = Annotated[Principal, Require(P.INCIDENT_WRITE)]


def policy(request: Request) -> flows.IntakePolicy:
    settings = get_settings(request)
    return flows.IntakePolicy(
        attachment_max_bytes=settings.attachment_max_bytes,
        public_per_address=settings.public_reports_per_hour_per_address,
        public_per_phone=settings.public_reports_per_hour_per_phone,
        store=LocalFileStore(settings.file_store),
        backdating=timedelta(hours=settings.report_backdating_hours),
        future=timedelta(minutes=settings.report_future_minutes),
    )


def receipt_of(result: flows.Receipt) -> schemas.ReportReceipt:
    return schemas.ReportReceipt(
        report_id=result.report.id,
        incident_id=result.incident.id if result.incident else None,
        created=result.created,
        duplicate=result.duplicate,
        reason=result.reason,
        why=Reason.model_validate(result.why) if result.why else None,
        status=result.report.status,
        outcome=result.report.match_outcome,
        suggestions=[schemas.Suggestion.model_validate(s) for s in result.suggestions],
    )


@router.post(
    "/reports",
    response_model=schemas.ReportReceipt,
    status_code=201,
    summary="Receive one report (201; 200 with the stored one if it was sent before)",
    responses={
        200: {
            "model": schemas.ReportReceipt,
            "description": "the same channel + external_id was received before",
        },
        409: {
            "description": "report_needs_confirmation: no category and no place, and "
            "if_unclear is ask (nothing stored)"
        },
        429: {"description": "too_many_reports (public_web)"},
    },
)
async def receive_report(
    body: schemas.ReportCreate, request: Request, response: Response, session: Session, me: Reporter
) -> schemas.ReportReceipt:
    result = await flows.receive_report(
        session=session,
        principal=me,
        body=body,
        ip=client_ip(request, get_settings(request)),
        policy=policy(request),
    )
    if not result.created:
        response.status_code = 200
    return receipt_of(result)


async def batch_reporter(request: Request) -> Principal:
    """The sender of a batch, signed in with a read-only unit of work: the batch stores each
    report in a unit of work of its own and must not hold the request's write transaction (on
    SQLite, the one writer's lock) meanwhile."""
    async with get_db(request).unit_of_work(readonly=True) as session:
        principal = await current_principal(request, session)
    principal.require(P.REPORT_CREATE)
    return principal


BatchReporter = Annotated[Principal, Depends(batch_reporter)]


BATCH_CHUNK = 8  # reports per transaction of a batch


@router.post(
    "/reports:batch",
    response_model=schemas.BatchReceipt,
    summary="Receive up to 500 reports; each succeeds or fails on its own",
    description="Each report succeeds or fails on its own: its answer (item status 201, 200 or "
    "an error) is what it would get alone, and a report that fails changes nothing while the "
    "others are kept. The reports are stored in order, a few per transaction, so that reports "
    "sent alone meanwhile are not held back until the whole batch is stored. Sending the batch "
    "again is safe (channel + external_id).",
)
async def receive_batch(
    body: schemas.ReportBatch, request: Request, me: BatchReporter
) -> schemas.BatchReceipt:
    intake = BatchIntake(request, me)
    items: list[schemas.BatchItem] = []
    reports = list(enumerate(body.reports))
    for start in range(0, len(reports), BATCH_CHUNK):
        items += await intake.store(reports[start : start + BATCH_CHUNK])
    return schemas.BatchReceipt(
        items=items,
        created=sum(i.status == 201 for i in items),
        existing=sum(i.status == 200 for i in items),
        failed=sum(i.status >= 400 for i in items),
    )


class BatchIntake:
    """Stores a batch's reports a few at a time (``store``), each in a savepoint of its own.

    A report's refusal (``DomainError``) or fault (the database refusing a value, say) rolls
    back that report alone and is its item's answer; a fault is logged and answered as a
    single report's would be. Should a chunk's commit fail, its reports are stored again one
    per transaction, so that each still gets its own outcome."""

    def __init__(self, request: Request, me: Principal) -> None:
        self.db = get_db(request)
        self.me = me
        self.ip = client_ip(request, get_settings(request))
        self.rules = policy(request)
        self.request_id = getattr(request.state, "request_id", None)

    async def store(
        self, reports: list[tuple[int, schemas.ReportCreate]]
    ) -> list[schemas.BatchItem]:
        items: list[schemas.BatchItem] = []
        try:
            async with self.db.unit_of_work() as session:
                for index, report in reports:
                    items.append(await self._one(session, index, report))
        except Exception as exc:  # the chunk was not committed: each report again, alone
            log.warning("batch chunk not committed (%s); storing its reports one by one", exc)
            failed = {item.index: item for item in items if item.status >= 400}
            return [
                failed[index] if index in failed else await self._alone(index, report)
                for index, report in reports
            ]
        return items

    async def _alone(self, index: int, report: schemas.ReportCreate) -> schemas.BatchItem:
        try:
            async with self.db.unit_of_work() as session:
                return await self._one(session, index, report)
        except Exception as exc:  # the commit failed: this report's fault
            return self._fault(index, exc)

    async def _one(
        self, session: AsyncSession, index: int, report: schemas.ReportCreate
    ) -> schemas.BatchItem:
        try:
            async with savepoint(session):
                result = await flows.receive_report(
                    session=session, principal=self.me, body=report, ip=self.ip, policy=self.rules
                )
        except DomainError as exc:
            return schemas.BatchItem(index=index, status=exc.status, error=exc.to_body()["error"])
        except Exception as exc:  # one report's fault must not fail the others
            return self._fault(index, exc)
        return schemas.BatchItem(
            index=index, status=201 if result.created else 200, receipt=receipt_of(result)
        )

    def _fault(self, index: int, exc: Exception) -> schemas.BatchItem:
        log.error("batch report %d failed (request %s)", index, self.request_id, exc_info=exc)
        error = {
            "code": "internal_error",
            "message": "an internal error occurred; it has been logged",
            "details": {"request_id": self.request_id},
        }
        return schemas.BatchItem(index=index, status=500, error=error)


@router.get(
    "/reports",
    response_model=schemas.ReportPage,
    summary="Reports in your scope (located=false: those waiting to be placed)",
)
async def list_reports(
    session: Session,
    me: Reader,
    located: bool | None = None,
    status: Annotated[str | None, Query(max_length=24)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> schemas.ReportPage:
    rows, total = await service.list_reports(
        session=session, scope=me.scope, located=located, status=status, offset=offset, limit=limit
    )
    return schemas.ReportPage(items=await flows.as_read(session, me.scope, rows), total=total)


@router.get(
    "/reports/{report_id}",
    response_model=schemas.ReportRead,
    summary="One report of your area, or of an incident your unit holds an order on",
    responses={404: {}},
)
async def get_report(report_id: uuid.UUID, session: Session, me: IncidentReader) -> Any:
    report = await service.get_report_or_raise(session=session, report_id=report_id, scope=me.scope)
    return (await flows.as_read(session, me.scope, [report]))[0]


@router.post(
    "/reports/{report_id}/locate",
    response_model=schemas.ReportRead,
    summary="Place a report on the map by hand",
)
async def locate(
    report_id: uuid.UUID, body: schemas.LocateRequest, session: Session, me: Writer
) -> Any:
    lon, lat = geo.to_wgs84(body.lon, body.lat, body.crs)
    if not geo.in_china(lon, lat):
        raise ValidationFailed("coordinates_out_of_range", "the point lies outside China")
    report = await flows.locate_report(
        session=session, principal=me, report_id=report_id, lon=lon, lat=lat
    )
    return (await flows.as_read(session, me.scope, [report]))[0]


@router.post(
    "/reports/{report_id}/accept",
    response_model=schemas.ReportReceipt,
    summary="Verify a public report: it is then matched to an incident",
)
async def accept(report_id: uuid.UUID, session: Session, me: Writer) -> schemas.ReportReceipt:
    return receipt_of(
        await flows.accept_public_report(session=session, principal=me, report_id=report_id)
    )


@router.post(
    "/reports/{report_id}/reject",
    response_model=schemas.ReportRead,
    summary="Refuse a public report (with the reason)",
)
async def reject(
    report_id: uuid.UUID, body: schemas.NoteRejection, session: Session, me: Writer
) -> Any:
    report = await flows.reject_public_report(
        session=session, principal=me, report_id=report_id, reason=body.reason
    )
    return (await flows.as_read(session, me.scope, [report]))[0]


@router.post(
    "/reports/{report_id}/join",
    response_model=schemas.ReportReceipt,
    summary="One click on a suggested duplicate: the report joins that incident",
)
async def join(
    report_id: uuid.UUID, body: schemas.JoinRequest, session: Session, me: Writer
) -> schemas.ReportReceipt:
    return receipt_of(
        await flows.join_report(
            session=session, principal=me, report_id=report_id, incident_id=body.incident_id
        )
    )


@router.post(
    "/reports/{report_id}/attachments",
    response_model=schemas.AttachmentRead,
    status_code=201,
    summary="Add a photo or recording to a report (multipart)",
)
async def add_attachment(
    report_id: uuid.UUID,
    request: Request,
    session: Session,
    me: Reporter,
    file: Annotated[UploadFile, File()],
) -> Any:
    rules = policy(request)
    data = await file.read(rules.attachment_max_bytes + 1)
    attachment = await flows.add_attachment(
        session=session,
        principal=me,
        report_id=report_id,
        upload=flows.Upload(
            filename=file.filename or "upload", content_type=file.content_type or "", data=data
        ),
        policy=rules,
    )
    return attachment


@router.get(
    "/reports/{report_id}/attachments",
    response_model=list[schemas.AttachmentRead],
    summary="A report's photos and recordings (as for the report itself)",
)
async def list_attachments(report_id: uuid.UUID, session: Session, me: IncidentReader) -> Any:
    await service.get_report_or_raise(session=session, report_id=report_id, scope=me.scope)
    return await service.attachments_of(session=session, report_id=report_id)


@router.get(
    "/reports/{report_id}/attachments/{attachment_id}",
    response_class=Response,
    summary="The attachment's bytes",
)
async def get_attachment(
    report_id: uuid.UUID,
    attachment_id: uuid.UUID,
    request: Request,
    session: Session,
    me: IncidentReader,
) -> Response:
    await service.get_report_or_raise(session=session, report_id=report_id, scope=me.scope)
    found = [
        a
        for a in await service.attachments_of(session=session, report_id=report_id)
        if a.id == attachment_id
    ]
    if not found:
        raise NotFound("attachment_not_found", "no such attachment")
    data = await policy(request).store.get(found[0].sha256)
    return file_response(data, content_type=found[0].content_type, filename=found[0].filename)


@router.post(
    "/classify",
    response_model=schemas.ClassifyResult,
    summary="Preview: the category and level the rules suggest, and the words that "
    "decided (for the intake desk, as the officer types)",
)
async def classify_text(
    body: schemas.ClassifyRequest, session: Session, _me: Reporter
) -> schemas.ClassifyResult:
    know = await flows.knowledge(session)
    found = know.classifier.classify(body.text)
    rule = know.rules.get(found.code) if found else None
    read = read_casualties(body.text)
    confirmed = "casualties" in body.model_fields_set
    counts = levels.Casualties(**body.casualties.model_dump()) if confirmed else read.counts
    level = levels.suggest_level(
        rule, counts, extracted=not confirmed and counts != levels.Casualties()
    )
    reading = (await service.gazetteer(session=session)).read(body.text)
    hit = reading.hit if reading.placed else None
    named = hit.entry if hit is not None and hit.entry.level != "county" else None
    return schemas.ClassifyResult(
        casualties=schemas.Casualties(**dataclasses.asdict(read.counts)),
        casualty_words=[
            schemas.CasualtyWords(kind=e.kind, count=e.count, words=e.words, at_least=e.at_least)
            for e in read.evidence
        ],
        outside=schemas.OutsideRead(**dataclasses.asdict(reading.outside))
        if reading.outside is not None and hit is None
        else None,
        homophones=[schemas.HomophoneRead(**dataclasses.asdict(h)) for h in reading.homophones],
        place=schemas.PlaceRead(
            name=named.name, adcode=named.adcode, level=named.level, lon=named.lon, lat=named.lat
        )
        if named is not None
        else None,
        category_code=found.code if found else None,
        name_zh=rule.name_zh if rule else None,
        score=found.score if found else 0.0,
        words=[schemas.DecidingWord(word=w, weight=x) for w, x in found.words] if found else [],
        runner_up=found.runner_up if found else None,
        suggested_level=level.level,
        level_reason=level.reason,
        level_why=Reason.model_validate(level.why),
    )


@router.get(
    "/categories",
    response_model=list[schemas.CategoryRead],
    tags=["categories"],
    summary="The category table: keywords, match windows and level rules",
)
async def list_categories(session: Session, _me: Reader) -> Any:
    return await service.list_categories(session=session)


@router.patch(
    "/categories/{code}",
    response_model=schemas.CategoryRead,
    tags=["categories"],
    summary="Tune a category: its keywords, match window, level rules (a shared table: "
    "reference.write)",
    responses={403: {"description": "permission_denied (reference.write)"}},
)
async def update_category(
    code: str,
    body: schemas.CategoryUpdate,
    session: Session,
    _me: Annotated[Principal, Require(P.REFERENCE_WRITE)],
) -> Any:
    return await flows.update_category(session=session, code=code, change=body)


@router.get(
    "/gazetteer",
    response_model=list[schemas.PlaceRead],
    tags=["gazetteer"],
    summary="Places whose name contains the text (address suggestions as you type)",
)
async def suggest_places(
    session: Session,
    _me: Reporter,
    q: Annotated[str, Query(min_length=1, max_length=50)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Any:
    entries = (await service.gazetteer(session=session)).suggest(q, limit)
    return [
        schemas.PlaceRead(name=e.name, adcode=e.adcode, level=e.level, lon=e.lon, lat=e.lat)
        for e in entries
    ]
