"""Dispatch tables: routing rules, orders (派单) and their stages, feedback, deadlines,
escalations (催办/督办) and callbacks (回访)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from yingji.core.db import Base, JSONType, UTCDateTime
from yingji.core.ids import new_id
from yingji.core.reasons import Why

BigId = BigInteger().with_variant(Integer(), "sqlite")


class OrderStage(StrEnum):
    """The stage of an order (派单); ``ORDER_TRANSITIONS`` says which may follow which."""

    ISSUED = "issued"  # 已派, waiting for the unit to sign
    SIGNED = "signed"  # 签收
    ARRIVED = "arrived"  # 到场
    COMPLETED = "completed"  # 办结 (by the unit)
    RETURNED = "returned"  # 退回: the unit refused it with a reason
    TRANSFERRED = "transferred"  # 移交: ended once the new unit signed
    CANCELLED = "cancelled"  # 撤销 by the centre
    # the incident was closed or cancelled while the order was still open; the order ended with
    # it at ``ended_at`` (随事件结束), its deadlines cancelled
    CLOSED_WITH_INCIDENT = "closed_with_incident"


_S = OrderStage
#: the stages each stage may become; every change of stage is checked against it and made with
#: a compare-and-set (``dispatch.service.advance``)
ORDER_TRANSITIONS: dict[OrderStage, frozenset[OrderStage]] = {
    _S.ISSUED: frozenset(
        {_S.SIGNED, _S.RETURNED, _S.TRANSFERRED, _S.CANCELLED, _S.CLOSED_WITH_INCIDENT}
    ),
    _S.SIGNED: frozenset(
        {
            _S.ARRIVED,
            _S.COMPLETED,
            _S.RETURNED,
            _S.TRANSFERRED,
            _S.CANCELLED,
            _S.CLOSED_WITH_INCIDENT,
        }
    ),
    _S.ARRIVED: frozenset({_S.COMPLETED, _S.TRANSFERRED, _S.CANCELLED, _S.CLOSED_WITH_INCIDENT}),
    _S.COMPLETED: frozenset(),
    _S.RETURNED: frozenset(),
    _S.TRANSFERRED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.CLOSED_WITH_INCIDENT: frozenset(),
}


def stages_before(stage: OrderStage) -> tuple[OrderStage, ...]:
    """The stages an order may be in to move to ``stage``."""
    return tuple(s for s, nexts in ORDER_TRANSITIONS.items() if stage in nexts)


CLOSED_WITH_INCIDENT = OrderStage.CLOSED_WITH_INCIDENT
STAGES = tuple(OrderStage)
OPEN_STAGES = (_S.ISSUED, _S.SIGNED, _S.ARRIVED)
#: an order in one of these ended without being done (it counts apart in the KPIs)
ENDED_STAGES = (_S.RETURNED, _S.TRANSFERRED, _S.CANCELLED, _S.CLOSED_WITH_INCIDENT)
del _S
DEADLINE_STAGES = ("sign", "arrive", "feedback", "complete")
SELECTORS = ("unit", "town", "village")  # a named unit, or the incident's town / village unit


class RoutingRule(Base):
    """分类指派 — category × level × area → a lead (主办) or co-handling (协办) unit."""

    __tablename__ = "routing_rule"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    category_prefix: Mapped[str] = mapped_column(String(64), default="")
    levels: Mapped[list[str]] = mapped_column(JSONType)  # empty: every level
    division_path: Mapped[str | None] = mapped_column(String(200))  # None: everywhere
    role: Mapped[str] = mapped_column(String(8))  # lead | co
    selector: Mapped[str] = mapped_column(String(10), default="unit")
    unit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("linkage_unit.id", ondelete="CASCADE")
    )
    priority: Mapped[int] = mapped_column(Integer, default=100)
    note: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # only for an incident with people trapped (被困): 120 beside the fire brigade, say
    when_trapped: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class StageDeadline(Base):
    """限时处置 — minutes allowed for each stage, by category prefix, level and unit tier."""

    __tablename__ = "stage_deadline"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    category_prefix: Mapped[str] = mapped_column(String(64), default="")
    level: Mapped[str] = mapped_column(String(4), default="")  # "" every level
    tier: Mapped[int] = mapped_column(Integer, default=0)  # 0 every tier
    sign_minutes: Mapped[int] = mapped_column(Integer)
    arrive_minutes: Mapped[int] = mapped_column(Integer)
    feedback_minutes: Mapped[int] = mapped_column(Integer)
    complete_minutes: Mapped[int] = mapped_column(Integer)
    remind_share: Mapped[float] = mapped_column(Float, default=0.8)


class Order(Base):
    """派单 — an order to one linkage unit for one incident."""

    __tablename__ = "dispatch_order"
    __table_args__ = (
        Index("ix_dispatch_order_unit_id_stage", "unit_id", "stage"),
        Index("ix_dispatch_order_issued_at", "issued_at"),
        Index("ix_dispatch_order_unit_id_ended_at", "unit_id", "ended_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    division_path: Mapped[str | None] = mapped_column(String(200), index=True)
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("linkage_unit.id"))
    responsible_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("linkage_unit.id"))
    role: Mapped[str] = mapped_column(String(8))
    stage: Mapped[str] = mapped_column(String(24), index=True)  # OrderStage
    chosen_by: Mapped[str] = mapped_column(String(300))
    #: why this unit, as ``{code, params}`` (``core.reasons``), for the screens
    chosen_why: Mapped[Why | None] = mapped_column(JSONType)
    needs_presence: Mapped[bool] = mapped_column(Boolean, default=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sign_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    arrive_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feedback_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    complete_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrive_lon: Mapped[float | None] = mapped_column(Float)
    arrive_lat: Mapped[float | None] = mapped_column(Float)
    first_feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feedback_count: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    return_reason: Mapped[str | None] = mapped_column(String(300))
    #: when the order left the open stages (completed, returned, transferred, closed_with_incident,
    #: …): its unit
    #: reads the incident until ``order_read_days`` after it (``service.advance`` sets it)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transferred_from_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("dispatch_order.id", ondelete="SET NULL")
    )
    sign_late: Mapped[bool | None] = mapped_column(Boolean)
    arrive_late: Mapped[bool | None] = mapped_column(Boolean)
    complete_late: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Feedback(Base):
    """反馈 — a progress report of the unit on its order."""

    __tablename__ = "order_feedback"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("dispatch_order.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list[Any] | None] = mapped_column(JSONType)
    by_user: Mapped[str | None] = mapped_column(String(100))


class OrderPhoto(Base):
    """反馈附图 — a photo a unit uploaded for its order, as the server found it (decoded, typed).

    A feedback names photos by ``sha256`` only; their type, name and size come from here."""

    __tablename__ = "order_photo"
    __table_args__ = (UniqueConstraint("order_id", "sha256"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dispatch_order.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(100))  # one of core.files.PHOTO_TYPES
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str | None] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Escalation(Base):
    """催办 (reminder) or 督办 (supervision) sent for one stage of one order."""

    __tablename__ = "order_escalation"
    __table_args__ = (Index("ix_order_escalation_order_id_at", "order_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dispatch_order.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(20))  # remind | supervise_unit | supervise_center
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified: Mapped[list[str] | None] = mapped_column(JSONType)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)


class Callback(Base):
    """回访 — the centre calls the reporter back after closing."""

    __tablename__ = "incident_callback"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), unique=True
    )
    division_path: Mapped[str | None] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reachable: Mapped[bool | None] = mapped_column(Boolean)
    reached: Mapped[bool | None] = mapped_column(Boolean)
    satisfied: Mapped[bool | None] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)
    by_user: Mapped[str | None] = mapped_column(String(100))
