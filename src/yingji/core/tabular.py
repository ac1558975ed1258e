"""Spreadsheet files in and out: CSV text that spreadsheet programs read, and the checked rows an
import reads from it, each problem with its line number (the header is line 1).

Several domains import and export tables this way (divisions and units, the routing table); each
checks its own columns. Nothing here touches the database.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

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
    """A problem of one line of an imported file (line 0: the whole file)."""

    line: int
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


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
        return LineError(0, None, f"the file is larger than {MAX_BYTES // 2**20} MiB")
    return None


def read_csv_text(text: str) -> CsvRead:
    """The records of CSV text (see :func:`csv_record`), with their line numbers."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    records: list[tuple[int, dict[str, Any]]] = []
    try:
        records.extend((reader.line_num, csv_record(row)) for row in reader)
    except csv.Error as exc:
        return CsvRead([], [], LineError(reader.line_num, None, f"not a readable CSV file: {exc}"))
    return CsvRead(records, [f.strip() for f in reader.fieldnames or []])


def read_csv(raw: bytes) -> CsvRead:
    """The records of an uploaded CSV file; a file too large or not text is one problem."""
    problem = too_large(raw)
    if problem is not None:
        return CsvRead([], [], problem)
    text = decode(raw)
    if text is None:
        return CsvRead([], [], LineError(0, None, "the file is neither UTF-8 nor GB18030 text"))
    return read_csv_text(text)
