"""The kernel's screens: the audit log, timers and the outbox, for administrators."""

from yingji.core.domain import Domain
from yingji.system import api

DOMAIN = Domain(name="system", routers=(api.router,))
