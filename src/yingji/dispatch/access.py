"""Who reads an incident through an order (联动单位查看所派事件): the dependency of the routes
that read an incident, its reports, attachments and orders.

A linkage unit's scope is its unit (and, for a town's unit, its town). A unit that holds an
order on an incident reads that incident, its reports and the other units' orders, while the
order is open and for ``order_read_days`` after it ended; nothing else of the incident's area.
Only reading routes take this principal: every change still goes by the principal's own scope.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core.security import Permission, Principal, Scope
from yingji.core.web import Require, Session, get_settings
from yingji.dispatch import service


async def reading_scope(request: Request, session: AsyncSession, me: Principal) -> Scope:
    """``me``'s scope, also reading the incidents its unit holds orders on."""
    read_for = timedelta(days=get_settings(request).order_read_days)
    return await service.responder_scope(session=session, scope=me.scope, read_for=read_for)


async def reader_with_orders(
    request: Request,
    session: Session,
    me: Annotated[Principal, Require(Permission.INCIDENT_READ)],
) -> Principal:
    """The reader, whose scope also reads the incidents its unit holds orders on."""
    scope = await reading_scope(request, session, me)
    return me if scope is me.scope else dataclasses.replace(me, scope=scope)


#: ``incident.read``, with the incidents of the unit's orders in the scope (reading only)
OrderReader = Annotated[Principal, Depends(reader_with_orders)]
