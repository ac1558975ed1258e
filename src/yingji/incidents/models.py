"""Incident tables: the incident (突发事件) and its timeline (痕迹化)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yingji.core.db import Base, JSONType, UTCDateTime
from yingji.core.ids import new_id
from yingji.core.reasons import Why

BigId = BigInteger().with_variant(Integer(), "sqlite")

LEVELS = ("I", "II", "III", "IV")  # 特别重大, 重大, 较大, 一般


class Incident(Base):
    """突发事件 — the event that one or more reports describe."""

    __tablename__ = "incident"
    __table_args__ = (
        Index("ix_incident_state_last_reported_at", "state", "last_reported_at"),
        Index("ix_incident_lon_lat", "lon", "lat"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    #: ``emergency`` (突发事件) or ``service`` (服务类事务: a water cut, a blocked drain …, a
    #: case that travels as orders but stays out of incident lists, the map, first-report
    #: deadlines and the emergency KPIs; decision 0031)
    kind: Mapped[str] = mapped_column(
        String(16), default="emergency", server_default="emergency", index=True
    )
    category_code: Mapped[str | None] = mapped_column(String(64), index=True)
    level: Mapped[str] = mapped_column(String(4))
    level_reason: Mapped[str | None] = mapped_column(String(300))
    #: the level's reason as ``{code, params}`` (``core.reasons``), for the screens
    level_why: Mapped[Why | None] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(String(16), index=True)  # schemas.IncidentState
    division_adcode: Mapped[str | None] = mapped_column(String(12), index=True)
    division_path: Mapped[str | None] = mapped_column(String(200), index=True)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    #: where the point came from, as a report's: point (GPS), manual (placed by the duty
    #: officer), place or division (a gazetteer entry's point or centroid), county
    location_source: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(300))
    first_reported_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    dead: Mapped[int] = mapped_column(Integer, default=0)
    injured: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    trapped: Mapped[int] = mapped_column(Integer, default=0)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("incident.id", ondelete="SET NULL")
    )
    first_report_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_report_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TimelineEntry(Base):
    """One line of an incident's history: a report, a transition, a level change, a note …"""

    __tablename__ = "incident_timeline"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str | None] = mapped_column(String(100))
    #: what happened as ``{code, params}`` (``core.reasons``): the screens word it; rows
    #: written before codes existed have ``legacy``, and their ``summary`` is the text
    code: Mapped[str] = mapped_column(String(60), server_default="legacy")
    params: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    summary: Mapped[str] = mapped_column(Text)  # Chinese, for the bulletin and old readers
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class ReportingDeadline(Base):
    """信息报送时限 — how soon an incident must be reported up, by category and level.

    The most specific ``category_prefix`` that starts the incident's category wins ("" matches
    every category), within the nearest jurisdiction on the incident's division path that has
    rows (``division_adcode`` "" is everywhere). Jurisdictions set their own; the shipped rows
    are the common defaults. Besides the phone report and the written 首报: a 续报 every
    ``followup_hours`` while responding (and on a level or casualty change), the 终报 within
    ``final_days`` of closing (NULL: not owed).
    """

    __tablename__ = "reporting_deadline"
    __table_args__ = (UniqueConstraint("division_adcode", "category_prefix", "level"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    division_adcode: Mapped[str] = mapped_column(String(12), default="", server_default="")
    category_prefix: Mapped[str] = mapped_column(String(64), default="")
    level: Mapped[str] = mapped_column(String(4))
    phone_minutes: Mapped[int] = mapped_column(Integer)
    written_minutes: Mapped[int] = mapped_column(Integer)
    followup_hours: Mapped[int | None] = mapped_column(Integer)
    final_days: Mapped[int | None] = mapped_column(Integer)
    basis: Mapped[str | None] = mapped_column(String(300))
