"""Reading division and unit files (CSV, .xlsx or GeoJSON) into checked rows, with line numbers.

Parsing never touches the database. Every problem found is reported with its line (CSV; the
header is line 1) or feature number (GeoJSON) so an operator can mend the file in one pass; the
import flow then writes all rows or none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from yingji.core.tabular import (
    LineError,
    as_text,
    blank_to_none,
    check_failed,
    decode,
    empty,
    is_xlsx,
    not_text,
    read_csv_text,
    read_xlsx,
    too_large,
)
from yingji.org.models import DIVISION_LEVELS
from yingji.org.schemas import DivisionCreate, UnitCreate


@dataclass
class Parsed:
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)


def _records(raw: bytes, filename: str) -> tuple[list[tuple[int, dict[str, Any]]], list[LineError]]:
    if is_xlsx(raw):  # a workbook, told by its first bytes: its cells are read as CSV text
        sheet = read_xlsx(raw)
        records = [(line, {k: as_text(v) for k, v in row.items()}) for line, row in sheet.records]
        return records, [sheet.problem] if sheet.problem is not None else []
    problem = too_large(raw)
    if problem is not None:
        return [], [problem]
    text = decode(raw)
    if text is None:
        return [], [not_text()]
    stripped = text.lstrip()
    if filename.lower().endswith((".geojson", ".json")) or stripped.startswith("{"):
        return _geojson_records(text)
    read = read_csv_text(text)
    return read.records, [read.problem] if read.problem is not None else []


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
        props = blank_to_none(dict(feature.get("properties") or {}))
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
