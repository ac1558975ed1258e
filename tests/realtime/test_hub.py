"""What the hub hands a browser of an event."""

from __future__ import annotations

import uuid
from typing import Any, cast

from fastapi import WebSocket

from yingji.core.events import DomainEvent, EventScope
from yingji.core.security import Permission, Principal, Role, Scope
from yingji.realtime.hub import Connection, Hub


async def test_a_live_event_reaches_screens_without_the_people_it_notifies() -> None:
    reader = Principal(
        user_id=uuid.uuid4(),
        username="duty",
        display_name="值班员",
        roles=frozenset({Role.DUTY_OFFICER}),
        scope=Scope(division_path="330000/331000/331100"),
        permissions=frozenset({Permission.EVENTS_READ}),
    )
    hub = Hub()
    connection = Connection(websocket=cast(WebSocket, object()), principal=reader)
    hub.connections.add(connection)
    notices = [{"kind": "order_issued", "title": "派单", "user_ids": [str(uuid.uuid4())]}]
    await hub.on_event(
        DomainEvent(
            id=1,
            event_id="e1",
            type="dispatch.order_issued",
            subject_type="order",
            subject_id=str(uuid.uuid4()),
            payload={"incident_id": "i1", "stage": "issued", "notices": notices},
            occurred_at="2026-12-07T00:00:00+00:00",
            scope=EventScope(division_path="330000/331000/331100/331102"),
        )
    )
    message: dict[str, Any] = connection.queue.get_nowait()
    assert message["event"]["payload"] == {"incident_id": "i1", "stage": "issued"}
