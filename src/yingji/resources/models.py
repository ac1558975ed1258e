"""Resource tables: one registry row per resource of every kind, the supply catalogue, stock by
batch, minimum stock per warehouse, and requests (申请) with their allocations (调派).

Every resource has a place (``lon``/``lat``; shelters and hazard zones may also carry an
``area`` polygon, their point then being a representative point inside it), a division
(``division_path`` copied for scope filters without a join), an owning unit, a status, contacts
and the fields of its kind in ``attrs`` (validated per kind by ``schemas``). ``tags`` holds the
searchable words of the kind's lists (capabilities, specialties, substances) as ``|a|b|`` so a
filter is a portable ``LIKE '%|a|%'``. On PostgreSQL a PostGIS ``geog`` column kept by the
``point_sync_geog`` trigger answers nearest-first queries through its GiST index.

A rescue team is the ``rescue_team`` linkage unit itself, extended: its row here points at the
unit (``unit_id``, unique) and mirrors the unit's name, division and place for queries.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from yingji.core.db import Base, JSONType, UTCDateTime
from yingji.core.ids import new_id


class ResourceKind(StrEnum):
    """The ten databases (10大数据库)."""

    RESCUE_TEAM = "rescue_team"  # 救援队伍
    WAREHOUSE = "warehouse"  # 物资仓库 (its supplies are stock rows)
    EQUIPMENT = "equipment"  # 装备
    EXPERT = "expert"  # 专家
    SHELTER = "shelter"  # 避难场所
    HAZARD_SOURCE = "hazard_source"  # 危险源
    PROTECTION_TARGET = "protection_target"  # 防护目标
    MEDICAL_FACILITY = "medical_facility"  # 医疗机构
    VIDEO_POINT = "video_point"  # 视频点位
    PLAN = "plan"  # 预案


class Resource(Base):
    """One resource of any kind (see the module docstring)."""

    __tablename__ = "resource"
    __table_args__ = (
        UniqueConstraint("kind", "code"),
        Index("ix_resource_kind_lon_lat", "kind", "lon", "lat"),
        Index("ix_resource_kind_division_path", "kind", "division_path"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(24), index=True)  # ResourceKind
    #: the office's own code (编号); unique within a kind, the key an import updates by
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(24), index=True)
    division_adcode: Mapped[str] = mapped_column(
        ForeignKey("division.adcode", ondelete="RESTRICT"), index=True
    )
    division_path: Mapped[str] = mapped_column(String(200), index=True)
    #: the unit that owns (and answers for) it; alerts about it go there
    owner_unit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("linkage_unit.id", ondelete="RESTRICT"), index=True
    )
    #: a rescue team's own linkage unit (only for ``rescue_team``)
    unit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("linkage_unit.id", ondelete="CASCADE"), unique=True
    )
    address: Mapped[str | None] = mapped_column(String(300))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    #: a GeoJSON Polygon/MultiPolygon (WGS-84) for areas: shelters, hazard zones
    area: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    #: the kind's own fields (``schemas`` validates them per kind)
    attrs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: ``|word|word|``: capabilities, specialties, substances — filterable with LIKE
    tags: Mapped[str] = mapped_column(String(1000), default="")
    #: bumped on every change; a change names the version it read (compare-and-set)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SupplyItem(Base):
    """物资目录 — an item of the supply catalogue with its unit of measure."""

    __tablename__ = "supply_item"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(100))
    unit_of_measure: Mapped[str] = mapped_column(String(20))  # 顶, 件, 箱, 台 …
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StockBatch(Base):
    """库存批次 — a batch of one item in one warehouse.

    ``quantity`` is on hand; ``reserved`` is promised to approved requests and not yet issued.
    What may still be promised is ``quantity - reserved``; a reservation is an ``UPDATE … WHERE
    quantity - reserved >= :n`` (compare-and-set), so two requests never get the same tents.
    """

    __tablename__ = "stock_batch"
    __table_args__ = (
        UniqueConstraint("warehouse_id", "item_id", "batch_no"),
        Index("ix_stock_batch_item_expires", "item_id", "expires_on"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resource.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("supply_item.id", ondelete="RESTRICT"), index=True
    )
    batch_no: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    expires_on: Mapped[date | None] = mapped_column(Date, index=True)
    received_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StockMinimum(Base):
    """最低库存 — below this total on hand, the warehouse's owning unit is alerted."""

    __tablename__ = "stock_minimum"
    __table_args__ = (UniqueConstraint("warehouse_id", "item_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resource.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("supply_item.id", ondelete="RESTRICT"), index=True
    )
    minimum: Mapped[int] = mapped_column(Integer)
    #: when the last below-minimum alert went out (one alert per fall, again after a refill)
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RequestState(StrEnum):
    """The state of a request (申请); ``REQUEST_TRANSITIONS`` says which may follow which.

    Teams, equipment and experts: requested → approved → dispatched → arrived → returned.
    Supplies: requested → approved → issued → received → closed (consumed or returned).
    A request its level cannot meet is ``forwarded``: a new request to the level above carries
    it (``forwarded_to_id``), and this one follows that one's outcome.
    """

    REQUESTED = "requested"  # 申请
    APPROVED = "approved"  # 审批通过: promised (resource held or quantity reserved)
    REJECTED = "rejected"  # 驳回
    FORWARDED = "forwarded"  # 上报上级
    DISPATCHED = "dispatched"  # 出动
    ARRIVED = "arrived"  # 到场
    RETURNED = "returned"  # 归队 / 退回
    ISSUED = "issued"  # 出库
    RECEIVED = "received"  # 签收
    CLOSED = "closed"  # 消耗 / 归还 recorded
    CANCELLED = "cancelled"  # 撤回 by the requester


_R = RequestState
REQUEST_TRANSITIONS: dict[RequestState, frozenset[RequestState]] = {
    _R.REQUESTED: frozenset({_R.APPROVED, _R.REJECTED, _R.FORWARDED, _R.CANCELLED}),
    _R.FORWARDED: frozenset({_R.APPROVED, _R.REJECTED, _R.CANCELLED}),
    _R.APPROVED: frozenset({_R.DISPATCHED, _R.ISSUED, _R.CANCELLED}),
    _R.DISPATCHED: frozenset({_R.ARRIVED, _R.RETURNED}),
    _R.ARRIVED: frozenset({_R.RETURNED}),
    _R.ISSUED: frozenset({_R.RECEIVED}),
    _R.RECEIVED: frozenset({_R.CLOSED}),
    _R.REJECTED: frozenset(),
    _R.RETURNED: frozenset(),
    _R.CLOSED: frozenset(),
    _R.CANCELLED: frozenset(),
}


class ResourceRequest(Base):
    """申请调派 — a division asks for a resource (a team, equipment, an expert) or a quantity of
    a supply item, usually for an incident. ``to_division_adcode`` is the division that decides
    (its own, or the level above once forwarded)."""

    __tablename__ = "resource_request"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    incident_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("incident.id", ondelete="SET NULL"), index=True
    )
    #: ``unit`` (a team, equipment or an expert: ``resource_id``) or ``supply`` (``item_id``)
    target: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str | None] = mapped_column(String(24))  # ResourceKind asked for, if any
    resource_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("resource.id", ondelete="RESTRICT"), index=True
    )
    item_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("supply_item.id", ondelete="RESTRICT"), index=True
    )
    #: a preferred warehouse for a supply request (else the nearest that holds enough)
    warehouse_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("resource.id", ondelete="RESTRICT")
    )
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(16), index=True)  # RequestState
    #: who asks (their division; path copied for scope)
    from_division_adcode: Mapped[str] = mapped_column(String(12), index=True)
    from_division_path: Mapped[str] = mapped_column(String(200), index=True)
    #: who decides
    to_division_adcode: Mapped[str] = mapped_column(String(12), index=True)
    to_division_path: Mapped[str] = mapped_column(String(200), index=True)
    forwarded_from_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("resource_request.id", ondelete="SET NULL"), index=True
    )
    forwarded_to_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("resource_request.id", ondelete="SET NULL")
    )
    #: where it is needed (defaults to the incident's place)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    #: the decider's reason as ``{code, params}`` (rejections, "only N left")
    why: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Allocation(Base):
    """What an approved request holds: a whole resource, or a quantity from one stock batch
    (earliest expiry first). ``state`` follows the request; released rows keep their history."""

    __tablename__ = "resource_allocation"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resource_request.id", ondelete="CASCADE"), index=True
    )
    resource_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("resource.id", ondelete="RESTRICT"), index=True
    )
    batch_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("stock_batch.id", ondelete="RESTRICT"), index=True
    )
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    #: ``held`` (promised), ``out`` (dispatched / issued), ``released`` (returned, consumed,
    #: cancelled)
    state: Mapped[str] = mapped_column(String(10), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ImportState(StrEnum):
    """Where an import job is: waiting for the worker, checking every row, writing them all in
    one transaction, or finished (``done``: every row stored; ``failed``: none)."""

    QUEUED = "queued"
    CHECKING = "checking"
    WRITING = "writing"
    DONE = "done"
    FAILED = "failed"


class ResourceImport(Base):
    """导入任务 — a spreadsheet import of one kind (or ``stock``), run by the timer worker.

    The uploaded file is kept here until the job ends, so a worker that dies part-way leaves a
    job another worker starts again (``attempt``/``token``: only the latest attempt may write;
    ``heartbeat_at`` tells a live run from a dead one). Rows are written in one transaction:
    all or none."""

    __tablename__ = "resource_import"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(24))  # ResourceKind, or "stock"
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    #: the file as uploaded; dropped when the job ends
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), index=True)  # ImportState
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    #: the first problems found (``{line, field, column, code, params, message}``)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    #: who asked, and the area their rows must lie in (None: everything)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    requested_by_name: Mapped[str | None] = mapped_column(String(100))
    area_path: Mapped[str | None] = mapped_column(String(200), index=True)
    everything: Mapped[bool] = mapped_column(default=False)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    token: Mapped[uuid.UUID | None] = mapped_column()
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
