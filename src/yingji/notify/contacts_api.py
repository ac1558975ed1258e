"""The ways to reach people (contact points) and the broadcast devices, kept by a division's
command desk (``warning.manage``), each within the principal's scope: a person's contact points
through the person (another area's person is 404), a device through its division."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock
from yingji.core.changes import record_change
from yingji.core.errors import Conflict, NotFound, ValidationFailed
from yingji.core.events import EventScope
from yingji.core.security import Permission, Principal
from yingji.core.web import Require, Session, get_settings
from yingji.notify.channels.email import ADDRESS as EMAIL_ADDRESS
from yingji.notify.channels.gateway import MOBILE
from yingji.notify.channels.webhook import webhook_allowed
from yingji.notify.models import BroadcastDevice, ContactPoint
from yingji.org import service as org
from yingji.settings import Settings

router = APIRouter(prefix="/api/v1/notify", tags=["notify"])

Manager = Annotated[Principal, Require(Permission.WARNING_MANAGE)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]
ContactChannel = Literal["email", "dingtalk", "wecom", "sms", "voice"]
DeviceKind = Literal["loudspeaker", "led"]
DEVICE_CODE = r"^[A-Za-z0-9_-]{1,64}$"


# --- contact points ---------------------------------------------------------------------------


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person_id: uuid.UUID
    channel: ContactChannel
    address: str = Field(min_length=1, max_length=500)
    priority: int = Field(default=0, ge=0, le=1000)


class ContactPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str | None = Field(default=None, min_length=1, max_length=500)
    priority: int | None = Field(default=None, ge=0, le=1000)


class ContactRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    person_id: uuid.UUID
    channel: str
    address: str
    priority: int
    created_at: datetime


class ContactPage(BaseModel):
    items: list[ContactRead]
    total: int


def check_address(channel: str, address: str, settings: Settings) -> str:
    """The address as stored, or ``contact_address_invalid``."""
    value = address.strip()
    if channel in ("sms", "voice"):
        value = re.sub(r"[\s-]", "", value)
        ok = bool(MOBILE.match(value))
    elif channel == "email":
        ok = bool(EMAIL_ADDRESS.match(value))
    else:
        ok = webhook_allowed(value, settings.notify_webhook_hosts)
    if not ok:
        raise ValidationFailed(
            "contact_address_invalid",
            f"not a valid {channel} address",
            {"channel": channel},
        )
    return value


async def _person_area(session: AsyncSession, person_id: uuid.UUID, me: Principal) -> str:
    """The division path of the person's unit, if the principal reaches the person (else 404)."""
    person = await org.get_person_or_raise(session=session, person_id=person_id, scope=me.scope)
    unit = await org.get_unit_or_raise(session=session, unit_id=person.unit_id)
    return unit.division_path


def _contact_facts(row: ContactPoint) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "person_id": str(row.person_id),
        "channel": row.channel,
        "address": row.address,
        "priority": row.priority,
    }


async def _contact_or_404(
    session: AsyncSession, contact_id: uuid.UUID, me: Principal
) -> tuple[ContactPoint, str]:
    row = await session.get(ContactPoint, contact_id)
    if row is None:
        raise NotFound("contact_point_not_found", "no such contact point")
    try:
        area = await _person_area(session, row.person_id, me)
    except NotFound:
        raise NotFound("contact_point_not_found", "no such contact point") from None
    return row, area


async def _unique_contact(
    session: AsyncSession, person_id: uuid.UUID, channel: str, address: str, own: uuid.UUID | None
) -> None:
    taken = await session.scalar(
        select(ContactPoint.id).where(
            ContactPoint.person_id == person_id,
            ContactPoint.channel == channel,
            ContactPoint.address == address,
        )
    )
    if taken is not None and taken != own:
        raise Conflict("contact_point_exists", "the person already has this address")


@router.get("/contacts", response_model=ContactPage, summary="A person's contact points, in order")
async def list_contacts(
    session: Session, me: Manager, person_id: uuid.UUID, offset: Offset = 0, limit: Limit = 100
) -> ContactPage:
    await _person_area(session, person_id, me)
    stmt = select(ContactPoint).where(ContactPoint.person_id == person_id)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.scalars(
        stmt.order_by(ContactPoint.priority, ContactPoint.channel).offset(offset).limit(limit)
    )
    return ContactPage(items=[ContactRead.model_validate(r) for r in rows], total=total)


@router.post("/contacts", response_model=ContactRead, status_code=201)
async def create_contact(
    body: ContactIn, request: Request, session: Session, me: Manager
) -> ContactPoint:
    area = await _person_area(session, body.person_id, me)
    address = check_address(body.channel, body.address, get_settings(request))
    await _unique_contact(session, body.person_id, body.channel, address, None)
    row = ContactPoint(
        person_id=body.person_id,
        channel=body.channel,
        address=address,
        priority=body.priority,
        created_at=clock.now(),
    )
    session.add(row)
    await session.flush()
    await record_change(
        session,
        action="notify.contact_point.created",
        subject_type="contact_point",
        subject_id=row.id,
        before=None,
        after=_contact_facts(row),
        audience=EventScope(division_path=area),
    )
    return row


@router.patch("/contacts/{contact_id}", response_model=ContactRead)
async def change_contact(
    contact_id: uuid.UUID, body: ContactPatch, request: Request, session: Session, me: Manager
) -> ContactPoint:
    row, area = await _contact_or_404(session, contact_id, me)
    before = _contact_facts(row)
    if body.address is not None:
        row.address = check_address(row.channel, body.address, get_settings(request))
        await _unique_contact(session, row.person_id, row.channel, row.address, row.id)
    if body.priority is not None:
        row.priority = body.priority
    await session.flush()
    await record_change(
        session,
        action="notify.contact_point.changed",
        subject_type="contact_point",
        subject_id=row.id,
        before=before,
        after=_contact_facts(row),
        audience=EventScope(division_path=area),
    )
    return row


@router.delete("/contacts/{contact_id}", status_code=204)
async def delete_contact(contact_id: uuid.UUID, session: Session, me: Manager) -> Response:
    row, area = await _contact_or_404(session, contact_id, me)
    before = _contact_facts(row)
    await session.delete(row)
    await session.flush()
    await record_change(
        session,
        action="notify.contact_point.deleted",
        subject_type="contact_point",
        subject_id=contact_id,
        before=before,
        after=None,
        audience=EventScope(division_path=area),
    )
    return Response(status_code=204)


# --- broadcast devices ------------------------------------------------------------------------


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=DEVICE_CODE)
    kind: DeviceKind
    name: str = Field(min_length=1, max_length=200)
    division_adcode: str = Field(pattern=r"^[0-9]{6,12}$")
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    active: bool = True


class DevicePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    division_adcode: str | None = Field(default=None, pattern=r"^[0-9]{6,12}$")
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    active: bool | None = None


class DeviceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    code: str
    kind: str
    name: str
    division_adcode: str
    lon: float | None
    lat: float | None
    topic: str
    active: bool
    state: dict[str, Any]
    seen_at: datetime | None
    created_at: datetime
    updated_at: datetime


class DevicePage(BaseModel):
    items: list[DeviceRead]
    total: int


async def _division_path(session: AsyncSession, adcode: str, me: Principal) -> str:
    division = await org.get_division(session=session, adcode=adcode)
    if division is None or not me.scope.covers(division_path=division.path):
        raise NotFound("division_not_found", f"no division {adcode}", {"adcode": adcode})
    return division.path


def _device_facts(row: BroadcastDevice) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "code": row.code,
        "kind": row.kind,
        "name": row.name,
        "division_adcode": row.division_adcode,
        "lon": row.lon,
        "lat": row.lat,
        "active": row.active,
    }


async def _device_or_404(
    session: AsyncSession, device_id: uuid.UUID, me: Principal
) -> BroadcastDevice:
    row = await session.scalar(
        select(BroadcastDevice).where(
            BroadcastDevice.id == device_id, me.scope.clause(BroadcastDevice.division_path)
        )
    )
    if row is None:
        raise NotFound("device_not_found", "no such device")
    return row


def _both_or_neither(lon: float | None, lat: float | None) -> None:
    if (lon is None) != (lat is None):
        raise ValidationFailed("device_point_incomplete", "give both lon and lat, or neither")


@router.get("/devices", response_model=DevicePage, summary="Loudspeakers and LED boards in scope")
async def list_devices(
    session: Session,
    me: Manager,
    kind: DeviceKind | None = None,
    division: Annotated[str | None, Query(pattern=r"^[0-9]{6,12}$")] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> DevicePage:
    stmt = select(BroadcastDevice).where(me.scope.clause(BroadcastDevice.division_path))
    if kind is not None:
        stmt = stmt.where(BroadcastDevice.kind == kind)
    if division is not None:
        found = await org.get_division(session=session, adcode=division)
        if found is None:
            return DevicePage(items=[], total=0)
        stmt = stmt.where(BroadcastDevice.division_path.startswith(found.path, autoescape=True))
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(BroadcastDevice.code.ilike(like), BroadcastDevice.name.ilike(like)))
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.scalars(stmt.order_by(BroadcastDevice.code).offset(offset).limit(limit))
    return DevicePage(items=[DeviceRead.model_validate(r) for r in rows], total=total)


@router.get("/devices/{device_id}", response_model=DeviceRead)
async def read_device(device_id: uuid.UUID, session: Session, me: Manager) -> BroadcastDevice:
    return await _device_or_404(session, device_id, me)


@router.post("/devices", response_model=DeviceRead, status_code=201)
async def create_device(
    body: DeviceIn, request: Request, session: Session, me: Manager
) -> BroadcastDevice:
    _both_or_neither(body.lon, body.lat)
    path = await _division_path(session, body.division_adcode, me)
    if await session.scalar(select(BroadcastDevice.id).where(BroadcastDevice.code == body.code)):
        raise Conflict("device_code_taken", "a device with this code exists", {"code": body.code})
    now = clock.now()
    root = get_settings(request).mqtt_topic_root.strip("/")
    row = BroadcastDevice(
        code=body.code,
        kind=body.kind,
        name=body.name,
        division_adcode=body.division_adcode,
        division_path=path,
        lon=body.lon,
        lat=body.lat,
        topic=f"{root}/{body.code}",
        active=body.active,
        state={},
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    await record_change(
        session,
        action="notify.device.created",
        subject_type="broadcast_device",
        subject_id=row.id,
        before=None,
        after=_device_facts(row),
        audience=EventScope(division_path=path),
    )
    return row


@router.patch("/devices/{device_id}", response_model=DeviceRead)
async def change_device(
    device_id: uuid.UUID, body: DevicePatch, session: Session, me: Manager
) -> BroadcastDevice:
    row = await _device_or_404(session, device_id, me)
    before = _device_facts(row)
    previous = row.division_path
    given = body.model_dump(exclude_unset=True)
    lon, lat = given.get("lon", row.lon), given.get("lat", row.lat)
    _both_or_neither(lon, lat)
    if body.division_adcode is not None:
        row.division_path = await _division_path(session, body.division_adcode, me)
        row.division_adcode = body.division_adcode
    if body.name is not None:
        row.name = body.name
    if body.active is not None:
        row.active = body.active
    row.lon, row.lat = lon, lat
    row.updated_at = clock.now()
    await session.flush()
    await record_change(
        session,
        action="notify.device.changed",
        subject_type="broadcast_device",
        subject_id=row.id,
        before=before,
        after=_device_facts(row),
        audience=EventScope(division_path=row.division_path),
        previous_audience=EventScope(division_path=previous),
    )
    return row


@router.delete("/devices/{device_id}", status_code=204)
async def delete_device(device_id: uuid.UUID, session: Session, me: Manager) -> Response:
    row = await _device_or_404(session, device_id, me)
    before, path = _device_facts(row), row.division_path
    await session.delete(row)
    await session.flush()
    await record_change(
        session,
        action="notify.device.deleted",
        subject_type="broadcast_device",
        subject_id=device_id,
        before=before,
        after=None,
        audience=EventScope(division_path=path),
    )
    return Response(status_code=204)
