"""The monthly bulletin carries 信息报送情况: the month's statutory reports owed, on time, late
(迟报) and missing (漏报) by town, the same counts as the KPI page's, contributed by the duty
domain through ``core.bulletin_sections`` (dispatch never imports duty; decision 0033)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docx
import httpx
import pytest
from typer.testing import CliRunner

from tests.duty.test_reporting import DEAD_3, desks, draft, sign_and_send
from tests.factories import bearer, deliver_events, make_division, make_user
from tests.incidents.test_incident_lifecycle import open_incident, post
from yingji.cli import app as cli
from yingji.core import bulletin_sections
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.timers import TimerWorker, handlers

__all__ = ["desks"]  # the fixture: the county desk below the province's

HEADER = ["乡镇（街道）", "应报", "按时", "迟报", "漏报"]


async def verified(
    client: httpx.AsyncClient, db: Database, county: dict[str, str], key: str, **where: object
) -> str:
    incident = await open_incident(client, county, key, casualties=DEAD_3, **where)
    answer = await post(client, county, f"{incident}/verify")
    assert answer.json()["level"] == "III", answer.text
    await deliver_events(db)  # duty's subscriber starts the dues
    return incident


@pytest.fixture(autouse=True)
def in_july(clock: ManualClock) -> None:
    """Before the desks sign in (their tokens last a day)."""
    clock.set(datetime(2026, 7, 10, 2, 0, tzinfo=UTC))


@pytest.fixture
async def july(
    client: httpx.AsyncClient, db: Database, desks: dict[str, dict[str, str]], clock: ManualClock
) -> None:
    """July 2026: 甲镇's incident had its 首报 on time and its phone report late; 乙镇's had
    neither (both 漏报). Each still owes its first 续报."""
    county = desks["county"]
    town_a = await verified(client, db, county, "bul-a")
    town_b = await verified(
        client, db, county, "bul-b", text="乙镇一民房倒塌，有人被困", lon=119.15, lat=27.55
    )
    assert town_a != town_b
    await sign_and_send(client, desks, await draft(client, county, town_a, "first"))
    worker = TimerWorker(db, handler_map=handlers())
    clock.advance(timedelta(minutes=31))  # the phone reports were due in 30 minutes
    await worker.run_due()
    await deliver_events(db)
    await sign_and_send(client, desks, await draft(client, county, town_a, "phone"))  # 迟报
    clock.advance(timedelta(minutes=30))  # 乙镇's 首报 was due in an hour
    await worker.run_due()
    await deliver_events(db)


async def bulletin(
    client: httpx.AsyncClient, headers: dict[str, str], month: str = "2026-07"
) -> docx.document.Document:
    answer = await client.get(f"/api/v1/reports/bulletin?month={month}", headers=headers)
    assert answer.status_code == 200, answer.text
    return docx.Document(io.BytesIO(answer.content))


def reporting_table(document: docx.document.Document) -> list[list[str]] | None:
    for table in document.tables:
        rows = [[cell.text for cell in row.cells] for row in table.rows]
        if rows and rows[0] == HEADER:
            return rows[1:]
    return None


def texts(document: docx.document.Document) -> list[str]:
    return [p.text for p in document.paragraphs]


async def test_the_bulletin_counts_each_towns_reports_late_and_missing(
    client: httpx.AsyncClient, desks: dict[str, dict[str, str]], july: None
) -> None:
    document = await bulletin(client, desks["county"])
    assert reporting_table(document) == [["甲镇", "3", "1", "1", "0"], ["乙镇", "3", "0", "0", "2"]]
    paragraphs = texts(document)
    heading = paragraphs.index("四、信息报送情况")
    assert paragraphs[heading + 1] == (
        "本月应报送信息6件，按时报送1件，迟报1件，漏报2件，尚未到期2件。"
    )
    assert "五、说明" in paragraphs and "四、说明" not in paragraphs
    # the same counts as the KPI page's
    stats = await client.get(
        "/api/v1/duty/reports/stats?month=2026-07&division=331126", headers=desks["county"]
    )
    assert [
        [r["name"], *(str(r[k]) for k in ("owed", "met", "late", "missing"))]
        for r in stats.json()["items"]
    ] == reporting_table(document)
    page = await client.get(
        "/api/v1/reports/bulletin?month=2026-07&format=html", headers=desks["county"]
    )
    assert "<h2>四、信息报送情况</h2>" in page.text
    assert "<td>乙镇</td><td>3</td><td>0</td><td>0</td><td>2</td>" in page.text


async def test_a_town_reads_only_its_own_counts_and_another_county_none(
    client: httpx.AsyncClient, db: Database, july: None
) -> None:
    await make_user(db, "officer_b", roles=["duty_officer"], division="331126102000")
    document = await bulletin(client, await bearer(client, "officer_b"))
    assert reporting_table(document) == [["乙镇", "3", "0", "0", "2"]]
    assert "本月应报送信息3件，按时报送0件，迟报0件，漏报2件，尚未到期1件。" in texts(document)

    await make_division(db, "331127", name="景宁县", level="county", parent="330000")
    await make_user(db, "other_county", roles=["duty_officer"], division="331127")
    elsewhere = await bulletin(client, await bearer(client, "other_county"))
    assert reporting_table(elsewhere) is None
    assert "本月无应报送的信息（应报0件，迟报0件，漏报0件）。" in texts(elsewhere)
    assert not any("甲镇" in t or "乙镇" in t for t in texts(elsewhere))


async def test_a_month_without_reports_says_none(
    client: httpx.AsyncClient, desks: dict[str, dict[str, str]], july: None
) -> None:
    document = await bulletin(client, desks["county"], month="2026-06")
    paragraphs = texts(document)
    assert paragraphs[paragraphs.index("四、信息报送情况") + 1] == (
        "本月无应报送的信息（应报0件，迟报0件，漏报0件）。"
    )
    assert reporting_table(document) is None


@pytest.fixture
def no_contributions() -> Iterator[None]:
    previous = bulletin_sections.set_contributors(())
    yield
    bulletin_sections.set_contributors(previous)


async def test_without_a_domain_contributing_the_bulletin_keeps_its_own_sections(
    client: httpx.AsyncClient, desks: dict[str, dict[str, str]], july: None, no_contributions: None
) -> None:
    document = await bulletin(client, desks["county"])
    assert reporting_table(document) is None
    paragraphs = texts(document)
    assert "四、说明" in paragraphs and not any("信息报送" in t for t in paragraphs)


async def test_the_bulletin_command_carries_the_same_section(
    july: None, cli_env: None, tmp_path: Path
) -> None:
    out = tmp_path / "bulletin.html"
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["report", "bulletin", "--month", "2026-07", "--format", "html", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "信息报送情况" in page
    assert "本月应报送信息6件，按时报送1件，迟报1件，漏报2件，尚未到期2件。" in page
