"""The signed-in person's notifications."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from yingji.core.web import CurrentPrincipal, Session
from yingji.notify import service

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    kind: str
    title: str
    body: str
    subject_type: str | None
    subject_id: str | None
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationRead]
    total: int


@router.get("", response_model=NotificationPage, summary="My notifications, newest first")
async def mine(
    session: Session,
    me: CurrentPrincipal,
    unread: bool = False,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> NotificationPage:
    rows, total = await service.list_for(
        session=session, user_id=me.user_id, unread_only=unread, offset=offset, limit=limit
    )
    return NotificationPage(items=[NotificationRead.model_validate(r) for r in rows], total=total)


@router.post("/{notification_id}/read", response_model=NotificationRead)
async def read(notification_id: uuid.UUID, session: Session, me: CurrentPrincipal) -> Any:
    return await service.mark_read(
        session=session, user_id=me.user_id, notification_id=notification_id
    )
