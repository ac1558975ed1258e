"""HTTP routes of the warning workflow: types, the list and one warning, drafting, the steps
(submit, approve, return, sign, publish, cancel, update, relay, dismiss), the frozen recipient
list (and its .xlsx export) and the deliveries. Paths name a warning as ``{warning_id:uuid}`` so
the other warning routes (``/warnings/feeds``, ``/warnings/call-plans``, ``/warnings/ack/…``)
never fall into these."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import tabular
from yingji.core.security import Permission as P
from yingji.core.security import Principal
from yingji.core.web import Require, Session, get_settings
from yingji.notify import delivery
from yingji.warning import flows, schemas, service
from yingji.warning.models import Warning, WarningLevel, WarningState

router = APIRouter(prefix="/api/v1", tags=["warnings"])

Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Reader = Annotated[Principal, Require(P.WARNING_READ)]
Drafter = Annotated[Principal, Require(P.WARNING_DRAFT)]
Reviewer = Annotated[Principal, Require(P.WARNING_REVIEW)]
Signer = Annotated[Principal, Require(P.WARNING_SIGN)]
Publisher = Annotated[Principal, Require(P.WARNING_PUBLISH)]
ID = "/warnings/{warning_id:uuid}"
#: at most this many recipients in one export
EXPORT_LIMIT = 200_000


def issuing(request: Request) -> flows.Issuing:
    settings = get_settings(request)
    # the CAP part (A) adds YINGJI_CAP_ORG_CODE and YINGJI_CAP_SENDER; empty until it lands
    return flows.Issuing(
        org_code=settings.cap_org_code,
        sender=settings.cap_sender,
        public_url=settings.public_url,
    )


def read(warning: Warning) -> schemas.WarningRead:
    return schemas.WarningRead.model_validate(warning)


@router.get(
    "/warnings/types",
    response_model=schemas.WarningTypes,
    summary="Warning types with the colours each allows",
)
async def list_types(session: Session, _me: Reader) -> schemas.WarningTypes:
    rows = await service.list_types(session=session)
    return schemas.WarningTypes(
        items=[
            schemas.WarningTypeRead(
                code=t.code,
                name_zh=t.name_zh,
                name_en=t.name_en,
                family=t.family,
                levels=[WarningLevel(level) for level in t.levels],
                cap_category=t.cap_category,
                authority_zh=t.authority_zh,
            )
            for t in rows
        ]
    )


@router.get(
    "/warnings",
    response_model=schemas.WarningPage,
    summary="Warnings you may read (your division subtree, or sent to you), newest first",
)
async def list_warnings(
    session: Session,
    me: Reader,
    state: WarningState | None = None,
    origin: Annotated[str | None, Query(pattern="^(authored|received)$")] = None,
    level: WarningLevel | None = None,
    type: Annotated[str | None, Query(max_length=40)] = None,  # noqa: A002 - the query's name
    q: Annotated[str | None, Query(max_length=100)] = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> schemas.WarningPage:
    rows, total = await service.list_warnings(
        session=session,
        principal=me,
        filters=service.WarningFilter(
            state=state.value if state else None,
            origin=origin,
            level=level.value if level else None,
            type_code=type,
            q=q,
        ),
        offset=offset,
        limit=limit,
    )
    return schemas.WarningPage(items=[read(w) for w in rows], total=total)


@router.post(
    "/warnings",
    response_model=schemas.WarningRead,
    status_code=201,
    summary="Draft a warning (制作)",
)
async def create_warning(
    body: schemas.WarningCreate, session: Session, me: Drafter
) -> schemas.WarningRead:
    values = body.model_dump(exclude={"division_adcode"}, exclude_unset=True)
    warning = await flows.create_draft(
        session=session, principal=me, values=values, division_adcode=body.division_adcode
    )
    return read(warning)


@router.get(ID, response_model=schemas.WarningRead, responses={404: {}}, summary="One warning")
async def get_warning(warning_id: uuid.UUID, session: Session, me: Reader) -> schemas.WarningRead:
    return read(
        await service.get_warning_or_raise(session=session, warning_id=warning_id, principal=me)
    )


@router.patch(
    ID,
    response_model=schemas.WarningRead,
    responses={404: {}, 409: {}},
    summary="Change a draft or returned warning at the version read",
)
async def update_warning(
    warning_id: uuid.UUID, body: schemas.WarningUpdate, session: Session, me: Drafter
) -> schemas.WarningRead:
    changes = body.model_dump(exclude_unset=True)
    version = changes.pop("version")
    warning = await flows.update_draft(
        session=session, principal=me, warning_id=warning_id, changes=changes, version=version
    )
    return read(warning)


@router.post(f"{ID}/submit", response_model=schemas.WarningRead, summary="送审")
async def submit(
    warning_id: uuid.UUID, body: schemas.Step, session: Session, me: Drafter
) -> schemas.WarningRead:
    return read(
        await flows.submit(
            session=session, principal=me, warning_id=warning_id, version=body.version
        )
    )


@router.post(f"{ID}/approve", response_model=schemas.WarningRead, summary="审核通过")
async def approve(
    warning_id: uuid.UUID, body: schemas.Step, session: Session, me: Reviewer
) -> schemas.WarningRead:
    return read(
        await flows.approve(
            session=session, principal=me, warning_id=warning_id, version=body.version
        )
    )


@router.post(f"{ID}/return", response_model=schemas.WarningRead, summary="退回 (with a reason)")
async def return_warning(
    warning_id: uuid.UUID, body: schemas.StepWithReason, session: Session, me: Reader
) -> schemas.WarningRead:
    return read(
        await flows.return_(
            session=session,
            principal=me,
            warning_id=warning_id,
            version=body.version,
            reason=body.reason,
        )
    )


@router.post(f"{ID}/sign", response_model=schemas.WarningRead, summary="签发")
async def sign(
    warning_id: uuid.UUID, body: schemas.Step, session: Session, me: Signer
) -> schemas.WarningRead:
    return read(
        await flows.sign(session=session, principal=me, warning_id=warning_id, version=body.version)
    )


@router.post(
    f"{ID}/publish",
    response_model=schemas.WarningRead,
    summary="发布: recipients frozen and every delivery queued in one transaction",
)
async def publish(
    warning_id: uuid.UUID, body: schemas.Step, request: Request, session: Session, me: Publisher
) -> schemas.WarningRead:
    return read(
        await flows.publish(
            session=session,
            principal=me,
            warning_id=warning_id,
            version=body.version,
            issuing=issuing(request),
        )
    )


@router.post(
    f"{ID}/cancel",
    response_model=schemas.WarningRead,
    summary="解除 a published warning (or withdraw a draft), with a reason",
)
async def cancel(
    warning_id: uuid.UUID,
    body: schemas.StepWithReason,
    request: Request,
    session: Session,
    me: Reader,
) -> schemas.WarningRead:
    return read(
        await flows.cancel(
            session=session,
            principal=me,
            warning_id=warning_id,
            version=body.version,
            reason=body.reason,
            issuing=issuing(request),
        )
    )


@router.post(
    f"{ID}/update",
    response_model=schemas.WarningRead,
    status_code=201,
    summary="A published warning → a new draft (Update) that supersedes it when published",
)
async def make_update(
    warning_id: uuid.UUID, session: Session, me: Publisher
) -> schemas.WarningRead:
    return read(await flows.make_update(session=session, principal=me, warning_id=warning_id))


@router.post(
    f"{ID}/relay",
    response_model=schemas.WarningRead,
    status_code=201,
    summary="A received warning → a new draft for our area",
)
async def relay(
    warning_id: uuid.UUID, body: schemas.Relay, session: Session, me: Drafter
) -> schemas.WarningRead:
    return read(
        await flows.relay(
            session=session,
            principal=me,
            warning_id=warning_id,
            division_adcode=body.division_adcode,
            issuer=body.issuer,
        )
    )


@router.post(f"{ID}/dismiss", response_model=schemas.WarningRead, summary="Dismiss a received one")
async def dismiss(
    warning_id: uuid.UUID, body: schemas.StepWithReason, session: Session, me: Drafter
) -> schemas.WarningRead:
    return read(
        await flows.dismiss(
            session=session,
            principal=me,
            warning_id=warning_id,
            version=body.version,
            reason=body.reason,
        )
    )


def _recipient_filter(
    reason: str | None,
    must_ack: bool | None,
    call_state: str | None,
    town: str | None,
    q: str | None,
) -> service.RecipientFilter:
    return service.RecipientFilter(
        reason=reason, must_ack=must_ack, call_state=call_state, town_adcode=town, q=q
    )


async def _desk_warning(session: AsyncSession, me: Principal, warning_id: uuid.UUID) -> Warning:
    return await service.get_desk_warning_or_raise(
        session=session, warning_id=warning_id, scope=me.scope
    )


Reason = Annotated[str | None, Query(max_length=24)]
CallState = Annotated[str | None, Query(pattern="^(waiting|answered|escalated|exhausted)$")]
Town = Annotated[str | None, Query(pattern=schemas.ADCODE_PATTERN)]
Text = Annotated[str | None, Query(max_length=100)]


@router.get(
    f"{ID}/recipients",
    response_model=schemas.RecipientPage,
    responses={404: {}},
    summary="The recipients frozen at publication",
)
async def list_recipients(
    warning_id: uuid.UUID,
    session: Session,
    me: Reader,
    reason: Reason = None,
    must_ack: bool | None = None,
    call_state: CallState = None,
    town: Town = None,
    q: Text = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> schemas.RecipientPage:
    warning = await _desk_warning(session, me, warning_id)
    rows, total = await service.list_recipients(
        session=session,
        warning_id=warning.id,
        filters=_recipient_filter(reason, must_ack, call_state, town, q),
        offset=offset,
        limit=limit,
    )
    return schemas.RecipientPage(
        items=[schemas.RecipientRead.model_validate(r) for r in rows], total=total
    )


RECIPIENT_HEADER = (
    "姓名",
    "职务",
    "原因",
    "区划",
    "乡镇",
    "渠道",
    "须叫应",
    "叫应状态",
    "确认时间",
)


@router.get(
    f"{ID}/recipients.xlsx",
    responses={404: {}, 200: {"content": {tabular.XLSX_TYPE: {}}}},
    summary="The frozen recipient list as a spreadsheet",
)
async def export_recipients(
    warning_id: uuid.UUID,
    session: Session,
    me: Reader,
    reason: Reason = None,
    must_ack: bool | None = None,
    call_state: CallState = None,
    town: Town = None,
    q: Text = None,
) -> Response:
    warning = await _desk_warning(session, me, warning_id)
    rows, _total = await service.list_recipients(
        session=session,
        warning_id=warning.id,
        filters=_recipient_filter(reason, must_ack, call_state, town, q),
        offset=0,
        limit=EXPORT_LIMIT,
    )
    sheet = tabular.Sheet(
        title="recipients",
        header=RECIPIENT_HEADER,
        rows=(
            (
                r.name,
                r.position,
                r.reason,
                r.division_adcode,
                r.town_adcode,
                " ".join(c.get("channel", "") for c in r.channels or []),
                r.must_ack,
                r.call_state,
                service.iso(r.acked_at),
            )
            for r in rows
        ),
    )
    return Response(
        content=tabular.write_xlsx([sheet]),
        media_type=tabular.XLSX_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{warning.number}-recipients.xlsx"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    f"{ID}/deliveries",
    response_model=schemas.DeliveryPage,
    responses={404: {}},
    summary="The deliveries of a warning (every channel and step), with counts by state",
)
async def list_deliveries(
    warning_id: uuid.UUID,
    session: Session,
    me: Reader,
    state: Annotated[
        str | None, Query(pattern="^(queued|sending|sent|delivered|failed|cancelled)$")
    ] = None,
    recipient: Annotated[str | None, Query(max_length=64)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> schemas.DeliveryPage:
    warning = await _desk_warning(session, me, warning_id)
    rows, total = await delivery.list_deliveries(
        session,
        subject_id=warning.id,
        state=state,
        recipient_ref=recipient,
        offset=offset,
        limit=limit,
    )
    counts = await delivery.counts(session, subject_id=warning.id)
    return schemas.DeliveryPage(
        items=[schemas.DeliveryRead.model_validate(r) for r in rows],
        total=total,
        counts=counts,
    )
