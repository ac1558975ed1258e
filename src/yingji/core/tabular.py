"""Spreadsheet files in and out: CSV text that spreadsheet programs read, and the checked rows an
import reads from it, each problem with its line number (the header is line 1).

Several domains import and export tables this way (divisions and units, the routing table); each
checks its own columns. Nothing here touches the database.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass
from typing import Any

from pydantic_core import ErrorDetails

from yingji.core.errors import DomainError

MAX_BYTES = 200 * 1024 * 1024

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
