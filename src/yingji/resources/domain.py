"""The resources domain: the ten databases, what is near, requests and allocations."""

from yingji.core.domain import Domain
from yingji.core.security import Permission, Role
from yingji.resources import (
    allocation_api,
    api,
    flows,
    imports,
    io_api,
    jobs,
    models,
    near_api,
    stock_api,
)

_DESK = frozenset({Role.COMMANDER, Role.DUTY_LEADER})

DOMAIN = Domain(
    name="resources",
    routers=(io_api.router, api.router, stock_api.router, allocation_api.router, near_api.router),
    models=(models,),
    timer_handlers={
        jobs.STOCK_WATCH_TIMER: jobs.watch_stock,
        jobs.EXPIRY_TIMER: jobs.alert_expiring,
        jobs.STOCK_CHECK_TIMER: jobs.check_stock,
        imports.IMPORT_TIMER: imports.run_import_timer,
    },
    subscribers=(jobs.TeamUnitMirror, jobs.WatchNewWarehouses, jobs.CheckStockOnChange),
    reference_data=(flows.ensure_team_rows, jobs.ensure_stock_watch),
    permissions={
        Permission.RESOURCE_READ: frozenset(Role),
        # keeping the databases (and importing them): the command desk of a division
        Permission.RESOURCE_WRITE: _DESK,
        # asking for teams, equipment, experts and supplies (申请)
        Permission.RESOURCE_REQUEST: _DESK | {Role.DUTY_OFFICER},
        # deciding on requests to one's division (审批) and moving what was promised
        Permission.RESOURCE_APPROVE: _DESK,
    },
)
