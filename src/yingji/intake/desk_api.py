"""HTTP routes for the intake desk (接警台) beside the ones of ``intake.api``.

``POST /api/v1/intake/candidates``: while the duty officer is still typing, the open incidents a
draft report might be about — each with its score, distance, minutes apart and the reason — and
what submitting the draft would do (join, suggest, new). Nothing is stored: the draft is placed,
classified and scored exactly as ``flows.receive_report`` would, through the same matcher.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from yingji.core import clock, geo
from yingji.core.errors import ValidationFailed
from yingji.core.reasons import Reason
from yingji.core.security import Permission, Principal
from yingji.core.web import Require, Session
from yingji.incidents import service as incidents
from yingji.intake import flows, matching
from yingji.intake.schemas import MAX_TEXT

router = APIRouter(prefix="/api/v1/intake", tags=["intake"])

Reader = Annotated[Principal, Require(Permission.INCIDENT_READ)]


class CandidateRequest(BaseModel):
    """A report as typed so far (nothing is stored)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT)
    address: str | None = Field(default=None, max_length=300)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
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
    outcome: matching.Outcome = Field(description="what submitting the draft now would do")
    incident_id: uuid.UUID | None = Field(description="the incident it would join (outcome join)")
    reason: str = Field(description="in English, for logs; screens word `why`")
    why: Reason = Field(description="the decision's reason as a code and parameters")
    candidates: list[Candidate]


@router.post(
    "/candidates",
    response_model=CandidateAnswer,
    summary="Possible duplicates of a draft report (for the intake desk, as the officer types)",
    responses={422: {"description": "unknown_category, bad point"}},
)
async def draft_candidates(body: CandidateRequest, session: Session, me: Reader) -> CandidateAnswer:
    know = await flows.knowledge(session)
    code = body.category_code
    if code is not None and code not in know.rules:
        raise ValidationFailed("unknown_category", f"no category {code}", {"category_code": code})
    if code is None:
        classified = know.classifier.classify(body.text)
        code = classified.code if classified else None
    received = clock.as_utc(body.received_at) if body.received_at else clock.now()
    where = await flows.place(
        session, lon=body.lon, lat=body.lat, address=body.address, text=body.text
    )
    lon, lat, adcode = where.lon, where.lat, where.division_adcode
    facts = flows.match_facts(
        text=body.text,
        category_code=code,
        where=where,
        received_at=received,
        address=body.address,
    )
    found, pool = await flows.candidate_pool(
        session, know, facts, flows.search_path(where, me.scope.area_path)
    )
    # only the incidents the officer may see are offered (and scored)
    rows = [i for i in found if me.scope.covers(division_path=i.division_path)]
    visible = {str(i.id) for i in rows}
    pool = [c for c in pool if c.id in visible]
    decision = know.matcher.decide(facts, pool)
    scored = [(know.matcher.score(facts, c), c.id) for c in pool]
    ranked = sorted(((s, i) for s, i in scored if s.eligible), key=lambda si: (-si[0].score, si[1]))
    ranked = ranked[: body.limit]
    shown = await incidents.incidents_by_id(session=session, ids=[uuid.UUID(i) for _, i in ranked])
    offered = [(s, shown[uuid.UUID(i)]) for s, i in ranked if uuid.UUID(i) in shown]
    return CandidateAnswer(
        category_code=code,
        lon=lon,
        lat=lat,
        division_adcode=adcode,
        outcome=decision.outcome,
        incident_id=uuid.UUID(decision.incident_id) if decision.incident_id else None,
        reason=decision.reason,
        why=Reason.model_validate(decision.why),
        candidates=[
            Candidate(
                incident_id=i.id,
                number=i.number,
                title=i.title,
                category_code=i.category_code,
                level=i.level,
                state=i.state,
                address=i.address,
                lon=i.lon,
                lat=i.lat,
                first_reported_at=i.first_reported_at,
                last_reported_at=i.last_reported_at,
                report_count=i.report_count,
                score=round(s.score, 3),
                distance_m=None if s.distance_m is None else round(s.distance_m, 1),
                minutes=round(s.minutes, 1),
                text_similarity=round(s.text_similarity, 3),
                suggested=s.score >= know.matcher.suggest_threshold,
                reason=s.reason,
                why=Reason.model_validate(s.why),
            )
            for s, i in offered
        ],
    )
