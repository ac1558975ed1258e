"""通报 — the monthly bulletin: units ranked by the five KPIs (五个100%), naming overdue orders.

A month is a calendar month in Beijing time (Asia/Shanghai). A month that has not ended yet is
measured up to now (the clock): only deadlines already passed are overdue, by the time up to
now, and the bulletin says 截至 when. :func:`build_bulletin` gathers the
figures (``dispatch.kpi``, one set of aggregate queries) into a :class:`Bulletin`;
:func:`render_docx` and :func:`render_html` lay the same rows out as a Word document and a
self-contained HTML page.

Sections of other domains (信息报送情况 from duty, which dispatch may not import) come through
``core.bulletin_sections`` (decision 0033): they follow 超时环节 and come before 说明.

Ranking: the overall score of a unit is the mean of its five rates, leaving out the rates
without data (denominator 0); higher ranks first. Units with the same score share a rank
(1, 1, 3 …) and are listed by name; units without any rated figure come last. What counts in
each rate is the module docstring of :mod:`yingji.dispatch.kpi`.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from docx import Document
from docx.document import Document as WordDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import Table
from docx.text.paragraph import Paragraph
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import bulletin_sections, clock
from yingji.core.bulletin_sections import BulletinSection
from yingji.core.clock import LOCAL_TZ, as_utc
from yingji.core.errors import ValidationFailed
from yingji.core.security import Scope
from yingji.core.tabular import xml_text
from yingji.dispatch import kpi
from yingji.dispatch.kpi import KpiFigures, OverdueOrder, Ratio, TierKpi, UnitKpi

TITLE = "《应急联动工作月度通报》"
RANKING_HEADER = ("排名", "单位", "层级", "受理率", "出勤率", "准点率", "反馈率", "回访率")
TIER_HEADER = ("层级", "单位数", "派单数", "受理率", "出勤率", "准点率", "反馈率", "回访率")
OVERDUE_HEADER = ("单位", "事件", "环节", "时限", "完成", "超时")
STAGE_NAMES = {"sign": "签收", "arrive": "到场", "complete": "办结"}
TIER_NAMES = {1: "一级", 2: "二级", 3: "三级"}
EAST_ASIAN_FONT = "宋体"
LATIN_FONT = "Times New Roman"
NOT_DONE = "未完成"
NO_DATA = "—"
RULES = (
    "统计口径：派单按下达时间计入当月，各环节以统计时的记录为准；受理率＝已签收÷应受理，"
    "出勤率＝已到场÷需到场，准点率＝按时完成的签收、到场、办结环节÷已完成的环节，"
    "反馈率＝有反馈÷应反馈，回访率＝已回访÷报警人可联系的已办结事件。"
    "退回、移交、撤销的派单只在结束前已完成相应环节时计入该项比率；"
    "回访按事件办结时间计入当月，经回访确认无法联系报警人的事件不计入。"
    "“—”表示该项无可统计的派单。超时：已超过时限才完成的环节，"
    "以及至统计截止时仍未完成且已过时限的环节（超时时长计至统计截止时；"
    "当月已结束的截至月末，未结束的截至生成时，尚未到期的时限不计）。"
    "事件先于派单办结或撤销的，派单随事件结束：结束前已超过的时限仍计为超时"
    "（超时时长计至事件结束时），并计入相应比率；结束时尚未到期的时限不计。"
)

_MONTH = re.compile(r"(\d{4})-(\d{2})")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` → the month's ``[since, until)`` in UTC, the month being Beijing time's."""
    match = _MONTH.fullmatch(month.strip()) if isinstance(month, str) else None
    try:
        if match is None:
            raise ValueError(month)
        year, number = int(match.group(1)), int(match.group(2))
        start = datetime(year, number, 1, tzinfo=LOCAL_TZ)
        end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=LOCAL_TZ)
    except ValueError as exc:
        raise ValidationFailed(
            "invalid_month", "month must be YYYY-MM, e.g. 2026-07", {"month": month}
        ) from exc
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True)
class RankedUnit:
    rank: int
    unit: UnitKpi

    @property
    def score(self) -> float | None:
        return self.unit.score


@dataclass(frozen=True)
class Bulletin:
    """The figures of one month's bulletin, in the order the bulletin shows them."""

    month: str  # YYYY-MM
    since: datetime  # UTC, the month's first instant in Beijing time
    until: datetime  # UTC, exclusive
    generated_at: datetime
    as_of: datetime | None  # the month is still running: measured up to this moment (now)
    ranking: list[RankedUnit]
    tiers: list[TierKpi]
    total: KpiFigures
    overdue: list[OverdueOrder]
    #: other domains' sections (``core.bulletin_sections``), in the order of the domains
    extra: list[BulletinSection] = field(default_factory=list)

    @property
    def label(self) -> str:
        year, number = self.month.split("-")
        return f"{int(year)}年{int(number)}月"


def rank_units(units: Iterable[UnitKpi]) -> list[RankedUnit]:
    """Best score first; the same score shares a rank and is ordered by name; no score last."""

    def key(unit: UnitKpi) -> tuple[bool, Fraction, str, str]:
        score = unit.score_fraction()
        return (score is None, -(score or Fraction(0)), unit.name, unit.code)

    ranked: list[RankedUnit] = []
    previous: tuple[bool, Fraction] | None = None
    for position, unit in enumerate(sorted(units, key=key), start=1):
        score = key(unit)[:2]
        rank = ranked[-1].rank if score == previous else position
        ranked.append(RankedUnit(rank, unit))
        previous = score
    return ranked


async def build_bulletin(*, session: AsyncSession, month: str, scope: Scope) -> Bulletin:
    """The bulletin of ``month`` (``YYYY-MM``, Beijing time) over the orders ``scope`` covers;
    a month still running is measured up to now."""
    since, until = month_bounds(month)
    now = clock.now()
    end = max(since, min(until, now))  # what has happened of the month so far
    units = await kpi.unit_kpis(session=session, since=since, until=until, scope=scope)
    return Bulletin(
        month=f"{since.astimezone(LOCAL_TZ):%Y-%m}",
        since=since,
        until=until,
        generated_at=now,
        as_of=end if end < until else None,
        ranking=rank_units(units),
        tiers=await kpi.tier_kpis(session=session, since=since, until=until, scope=scope),
        total=await kpi.total_kpis(session=session, since=since, until=until, scope=scope),
        overdue=await kpi.overdue_orders(
            session=session, since=since, until=until, scope=scope, at=end
        ),
        extra=await bulletin_sections.sections(session, since=since, until=until, scope=scope),
    )


# --- the text of the bulletin, shared by both renderings ------------------------------------------


def percent(ratio: Ratio) -> str:
    return NO_DATA if ratio.rate is None else f"{ratio.rate * 100:.1f}%"


def ratio_text(ratio: Ratio) -> str:
    if ratio.rate is None:
        return NO_DATA
    return f"{percent(ratio)}（{ratio.numerator}/{ratio.denominator}）"


def tier_name(tier: int) -> str:
    return TIER_NAMES.get(tier, f"{tier}级")


def local_time(moment: datetime) -> str:
    return f"{as_utc(moment).astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}"


def duration(minutes: int) -> str:
    """125 → 2小时5分钟; 1500 → 1天1小时."""
    days, rest = divmod(max(minutes, 0), 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "天"), (hours, "小时"), (mins, "分钟")) if n]
    return "".join(parts) or "不足1分钟"


def _rates(figures: KpiFigures) -> list[str]:
    return [ratio_text(r) for r in figures.ratios()]


def ranking_rows(bulletin: Bulletin) -> list[list[str]]:
    return [
        [str(r.rank), r.unit.name, tier_name(r.unit.tier), *_rates(r.unit)]
        for r in bulletin.ranking
    ]


def tier_rows(bulletin: Bulletin) -> list[list[str]]:
    rows = [[tier_name(t.tier), str(t.units), str(t.orders), *_rates(t)] for t in bulletin.tiers]
    total = bulletin.total
    rows.append(["合计", str(len(bulletin.ranking)), str(total.orders), *_rates(total)])
    return rows


def _done_text(late: OverdueOrder) -> str:
    if late.done_at is not None:
        return local_time(late.done_at)
    if late.ended_at is not None:
        return f"{NOT_DONE}（{local_time(late.ended_at)}随事件结束）"
    return NOT_DONE


def overdue_rows(bulletin: Bulletin) -> list[list[str]]:
    return [
        [
            o.unit_name,
            f"{o.incident_number} {o.incident_title}",
            STAGE_NAMES.get(o.stage, o.stage),
            local_time(o.due_at),
            _done_text(o),
            duration(o.minutes_late),
        ]
        for o in bulletin.overdue
    ]


def as_of_line(bulletin: Bulletin) -> str | None:
    """截至 … for a month still running (its figures are those up to that moment)."""
    if bulletin.as_of is None:
        return None
    return f"截至{local_time(bulletin.as_of)}（北京时间），本月尚未结束，数据统计至此时。"


def intro(bulletin: Bulletin) -> str:
    total = bulletin.total
    first = bulletin.since.astimezone(LOCAL_TZ)
    last = (bulletin.until - timedelta(days=1)).astimezone(LOCAL_TZ)
    if bulletin.as_of is not None:
        last = bulletin.as_of.astimezone(LOCAL_TZ)
    until_word = "至月末" if bulletin.as_of is None else "截至统计时"
    still_open = sum(1 for o in bulletin.overdue if o.done_at is None)
    late_units = len({o.unit_id for o in bulletin.overdue})
    ended = f"、随事件结束{total.closed_with_incident}件" if total.closed_with_incident else ""
    return (
        f"{first.year}年{first.month}月{first.day}日至{last.month}月{last.day}日（北京时间），"
        f"联动单位共接收派单{total.orders}件（其中退回{total.returned}件、"
        f"移交{total.transferred}件、撤销{total.cancelled}件{ended}），"
        f"涉及联动单位{len(bulletin.ranking)}个。"
        f"总体受理率{percent(total.acceptance)}，出勤率{percent(total.turnout)}，"
        f"准点率{percent(total.punctuality)}，反馈率{percent(total.feedback)}，"
        f"回访率{percent(total.callback)}。"
        f"超时环节{len(bulletin.overdue)}项（超时后完成{len(bulletin.overdue) - still_open}项，"
        f"{until_word}仍未完成{still_open}项），涉及单位{late_units}个。"
        "现将各单位“五个100%”完成情况通报如下。排名按受理率、出勤率、准点率、反馈率、"
        "回访率五项的平均值由高到低排列（无数据的项目不计入平均），"
        "得分相同的单位并列，按单位名称排序。"
    )


def ended_note(bulletin: Bulletin) -> str | None:
    """Units whose orders ended by return, transfer or cancellation, so habits stay visible (and
    those that ended with their incident)."""
    parts = []
    for ranked in bulletin.ranking:
        unit = ranked.unit
        counts = (
            ("退回", unit.returned),
            ("移交", unit.transferred),
            ("撤销", unit.cancelled),
            ("随事件结束", unit.closed_with_incident),
        )
        named = "、".join(f"{word}{n}件" for word, n in counts if n)
        if named:
            parts.append(f"{unit.name}{named}")
    return "派单退回、移交、撤销情况：" + "；".join(parts) + "。" if parts else None


SECTIONS = ("一、联动单位排名", "二、分层级情况", "三、超时环节", "四、说明")
NUMERALS = "一二三四五六七八九十"


def headings(bulletin: Bulletin) -> list[str]:
    """The numbered headings: the bulletin's own three, the other domains' sections, 说明."""
    titles = [h.split("、", 1)[1] for h in SECTIONS]
    titles[3:3] = [section.title for section in bulletin.extra]
    return [f"{NUMERALS[i] if i < len(NUMERALS) else i + 1}、{t}" for i, t in enumerate(titles)]


# --- Word ---------------------------------------------------------------------------------------


def _set_fonts(rpr_parent: Any, size: float | None = None) -> None:
    """Explicit Latin and East Asian fonts (宋体) on a style or run, replacing theme fonts."""
    rpr = rpr_parent.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)
    fonts.set(qn("w:ascii"), LATIN_FONT)
    fonts.set(qn("w:hAnsi"), LATIN_FONT)
    fonts.set(qn("w:eastAsia"), EAST_ASIAN_FONT)
    if size is not None:
        for tag in ("w:sz", "w:szCs"):
            element = rpr.find(qn(tag))
            if element is None:
                element = OxmlElement(tag)
                rpr.append(element)
            element.set(qn("w:val"), str(int(size * 2)))


def _new_document() -> WordDocument:
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(2))
    normal = document.styles["Normal"]
    _set_fonts(normal.element, size=11)
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), "zh-CN")
    lang.set(qn("w:eastAsia"), "zh-CN")
    normal.element.get_or_add_rPr().append(lang)
    document.core_properties.language = "zh-CN"
    return document


def _paragraph(
    document: WordDocument, text: str, *, size: float = 11, bold: bool = False, center: bool = False
) -> Paragraph:
    paragraph = document.add_paragraph()
    run = paragraph.add_run(xml_text(text))
    run.bold = bold
    run.font.size = Pt(size)
    _set_fonts(run._element, size=size)
    if center:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    return paragraph


def _table(document: WordDocument, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table: Table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = ""
        run = cell.paragraphs[0].add_run(text)
        run.bold = True
        _set_fonts(run._element, size=10)
    for values in rows:
        cells = table.add_row().cells  # type: ignore[no-untyped-call]
        for cell, text in zip(cells, values, strict=True):
            run = cell.paragraphs[0].add_run(xml_text(text))
            _set_fonts(run._element, size=10)
    return table


def render_docx(bulletin: Bulletin) -> bytes:
    """The bulletin as a Word document (A4, 宋体)."""
    document = _new_document()
    _paragraph(document, TITLE, size=20, bold=True, center=True)
    _paragraph(document, f"（{bulletin.label}）", size=14, center=True)
    as_of = as_of_line(bulletin)
    if as_of:
        _paragraph(document, as_of, center=True)
    _paragraph(document, intro(bulletin))
    numbered = headings(bulletin)
    _paragraph(document, numbered[0], size=12, bold=True)
    _table(document, RANKING_HEADER, ranking_rows(bulletin))
    note = ended_note(bulletin)
    if note:
        _paragraph(document, note)
    _paragraph(document, numbered[1], size=12, bold=True)
    _table(document, TIER_HEADER, tier_rows(bulletin))
    _paragraph(document, numbered[2], size=12, bold=True)
    if bulletin.overdue:
        _table(document, OVERDUE_HEADER, overdue_rows(bulletin))
    else:
        _paragraph(document, "本月无超时环节。")
    for heading, section in zip(numbered[3:], bulletin.extra, strict=False):
        _paragraph(document, heading, size=12, bold=True)
        _paragraph(document, section.summary)
        if section.rows:
            _table(document, section.header, section.rows)
    _paragraph(document, numbered[-1], size=12, bold=True)
    _paragraph(document, RULES)
    _paragraph(document, f"生成时间：{local_time(bulletin.generated_at)}（北京时间）")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --- HTML ---------------------------------------------------------------------------------------

_CSS = (
    "body{font-family:'SimSun','宋体','Songti SC','Noto Serif CJK SC',serif;max-width:60em;"
    "margin:2em auto;padding:0 1em;line-height:1.7;color:#111}"
    "h1{text-align:center;font-size:1.6em;margin-bottom:0}"
    "p.month{text-align:center;font-size:1.2em;margin-top:.2em}"
    "h2{font-size:1.15em;margin-top:1.6em}"
    "table{border-collapse:collapse;width:100%;font-size:.95em}"
    "th,td{border:1px solid #444;padding:.25em .5em;text-align:left}"
    "th{background:#eee}p.rules,p.generated{font-size:.9em;color:#333}"
)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(bulletin: Bulletin) -> str:
    """The bulletin as one self-contained zh-CN HTML page (no external resources)."""
    e = html.escape
    numbered = headings(bulletin)
    note = ended_note(bulletin)
    as_of = as_of_line(bulletin)
    overdue = (
        _html_table(OVERDUE_HEADER, overdue_rows(bulletin))
        if bulletin.overdue
        else "<p>本月无超时环节。</p>"
    )
    parts = [
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">',
        f"<title>{e(TITLE)}（{e(bulletin.label)}）</title>",
        f"<style>{_CSS}</style>\n</head>\n<body>",
        f"<h1>{e(TITLE)}</h1>",
        f'<p class="month">（{e(bulletin.label)}）</p>',
        f'<p class="month">{e(as_of)}</p>' if as_of else "",
        f"<p>{e(intro(bulletin))}</p>",
        f"<h2>{e(numbered[0])}</h2>",
        _html_table(RANKING_HEADER, ranking_rows(bulletin)),
        f"<p>{e(note)}</p>" if note else "",
        f"<h2>{e(numbered[1])}</h2>",
        _html_table(TIER_HEADER, tier_rows(bulletin)),
        f"<h2>{e(numbered[2])}</h2>",
        overdue,
        *(
            f"<h2>{e(heading)}</h2>\n<p>{e(section.summary)}</p>"
            + (_html_table(section.header, section.rows) if section.rows else "")
            for heading, section in zip(numbered[3:], bulletin.extra, strict=False)
        ),
        f"<h2>{e(numbered[-1])}</h2>",
        f'<p class="rules">{e(RULES)}</p>',
        f'<p class="generated">生成时间：{e(local_time(bulletin.generated_at))}（北京时间）</p>',
        "</body>\n</html>\n",
    ]
    return "\n".join(part for part in parts if part)


__all__ = [
    "Bulletin",
    "RankedUnit",
    "build_bulletin",
    "month_bounds",
    "rank_units",
    "render_docx",
    "render_html",
]
