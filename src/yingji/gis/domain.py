"""The map: layers and spatial queries."""

from yingji.core.domain import Domain
from yingji.gis import api

DOMAIN = Domain(name="gis", routers=(api.router,))
