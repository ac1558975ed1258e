"""The organisation domain: divisions, linkage units, people, users and signing in."""

from yingji.core.domain import Domain
from yingji.core.security import Permission, Role
from yingji.org import api, export_api, models, service

DOMAIN = Domain(
    name="org",
    routers=(api.auth_router, api.router, export_api.router),
    models=(models,),
    permissions={
        Permission.ORG_READ: frozenset(Role),
        Permission.ORG_WRITE: frozenset(),  # an administrator
        Permission.USER_MANAGE: frozenset(),  # an administrator
    },
    authenticator=service.principal_for_token,
)
