"""The monthly bulletin (通报): ranking, tier summary and overdue stages, as Word and HTML.

The figures are those of ``test_kpi.build_scenario`` (July 2026, Beijing time); scores are the
mean of the rates with data:

    乙镇<人民>&政府 1        县交通局 1        县民政局 (1+1+1+1+1/3)/5 = 0.867
    县水务局 (1+0.75+0.5)/3 = 0.75           消防救援大队 (0.8+0.5+0.75+0.5+1)/5 = 0.71
    甲镇人民政府 (1+1+0.8+0)/4 = 0.7
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import docx
import pytest
from docx.oxml.ns import qn

from tests.dispatch.test_kpi import SINCE, TOWN_A, UNTIL, build_scenario
from tests.factories import make_user
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.errors import ValidationFailed
from yingji.core.security import Scope
from yingji.dispatch import bulletin as bulletins
from yingji.dispatch.bulletin import Bulletin
from yingji.org import service as org

EVERYTHING = Scope(everything=True)
RANKING = [
    ["1", "乙镇<人民>&政府", "二级", "100.0%（1/1）", "100.0%（1/1）", "100.0%（3/3）",
     "100.0%（1/1）", "100.0%（1/1）"],
    ["1", "县交通局", "三级", "100.0%（2/2）", "100.0%（2/2）", "100.0%（6/6）", "100.0%（2/2）",
     "100.0%（1/1）"],
    ["3", "县民政局", "三级", "100.0%（3/3）", "100.0%（3/3）", "100.0%（9/9）", "100.0%（3/3）",
     "33.3%（1/3）"],
    ["4", "县水务局", "二级", "100.0%（2/2）", "—", "75.0%（3/4）", "50.0%（1/2）", "—"],
    ["5", "消防救援大队", "一级", "80.0%（4/5）", "50.0%（2/4）", "75.0%（6/8）", "50.0%（2/4）",
     "100.0%（1/1）"],
    ["6", "甲镇人民政府", "二级", "100.0%（2/2）", "100.0%（2/2）", "80.0%（4/5）", "0.0%（0/2）",
     "—"],
]  # fmt: skip


@pytest.fixture(autouse=True)
def july_has_ended(clock: ManualClock) -> None:
    """The scenario's month is over when its bulletin is made (a running month is measured up to
    now: ``test_bulletin_running_month``)."""
    clock.set(datetime(2026, 8, 3, 1, 0, tzinfo=UTC))


async def july(db: Database, scope: Scope = EVERYTHING) -> Bulletin:
    async with db.unit_of_work(readonly=True) as session:
        return await bulletins.build_bulletin(session=session, month="2026-07", scope=scope)


def table_with(document: docx.document.Document, first_header: str) -> list[list[str]]:
    for table in document.tables:
        rows = [[cell.text for cell in row.cells] for row in table.rows]
        if rows and rows[0][0] == first_header:
            return rows
    raise AssertionError(f"no table starting with {first_header}")


def test_a_month_is_a_calendar_month_in_beijing_time() -> None:
    assert bulletins.month_bounds("2026-07") == (SINCE, UNTIL)
    assert bulletins.month_bounds("2026-12") == (
        datetime(2026, 11, 30, 16, tzinfo=UTC),
        datetime(2026, 12, 31, 16, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "month", ["2026-13", "2026-00", "2026-7", "26-07", "2026/07", "", "0000-01"]
)
def test_a_malformed_month_is_refused(month: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        bulletins.month_bounds(month)
    assert refused.value.code == "invalid_month"


async def test_bulletin_ranks_units_by_mean_rate_with_ties_by_name(
    db: Database, clock: ManualClock
) -> None:
    await build_scenario(db)
    bulletin = await july(db)
    assert bulletin.month == "2026-07" and bulletin.label == "2026年7月"
    assert [(r.rank, r.unit.code) for r in bulletin.ranking] == [
        (1, "TB"), (1, "D"), (3, "C"), (4, "W"), (5, "F"), (6, "TA"),
    ]  # fmt: skip
    assert bulletin.ranking[3].score == pytest.approx(0.75)
    assert [t.tier for t in bulletin.tiers] == [1, 2, 3]
    assert bulletin.total.orders == 17
    assert len(bulletin.overdue) == 10


async def test_docx_has_the_title_ranking_tiers_and_overdue_tables(
    db: Database, clock: ManualClock
) -> None:
    scenario = await build_scenario(db)
    data = bulletins.render_docx(await july(db))
    document = docx.Document(io.BytesIO(data))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "《应急联动工作月度通报》"
    assert texts[1] == "（2026年7月）"
    assert texts[2].startswith("2026年7月1日至7月31日（北京时间），联动单位共接收派单17件")
    assert "超时环节10项" in texts[2]
    assert any(
        t.startswith("派单退回、移交、撤销情况：消防救援大队退回1件、移交1件、撤销1件")
        for t in texts
    )

    ranking = table_with(document, "排名")
    assert ranking[0] == ["排名", "单位", "层级", "受理率", "出勤率", "准点率", "反馈率", "回访率"]
    assert ranking[1:] == RANKING

    tiers = table_with(document, "层级")
    assert [row[:3] for row in tiers] == [
        ["层级", "单位数", "派单数"], ["一级", "1", "7"], ["二级", "3", "5"], ["三级", "2", "5"],
        ["合计", "6", "17"],
    ]  # fmt: skip
    assert tiers[4][3:] == ["93.3%（14/15）", "83.3%（10/12）", "88.6%（31/35）",
                            "64.3%（9/14）", "50.0%（2/4）"]  # fmt: skip

    overdue = table_with(document, "单位")
    assert overdue[0] == ["单位", "事件", "环节", "时限", "完成", "超时"]
    assert len(overdue) == 11
    i2 = scenario.incidents["I2"].number
    # f2 signed 10:40 Beijing time, due 10:30; f4 never signed: late until 08-01 00:00
    assert ["消防救援大队", f"{i2} 甲镇道路塌陷", "签收", "2026-07-10 10:30", "2026-07-10 10:40",
            "10分钟"] in overdue  # fmt: skip
    i3 = scenario.incidents["I3"].number
    assert ["消防救援大队", f"{i3} 甲镇山体滑坡", "签收", "2026-07-10 10:30", "未完成",
            "21天13小时30分钟"] in overdue  # fmt: skip
    assert overdue[1][0] == "县水务局" and overdue[1][5] == "1小时"

    normal_fonts = document.styles["Normal"].element.rPr.find(qn("w:rFonts"))
    assert normal_fonts.get(qn("w:eastAsia")) == "宋体"


async def test_html_is_self_contained_zh_cn_and_escapes_names(
    db: Database, clock: ManualClock
) -> None:
    await build_scenario(db)
    page = bulletins.render_html(await july(db))
    assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page
    assert "《应急联动工作月度通报》" in page and "（2026年7月）" in page
    assert "<td>乙镇&lt;人民&gt;&amp;政府</td>" in page
    assert "乙镇<人民>" not in page
    assert "<th>排名</th><th>单位</th><th>层级</th>" in page
    assert "<th>超时</th>" in page and "21天13小时30分钟" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page


async def test_a_town_bulletin_names_only_what_the_town_covers(
    db: Database, clock: ManualClock
) -> None:
    await build_scenario(db)
    user = await make_user(db, "town_a", roles=["unit_liaison"], division=TOWN_A, unit="TA")
    async with db.unit_of_work(readonly=True) as session:
        principal = await org.principal_for_user(session=session, user=user)
    bulletin = await july(db, principal.scope)
    assert {r.unit.code for r in bulletin.ranking} == {"F", "C", "D", "TA"}
    page = bulletins.render_html(bulletin)
    assert "乙镇" not in page and "县水务局" not in page


async def test_a_month_without_orders_gives_an_empty_bulletin(
    db: Database, clock: ManualClock
) -> None:
    await build_scenario(db)
    async with db.unit_of_work(readonly=True) as session:
        bulletin = await bulletins.build_bulletin(
            session=session, month="2026-09", scope=EVERYTHING
        )
    assert bulletin.ranking == [] and bulletin.overdue == [] and bulletin.total.orders == 0
    document = docx.Document(io.BytesIO(bulletins.render_docx(bulletin)))
    assert "本月无超时环节。" in [p.text for p in document.paragraphs]
    assert table_with(document, "排名") == [list(bulletins.RANKING_HEADER)]
    assert "总体受理率—" in bulletins.render_html(bulletin)
