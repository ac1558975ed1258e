"""The warning domain: warnings and their workflow, CAP 1.2 in and out, targeted publication
and 叫应 (call and acknowledge) with escalation."""

from yingji.core.domain import Domain
from yingji.core.security import Permission, Role
from yingji.warning import api, calling_api, cap_api, catalogue, feeds, flows, jobs, models

_DESK = frozenset({Role.COMMANDER, Role.DUTY_LEADER})

DOMAIN = Domain(
    name="warning",
    # CAP (part A) first, so ``warnings:cap`` and ``warnings/feeds`` are never taken for an id;
    # then 叫应 (part D): its /warnings/ack/… and /warnings/call-plans; then the workflow's,
    # which name a warning as ``{warning_id:uuid}``
    routers=(cap_api.router, calling_api.router, api.router),
    models=(models,),
    timer_handlers={
        feeds.FEED_TIMER: feeds.poll_on_time,  # part A (CAP)
        flows.EXPIRE_TIMER: flows.expire,  # workflow (part B): a published warning ends
        # 叫应 (part D): chain steps, the auditor, acknowledgements told in batches
        jobs.CALL_STEP_TIMER: jobs.call_step,
        jobs.CALL_AUDIT_TIMER: jobs.call_audit,
        jobs.ACK_EVENT_TIMER: jobs.ack_event,
    },
    # 叫应 (part D): chains started/stopped, voice answers
    subscribers=(jobs.StartCallChains, jobs.StopCallChains, jobs.VoiceAnswers),
    reference_data=(catalogue.ensure_reference_data, jobs.ensure_call_audit),
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
