"""Notifications: who is told about what, and their inbox; the deliveries of messages to people
and devices over every channel (the sender and the devices' MQTT listener run as workers)."""

from yingji.core.domain import Domain
from yingji.notify import api, contacts_api, delivery, devices, gateways_api, jobs, models

DOMAIN = Domain(
    name="notify",
    routers=(api.router, contacts_api.router, gateways_api.router),
    models=(models,),
    subscribers=(jobs.FirstReportOverdue, jobs.ReadyToClose, jobs.Notices),
    workers=(delivery.sender, devices.listener),
)
