"""``/ws``: authenticated WebSocket that pushes domain events the principal may see."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket

from yingji.core import security
from yingji.core.db import Database
from yingji.core.security import Principal
from yingji.core.web import SESSION_COOKIE
from yingji.realtime.hub import Hub
from yingji.settings import Settings

router = APIRouter()


def _same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: no cross-site risk
    return urlsplit(origin).netloc == websocket.headers.get("host")


def _credentials(websocket: WebSocket) -> tuple[str, str] | None:
    """The token the socket presents and its kind: ``?token=`` or an ``Authorization`` header
    (bearer), else the session cookie."""
    token = websocket.query_params.get("token")
    if token:
        return token, "bearer"
    header = websocket.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), "bearer"
    cookie = websocket.cookies.get(SESSION_COOKIE)
    return (cookie, "session") if cookie else None


@router.websocket("/ws")
async def events_socket(websocket: WebSocket) -> None:
    db: Database = websocket.app.state.db
    settings: Settings = websocket.app.state.settings
    credentials = _credentials(websocket)

    async def current_principal() -> Principal | None:
        """Who the socket's session or token stands for now: None once it is revoked or
        expired, or its user is deactivated."""
        if credentials is None:
            return None
        async with db.unit_of_work(readonly=True) as session:
            return await security.authenticate(session, *credentials)

    principal = await current_principal()
    cookie_auth = credentials is not None and credentials[1] == "session"
    if principal is None or (cookie_auth and not _same_origin(websocket)):
        await websocket.close(code=4401, reason="not authenticated")
        return
    await websocket.accept()
    hub: Hub = websocket.app.state.hub
    await hub.serve(
        websocket, principal, recheck=current_principal, every=settings.ws_recheck_seconds
    )
