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
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import tabular
from yingji.core.errors import ValidationFailed
from yingji.core.security import Scope
from yingji.core.tabular import LineError, csv_cell
from yingji.dispatch import schemas, service
from yingji.dispatch.models import RoutingRule
from yingji.org import service as org

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


@dataclass
class ParsedRules:
    rows: list[tuple[int, schemas.RuleRow]] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)


def parse_rules(raw: bytes) -> ParsedRules:
    """Read and check every line; never touches the database."""
    parsed = ParsedRules()
    read = tabular.read_csv(raw)
    if read.problem is not None:
        parsed.errors.append(read.problem)
        return parsed
    records = read.records
    if "role" not in read.header:
        message = "the header has no role column"
        parsed.errors.append(LineError(1, "role", message, "no_role_column"))
        return parsed
    for line, record in records:
        record["category_prefix"] = record.get("category_prefix") or ""
        try:
            row = schemas.RuleRow.model_validate(record)
        except ValidationError as exc:
            parsed.errors.extend(tabular.check_failed(line, err) for err in exc.errors())
            continue
        if row.selector == "unit" and not row.unit_code:
            message = "a rule with selector 'unit' names its unit"
            parsed.errors.append(LineError(line, "unit_code", message, "unit_needed"))
            continue
        parsed.rows.append((line, row))
    if not records:
        parsed.errors.append(tabular.empty())
    return parsed


async def _resolve(
    session: AsyncSession, parsed: ParsedRules, scope: Scope
) -> tuple[list[tuple[schemas.RuleRow, str | None, Any]], list[LineError]]:
    """Division codes to paths and unit codes to ids, each looked up in ``scope`` (a division or
    unit the principal does not see is not found); a rule for everywhere needs a scope of
    everything."""
    errors = list(parsed.errors)
    adcodes = {r.division_adcode for _, r in parsed.rows if r.division_adcode}
    codes = {r.unit_code for _, r in parsed.rows if r.unit_code}
    paths = await org.division_paths(session=session, adcodes=adcodes, scope=scope)
    units = await org.unit_ids_by_code(session=session, codes=codes, scope=scope)
    resolved: list[tuple[schemas.RuleRow, str | None, Any]] = []
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
    return (
        category_prefix,
        tuple(sorted(levels, key=schemas.level_order)),
        path,
        role,
        selector,
        unit,
    )


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
    :func:`yingji.core.tabular.csv_cell`; the import undoes it)."""
    rules = (
        await session.scalars(
            select(RoutingRule)
            .where(service.rules_inside_clause(scope))
            .order_by(RoutingRule.priority, RoutingRule.id)
        )
    ).all()
    codes = await org.unit_codes(session=session)
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
                    "|".join(sorted(rule.levels or [], key=schemas.level_order)),
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
