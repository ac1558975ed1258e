"""The bulletin of a month still running is measured up to now: only deadlines already passed are
overdue, by the time up to now, and it says 截至 when; a month that has ended is measured to
its end and says nothing of the kind."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import docx
import httpx

from tests.dispatch.test_order_flows import dispatched, world
from tests.factories import bearer
from yingji.core.clock import ManualClock

__all__ = ["world"]  # the fixture, shared with test_order_flows

MID_JULY = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)  # 10:00 Beijing time


async def bulletin_html(client: httpx.AsyncClient, headers: dict[str, str], month: str) -> str:
    answer = await client.get(
        f"/api/v1/reports/bulletin?month={month}&format=html", headers=headers
    )
    assert answer.status_code == 200, answer.text
    return answer.text


async def sign_in_again(client: httpx.AsyncClient, world: dict) -> None:
    """After the clock jumps, the sessions of the fixture's moment are gone."""
    world["officer"] = await bearer(client, "county")
    world["leader"] = await bearer(client, "leader")


def overdue_rows(page: str) -> list[str]:
    return [row for row in page.split("<tr>") if "单位FIRE" in row and "<td>未完成</td>" in row]


async def test_a_running_months_bulletin_counts_only_passed_deadlines_up_to_now(
    client: httpx.AsyncClient, world: dict, clock: ManualClock
) -> None:
    clock.set(MID_JULY)
    await sign_in_again(client, world)
    await dispatched(client, world)  # the brigade: sign in 3 min, arrive 15, complete 12 h
    clock.advance(timedelta(minutes=10))
    page = await bulletin_html(client, world["leader"], "2026-07")
    rows = overdue_rows(page)
    # the sign deadline passed 7 minutes ago; arrival is due in 5 minutes, completion in 11 h 50
    assert len(rows) == 1, rows
    assert "<td>签收</td>" in rows[0] and "<td>7分钟</td>" in rows[0]
    assert "<td>办结</td>" not in page and "<td>到场</td>" not in page
    assert "截至2026-07-15 10:10（北京时间），本月尚未结束" in page
    assert "2026年7月1日至7月15日" in page
    word = await client.get("/api/v1/reports/bulletin?month=2026-07", headers=world["leader"])
    texts = [p.text for p in docx.Document(io.BytesIO(word.content)).paragraphs]
    assert any(t.startswith("截至2026-07-15 10:10（北京时间）") for t in texts)


async def test_an_ended_months_bulletin_measures_to_its_end_and_says_no_as_of(
    client: httpx.AsyncClient, world: dict, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 7, 31, 15, 0, tzinfo=UTC))  # 23:00 Beijing, an hour before August
    await sign_in_again(client, world)
    await dispatched(client, world)
    clock.set(datetime(2026, 8, 3, tzinfo=UTC))
    await sign_in_again(client, world)
    page = await bulletin_html(client, world["leader"], "2026-07")
    by_stage = {
        stage: row
        for row in overdue_rows(page)
        for stage in ("签收", "到场", "办结")
        if f"<td>{stage}</td>" in row
    }
    # measured to 08-01 00:00 Beijing: sign late 57 min, arrival 45 min; completion due after
    assert "<td>57分钟</td>" in by_stage["签收"] and "<td>45分钟</td>" in by_stage["到场"]
    assert "办结" not in by_stage
    assert "本月尚未结束" not in page and "截至2026" not in page
    assert "2026年7月1日至7月31日" in page
