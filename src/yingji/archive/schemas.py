"""Shapes of the archive API: case-file versions, the evaluation, the replay."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class CaseFileRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    incident_id: uuid.UUID
    version: int
    content_sha256: str = Field(description="SHA-256 of the data the files were built from")
    docx_sha256: str
    docx_size: int
    zip_sha256: str
    zip_size: int
    counts: dict[str, int] = Field(description="what it holds: reports, orders, timeline …")
    built_at: datetime
    built_by_name: str


class CaseFileBuilt(CaseFileRead):
    created: bool = Field(description="false: the data had not changed, this is the last version")


class EvaluationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    what_happened: str = Field(min_length=1, max_length=10_000, description="事件经过")
    went_well: str | None = Field(default=None, max_length=10_000, description="做得好的")
    to_improve: str | None = Field(default=None, max_length=10_000, description="需改进的")
    expected_version: int | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        description="the version read before editing (0: none yet); refused if it changed since",
    )


class EvaluationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    incident_id: uuid.UUID
    what_happened: str
    went_well: str | None
    to_improve: str | None
    measured: dict[str, float | None] = Field(
        description="response times in minutes measured from the timeline (null: never happened)"
    )
    author_name: str
    version: int
    created_at: datetime
    updated_at: datetime


class ReplayFrame(BaseModel):
    at: datetime
    kind: Literal["timeline", "report", "arrival"]
    code: str = Field(description="a timeline code (worded by the web app), report or arrival")
    params: dict[str, Any]
    summary: str
    lon: float | None
    lat: float | None
    ref_id: str | None


class ReplayRead(BaseModel):
    incident_id: uuid.UUID
    number: str
    title: str
    lon: float | None
    lat: float | None
    start: datetime | None
    end: datetime | None
    frames: list[ReplayFrame]
