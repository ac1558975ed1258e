"""派单预案: the units the routing table would dispatch an incident to, and why — shown to the
officer before dispatching. Reads only: it reuses `service.route`, the same routing the
dispatch flow runs, so what is previewed is what "dispatch by the table" issues."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from yingji.core.reasons import Reason
from yingji.core.security import Permission, Principal
from yingji.core.web import Require, Session
from yingji.dispatch import flows, service
from yingji.dispatch.models import OPEN_STAGES
from yingji.incidents import service as incidents

router = APIRouter(prefix="/api/v1", tags=["dispatch"])

Reader = Annotated[Principal, Require(Permission.INCIDENT_READ)]


class PlannedUnit(BaseModel):
    unit_id: uuid.UUID
    unit_code: str
    unit_name: str
    kind: str
    tier: int
    role: str = Field(description="lead (主办) or co (协办)")
    reason: str = Field(description="why the routing table chose this unit, in English for logs")
    why: Reason = Field(description="the same as a code and parameters (`routing.rule`)")
    has_open_order: bool = Field(
        description="the unit already holds an open order for this incident (it is skipped)"
    )


class DispatchPlan(BaseModel):
    incident_id: uuid.UUID
    state: str
    dispatchable: bool = Field(description="the incident's state allows dispatching")
    units: list[PlannedUnit]


@router.get(
    "/incidents/{incident_id}/dispatch-plan",
    response_model=DispatchPlan,
    summary="派单预案: the units the routing table suggests, each with its reason",
    responses={404: {}},
)
async def dispatch_plan(incident_id: uuid.UUID, session: Session, me: Reader) -> DispatchPlan:
    incident = await incidents.get_incident_or_raise(
        session=session, incident_id=incident_id, scope=me.scope
    )
    choices = await service.route(
        session=session,
        category_code=incident.category_code,
        level=incident.level,
        division_path=incident.division_path,
        trapped=incident.trapped,
    )
    busy = {
        o.unit_id
        for o in await service.orders_of_incident(session=session, incident_id=incident.id)
        if o.stage in OPEN_STAGES
    }
    return DispatchPlan(
        incident_id=incident.id,
        state=incident.state,
        dispatchable=incident.state in flows.DISPATCHABLE,
        units=[
            PlannedUnit(
                unit_id=c.unit.id,
                unit_code=c.unit.code,
                unit_name=c.unit.name,
                kind=c.unit.kind,
                tier=c.unit.tier,
                role=c.role,
                reason=c.reason,
                why=Reason.model_validate(c.why),
                has_open_order=c.unit.id in busy,
            )
            for c in choices
        ],
    )
