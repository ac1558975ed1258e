"""The test set of issue 21 (``tests/intake/corpus``): the shares of placements, casualty counts
and categories read right stay above their floors, and no report is placed in the jurisdiction
it is not in (``bench/intake_quality.py`` prints the same figures)."""

from __future__ import annotations

from bench.intake_quality import demo_gazetteer, load_corpus, score
from yingji.intake.classify import Classifier, load_categories


def test_the_test_set_is_read_right() -> None:
    samples = load_corpus()
    assert len(samples) >= 200
    result = score(samples, demo_gazetteer(), Classifier(load_categories()))
    shares = result.shares()
    assert result.placed_wrongly_inside == 0, result.misses
    assert shares["placements"] >= 0.97, result.misses
    assert shares["casualty_counts"] >= 0.95, result.misses
    assert shares["subtypes"] >= 0.95, result.misses
    assert shares["top_categories"] >= 0.98, result.misses
