"""The WebSocket hub: every open ``/ws`` connection gets the events its principal may see.

A connection stands for a session or token, which can end while it is open (sign-out, "sign
out everywhere", a new password, the account deactivated, expiry). Each connection asks again
who its credentials stand for every ``every`` seconds, and at once when an event says one of
its user's sessions may have ended (:data:`SESSION_EVENTS`); when the answer is nobody it is
closed with code 4401. A changed answer (new roles or scope) replaces the principal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocket

from yingji.core import metrics
from yingji.core.events import DomainEvent
from yingji.core.security import Permission, Principal

log = logging.getLogger(__name__)

#: Events after which a user's open connections check their session at once (their subject
#: is the user account).
SESSION_EVENTS = frozenset({"org.user.updated", "auth.signed_out", "auth.sessions_revoked"})
#: The close code for a connection whose session ended (the HTTP 401 of WebSocket).
SESSION_ENDED = 4401

Recheck = Callable[[], Awaitable[Principal | None]]

#: Parts of an event's payload that are for a subscriber, not for screens: ``notices`` names the
#: people a change notifies (``notify.jobs.Notices`` delivers them to those people only), and
#: every reader of the area would otherwise receive the list with the event.
SUBSCRIBERS_ONLY = frozenset({"notices"})


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
    recheck_now: asyncio.Event = field(default_factory=asyncio.Event)


class Hub:
    """Fan-out of live events to connected browsers, filtered by permission and scope."""

    def __init__(self) -> None:
        self.connections: set[Connection] = set()

    async def on_event(self, event: DomainEvent) -> None:
        if event.type in SESSION_EVENTS and event.subject_type == "user":
            for conn in self.connections:
                if str(conn.principal.user_id) == event.subject_id:
                    conn.recheck_now.set()
        message = {
            "type": "event",
            "event": {
                "id": event.id,
                "type": event.type,
                "subject_type": event.subject_type,
                "subject_id": event.subject_id,
                "payload": {k: v for k, v in event.payload.items() if k not in SUBSCRIBERS_ONLY},
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

    async def serve(
        self,
        websocket: WebSocket,
        principal: Principal,
        *,
        recheck: Recheck | None = None,
        every: float = 30.0,
    ) -> None:
        """Serve one accepted connection until it closes; ``recheck`` answers who its
        credentials stand for now (None: nobody, and the connection is closed)."""
        conn = Connection(websocket, principal)
        self.connections.add(conn)
        metrics.ws_connections.inc()
        tasks = [asyncio.create_task(self._send_loop(conn))]
        if recheck is not None:
            tasks.append(asyncio.create_task(self._watch_session(conn, recheck, every)))
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
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _watch_session(self, conn: Connection, recheck: Recheck, every: float) -> None:
        # the first check at a random point of the period, so connections opened together (a
        # restart) do not all check at once ever after
        wait = every * random.uniform(0.5, 1.0)  # noqa: S311 - spreading load, not a secret
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.recheck_now.wait(), wait)
            wait = every
            conn.recheck_now.clear()
            try:
                principal = await recheck()
            except Exception as exc:  # the database is unreachable: keep serving, ask again
                log.warning("could not check a live session", extra={"error": str(exc)[:200]})
                continue
            if principal is None:
                await conn.websocket.close(code=SESSION_ENDED, reason="session ended")
                return
            conn.principal = principal

    async def _send_loop(self, conn: Connection) -> None:
        while True:
            message = await conn.queue.get()
            if conn.overflowed:
                await conn.websocket.close(code=1013, reason="too slow; reconnect")
                return
            await conn.websocket.send_json(message)
