"""Archive tables (一事一档): the case files built for an incident and its evaluation (总结评估).

A case file is two stored files (``core.files``): the .docx and the .zip (the same data as JSON,
the attachments, and a manifest of SHA-256 hashes). ``content_sha256`` is the hash of the data
the files were built from: rebuilding from the same data gives the same bytes, and a new
``version`` is only written when the data changed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yingji.core.db import Base, JSONType, UTCDateTime
from yingji.core.ids import new_id

__all__ = ["CaseFile", "Evaluation"]


class CaseFile(Base):
    """One build of an incident's case file."""

    __tablename__ = "archive_case_file"
    __table_args__ = (UniqueConstraint("incident_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incident.id", ondelete="RESTRICT"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    content_sha256: Mapped[str] = mapped_column(String(64))
    docx_sha256: Mapped[str] = mapped_column(String(64))
    docx_size: Mapped[int] = mapped_column(Integer)
    zip_sha256: Mapped[str] = mapped_column(String(64))
    zip_size: Mapped[int] = mapped_column(Integer)
    #: what it holds, counted: reports, orders, timeline entries, attachments …
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)
    built_by: Mapped[str] = mapped_column(String(64))
    built_by_name: Mapped[str] = mapped_column(String(100))


class Evaluation(Base):
    """总结评估 after closing: what happened, the response times measured from the timeline
    (``measured``, computed when saved), what went well and what to improve."""

    __tablename__ = "archive_evaluation"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), unique=True
    )
    what_happened: Mapped[str] = mapped_column(Text)
    went_well: Mapped[str | None] = mapped_column(Text)
    to_improve: Mapped[str | None] = mapped_column(Text)
    measured: Mapped[dict[str, Any]] = mapped_column(JSONType)
    author_id: Mapped[str] = mapped_column(String(64))
    author_name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
