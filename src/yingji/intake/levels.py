"""事件分级 — a suggested incident level (I–IV) from the casualty thresholds of a sub-type.

Levels follow 突发事件应对法 art. 3: 特别重大 I, 重大 II, 较大 III, 一般 IV. Each sub-type of the
category table carries threshold rules over casualty counts (for production-safety accidents
国务院令493: 30/10/3 dead, 100/50/10 seriously injured). The most severe level any rule reaches
wins; when none is reached the sub-type's default level applies. The result is a suggestion
that the duty officer may always change; the reason names the threshold that decided.

The counts are the ones a person confirmed (the desk's fields, a source system's) or, for a
report sent without any, those read from its words (``casualties.read_casualties``): the
suggestion then says so (``counts: "extracted"`` in its reason's params, "counts extracted from
the text" in the English reason), so nobody mistakes a reading for a confirmed figure.
"""

from __future__ import annotations

from dataclasses import dataclass

from yingji.core.reasons import Why
from yingji.core.reasons import reason as coded
from yingji.intake.classify import LEVELS, CategoryRule, LevelRule

LEVEL_NAMES_ZH = {"I": "特别重大", "II": "重大", "III": "较大", "IV": "一般"}
#: Used when a report has no category: the production-safety thresholds, the most common ones.
FALLBACK_RULES = (
    LevelRule(measure=("dead", "missing"), thresholds=(("I", 30), ("II", 10), ("III", 3))),
    LevelRule(measure=("injured",), thresholds=(("I", 100), ("II", 50), ("III", 10))),
)


@dataclass(frozen=True)
class Casualties:
    """伤亡 — counts known at intake (injured means seriously injured or ill)."""

    dead: int = 0
    injured: int = 0
    missing: int = 0
    trapped: int = 0

    def total(self, fields: tuple[str, ...]) -> int:
        return sum(int(getattr(self, name)) for name in fields)


@dataclass(frozen=True)
class LevelSuggestion:
    level: str  # 'I' | 'II' | 'III' | 'IV'
    reason: str  # in English, for logs and other systems
    #: the same as ``{code, params}`` for the screens: ``level.reached``, ``level.below_default``
    #: (a threshold reached, but the category's default is higher), ``level.default``
    why: Why | None = None


def _label(level: str) -> str:
    return f"{level} ({LEVEL_NAMES_ZH[level]})"


def _reached(rule: LevelRule, casualties: Casualties) -> tuple[str, int, int] | None:
    """(level, value, threshold) of the most severe threshold ``rule`` reaches, if any."""
    value = casualties.total(rule.measure)
    for level, minimum in rule.thresholds:
        if value >= minimum:
            return level, value, minimum
    return None


def suggest_level(
    rule: CategoryRule | None, casualties: Casualties, *, extracted: bool = False
) -> LevelSuggestion:
    """The level the thresholds of ``rule`` suggest for ``casualties``, with the reason;
    ``extracted``: the counts were read from the text, not confirmed (the reason says so)."""
    found = _suggest(rule, casualties)
    if not extracted:
        return found
    why = (
        Why(code=found.why["code"], params={**found.why["params"], "counts": "extracted"})
        if found.why is not None
        else None
    )
    return LevelSuggestion(
        level=found.level, reason=f"{found.reason} (counts extracted from the text)", why=why
    )


def _suggest(rule: CategoryRule | None, casualties: Casualties) -> LevelSuggestion:
    rules = rule.level_rules if rule is not None and rule.level_rules else FALLBACK_RULES
    default = rule.default_level if rule is not None else "IV"
    best: tuple[int, LevelRule, int, int] | None = None
    for level_rule in rules:
        hit = _reached(level_rule, casualties)
        if hit is None:
            continue
        level, value, minimum = hit
        rank = LEVELS.index(level)
        if best is None or rank < best[0]:
            best = (rank, level_rule, value, minimum)
    source = f"default of {rule.code}" if rule is not None else "default"
    category = rule.code if rule is not None else None
    if best is not None:
        rank, level_rule, value, minimum = best
        reached = f"{level_rule.label} {value} ≥ {minimum}"
        measured = {"measure": list(level_rule.measure), "value": value, "minimum": minimum}
        if rank <= LEVELS.index(default):
            return LevelSuggestion(
                level=LEVELS[rank],
                reason=f"{reached} → {_label(LEVELS[rank])}",
                why=coded("level.reached", level=LEVELS[rank], **measured),
            )
        return LevelSuggestion(
            level=default,
            reason=f"{reached} is below the {source} → {_label(default)}",
            why=coded("level.below_default", level=default, category=category, **measured),
        )
    below = ", ".join(
        f"{r.label} {casualties.total(r.measure)} < {r.thresholds[-1][1]}" for r in rules
    )
    short = [
        {
            "measure": list(r.measure),
            "value": casualties.total(r.measure),
            "minimum": r.thresholds[-1][1],
        }
        for r in rules
    ]
    return LevelSuggestion(
        level=default,
        reason=f"no threshold reached ({below}) → {_label(default)}, {source}",
        why=coded("level.default", level=default, category=category, below=short),
    )
