"""HTTP routes that end an incident together with its orders: close, cancel, merge.

They live in dispatch because ending an incident ends its open orders (``dispatch.flows``
orchestrates the incident's transition, intake's reports and the orders); the paths and
operations are the incidents' own, as before.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter

from yingji.core.security import Permission, Principal
from yingji.core.web import Require, Session
from yingji.dispatch import flows
from yingji.incidents import schemas as incident_schemas

router = APIRouter(prefix="/api/v1", tags=["incidents"])

Writer = Annotated[Principal, Require(Permission.INCIDENT_WRITE)]


@router.post(
    "/incidents/{incident_id}/close",
    response_model=incident_schemas.IncidentRead,
    summary="办结: verified|responding|controlled → closed, ending its open orders once confirmed",
    responses={409: {"description": "incident_has_live_orders, invalid_transition"}},
)
async def close(
    incident_id: uuid.UUID,
    session: Session,
    me: Writer,
    body: incident_schemas.CloseRequest | None = None,
) -> Any:
    return await flows.close_incident(
        session=session,
        principal=me,
        incident_id=incident_id,
        note=body.reason if body else None,
        confirm_end_orders=body.confirm_end_orders if body else False,
    )


@router.post(
    "/incidents/{incident_id}/cancel",
    response_model=incident_schemas.IncidentRead,
    summary="撤销 (误报/重复): reported|verified|responding|controlled → cancelled, with the "
    "reason, ending its open orders once confirmed",
    responses={409: {"description": "incident_has_live_orders, invalid_transition"}},
)
async def cancel(
    incident_id: uuid.UUID, body: incident_schemas.CancelRequest, session: Session, me: Writer
) -> Any:
    return await flows.cancel_incident(
        session=session,
        principal=me,
        incident_id=incident_id,
        kind=body.kind,
        reason=body.reason,
        confirm_end_orders=body.confirm_end_orders,
    )


@router.post(
    "/incidents/{incident_id}/merge",
    response_model=incident_schemas.IncidentRead,
    summary="合并: move this incident's reports into another; this one is cancelled, ending its "
    "open orders once confirmed",
    responses={409: {"description": "incident_has_live_orders, incident_not_open"}},
)
async def merge(
    incident_id: uuid.UUID, body: incident_schemas.MergeRequest, session: Session, me: Writer
) -> Any:
    return await flows.merge_incident(
        session=session,
        principal=me,
        incident_id=incident_id,
        into_id=body.into_incident_id,
        reason=body.reason,
        confirm_end_orders=body.confirm_end_orders,
    )
