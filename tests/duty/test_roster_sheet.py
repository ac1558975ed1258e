"""The month's grid (.xlsx) out and in, and a person's shifts as iCalendar."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from icalendar import Calendar
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.duty.attendance_setup import TOWN_A, TOWN_B, make_duty_county, make_person, make_shift
from tests.factories import bearer
from yingji.core import timers
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.on_duty import Position
from yingji.duty import attendance
from yingji.duty.models import DutyPosition

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: 2026-07-02 08:00 and 20:00 in Beijing
DAY = datetime(2026, 7, 2, 0, 0, tzinfo=UTC)
NIGHT = DAY + timedelta(hours=12)
#: a date cell as openpyxl reads it back (naive: spreadsheets have no time zones)
THE_2ND = datetime.combine(date(2026, 7, 2), datetime.min.time())


@pytest.fixture
async def people(db: Database, client: httpx.AsyncClient) -> dict[str, uuid.UUID]:
    found = await make_duty_county(db)
    async with db.unit_of_work() as session:
        now = datetime(2026, 6, 1, tzinfo=UTC)
        session.add(
            DutyPosition(
                division_adcode=TOWN_A,
                position="officer",
                label="",
                seats=2,
                created_at=now,
                updated_at=now,
            )
        )
    await make_shift(db, division=TOWN_A, person_id=found["张三"], name="张三", starts_at=DAY)
    await make_shift(
        db,
        division=TOWN_A,
        person_id=found["李四"],
        name="李四",
        starts_at=DAY,
        position=Position.CHIEF,
    )
    await make_shift(
        db, division=TOWN_A, person_id=found["李四"], name="李四", starts_at=NIGHT, code="night"
    )
    return found


async def export(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.get(
        "/api/v1/duty/roster.xlsx", params={"division": TOWN_A, "month": "2026-07"}, headers=headers
    )


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str], raw: bytes, division: str = TOWN_A
) -> httpx.Response:
    return await client.post(
        "/api/v1/duty/roster.xlsx",
        params={"division": division},
        headers=headers,
        files={"file": ("值班表.xlsx", raw, XLSX)},
    )


def edited(raw: bytes, cells: dict[str, str | int | date | None]) -> bytes:
    book = load_workbook(io.BytesIO(raw))
    sheet = book.worksheets[0]
    for ref, value in cells.items():
        sheet[ref] = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_the_month_exports_as_the_office_grid_and_imports_back_unchanged(
    client: httpx.AsyncClient, people: dict[str, uuid.UUID]
) -> None:
    leader = await bearer(client, "leader")
    sheet = await export(client, leader)
    assert sheet.status_code == 200 and sheet.headers["content-type"] == XLSX
    assert sheet.headers["x-content-type-options"] == "nosniff"
    rows = list(load_workbook(io.BytesIO(sheet.content)).worksheets[0].iter_rows(values_only=True))
    assert rows[0][0] == "甲镇值班表 2026年7月"
    assert rows[1][:6] == ("单位", "甲镇", "区划代码", TOWN_A, "月份", "2026-07")
    assert rows[2] == (
        "日期",
        "星期",
        "班次",
        "开始",
        "时长（小时）",
        "值班长",
        "值班员1",
        "值班员2",
    )
    assert rows[3] == (THE_2ND, "四", "day", "08:00", 12, "李四", "张三", None)
    assert rows[4] == (THE_2ND, "四", "night", "20:00", 12, None, "李四", None)
    again = await upload(client, leader, sheet.content)
    assert again.status_code == 200, again.text
    assert again.json() == {"created": 0, "updated": 0, "cleared": 0, "unchanged": 3}
    # a town's leader reads the other town's grid no more than its rows
    assert (await export(client, await bearer(client, "leader_b"))).status_code == 404


async def test_an_imported_grid_fills_empties_and_arms_the_new_shifts(
    client: httpx.AsyncClient, db: Database, people: dict[str, uuid.UUID]
) -> None:
    leader = await bearer(client, "leader")
    raw = (await export(client, leader)).content
    changed = edited(
        raw,
        {
            "F4": None,  # the chief's seat of the 2nd, day, emptied
            "A6": date(2026, 7, 3),
            "B6": "五",
            "C6": "day",
            "D6": "08:00",
            "E6": 12,
            "H6": "张三",
        },
    )
    done = await upload(client, leader, changed)
    assert done.status_code == 200, done.text
    assert done.json() == {"created": 1, "updated": 0, "cleared": 1, "unchanged": 2}
    shifts = (
        await client.get(
            "/api/v1/duty/shifts",
            params={
                "division": TOWN_A,
                "from": "2026-07-01T00:00:00Z",
                "to": "2026-07-04T00:00:00Z",
            },
            headers=leader,
        )
    ).json()["items"]
    seats = [(s["starts_at"][:16], s["position"], s["seat"], s["person_name"]) for s in shifts]
    assert seats == [
        ("2026-07-02T00:00", "chief", 1, None),
        ("2026-07-02T00:00", "officer", 1, "张三"),
        ("2026-07-02T12:00", "officer", 1, "李四"),
        ("2026-07-03T00:00", "officer", 2, "张三"),
    ]
    async with db.unit_of_work(readonly=True) as session:
        armed = await session.scalar(
            select(func.count())
            .select_from(timers.Timer)
            .where(timers.Timer.kind == attendance.CHECK_IN_TIMER)
        )
    assert armed == 1  # the new shift (the emptied seat has nobody to check in)


async def test_an_import_with_problems_names_each_row_and_writes_nothing(
    client: httpx.AsyncClient, db: Database, people: dict[str, uuid.UUID]
) -> None:
    await make_person(db, "TA", "钱七")
    await make_person(db, "TA", "钱七")  # two people of the town are called 钱七
    leader = await bearer(client, "leader")
    raw = (await export(client, leader)).content
    bad = edited(
        raw,
        {
            "G4": "王五",  # of the county bureau, not of the town
            "H4": "张三",  # 张三 twice on the same shift
            "G5": "钱七",
            "A6": date(2026, 8, 1),
            "C6": "day",
            "D6": "08:00",
            "E6": 12,
        },
    )
    refused = await upload(client, leader, bad)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "roster_import_invalid"
    first = [(e["line"], e["code"]) for e in error["details"]["errors"]]
    assert first == [(6, "date_outside_month")]  # rows are read before names are looked up
    bad = edited(bad, {"A6": None, "C6": None, "D6": None, "E6": None})
    refused = await upload(client, leader, bad)
    problems = [
        (e["line"], e["field"], e["code"]) for e in refused.json()["error"]["details"]["errors"]
    ]
    assert problems == [(4, "G", "person_unknown"), (5, "G", "person_ambiguous")]
    fixed = edited(bad, {"G4": "张三", "G5": None})
    refused = await upload(client, leader, fixed)
    last = [
        (e["line"], e["field"], e["code"]) for e in refused.json()["error"]["details"]["errors"]
    ]
    assert last == [(4, "H", "person_double_booked")]
    # the other town's grid, and a file that is no workbook
    assert (await upload(client, leader, raw, division=TOWN_B)).json()["error"]["details"][
        "errors"
    ][0]["code"] == "division_mismatch"
    assert (await upload(client, leader, b"date,name\n")).json()["error"]["details"]["errors"][0][
        "code"
    ] == "not_xlsx"
    after = await export(client, leader)
    rows = list(load_workbook(io.BytesIO(after.content)).worksheets[0].iter_rows(values_only=True))
    assert rows[3][5:] == ("李四", "张三", None) and len(rows) == 5


async def test_only_a_roster_manager_over_the_division_imports(
    client: httpx.AsyncClient, people: dict[str, uuid.UUID]
) -> None:
    raw = (await export(client, await bearer(client, "leader"))).content
    assert (await upload(client, await bearer(client, "county"), raw)).status_code == 403
    assert (await upload(client, await bearer(client, "leader_b"), raw)).status_code == 404
    assert (await upload(client, await bearer(client, "leader_a"), raw)).status_code == 200


async def test_a_persons_shifts_as_icalendar_for_them_and_for_readers_over_them(
    client: httpx.AsyncClient, people: dict[str, uuid.UUID], clock: ManualClock
) -> None:
    url = f"/api/v1/duty/people/{people['李四']}/roster.ics"
    own = await client.get(url, headers=await bearer(client, "chief_a"))
    assert own.status_code == 200
    assert own.headers["content-type"] == "text/calendar; charset=utf-8"
    assert own.headers["x-content-type-options"] == "nosniff"
    events = Calendar.from_ical(own.content).walk("VEVENT")
    assert [(str(e["summary"]), e.decoded("dtstart")) for e in events] == [
        ("值班：甲镇 值班长", DAY),
        ("值班：甲镇 值班员", NIGHT),
    ]
    assert str(events[0]["uid"]).endswith("@yingji")
    county = await client.get(url, headers=await bearer(client, "leader"))
    assert county.content == own.content
    assert (await client.get(url, headers=await bearer(client, "leader_b"))).status_code == 404
    # someone else's calendar needs duty.read: a liaison of the same town holds none
    assert (await client.get(url, headers=await bearer(client, "town_a"))).status_code == 403
