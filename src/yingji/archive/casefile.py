"""一事一档: an incident's case file, gathered from every domain and written as a .docx (the
paper file) and a .zip (the electronic file: the same data as JSON, the attachments from the file
store, the .docx, and ``manifest.json`` with the SHA-256 of every entry).

The same data gives the same bytes: the data is canonical JSON (sorted keys), every list has a
fixed order, the .docx's core properties are set from the data (never the build time) and both
archives are written with a fixed timestamp, fixed attributes and entries in a fixed order. What
the build does not know from the data (who built it, when) is kept on the ``archive_case_file``
row, never in the files.

Gathering reads other domains only through their services and their ``casefile_queries``;
rendering is pure (bytes in, bytes out) and runs in a worker thread.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from xml.sax.saxutils import escape

import orjson
from docx import Document
from docx.oxml.ns import nsmap
from lxml import etree
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.archive.models import Evaluation
from yingji.core import clock, files
from yingji.core.errors import NotFound
from yingji.core.security import SYSTEM
from yingji.core.tabular import xml_text
from yingji.dispatch import casefile_queries as dispatch_feedback
from yingji.dispatch import service as dispatch
from yingji.duty import casefile_queries as duty
from yingji.incidents import service as incidents
from yingji.intake import casefile_queries as intake_files
from yingji.intake import service as intake
from yingji.resources import allocation
from yingji.warning import casefile_queries as warnings

#: every entry of both archives carries this time (the earliest a zip can say)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ZIP_TYPE = "application/zip"
#: the format of the data in the .zip; a reader checks it before reading
FORMAT = "yingji.casefile/1"
#: the resource requests one case file carries at most
MAX_REQUESTS = 1000
#: reports of an incident read at most (a large incident has hundreds)
MAX_REPORTS = 20_000

CHANNEL_ZH = {
    "hotline_110": "110",
    "hotline_119": "119",
    "hotline_120": "120",
    "hotline_12122": "12122",
    "hotline_12345": "12345",
    "hotline_96345": "96345",
    "grid": "网格员",
    "public_web": "群众上报",
    "sensor": "感知设备",
    "upper_level": "上级转办",
    "manual": "人工录入",
}
STAGE_ZH = {
    "issued": "已派单",
    "signed": "已签收",
    "arrived": "已到场",
    "in_progress": "处置中",
    "completed": "已办结",
    "returned": "已退回",
    "transferred": "已转派",
    "closed_with_incident": "随事件结束",
}
REPORT_KIND_ZH = {"phone": "电话报告", "first": "首报", "followup": "续报", "final": "终报"}
LEVEL_ZH = {
    "I": "特别重大（I级）",
    "II": "重大（II级）",
    "III": "较大（III级）",
    "IV": "一般（IV级）",
}
STATE_ZH = {
    "reported": "接报",
    "verified": "已核实",
    "responding": "处置中",
    "controlled": "得到控制",
    "closed": "办结",
    "archived": "归档",
    "cancelled": "撤销",
}
#: the measured response times, in the order the evaluation shows them
MEASURES: tuple[tuple[str, str], ...] = (
    ("to_verify", "接报至核实"),
    ("to_dispatch", "接报至首次派单"),
    ("to_sign", "首次派单至签收"),
    ("to_arrive", "接报至首个单位到场"),
    ("to_first_report", "核实至首报"),
    ("to_control", "接报至得到控制"),
    ("to_close", "接报至办结"),
)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else clock.as_utc(moment).isoformat()


#: China's time (no daylight saving since 1991): a fixed offset is quicker than the zone
CHINA = timezone(timedelta(hours=8))


def local(value: object) -> str:
    """An ISO time of the data as China's wall time, for the document."""
    if not isinstance(value, str) or not value:
        return ""
    m = datetime.fromisoformat(value).astimezone(CHINA)
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d} {m.hour:02d}:{m.minute:02d}:{m.second:02d}"


# --- gathering -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    """A file of the case file, as the data names it."""

    sha256: str
    filename: str
    content_type: str
    size: int

    @property
    def member(self) -> str:
        extensions = files.EXTENSIONS.get(self.content_type)
        return f"attachments/{self.sha256}{extensions[0] if extensions else '.bin'}"


@dataclass(frozen=True, slots=True)
class CaseData:
    """Everything the case file says, as JSON-ready sections, and the files it carries."""

    sections: dict[str, Any]
    attachments: tuple[AttachmentRef, ...]

    @property
    def number(self) -> str:
        return str(self.sections["incident"]["number"])

    def canonical(self) -> bytes:
        return orjson.dumps(self.sections, option=orjson.OPT_SORT_KEYS)

    def content_sha256(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


def incident_section(incident: incidents.Incident) -> dict[str, Any]:
    return {
        "id": str(incident.id),
        "number": incident.number,
        "title": incident.title,
        "category_code": incident.category_code,
        "level": incident.level,
        "state": incident.state,
        "division_adcode": incident.division_adcode,
        "division_path": incident.division_path,
        "address": incident.address,
        "lon": incident.lon,
        "lat": incident.lat,
        "location_source": incident.location_source,
        "report_count": incident.report_count,
        "dead": incident.dead,
        "injured": incident.injured,
        "missing": incident.missing,
        "trapped": incident.trapped,
        "first_reported_at": iso(incident.first_reported_at),
        "last_reported_at": iso(incident.last_reported_at),
        "verified_at": iso(incident.verified_at),
        "closed_at": iso(incident.closed_at),
        "first_report_due_at": iso(incident.first_report_due_at),
        "first_report_at": iso(incident.first_report_at),
        "cancel_reason": incident.cancel_reason,
    }


def evaluation_section(evaluation: Evaluation | None) -> dict[str, Any] | None:
    if evaluation is None:
        return None
    return {
        "what_happened": evaluation.what_happened,
        "went_well": evaluation.went_well,
        "to_improve": evaluation.to_improve,
        "measured": evaluation.measured,
        "author_name": evaluation.author_name,
        "version": evaluation.version,
        "updated_at": iso(evaluation.updated_at),
    }


async def gather(
    session: AsyncSession, *, incident: incidents.Incident, evaluation: Evaluation | None
) -> CaseData:
    """Read everything the case file of ``incident`` says, in one unit of work."""
    refs: dict[str, AttachmentRef] = {}

    def keep(found: dict[str, Any]) -> str:
        ref = AttachmentRef(
            sha256=str(found["sha256"]),
            filename=str(found.get("filename") or "file"),
            content_type=str(found.get("content_type") or "application/octet-stream"),
            size=int(found.get("size") or 0),
        )
        refs.setdefault(ref.sha256, ref)
        return ref.sha256

    timeline = [
        {
            "id": e.id,
            "at": iso(e.at),
            "kind": e.kind,
            "code": e.code,
            "params": e.params,
            "actor_name": e.actor_name,
            "summary": e.summary,
        }
        for e in await incidents.timeline(session=session, incident_id=incident.id)
    ]
    reports, _ = await intake.list_reports(
        session=session,
        scope=SYSTEM.scope,
        incident_id=incident.id,
        limit=MAX_REPORTS,
    )
    attachments = await intake_files.attachments_of_reports(
        session=session, report_ids=[r.id for r in reports]
    )
    report_rows = []
    for r in sorted(reports, key=lambda r: (clock.as_utc(r.received_at), str(r.id))):
        attached = attachments[r.id]
        report_rows.append(
            {
                "id": str(r.id),
                "channel": r.channel,
                "external_id": r.external_id,
                "received_at": iso(r.received_at),
                "reporter_name": r.reporter_name,
                "reporter_phone": r.reporter_phone,
                "text": r.text,
                "address": r.address,
                "lon": r.lon,
                "lat": r.lat,
                "category_code": r.category_code,
                "dead": r.dead,
                "injured": r.injured,
                "missing": r.missing,
                "trapped": r.trapped,
                "status": r.status,
                "attachments": [
                    keep(
                        {
                            "sha256": a.sha256,
                            "filename": a.filename,
                            "content_type": a.content_type,
                            "size": a.size,
                        }
                    )
                    for a in attached
                ],
            }
        )
    orders = sorted(
        await dispatch.orders_of_incident(session=session, incident_id=incident.id),
        key=lambda o: (clock.as_utc(o.issued_at), str(o.id)),
    )
    names = await dispatch.unit_names(session=session, unit_ids={o.unit_id for o in orders})
    escalations = await dispatch.escalations_of_orders(
        session=session, order_ids=[o.id for o in orders]
    )
    feedback_of = await dispatch_feedback.feedback_of_orders(
        session=session, order_ids=[o.id for o in orders]
    )
    order_rows = []
    for o in orders:
        feedback = feedback_of[o.id]
        order_rows.append(
            {
                "id": str(o.id),
                "unit_id": str(o.unit_id),
                "unit_name": names.get(o.unit_id, ""),
                "role": o.role,
                "stage": o.stage,
                "chosen_by": o.chosen_by,
                "issued_at": iso(o.issued_at),
                "sign_due_at": iso(o.sign_due_at),
                "signed_at": iso(o.signed_at),
                "arrive_due_at": iso(o.arrive_due_at),
                "arrived_at": iso(o.arrived_at),
                "arrive_lon": o.arrive_lon,
                "arrive_lat": o.arrive_lat,
                "first_feedback_at": iso(o.first_feedback_at),
                "completed_at": iso(o.completed_at),
                "returned_at": iso(o.returned_at),
                "return_reason": o.return_reason,
                "ended_at": iso(o.ended_at),
                "sign_late": o.sign_late,
                "arrive_late": o.arrive_late,
                "complete_late": o.complete_late,
                "feedback": [
                    {
                        "at": iso(f.at),
                        "text": f.text,
                        "by_user": f.by_user,
                        "photos": [keep(p) for p in f.attachments or [] if p.get("sha256")],
                    }
                    for f in feedback
                ],
                "escalations": [
                    {"stage": e.stage, "kind": e.kind, "at": iso(e.at), "manual": e.manual}
                    for e in escalations.get(o.id, [])
                ],
            }
        )
    sent_up = [
        {
            "id": str(r.id),
            "number": r.number,
            "kind": r.kind,
            "seq": r.seq,
            "state": r.state,
            "division_adcode": r.division_adcode,
            "to_division_adcode": r.to_division_adcode,
            "title": r.title,
            "level": r.level,
            "dead": r.dead,
            "injured": r.injured,
            "missing": r.missing,
            "trapped": r.trapped,
            "loss_wan_yuan": r.loss_wan_yuan,
            "cause": r.cause,
            "measures": r.measures,
            "next_steps": r.next_steps,
            "body": r.body,
            "reporter_name": r.reporter_name,
            "approver_name": r.approver_name,
            "due_at": iso(r.due_at),
            "sent_at": iso(r.sent_at),
            "late": r.late,
            "opened_at": iso(r.opened_at),
            "acked_at": iso(r.acked_at),
            "acked_by_name": r.acked_by_name,
            "corrects_id": str(r.corrects_id) if r.corrects_id else None,
            "correction_reason": r.correction_reason,
            "docx_sha256": r.docx_sha256,
        }
        for r in await duty.sent_reports(session=session, incident_id=incident.id)
    ]
    for sent in sent_up:
        if sent["docx_sha256"]:
            keep(
                {
                    "sha256": sent["docx_sha256"],
                    "filename": f"{sent['number']}.docx",
                    "content_type": DOCX_TYPE,
                }
            )
    warning_rows = [
        {
            "id": str(w.id),
            "number": w.number,
            "headline": w.headline,
            "type_code": w.type_code,
            "level": w.level,
            "issuer": w.issuer,
            "state": w.state,
            "area_desc": w.area_desc,
            "sent_at": iso(w.sent_at),
            "expires_at": iso(w.expires_at),
            "called": w.called,
            "answered": w.answered,
            "escalated": w.escalated,
            "exhausted": w.exhausted,
        }
        for w in await warnings.warnings_over(
            session=session,
            division_path=incident.division_path,
            since=incident.first_reported_at,
            until=incident.closed_at,
        )
    ]
    requests, _ = await allocation.list_requests(
        session=session,
        scope=SYSTEM.scope,
        wanted=allocation.RequestFilter(incident_id=incident.id),
        offset=0,
        limit=MAX_REQUESTS,
    )
    named = await allocation.names_of(session=session, requests=requests, allocations=[])
    resource_rows = [
        {
            "id": str(q.id),
            "number": q.number,
            "target": q.target,
            "kind": q.kind,
            "what": _requested(q, named),
            "quantity": q.quantity,
            "state": q.state,
            "from_division_adcode": q.from_division_adcode,
            "from_division": named.divisions.get(q.from_division_adcode, ""),
            "to_division_adcode": q.to_division_adcode,
            "to_division": named.divisions.get(q.to_division_adcode, ""),
            "created_at": iso(q.created_at),
        }
        for q in sorted(requests, key=lambda q: (clock.as_utc(q.created_at), q.number))
    ]
    callback = await dispatch.get_callback(session=session, incident_id=incident.id)
    sections: dict[str, Any] = {
        "format": FORMAT,
        "incident": incident_section(incident),
        "timeline": timeline,
        "reports": report_rows,
        "orders": order_rows,
        "reports_sent_up": sent_up,
        "warnings": warning_rows,
        "resources": resource_rows,
        "callback": None
        if callback is None
        else {
            "done_at": iso(callback.done_at),
            "reachable": callback.reachable,
            "reached": callback.reached,
            "satisfied": callback.satisfied,
            "note": callback.note,
            "by_user": callback.by_user,
        },
        "evaluation": evaluation_section(evaluation),
    }
    ordered = tuple(sorted(refs.values(), key=lambda a: a.sha256))
    sections["attachments"] = [
        {
            "sha256": a.sha256,
            "filename": a.filename,
            "content_type": a.content_type,
            "size": a.size,
            "member": a.member,
        }
        for a in ordered
    ]
    return CaseData(sections=sections, attachments=ordered)


def _requested(request: Any, named: allocation.Named) -> str:
    if request.resource_id is not None and request.resource_id in named.resources:
        return str(named.resources[request.resource_id].name)
    if request.item_id is not None and request.item_id in named.items:
        return str(named.items[request.item_id].name)
    return str(request.kind or request.target)


def counts(data: CaseData) -> dict[str, int]:
    s = data.sections
    return {
        "timeline": len(s["timeline"]),
        "reports": len(s["reports"]),
        "orders": len(s["orders"]),
        "feedback": sum(len(o["feedback"]) for o in s["orders"]),
        "reports_sent_up": len(s["reports_sent_up"]),
        "warnings": len(s["warnings"]),
        "resources": len(s["resources"]),
        "attachments": len(data.attachments),
    }


# --- measuring (总结评估) -------------------------------------------------------------------------


def _minutes(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return round(seconds / 60, 1) if seconds >= 0 else None


def _first_at(timeline: Sequence[dict[str, Any]], code: str) -> str | None:
    return next((e["at"] for e in timeline if e["code"] == code), None)


def measure(sections: dict[str, Any]) -> dict[str, float | None]:
    """Response times in minutes, measured from the timeline (and the orders' own stamps where
    the timeline has them only as a unit's step); ``None`` where the step never happened."""
    incident, timeline, orders = sections["incident"], sections["timeline"], sections["orders"]
    reported = incident["first_reported_at"]
    issued = _first_at(timeline, "dispatch.order_issued")
    signed = _first_at(timeline, "dispatch.order_signed")
    arrived = _first_at(timeline, "dispatch.order_arrived") or min(
        (o["arrived_at"] for o in orders if o["arrived_at"]), default=None
    )
    verified = _first_at(timeline, "incidents.verified") or incident["verified_at"]
    return {
        "to_verify": _minutes(reported, verified),
        "to_dispatch": _minutes(reported, issued),
        "to_sign": _minutes(issued, signed),
        "to_arrive": _minutes(reported, arrived),
        "to_first_report": _minutes(verified, incident["first_report_at"]),
        "to_control": _minutes(reported, _first_at(timeline, "incidents.controlled")),
        "to_close": _minutes(reported, _first_at(timeline, "incidents.closed")),
    }


# --- writing -------------------------------------------------------------------------------------

_W_NS = nsmap["w"]


def _text(value: object) -> str:
    """A cell's text without the characters XML cannot carry (text is never markup)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return xml_text(value)


class _Rows:
    """The rows of the document's tables, written as XML text and put in place when the saved
    document is repacked: python-docx builds each element through its class lookup, and moving
    parsed rows into its tree reconciles namespaces node by node — thousands of timeline rows
    took seconds either way. Every text is escaped, so nothing typed is markup."""

    def __init__(self) -> None:
        self.rows: dict[str, str] = {}

    def table(self, doc: Any, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        table = doc.add_table(rows=1, cols=len(header))
        table._tbl.tblPr.style = "TableGrid"  # "Table Grid" (looked up by name: slow)
        for cell, text in zip(table.rows[0].cells, header, strict=True):
            cell.text = text
        properties = [
            "" if tc.tcPr is None else etree.tostring(tc.tcPr, encoding="unicode")
            for tc in table._tbl.tr_lst[0].tc_lst
        ]
        parts = []
        for row in rows:
            parts.append("<w:tr>")
            for value, tc_pr in zip(row, properties, strict=True):
                text = _text(value)
                run = f'<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r>' if text else ""
                parts.append(f"<w:tc>{tc_pr}<w:p>{run}</w:p></w:tc>")
            parts.append("</w:tr>")
        if parts:
            marker = f"@@rows-{len(self.rows)}@@"
            table.add_row().cells[0].text = marker
            self.rows[marker] = "".join(parts)

    def put_in_place(self, xml: bytes) -> bytes:
        """The document's XML with each marker row replaced by its rows (one pass)."""
        text = xml.decode("utf-8")
        pieces, at = [], 0
        found = sorted((text.index(marker), marker) for marker in self.rows)
        for position, marker in found:
            start = text.rindex("<w:tr", 0, position)
            pieces += [text[at:start], self.rows[marker]]
            at = text.index("</w:tr>", position) + len("</w:tr>")
        pieces.append(text[at:])
        return "".join(pieces).encode("utf-8")


def _pairs(rows_: _Rows, doc: Any, rows: Sequence[tuple[str, object]]) -> None:
    rows_.table(doc, ("项目", "内容"), [list(r) for r in rows])


def _casualties(row: dict[str, Any]) -> str:
    return f"死亡{row['dead']} 受伤{row['injured']} 失踪{row['missing']} 被困{row['trapped']}"


def _fixed_time(sections: dict[str, Any]) -> datetime:
    """The time the document says it was made: the last thing its data records."""
    stamps = [e["at"] for e in sections["timeline"] if e["at"]]
    incident = sections["incident"]
    stamps += [incident["last_reported_at"], incident["first_reported_at"]]
    latest = max(s for s in stamps if s)
    return datetime.fromisoformat(latest).astimezone(clock.LOCAL_TZ).replace(tzinfo=None)


def render_docx(data: CaseData) -> bytes:
    """The paper file: summary, reports received, orders with their stages and feedback, reports
    sent up, warnings and 叫应, resources used, the callback, the evaluation and the timeline."""
    s = data.sections
    inc = s["incident"]
    doc = Document()
    tables = _Rows()
    doc.add_heading(f"突发事件档案（一事一档） {inc['number']}", level=0)
    doc.add_paragraph(_text(inc["title"]))
    doc.add_heading("一、事件概况", level=1)
    _pairs(
        tables,
        doc,
        [
            ("编号", inc["number"]),
            ("标题", inc["title"]),
            ("类别", inc["category_code"]),
            ("级别", LEVEL_ZH.get(inc["level"], inc["level"])),
            ("状态", STATE_ZH.get(inc["state"], inc["state"])),
            ("属地", inc["division_adcode"]),
            ("地址", inc["address"]),
            ("坐标", f"{inc['lon']}, {inc['lat']}" if inc["lon"] is not None else ""),
            ("首次接报", local(inc["first_reported_at"])),
            ("最后接报", local(inc["last_reported_at"])),
            ("核实", local(inc["verified_at"])),
            ("首报时限", local(inc["first_report_due_at"])),
            ("首报", local(inc["first_report_at"])),
            ("办结", local(inc["closed_at"])),
            ("伤亡", _casualties(inc)),
            ("接报数", inc["report_count"]),
        ],
    )
    doc.add_heading("二、接报记录", level=1)
    tables.table(
        doc,
        ("时间", "渠道", "报告人", "电话", "内容", "地址", "附件"),
        (
            [
                local(r["received_at"]),
                CHANNEL_ZH.get(r["channel"], r["channel"]),
                r["reporter_name"],
                r["reporter_phone"],
                r["text"],
                r["address"],
                len(r["attachments"]),
            ]
            for r in s["reports"]
        ),
    )
    doc.add_heading("三、派单与处置", level=1)
    tables.table(
        doc,
        ("单位", "角色", "状态", "派单", "签收", "到场", "首次反馈", "办结", "超时"),
        (
            [
                o["unit_name"],
                "主办" if o["role"] == "lead" else "协办",
                STAGE_ZH.get(o["stage"], o["stage"]),
                local(o["issued_at"]),
                local(o["signed_at"]),
                local(o["arrived_at"]),
                local(o["first_feedback_at"]),
                local(o["completed_at"] or o["ended_at"]),
                "、".join(
                    name
                    for name, late in (
                        ("签收", o["sign_late"]),
                        ("到场", o["arrive_late"]),
                        ("办结", o["complete_late"]),
                    )
                    if late
                ),
            ]
            for o in s["orders"]
        ),
    )
    doc.add_heading("处置反馈", level=2)
    tables.table(
        doc,
        ("单位", "时间", "反馈人", "内容", "附图"),
        (
            [o["unit_name"], local(f["at"]), f["by_user"], f["text"], len(f["photos"])]
            for o in s["orders"]
            for f in o["feedback"]
        ),
    )
    doc.add_heading("催办与督办", level=2)
    tables.table(
        doc,
        ("单位", "环节", "方式", "时间"),
        (
            [o["unit_name"], e["stage"], e["kind"], local(e["at"])]
            for o in s["orders"]
            for e in o["escalations"]
        ),
    )
    doc.add_heading("四、信息报送", level=1)
    tables.table(
        doc,
        (
            "编号",
            "类型",
            "报送单位",
            "报往",
            "时限",
            "报送时间",
            "迟报",
            "签收",
            "状态",
            "更正原因",
        ),
        (
            [
                r["number"],
                f"{REPORT_KIND_ZH.get(r['kind'], r['kind'])} 第{r['seq']}次",
                r["division_adcode"],
                r["to_division_adcode"],
                local(r["due_at"]),
                local(r["sent_at"]),
                r["late"],
                f"{r['acked_by_name'] or ''} {local(r['acked_at'])}".strip(),
                r["state"],
                r["correction_reason"],
            ]
            for r in s["reports_sent_up"]
        ),
    )
    doc.add_heading("五、预警与叫应", level=1)
    tables.table(
        doc,
        ("编号", "标题", "级别", "发布单位", "发布时间", "叫应", "应答", "升级", "无人应答"),
        (
            [
                w["number"],
                w["headline"],
                w["level"],
                w["issuer"],
                local(w["sent_at"]),
                w["called"],
                w["answered"],
                w["escalated"],
                w["exhausted"],
            ]
            for w in s["warnings"]
        ),
    )
    doc.add_heading("六、资源调派", level=1)
    tables.table(
        doc,
        ("编号", "内容", "数量", "状态", "申请单位", "审批单位", "时间"),
        (
            [
                q["number"],
                q["what"],
                q["quantity"],
                q["state"],
                q["from_division"] or q["from_division_adcode"],
                q["to_division"] or q["to_division_adcode"],
                local(q["created_at"]),
            ]
            for q in s["resources"]
        ),
    )
    doc.add_heading("七、回访", level=1)
    callback = s["callback"]
    if callback is None:
        doc.add_paragraph("无")
    else:
        _pairs(
            tables,
            doc,
            [
                ("时间", local(callback["done_at"])),
                ("联系上", callback["reached"]),
                ("满意", callback["satisfied"]),
                ("记录", callback["note"]),
                ("回访人", callback["by_user"]),
            ],
        )
    doc.add_heading("八、总结评估", level=1)
    evaluation = s["evaluation"]
    if evaluation is None:
        doc.add_paragraph("尚未评估")
    else:
        _pairs(
            tables,
            doc,
            [
                ("事件经过", evaluation["what_happened"]),
                ("做得好的", evaluation["went_well"]),
                ("需改进的", evaluation["to_improve"]),
                ("评估人", evaluation["author_name"]),
                ("评估时间", local(evaluation["updated_at"])),
            ],
        )
        measured = evaluation["measured"] or {}
        tables.table(
            doc,
            ("响应环节", "用时（分钟）"),
            ([name, measured.get(key)] for key, name in MEASURES),
        )
    doc.add_heading("九、全程记录（时间线）", level=1)
    tables.table(
        doc,
        ("时间", "人员", "事项"),
        ([local(e["at"]), e["actor_name"], e["summary"]] for e in s["timeline"]),
    )
    doc.add_heading("附件清单", level=1)
    tables.table(
        doc,
        ("文件", "类型", "大小", "SHA-256"),
        ([a.filename, a.content_type, a.size, a.sha256] for a in data.attachments),
    )
    fixed = _fixed_time(s)
    core = doc.core_properties
    core.title = f"突发事件档案 {inc['number']}"
    core.subject = _text(inc["title"])[:200]
    core.author = "应急指挥平台"
    core.last_modified_by = "应急指挥平台"
    core.created = fixed
    core.modified = fixed
    core.last_printed = fixed
    core.revision = 1
    core.comments = ""
    core.keywords = "一事一档"
    out = io.BytesIO()
    doc.save(out)
    return normalised_zip(out.getvalue(), edit={"word/document.xml": tables.put_in_place})


def _info(name: str, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.compress_type = compress
    info.create_system = 3
    info.external_attr = 0o644 << 16
    return info


def normalised_zip(
    data: bytes, *, edit: dict[str, Callable[[bytes], bytes]] | None = None
) -> bytes:
    """The same archive with every entry's time and attributes fixed (python-docx stamps each
    part with the time it is written), and the entries named in ``edit`` changed by it."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w") as target,
    ):
        for item in source.infolist():
            body = source.read(item)
            if edit and item.filename in edit:
                body = edit[item.filename](body)
            target.writestr(_info(item.filename, zipfile.ZIP_DEFLATED), body, compresslevel=1)
    return out.getvalue()


#: already compressed: stored as they are
_STORED_TYPES = files.PHOTO_TYPES | files.AUDIO_TYPES | {DOCX_TYPE}


def render_zip(
    data: CaseData, *, docx: bytes | None, attachments: dict[str, bytes | None]
) -> bytes:
    """The electronic file: ``data/*.json`` (one file per section, canonical JSON), the .docx,
    every attachment found in the store, and ``manifest.json``: each entry's size and SHA-256,
    and the attachments the store did not have. Entries in name order, fixed times."""
    entries: dict[str, tuple[bytes, int]] = {}
    for name, section in data.sections.items():
        body = orjson.dumps(section, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
        entries[f"data/{name}.json"] = (body, zipfile.ZIP_DEFLATED)
    if docx is not None:
        entries[f"{data.number}.docx"] = (docx, zipfile.ZIP_STORED)
    missing = []
    for ref in data.attachments:
        found = attachments.get(ref.sha256)
        if found is None:
            missing.append(ref.sha256)
            continue
        compress = zipfile.ZIP_STORED if ref.content_type in _STORED_TYPES else zipfile.ZIP_DEFLATED
        entries[ref.member] = (found, compress)
    manifest = {
        "format": FORMAT,
        "incident": data.number,
        "content_sha256": data.content_sha256(),
        "files": [
            {"name": name, "size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
            for name, (body, _) in sorted(entries.items())
        ],
        "missing_attachments": sorted(missing),
    }
    entries["manifest.json"] = (
        orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2),
        zipfile.ZIP_DEFLATED,
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, (body, compress) in sorted(entries.items()):
            archive.writestr(_info(name, compress), body)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class Built:
    docx: bytes
    zip: bytes


def render(data: CaseData, attachments: dict[str, bytes | None]) -> Built:
    """Both files (CPU-bound: call through ``asyncio.to_thread``)."""
    docx = render_docx(data)
    return Built(docx=docx, zip=render_zip(data, docx=docx, attachments=attachments))


async def fetch_attachments(
    store: files.FileStore, refs: Sequence[AttachmentRef]
) -> dict[str, bytes | None]:
    """The attachments' bytes from the store; ``None`` for one the store does not have (or whose
    bytes no longer match their hash)."""
    found: dict[str, bytes | None] = {}
    for ref in refs:
        try:
            body = await store.get(ref.sha256)
        except (NotFound, OSError):  # the manifest says it is missing
            found[ref.sha256] = None
            continue
        found[ref.sha256] = body if hashlib.sha256(body).hexdigest() == ref.sha256 else None
    return found
