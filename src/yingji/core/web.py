"""FastAPI glue shared by every domain's ``api.py``: the unit of work, the principal, permissions.

Routes declare what they need with typed dependencies::

    async def list_units(session: Session, me: Annotated[Principal, Require(P.ORG_READ)]) ...
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, WebSocket
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection
from starlette.types import Scope

from yingji.core import audit, security
from yingji.core.db import Database
from yingji.core.errors import PermissionDenied, Unauthenticated
from yingji.core.security import Permission, Principal
from yingji.settings import Settings

SESSION_COOKIE = "yingji_session"
CSRF_COOKIE = "yingji_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


#: the longest text of an IP address (an IPv4-mapped IPv6 address written out in full)
MAX_ADDRESS_CHARS = 45


def ip_address_text(value: str | None) -> str | None:
    """``value`` as the canonical text of an IP address (without an IPv6 scope id), or None
    when it is not one. What a client wrote into a header is never stored as it came."""
    if not value:
        return None
    text = value.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    text = text.split("%", 1)[0]  # fe80::1%eth0: the scope means nothing here
    if len(text) > MAX_ADDRESS_CHARS:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def client_ip(request: Request | WebSocket, settings: Settings) -> str | None:
    """The caller's address; ``X-Forwarded-For`` is believed only from a trusted proxy, and
    only its last entry (the one that proxy added) is read.

    Behind ``yingji serve`` uvicorn has already put the forwarded address in place of a
    trusted proxy's (``forwarded_allow_ips``): the peer is validated like any forwarded one.
    """
    peer = ip_address_text(request.client.host if request.client else None)
    forwarded = request.headers.get("x-forwarded-for")
    if peer and forwarded and peer in settings.trusted_proxies:
        return ip_address_text(forwarded.rpartition(",")[2]) or peer
    return peer


async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """One session and transaction per request; committed before the response is sent."""
    db = get_db(request)
    async with db.unit_of_work(readonly=request.method in SAFE_METHODS) as session:
        yield session


Session = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]


def _credentials(request: HTTPConnection) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), "bearer"
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return cookie, "session"
    return None


async def resolve_principal(session: AsyncSession, request: HTTPConnection) -> Principal | None:
    found = _credentials(request)
    if found is None:
        return None
    token, kind = found
    return await security.authenticate(session, token, kind)


async def credentials_hold(scope: Scope) -> bool:
    """Whether a request's bearer token or session cookie belongs to an active user (for the
    edge, before the body of a large request is read: ``core.edge.RequestGuard``)."""
    connection = HTTPConnection(scope)
    if _credentials(connection) is None:
        return False
    db: Database = scope["app"].state.db
    async with db.unit_of_work(readonly=True) as session:
        return await resolve_principal(session, connection) is not None


async def current_principal(request: Request, session: Session) -> Principal:
    settings = get_settings(request)
    principal = await resolve_principal(session, request)
    if principal is None:
        raise Unauthenticated("not_authenticated", "sign in first")
    if principal.auth == "session" and request.method not in SAFE_METHODS:
        token = request.cookies.get(SESSION_COOKIE, "")
        if not security.csrf_matches(token, request.headers.get(CSRF_HEADER), settings.secret_key):
            raise PermissionDenied("csrf_failed", "missing or wrong X-CSRF-Token header")
    audit.current_context.set(
        audit.RequestContext(
            actor_id=str(principal.user_id),
            actor_name=principal.username,
            actor_display=principal.display_name,
            ip=client_ip(request, settings),
            request_id=request.state.request_id if hasattr(request.state, "request_id") else None,
        )
    )
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def Require(permission: Permission) -> Any:  # noqa: N802 - reads as a type in signatures
    """A dependency: the principal, who must hold ``permission``."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        principal.require(permission)
        return principal

    dependency.__name__ = f"require_{permission.value.replace('.', '_')}"
    return Depends(dependency)


#: Widens the scope of a principal who reads an incident (and its reports, attachments and
#: orders): the dispatch domain adds the incidents its unit holds orders on. Reading only.
ScopeWidener = Callable[[Request, AsyncSession, security.Scope], Awaitable[security.Scope]]
_incident_reading: list[ScopeWidener] = []


def widen_incident_reading(widener: ScopeWidener) -> None:
    """Add ``widener`` to the reading scope of :data:`IncidentReader` (once; from a domain's
    declaration, ``Domain.incident_reading``)."""
    if widener not in _incident_reading:
        _incident_reading.append(widener)


async def incident_reading_scope(
    request: Request, session: AsyncSession, me: Principal
) -> security.Scope:
    """``me``'s scope, widened by every registered widener (the same object when none widens)."""
    scope = me.scope
    for widen in _incident_reading:
        scope = await widen(request, session, scope)
    return scope


async def incident_reader(
    request: Request,
    session: Session,
    me: Annotated[Principal, Require(Permission.INCIDENT_READ)],
) -> Principal:
    """The reader of an incident, with the scope the domains widen it by."""
    scope = await incident_reading_scope(request, session, me)
    return me if scope is me.scope else dataclasses.replace(me, scope=scope)


#: ``incident.read``, with the scope widened for reading an incident (reading routes only)
IncidentReader = Annotated[Principal, Depends(incident_reader)]
