"""The archive domain: case files (一事一档), the evaluation after closing, replay."""

from yingji.archive import api, jobs, models
from yingji.core.domain import Domain
from yingji.core.security import Permission, Role

DOMAIN = Domain(
    name="archive",
    routers=(api.router,),
    models=(models,),
    subscribers=(jobs.BuildOnArchive,),
    permissions={
        Permission.ARCHIVE_READ: frozenset({Role.COMMANDER, Role.DUTY_LEADER, Role.DUTY_OFFICER}),
        # building the case file and writing the evaluation
        Permission.ARCHIVE_WRITE: frozenset({Role.COMMANDER, Role.DUTY_LEADER, Role.DUTY_OFFICER}),
    },
)
