"""The WebSocket hub (``/ws``); the app subscribes its hub to the bus."""

from yingji.core.domain import Domain
from yingji.realtime import api

DOMAIN = Domain(name="realtime", routers=(api.router,))
