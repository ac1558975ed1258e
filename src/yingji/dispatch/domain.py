"""Dispatch: routing rules, orders and their stage deadlines, callbacks, KPIs."""

from yingji.core.domain import Domain
from yingji.core.security import Permission, Role
from yingji.dispatch import access, api, flows, incident_api, jobs, models, plan_api, service

DOMAIN = Domain(
    name="dispatch",
    routers=(incident_api.router, api.router, plan_api.router),
    models=(models,),
    timer_handlers={flows.DEADLINE_TIMER: jobs.stage_deadline},
    subscribers=(jobs.CallbackOnClose,),
    reference_data=(lambda session: service.ensure_stage_deadlines(session=session),),
    permissions={
        Permission.DISPATCH_WRITE: frozenset({Role.COMMANDER, Role.DUTY_LEADER, Role.DUTY_OFFICER}),
        Permission.ORDER_ACT: frozenset({Role.UNIT_LIAISON, Role.FIELD_WORKER}),
        Permission.KPI_READ: frozenset(
            {
                Role.COMMANDER,
                Role.DUTY_LEADER,
                Role.DUTY_OFFICER,
                Role.UNIT_LIAISON,
                Role.EXPERT,
                Role.VIEWER,
            }
        ),
    },
    # a unit reads the incidents it holds orders on (联动单位查看所派事件)
    incident_reading=(access.with_order_incidents,),
)
