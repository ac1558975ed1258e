"""The duty domain: rosters and who is on duty now (``core.on_duty``), check-in and 查岗, the
duty log and handovers, and the statutory reports sent up with their deadlines."""

from yingji.core.domain import Domain
from yingji.core.security import Permission, Role
from yingji.duty import (
    attendance,
    attendance_api,
    handover,
    handover_api,
    models,
    reporting,
    reporting_api,
    reporting_jobs,
    roster,
    roster_api,
)

_DESK = frozenset({Role.COMMANDER, Role.DUTY_LEADER, Role.DUTY_OFFICER})
_LEADERS = frozenset({Role.COMMANDER, Role.DUTY_LEADER})

DOMAIN = Domain(
    name="duty",
    # rosters and who is on duty; 到岗签到 and 查岗, the month's grid, a person's iCalendar;
    # statutory reporting; the duty log, handovers and the daily report
    routers=(
        roster_api.router,
        attendance_api.router,
        reporting_api.router,
        handover_api.router,
    ),
    models=(models,),
    timer_handlers={
        attendance.CHECK_IN_TIMER: attendance.mark_missed,
        attendance.ARM_TIMER: attendance.arm_on_time,
        reporting_jobs.REPORT_DUE_TIMER: reporting_jobs.report_due,
        handover.HANDOVER_TIMER: handover.alert_unsigned,
        handover.OPEN_TIMER: handover.open_on_time,
    },
    subscribers=(reporting_jobs.FollowIncidents,),
    reference_data=(attendance.ensure_arming,),
    permissions={
        # who is on duty, the roster, the log, handovers and the reporting board
        Permission.DUTY_READ: _DESK | {Role.VIEWER},
        # positions, patterns, generating a month, imports, approving swaps
        Permission.DUTY_ROSTER: _LEADERS,
        # check-in, log entries, handover notes and signatures, asking for a swap
        Permission.DUTY_WRITE: _DESK,
        # 查岗 of the divisions below
        Permission.DUTY_CHECK: _LEADERS,
        # writing reports up, acknowledging reports from below, carrying out instructions
        Permission.DUTY_REPORT: _DESK,
        # approving (签发) a report, issuing an instruction (领导批示)
        Permission.DUTY_APPROVE: _LEADERS,
    },
    on_duty=roster.resolve_on_duty,
    # 信息报送情况 in dispatch's monthly bulletin (decision 0033)
    bulletin_sections=(reporting.bulletin_section,),
)
