"""Request and response bodies of the warning workflow's routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from yingji.warning.models import WarningLevel

ADCODE_PATTERN = r"^\d{6}(\d{3}){0,2}$"
Adcode = Annotated[str, Field(pattern=ADCODE_PATTERN)]
CapStatus = Literal["Actual", "Exercise", "System", "Test", "Draft"]


class AreaGeometry(BaseModel):
    """A GeoJSON Polygon or MultiPolygon (WGS-84, lon before lat)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any] = Field(max_length=1000)


class WarningTypeRead(BaseModel):
    code: str
    name_zh: str
    name_en: str
    family: str
    levels: list[WarningLevel]
    cap_category: str
    authority_zh: str


class WarningTypes(BaseModel):
    items: list[WarningTypeRead]


class _Content(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type_code: str | None = Field(default=None, max_length=40)
    level: WarningLevel | None = None
    description: str | None = Field(default=None, max_length=4000)
    instruction: str | None = Field(default=None, max_length=4000)
    headline_en: str | None = Field(default=None, max_length=300)
    description_en: str | None = Field(default=None, max_length=4000)
    instruction_en: str | None = Field(default=None, max_length=4000)
    area_desc: str | None = Field(default=None, max_length=500)
    area: AreaGeometry | None = None
    area_adcodes: list[Adcode] | None = Field(default=None, max_length=200)
    onset_at: datetime | None = None
    expires_at: datetime | None = None
    cap_status: CapStatus | None = None


class WarningCreate(_Content):
    headline: str = Field(min_length=1, max_length=300)
    issuer: str = Field(min_length=1, max_length=200)
    #: the issuing division (default: the principal's own)
    division_adcode: Adcode | None = None


class WarningUpdate(_Content):
    headline: str | None = Field(default=None, min_length=1, max_length=300)
    issuer: str | None = Field(default=None, min_length=1, max_length=200)
    version: int = Field(ge=1, le=2_000_000_000)


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: the version read (409 stale_version if it moved on); omitted: whatever is current
    version: int | None = Field(default=None, ge=1, le=2_000_000_000)


class StepWithReason(Step):
    reason: str = Field(min_length=1, max_length=500)


class Relay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    division_adcode: Adcode | None = None
    issuer: str | None = Field(default=None, min_length=1, max_length=200)


class AreaRead(BaseModel):
    """A stored area: a GeoJSON Polygon or MultiPolygon (WGS-84, lon before lat)."""

    type: str
    coordinates: list[Any]


class FrozenCallSteps(BaseModel):
    """The steps of a 叫应 plan (``CallPlan.steps``)."""

    positions: list[str] = []
    channels: list[str] = []
    wait_minutes: int = 0
    repeats: int = 0
    escalate_to: list[str] = []


class FrozenCallPlan(BaseModel):
    """The 叫应 plan copied into the warning at publication (later edits never change it)."""

    id: str
    version: int
    name: str
    type_code: str | None = None
    level: str
    division_adcode: str | None = None
    steps: FrozenCallSteps


class WarningRead(BaseModel):
    id: uuid.UUID
    number: str
    identifier: str | None
    sender: str | None
    origin: str
    state: str
    cap_status: str
    msg_type: str
    replaces_id: uuid.UUID | None
    references: list[str]
    relayed_from_id: uuid.UUID | None
    type_code: str | None
    event_text: str | None
    level: str | None
    headline: str
    description: str
    instruction: str
    headline_en: str | None
    description_en: str | None
    instruction_en: str | None
    issuer: str
    division_adcode: str
    area_desc: str
    area: AreaRead | None
    area_adcodes: list[str]
    onset_at: datetime | None
    expires_at: datetime | None
    sent_at: datetime | None
    call_plan: FrozenCallPlan | None
    source: str | None
    created_by: uuid.UUID | None
    submitted_by: uuid.UUID | None
    submitted_at: datetime | None
    approved_by: uuid.UUID | None
    approved_at: datetime | None
    signed_by: uuid.UUID | None
    signed_at: datetime | None
    published_by: uuid.UUID | None
    published_at: datetime | None
    cancelled_by: uuid.UUID | None
    cancelled_at: datetime | None
    state_reason: str | None
    recipient_count: int
    version: int
    created_at: datetime
    updated_at: datetime

    model_config = ConfigDict(from_attributes=True)


class WarningPage(BaseModel):
    items: list[WarningRead]
    total: int


class ChannelAddress(BaseModel):
    channel: str
    address: str


class RecipientRead(BaseModel):
    id: uuid.UUID
    recipient_key: str
    reason: str
    person_id: uuid.UUID | None
    user_id: uuid.UUID | None
    unit_id: uuid.UUID | None
    resource_id: uuid.UUID | None
    device_id: uuid.UUID | None
    name: str
    position: str | None
    division_adcode: str | None
    town_adcode: str | None
    channels: list[ChannelAddress]
    must_ack: bool
    call_state: str
    call_step: int
    escalated_from_id: uuid.UUID | None
    acked_at: datetime | None
    created_at: datetime

    model_config = ConfigDict(from_attributes=True)


class RecipientPage(BaseModel):
    items: list[RecipientRead]
    total: int


class DeliveryRead(BaseModel):
    id: int
    recipient_ref: str
    name: str
    channel: str
    address: str
    step: int
    state: str
    tries: int
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None

    model_config = ConfigDict(from_attributes=True)


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    total: int
    #: deliveries of the warning by state
    counts: dict[str, int]
