"""The warning domain: warnings and their workflow, CAP 1.2 in and out, targeted publication
and 叫应 (call and acknowledge) with escalation."""

from yingji.core.domain import Domain
from yingji.core.security import Permission, Role
from yingji.warning import api, catalogue, flows, models

_DESK = frozenset({Role.COMMANDER, Role.DUTY_LEADER})

DOMAIN = Domain(
    name="warning",
    # workflow (issue 19, B): the CAP router (``/warnings:cap``, A) is mounted before these;
    # these name a warning as ``{warning_id:uuid}``, so no other warning path falls into them
    routers=(api.router,),
    timer_handlers={flows.EXPIRE_TIMER: flows.expire},
    models=(models,),
    reference_data=(catalogue.ensure_reference_data,),
    permissions={
        Permission.WARNING_READ: frozenset(Role),
        # 制作: the duty desk drafts (and relays received CAP warnings as drafts)
        Permission.WARNING_DRAFT: _DESK | {Role.DUTY_OFFICER},
        # 审核
        Permission.WARNING_REVIEW: _DESK,
        # 签发
        Permission.WARNING_SIGN: frozenset({Role.COMMANDER}),
        # 发布 (after sign-off), update and cancel
        Permission.WARNING_PUBLISH: _DESK | {Role.DUTY_OFFICER},
        # call plans, CAP feeds, subscribed groups, contact points and broadcast devices
        Permission.WARNING_MANAGE: _DESK,
        # 六问 spot checks and the 叫应 board's follow-up
        Permission.WARNING_CHECK: _DESK | {Role.DUTY_OFFICER},
    },
)
