"""Intake: reports from every channel, classified, placed and matched to incidents."""

from yingji.core.domain import Domain
from yingji.core.security import Permission, Role
from yingji.intake import api, desk_api, flows, incident_api, models, service

DOMAIN = Domain(
    name="intake",
    routers=(api.router, desk_api.router, incident_api.router),
    models=(models,),
    reference_data=(lambda session: service.ensure_categories(session=session),),
    warmers=(flows.knowledge,),  # the gazetteer, category table and matcher every report needs
    permissions={
        Permission.REPORT_CREATE: frozenset(
            {
                Role.COMMANDER,
                Role.DUTY_LEADER,
                Role.DUTY_OFFICER,
                Role.UNIT_LIAISON,
                Role.FIELD_WORKER,
            }
        ),
    },
)
