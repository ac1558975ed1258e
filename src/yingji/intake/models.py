"""Intake tables: reports (接警), their attachments, the category table and the gazetteer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yingji.core.db import Base, JSONType, UTCDateTime
from yingji.core.ids import new_id
from yingji.core.reasons import Why


class Report(Base):
    """接警 — one report from one channel; joins or opens an incident."""

    __tablename__ = "report"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_report_incident_id_received_at", "incident_id", "received_at"),
        # the public-report throttle counts an address's reports by server time
        Index("ix_report_source_ip_created_at", "source_ip", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(20))  # schemas.Channel
    external_id: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # the time the source claimed, when received_at was moved into the window the server allows
    received_at_claimed: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reporter_name: Mapped[str | None] = mapped_column(String(100))
    reporter_phone: Mapped[str | None] = mapped_column(String(40), index=True)
    text: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    located: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    location_source: Mapped[str | None] = mapped_column(String(20))
    division_adcode: Mapped[str | None] = mapped_column(String(12))
    #: 主叫定位 — a 110/119/120 call's caller location (WGS-84), its accuracy radius in metres
    #: and how it was found (``handset``: AML/GNSS of the phone; ``base_station``: the cell)
    caller_lon: Mapped[float | None] = mapped_column(Float)
    caller_lat: Mapped[float | None] = mapped_column(Float)
    caller_accuracy_m: Mapped[float | None] = mapped_column(Float)
    caller_source: Mapped[str | None] = mapped_column(String(16))
    division_path: Mapped[str | None] = mapped_column(String(200), index=True)
    category_code: Mapped[str | None] = mapped_column(String(64))
    category_source: Mapped[str | None] = mapped_column(String(20))
    category_words: Mapped[list[Any] | None] = mapped_column(JSONType)
    suggested_level: Mapped[str | None] = mapped_column(String(4))
    level_reason: Mapped[str | None] = mapped_column(String(300))  # English, for logs
    #: the level's reason as ``{code, params}`` (``core.reasons``), for the screens
    level_why: Mapped[Why | None] = mapped_column(JSONType)
    dead: Mapped[int] = mapped_column(Integer, default=0)
    injured: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    trapped: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(24), index=True)  # schemas.ReportStatus
    incident_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("incident.id", ondelete="SET NULL")
    )
    match_outcome: Mapped[str | None] = mapped_column(String(16))
    match_score: Mapped[float | None] = mapped_column(Float)
    match_reason: Mapped[str | None] = mapped_column(String(300))  # English, for logs
    match_why: Mapped[Why | None] = mapped_column(JSONType)
    suggestions: Mapped[list[Any] | None] = mapped_column(JSONType)
    source_ip: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Attachment(Base):
    """A photo or recording of a report, kept in the file store under its SHA-256."""

    __tablename__ = "attachment"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    report_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Category(Base):
    """事件分类 — a sub-type with its keywords, match window and level rules (editable data)."""

    __tablename__ = "category"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(String(64))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    rule: Mapped[dict[str, Any]] = mapped_column(JSONType)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Place(Base):
    """A named place in the gazetteer (地名): a school, a bridge, a reservoir, a hamlet."""

    __tablename__ = "place"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), index=True)
    aliases: Mapped[list[str] | None] = mapped_column(JSONType)
    kind: Mapped[str | None] = mapped_column(String(40))
    division_adcode: Mapped[str | None] = mapped_column(String(12))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
