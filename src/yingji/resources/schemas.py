"""Shapes of the resource registry, the supply catalogue and stock at the API boundary.

``attrs`` is checked against the kind's fields by the service (``kinds.check_attrs``), not
here: the kinds are data, and one checker serves the API and the importer alike.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from yingji.resources.models import ResourceKind

ADCODE_PATTERN = r"^\d{6}(\d{3}(\d{3})?)?$"
CODE_PATTERN = r"^[0-9A-Za-z_\-.]{1,64}$"
PHONE_PATTERN = r"^[0-9+\-() 转]{3,40}$"
#: a code of the supply catalogue
ITEM_CODE_PATTERN = r"^[0-9A-Za-z_\-.]{1,64}$"
CorrectionReason = Literal["stocktake", "damaged", "expired", "lost", "found", "entry_error"]

Attrs = dict[str, Any]
Area = dict[str, Any]
ATTRS_DESCRIPTION = (
    "the kind's own fields (GET /api/v1/resources/kinds); unknown keys and bad values are "
    "refused with field_invalid and details {field, problem, params}"
)
AREA_DESCRIPTION = (
    "GeoJSON Polygon or MultiPolygon (WGS-84) for kinds with an area; the point defaults to a "
    "point inside it"
)


class FieldRead(BaseModel):
    key: str
    zh: str
    en: str
    type: str
    required: bool
    choices: dict[str, str] | None
    max_length: int
    minimum: float | None
    maximum: float | None
    tag: bool
    pattern: str | None


class KindRead(BaseModel):
    kind: str
    zh: str
    en: str
    statuses: dict[str, str]
    usable: list[str]
    fields: list[FieldRead]
    area: bool
    requestable: bool
    speed_kmh: float


class KindsRead(BaseModel):
    common: list[FieldRead]
    kinds: list[KindRead]


class ResourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ResourceKind
    code: str = Field(pattern=CODE_PATTERN, description="the office's own code (编号)")
    name: str = Field(min_length=1, max_length=200)
    division_adcode: str = Field(pattern=ADCODE_PATTERN)
    status: str | None = Field(default=None, max_length=24)
    address: str | None = Field(default=None, max_length=300)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    area: Area | None = Field(default=None, description=AREA_DESCRIPTION)
    contact_name: str | None = Field(default=None, max_length=100)
    contact_phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    owner_unit_id: uuid.UUID | None = None
    unit_id: uuid.UUID | None = Field(
        default=None,
        description="rescue_team only: link this existing rescue_team unit (else one is created)",
    )
    attrs: Attrs = Field(default_factory=dict, max_length=50, description=ATTRS_DESCRIPTION)


class ResourceUpdate(BaseModel):
    """The columns to change, and the ``version`` they were read at (else 409 stale_version)."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=2_000_000_000)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    status: str | None = Field(default=None, max_length=24)
    division_adcode: str | None = Field(default=None, pattern=ADCODE_PATTERN)
    address: str | None = Field(default=None, max_length=300)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    area: Area | None = Field(default=None, description=AREA_DESCRIPTION)
    contact_name: str | None = Field(default=None, max_length=100)
    contact_phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    owner_unit_id: uuid.UUID | None = None
    attrs: Attrs | None = Field(
        default=None, max_length=50, description="replaces the kind's fields whole"
    )


class ResourceRead(BaseModel):
    id: uuid.UUID
    kind: str
    code: str
    name: str
    status: str
    division_adcode: str
    division_name: str | None
    owner_unit_id: uuid.UUID | None
    owner_unit_name: str | None
    unit_id: uuid.UUID | None
    address: str | None
    lon: float | None
    lat: float | None
    area: Area | None
    contact_name: str | None
    contact_phone: str | None
    attrs: Attrs
    tags: list[str]
    version: int
    created_at: datetime
    updated_at: datetime


class ResourcePage(BaseModel):
    items: list[ResourceRead]
    total: int


# --- supplies ------------------------------------------------------------------------------------


class SupplyItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=ITEM_CODE_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    category: str | None = Field(default=None, max_length=100)
    unit_of_measure: str = Field(min_length=1, max_length=20, description="顶, 件, 箱, 台 …")


class SupplyItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str
    category: str | None
    unit_of_measure: str


class SupplyItemPage(BaseModel):
    items: list[SupplyItemRead]
    total: int


class BatchReceive(BaseModel):
    """入库 — a batch received."""

    model_config = ConfigDict(extra="forbid")

    item_id: uuid.UUID
    batch_no: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
    quantity: int = Field(ge=1, le=100_000_000)
    expires_on: date | None = None
    received_on: date | None = None


class BatchCorrection(BaseModel):
    """盘点更正 — the counted quantity, with what the counter read before (compare-and-set)."""

    model_config = ConfigDict(extra="forbid")

    quantity: int = Field(ge=0, le=100_000_000)
    expected_quantity: int = Field(
        ge=0, le=100_000_000, description="the quantity read; 409 stale_quantity if it moved"
    )
    reason: CorrectionReason
    note: str | None = Field(default=None, max_length=500)
    expires_on: date | None = Field(default=None, description="set only when given")


class StockBatchRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    item_id: uuid.UUID
    batch_no: str
    quantity: int
    reserved: int
    available: int
    expires_on: date | None
    received_on: date | None
    updated_at: datetime


class StockTotalRead(BaseModel):
    item: SupplyItemRead
    quantity: int
    reserved: int
    available: int
    minimum: int | None
    below_minimum: bool


class StockRead(BaseModel):
    warehouse_id: uuid.UUID
    batches: list[StockBatchRead]
    totals: list[StockTotalRead]


class MinimumSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: uuid.UUID
    minimum: int = Field(ge=0, le=100_000_000)


class MinimumsSet(BaseModel):
    """The warehouse's minimum stock, replaced whole (an item left out has none)."""

    model_config = ConfigDict(extra="forbid")

    items: list[MinimumSet] = Field(max_length=1000)
