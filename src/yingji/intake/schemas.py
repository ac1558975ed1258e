"""Shapes of intake data at the API boundary."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from yingji.core import geo
from yingji.core.instant import Instant
from yingji.core.reasons import Reason
from yingji.intake.matching import Outcome

Channel = Literal[
    "hotline_110",
    "hotline_119",
    "hotline_120",
    "hotline_12122",
    "hotline_12345",
    "hotline_96345",
    "grid",
    "public_web",
    "sensor",
    "upper_level",
    "manual",
]
"""The channels a report comes by: defined here once (the API's enum, the web app's types)."""
CHANNELS: Final[tuple[Channel, ...]] = get_args(Channel)
#: the public's own reports wait for a duty officer's verification, and are throttled
PUBLIC_WEB: Final[Channel] = "public_web"


class ReportStatus(StrEnum):
    """Whether a report is believed; ``REPORT_TRANSITIONS`` says which may follow which."""

    PENDING_VERIFICATION = "pending_verification"  # from the public: a duty officer verifies
    ACCEPTED = "accepted"  # matched to an incident (or filed)
    REJECTED = "rejected"  # refused by a duty officer, with the reason


#: the statuses each status may become; each change is a compare-and-set
#: (``intake.service.change_status``)
REPORT_TRANSITIONS: dict[ReportStatus, frozenset[ReportStatus]] = {
    ReportStatus.PENDING_VERIFICATION: frozenset({ReportStatus.ACCEPTED, ReportStatus.REJECTED}),
    ReportStatus.ACCEPTED: frozenset(),
    ReportStatus.REJECTED: frozenset(),
}

MAX_TEXT = 4000


def _whole_number(value: Any) -> Any:
    """A JSON number: ``true`` is not 1 and ``"3"`` is not 3 (pydantic's lax mode reads them
    so). A number with a zero fraction (``3.0``) is a whole number, as JSON Schema's "integer"
    says; ``2.5`` is refused by the ``int`` that follows."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number")
    return value


Count = Annotated[int, BeforeValidator(_whole_number), Field(ge=0, le=100_000)]


class Casualties(BaseModel):
    dead: Count = 0
    injured: Count = 0
    missing: Count = 0
    trapped: Count = 0


class AttachmentIn(BaseModel):
    filename: str = Field(min_length=1, max_length=200)
    content_type: str = Field(
        max_length=100,
        description="image/jpeg, image/png, image/webp, "
        "audio/mpeg, audio/wav, audio/amr, audio/aac, audio/mp4",
    )
    data_base64: str = Field(max_length=15_000_000, description="the file, base64; ≤ 10 MiB")

    def data(self) -> bytes:
        try:
            return base64.b64decode(self.data_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("data_base64 is not base64") from exc

    def size(self) -> int:
        """The file's size in bytes, from its base64 length (without decoding it)."""
        encoded = self.data_base64
        return len(encoded) // 4 * 3 - encoded[-2:].count("=")

    @field_validator("data_base64")
    @classmethod
    def _is_base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("not valid base64") from exc
        return value


#: the emergency hotlines whose calls carry the caller's location (主叫定位)
CALLER_LOCATED_CHANNELS: Final[frozenset[Channel]] = frozenset(
    {"hotline_110", "hotline_119", "hotline_120"}
)


class CallerLocation(BaseModel):
    """主叫定位 — where the caller's phone was, as the 110/119/120 system passes it on: the
    handset's own fix (AML/GNSS, tens of metres) or the base station's cell (hundreds of
    metres to kilometres), with the accuracy radius it states."""

    model_config = ConfigDict(extra="forbid")

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    accuracy_m: float = Field(
        ge=1, le=50_000, description="the radius (metres) the caller is said to be within"
    )
    source: Literal["handset", "base_station"]
    crs: Literal["wgs84", "gcj02"] = "wgs84"

    @model_validator(mode="after")
    def _in_china(self) -> CallerLocation:
        lon, lat = geo.to_wgs84(self.lon, self.lat, self.crs)
        if not geo.in_china(lon, lat):
            raise ValueError("the caller location lies outside China's bounding box")
        self.lon, self.lat, self.crs = lon, lat, "wgs84"
        return self


class ReportCreate(BaseModel):
    """One report from one channel. ``channel`` + ``external_id`` make it idempotent."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    external_id: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[\x21-\x7e]+$",
        description="the source system's id; a retry with the same id "
        "returns the report already stored",
    )
    received_at: Instant | None = Field(default=None, description="default: now")
    reporter_name: str | None = Field(default=None, max_length=100)
    reporter_phone: str | None = Field(default=None, pattern=r"^[0-9+\-() ]{3,40}$")
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    address: str | None = Field(default=None, max_length=300)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    crs: Literal["wgs84", "gcj02"] = "wgs84"
    caller_location: CallerLocation | None = Field(
        default=None,
        description="hotline_110/119/120 only: the caller's location with its accuracy; "
        "matching weighs it by its radius, and a fix within 300 m places a report that "
        "names no place",
    )
    category_code: str | None = Field(default=None, max_length=64)
    casualties: Casualties = Field(default_factory=Casualties)
    if_unclear: Literal["ask", "open_incident", "file_only"] = Field(
        default="ask",
        description="a report the classifier places in no category and that names no place "
        "(no point, no gazetteer name): `ask` answers 409 report_needs_confirmation and stores "
        "nothing; `open_incident` opens an incident as for any report; `file_only` stores the "
        "report without an incident (outcome `filed`). Public reports wait for verification "
        "either way.",
    )
    attachments: list[AttachmentIn] = Field(
        default_factory=list,
        max_length=5,
        description="together at most YINGJI_ATTACHMENT_MAX_BYTES (10 MiB; "
        "attachments_too_large): add more with POST /reports/{id}/attachments",
    )

    @model_validator(mode="after")
    def _point(self) -> ReportCreate:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        if self.lon is not None and self.lat is not None:
            lon, lat = geo.to_wgs84(self.lon, self.lat, self.crs)
            if not geo.in_china(lon, lat):
                raise ValueError("the point lies outside China's bounding box (lon/lat order?)")
            self.lon, self.lat, self.crs = lon, lat, "wgs84"
        if self.caller_location is not None and self.channel not in CALLER_LOCATED_CHANNELS:
            raise ValueError("caller_location comes only with hotline_110/119/120 calls")
        return self


class ReportBatch(BaseModel):
    reports: list[ReportCreate] = Field(min_length=1, max_length=500)


class Suggestion(BaseModel):
    incident_id: uuid.UUID
    score: float
    distance_m: float | None
    minutes: float


class ReportReceipt(BaseModel):
    """What the source system is told: the report, the incident, and whether it was a duplicate.

    It names only incidents the sender may read: a report that joined (or opened) an incident
    outside the sender's scope has ``incident_id`` null and still says ``duplicate``; such
    incidents are left out of ``suggestions``."""

    report_id: uuid.UUID
    incident_id: uuid.UUID | None = Field(
        description="the incident the report joined or opened; null while it waits for "
        "verification, and when the sender may not read that incident"
    )
    created: bool
    duplicate: bool
    reason: str | None = Field(description="why, in English for logs; screens word `why`")
    why: Reason | None = Field(
        default=None,
        description="why the report joined, opened or waits: `match.join`, `match.suggest`, "
        "`match.ambiguous`, `match.below`, `match.none`, `match.pending_verification` …",
    )
    status: str  # ReportStatus
    outcome: str | None = Field(
        default=None,
        description="joined, opened, suggested (opened, with possible duplicates), filed "
        "(stored without an incident: if_unclear=file_only); null while it waits for "
        "verification",
    )
    suggestions: list[Suggestion] = Field(default_factory=list)


class BatchItem(BaseModel):
    index: int
    status: int
    receipt: ReportReceipt | None = None
    error: dict[str, Any] | None = None


class BatchReceipt(BaseModel):
    items: list[BatchItem]
    created: int
    existing: int
    failed: int


class AttachmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    kind: str
    filename: str
    content_type: str
    size: int
    sha256: str


class ReportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    channel: str  # Channel
    external_id: str
    received_at: datetime
    received_at_claimed: datetime | None = Field(
        description="the time the source claimed, when it lay outside the window the server "
        "allows around its own clock (by default now − 7 days to now + 5 minutes) and "
        "received_at was moved to the nearer bound"
    )
    reporter_name: str | None
    reporter_phone: str | None
    text: str
    address: str | None
    lon: float | None
    lat: float | None
    located: bool
    location_source: str | None
    caller_lon: float | None = None
    caller_lat: float | None = None
    caller_accuracy_m: float | None = Field(
        default=None, description="the caller location's accuracy radius, metres"
    )
    caller_source: str | None = Field(default=None, description="handset or base_station")
    division_adcode: str | None
    category_code: str | None
    category_source: str | None
    category_words: list[Any] | None
    suggested_level: str | None
    level_reason: str | None = Field(description="in English, for logs; screens word `level_why`")
    level_why: Reason | None = Field(description="the suggested level's reason, as a code")
    dead: int
    injured: int
    missing: int
    trapped: int
    status: str  # ReportStatus
    incident_id: uuid.UUID | None
    match_outcome: str | None
    match_score: float | None
    match_reason: str | None = Field(description="in English, for logs; screens word `match_why`")
    match_why: Reason | None = Field(description="the match's reason, as a code")
    suggestions: list[Any] | None


class ReportPage(BaseModel):
    items: list[ReportRead]
    total: int


class LocateRequest(BaseModel):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: Literal["wgs84", "gcj02"] = "wgs84"


class NoteRejection(BaseModel):
    reason: str = Field(min_length=1, max_length=300)


class JoinRequest(BaseModel):
    incident_id: uuid.UUID


class ClassifyRequest(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    casualties: Casualties = Field(
        default_factory=Casualties,
        description="the counts the officer confirmed; left out, the level uses the counts "
        "read from the text and its reason says so (`counts: extracted`)",
    )


class CasualtyWords(BaseModel):
    """One statement of the text that gave a casualty count (a suggestion to confirm)."""

    kind: Literal["dead", "injured", "missing", "trapped"]
    count: int
    words: str = Field(description="the clause of the text that says it")
    at_least: bool = Field(description='"多人受伤": at least this many')


class OutsideRead(BaseModel):
    """Where a text names a place outside the jurisdiction (codes and names from cpca)."""

    adcode: str
    name: str
    province: str | None
    city: str | None
    county: str | None
    matched: str = Field(description="the words of the text that named it")


class HomophoneRead(BaseModel):
    """A name written like a local town or village in sound, not in characters."""

    written: str
    name: str
    adcode: str | None
    level: str


class DecidingWord(BaseModel):
    """A word of the text that counted for the category, with its weight."""

    word: str
    weight: float


class ClassifyResult(BaseModel):
    category_code: str | None
    name_zh: str | None
    score: float
    words: list[DecidingWord]
    runner_up: str | None
    suggested_level: str
    level_reason: str = Field(description="in English, for logs; screens word `level_why`")
    level_why: Reason = Field(
        description="`level.reached`, `level.below_default` or `level.default`, with the "
        "measure, value and threshold"
    )
    casualties: Casualties = Field(
        default_factory=Casualties,
        description='casualties the text states ("有人被困", "3人受伤"; denials count '
        "nothing): a suggestion for the casualty fields",
    )
    place: PlaceRead | None = Field(
        default=None, description="the gazetteer's place the text names, if any"
    )
    casualty_words: list[CasualtyWords] = Field(
        default_factory=list,
        description="the statements that gave `casualties`, for the officer to confirm",
    )
    outside: OutsideRead | None = Field(
        default=None,
        description="the text names only a place outside the jurisdiction: where (no point)",
    )
    homophones: list[HomophoneRead] = Field(
        default_factory=list,
        description="names that sound like a local town or village but are written otherwise "
        "(竺口镇 → 竹口镇): suggestions, never used to place the report",
    )


class CategoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    parent_code: str | None
    name_zh: str
    name_en: str
    rule: dict[str, Any]
    active: bool


class MatchWindow(BaseModel):
    """How near in space and time a report must be to join an incident of the category, and
    which other sub-types it may join."""

    model_config = ConfigDict(extra="forbid")

    distance_m: float = Field(gt=0, le=100_000)
    window_minutes: float = Field(gt=0, le=60 * 24 * 30)
    related: list[Annotated[str, Field(pattern=r"^[a-z_]+\.[a-z_]+$", max_length=64)]] = Field(
        default_factory=list, max_length=50
    )


class LevelThresholds(BaseModel):
    """One level rule: the casualty counts it sums and the least sum for each level (most severe
    first, as ``I``, ``II``, ``III``, ``IV``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    measure: list[Literal["dead", "injured", "missing", "trapped"]] = Field(
        min_length=1, max_length=4
    )
    level_i: int | None = Field(default=None, alias="I", ge=0, le=1_000_000)
    level_ii: int | None = Field(default=None, alias="II", ge=0, le=1_000_000)
    level_iii: int | None = Field(default=None, alias="III", ge=0, le=1_000_000)
    level_iv: int | None = Field(default=None, alias="IV", ge=0, le=1_000_000)


class CategoryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keywords: dict[Annotated[str, Field(min_length=1, max_length=32)], float] | None = Field(
        default=None, max_length=500
    )
    match: MatchWindow | None = None
    level_rules: list[LevelThresholds] | None = Field(default=None, max_length=50)
    active: bool | None = None


class PlaceRead(BaseModel):
    name: str
    adcode: str | None
    level: str
    lon: float | None
    lat: float | None


# --- the intake desk's draft (nothing is stored) --------------------------------------------------


class CandidateRequest(BaseModel):
    """A report as typed so far (nothing is stored)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT)
    address: str | None = Field(default=None, max_length=300)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    caller_location: CallerLocation | None = Field(
        default=None, description="the caller's location of a 110/119/120 call, if it came"
    )
    category_code: str | None = Field(
        default=None, max_length=64, description="default: classified from the text"
    )
    received_at: AwareDatetime | None = Field(default=None, description="default: now")
    limit: int = Field(default=5, ge=1, le=20)

    @model_validator(mode="after")
    def _point(self) -> CandidateRequest:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        if self.lon is not None and self.lat is not None and not geo.in_china(self.lon, self.lat):
            raise ValueError("the point lies outside China's bounding box (lon/lat order?)")
        return self


class Candidate(BaseModel):
    """One open incident the draft may describe, with how alike they are and why."""

    incident_id: uuid.UUID
    number: str
    title: str
    category_code: str | None
    level: str
    state: str
    address: str | None
    lon: float | None
    lat: float | None
    first_reported_at: datetime
    last_reported_at: datetime
    report_count: int
    score: float
    distance_m: float | None = Field(description="metres between the points; null without both")
    minutes: float = Field(description="minutes from the draft to the incident's reports")
    text_similarity: float
    suggested: bool = Field(description="at or above the matcher's suggestion threshold")
    reason: str = Field(description="the evidence in English, for logs; screens word `why`")
    why: Reason = Field(description="the evidence as a code and parameters (`match.evidence`)")


class CandidateAnswer(BaseModel):
    category_code: str | None = Field(description="the category used (given or classified)")
    lon: float | None = Field(description="the point used (given or from the gazetteer)")
    lat: float | None
    division_adcode: str | None
    outcome: Outcome = Field(description="what submitting the draft now would do")
    incident_id: uuid.UUID | None = Field(description="the incident it would join (outcome join)")
    reason: str = Field(description="in English, for logs; screens word `why`")
    why: Reason = Field(description="the decision's reason as a code and parameters")
    candidates: list[Candidate]


ClassifyResult.model_rebuild()
