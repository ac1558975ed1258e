"""A warning's 叫应 evidence as a document (.docx, python-docx) and a workbook (.xlsx,
``core.tabular``): the warning, every link of every chain (call, receipt, repeat, escalation,
answer, exhausted) with its time, the deliveries, the acknowledgements and the 六问 spot checks.

Times are written in China's time (+08:00). Text typed by people (names, notes, the headline)
is written as text: the workbook never turns a cell into a formula, the document never renders
markup. The workbook carries every delivery (up to ``MAX_DELIVERY_ROWS``); the document carries
the deliveries of the called people and the totals of the rest.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from docx import Document
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock, tabular
from yingji.notify import delivery
from yingji.warning import calling, catalogue
from yingji.warning.models import (
    CallEvent,
    SpotCheck,
    Warning,
    WarningAck,
    WarningLevel,
    WarningRecipient,
)

#: the workbook's delivery rows at most (a province-wide warning has 100,000 recipients)
MAX_DELIVERY_ROWS = 200_000
_PAGE = 5000

KIND_ZH = {
    "call": "呼叫",
    "receipt": "回执",
    "repeat": "重复呼叫",
    "escalate": "升级",
    "answer": "应答",
    "exhausted": "无人应答",
    "spot_check": "六问抽查",
}
STATE_ZH = {
    "waiting": "等待应答",
    "answered": "已应答",
    "escalated": "已升级",
    "exhausted": "无人应答",
    "": "",
}
VIA_ZH = {"link": "链接", "app": "应用内", "voice": "语音按键"}


def when(at: datetime | None) -> str:
    if at is None:
        return ""
    return clock.as_utc(at).astimezone(catalogue.CHINA).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class DeliveryRow:
    recipient_ref: str
    name: str
    step: int
    channel: str
    address: str
    state: str
    tries: int
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    receipt: dict[str, Any]


@dataclass(frozen=True)
class Evidence:
    warning: Warning
    recipients: list[WarningRecipient]  # the called people (must_ack)
    chain: list[tuple[CallEvent, str]]
    acks: list[tuple[WarningAck, str]]
    checks: list[SpotCheck]
    deliveries: list[DeliveryRow]
    delivery_total: int
    delivery_counts: dict[str, int]


async def collect(session: AsyncSession, *, warning: Warning) -> Evidence:
    """Everything the evidence shows, read in one unit of work."""
    recipients = list(
        (
            await session.scalars(
                select(WarningRecipient)
                .where(WarningRecipient.warning_id == warning.id, WarningRecipient.must_ack)
                .order_by(WarningRecipient.town_adcode, WarningRecipient.created_at)
            )
        ).all()
    )
    rows: list[DeliveryRow] = []
    total = 0
    offset = 0
    while offset < MAX_DELIVERY_ROWS:
        page, total = await delivery.list_deliveries(
            session, subject_id=warning.id, offset=offset, limit=_PAGE
        )
        rows.extend(
            DeliveryRow(
                recipient_ref=d.recipient_ref,
                name=d.name,
                step=d.step,
                channel=d.channel,
                address=d.address,
                state=d.state,
                tries=d.tries,
                error=d.error,
                created_at=d.created_at,
                sent_at=d.sent_at,
                delivered_at=d.delivered_at,
                receipt=dict(d.receipt or {}),
            )
            for d in page
        )
        offset += _PAGE
        if len(page) < _PAGE:
            break
    return Evidence(
        warning=warning,
        recipients=recipients,
        chain=await calling.chain_of(session, warning_id=warning.id),
        acks=await calling.acks_of(session, warning_id=warning.id),
        checks=await calling.spot_checks_of(session, warning_id=warning.id),
        deliveries=rows,
        delivery_total=total,
        delivery_counts=await delivery.counts(session, subject_id=warning.id),
    )


def _warning_rows(w: Warning) -> list[tuple[str, str]]:
    level = ""
    if w.level in {lv.value for lv in WarningLevel}:
        level = catalogue.LEVELS[WarningLevel(w.level)].name_zh
    return [
        ("编号", w.number),
        ("标识", w.identifier or ""),
        ("标题", w.headline),
        ("类型", w.type_code or w.event_text or ""),
        ("级别", level),
        ("发布单位", w.issuer),
        ("发布时间", when(w.sent_at or w.published_at)),
        ("生效", when(w.onset_at)),
        ("失效", when(w.expires_at)),
        ("状态", w.state),
        ("区域", w.area_desc),
    ]


def _chain_row(event: CallEvent, name: str) -> list[object]:
    return [
        when(event.at),
        name,
        KIND_ZH.get(event.kind, event.kind),
        event.step,
        event.channel or "",
        ", ".join(f"{k}={v}" for k, v in sorted((event.detail or {}).items())),
    ]


CHAIN_HEADER = ("时间", "人员", "环节", "步骤", "渠道", "详情")
PEOPLE_HEADER = ("人员", "职务", "原因", "乡镇", "状态", "步骤", "应答时间", "升级自")
DELIVERY_HEADER = (
    "人员",
    "步骤",
    "渠道",
    "地址",
    "状态",
    "尝试",
    "错误",
    "入队",
    "发出",
    "送达",
    "回执",
)
ACK_HEADER = ("时间", "人员", "方式")
CHECK_HEADER = ("时间", "村", "受访人", "是否通过", *calling.QUESTIONS)


def _people_rows(ev: Evidence) -> Iterable[list[object]]:
    names = {r.id: r.name for r in ev.recipients}
    for r in ev.recipients:
        yield [
            r.name,
            r.position or "",
            r.reason,
            r.town_adcode or "",
            STATE_ZH.get(r.call_state, r.call_state),
            r.call_step,
            when(r.acked_at),
            names.get(r.escalated_from_id, "") if r.escalated_from_id else "",
        ]


def _delivery_rows(rows: Sequence[DeliveryRow]) -> Iterable[list[object]]:
    for d in rows:
        yield [
            d.name,
            d.step,
            d.channel,
            d.address,
            d.state,
            d.tries,
            d.error or "",
            when(d.created_at),
            when(d.sent_at),
            when(d.delivered_at),
            ", ".join(f"{k}={v}" for k, v in sorted(d.receipt.items())),
        ]


def _check_rows(checks: Sequence[SpotCheck]) -> Iterable[list[object]]:
    for c in checks:
        answers = {a.get("question"): a for a in c.answers}
        yield [
            when(c.at),
            c.village_adcode,
            c.person_name,
            "是" if c.passed else "否",
            *(
                ("✓" if answers.get(q, {}).get("ok") else "✗")
                + (f" {answers[q].get('note')}" if answers.get(q, {}).get("note") else "")
                for q in calling.QUESTIONS
            ),
        ]


def to_xlsx(ev: Evidence) -> bytes:
    """The workbook: 预警, 叫应人员, 叫应过程, 投递, 应答, 六问."""
    return tabular.write_xlsx(
        [
            tabular.Sheet("预警", ("项目", "内容"), [list(r) for r in _warning_rows(ev.warning)]),
            tabular.Sheet("叫应人员", PEOPLE_HEADER, _people_rows(ev)),
            tabular.Sheet("叫应过程", CHAIN_HEADER, (_chain_row(e, n) for e, n in ev.chain)),
            tabular.Sheet("投递", DELIVERY_HEADER, _delivery_rows(ev.deliveries)),
            tabular.Sheet(
                "应答",
                ACK_HEADER,
                ([when(a.at), name, VIA_ZH.get(a.via, a.via)] for a, name in ev.acks),
            ),
            tabular.Sheet("六问", CHECK_HEADER, _check_rows(ev.checks)),
        ]
    )


def _text(value: object) -> str:
    """A cell's text without the characters a .docx (XML) cannot carry."""
    return tabular.xml_text(value)


def _table(doc: Any, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
    for row in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = _text(value)


def to_docx(ev: Evidence) -> bytes:
    """The document: the warning, the called people, the chain, acknowledgements, spot checks,
    the deliveries to the called people and the totals of all deliveries."""
    doc = Document()
    doc.add_heading(f"预警叫应证据 {ev.warning.number}", level=0)
    _table(doc, ("项目", "内容"), _warning_rows(ev.warning))
    doc.add_heading("叫应人员", level=1)
    _table(doc, PEOPLE_HEADER, _people_rows(ev))
    doc.add_heading("叫应过程", level=1)
    _table(doc, CHAIN_HEADER, (_chain_row(e, n) for e, n in ev.chain))
    doc.add_heading("应答", level=1)
    _table(doc, ACK_HEADER, ([when(a.at), n, VIA_ZH.get(a.via, a.via)] for a, n in ev.acks))
    doc.add_heading("六问抽查", level=1)
    _table(doc, CHECK_HEADER, _check_rows(ev.checks))
    doc.add_heading("投递（叫应人员）", level=1)
    called = {str(r.id) for r in ev.recipients}
    _table(
        doc,
        DELIVERY_HEADER,
        _delivery_rows([d for d in ev.deliveries if d.recipient_ref in called]),
    )
    doc.add_heading("投递合计", level=1)
    by_channel = Counter((d.channel, d.state) for d in ev.deliveries)
    _table(
        doc,
        ("渠道", "状态", "数量"),
        [[c, s, n] for (c, s), n in sorted(by_channel.items())]
        + [["合计", s, n] for s, n in sorted(ev.delivery_counts.items())],
    )
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def filename(warning: Warning, ext: str) -> str:
    return f"{warning.number}-叫应证据.{ext}"
