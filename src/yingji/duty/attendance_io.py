"""A division's month of duty as the .xlsx grid offices keep (值班表), in and out, and a person's
shifts as an iCalendar feed.

The grid: row 1 the title (``庆元县值班表 2026年12月``); row 2 the division and month
(``单位 | 庆元县 | 区划代码 | 331126 | 月份 | 2026-12``); row 3 the column heads; then one row per
date and shift: ``日期 | 星期 | 班次 | 开始 | 时长（小时）`` and one column per seat —
``带班领导``, ``值班长``, ``值班员1``, ``值班员2``, ``专业值班人员（水利）`` … — holding the
person's name. An exported month imports back unchanged.

An import is checked whole before anything is written: every problem is a row-level error with
a code (the row number as the spreadsheet shows it); one problem and nothing changes. A named
cell puts that person on the seat (creating the shift if the month has none there); an empty
cell empties an existing seat; a shift already started keeps its person. Names are the people of
the division's units (and the units below it); a name two people share is refused, never
guessed. One person on two overlapping shifts (in the file or beside other rosters) is refused.
"""

from __future__ import annotations

import io
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from icalendar import Calendar, Event
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock, tabular
from yingji.core.changes import record_change
from yingji.core.errors import ValidationFailed
from yingji.core.events import EventScope
from yingji.core.security import Principal, Scope
from yingji.core.tabular import LineError
from yingji.duty import attendance
from yingji.duty.models import DutyPosition, DutyShift, Position, ShiftPattern, ShiftState
from yingji.org import service as org

#: an uploaded grid: at most this many bytes (a month is a few kilobytes)
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
#: rows and columns read from a grid (a month of three shifts a day, forty seats)
MAX_GRID_ROWS = 3 + 31 * 4
MAX_GRID_COLUMNS = 5 + 40
HEAD = ("日期", "星期", "班次", "开始", "时长（小时）")
WEEKDAYS = ("一", "二", "三", "四", "五", "六", "日")
ORDER = [p.value for p in Position]
_COLUMN = re.compile(
    r"^(带班领导|值班长|值班员|专业值班人员)(?:[（(]([^）)]{1,60})[）)])?(\d{1,2})?$"
)
_BY_NAME = {name: code for code, name in attendance.POSITION_NAMES.items()}


@dataclass(frozen=True, order=True)
class SeatKey:
    """A column of the grid: position (in 1+1+X+X order), label, seat number."""

    rank: int
    position: str
    label: str
    seat: int

    @classmethod
    def of(cls, position: str, label: str, seat: int) -> SeatKey:
        rank = ORDER.index(position) if position in ORDER else len(ORDER)
        return cls(rank, position, label, seat)


def column_name(key: SeatKey, *, numbered: bool) -> str:
    name = attendance.POSITION_NAMES.get(key.position, key.position)
    if key.label:
        name += f"（{key.label}）"
    return f"{name}{key.seat}" if numbered else name


def parse_column(text: str) -> SeatKey | None:
    found = _COLUMN.match(text.strip())
    if found is None:
        return None
    return SeatKey.of(_BY_NAME[found.group(1)], found.group(2) or "", int(found.group(3) or 1))


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The month's first and next month's first moment, Beijing time, as UTC."""
    first = datetime.combine(month.replace(day=1), time(0), tzinfo=clock.LOCAL_TZ)
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    last = datetime.combine(following, time(0), tzinfo=clock.LOCAL_TZ)
    return first.astimezone(UTC), last.astimezone(UTC)


def parse_month(text: str) -> date | None:
    found = re.fullmatch(r"(\d{4})-(\d{1,2})", text.strip())
    if found is None:
        return None
    year, month = int(found.group(1)), int(found.group(2))
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        return None
    return date(year, month, 1)


# --- export --------------------------------------------------------------------------------------


async def _columns(
    session: AsyncSession, adcode: str, shifts: list[DutyShift]
) -> list[tuple[SeatKey, str]]:
    """The grid's seat columns: every seat of the division's positions, and any seat a shift of
    the month names beside them; numbered where a position and label has more than one."""
    keys: set[SeatKey] = set()
    positions = await session.scalars(
        select(DutyPosition).where(DutyPosition.division_adcode == adcode)
    )
    for row in positions:
        for seat in range(1, max(row.seats, 1) + 1):
            keys.add(SeatKey.of(row.position, row.label, seat))
    keys.update(SeatKey.of(s.position, s.label, s.seat) for s in shifts)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for key in keys:
        counts[(key.position, key.label)] = max(counts[(key.position, key.label)], key.seat)
    return [
        (key, column_name(key, numbered=counts[(key.position, key.label)] > 1))
        for key in sorted(keys)
    ]


async def export_month(*, session: AsyncSession, division_adcode: str, month: date) -> bytes:
    """The division's month as the office's grid (.xlsx)."""
    division = await org.get_division_or_raise(session=session, adcode=division_adcode)
    start, end = month_bounds(month)
    shifts = await attendance.list_shifts(
        session=session, division_adcode=division_adcode, starts_from=start, starts_before=end
    )
    columns = await _columns(session, division_adcode, shifts)
    rows: dict[tuple[datetime, str], dict[SeatKey, DutyShift]] = defaultdict(dict)
    hours: dict[tuple[datetime, str], float] = {}
    for shift in shifts:
        begin = clock.as_utc(shift.starts_at)
        rows[(begin, shift.shift_code)][SeatKey.of(shift.position, shift.label, shift.seat)] = shift
        hours[(begin, shift.shift_code)] = (
            clock.as_utc(shift.ends_at) - begin
        ).total_seconds() / 3600
    book = Workbook()
    sheet = book.worksheets[0]
    sheet.title = f"{month:%Y-%m}"
    label = f"{month.year}年{month.month}月"
    sheet.append([tabular.xlsx_cell(f"{division.name}值班表 {label}")])
    sheet.append(["单位", tabular.xlsx_cell(division.name), "区划代码", division.adcode, "月份"])
    sheet.cell(row=2, column=6, value=f"{month:%Y-%m}").data_type = "s"
    sheet.append([*HEAD, *(name for _, name in columns)])
    for begin, code in sorted(rows):
        local = begin.astimezone(clock.LOCAL_TZ)
        seats = rows[(begin, code)]
        length = hours[(begin, code)]
        sheet.append(
            [
                local.date(),
                WEEKDAYS[local.weekday()],
                tabular.xlsx_cell(code),
                local.strftime("%H:%M"),
                int(length) if float(length).is_integer() else length,
                *(_name_cell(seats.get(key)) for key, _ in columns),
            ]
        )
    for row in sheet.iter_rows(min_row=4):
        row[0].number_format = "yyyy-mm-dd"
        for cell in row[2:]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEAD) + len(columns))
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    sheet.column_dimensions["A"].width = 12
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _name_cell(shift: DutyShift | None) -> object:
    if shift is None:
        return None
    return tabular.xlsx_cell(shift.person_name)


# --- import --------------------------------------------------------------------------------------


@dataclass
class Cell:
    """One seat of one row as the file asks it: who, and the line and column it came from."""

    line: int
    column: str
    key: SeatKey
    starts_at: datetime
    ends_at: datetime
    shift_code: str
    name: str | None
    person_id: uuid.UUID | None = None


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    cleared: int = 0
    unchanged: int = 0
    shift_ids: list[uuid.UUID] = field(default_factory=list)


def _error(line: int, column: str | None, code: str, message: str, **params: Any) -> LineError:
    return LineError(line, column, message, code, params)


def _grid(raw: bytes) -> tuple[list[list[object]], LineError | None]:
    """The sheet's first rows as values, after the checks every uploaded workbook passes
    (``core.tabular``: size, inflation, a real workbook)."""
    if len(raw) > MAX_UPLOAD_BYTES:
        mib = MAX_UPLOAD_BYTES // 2**20
        return [], _error(0, None, "too_large", f"the file is larger than {mib} MiB", value=mib)
    if not tabular.is_xlsx(raw):
        return [], _error(0, None, "not_xlsx", "not a readable .xlsx workbook")
    checked = tabular.open_xlsx(raw)
    problem = checked.problem
    checked.close()
    if problem is not None:
        return [], problem
    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            sheet.reset_dimensions()
            rows = [
                [tabular.xlsx_value(v) for v in row]
                for row in sheet.iter_rows(
                    max_row=MAX_GRID_ROWS + 1, max_col=MAX_GRID_COLUMNS, values_only=True
                )
            ]
        finally:
            book.close()
    except (KeyError, ValueError, TypeError, OSError, IndexError):
        return [], _error(0, None, "not_xlsx", "not a readable .xlsx workbook")
    if len(rows) > MAX_GRID_ROWS:
        return [], _error(
            0,
            None,
            "too_many_rows",
            f"a month has at most {MAX_GRID_ROWS} rows",
            value=MAX_GRID_ROWS,
        )
    return rows, None


def _as_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.replace("/", "-"))
        except ValueError:
            return None
    return None


def _as_time(value: object) -> time | None:
    if isinstance(value, time):
        return value
    if isinstance(value, datetime):
        return value.time()
    if isinstance(value, str):
        found = re.fullmatch(r"(\d{1,2})[:：](\d{2})", value)
        if found and int(found.group(1)) < 24 and int(found.group(2)) < 60:
            return time(int(found.group(1)), int(found.group(2)))
    return None


def _as_hours(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        hours = float(value)
    elif isinstance(value, str):
        try:
            hours = float(value)
        except ValueError:
            return None
    else:
        return None
    return hours if 1 <= hours <= 168 else None


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = tabular.as_text(value)
    return str(text).strip() or None


@dataclass
class _Parsed:
    month: date | None = None
    cells: list[Cell] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)


def _header(rows: list[list[object]], adcode: str, parsed: _Parsed) -> dict[int, SeatKey]:
    """The division and month of row 2 and the seat columns of row 3."""
    if len(rows) < 3:
        parsed.errors.append(_error(0, None, "empty", "the sheet has no roster rows"))
        return {}
    second = [_text(v) for v in rows[1]]
    values = dict(zip(second[0::2], second[1::2], strict=False))
    if values.get("区划代码") != adcode:
        parsed.errors.append(
            _error(
                2,
                "区划代码",
                "division_mismatch",
                "the sheet is for another division",
                value=values.get("区划代码") or "",
                expected=adcode,
            )
        )
    parsed.month = parse_month(values.get("月份") or "")
    if parsed.month is None:
        parsed.errors.append(_error(2, "月份", "month_invalid", "the month is not YYYY-MM"))
    head = [_text(v) or "" for v in rows[2]]
    if tuple(head[: len(HEAD)]) != HEAD:
        parsed.errors.append(
            _error(3, None, "head_invalid", "row 3 starts 日期 星期 班次 开始 时长（小时）")
        )
        return {}
    columns: dict[int, SeatKey] = {}
    for index, text in enumerate(head[len(HEAD) :], start=len(HEAD)):
        if not text:
            continue
        key = parse_column(text)
        if key is None:
            parsed.errors.append(
                _error(3, text, "column_unknown", "not a duty position", value=text)
            )
        elif key in columns.values():
            parsed.errors.append(_error(3, text, "column_duplicate", "a seat named twice"))
        else:
            columns[index] = key
    if not columns and not parsed.errors:
        parsed.errors.append(_error(3, None, "head_invalid", "the sheet names no seat"))
    return columns


def _rows(rows: list[list[object]], columns: dict[int, SeatKey], parsed: _Parsed) -> None:
    """Each dated row's cells, checked against the month (header errors stop nothing here)."""
    seen: set[tuple[datetime, str]] = set()
    for line, row in enumerate(rows[3:], start=4):
        if not any(v is not None for v in row):
            continue
        cells = list(row) + [None] * (len(HEAD) - len(row))
        day, code = _as_date(cells[0]), _text(cells[2])
        start, hours = _as_time(cells[3]), _as_hours(cells[4])
        problems = [
            (day is None, "日期", "date_invalid", "not a date"),
            (code is None or len(code) > 20, "班次", "shift_code_invalid", "a shift code (≤ 20)"),
            (start is None, "开始", "time_invalid", "not a time HH:MM"),
            (hours is None, "时长（小时）", "hours_invalid", "hours from 1 to 168"),
        ]
        bad = [_error(line, col, c, m) for wrong, col, c, m in problems if wrong]
        if bad or day is None or start is None or hours is None or code is None:
            parsed.errors.extend(bad)
            continue
        if parsed.month is not None and (day.year, day.month) != (
            parsed.month.year,
            parsed.month.month,
        ):
            parsed.errors.append(
                _error(line, "日期", "date_outside_month", "the date is outside the month")
            )
            continue
        begins = datetime.combine(day, start, tzinfo=clock.LOCAL_TZ).astimezone(UTC)
        if (begins, code) in seen:
            parsed.errors.append(
                _error(line, "班次", "row_duplicate", "this shift is listed twice")
            )
            continue
        seen.add((begins, code))
        ends = begins + timedelta(hours=hours)
        for index, key in columns.items():
            value = cells[index] if index < len(cells) else None
            name = _text(value)
            if name is not None and len(name) > 100:
                parsed.errors.append(_error(line, str(index), "name_too_long", "a name ≤ 100"))
                continue
            parsed.cells.append(Cell(line, _column_letter(index), key, begins, ends, code, name))


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


async def _resolve_people(
    session: AsyncSession, adcode: str, path: str, cells: list[Cell], errors: list[LineError]
) -> None:
    """Each named cell's person: the one person of that name in the division's units (or the
    units below it; one at the division itself wins over ones below)."""
    names = {cell.name for cell in cells if cell.name}
    if not names:
        return
    scope = Scope(division_path=path)
    people, _ = await org.list_people(session=session, scope=scope, limit=20_000)
    units, _ = await org.list_units(session=session, scope=scope, limit=20_000)
    here = {unit.id for unit in units if unit.division_adcode == adcode}
    by_name: dict[str, list[tuple[uuid.UUID, bool]]] = defaultdict(list)
    for person in people:
        if person.name in names:
            by_name[person.name].append((person.id, person.unit_id in here))
    for cell in cells:
        if cell.name is None:
            continue
        found = by_name.get(cell.name, [])
        local = [pid for pid, at_here in found if at_here]
        choice = local if local else [pid for pid, _ in found]
        if len(choice) == 1:
            cell.person_id = choice[0]
        elif not choice:
            errors.append(
                _error(
                    cell.line, cell.column, "person_unknown", "nobody of that name", value=cell.name
                )
            )
        else:
            errors.append(
                _error(
                    cell.line,
                    cell.column,
                    "person_ambiguous",
                    "several people have that name",
                    value=cell.name,
                    count=len(choice),
                )
            )


async def _existing(
    session: AsyncSession, adcode: str, month: date
) -> dict[tuple[SeatKey, datetime], DutyShift]:
    start, end = month_bounds(month)
    shifts = await attendance.list_shifts(
        session=session,
        division_adcode=adcode,
        starts_from=start - timedelta(days=7),
        starts_before=end + timedelta(days=7),
        limit=20_000,
    )
    return {(SeatKey.of(s.position, s.label, s.seat), clock.as_utc(s.starts_at)): s for s in shifts}


def _check_seats(
    cells: list[Cell],
    existing: dict[tuple[SeatKey, datetime], DutyShift],
    now: datetime,
    errors: list[LineError],
) -> None:
    """A cell's seat must not overlap another shift of the same seat, and a shift already
    started keeps its person."""
    by_seat: dict[SeatKey, list[tuple[datetime, datetime]]] = defaultdict(list)
    for (key, begins), held in existing.items():
        by_seat[key].append((begins, clock.as_utc(held.ends_at)))
    for cell in cells:
        shift = existing.get((cell.key, cell.starts_at))
        if shift is None:
            clash = any(
                b < cell.ends_at and cell.starts_at < e for b, e in by_seat.get(cell.key, [])
            )
            if clash:
                errors.append(
                    _error(cell.line, cell.column, "shift_overlaps", "the seat has a shift then")
                )
            elif cell.starts_at <= now and cell.name is not None:
                errors.append(
                    _error(cell.line, cell.column, "shift_started", "this shift has begun")
                )
            continue
        changed = shift.person_id != cell.person_id
        if changed and clock.as_utc(shift.starts_at) <= now:
            errors.append(_error(cell.line, cell.column, "shift_started", "this shift has begun"))


async def _check_double_booking(
    session: AsyncSession,
    cells: list[Cell],
    existing: dict[tuple[SeatKey, datetime], DutyShift],
    errors: list[LineError],
) -> None:
    """Nobody sits two overlapping shifts, counting the file and every other roster."""
    named = [cell for cell in cells if cell.person_id is not None]
    if not named:
        return
    lo = min(cell.starts_at for cell in named)
    hi = max(cell.ends_at for cell in named)
    replaced = {
        existing[(cell.key, cell.starts_at)].id
        for cell in cells
        if (cell.key, cell.starts_at) in existing
    }
    busy: dict[uuid.UUID, list[tuple[datetime, datetime, Cell | None]]] = defaultdict(list)
    for someone in {cell.person_id for cell in named if cell.person_id is not None}:
        for shift in await attendance.shifts_of_person(
            session=session, person_id=someone, ends_after=lo, starts_before=hi
        ):
            if shift.id not in replaced:
                busy[someone].append(
                    (clock.as_utc(shift.starts_at), clock.as_utc(shift.ends_at), None)
                )
    for cell in named:
        person_id = cell.person_id
        if person_id is None:
            continue
        for begins, ends, other in busy[person_id]:
            if begins < cell.ends_at and cell.starts_at < ends:
                other_line = other.line if other is not None else 0
                errors.append(
                    _error(
                        cell.line,
                        cell.column,
                        "person_double_booked",
                        "this person is on another shift then",
                        value=cell.name or "",
                        other_line=other_line,
                    )
                )
                break
        busy[person_id].append((cell.starts_at, cell.ends_at, cell))


async def _pattern_of(session: AsyncSession, adcode: str) -> uuid.UUID | None:
    """The division's shift pattern, when it has exactly one (new shifts name it)."""
    ids = (
        await session.scalars(
            select(ShiftPattern.id).where(ShiftPattern.division_adcode == adcode).limit(2)
        )
    ).all()
    return ids[0] if len(ids) == 1 else None


async def import_month(
    *, session: AsyncSession, principal: Principal, division_adcode: str, raw: bytes
) -> ImportResult:
    """Read a month's grid into the division's roster; any problem refuses the whole file
    (``roster_import_invalid`` with every row's errors) and writes nothing."""
    path = await attendance.division_in_reach(session, principal, division_adcode)
    rows, problem = _grid(raw)
    parsed = _Parsed()
    if problem is not None:
        parsed.errors.append(problem)
    else:
        columns = _header(rows, division_adcode, parsed)
        if columns:
            _rows(rows, columns, parsed)
    if not parsed.errors:
        await _resolve_people(session, division_adcode, path, parsed.cells, parsed.errors)
    existing: dict[tuple[SeatKey, datetime], DutyShift] = {}
    if not parsed.errors and parsed.month is not None:
        existing = await _existing(session, division_adcode, parsed.month)
        _check_seats(parsed.cells, existing, clock.now(), parsed.errors)
        await _check_double_booking(session, parsed.cells, existing, parsed.errors)
    if parsed.errors or parsed.month is None:
        raise ValidationFailed(
            "roster_import_invalid",
            f"the roster has {len(parsed.errors)} problem(s); nothing was imported",
            {"errors": [e.as_dict() for e in sorted(parsed.errors, key=_line_order)]},
        )
    result = await _write(session, division_adcode, parsed.cells, existing)
    await attendance.arm(session, shift_ids=result.shift_ids)
    summary = {
        "division_adcode": division_adcode,
        "month": f"{parsed.month:%Y-%m}",
        "created": result.created,
        "updated": result.updated,
        "cleared": result.cleared,
        "unchanged": result.unchanged,
    }
    await record_change(
        session,
        action="duty.roster_imported",
        subject_type="division",
        subject_id=division_adcode,
        before=None,
        after=summary,
        audience=EventScope(division_path=path),
    )
    return result


def _line_order(error: LineError) -> tuple[int, str]:
    return (error.line, error.field or "")


async def _write(
    session: AsyncSession,
    adcode: str,
    cells: list[Cell],
    existing: dict[tuple[SeatKey, datetime], DutyShift],
) -> ImportResult:
    result = ImportResult()
    names = {
        p.id: p.name
        for p in await org.people_by_ids(
            session=session, person_ids=[c.person_id for c in cells if c.person_id is not None]
        )
    }
    pattern_id = await _pattern_of(session, adcode)
    now = clock.now()
    for cell in cells:
        shift = existing.get((cell.key, cell.starts_at))
        if shift is None:
            if cell.person_id is None:
                continue
            shift = DutyShift(
                division_adcode=adcode,
                position=cell.key.position,
                label=cell.key.label,
                seat=cell.key.seat,
                shift_code=cell.shift_code,
                pattern_id=pattern_id,
                starts_at=cell.starts_at,
                ends_at=cell.ends_at,
                person_id=cell.person_id,
                person_name=names.get(cell.person_id, cell.name),
                state=ShiftState.SCHEDULED.value,
                version=1,
                created_at=now,
                updated_at=now,
            )
            session.add(shift)
            await session.flush()
            result.created += 1
            result.shift_ids.append(shift.id)
            continue
        if shift.person_id == cell.person_id:
            result.unchanged += 1
            continue
        shift.person_id = cell.person_id
        shift.person_name = None if cell.person_id is None else names.get(cell.person_id, cell.name)
        shift.state = ShiftState.SCHEDULED.value
        shift.checked_in_at = None
        shift.checked_in_by = None
        shift.version += 1
        shift.updated_at = now
        if cell.person_id is None:
            result.cleared += 1
        else:
            result.updated += 1
        result.shift_ids.append(shift.id)
    await session.flush()
    return result


# --- iCalendar -----------------------------------------------------------------------------------


def roster_ics(
    *, person_name: str, shifts: list[DutyShift], division_names: dict[str, str]
) -> bytes:
    """A person's shifts as an iCalendar feed (one VEVENT per shift, stable UIDs; SEQUENCE is
    the shift's version, so a calendar program updates a changed shift in place)."""
    calendar = Calendar()
    calendar.add("prodid", "-//Yingji//duty roster//ZH")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"{person_name} 值班")
    calendar.add("x-wr-timezone", "Asia/Shanghai")
    for shift in shifts:
        seat = attendance.POSITION_NAMES.get(shift.position, shift.position)
        if shift.label:
            seat += f"（{shift.label}）"
        division = division_names.get(shift.division_adcode, shift.division_adcode)
        event = Event()
        event.add("uid", f"duty-shift-{shift.id}@yingji")
        event.add("dtstamp", clock.as_utc(shift.updated_at))
        event.add("dtstart", clock.as_utc(shift.starts_at))
        event.add("dtend", clock.as_utc(shift.ends_at))
        event.add("summary", f"值班：{division} {seat}")
        event.add("description", f"班次 {shift.shift_code}")
        event.add("sequence", shift.version)
        event.add("status", "CONFIRMED")
        calendar.add_component(event)
    return bytes(calendar.to_ical())
