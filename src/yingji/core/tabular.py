"""Spreadsheet files in and out: CSV text and .xlsx workbooks that spreadsheet programs read,
and the records an import reads from them, each problem with its line number (the header is
line 1).

An uploaded .xlsx file is untrusted: it is opened only if it is a zip archive of bounded size
whose members inflate to a bounded total (a "zip bomb" is refused before anything is inflated),
read with openpyxl in read-only mode (rows streamed, formulas read as their cached values, never
as formula text), and stops at ``MAX_ROWS`` rows and ``MAX_COLUMNS`` columns. Cells keep their
types (numbers, dates, booleans), so a code typed as a number or a date cell arrives as such and
the importing domain converts it.

Several domains import and export tables this way (divisions and units, the routing table); each
checks its own columns. Nothing here touches the database.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils.exceptions import InvalidFileException
from pydantic_core import ErrorDetails

from yingji.core.errors import DomainError

MAX_BYTES = 200 * 1024 * 1024
#: an .xlsx upload: at most this many bytes as sent, and this many once its members inflate
XLSX_MAX_BYTES = 50 * 1024 * 1024
XLSX_MAX_INFLATED = 500 * 1024 * 1024
XLSX_MAX_MEMBERS = 10_000
#: at most this many rows (the header included) and columns in a sheet that is read
MAX_ROWS = 200_001
MAX_COLUMNS = 200

# --- cells a spreadsheet would run as a formula -----------------------------------------------
#
# A cell that starts with one of these is read by spreadsheet programs as a formula
# (=HYPERLINK(…), +cmd|…, -2+3, @SUM(…)) or has its first character swallowed (tab, CR). Exports
# write such a text cell with a leading apostrophe, which spreadsheets show as text; imports take
# one apostrophe off a cell that starts with apostrophes followed by one of these, so a file
# exported here imports back unchanged (and a cell that really starts with "'=" survives too).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _looks_escaped(text: str) -> bool:
    return text.lstrip("'").startswith(FORMULA_STARTS)


def csv_cell(value: object) -> object:
    """A value as an exported CSV cell: text that a spreadsheet would run is neutralised."""
    if isinstance(value, str) and _looks_escaped(value):
        return f"'{value}"
    return value


def csv_value(text: str) -> str:
    """An imported CSV cell as the value it stands for (undoes :func:`csv_cell`)."""
    if text.startswith("'") and _looks_escaped(text):
        return text[1:]
    return text


@dataclass
class LineError:
    """One problem of an imported file (line 0: the whole file): where, what as a ``code`` and
    its ``params`` (worded by the web app: ``admin.import.msg.<code>``, or ``errors.<code>`` for
    a domain error), and the same in English (``message``) for logs and other systems."""

    line: int
    field: str | None
    message: str
    code: str = "invalid"
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "field": self.field,
            "message": self.message,
            "code": self.code,
            "params": self.params,
        }


#: pydantic's error types as the codes of import problems, with the context value each words
_CHECKS: dict[str, tuple[str, str | None]] = {
    "missing": ("required", None),
    "string_pattern_mismatch": ("pattern", None),
    "string_too_long": ("max_length", "max_length"),
    "string_too_short": ("min_length", "min_length"),
    "int_parsing": ("number", None),
    "int_type": ("number", None),
    "int_from_float": ("number", None),
    "float_parsing": ("number", None),
    "float_type": ("number", None),
    "bool_parsing": ("boolean", None),
    "bool_type": ("boolean", None),
    "greater_than_equal": ("min", "ge"),
    "less_than_equal": ("max", "le"),
    "literal_error": ("one_of", "expected"),
    "enum": ("one_of", "expected"),
}


def check_failed(line: int, err: ErrorDetails) -> LineError:
    """A value that failed the row's schema (one of pydantic's errors) as a problem."""
    where = ".".join(str(part) for part in err["loc"]) or None
    code, context = _CHECKS.get(err["type"], ("invalid", None))
    value = (err.get("ctx") or {}).get(context) if context else None
    params = {} if value is None else {"value": str(value)}
    return LineError(line, where, err["msg"], code, params)


def refused(line: int, field_name: str | None, exc: DomainError) -> LineError:
    """A row the domain refused: its error's code and details."""
    details = exc.details if isinstance(exc.details, dict) else {}
    return LineError(line, field_name, f"{exc.code}: {exc.message}", exc.code, details)


ENCODING = "the file is neither UTF-8 nor GB18030 text"


def not_text() -> LineError:
    return LineError(0, None, ENCODING, "encoding")


def empty() -> LineError:
    return LineError(0, None, "the file has no rows", "empty")


def decode(raw: bytes) -> str | None:
    """The file's text, read as UTF-8 (with or without a BOM) or GB18030; None if neither."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def blank_to_none(record: dict[str, Any]) -> dict[str, Any]:
    """Keys and text values trimmed, blank values as None, unnamed columns dropped."""
    return {
        k.strip(): (v.strip() if isinstance(v, str) else v) or None for k, v in record.items() if k
    }


def csv_record(record: dict[str, Any]) -> dict[str, Any]:
    """A CSV row as values: trimmed, blanks as None, the export's formula guard undone."""
    return {k: csv_value(v) if isinstance(v, str) else v for k, v in blank_to_none(record).items()}


@dataclass
class CsvRead:
    """A CSV file as read: each line's record (line number, values), the header's column names,
    or the one problem that stopped reading."""

    records: list[tuple[int, dict[str, Any]]]
    header: list[str]
    problem: LineError | None = None


def too_large(raw: bytes) -> LineError | None:
    if len(raw) > MAX_BYTES:
        mib = MAX_BYTES // 2**20
        return LineError(0, None, f"the file is larger than {mib} MiB", "too_large", {"value": mib})
    return None


def read_csv_text(text: str) -> CsvRead:
    """The records of CSV text (see :func:`csv_record`), with their line numbers."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    records: list[tuple[int, dict[str, Any]]] = []
    try:
        records.extend((reader.line_num, csv_record(row)) for row in reader)
    except csv.Error as exc:
        problem = LineError(reader.line_num, None, f"not a readable CSV file: {exc}", "not_csv")
        return CsvRead([], [], problem)
    return CsvRead(records, [f.strip() for f in reader.fieldnames or []])


def read_csv(raw: bytes) -> CsvRead:
    """The records of an uploaded CSV file; a file too large or not text is one problem."""
    problem = too_large(raw)
    if problem is not None:
        return CsvRead([], [], problem)
    text = decode(raw)
    if text is None:
        return CsvRead([], [], not_text())
    return read_csv_text(text)


# --- .xlsx ---------------------------------------------------------------------------------------

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_ZIP_MAGIC = b"PK\x03\x04"
# characters XML 1.0 cannot carry (openpyxl and python-docx refuse them): dropped from exported text
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def is_xlsx(raw: bytes) -> bool:
    """Whether ``raw`` starts like a zip archive (an .xlsx workbook), whatever its name says."""
    return raw.startswith(_ZIP_MAGIC)


def _sheet_problem(code: str, message: str, **params: Any) -> CsvRead:
    return CsvRead([], [], LineError(0, None, message, code, params))


def _inflation_problem(raw: bytes) -> CsvRead | None:
    """A problem if ``raw`` is not a workbook archive that inflates within the bounds; read from
    the zip directory alone (nothing is inflated here)."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = archive.infolist()
            names = {m.filename for m in members}
    except (zipfile.BadZipFile, ValueError, OSError):
        return _sheet_problem("not_xlsx", "not a readable .xlsx workbook")
    if len(members) > XLSX_MAX_MEMBERS:
        return _sheet_problem("not_xlsx", "the workbook has too many parts")
    inflated = sum(m.file_size for m in members)
    if inflated > XLSX_MAX_INFLATED:
        mib = XLSX_MAX_INFLATED // 2**20
        message = f"the workbook inflates to more than {mib} MiB"
        return _sheet_problem("xlsx_too_large", message, value=mib)
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        return _sheet_problem("not_xlsx", "not a readable .xlsx workbook")
    return None


def xlsx_value(value: object) -> object:
    """A cell of a read sheet as its value: text trimmed (blank as None), a date-time at
    midnight as its date, numbers, dates and booleans as they are."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, datetime) and value.time() == time(0):
        return value.date()
    return value


class SheetStream:
    """The records of a sheet, read a slice at a time (so a long import can tell its progress):
    ``header`` (row 1), ``estimated_rows`` (what the workbook declares, if anything), then
    :meth:`take` until it returns nothing. A problem found while reading (too many rows or
    columns, a broken file) ends the stream and is kept in ``problem``."""

    def __init__(
        self,
        rows: Iterator[Sequence[object]] | None = None,
        *,
        problem: LineError | None = None,
        estimated_rows: int | None = None,
        close: Callable[[], None] | None = None,
    ) -> None:
        self.header: list[str] = []
        self.problem = problem
        self.estimated_rows = estimated_rows
        self._rows = rows
        self._line = 0
        self._close = close
        if rows is not None and problem is None:
            first = self._next()
            if first is not None:
                self.header = [str(v).strip() if v is not None else "" for v in first]

    def _stop(self, code: str, message: str, **params: Any) -> None:
        self.problem = LineError(0, None, message, code, params)
        self.close()

    def _next(self) -> Sequence[object] | None:
        if self._rows is None:
            return None
        try:
            row = next(self._rows)
        except StopIteration:
            self.close()
            return None
        except (KeyError, ValueError, TypeError, OSError, zipfile.BadZipFile):
            self._stop("not_xlsx", "not a readable .xlsx workbook")
            return None
        self._line += 1
        if self._line > MAX_ROWS:
            self._stop(
                "too_many_rows", f"the sheet has more than {MAX_ROWS - 1} rows", value=MAX_ROWS - 1
            )
            return None
        if len(row) > MAX_COLUMNS and any(v is not None for v in row[MAX_COLUMNS:]):
            message = f"the sheet has more than {MAX_COLUMNS} columns"
            self._stop("too_many_columns", message, value=MAX_COLUMNS)
            return None
        return row

    def take(self, count: int) -> list[tuple[int, dict[str, Any]]]:
        """Up to ``count`` more records (blank rows skipped); empty at the end."""
        records: list[tuple[int, dict[str, Any]]] = []
        header = self.header
        width = len(header)
        while len(records) < count:
            row = self._next()
            if row is None:
                break
            values = [xlsx_value(v) for v in row[:width]]
            if any(v is not None for v in values):
                record = {k: v for k, v in zip(header, values, strict=False) if k}
                records.append((self._line, record))
        return records

    def close(self) -> None:
        self._rows = None
        if self._close is not None:
            self._close()
            self._close = None


def open_xlsx(raw: bytes) -> SheetStream:
    """The first sheet of an uploaded .xlsx workbook as a stream: row 1 names the columns (line
    1, as in CSV); each later row that is not blank is a record of typed values (see
    :func:`xlsx_value`). A file too large, one that inflates too far, one that is not a
    workbook, or a sheet beyond ``MAX_ROWS``/``MAX_COLUMNS`` is one problem."""
    if len(raw) > XLSX_MAX_BYTES:
        mib = XLSX_MAX_BYTES // 2**20
        message = f"the file is larger than {mib} MiB"
        return SheetStream(problem=LineError(0, None, message, "too_large", {"value": mib}))
    problem = _inflation_problem(raw)
    if problem is not None:
        return SheetStream(problem=problem.problem)
    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        estimate = _count_rows(sheet)
        # rows as written, never padded to a width a <dimension> declares (which may be huge)
        sheet.reset_dimensions()
        rows = sheet.iter_rows(values_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError, IndexError):
        return SheetStream(problem=LineError(0, None, "not a readable .xlsx workbook", "not_xlsx"))
    return SheetStream(rows, estimated_rows=estimate, close=book.close)


def _count_rows(sheet: Any) -> int | None:
    """How many rows below the header the sheet's XML holds (``<row`` elements, counted in one
    pass over the inflated part, whose size was bounded before), for the progress bar."""
    count = 0
    tail = b""
    with sheet._get_source() as source:  # openpyxl's read-only sheet: its part of the archive
        while chunk := source.read(1 << 20):
            block = tail + chunk
            count += block.count(b"<row ") + block.count(b"<row>")
            tail = block[-5:]
            count -= tail.count(b"<row ") + tail.count(b"<row>")
        count += tail.count(b"<row ") + tail.count(b"<row>")
    return max(count - 1, 0) if count else None


def read_xlsx(raw: bytes) -> CsvRead:
    """Every record of :func:`open_xlsx` at once."""
    stream = open_xlsx(raw)
    records = stream.take(MAX_ROWS)
    if stream.problem is not None:
        return CsvRead([], [], stream.problem)
    return CsvRead(records, [h for h in stream.header if h])


def open_table(raw: bytes) -> SheetStream:
    """An uploaded sheet, .xlsx (told by its first bytes, never by its name) or CSV text, as a
    stream."""
    if is_xlsx(raw):
        return open_xlsx(raw)
    read = read_csv(raw)
    if read.problem is not None:
        return SheetStream(problem=read.problem)
    return _RecordStream(read)


class _RecordStream(SheetStream):
    """The records of a CSV file already read, handed out a slice at a time."""

    def __init__(self, read: CsvRead) -> None:
        super().__init__(estimated_rows=len(read.records))
        self.header = read.header
        self._records = read.records
        self._position = 0

    def take(self, count: int) -> list[tuple[int, dict[str, Any]]]:
        part = self._records[self._position : self._position + count]
        self._position += len(part)
        return part


def as_text(value: object) -> object:
    """A typed cell as the text a CSV file would hold: a whole number without ``.0``, a date in
    ISO form; None and text as they are (for imports whose rows are checked as text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def read_table(raw: bytes) -> CsvRead:
    """An uploaded sheet, .xlsx (told by its first bytes, never by its name) or CSV text."""
    return read_xlsx(raw) if is_xlsx(raw) else read_csv(raw)


def xml_text(value: object) -> str:
    """``value`` as text an XML document (.xlsx, .docx) can carry: the characters XML 1.0
    refuses are dropped, so text a user typed can never break an export."""
    return "" if value is None else _ILLEGAL_XML.sub("", str(value))


def xlsx_cell(value: object) -> object:
    """A value as an exported .xlsx cell's value: text without the characters XML cannot carry;
    numbers, booleans and dates as they are; anything else as its text."""
    if value is None or isinstance(value, bool | int | float | date | datetime):
        return value
    return xml_text(value) or None


@dataclass
class Sheet:
    """One sheet to write: its title, header row and rows (each a sequence of cell values)."""

    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[object]]


def write_xlsx(sheets: Sequence[Sheet]) -> bytes:
    """A workbook of ``sheets`` (streamed with openpyxl's write-only mode). Every text cell is
    written as a string cell, so text that looks like a formula (``=HYPERLINK(…)``) is shown as
    text and never runs; it reads back unchanged."""
    book = Workbook(write_only=True)
    for sheet in sheets:
        ws = book.create_sheet(title=sheet.title[:31])
        ws.append([_text_cell(ws, h) for h in sheet.header])
        for row in sheet.rows:
            ws.append([_text_cell(ws, xlsx_cell(v)) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _text_cell(ws: Any, value: object) -> object:
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"  # a string, even when it starts with "=" (never a formula)
    return cell
