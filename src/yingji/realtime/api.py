"""``/ws``: authenticated WebSocket that pushes domain events the principal may see."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket

from yingji.core import security
from yingji.core.web import resolve_principal
from yingji.realtime.hub import Hub

router = APIRouter()


def _same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: no cross-site risk
    return urlsplit(origin).netloc == websocket.headers.get("host")


@router.websocket("/ws")
async def events_socket(websocket: WebSocket) -> None:
    db = websocket.app.state.db
    token = websocket.query_params.get("token")
    async with db.unit_of_work(readonly=True) as session:
        if token:
            principal = await security.authenticate(session, token, "bearer")
        else:
            principal = await resolve_principal(session, websocket)
    cookie_auth = token is None and "authorization" not in websocket.headers
    if principal is None or (cookie_auth and not _same_origin(websocket)):
        await websocket.close(code=4401, reason="not authenticated")
        return
    await websocket.accept()
    hub: Hub = websocket.app.state.hub
    await hub.serve(websocket, principal)
