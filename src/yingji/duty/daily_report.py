"""值班日报 — a division's duty day as a .docx (python-docx): who was on duty, the duty log,
the incidents reported that day, the reports sent up and the handovers with their signatures.

The day is a calendar day in China's time (00:00–24:00 +08:00). Text people typed (log entries,
notes, titles) is written as text runs: the document never renders markup.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from docx import Document
from docx.document import Document as DocumentType
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock
from yingji.core.security import Scope
from yingji.core.tabular import xml_text
from yingji.duty.dutylog import DivisionRef, LogFilter, incident_numbers, list_entries
from yingji.duty.models import DutyLogEntry, DutyShift, Handover, LogKind, StatutoryReport
from yingji.incidents import service as incidents

#: the document lists at most this many of each (a busy flood day has a few hundred entries)
MAX_ROWS = 2000

KIND_ZH = {
    LogKind.CALL_RECEIVED.value: "接报",
    LogKind.INSTRUCTION_PASSED.value: "传达指示",
    LogKind.REPORT_SENT.value: "报送",
    LogKind.VISIT.value: "来访",
    LogKind.OTHER.value: "其他",
}
POSITION_ZH = {
    "leader": "带班领导",
    "chief": "值班长",
    "officer": "值班员",
    "professional": "专业值班",
}
REPORT_ZH = {"phone": "电话报告", "first": "首报", "followup": "续报", "final": "终报"}
STATE_ZH = {
    "reported": "接报",
    "verified": "核实",
    "responding": "处置中",
    "controlled": "得到控制",
    "closed": "办结",
    "archived": "归档",
    "cancelled": "撤销",
    "merged": "合并",
}
HANDOVER_ZH = {"open": "待交班签字", "signed_out": "待接班签字", "signed": "已交接"}
COUNT_ZH = {
    "incidents": "未结事件",
    "orders": "超时派单",
    "reports_due": "待报信息",
    "warnings": "生效预警",
    "instructions": "未落实批示",
}


def local(moment: datetime | None, fmt: str = "%H:%M") -> str:
    if moment is None:
        return ""
    return clock.as_utc(moment).astimezone(clock.LOCAL_TZ).strftime(fmt)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0, 0), tzinfo=clock.LOCAL_TZ)
    return clock.as_utc(start), clock.as_utc(start + timedelta(days=1))


@dataclass(frozen=True)
class DutyDay:
    division: DivisionRef
    day: date
    shifts: list[DutyShift]
    entries: list[DutyLogEntry]
    entry_incidents: dict[uuid.UUID, tuple[str, str]]
    incidents: list[incidents.Incident]
    reports: list[StatutoryReport]
    handovers: list[Handover]


async def collect(*, session: AsyncSession, division: DivisionRef, day: date) -> DutyDay:
    start, end = day_bounds(day)
    shifts = (
        await session.scalars(
            select(DutyShift)
            .where(
                DutyShift.division_adcode == division.adcode,
                DutyShift.starts_at < end,
                DutyShift.ends_at > start,
            )
            .order_by(DutyShift.starts_at, DutyShift.position, DutyShift.label, DutyShift.seat)
            .limit(MAX_ROWS)
        )
    ).all()
    entries, _ = await list_entries(
        session=session,
        filters=LogFilter(division_adcode=division.adcode, since=start, until=end),
        limit=MAX_ROWS,
    )
    entries.reverse()  # oldest first, as a day reads
    linked = {e.incident_id for e in entries if e.incident_id is not None}
    found, _ = await incidents.list_incidents(
        session=session,
        scope=Scope(division_path=division.path),
        filters=incidents.IncidentFilter(since=start, until=end),
        offset=0,
        limit=MAX_ROWS,
    )
    reports = (
        await session.scalars(
            select(StatutoryReport)
            .where(
                StatutoryReport.division_adcode == division.adcode,
                StatutoryReport.sent_at >= start,
                StatutoryReport.sent_at < end,
            )
            .order_by(StatutoryReport.sent_at)
            .limit(MAX_ROWS)
        )
    ).all()
    handovers = (
        await session.scalars(
            select(Handover)
            .where(
                Handover.division_adcode == division.adcode,
                Handover.change_at >= start,
                Handover.change_at < end,
            )
            .order_by(Handover.change_at)
        )
    ).all()
    return DutyDay(
        division=division,
        day=day,
        shifts=list(shifts),
        entries=entries,
        entry_incidents=await incident_numbers(session=session, ids=linked),
        incidents=sorted(found, key=lambda i: (i.first_reported_at, i.number)),
        reports=list(reports),
        handovers=list(handovers),
    )


def _table(doc: DocumentType, header: list[str], rows: list[list[str]]) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
    for row in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = xml_text(text)


def _none(doc: DocumentType) -> None:
    doc.add_paragraph("无。")


def render(day: DutyDay) -> bytes:
    """The duty day as .docx bytes."""
    doc = Document()
    name = xml_text(day.division.name)
    doc.core_properties.title = f"{name}值班日报 {day.day.isoformat()}"
    doc.core_properties.author = "应急指挥平台"
    doc.add_heading(f"{name}值班日报", level=0)
    doc.add_paragraph(f"日期：{day.day.isoformat()}（北京时间）")

    doc.add_heading("一、值班人员", level=1)
    if day.shifts:
        _table(
            doc,
            ["岗位", "姓名", "起", "止", "签到"],
            [
                [
                    POSITION_ZH.get(s.position, s.position) + (f"（{s.label}）" if s.label else ""),
                    s.person_name or "（空岗）",
                    local(s.starts_at, "%m-%d %H:%M"),
                    local(s.ends_at, "%m-%d %H:%M"),
                    local(s.checked_in_at) if s.checked_in_at else "未签到",
                ]
                for s in day.shifts
            ],
        )
    else:
        _none(doc)

    doc.add_heading("二、值班日志", level=1)
    if day.entries:
        _table(
            doc,
            ["时间", "类型", "内容", "关联事件", "记录人"],
            [
                [
                    local(e.at),
                    KIND_ZH.get(e.kind, e.kind),
                    e.text,
                    day.entry_incidents.get(e.incident_id, ("", ""))[0] if e.incident_id else "",
                    e.author_name,
                ]
                for e in day.entries
            ],
        )
    else:
        _none(doc)

    doc.add_heading("三、突发事件", level=1)
    if day.incidents:
        _table(
            doc,
            ["编号", "标题", "等级", "状态", "首次接报", "伤亡（死/伤/失联/被困）"],
            [
                [
                    i.number,
                    i.title,
                    i.level,
                    STATE_ZH.get(i.state, i.state),
                    local(i.first_reported_at, "%m-%d %H:%M"),
                    f"{i.dead}/{i.injured}/{i.missing}/{i.trapped}",
                ]
                for i in day.incidents
            ],
        )
    else:
        _none(doc)

    doc.add_heading("四、信息报送", level=1)
    if day.reports:
        _table(
            doc,
            ["编号", "类别", "标题", "报送时间", "是否迟报"],
            [
                [
                    r.number,
                    REPORT_ZH.get(r.kind, r.kind)
                    + (f"（第{r.seq}次）" if r.kind == "followup" else ""),
                    r.title,
                    local(r.sent_at),
                    "迟报" if r.late else "按时",
                ]
                for r in day.reports
            ],
        )
    else:
        _none(doc)

    doc.add_heading("五、交接班", level=1)
    if not day.handovers:
        _none(doc)
    for h in day.handovers:
        counts = h.open_items.get("counts") or {}
        doc.add_paragraph(
            f"交接时间：{local(h.change_at)}　状态：{HANDOVER_ZH.get(h.state, h.state)}"
        )
        doc.add_paragraph(
            "移交事项：" + "，".join(f"{COUNT_ZH[k]}{int(counts.get(k, 0))}项" for k in COUNT_ZH)
        )
        doc.add_paragraph(
            xml_text(
                f"交班人：{h.signed_out_name or '未签字'} {local(h.signed_out_at)}　"
                f"接班人：{h.signed_in_name or '未签字'} {local(h.signed_in_at)}"
            )
        )
        if h.notes_out:
            doc.add_paragraph().add_run(xml_text(f"交班说明：{h.notes_out}"))
        if h.notes_in:
            doc.add_paragraph().add_run(xml_text(f"接班说明：{h.notes_in}"))

    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
