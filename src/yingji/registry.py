"""Every table of the kernel and the domains, for the metadata migrations and tests use: the
models modules each domain declares (``yingji.domains``) are imported by that list."""

from yingji.core.db import Base
from yingji.domains import EVERYTHING

metadata = Base.metadata
#: the modules holding the tables, in the order of the list
MODELS = tuple(module for domain in EVERYTHING for module in domain.models)

__all__ = ["MODELS", "metadata"]
