"""Notifications: who is told about what, and their inbox."""

from yingji.core.domain import Domain
from yingji.notify import api, jobs, models

DOMAIN = Domain(
    name="notify",
    routers=(api.router,),
    models=(models,),
    subscribers=(jobs.FirstReportOverdue, jobs.ReadyToClose, jobs.Notices),
)
