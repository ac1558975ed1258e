"""Reading division and unit files (CSV or GeoJSON) into checked rows, with line numbers.

Parsing never touches the database. Every problem found is reported with its line (CSV; the
header is line 1) or feature number (GeoJSON) so an operator can mend the file in one pass; the
import flow then writes all rows or none.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from yingji.core.errors import DomainError
from yingji.org.models import DIVISION_LEVELS
from yingji.org.schemas import DivisionCreate, UnitCreate

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
    """One problem of an imported file: where, what as a ``code`` and its ``params`` (worded by
    the web app: ``admin.import.msg.<code>``, or ``errors.<code>`` for a domain error), and the
    same in English (``message``) for logs and other systems."""

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


def too_large() -> LineError:
    mib = MAX_BYTES // 2**20
    return LineError(0, None, f"the file is larger than {mib} MiB", "too_large", {"value": mib})


def not_csv(line: int, exc: csv.Error) -> LineError:
    return LineError(line, None, f"not a readable CSV file: {exc}", "not_csv")


ENCODING = "the file is neither UTF-8 nor GB18030 text"


def empty() -> LineError:
    return LineError(0, None, "the file has no rows", "empty")


@dataclass
class Parsed:
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError(ENCODING)


def _blank_to_none(record: dict[str, Any]) -> dict[str, Any]:
    return {
        k.strip(): (v.strip() if isinstance(v, str) else v) or None for k, v in record.items() if k
    }


def csv_record(record: dict[str, Any]) -> dict[str, Any]:
    """A CSV row as values: trimmed, blanks as None, the export's formula guard undone."""
    return {k: csv_value(v) if isinstance(v, str) else v for k, v in _blank_to_none(record).items()}


def _records(raw: bytes, filename: str) -> tuple[list[tuple[int, dict[str, Any]]], list[LineError]]:
    if len(raw) > MAX_BYTES:
        return [], [too_large()]
    try:
        text = _decode(raw)
    except ValueError:
        return [], [LineError(0, None, ENCODING, "encoding")]
    stripped = text.lstrip()
    if filename.lower().endswith((".geojson", ".json")) or stripped.startswith("{"):
        return _geojson_records(text)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    records: list[tuple[int, dict[str, Any]]] = []
    try:
        records.extend((reader.line_num, csv_record(row)) for row in reader)
    except csv.Error as exc:
        return [], [not_csv(reader.line_num, exc)]
    return records, []


def _geojson_records(text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[LineError]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [LineError(exc.lineno, None, f"not valid JSON: {exc.msg}", "not_json")]
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        expected = "expected a GeoJSON FeatureCollection"
        return [], [LineError(1, None, expected, "not_feature_collection")]
    records: list[tuple[int, dict[str, Any]]] = []
    for number, feature in enumerate(document.get("features") or [], start=1):
        if not isinstance(feature, dict):
            records.append((number, {"__error__": "feature is not an object"}))
            continue
        props = _blank_to_none(dict(feature.get("properties") or {}))
        geometry = feature.get("geometry")
        if isinstance(geometry, dict) and geometry.get("type") == "Point":
            coords = geometry.get("coordinates") or [None, None]
            props.setdefault("lon", coords[0])
            props.setdefault("lat", coords[1])
        elif geometry is not None:
            props["boundary"] = geometry
        records.append((number, props))
    return records, []


def _check(
    model: type[BaseModel],
    records: list[tuple[int, dict[str, Any]]],
    errors: list[LineError],
    key: str,
) -> Parsed:
    parsed = Parsed(errors=errors)
    seen: dict[str, int] = {}
    for line, record in records:
        if "__error__" in record:
            message = str(record["__error__"])
            parsed.errors.append(LineError(line, None, message, "not_a_feature"))
            continue
        if isinstance(record.get("boundary"), str):
            try:
                record["boundary"] = json.loads(record["boundary"])
            except json.JSONDecodeError:
                message = "boundary is not GeoJSON"
                parsed.errors.append(LineError(line, "boundary", message, "not_geojson"))
                continue
        try:
            row = model.model_validate(record).model_dump()
        except ValidationError as exc:
            parsed.errors.extend(check_failed(line, err) for err in exc.errors())
            continue
        if row[key] in seen:
            message = f"{row[key]} repeats line {seen[row[key]]}"
            facts = {"value": str(row[key]), "line": seen[row[key]]}
            parsed.errors.append(LineError(line, key, message, "repeats", facts))
            continue
        seen[row[key]] = line
        parsed.rows.append((line, row))
    if not records and not errors:
        parsed.errors.append(empty())
    return parsed


def parse_divisions(raw: bytes, filename: str = "divisions.csv") -> Parsed:
    """Columns: adcode, name, level, parent_adcode, centroid_lon, centroid_lat, boundary."""
    records, errors = _records(raw, filename)
    parsed = _check(DivisionCreate, records, errors, "adcode")
    parsed.rows.sort(key=lambda item: (DIVISION_LEVELS.index(item[1]["level"]), item[1]["adcode"]))
    return parsed


def parse_units(raw: bytes, filename: str = "units.csv") -> Parsed:
    """Columns: code, name, kind, tier, division_adcode, parent_code, phone, address, lon, lat."""
    records, errors = _records(raw, filename)
    parsed = _check(UnitCreate, records, errors, "code")
    # parents before children, so each parent_code refers to a row already written
    by_code = {row["code"]: (line, row) for line, row in parsed.rows}
    ordered: list[tuple[int, dict[str, Any]]] = []
    placed: set[str] = set()

    def place(code: str, trail: tuple[str, ...]) -> None:
        if code in placed or code not in by_code:
            return
        line, row = by_code[code]
        parent = row.get("parent_code")
        if parent in trail:
            message = "parent chain loops back"
            parsed.errors.append(LineError(line, "parent_code", message, "parent_loop"))
            return
        if parent:
            place(parent, (*trail, code))
        placed.add(code)
        ordered.append((line, row))

    for code in by_code:
        place(code, ())
    parsed.rows = ordered
    return parsed
