"""Who reads an incident through an order (联动单位查看所派事件): the dispatch domain's widener of
the scope of the routes that read an incident, its reports, attachments and orders
(``core.web.IncidentReader``; declared in ``dispatch/domain.py``).

A linkage unit's scope is its unit (and, for a town's unit, its town). A unit that holds an
order on an incident reads that incident, its reports and the other units' orders, while the
order is open and for ``order_read_days`` after it ended; nothing else of the incident's area.
Only reading routes take this principal: every change still goes by the principal's own scope.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core.security import Principal, Scope
from yingji.core.web import IncidentReader, get_settings, incident_reading_scope
from yingji.dispatch import service


async def with_order_incidents(request: Request, session: AsyncSession, scope: Scope) -> Scope:
    """``scope``, also reading the incidents its unit holds orders on."""
    read_for = timedelta(days=get_settings(request).order_read_days)
    return await service.responder_scope(session=session, scope=scope, read_for=read_for)


async def reading_scope(request: Request, session: AsyncSession, me: Principal) -> Scope:
    """``me``'s scope for reading an incident (with the incidents of its unit's orders)."""
    return await incident_reading_scope(request, session, me)


#: ``incident.read``, with the incidents of the unit's orders in the scope (reading only)
OrderReader = IncidentReader
