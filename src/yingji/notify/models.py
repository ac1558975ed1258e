"""Notify tables: in-app notifications; the ways to reach a person (contact points) and the
broadcast devices (loudspeakers, LED boards); outbound messages and their deliveries, one row per
recipient, channel and step, each claimed for sending by compare-and-set."""

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
)
from sqlalchemy.orm import Mapped, mapped_column

from yingji.core.db import Base, JSONType, UTCDateTime
from yingji.core.ids import new_id


class Notification(Base):
    """A message to one person in the app (站内通知); other channels come with warnings."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_id_read_at", "user_id", "read_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    subject_type: Mapped[str | None] = mapped_column(String(50))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Channel(StrEnum):
    """The ways to reach someone (each a plugin in ``notify.channels``)."""

    APP = "app"  # in-app: the notifications list and live over /ws
    EMAIL = "email"  # SMTP
    DINGTALK = "dingtalk"  # DingTalk / 浙政钉 robot webhook
    WECOM = "wecom"  # WeCom (企业微信) robot webhook
    SMS = "sms"  # HTTP SMS gateway
    VOICE = "voice"  # HTTP voice gateway (reports the key pressed)
    LOUDSPEAKER = "loudspeaker"  # village loudspeaker (村村通广播) over MQTT
    LED = "led"  # LED board over MQTT


class DeliveryState(StrEnum):
    """queued → sending (claimed) → sent (the gateway took it) → delivered (its receipt) | failed.
    A failed try is queued again with backoff until ``max_tries``; then the delivery is failed and
    the next channel of the recipient (``fallbacks``) gets a new delivery. ``cancelled``: the
    message was withdrawn (a warning cancelled) before it went."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ContactPoint(Base):
    """One way to reach a person, in their order of preference (``priority`` ascending): their
    e-mail, a DingTalk or WeCom webhook, their mobile for SMS and voice. The in-app channel needs
    no row (a person with an account has it)."""

    __tablename__ = "contact_point"
    __table_args__ = (UniqueConstraint("person_id", "channel", "address"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))  # Channel
    address: Mapped[str] = mapped_column(String(500))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BroadcastDevice(Base):
    """A village loudspeaker (村村通广播) or an LED board: one MQTT topic each; the device
    publishes its retained state and its acknowledgement of each message."""

    __tablename__ = "broadcast_device"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # Channel.LOUDSPEAKER | Channel.LED
    name: Mapped[str] = mapped_column(String(200))
    division_adcode: Mapped[str] = mapped_column(
        ForeignKey("division.adcode", ondelete="RESTRICT"), index=True
    )
    division_path: Mapped[str] = mapped_column(String(200), index=True)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    #: the device's topic root, e.g. ``yingji/devices/<code>``
    topic: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the device's last retained state as it reported it, and when
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboundMessage(Base):
    """What is to be said, once, for many deliveries: the structured content the channel
    renderers read (``content``: kind-specific, e.g. a warning's type, level, headline, area and
    ack link template ``…/ack/{token}``). ``subject_type``/``subject_id`` name what it is about."""

    __tablename__ = "outbound_message"
    __table_args__ = (Index("ix_outbound_message_subject", "subject_type", "subject_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    subject_type: Mapped[str] = mapped_column(String(50))
    subject_id: Mapped[str] = mapped_column(String(64))
    #: e.g. warning.publish, warning.call, warning.escalate, warning.cancel
    kind: Mapped[str] = mapped_column(String(40))
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Delivery(Base):
    """One message to one recipient on one channel: a row, claimed for sending with a
    compare-and-set (``claim_token`` under a lease, like a timer), so a worker killed mid-send
    loses and doubles nothing. ``recipient_ref`` is the owner's recipient (a warning recipient's
    id); ``step`` the 叫应 step it belongs to (0: publication)."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("message_id", "recipient_ref", "channel", "step"),
        Index("ix_delivery_state_due_at", "state", "due_at"),
        Index("ix_delivery_subject", "subject_id", "state"),
        Index("ix_delivery_recipient_ref", "recipient_ref"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("outbound_message.id", ondelete="CASCADE")
    )
    #: copied from the message for the owner's lists without a join
    subject_id: Mapped[str] = mapped_column(String(64))
    recipient_ref: Mapped[str] = mapped_column(String(64))
    step: Mapped[int] = mapped_column(Integer, default=0)
    #: the account of an in-app delivery, as at sending (no foreign key: a snapshot)
    user_id: Mapped[uuid.UUID | None] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))  # Channel
    address: Mapped[str] = mapped_column(String(500))
    #: the recipient's next channels, tried in order when this one fails for good
    fallbacks: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    #: the recipient's acknowledgement secret, for the link in the message (叫应)
    ack_token: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12), default="queued")  # DeliveryState
    tries: Mapped[int] = mapped_column(Integer, default=0)
    #: when it may be (re)tried
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claim_token: Mapped[uuid.UUID | None] = mapped_column()
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the gateway's id for it and its receipt (status, key pressed, raw fields)
    gateway_ref: Mapped[str | None] = mapped_column(String(200), index=True)
    receipt: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: the last failure as a code
    error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
