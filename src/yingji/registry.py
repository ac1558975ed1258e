"""Every domain's tables, imported once so metadata (migrations, tests) sees them all."""

from yingji.core import audit, events, timers
from yingji.core.db import Base
from yingji.dispatch import models as dispatch_models
from yingji.incidents import models as incident_models
from yingji.intake import models as intake_models
from yingji.notify import models as notify_models
from yingji.org import models as org_models

metadata = Base.metadata

__all__ = [
    "audit",
    "dispatch_models",
    "events",
    "incident_models",
    "intake_models",
    "metadata",
    "notify_models",
    "org_models",
    "timers",
]
