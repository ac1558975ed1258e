"""事件分级: suggested levels at the casualty thresholds."""

from __future__ import annotations

import pytest

from yingji.intake.classify import CategoryRule, load_categories
from yingji.intake.levels import Casualties, suggest_level


def _rule(code: str) -> CategoryRule:
    return next(r for r in load_categories() if r.code == code)


@pytest.mark.parametrize(
    ("dead", "level"),
    [(0, "IV"), (2, "IV"), (3, "III"), (9, "III"), (10, "II"), (29, "II"), (30, "I"), (31, "I")],
)
def test_production_safety_level_follows_the_death_thresholds(dead: int, level: str) -> None:
    assert suggest_level(_rule("accident.production_safety"), Casualties(dead=dead)).level == level


def test_reason_names_the_threshold_that_decided() -> None:
    suggestion = suggest_level(_rule("accident.production_safety"), Casualties(dead=12))
    assert suggestion.reason == "dead+missing 12 ≥ 10 → II (重大)"


def test_missing_people_count_with_the_dead() -> None:
    suggestion = suggest_level(_rule("accident.fire"), Casualties(dead=2, missing=1))
    assert suggestion.level == "III"


def test_most_severe_rule_wins() -> None:
    suggestion = suggest_level(_rule("accident.traffic"), Casualties(dead=3, injured=50))
    assert suggestion.level == "II"
    assert suggestion.reason.startswith("injured 50 ≥ 50")


def test_below_every_threshold_gives_the_default_and_says_why() -> None:
    suggestion = suggest_level(_rule("accident.fire"), Casualties(dead=2, injured=9))
    assert suggestion.level == "IV"
    assert "dead+missing 2 < 3" in suggestion.reason and "default" in suggestion.reason


def test_food_poisoning_with_one_death_is_larger() -> None:
    rule = _rule("public_health.food_poisoning")
    assert suggest_level(rule, Casualties(injured=40)).level == "IV"
    assert suggest_level(rule, Casualties(injured=40, dead=1)).level == "III"


def test_report_without_category_uses_production_safety_thresholds() -> None:
    assert suggest_level(None, Casualties(dead=10)).level == "II"


def test_counts_read_from_the_text_are_marked_as_such() -> None:
    counts = Casualties(dead=3)
    confirmed = suggest_level(_rule("accident.traffic"), counts)
    extracted = suggest_level(_rule("accident.traffic"), counts, extracted=True)
    assert confirmed.level == extracted.level == "III"
    assert confirmed.why is not None and "counts" not in confirmed.why["params"]
    assert extracted.why is not None and extracted.why["params"]["counts"] == "extracted"
    assert extracted.why["code"] == "level.reached"
    assert extracted.reason.endswith("(counts extracted from the text)")
