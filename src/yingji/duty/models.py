"""Duty tables (值班值守 · 信息报送): the positions of a division's 1+1+X+X duty and its shift
patterns, the shifts of the roster with their check-ins, swaps (换班) and spot checks (查岗); the
duty log (值班日志) and handovers (交接班); the statutory reports sent up (首报/续报/终报) with the
deadlines they answer, the inbox receipts and the instructions that come back down (领导批示).

A shift names its person as ``person_id`` with the name copied at scheduling (a roster is a
record of who was on duty, kept when the person row changes). Reports name their incident by
foreign key; their structured fields follow GB/T 35965.2's spirit (time, place, category, level,
casualties, losses, cause, measures taken, next steps, reporter, approver).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yingji.core.db import Base, JSONType, UTCDateTime
from yingji.core.ids import new_id
from yingji.core.on_duty import Position

__all__ = [
    "DutyLogEntry",
    "DutyPosition",
    "DutyShift",
    "DutySpotCheck",
    "Handover",
    "HandoverState",
    "LeaderInstruction",
    "LogKind",
    "Position",
    "ReportDue",
    "ReportDueState",
    "ReportKind",
    "ReportState",
    "ShiftPattern",
    "ShiftState",
    "ShiftSwap",
    "StatutoryReport",
    "SwapState",
]


# --- rosters (排班) ------------------------------------------------------------------------------


class DutyPosition(Base):
    """A seat type of a division's duty: 1 leader, 1 chief, ``seats`` officers, and professional
    staff per department (``unit_id``). ``label`` tells two professional rows apart (水利, 气象)."""

    __tablename__ = "duty_position"
    __table_args__ = (UniqueConstraint("division_adcode", "position", "label"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    division_adcode: Mapped[str] = mapped_column(
        ForeignKey("division.adcode", ondelete="CASCADE"), index=True
    )
    position: Mapped[str] = mapped_column(String(16))  # Position
    label: Mapped[str] = mapped_column(String(60), default="")
    seats: Mapped[int] = mapped_column(Integer, default=1)
    unit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("linkage_unit.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ShiftPattern(Base):
    """A division's shift pattern: ``kind`` day_night | full_day | weekly, and its shifts as
    ``[{"code": "day", "start": "08:00", "hours": 12}, …]`` (local time, Asia/Shanghai); a
    weekly rotation is one shift of ``hours`` 168. The generator fills a month from it."""

    __tablename__ = "duty_shift_pattern"
    __table_args__ = (UniqueConstraint("division_adcode", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    division_adcode: Mapped[str] = mapped_column(
        ForeignKey("division.adcode", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(16))
    shifts: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    #: the least rest between two shifts of one person, in hours (the conflict check)
    min_rest_hours: Mapped[int] = mapped_column(Integer, default=8)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ShiftState(StrEnum):
    SCHEDULED = "scheduled"
    CHECKED_IN = "checked_in"  # 到岗签到
    MISSED = "missed"  # no check-in by the shift's start plus grace: alerted


class DutyShift(Base):
    """One seat of one shift: who sits ``position`` (seat ``seat``) over ``division_adcode`` from
    ``starts_at`` to ``ends_at``. ``person_id`` NULL is an empty seat (a conflict)."""

    __tablename__ = "duty_shift"
    __table_args__ = (
        Index("ix_duty_shift_division_starts", "division_adcode", "starts_at"),
        Index("ix_duty_shift_person_starts", "person_id", "starts_at"),
        UniqueConstraint("division_adcode", "position", "label", "seat", "starts_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    division_adcode: Mapped[str] = mapped_column(ForeignKey("division.adcode", ondelete="CASCADE"))
    position: Mapped[str] = mapped_column(String(16))  # Position
    label: Mapped[str] = mapped_column(String(60), default="")
    seat: Mapped[int] = mapped_column(Integer, default=1)
    shift_code: Mapped[str] = mapped_column(String(20))
    pattern_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("duty_shift_pattern.id", ondelete="SET NULL")
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL")
    )
    person_name: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16), default=ShiftState.SCHEDULED)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_by: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SwapState(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class ShiftSwap(Base):
    """换班: ``shift_id`` to ``to_person_id`` (a swap of two shifts names ``with_shift_id`` too),
    asked by someone, approved or rejected by a roster manager."""

    __tablename__ = "duty_shift_swap"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    division_adcode: Mapped[str] = mapped_column(String(12), index=True)
    shift_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("duty_shift.id", ondelete="CASCADE"))
    with_shift_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("duty_shift.id", ondelete="CASCADE")
    )
    to_person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL")
    )
    reason: Mapped[str | None] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(16), default=SwapState.REQUESTED)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(String(300))


class DutySpotCheck(Base):
    """查岗: the level above called a division's duty; who answered and how soon, or nobody."""

    __tablename__ = "duty_spot_check"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    division_adcode: Mapped[str] = mapped_column(String(12), index=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    checked_by: Mapped[str] = mapped_column(String(64))
    checked_by_name: Mapped[str] = mapped_column(String(100))
    checker_division_adcode: Mapped[str | None] = mapped_column(String(12))
    answered: Mapped[bool] = mapped_column(Boolean)
    answered_by_name: Mapped[str | None] = mapped_column(String(100))
    answer_seconds: Mapped[int | None] = mapped_column(Integer)
    shift_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("duty_shift.id", ondelete="SET NULL")
    )
    note: Mapped[str | None] = mapped_column(String(500))


# --- the duty log and handovers ------------------------------------------------------------------


class LogKind(StrEnum):
    CALL_RECEIVED = "call_received"  # 接报
    INSTRUCTION_PASSED = "instruction_passed"  # 传达指示
    REPORT_SENT = "report_sent"  # 报送
    VISIT = "visit"  # 来访
    OTHER = "other"


class DutyLogEntry(Base):
    """值班日志: one typed entry with its time and author, linked to an incident or an order
    where it concerns one."""

    __tablename__ = "duty_log_entry"
    __table_args__ = (Index("ix_duty_log_entry_division_at", "division_adcode", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    division_adcode: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(24))  # LogKind
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[str] = mapped_column(String(64))
    author_name: Mapped[str] = mapped_column(String(100))
    incident_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("incident.id", ondelete="SET NULL"), index=True
    )
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("dispatch_order.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HandoverState(StrEnum):
    OPEN = "open"  # listed, notes being added
    SIGNED_OUT = "signed_out"  # the outgoing officer signed
    SIGNED = "signed"  # both signed


class Handover(Base):
    """交接班 at one shift change of a division: what was open then (``open_items``, the list
    frozen when the handover was opened), both officers' notes and signatures."""

    __tablename__ = "duty_handover"
    __table_args__ = (UniqueConstraint("division_adcode", "change_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    division_adcode: Mapped[str] = mapped_column(String(12), index=True)
    change_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outgoing_shift_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("duty_shift.id", ondelete="SET NULL")
    )
    incoming_shift_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("duty_shift.id", ondelete="SET NULL")
    )
    open_items: Mapped[dict[str, Any]] = mapped_column(JSONType)
    notes_out: Mapped[str | None] = mapped_column(Text)
    notes_in: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=HandoverState.OPEN)
    signed_out_by: Mapped[str | None] = mapped_column(String(64))
    signed_out_name: Mapped[str | None] = mapped_column(String(100))
    signed_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_in_by: Mapped[str | None] = mapped_column(String(64))
    signed_in_name: Mapped[str | None] = mapped_column(String(100))
    signed_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- statutory reporting (信息报送) ---------------------------------------------------------------


class ReportKind(StrEnum):
    PHONE = "phone"  # 电话报告 (the call up, recorded)
    FIRST = "first"  # 首报 (written)
    FOLLOWUP = "followup"  # 续报
    FINAL = "final"  # 终报


class ReportState(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"  # 审核签发
    SENT = "sent"  # in the parent division's inbox
    OPENED = "opened"  # 已阅 (the receipt)
    ACKNOWLEDGED = "acknowledged"  # 已签收 by a person above
    CORRECTED = "corrected"  # 误报: a later report corrected its figures


class StatutoryReport(Base):
    """A report sent up about an incident: its kind and sequence (续报 第N次), the structured
    fields, who wrote and approved it, when it was due and sent, the receipt and
    acknowledgement above, and ``corrects_id`` with a reason when it corrects an earlier one."""

    __tablename__ = "duty_report"
    __table_args__ = (
        UniqueConstraint("incident_id", "division_adcode", "kind", "seq"),
        Index("ix_duty_report_to_state", "to_division_adcode", "state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incident.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(12))  # ReportKind
    seq: Mapped[int] = mapped_column(Integer, default=1)
    division_adcode: Mapped[str] = mapped_column(String(12))  # who reports
    to_division_adcode: Mapped[str | None] = mapped_column(String(12))  # the level above
    state: Mapped[str] = mapped_column(String(16), default=ReportState.DRAFT)
    title: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    place: Mapped[str | None] = mapped_column(String(300))
    category_code: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[str | None] = mapped_column(String(4))
    dead: Mapped[int] = mapped_column(Integer, default=0)
    injured: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    trapped: Mapped[int] = mapped_column(Integer, default=0)
    #: direct economic loss in 万元, as reported
    loss_wan_yuan: Mapped[float | None] = mapped_column(Float)
    cause: Mapped[str | None] = mapped_column(Text)
    measures: Mapped[str | None] = mapped_column(Text)
    next_steps: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    reporter_id: Mapped[str] = mapped_column(String(64))
    reporter_name: Mapped[str] = mapped_column(String(100))
    approver_id: Mapped[str | None] = mapped_column(String(64))
    approver_name: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    late: Mapped[bool | None] = mapped_column(Boolean)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_by: Mapped[str | None] = mapped_column(String(64))
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acked_by: Mapped[str | None] = mapped_column(String(64))
    acked_by_name: Mapped[str | None] = mapped_column(String(100))
    corrects_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("duty_report.id", ondelete="SET NULL")
    )
    correction_reason: Mapped[str | None] = mapped_column(String(500))
    #: the .docx in the file store (``core.files``), rendered when sent
    docx_sha256: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportDueState(StrEnum):
    DUE = "due"
    MET = "met"  # sent by its deadline
    LATE = "late"  # 迟报: sent after its deadline
    MISSING = "missing"  # 漏报: the deadline passed with nothing sent (late once sent)
    WAIVED = "waived"  # no longer owed (the incident was cancelled or merged)


class ReportDue(Base):
    """One report owed by a division about an incident (phone, 首报, the N-th 续报, 终报), with
    its deadline (a timer) and what answered it. The reporting board reads these rows."""

    __tablename__ = "duty_report_due"
    __table_args__ = (
        UniqueConstraint("incident_id", "division_adcode", "kind", "seq"),
        Index("ix_duty_report_due_division_state", "division_adcode", "state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    division_adcode: Mapped[str] = mapped_column(String(12))
    kind: Mapped[str] = mapped_column(String(12))  # ReportKind
    seq: Mapped[int] = mapped_column(Integer, default=1)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    state: Mapped[str] = mapped_column(String(12), default=ReportDueState.DUE)
    #: why it is owed, as ``{code, params}`` (cadence, level change, casualty change, closing)
    basis: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    report_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("duty_report.id", ondelete="SET NULL")
    )
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LeaderInstruction(Base):
    """领导批示: an instruction that came down on a report, tracked until carried out."""

    __tablename__ = "duty_instruction"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    report_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("duty_report.id", ondelete="CASCADE"), index=True
    )
    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    from_division_adcode: Mapped[str | None] = mapped_column(String(12))
    to_division_adcode: Mapped[str] = mapped_column(String(12), index=True)
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[str] = mapped_column(String(64))
    author_name: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    carried_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    carried_out_by: Mapped[str | None] = mapped_column(String(64))
    carried_out_note: Mapped[str | None] = mapped_column(Text)
