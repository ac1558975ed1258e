"""The routing table (分类指派表) as a CSV file: export it, edit it in a spreadsheet, import it.

Columns: category_prefix, levels (``I|II``, blank for every level), division_adcode (blank for
everywhere), role (lead | co), selector (unit | town | village), unit_code, priority, note,
active, when_trapped (blank: false; true: the rule applies only when people are trapped). Units
and divisions are named by code, not database id, so a file moves between installations. An
import writes all rows or none, with every problem reported by line (the header is line 1), in
the same shape as the division and unit imports.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core.errors import ValidationFailed
from yingji.core.security import Scope
from yingji.dispatch import service
from yingji.dispatch.models import RoutingRule
from yingji.org import imports
from yingji.org import service as org
from yingji.org.imports import MAX_BYTES, LineError, csv_cell, csv_record
from yingji.org.models import Division, LinkageUnit
from yingji.org.schemas import ADCODE_PATTERN

COLUMNS = [
    "category_prefix",
    "levels",
    "division_adcode",
    "role",
    "selector",
    "unit_code",
    "priority",
    "note",
    "active",
    "when_trapped",
]
LEVELS = ("I", "II", "III", "IV")
TRUE_WORDS = {"1", "true", "yes", "y", "是", "启用"}
FALSE_WORDS = {"0", "false", "no", "n", "否", "停用"}


class RuleRow(BaseModel):
    """One line of the file, as written by a person."""

    category_prefix: str = Field(default="", max_length=64, pattern=r"^[a-z_.]*$")
    levels: list[Literal["I", "II", "III", "IV"]] = Field(default_factory=list)
    division_adcode: str | None = Field(default=None, pattern=ADCODE_PATTERN)
    role: Literal["lead", "co"]
    selector: Literal["unit", "town", "village"] = "unit"
    unit_code: str | None = Field(default=None, max_length=50)
    priority: int = Field(default=100, ge=0, le=10_000)
    note: str | None = Field(default=None, max_length=300)
    active: bool = True
    when_trapped: bool = False

    @field_validator("levels", mode="before")
    @classmethod
    def _split_levels(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            parts = [p.strip().upper() for p in value.replace(",", "|").split("|")]
            return sorted({p for p in parts if p}, key=_level_order)
        return value

    @field_validator("active", "when_trapped", mode="before")
    @classmethod
    def _word_to_bool(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return info.field_name == "active"
        if isinstance(value, str):
            word = value.strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
        return value


def _level_order(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else len(LEVELS)


@dataclass
class ParsedRules:
    rows: list[tuple[int, RuleRow]] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)


def _decode(raw: bytes) -> str | None:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _read_records(
    raw: bytes,
) -> tuple[list[tuple[int, dict[str, Any]]], list[str], LineError | None]:
    """The file's lines as (line number, blank-to-None record), its header, or the one problem
    that stops reading."""
    if len(raw) > MAX_BYTES:
        return [], [], imports.too_large()
    text = _decode(raw)
    if text is None:
        return [], [], LineError(0, None, imports.ENCODING, "encoding")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    records: list[tuple[int, dict[str, Any]]] = []
    try:
        records.extend((reader.line_num, csv_record(row)) for row in reader)
    except csv.Error as exc:
        return [], [], imports.not_csv(reader.line_num, exc)
    return records, [f.strip() for f in reader.fieldnames or []], None


def parse_rules(raw: bytes) -> ParsedRules:
    """Read and check every line; never touches the database."""
    parsed = ParsedRules()
    records, header, problem = _read_records(raw)
    if problem is not None:
        parsed.errors.append(problem)
        return parsed
    if "role" not in header:
        message = "the header has no role column"
        parsed.errors.append(LineError(1, "role", message, "no_role_column"))
        return parsed
    for line, record in records:
        record["category_prefix"] = record.get("category_prefix") or ""
        try:
            row = RuleRow.model_validate(record)
        except ValidationError as exc:
            parsed.errors.extend(imports.check_failed(line, err) for err in exc.errors())
            continue
        if row.selector == "unit" and not row.unit_code:
            message = "a rule with selector 'unit' names its unit"
            parsed.errors.append(LineError(line, "unit_code", message, "unit_needed"))
            continue
        parsed.rows.append((line, row))
    if not records:
        parsed.errors.append(imports.empty())
    return parsed


async def _resolve(
    session: AsyncSession, parsed: ParsedRules, scope: Scope
) -> tuple[list[tuple[RuleRow, str | None, Any]], list[LineError]]:
    """Division codes to paths and unit codes to ids, each looked up in ``scope`` (a division or
    unit the principal does not see is not found); a rule for everywhere needs a scope of
    everything."""
    errors = list(parsed.errors)
    adcodes = {r.division_adcode for _, r in parsed.rows if r.division_adcode}
    codes = {r.unit_code for _, r in parsed.rows if r.unit_code}
    paths = (
        dict(
            (
                await session.execute(
                    org.division_query(scope)
                    .with_only_columns(Division.adcode, Division.path)
                    .where(Division.adcode.in_(adcodes))
                )
            ).all()
        )
        if adcodes
        else {}
    )
    units = (
        dict(
            (
                await session.execute(
                    org.unit_query(scope)
                    .with_only_columns(LinkageUnit.code, LinkageUnit.id)
                    .where(LinkageUnit.code.in_(codes))
                )
            ).all()
        )
        if codes
        else {}
    )
    resolved: list[tuple[RuleRow, str | None, Any]] = []
    for line, row in parsed.rows:
        ok = True
        if not row.division_adcode and not scope.everything:
            errors.append(
                LineError(
                    line,
                    "division_adcode",
                    "permission_denied: a rule for everywhere is set by an administrator of "
                    "everything; name a division of your area",
                    "permission_denied",
                )
            )
            ok = False
        if row.division_adcode and row.division_adcode not in paths:
            errors.append(
                LineError(
                    line,
                    "division_adcode",
                    f"division_not_found: no division {row.division_adcode}",
                    "division_not_found",
                    {"adcode": row.division_adcode},
                )
            )
            ok = False
        if row.unit_code and row.unit_code not in units:
            errors.append(
                LineError(
                    line,
                    "unit_code",
                    f"unit_not_found: no linkage unit {row.unit_code}",
                    "unit_not_found",
                    {"code": row.unit_code},
                )
            )
            ok = False
        if ok:
            path = paths[row.division_adcode] if row.division_adcode else None
            unit_id = units[row.unit_code] if row.unit_code else None
            resolved.append((row, path, unit_id))
    return resolved, errors


def _key(
    category_prefix: str, levels: list[str], path: str | None, role: str, selector: str, unit: Any
) -> tuple[Any, ...]:
    return (category_prefix, tuple(sorted(levels, key=_level_order)), path, role, selector, unit)


def rule_key(rule: RoutingRule) -> tuple[Any, ...]:
    """What makes a rule the rule it is: category, levels, area, role, selector and unit. Two
    rules with the same key would route the same incidents to the same unit twice; priority, note,
    active and when_trapped are settings of the one rule."""
    return _key(
        rule.category_prefix,
        list(rule.levels or []),
        rule.division_path,
        rule.role,
        rule.selector,
        rule.unit_id,
    )


async def same_rule(*, session: AsyncSession, rule: RoutingRule) -> RoutingRule | None:
    """Another rule with the key of ``rule`` (flushed), if there is one."""
    others = await session.scalars(
        select(RoutingRule).where(
            RoutingRule.id != rule.id,
            RoutingRule.category_prefix == rule.category_prefix,
            RoutingRule.role == rule.role,
            RoutingRule.selector == rule.selector,
        )
    )
    key = rule_key(rule)
    return next((other for other in others if rule_key(other) == key), None)


async def import_rules(
    *, session: AsyncSession, parsed: ParsedRules, replace: bool, scope: Scope
) -> tuple[int, int]:
    """Write every row or none. A row whose category, levels, area, role, selector and unit match
    an existing rule updates its priority, note, active and when_trapped; ``replace`` first
    deletes the rules inside ``scope``'s area (every rule for a scope of everything). Every row
    must lie in that area. Returns (created, updated)."""
    resolved, errors = await _resolve(session, parsed, scope)
    if errors:
        errors.sort(key=lambda e: e.line)
        raise ValidationFailed(
            "import_failed",
            f"{len(errors)} problem(s) found; nothing was imported",
            {"errors": [e.as_dict() for e in errors[:1000]], "error_count": len(errors)},
        )
    existing: dict[tuple[Any, ...], RoutingRule] = {}
    inside = service.rules_inside_clause(scope)
    if replace:
        await session.execute(delete(RoutingRule).where(inside))
    else:
        for rule in (await session.scalars(select(RoutingRule).where(inside))).all():
            existing.setdefault(rule_key(rule), rule)
    created = updated = 0
    for row, path, unit_id in resolved:
        key = _key(row.category_prefix, list(row.levels), path, row.role, row.selector, unit_id)
        found = existing.get(key)
        if found is not None:
            found.priority, found.note, found.active = row.priority, row.note, row.active
            found.when_trapped = row.when_trapped
            updated += 1
            continue
        rule = RoutingRule(
            category_prefix=row.category_prefix,
            levels=list(row.levels),
            division_path=path,
            role=row.role,
            selector=row.selector,
            unit_id=unit_id,
            priority=row.priority,
            note=row.note,
            active=row.active,
            when_trapped=row.when_trapped,
        )
        session.add(rule)
        existing[key] = rule
        created += 1
    await session.flush()
    return created, updated


async def export_rules(*, session: AsyncSession, scope: Scope) -> str:
    """The rules the principal may import back as CSV text (UTF-8 with a BOM, so spreadsheet
    programs read Chinese): the whole table for a scope of everything, else the rules inside its
    area. A text cell a spreadsheet would run as a formula is neutralised (see
    :func:`yingji.org.imports.csv_cell`; the import undoes it)."""
    rules = (
        await session.scalars(
            select(RoutingRule)
            .where(service.rules_inside_clause(scope))
            .order_by(RoutingRule.priority, RoutingRule.id)
        )
    ).all()
    codes = dict((await session.execute(select(LinkageUnit.id, LinkageUnit.code))).all())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for rule in rules:
        adcode = rule.division_path.rstrip("/").rsplit("/", 1)[-1] if rule.division_path else ""
        writer.writerow(
            [
                csv_cell(cell)
                for cell in (
                    rule.category_prefix,
                    "|".join(sorted(rule.levels or [], key=_level_order)),
                    adcode,
                    rule.role,
                    rule.selector,
                    codes.get(rule.unit_id, "") if rule.unit_id else "",
                    rule.priority,
                    rule.note or "",
                    "true" if rule.active else "false",
                    "true" if rule.when_trapped else "false",
                )
            ]
        )
    return "\ufeff" + out.getvalue()
