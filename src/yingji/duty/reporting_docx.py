"""A statutory report as a .docx in the official layout (python-docx): the red header (红头)
with the desk's name, the report's kind and number, a red rule, 报送单位 and 签发人, the title,
the structured fields (GB/T 35965.2's spirit) and the body, then who wrote and approved it.

Text typed by people is written as text runs (never markup). The document's core properties
are fixed from the report, so the same report renders the same bytes (its SHA-256 is kept when
it is sent).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import datetime

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor
from docx.text.paragraph import Paragraph

from yingji.core import clock
from yingji.core.tabular import xml_text
from yingji.duty.models import StatutoryReport

RED = RGBColor(0xC0, 0x00, 0x00)
KIND_TITLE = {
    "phone": "突发事件电话报告记录",
    "first": "突发事件信息首报",
    "followup": "突发事件信息续报",
    "final": "突发事件信息终报",
}
LEVEL_ZH = {"I": "特别重大（Ⅰ级）", "II": "重大（Ⅱ级）", "III": "较大（Ⅲ级）", "IV": "一般（Ⅳ级）"}
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Letterhead:
    """Names the document prints: the desk, the level above, the incident's number."""

    desk_name: str
    to_name: str
    incident_number: str


def when(at: datetime | None) -> str:
    if at is None:
        return ""
    return clock.as_utc(at).astimezone(clock.LOCAL_TZ).strftime("%Y年%m月%d日 %H:%M")


def _red_rule(paragraph: Paragraph) -> None:
    """A red line under the header paragraph (a bottom border)."""
    p_pr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (
        ("w:val", "single"),
        ("w:sz", "18"),
        ("w:space", "1"),
        ("w:color", "C00000"),
    ):
        bottom.set(qn(key), value)
    borders.append(bottom)
    p_pr.append(borders)


def _run(
    paragraph: Paragraph, text: str, *, size: int, bold: bool = False, red: bool = False
) -> None:
    run = paragraph.add_run(xml_text(text))
    run.font.size = Pt(size)
    run.bold = bold
    if red:
        run.font.color.rgb = RED


def kind_title(report: StatutoryReport) -> str:
    title = KIND_TITLE.get(report.kind, report.kind)
    if report.kind == "followup":
        title = f"{title}（第{report.seq}次）"
    if report.corrects_id is not None:
        title = f"{title}（更正）"
    return title


def fields(report: StatutoryReport, head: Letterhead) -> list[tuple[str, str]]:
    """The structured fields as they are printed, in order."""
    casualties = (
        f"死亡 {report.dead} 人，受伤 {report.injured} 人，失踪 {report.missing} 人，"
        f"被困 {report.trapped} 人"
    )
    loss = "" if report.loss_wan_yuan is None else f"{report.loss_wan_yuan:g} 万元"
    rows = [
        ("事件编号", head.incident_number),
        ("发生时间", when(report.occurred_at)),
        ("发生地点", report.place or ""),
        ("事件类别", report.category_code or ""),
        ("事件级别", LEVEL_ZH.get(report.level or "", report.level or "")),
        ("人员伤亡", casualties),
        ("直接经济损失", loss),
        ("事件原因", report.cause or ""),
        ("已采取措施", report.measures or ""),
        ("下一步工作", report.next_steps or ""),
    ]
    if report.correction_reason:
        rows.append(("更正原因", report.correction_reason))
    return rows


def render(report: StatutoryReport, head: Letterhead) -> bytes:
    document = Document()
    header = document.add_paragraph()
    header.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(header, f"{head.desk_name}应急管理局", size=26, bold=True, red=True)
    kind = document.add_paragraph()
    kind.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(kind, kind_title(report), size=18, bold=True, red=True)
    number = document.add_paragraph()
    number.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(number, f"编号：{report.number}", size=12)
    _red_rule(number)
    sender = document.add_paragraph()
    _run(sender, f"报送单位：{head.desk_name}值班室    报送至：{head.to_name}", size=12)
    signer = document.add_paragraph()
    signer.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _run(signer, f"签发人：{report.approver_name or ''}", size=12)
    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(title, report.title, size=16, bold=True)
    table = document.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, value in fields(report, head):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, xml_text(value)
    if report.body:
        for line in report.body.splitlines():
            document.add_paragraph(xml_text(line))
    footer = document.add_paragraph()
    _run(
        footer,
        f"报告人：{report.reporter_name}    审核签发：{report.approver_name or ''}    "
        f"报送时间：{when(report.sent_at)}",
        size=11,
    )
    props = document.core_properties
    props.title = f"{kind_title(report)} {report.number}"
    props.author = props.last_modified_by = head.desk_name
    moment = clock.as_utc(report.created_at)
    props.created = props.modified = moment.replace(tzinfo=None)
    props.revision = 1
    out = io.BytesIO()
    document.save(out)
    return _fixed_zip(out.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """The same package with every entry dated 1980-01-01 (python-docx dates them now), so a
    report renders the same bytes whenever it is rendered."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()


def filename(report: StatutoryReport) -> str:
    return f"{kind_title(report)}-{report.number}.docx"
