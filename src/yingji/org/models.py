"""Organisation tables: divisions (行政区划), linkage units (联动单位), people, users, sign-ins."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, validates

from yingji.core.db import Base, JSONType, UTCDateTime
from yingji.core.ids import new_id

DIVISION_LEVELS = ("province", "city", "county", "town", "village")
UNIT_KINDS = ("department", "town", "village", "rescue_team")


class Division(Base):
    """行政区划 — an administrative division in the adcode tree.

    ``path`` lists the adcodes from the root down to this one, each followed by ``/``, so a
    subtree is ``path LIKE 'prefix%'``. ``boundary`` is a GeoJSON geometry (WGS-84); the bounding
    box columns pre-filter spatial queries, and on PostgreSQL a PostGIS ``geom`` column kept by a
    trigger answers them.
    """

    __tablename__ = "division"

    adcode: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16), index=True)
    parent_adcode: Mapped[str | None] = mapped_column(
        ForeignKey("division.adcode", ondelete="RESTRICT"), index=True
    )
    path: Mapped[str] = mapped_column(String(200), index=True)
    centroid_lon: Mapped[float | None] = mapped_column(Float)
    centroid_lat: Mapped[float | None] = mapped_column(Float)
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    min_lon: Mapped[float | None] = mapped_column(Float)
    min_lat: Mapped[float | None] = mapped_column(Float)
    max_lon: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LinkageUnit(Base):
    """联动单位 — a department, town, village or rescue team that receives orders.

    ``tier`` is the linkage tier of seed 001 (1 emergency response and rescue, 2 city management
    and social services, 3 support, aftermath and accountability). ``division_path`` copies the
    served division's path so scope filters need no join.
    """

    __tablename__ = "linkage_unit"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    tier: Mapped[int] = mapped_column(Integer, index=True)
    division_adcode: Mapped[str] = mapped_column(
        ForeignKey("division.adcode", ondelete="RESTRICT"), index=True
    )
    division_path: Mapped[str] = mapped_column(String(200), index=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("linkage_unit.id", ondelete="RESTRICT"), index=True
    )
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(300))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Person(Base):
    """A person in a linkage unit (name, position, phones); the leader is the first to supervise."""

    __tablename__ = "person"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    unit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("linkage_unit.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[str | None] = mapped_column(String(100))
    mobile: Mapped[str | None] = mapped_column(String(40))
    office_phone: Mapped[str | None] = mapped_column(String(40))
    is_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


def username_key(username: str) -> str:
    """The form a user name is unique in and found by: names differ by more than case."""
    return username.lower()


class UserAccount(Base):
    """A user account with roles and a data scope (a division subtree and/or a unit).

    ``username_key`` is the name in lower case, unique: ``Admin`` and ``admin`` are one name,
    and signing in finds the account whichever case is typed. Setting ``username`` sets it."""

    __tablename__ = "user_account"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    username_key: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSONType)
    division_adcode: Mapped[str | None] = mapped_column(
        ForeignKey("division.adcode", ondelete="RESTRICT"), index=True
    )
    unit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("linkage_unit.id", ondelete="RESTRICT"), index=True
    )
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL")
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @validates("username")
    def _keep_key(self, _key: str, username: str) -> str:
        self.username_key = username_key(username)
        return username


class AuthSession(Base):
    """A signed-in browser session (cookie) or an integration's bearer token; stored hashed."""

    __tablename__ = "auth_session"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    """Failed sign-ins counted for throttling and alerting, one row per key: a user name with
    the address it is tried from, an address, a user name from anywhere (keys are digests, so
    their length does not depend on what was typed).

    ``failures`` counts the current run: it starts again once ``last_failure_at`` is a window
    old. ``locked_until`` is the delay in force (attempts before it are refused unchecked);
    ``last_success_at`` marks a name that signed in from that address; ``expires_at`` is when
    the row may be forgotten."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
