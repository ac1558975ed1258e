"""Shapes of incident data at the API boundary."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from yingji.core.reasons import Reason

Level = Literal["I", "II", "III", "IV"]


class IncidentState(StrEnum):
    """An incident's lifecycle; ``INCIDENT_TRANSITIONS`` says which step may follow which."""

    REPORTED = "reported"  # 接报
    VERIFIED = "verified"  # 核实
    RESPONDING = "responding"  # 处置中 (its first order went out)
    CONTROLLED = "controlled"  # 得到控制
    CLOSED = "closed"  # 办结
    ARCHIVED = "archived"  # 归档
    CANCELLED = "cancelled"  # 撤销 (误报, 重复, merged away)


S = IncidentState
#: the states each state may become; every transition is checked against it and made with a
#: compare-and-set (``incidents.service.transition``)
INCIDENT_TRANSITIONS: dict[IncidentState, frozenset[IncidentState]] = {
    S.REPORTED: frozenset({S.VERIFIED, S.CANCELLED}),
    S.VERIFIED: frozenset({S.RESPONDING, S.CONTROLLED, S.CLOSED, S.CANCELLED}),
    S.RESPONDING: frozenset({S.CONTROLLED, S.CLOSED, S.CANCELLED}),
    S.CONTROLLED: frozenset({S.CLOSED, S.CANCELLED}),
    S.CLOSED: frozenset({S.ARCHIVED}),
    S.ARCHIVED: frozenset(),
    S.CANCELLED: frozenset(),
}
OPEN_STATES: tuple[IncidentState, ...] = (S.REPORTED, S.VERIFIED, S.RESPONDING, S.CONTROLLED)
del S


class IncidentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    number: str
    title: str
    kind: str = Field(description="emergency, or service (服务类事务, decision 0031)")
    category_code: str | None
    level: str
    level_reason: str | None = Field(
        description="the level's reason as text (typed, or in English for logs); screens word "
        "`level_why`"
    )
    level_why: Reason | None = Field(description="the level's reason as a code and parameters")
    state: str  # IncidentState
    division_adcode: str | None
    lon: float | None
    lat: float | None
    address: str | None
    first_reported_at: datetime
    last_reported_at: datetime
    report_count: int
    dead: int
    injured: int
    missing: int
    trapped: int
    verified_at: datetime | None
    closed_at: datetime | None
    cancel_reason: str | None
    merged_into_id: uuid.UUID | None
    first_report_due_at: datetime | None
    first_report_at: datetime | None


class IncidentPage(BaseModel):
    items: list[IncidentRead]
    total: int


class TimelineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    kind: str
    actor_name: str | None = Field(description="the person's name (the account's display name)")
    code: str = Field(
        description="what happened, e.g. `incidents.verified`; `legacy` for entries written "
        "before codes, whose words are `summary`"
    )
    params: dict[str, Any] | None = Field(description="the values the words of `code` need")
    summary: str = Field(description="the entry in Chinese, for the bulletin and old readers")
    data: dict[str, Any] | None


class NoteRequest(BaseModel):
    text: str = Field(min_length=1, max_length=4000)
    for_units: bool = Field(
        default=False,
        description="meant for the units on the incident: they read it on the incident page "
        "(the rest of the timeline is the centre's)",
    )


class ReasonRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=300)


CONFIRM_END_ORDERS = (
    "End the incident's open orders with it (closed_with_incident). Without it, an incident with "
    "open orders is refused: 409 incident_has_live_orders, the orders in details.orders."
)


class CloseRequest(ReasonRequest):
    confirm_end_orders: bool = Field(default=False, description=CONFIRM_END_ORDERS)


class CancelRequest(BaseModel):
    kind: Literal["false_report", "duplicate", "other"] = Field(
        description="误报 false report, 重复 duplicate, or other"
    )
    reason: str = Field(min_length=1, max_length=300)
    confirm_end_orders: bool = Field(default=False, description=CONFIRM_END_ORDERS)


class LevelRequest(BaseModel):
    level: Level
    reason: str = Field(min_length=1, max_length=300)


class MergeRequest(BaseModel):
    into_incident_id: uuid.UUID = Field(description="the incident that remains")
    reason: str | None = Field(default=None, max_length=300)
    confirm_end_orders: bool = Field(default=False, description=CONFIRM_END_ORDERS)


class SplitRequest(BaseModel):
    report_id: uuid.UUID


class FirstReportRequest(BaseModel):
    text: str = Field(min_length=1, max_length=8000, description="the written first report (首报)")


class ReportingDeadlineIn(BaseModel):
    division_adcode: str = Field(
        default="",
        pattern=r"^(\d{6}(\d{6})?)?$",
        description='the jurisdiction that set the rule ("" everywhere); the nearest one on an '
        "incident's division path that has rules wins",
    )
    category_prefix: str = Field(
        default="",
        max_length=64,
        pattern=r"^[a-z_.]*$",
        description='"" for every category, or e.g. "public_health"',
    )
    level: Level
    phone_minutes: int = Field(ge=1, le=10_080)
    written_minutes: int = Field(ge=1, le=10_080)
    followup_hours: int | None = Field(
        default=None, ge=1, le=720, description="续报 every N hours while responding (None: none)"
    )
    final_days: int | None = Field(
        default=None, ge=1, le=365, description="终报 within N days of closing (None: not owed)"
    )
    basis: str | None = Field(default=None, max_length=300)


class ReportingDeadlineRead(ReportingDeadlineIn):
    model_config = ConfigDict(from_attributes=True)
    id: int
