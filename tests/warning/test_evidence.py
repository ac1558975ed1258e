"""The 叫应 evidence: a chain with repeats, an escalation, a receipt-free answer and a spot check,
exported as .xlsx (read back with openpyxl) and .docx (read back with python-docx)."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import update

from tests.factories import bearer, deliver_events
from tests.warning.calling_helpers import (
    VILLAGE_A1,
    World,
    make_world,
    minutes,
    publish,
    run_timers,
)
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.warning.models import WarningRecipient

API = "/api/v1/warnings"


@pytest.fixture
async def world(app: Any, db: Database) -> World:
    return await make_world(db)


async def a_whole_chain(
    client: httpx.AsyncClient, db: Database, world: World, clock: ManualClock
) -> Any:
    published = await publish(db, world, called=("甲干部", "村主任"))
    async with db.unit_of_work() as session:  # a name a spreadsheet would run as a formula
        await session.execute(
            update(WarningRecipient)
            .where(WarningRecipient.id == published.recipients["村主任"].id)
            .values(name='=HYPERLINK("http://x")')
        )
    await deliver_events(db)
    await client.post(f"{API}/ack/{published.recipients['村主任'].token}")
    for _ in range(3):  # 甲干部: two repeats, then 甲镇长 is called
        clock.advance(minutes(10))
        await run_timers(db)
    answers = [{"question": f"q{i}", "ok": True, "note": ""} for i in range(1, 7)]
    check = await client.post(
        f"{API}/{published.warning_id}/spot-checks",
        json={"village_adcode": VILLAGE_A1, "person_name": "王五", "answers": answers},
        headers=await bearer(client, "officer"),
    )
    assert check.status_code == 201, check.text
    return published


async def test_the_workbook_holds_the_whole_chain(
    client: httpx.AsyncClient, db: Database, world: World, clock: ManualClock
) -> None:
    published = await a_whole_chain(client, db, world, clock)
    response = await client.get(
        f"{API}/{published.warning_id}/evidence.xlsx", headers=await bearer(client, "desk")
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "attachment" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["预警", "叫应人员", "叫应过程", "投递", "应答", "六问"]
    chain = list(book["叫应过程"].iter_rows(min_row=2, values_only=True))
    links = [(row[1], row[2], row[3]) for row in chain]
    assert ("甲干部", "呼叫", 0) in links
    assert ("甲干部", "重复呼叫", 1) in links and ("甲干部", "重复呼叫", 2) in links
    assert ("甲干部", "升级", 2) in links
    assert ("甲镇长", "呼叫", 0) in links
    assert ('=HYPERLINK("http://x")', "应答", 0) in links
    formula_cell = next(
        c
        for row in book["叫应过程"].iter_rows(min_row=2)
        for c in row
        if c.value and str(c.value).startswith("=HYP")
    )
    assert formula_cell.data_type == "s"  # text, never a formula
    deliveries = list(book["投递"].iter_rows(min_row=2, values_only=True))
    assert len(deliveries) == 2 + 2 + 1  # publication, two repeats, the superior's call
    assert list(book["应答"].iter_rows(min_row=2, values_only=True))[0][2] == "链接"
    checks = list(book["六问"].iter_rows(min_row=2, values_only=True))
    assert checks[0][1:4] == (VILLAGE_A1, "王五", "是")
    people = {row[0]: row for row in book["叫应人员"].iter_rows(min_row=2, values_only=True)}
    assert people["甲干部"][4] == "已升级"
    assert people["甲镇长"][7] == "甲干部"  # escalated from


async def test_the_document_holds_the_chain_and_the_totals(
    client: httpx.AsyncClient, db: Database, world: World, clock: ManualClock
) -> None:
    published = await a_whole_chain(client, db, world, clock)
    response = await client.get(
        f"{API}/{published.warning_id}/evidence.docx", headers=await bearer(client, "officer")
    )
    assert response.status_code == 200, response.text
    doc = Document(io.BytesIO(response.content))
    headings = [
        p.text
        for p in doc.paragraphs
        if p.style is not None and p.style.name.startswith(("Heading", "Title"))
    ]
    assert headings[0].startswith("预警叫应证据 YJ-W-")
    assert "叫应过程" in headings and "六问抽查" in headings
    texts = [[cell.text for cell in row.cells] for table in doc.tables for row in table.rows]
    assert any(row[1:4] == ["甲干部", "升级", "2"] for row in texts if len(row) == 6)
    assert any(row[:3] == ["合计", "queued", "5"] for row in texts if len(row) == 3)
