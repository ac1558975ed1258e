"""Warning tables: warning types, warnings (预警信息) with their workflow and CAP identity, the
recipients frozen at publication (靶向发布), call plans (叫应方案), the 叫应 chain of every called
person, acknowledgements, 六问 spot checks and the CAP feeds polled for received warnings.

A warning's area is a GeoJSON (Multi)Polygon (WGS-84) and/or a list of 12-digit division codes;
``min_lon`` … ``max_lat`` bound it for portable pre-filters. Deliveries (one per recipient, channel
and call step) are the notify domain's rows (``notify.models.Delivery``); a recipient names them by
``recipient_ref`` = ``str(WarningRecipient.id)``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from yingji.core.db import Base, JSONType, UTCDateTime
from yingji.core.ids import new_id


class WarningLevel(StrEnum):
    """预警级别: the colour; CAP severity and the Roman level follow (``catalogue.LEVELS``)."""

    RED = "red"  # I 特别严重 · Extreme
    ORANGE = "orange"  # II 严重 · Severe
    YELLOW = "yellow"  # III 较重 · Moderate
    BLUE = "blue"  # IV 一般 · Minor


class WarningState(StrEnum):
    """Where a warning is in its life; ``WARNING_TRANSITIONS`` says which may follow which.

    Authored: draft (制作) → submitted (送审) → approved (审核通过) → signed (签发) → published
    (发布) → cancelled (解除) | superseded (an Update replaced it) | expired (past ``expires_at``).
    A reviewer may send it back (returned → edited → submitted again).
    Received over CAP: received → relayed (a draft for our area was made from it) | dismissed,
    and superseded | cancelled when its sender updates or cancels it.
    """

    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"
    SIGNED = "signed"
    PUBLISHED = "published"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"
    RECEIVED = "received"
    RELAYED = "relayed"
    DISMISSED = "dismissed"


_W = WarningState
WARNING_TRANSITIONS: dict[WarningState, frozenset[WarningState]] = {
    _W.DRAFT: frozenset({_W.SUBMITTED, _W.CANCELLED}),
    _W.RETURNED: frozenset({_W.SUBMITTED, _W.CANCELLED}),
    _W.SUBMITTED: frozenset({_W.APPROVED, _W.RETURNED}),
    _W.APPROVED: frozenset({_W.SIGNED, _W.RETURNED}),
    _W.SIGNED: frozenset({_W.PUBLISHED, _W.RETURNED}),
    _W.PUBLISHED: frozenset({_W.CANCELLED, _W.SUPERSEDED, _W.EXPIRED}),
    # a received warning its sender updated or cancelled (CAP Update/Cancel referencing it)
    _W.RECEIVED: frozenset({_W.RELAYED, _W.DISMISSED, _W.SUPERSEDED, _W.CANCELLED}),
    _W.RELAYED: frozenset({_W.SUPERSEDED, _W.CANCELLED}),
    _W.CANCELLED: frozenset(),
    _W.SUPERSEDED: frozenset(),
    _W.EXPIRED: frozenset(),
    _W.DISMISSED: frozenset(),
}
#: states in which a warning is in force (交接班 and the board list these)
IN_FORCE = frozenset({_W.PUBLISHED})


class WarningType(Base):
    """预警类型 — shipped from ``data/warning_types.json`` (14 CMA signals, hydrological,
    geological, forest-fire, production-safety), each with the colours it allows."""

    __tablename__ = "warning_type"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(80))
    #: meteorological | hydrological | geological | forest_fire | production_safety
    family: Mapped[str] = mapped_column(String(24), index=True)
    #: the colours this type has, e.g. ["yellow", "orange", "red"] (WarningLevel values)
    levels: Mapped[list[str]] = mapped_column(JSONType)
    #: CAP <category> (Met, Geo, Fire, Safety, …)
    cap_category: Mapped[str] = mapped_column(String(16))
    #: the issuing authority's kind, for received warnings (气象局, 水利局, 自然资源局 …)
    authority_zh: Mapped[str] = mapped_column(String(40))
    sort: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Warning(Base):
    """预警信息 — what 突发事件应对法 art. 64 requires, its area, its workflow and CAP identity."""

    __tablename__ = "warning"
    __table_args__ = (
        Index("ix_warning_state_division_path", "state", "division_path"),
        Index("ix_warning_bbox", "min_lon", "min_lat", "max_lon", "max_lat"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    #: human number, e.g. YJ-W-20261207-0003
    number: Mapped[str] = mapped_column(String(32), unique=True)
    #: CAP <identifier>: ours in GB/T 35965.1 form once published; a received one's as sent
    identifier: Mapped[str | None] = mapped_column(String(200), index=True)
    #: CAP <sender> (ours: the node's sender id; received: as sent)
    sender: Mapped[str | None] = mapped_column(String(200))
    #: authored | received
    origin: Mapped[str] = mapped_column(String(10), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # WarningState
    #: CAP <status>: Actual | Exercise | System | Test | Draft
    cap_status: Mapped[str] = mapped_column(String(10), default="Actual")
    #: CAP <msgType>: Alert | Update | Cancel
    msg_type: Mapped[str] = mapped_column(String(10), default="Alert")
    #: the warning this one updates or cancels (our row), and CAP <references> as sent
    replaces_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("warning.id", ondelete="SET NULL"), index=True
    )
    references: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: a received warning this draft relays to our area
    relayed_from_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("warning.id", ondelete="SET NULL"), index=True
    )
    type_code: Mapped[str | None] = mapped_column(
        ForeignKey("warning_type.code", ondelete="RESTRICT"), index=True
    )
    #: for received warnings whose event matches no type of ours: the event as sent
    event_text: Mapped[str | None] = mapped_column(String(200))
    level: Mapped[str | None] = mapped_column(String(10), index=True)  # WarningLevel
    headline: Mapped[str] = mapped_column(String(300))
    #: 可能发生的情况 (CAP <description>)
    description: Mapped[str] = mapped_column(Text, default="")
    #: 应采取的措施 (CAP <instruction>)
    instruction: Mapped[str] = mapped_column(Text, default="")
    #: the English <info> block (optional; CAP out writes one from the type and level if empty)
    headline_en: Mapped[str | None] = mapped_column(String(300))
    description_en: Mapped[str | None] = mapped_column(Text)
    instruction_en: Mapped[str | None] = mapped_column(Text)
    #: 发布单位 (CAP <senderName>)
    issuer: Mapped[str] = mapped_column(String(200))
    #: the division that issues it (its desk owns it); path copied for scope filters
    division_adcode: Mapped[str] = mapped_column(
        ForeignKey("division.adcode", ondelete="RESTRICT"), index=True
    )
    division_path: Mapped[str] = mapped_column(String(200), index=True)
    #: the area: a description, a GeoJSON (Multi)Polygon and/or division codes
    area_desc: Mapped[str] = mapped_column(String(500), default="")
    area: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    area_adcodes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    min_lon: Mapped[float | None] = mapped_column(Float)
    min_lat: Mapped[float | None] = mapped_column(Float)
    max_lon: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    #: CAP <effective>/<onset>/<expires>
    onset_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    #: time of issue (CAP <sent>): publication for ours, as sent for received
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    #: the call plan (叫应方案) frozen at publication: a copy, later edits never change it
    call_plan: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    #: received: where from (feed URL or ``api``), and the CAP XML as received (evidence)
    source: Mapped[str | None] = mapped_column(String(500))
    cap_xml: Mapped[str | None] = mapped_column(Text)
    #: the workflow's people and times
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    submitted_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: why it was returned, cancelled or dismissed (the last such reason)
    state_reason: Mapped[str | None] = mapped_column(String(500))
    #: publication's fan-out: recipients frozen, deliveries queued (counts, for the board)
    recipient_count: Mapped[int] = mapped_column(Integer, default=0)
    #: bumped on every change; a change names the version it read (compare-and-set)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RecipientReason(StrEnum):
    """Why a recipient is on a warning's list (靶向发布)."""

    UNIT_IN_AREA = "unit_in_area"  # a linkage unit whose jurisdiction meets the area
    TOWN_HEAD = "town_head"  # the responsible person of a town inside
    VILLAGE_HEAD = "village_head"  # the responsible person of a village inside
    DEPARTMENT_HEAD = "department_head"  # a department's leader (call plans name them)
    HAZARD_CONTACT = "hazard_contact"  # the contact of a hazard source inside
    PROTECTION_CONTACT = "protection_contact"  # the contact of a protection target inside
    SUBSCRIBER = "subscriber"  # a member of a subscribed group
    DEVICE = "device"  # a village loudspeaker or LED board inside
    DUTY_LEADER = "duty_leader"  # the on-duty leader (叫应 plans, escalation)
    ESCALATION = "escalation"  # added when someone above had to be called (叫应)


class WarningRecipient(Base):
    """One recipient of a published warning, frozen at publication (and exportable).

    A person (``person_id`` and/or ``user_id``), a contact without an account (name and phone, of
    a hazard source or protection target) or a broadcast device (``device_id``). ``channels`` is
    the ordered list ``[{"channel": …, "address": …}, …]`` publication resolved for them: the first
    is tried, the rest are fallbacks. ``must_ack``: on the 叫应 list — the person must personally
    acknowledge (``ack_token`` is the secret in their link; a delivery receipt never counts).
    """

    __tablename__ = "warning_recipient"
    __table_args__ = (
        UniqueConstraint("warning_id", "recipient_key"),
        Index("ix_warning_recipient_warning_call_state", "warning_id", "call_state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    warning_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warning.id", ondelete="CASCADE"))
    #: unique per warning: ``person:<id>``, ``user:<id>``, ``contact:<resource id>``,
    #: ``device:<id>`` — one row per someone, however many reasons name them
    recipient_key: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(24))  # RecipientReason (the first that named them)
    #: who they are, as ids at publication (a snapshot: no foreign keys, so the frozen list and
    #: its evidence outlive a person, account, unit, resource or device deleted later — and
    #: 100,000 rows are written without 500,000 key checks)
    person_id: Mapped[uuid.UUID | None] = mapped_column()
    user_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    unit_id: Mapped[uuid.UUID | None] = mapped_column()
    resource_id: Mapped[uuid.UUID | None] = mapped_column()
    device_id: Mapped[uuid.UUID | None] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str | None] = mapped_column(String(100))
    #: the town (for the board's per-town rows) and the division the person answers for
    division_adcode: Mapped[str | None] = mapped_column(String(12))
    town_adcode: Mapped[str | None] = mapped_column(String(12))
    channels: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    must_ack: Mapped[bool] = mapped_column(Boolean, default=False)
    ack_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: 叫应: waiting | answered | escalated | exhausted ('' when not on the 叫应 list)
    call_state: Mapped[str] = mapped_column(String(12), default="")
    call_step: Mapped[int] = mapped_column(Integer, default=0)
    #: the recipient whose unanswered chain made this one a recipient (escalation)
    escalated_from_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("warning_recipient.id", ondelete="SET NULL")
    )
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CallPlan(Base):
    """叫应方案 — per warning type × level (and optionally per division), prepared in advance.

    ``steps`` (JSON): ``{"positions": ["department_head", "town_head", "village_head",
    "duty_leader"], "channels": ["voice", "sms", "app"], "wait_minutes": 10, "repeats": 2,
    "escalate_to": ["superior", "duty_leader"]}``. ``type_code`` NULL: every type.
    """

    __tablename__ = "call_plan"
    __table_args__ = (UniqueConstraint("division_adcode", "type_code", "level"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    division_adcode: Mapped[str | None] = mapped_column(
        ForeignKey("division.adcode", ondelete="CASCADE"), index=True
    )
    type_code: Mapped[str | None] = mapped_column(
        ForeignKey("warning_type.code", ondelete="CASCADE")
    )
    level: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    steps: Mapped[dict[str, Any]] = mapped_column(JSONType)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CallEvent(Base):
    """One link of a 叫应 chain, kept as evidence: a call placed, a receipt, a repeat, an
    escalation, an answer, an exhausted chain. ``token`` is the step's timer key, so an
    acknowledgement stops exactly that person's chain (see ``calling``)."""

    __tablename__ = "warning_call_event"
    __table_args__ = (Index("ix_warning_call_event_warning_at", "warning_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    warning_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warning.id", ondelete="CASCADE"))
    recipient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("warning_recipient.id", ondelete="CASCADE"), index=True
    )
    #: call | receipt | repeat | escalate | answer | exhausted | spot_check
    kind: Mapped[str] = mapped_column(String(16))
    step: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str | None] = mapped_column(String(16))
    token: Mapped[str | None] = mapped_column(String(64))
    #: code-and-params detail (never prose): e.g. {"to": <recipient id>, "key": "1"}
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class WarningAck(Base):
    """An acknowledgement (叫应) by the person themself: by the link, in the app or by key 1 in
    the voice call. One per recipient: the first counts, later ones are answered as such."""

    __tablename__ = "warning_ack"
    __table_args__ = (UniqueConstraint("recipient_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    warning_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("warning.id", ondelete="CASCADE"), index=True
    )
    recipient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("warning_recipient.id", ondelete="CASCADE")
    )
    via: Mapped[str] = mapped_column(String(10))  # link | app | voice
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class SpotCheck(Base):
    """六问 — a supervisor asks a village's responsible person six questions about a warning."""

    __tablename__ = "warning_spot_check"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    warning_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("warning.id", ondelete="CASCADE"), index=True
    )
    village_adcode: Mapped[str] = mapped_column(
        ForeignKey("division.adcode", ondelete="RESTRICT"), index=True
    )
    division_path: Mapped[str] = mapped_column(String(200), index=True)
    person_name: Mapped[str] = mapped_column(String(100))
    #: [{"question": "q1".."q6", "ok": bool, "note": str}, …] (question codes; words in the UI)
    answers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    passed: Mapped[bool] = mapped_column(Boolean)
    checked_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class SubscriberGroup(Base):
    """A subscribed group (订阅组): people who get every warning of some types over an area."""

    __tablename__ = "warning_subscriber_group"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    division_adcode: Mapped[str] = mapped_column(
        ForeignKey("division.adcode", ondelete="CASCADE"), index=True
    )
    division_path: Mapped[str] = mapped_column(String(200), index=True)
    #: type codes ([] = every type) and the lowest level they want
    type_codes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    min_level: Mapped[str] = mapped_column(String(10), default="blue")
    #: person ids (org persons)
    person_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CapFeed(Base):
    """A CAP feed (Atom/RSS) the poller reads for warnings from another bureau."""

    __tablename__ = "warning_cap_feed"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(String(500), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: the division whose desk receives what it brings
    division_adcode: Mapped[str] = mapped_column(
        ForeignKey("division.adcode", ondelete="CASCADE"), index=True
    )
    division_path: Mapped[str] = mapped_column(String(200), index=True)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=300)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: conditional GET and what was last seen
    etag: Mapped[str | None] = mapped_column(String(200))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the last poll's outcome as a code (ok | http_error | not_a_feed | …) and its params
    last_result: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CapSeen(Base):
    """A CAP message already taken (sender + identifier + sent), so a feed read twice or a
    message posted twice makes one received warning."""

    __tablename__ = "warning_cap_seen"
    __table_args__ = (UniqueConstraint("sender", "identifier", "sent"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    sender: Mapped[str] = mapped_column(String(200))
    identifier: Mapped[str] = mapped_column(String(200))
    sent: Mapped[str] = mapped_column(String(40))
    warning_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("warning.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
