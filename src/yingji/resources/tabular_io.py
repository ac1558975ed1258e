"""Sheets of resources by kind: the columns of each kind with the Chinese headers offices use,
reading an uploaded sheet's rows into checked values (each problem naming its line, field and
column), and writing templates and exports (.xlsx, CSV, GeoJSON).

Nothing here touches the database; ``imports`` checks what needs it (divisions, owning units,
warehouses) and writes. A problem is a code with params, worded by the console
(``resource.field.<code>`` for a value, ``resource.import.<code>`` for the rest).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from yingji.core import tabular
from yingji.resources import kinds
from yingji.resources.kinds import Field, FieldProblem

#: the pseudo-kind of a stock sheet (batches of supplies in warehouses)
STOCK = "stock"
#: the most problems a job keeps (the count says how many there were)
MAX_ERRORS = 1000

STOCK_FIELDS: tuple[Field, ...] = (
    Field("warehouse_code", "仓库编号", "Warehouse code", required=True, max_length=64),
    Field(
        "item_code",
        "物资编码",
        "Item code",
        required=True,
        max_length=64,
        pattern=r"[0-9A-Za-z_\-.]{1,64}",
    ),
    Field("item_name", "物资名称", "Item name", max_length=200),
    Field("unit_of_measure", "计量单位", "Unit", max_length=20),
    Field("category", "物资类别", "Category", max_length=100),
    Field("batch_no", "批次号", "Batch", required=True, max_length=64),
    Field("quantity", "数量", "Quantity", type="int", required=True, minimum=0, maximum=10**9),
    Field("expires_on", "有效期至", "Expires on", type="date"),
    Field("received_on", "入库日期", "Received on", type="date"),
)


@dataclass
class CellError:
    """One problem of an imported sheet: its line (the header is line 1; 0: the whole file),
    the field and the column header it concerns, a code with params, and English words."""

    line: int
    field: str | None
    column: str | None
    code: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "field": self.field,
            "column": self.column,
            "code": self.code,
            "params": self.params,
            "message": self.message or self.code,
        }


@dataclass
class SheetRow:
    """A checked row: the common columns (``code``, ``name`` …) and the kind's ``attrs``."""

    line: int
    values: dict[str, Any]
    attrs: dict[str, Any]


@dataclass
class CheckedSheet:
    rows: list[SheetRow] = dataclasses.field(default_factory=list)
    errors: list[CellError] = dataclasses.field(default_factory=list)
    #: header word of each field found in the file (for naming columns in later problems)
    columns: dict[str, str] = dataclasses.field(default_factory=dict)


def columns_of(kind: str) -> tuple[tuple[Field, ...], tuple[Field, ...]]:
    """The common fields and the kind's own fields of ``kind``'s sheet (``stock``: its own)."""
    if kind == STOCK:
        return STOCK_FIELDS, ()
    spec = kinds.spec(kind)
    common = tuple(kinds.status_field(spec) if f.key == "status" else f for f in kinds.COMMON)
    return common, spec.fields


def _names(f: Field) -> set[str]:
    return {f.zh, f.key.lower(), f.en.lower()}


def match_header(
    kind: str, header: Sequence[str]
) -> tuple[dict[str, tuple[Field, bool]], list[CellError]]:
    """Which field each header cell names (its Chinese header, key or English label; ``bool``:
    an own field of the kind), and the problems of the header row (line 1): a column no field
    has, a column named twice, a required field without a column."""
    common, own = columns_of(kind)
    by_name: dict[str, tuple[Field, bool]] = {}
    for f in common:
        by_name.update(dict.fromkeys(_names(f), (f, False)))
    for f in own:
        by_name.update(dict.fromkeys(_names(f), (f, True)))
    found: dict[str, tuple[Field, bool]] = {}
    seen: set[str] = set()
    errors: list[CellError] = []
    for column in header:
        if not column:  # an unnamed column is left alone
            continue
        hit = by_name.get(column) or by_name.get(column.lower())
        if hit is None:
            errors.append(
                CellError(1, None, column, "unknown_column", {"column": column}, "unknown column")
            )
        elif hit[0].key in seen:
            errors.append(
                CellError(1, hit[0].key, column, "repeated_column", {"column": column}, "twice")
            )
        else:
            seen.add(hit[0].key)
            found[column] = hit
    errors.extend(
        CellError(1, f.key, f.zh, "missing_column", {"column": f.zh}, "missing column")
        for f in (*common, *own)
        if f.required and f.key not in seen
    )
    return found, errors


class SheetChecker:
    """Checks the rows of a read sheet, a slice at a time (so a job can tell its progress):
    every value converted field by field (``kinds.convert``), each refused value a problem
    naming its line, field and column; a repeated key (``code``; for stock: warehouse, item and
    batch) is refused too."""

    def __init__(
        self, kind: str, header: Sequence[str], problem: tabular.LineError | None = None
    ) -> None:
        self.kind = kind
        self.result = CheckedSheet()
        self.checked = 0  # rows given to :meth:`check`
        self._seen: dict[str, int] = {}
        self._found: dict[str, tuple[Field, bool]] = {}
        self._missing: list[tuple[Field, bool]] = []
        #: whether the rows are worth checking (no problem with the file or its header)
        self.readable = problem is None
        if problem is not None:
            p = problem
            self.result.errors.append(CellError(p.line, p.field, None, p.code, p.params, p.message))
            return
        self._found, self.result.errors = match_header(kind, header)
        self.result.columns = {f.key: column for column, (f, _) in self._found.items()}
        self.readable = not self.result.errors
        common, own = columns_of(kind)
        self._missing = [(f, False) for f in common if f.key not in self.result.columns]
        self._missing += [(f, True) for f in own if f.key not in self.result.columns]

    def check(self, records: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        self.checked += len(records)
        if not self.readable:
            return
        for line, record in records:
            row = self._row(line, record)
            if row is not None:
                self._keep(row)

    def finish(self, problem: tabular.LineError | None = None) -> CheckedSheet:
        """The result, once every row was checked; ``problem``: one met while reading."""
        if problem is not None:
            p = problem
            self.result.errors.append(CellError(p.line, p.field, None, p.code, p.params, p.message))
        elif self.readable and self.checked == 0:
            self.result.errors.append(CellError(0, None, None, "empty", {}, "no rows"))
        return self.result

    def _keep(self, row: SheetRow) -> None:
        v = row.values
        key = (
            (v["warehouse_code"], v["item_code"], v["batch_no"])
            if self.kind == STOCK
            else v["code"]
        )
        ident = json.dumps(key, ensure_ascii=False)
        if ident in self._seen:
            field_key = "batch_no" if self.kind == STOCK else "code"
            column = self.result.columns.get(field_key)
            params = {"value": str(v[field_key]), "line": self._seen[ident]}
            self.result.errors.append(
                CellError(row.line, field_key, column, "repeats", params, "repeats a line")
            )
            return
        self._seen[ident] = row.line
        self.result.rows.append(row)

    def _row(self, line: int, record: Mapping[str, Any]) -> SheetRow | None:
        values: dict[str, Any] = {}
        attrs: dict[str, Any] = {}
        ok = True
        cells = [(column, f, own, record.get(column)) for column, (f, own) in self._found.items()]
        cells += [(f.zh, f, own, None) for f, own in self._missing]
        for column, f, own, raw in cells:
            try:
                value = kinds.convert(f, raw)
            except FieldProblem as problem:
                ok = False
                params = dict(problem.params)
                self.result.errors.append(
                    CellError(line, f.key, column, problem.code, params, str(problem))
                )
                continue
            if own:
                if value is not None:
                    attrs[f.key] = value
            else:
                values[f.key] = value
        if ok and self.kind != STOCK and (values["lon"] is None) != (values["lat"] is None):
            half = "lat" if values["lat"] is None else "lon"
            column = self.result.columns.get(half, half)
            self.result.errors.append(
                CellError(line, half, column, "incomplete_point", {}, "lon and lat go together")
            )
            ok = False
        return SheetRow(line, values, attrs) if ok else None


def check_sheet(kind: str, read: tabular.CsvRead) -> CheckedSheet:
    """Every row of ``read`` checked at once (see :class:`SheetChecker`)."""
    checker = SheetChecker(kind, read.header, read.problem)
    checker.check(read.records)
    return checker.finish()


# --- writing -------------------------------------------------------------------------------------


def header_words(kind: str) -> list[str]:
    common, own = columns_of(kind)
    return [f.zh for f in (*common, *own)]


def choices_sheet(kind: str) -> tabular.Sheet:
    """The second sheet of a template: the allowed words of each choice field (code, word)."""
    common, own = columns_of(kind)
    rows = [
        [f.zh, code, word] for f in (*common, *own) if f.choices for code, word in f.choices.items()
    ]
    return tabular.Sheet("可选值", ["列", "代码", "中文"], rows)


def _sheet_title(kind: str) -> str:
    return "库存" if kind == STOCK else kinds.spec(kind).zh


def template(kind: str, fmt: str) -> bytes:
    """An empty sheet of ``kind`` with its Chinese headers (.xlsx: and the allowed words)."""
    if fmt == "csv":
        return csv_bytes(header_words(kind), [])
    return tabular.write_xlsx(
        [tabular.Sheet(_sheet_title(kind), header_words(kind), []), choices_sheet(kind)]
    )


def _word(f: Field, value: Any) -> Any:
    """A stored value as a cell: choices as their Chinese words, lists joined with 、."""
    if value is None:
        return None
    if f.type == "list" and isinstance(value, list):
        choices = f.choices or {}
        return "、".join(str(choices.get(v, v)) for v in value)
    if f.type == "choice" and f.choices:
        return f.choices.get(str(value), value)
    return value


def cells_of(kind: str, values: Mapping[str, Any], attrs: Mapping[str, Any]) -> list[Any]:
    """One exported row: the common columns from ``values``, the kind's from ``attrs``."""
    common, own = columns_of(kind)
    return [_word(f, values.get(f.key)) for f in common] + [_word(f, attrs.get(f.key)) for f in own]


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """CSV text with a BOM (so spreadsheet programs read the Chinese headers), formula-looking
    text neutralised (``tabular.csv_cell``)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([tabular.csv_cell(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def xlsx_bytes(kind: str, rows: Iterable[Sequence[Any]]) -> bytes:
    return tabular.write_xlsx([tabular.Sheet(_sheet_title(kind), header_words(kind), rows)])


def feature(geometry: dict[str, Any] | None, properties: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": dict(properties)}


def geojson_bytes(features: Iterable[dict[str, Any]]) -> bytes:
    collection = {"type": "FeatureCollection", "features": list(features)}
    return json.dumps(collection, ensure_ascii=False, default=str).encode()
