"""HTTP routes of CAP: a message in (``POST /api/v1/warnings:cap``), a warning out as CAP 1.2
(``GET /api/v1/warnings/{id}/cap``), and the CAP feeds the poller reads
(``/api/v1/warnings/feeds``). Mounted before the other warning routes, so ``feeds`` and
``warnings:cap`` are never taken for a warning's id."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from yingji.core.errors import DomainError, InvalidTransition, NotFound, ValidationFailed
from yingji.core.security import Permission, Principal
from yingji.core.web import Require, Session, get_settings
from yingji.org import service as org
from yingji.settings import Settings
from yingji.warning import cap, feeds
from yingji.warning.models import CapFeed, Warning

router = APIRouter(prefix="/api/v1", tags=["warnings"])

Reader = Annotated[Principal, Require(Permission.WARNING_READ)]
Drafter = Annotated[Principal, Require(Permission.WARNING_DRAFT)]
Manager = Annotated[Principal, Require(Permission.WARNING_MANAGE)]
AppSettings = Annotated[Settings, Depends(get_settings)]
ADCODE = r"^\d{6}(\d{6})?$"
CAP_MEDIA = ("application/cap+xml", "application/xml", "text/xml")


class UnsupportedMedia(DomainError):
    status: ClassVar[int] = 415
    default_code: ClassVar[str] = "unsupported_media_type"


class CapReceived(BaseModel):
    """The received warning a CAP message made (``created`` false: it was taken before)."""

    id: uuid.UUID
    number: str
    origin: str
    state: str
    identifier: str | None
    sender: str | None
    msg_type: str
    cap_status: str
    type_code: str | None
    event_text: str | None
    level: str | None
    headline: str
    division_adcode: str
    replaces_id: uuid.UUID | None
    area_adcodes: list[str]
    has_area: bool
    sent_at: datetime | None
    expires_at: datetime | None
    created: bool


class FeedResult(BaseModel):
    """The last poll's outcome: ``ok`` (params: entries, new, seen, refused, failed, deferred,
    first_refusal), ``not_modified``, ``http_error`` (status), ``unreachable``, ``too_large``,
    ``not_a_feed``, ``feed_unsafe``; empty before the first poll."""

    code: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class FeedRead(BaseModel):
    id: uuid.UUID
    url: str
    name: str
    division_adcode: str
    interval_seconds: int
    active: bool
    last_polled_at: datetime | None
    last_result: FeedResult
    created_at: datetime
    updated_at: datetime


class FeedCreate(BaseModel):
    url: str = Field(min_length=8, max_length=500)
    name: str = Field(min_length=1, max_length=200)
    division_adcode: str = Field(pattern=ADCODE)
    interval_seconds: int = Field(default=300, ge=60, le=86_400)
    active: bool = True


class FeedUpdate(BaseModel):
    url: str | None = Field(default=None, min_length=8, max_length=500)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    division_adcode: str | None = Field(default=None, pattern=ADCODE)
    interval_seconds: int | None = Field(default=None, ge=60, le=86_400)
    active: bool | None = None


class FeedList(BaseModel):
    items: list[FeedRead]


def received_read(receipt: cap.Receipt) -> CapReceived:
    w = receipt.warning
    return CapReceived(
        id=w.id,
        number=w.number,
        origin=w.origin,
        state=w.state,
        identifier=w.identifier,
        sender=w.sender,
        msg_type=w.msg_type,
        cap_status=w.cap_status,
        type_code=w.type_code,
        event_text=w.event_text,
        level=w.level,
        headline=w.headline,
        division_adcode=w.division_adcode,
        replaces_id=w.replaces_id,
        area_adcodes=list(w.area_adcodes or []),
        has_area=w.area is not None,
        sent_at=w.sent_at,
        expires_at=w.expires_at,
        created=receipt.created,
    )


def feed_read(feed: CapFeed) -> FeedRead:
    result = feed.last_result or {}
    return FeedRead(
        id=feed.id,
        url=feed.url,
        name=feed.name,
        division_adcode=feed.division_adcode,
        interval_seconds=feed.interval_seconds,
        active=feed.active,
        last_polled_at=feed.last_polled_at,
        last_result=FeedResult(code=result.get("code"), params=result.get("params") or {}),
        created_at=feed.created_at,
        updated_at=feed.updated_at,
    )


async def _receiving_division(session: Session, me: Principal, adcode: str | None) -> str:
    """The division a posted message is received into: ``?division=`` within the principal's
    scope, else the principal's own; its path."""
    if adcode is None:
        path = me.scope.division_path
        if not path:
            raise ValidationFailed("division_required", "name the receiving division")
        return path
    path = await org.path_of_division(session=session, adcode=adcode)
    if path is None or not me.scope.covers(division_path=path):
        raise NotFound("division_not_found", f"no division {adcode}", {"adcode": adcode})
    return path


@router.post(
    "/warnings:cap",
    response_model=CapReceived,
    status_code=201,
    responses={200: {"model": CapReceived}, 409: {}, 415: {}, 422: {}},
    summary="Take a CAP 1.2 message (body: the XML) as a received warning; the same message "
    "again gives back the same warning (200)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/cap+xml": {"schema": {"type": "string"}},
                "application/xml": {"schema": {"type": "string"}},
            },
        }
    },
)
async def receive_cap(
    request: Request,
    response: Response,
    session: Session,
    me: Drafter,
    settings: AppSettings,
    division: Annotated[str | None, Query(pattern=ADCODE)] = None,
) -> CapReceived:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in CAP_MEDIA:
        raise UnsupportedMedia(
            "unsupported_media_type", "send application/cap+xml", {"accepted": list(CAP_MEDIA)}
        )
    path = await _receiving_division(session, me, division)
    body = await request.body()
    message = cap.parse(body, max_bytes=settings.cap_max_bytes)
    receipt = await cap.receive(
        session,
        message=message,
        xml=body,
        division_adcode=path.rstrip("/").rsplit("/", 1)[-1],
        division_path=path,
        source="api",
    )
    if not receipt.created:
        response.status_code = 200
    return received_read(receipt)


@router.get("/warnings/feeds", response_model=FeedList, summary="The CAP feeds you may see")
async def list_feeds(session: Session, me: Manager) -> FeedList:
    return FeedList(items=[feed_read(f) for f in await feeds.list_feeds(session, scope=me.scope)])


@router.post(
    "/warnings/feeds",
    response_model=FeedRead,
    status_code=201,
    responses={403: {}, 409: {}},
    summary="Add a CAP feed (polled at once, then every interval_seconds)",
)
async def create_feed(body: FeedCreate, session: Session, me: Manager) -> FeedRead:
    feed = await feeds.create_feed(
        session, principal=me, values=feeds.FeedValues(**body.model_dump())
    )
    return feed_read(feed)


@router.get("/warnings/feeds/{feed_id}", response_model=FeedRead, responses={404: {}})
async def get_feed(feed_id: uuid.UUID, session: Session, me: Manager) -> FeedRead:
    return feed_read(await feeds.get_feed(session, feed_id=feed_id, scope=me.scope))


@router.patch(
    "/warnings/feeds/{feed_id}",
    response_model=FeedRead,
    responses={404: {}, 409: {}},
    summary="Change a CAP feed (its poll is rescheduled: now, or never when inactive)",
)
async def update_feed(
    feed_id: uuid.UUID, body: FeedUpdate, session: Session, me: Manager
) -> FeedRead:
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    feed = await feeds.update_feed(session, principal=me, feed_id=feed_id, changes=changes)
    return feed_read(feed)


@router.delete("/warnings/feeds/{feed_id}", status_code=204, responses={404: {}})
async def delete_feed(feed_id: uuid.UUID, session: Session, me: Manager) -> Response:
    await feeds.delete_feed(session, principal=me, feed_id=feed_id)
    return Response(status_code=204)


@router.post(
    "/warnings/feeds/{feed_id}/poll",
    response_model=FeedRead,
    responses={404: {}},
    summary="Poll a CAP feed now (the outcome is in last_result)",
)
async def poll_feed(
    feed_id: uuid.UUID, session: Session, me: Manager, settings: AppSettings
) -> FeedRead:
    feed = await feeds.poll_now(session, principal=me, feed_id=feed_id, settings=settings)
    return feed_read(feed)


@router.get(
    "/warnings/{warning_id}/cap",
    responses={
        200: {"content": {"application/cap+xml": {"schema": {"type": "string"}}}},
        404: {},
        409: {},
    },
    response_class=Response,
    summary="The warning as a CAP 1.2 message (a received one: as it was received)",
)
async def warning_cap(
    warning_id: uuid.UUID, session: Session, me: Reader, settings: AppSettings
) -> Response:
    warning = await session.get(Warning, warning_id)
    if warning is None or not me.scope.covers(division_path=warning.division_path):
        raise NotFound(
            "warning_not_found", f"no warning {warning_id}", {"warning_id": str(warning_id)}
        )
    if warning.origin == "received" and warning.cap_xml:
        body = warning.cap_xml.encode("utf-8")
    elif not warning.identifier:
        raise cap_not_published(warning)
    else:
        facts = await cap.facts_of(
            session,
            warning,
            sender=settings.cap_sender,
            web=f"{settings.public_url.rstrip('/')}/warnings/{warning.id}",
        )
        body = cap.build(facts)
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in (warning.identifier or ""))
    return Response(
        content=body,
        media_type="application/cap+xml",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'attachment; filename="{name or warning.number}.xml"',
        },
    )


def cap_not_published(warning: Warning) -> DomainError:
    return InvalidTransition(
        "cap_not_published",
        "a warning has a CAP message once it is published",
        {"state": warning.state},
    )
