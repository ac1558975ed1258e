"""The WebSocket hub: every open ``/ws`` connection gets the events its principal may see."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocket

from yingji.core import metrics
from yingji.core.events import DomainEvent
from yingji.core.security import Permission, Principal

log = logging.getLogger(__name__)


def may_see(principal: Principal, event: DomainEvent) -> bool:
    if not principal.can(Permission.EVENTS_READ):
        return False
    scope = event.scope
    if scope.permission is not None and scope.permission not in principal.permissions:
        return False
    if scope.user_ids:  # addressed to named people: only they see it
        return str(principal.user_id) in scope.user_ids
    if scope.everywhere or principal.scope.everything:
        return True
    if scope.division_path and principal.scope.covers(division_path=scope.division_path):
        return True
    return principal.scope.covers_any_unit(scope.unit_ids)


@dataclass(eq=False)
class Connection:
    websocket: WebSocket
    principal: Principal
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(1000))
    overflowed: bool = False


class Hub:
    """Fan-out of live events to connected browsers, filtered by permission and scope."""

    def __init__(self) -> None:
        self.connections: set[Connection] = set()

    async def on_event(self, event: DomainEvent) -> None:
        message = {
            "type": "event",
            "event": {
                "id": event.id,
                "type": event.type,
                "subject_type": event.subject_type,
                "subject_id": event.subject_id,
                "payload": event.payload,
                "occurred_at": event.occurred_at,
            },
        }
        for conn in list(self.connections):
            if not may_see(conn.principal, event):
                continue
            try:
                conn.queue.put_nowait(message)
            except asyncio.QueueFull:
                # A browser that cannot keep up is told to reconnect and reload, rather than
                # being silently given a gap.
                conn.overflowed = True

    async def serve(self, websocket: WebSocket, principal: Principal) -> None:
        conn = Connection(websocket, principal)
        self.connections.add(conn)
        metrics.ws_connections.inc()
        sender = asyncio.create_task(self._send_loop(conn))
        try:
            await websocket.send_json(
                {
                    "type": "hello",
                    "user": {"id": str(principal.user_id), "username": principal.username},
                }
            )
            while True:
                text = await websocket.receive_text()
                with contextlib.suppress(ValueError):
                    if json.loads(text).get("type") == "ping":
                        await conn.queue.put({"type": "pong"})
        except Exception:  # noqa: S110 - a closed socket ends the loop, nothing more to do
            pass
        finally:
            self.connections.discard(conn)
            metrics.ws_connections.dec()
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    async def _send_loop(self, conn: Connection) -> None:
        while True:
            message = await conn.queue.get()
            if conn.overflowed:
                await conn.websocket.close(code=1013, reason="too slow; reconnect")
                return
            await conn.websocket.send_json(message)
