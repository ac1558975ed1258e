"""Incidents: their lifecycle, levels, timeline and reporting deadlines."""

from yingji.core.domain import Domain
from yingji.core.security import Permission, Role
from yingji.incidents import api, flows, jobs, models, service

DOMAIN = Domain(
    name="incidents",
    routers=(api.router,),
    models=(models,),
    timer_handlers={flows.FIRST_REPORT_TIMER: jobs.first_report_due},
    reference_data=(lambda session: service.ensure_reporting_deadlines(session=session),),
    permissions={
        Permission.INCIDENT_READ: frozenset(Role),
        Permission.INCIDENT_WRITE: frozenset({Role.COMMANDER, Role.DUTY_LEADER, Role.DUTY_OFFICER}),
    },
)
