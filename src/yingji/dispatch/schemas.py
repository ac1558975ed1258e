"""Shapes of dispatch data at the API boundary."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)

from yingji.core import clock
from yingji.core.reasons import Reason
from yingji.org.schemas import ADCODE_PATTERN


class UnitChoice(BaseModel):
    unit_id: uuid.UUID
    role: Literal["lead", "co"] = "co"


class DispatchRequest(BaseModel):
    units: list[UnitChoice] | None = Field(
        default=None,
        max_length=50,
        description="the units to dispatch to; leave out to dispatch by the routing table",
    )


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    incident_id: uuid.UUID
    unit_id: uuid.UUID
    responsible_unit_id: uuid.UUID
    role: str
    stage: str
    chosen_by: str = Field(description="why this unit, as text for logs; screens word `chosen_why`")
    chosen_why: Reason | None = Field(description="why this unit, as a code and parameters")
    needs_presence: bool
    issued_at: datetime
    sign_due_at: datetime
    arrive_due_at: datetime | None
    feedback_due_at: datetime | None
    complete_due_at: datetime
    signed_at: datetime | None
    arrived_at: datetime | None
    arrive_lon: float | None
    arrive_lat: float | None
    last_feedback_at: datetime | None
    feedback_count: int
    completed_at: datetime | None
    returned_at: datetime | None
    return_reason: str | None
    ended_at: datetime | None = None  # when the order left the open stages
    transferred_from_id: uuid.UUID | None
    sign_late: bool | None
    arrive_late: bool | None
    complete_late: bool | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def next_deadline(self) -> dict[str, Any] | None:
        """The stage the unit owes next, its deadline and the seconds left (negative: late)."""
        if self.stage not in ("issued", "signed", "arrived"):
            return None
        if self.stage == "issued":
            stage, due = "sign", self.sign_due_at
        elif self.stage == "signed" and self.arrive_due_at is not None:
            stage, due = "arrive", self.arrive_due_at
        else:
            stage, due = "complete", self.complete_due_at
        left = (clock.as_utc(due) - clock.now()).total_seconds()
        return {"stage": stage, "due_at": due, "seconds_left": round(left)}


class OrderIncident(BaseModel):
    """What a unit needs to know of the incident it is ordered to (its title, place and
    casualties), even when the incident lies outside the unit's own area; and, while the reader
    may read the incident, what the first call said and who made it (to respond, and to call
    back)."""

    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    number: str
    title: str
    category_code: str | None
    level: str
    state: str
    address: str | None
    lon: float | None
    lat: float | None
    dead: int = 0
    injured: int = 0
    missing: int = 0
    trapped: int = 0
    description: str | None = Field(
        default=None, description="the first report's text; null when not readable"
    )
    reporter_name: str | None = Field(default=None, description="who made the first call")
    reporter_phone: str | None = Field(default=None, description="the first caller's number")


class InboxOrder(OrderRead):
    """单位待办: an order with the incident it is for and the names of its units (on an
    incident's own list of orders, the incident is left out)."""

    incident: OrderIncident | None = None
    unit_name: str | None = None
    responsible_unit_name: str | None = None


class OrderPage(BaseModel):
    items: list[InboxOrder]
    total: int


PhotoType = Literal["image/jpeg", "image/png", "image/webp"]


class FeedbackPhoto(BaseModel):
    """A photo uploaded for an order (反馈附图), as the server found it: its type is the format
    it decoded as, its name and size those recorded at upload."""

    model_config = ConfigDict(from_attributes=True)
    kind: Literal["photo"] = "photo"
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    filename: str = Field(max_length=200)
    content_type: PhotoType
    size: int = Field(ge=0)


class FeedbackAttachment(BaseModel):
    """A photo uploaded for this order (``POST /orders/{id}/photos``), named by its SHA-256.
    Its type, name and size are the ones recorded at upload; any other field is ignored."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ArriveRequest(BaseModel):
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    crs: Literal["wgs84", "gcj02"] = "wgs84"


class FeedbackRequest(BaseModel):
    text: str = Field(min_length=1, max_length=4000)
    attachments: list[FeedbackAttachment] | None = Field(
        default=None,
        max_length=10,
        description="photos uploaded for this order, by SHA-256 (the answer of the upload may "
        "be sent back as it is)",
    )


class NoteRequest(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class ReturnRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=300)


class TransferRequest(BaseModel):
    to_unit_id: uuid.UUID
    reason: str = Field(min_length=1, max_length=300)


class FeedbackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    text: str
    by_user: str | None
    attachments: list[FeedbackPhoto] | None = None


class EscalationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    stage: str
    kind: str
    at: datetime
    due_at: datetime | None
    manual: bool


class SupervisedOrder(InboxOrder):
    """督办看板: an overdue or soon-due order with the reminders and supervision already sent."""

    escalations: list[EscalationRead] = Field(default_factory=list)


class OrderDetail(OrderRead):
    feedback: list[FeedbackRead]
    escalations: list[EscalationRead]


class CallbackRequest(BaseModel):
    reachable: bool = Field(description="the reporter left a way to be reached")
    reached: bool
    satisfied: bool | None = None
    note: str | None = Field(default=None, max_length=2000)


class CallbackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    incident_id: uuid.UUID
    created_at: datetime
    done_at: datetime | None
    reachable: bool | None
    reached: bool | None
    satisfied: bool | None
    note: str | None
    by_user: str | None


class RoutingRuleIn(BaseModel):
    category_prefix: str = Field(default="", max_length=64, pattern=r"^[a-z_.]*$")
    levels: list[Literal["I", "II", "III", "IV"]] = Field(default_factory=list)
    division_path: str | None = Field(default=None, max_length=200)
    role: Literal["lead", "co"]
    selector: Literal["unit", "town", "village"] = "unit"
    unit_id: uuid.UUID | None = None
    priority: int = Field(default=100, ge=0, le=10_000)
    note: str | None = Field(default=None, max_length=300)
    active: bool = True
    when_trapped: bool = Field(
        default=False, description="the rule applies only to an incident with people trapped"
    )


class RoutingRuleUpdate(BaseModel):
    """A change to a routing rule: only the fields sent change, each checked as when added.
    Null is taken only where a rule may hold none (its area, unit and note)."""

    category_prefix: str | None = Field(default=None, max_length=64, pattern=r"^[a-z_.]*$")
    levels: list[Literal["I", "II", "III", "IV"]] | None = None
    division_path: str | None = Field(default=None, max_length=200)
    role: Literal["lead", "co"] | None = None
    selector: Literal["unit", "town", "village"] | None = None
    unit_id: uuid.UUID | None = None
    priority: int | None = Field(default=None, ge=0, le=10_000)
    note: str | None = Field(default=None, max_length=300)
    active: bool | None = None
    when_trapped: bool | None = None

    @model_validator(mode="after")
    def _null_only_where_allowed(self) -> RoutingRuleUpdate:
        fields = ("category_prefix", "levels", "role", "selector", "priority", "active")
        for name in (*fields, "when_trapped"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        return self


class RoutingRuleRead(RoutingRuleIn):
    model_config = ConfigDict(from_attributes=True)
    id: int


class StageDeadlineIn(BaseModel):
    category_prefix: str = Field(default="", max_length=64, pattern=r"^[a-z_.]*$")
    level: Literal["", "I", "II", "III", "IV"] = ""
    tier: int = Field(default=0, ge=0, le=3)
    sign_minutes: int = Field(ge=1, le=10_080)
    arrive_minutes: int = Field(ge=1, le=10_080)
    feedback_minutes: int = Field(ge=1, le=10_080)
    complete_minutes: int = Field(ge=1, le=100_000)
    remind_share: float = Field(default=0.8, gt=0, lt=1)


class StageDeadlineRead(StageDeadlineIn):
    model_config = ConfigDict(from_attributes=True)
    id: int


# --- the routing table as a file ----------------------------------------------------------------

LEVELS = ("I", "II", "III", "IV")
TRUE_WORDS = {"1", "true", "yes", "y", "是", "启用"}
FALSE_WORDS = {"0", "false", "no", "n", "否", "停用"}


class RuleRow(BaseModel):
    """One line of the routing table's CSV file (``routing_io``), as written by a person."""

    category_prefix: str = Field(default="", max_length=64, pattern=r"^[a-z_.]*$")
    levels: list[Literal["I", "II", "III", "IV"]] = Field(default_factory=list)
    division_adcode: str | None = Field(default=None, pattern=ADCODE_PATTERN)
    role: Literal["lead", "co"]
    selector: Literal["unit", "town", "village"] = "unit"
    unit_code: str | None = Field(default=None, max_length=50)
    priority: int = Field(default=100, ge=0, le=10_000)
    note: str | None = Field(default=None, max_length=300)
    active: bool = True
    when_trapped: bool = False

    @field_validator("levels", mode="before")
    @classmethod
    def _split_levels(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            parts = [p.strip().upper() for p in value.replace(",", "|").split("|")]
            return sorted({p for p in parts if p}, key=level_order)
        return value

    @field_validator("active", "when_trapped", mode="before")
    @classmethod
    def _word_to_bool(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return info.field_name == "active"
        if isinstance(value, str):
            word = value.strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
        return value


def level_order(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else len(LEVELS)
