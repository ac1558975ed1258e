"""HTTP routes for the intake desk (接警台) beside the ones of ``intake.api``.

``POST /api/v1/intake/candidates``: while the duty officer is still typing, the open incidents a
draft report might be about — each with its score, distance, minutes apart and the reason — and
what submitting the draft would do (join, suggest, new). Nothing is stored: the draft is placed,
classified and scored exactly as ``flows.receive_report`` would, through the same matcher
(``flows.draft_candidates``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from yingji.core.security import Permission, Principal
from yingji.core.web import Require, Session
from yingji.intake import flows
from yingji.intake.schemas import CandidateAnswer, CandidateRequest

router = APIRouter(prefix="/api/v1/intake", tags=["intake"])

Reader = Annotated[Principal, Require(Permission.INCIDENT_READ)]


@router.post(
    "/candidates",
    response_model=CandidateAnswer,
    summary="Possible duplicates of a draft report (for the intake desk, as the officer types)",
    responses={422: {"description": "unknown_category, bad point"}},
)
async def draft_candidates(body: CandidateRequest, session: Session, me: Reader) -> CandidateAnswer:
    return await flows.draft_candidates(session=session, principal=me, draft=body)
