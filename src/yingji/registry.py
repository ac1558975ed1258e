"""Every domain's tables, imported once so metadata (migrations, tests) sees them all."""

from yingji.core import audit, events, timers
from yingji.core.db import Base
from yingji.org import models as org_models

metadata = Base.metadata

__all__ = ["audit", "events", "metadata", "org_models", "timers"]
