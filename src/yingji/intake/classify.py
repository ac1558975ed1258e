"""事件分类 — a transparent keyword model that classifies a report's text into a sub-type.

The sub-type table is data (``yingji/data/categories.json``, the platform's own table under the
four GB/T 35561 top categories). Each sub-type has Chinese keywords with weights; a text's score
for a sub-type is the sum of the weights of its keywords that occur in the text, each counted
once, and each character of the text counts for one keyword at most (longest keywords first): in
森林火灾 only 森林火灾 counts, not 火灾; in 被水淹了 one of 被水 / 水淹 / 淹了, not all three.

A keyword counts only as whole words of the text: the text is segmented by ``jieba`` (with the
table's keywords in its dictionary) and a keyword must begin and end where words do, so 突发火灾
(突发 | 火灾) never reads as 发火, 昆明火车站 (昆明 | 火车站) never as 明火, 火锅 never as 火.

The headline and the first sentence weigh more (``HEAD_FACTOR``) than the rest, and a source's
name in an attribution (据中国消防在线消息, 据应急管理部通报) weighs little
(``ATTRIBUTION_FACTOR``): a traffic pile-up quoted from a fire brigade's site stays a traffic
accident. The result names the words that decided, with the weight each counted for, so an
administrator can read and tune it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yingji.intake.gazetteer import segmenter, words_of
from yingji.intake.textsim import normalise

DEFAULT_CATEGORIES_PATH = Path(__file__).resolve().parents[1] / "data" / "categories.json"
#: the four GB/T 35561 categories, and the service matters (服务类事务, decision 0031)
TOP_CATEGORIES = ("natural", "accident", "public_health", "social_security", "service")
LEVELS = ("I", "II", "III", "IV")
CASUALTY_FIELDS = ("dead", "injured", "missing", "trapped")
#: a keyword in the headline or the first sentence counts this many times its weight
HEAD_FACTOR = 2.0
#: the most words of the segmentation one keyword may span (被车撞: 被 | 车 | 撞)
MAX_KEYWORD_WORDS = 6
#: a keyword in an attribution clause (据…消息/报道/通报) counts this share of its weight
ATTRIBUTION_FACTOR = 0.25
_SENTENCE_END = re.compile(r"[。！？!?\n]")
_CLAUSE_END = re.compile(r"[，,；;：:。！？!?\n]")
_ATTRIBUTION = re.compile(
    r"^(?:据|来源[:：]?|转自|综合)[^，,。]*?(?:消息|报道|通报|介绍|发布|称|获悉)"
)


@dataclass(frozen=True)
class LevelRule:
    """One threshold rule: the sum of ``measure`` fields reaching ``thresholds[level]``."""

    measure: tuple[str, ...]
    thresholds: tuple[tuple[str, int], ...]  # (level, minimum), most severe first

    @property
    def label(self) -> str:
        return "+".join(self.measure)


@dataclass(frozen=True)
class CategoryRule:
    """One sub-type (子类) of the category table, e.g. ``accident.fire`` 火灾."""

    code: str
    name_zh: str
    name_en: str
    parent: str
    keywords: tuple[tuple[str, float], ...]
    distance_m: float
    window_minutes: float
    related: tuple[str, ...]
    level_rules: tuple[LevelRule, ...]
    default_level: str
    basis: str


@dataclass(frozen=True)
class Classification:
    """The winning sub-type, its score, the words that decided it and the runner-up."""

    code: str
    score: float
    words: tuple[tuple[str, float], ...]
    runner_up: str | None


def _level_rule(raw: Mapping[str, Any], code: str) -> LevelRule:
    measure = tuple(str(m) for m in raw["measure"])
    unknown = [m for m in measure if m not in CASUALTY_FIELDS]
    if unknown:
        raise ValueError(f"{code}: unknown casualty field(s) {unknown}")
    thresholds = tuple((lvl, int(raw[lvl])) for lvl in LEVELS if lvl in raw)
    values = [v for _, v in thresholds]
    if not thresholds or values != sorted(values, reverse=True):
        raise ValueError(f"{code}: thresholds must be given most severe first and decrease")
    return LevelRule(measure=measure, thresholds=thresholds)


def _category_rule(raw: Mapping[str, Any]) -> CategoryRule:
    code = str(raw["code"])
    parent = str(raw["parent"])
    if parent not in TOP_CATEGORIES or not code.startswith(parent + "."):
        raise ValueError(f"{code}: parent must be one of {TOP_CATEGORIES} and prefix the code")
    default_level = str(raw.get("default_level", "IV"))
    if default_level not in LEVELS:
        raise ValueError(f"{code}: default_level must be one of {LEVELS}")
    match = raw["match"]
    return CategoryRule(
        code=code,
        name_zh=str(raw["name_zh"]),
        name_en=str(raw["name_en"]),
        parent=parent,
        keywords=tuple((normalise(str(k)), float(w)) for k, w in raw["keywords"].items()),
        distance_m=float(match["distance_m"]),
        window_minutes=float(match["window_minutes"]),
        related=tuple(str(c) for c in match.get("related", ())),
        level_rules=tuple(_level_rule(r, code) for r in raw.get("level_rules", ())),
        default_level=default_level,
        basis=str(raw.get("basis", "")),
    )


def parse_categories(document: Mapping[str, Any]) -> list[CategoryRule]:
    """The sub-types of a category document (the JSON's structure), validated."""
    rules = [_category_rule(raw) for raw in document["subtypes"]]
    codes = [r.code for r in rules]
    if len(set(codes)) != len(codes):
        raise ValueError("duplicate sub-type codes")
    known = set(codes)
    for rule in rules:
        missing = [c for c in rule.related if c not in known]
        if missing:
            raise ValueError(f"{rule.code}: related codes not in the table: {missing}")
    return rules


def load_categories(path: Path | str | None = None) -> list[CategoryRule]:
    """The category table from ``path`` (default: the table shipped with Yingji)."""
    source = Path(path) if path is not None else DEFAULT_CATEGORIES_PATH
    document = json.loads(source.read_text(encoding="utf-8"))
    return parse_categories(document)


def _spans(text: str, word: str) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    start = text.find(word)
    while start >= 0:
        found.append((start, start + len(word)))
        start = text.find(word, start + 1)
    return found


def _factors(norm: str) -> list[tuple[int, int, float]]:
    """(start, end, factor) of the text's parts: the first sentence ``HEAD_FACTOR``, an
    attribution clause ``ATTRIBUTION_FACTOR``, the rest 1."""
    parts: list[tuple[int, int, float]] = []
    head = _SENTENCE_END.search(norm)
    head_end = head.end() if head and head.end() < len(norm) else len(norm)
    start = 0
    for found in [*_CLAUSE_END.finditer(norm), None]:
        end = found.end() if found else len(norm)
        if end > start:
            factor = HEAD_FACTOR if start < head_end and head_end < len(norm) else 1.0
            if _ATTRIBUTION.match(norm[start:end]):
                factor = ATTRIBUTION_FACTOR
            parts.append((start, end, factor))
        start = end
    return parts


class Classifier:
    """Keyword classifier over a category table; ``classify`` explains itself."""

    def __init__(self, categories: Sequence[CategoryRule]) -> None:
        self._order = {rule.code: i for i, rule in enumerate(categories)}
        by_word: dict[str, list[tuple[str, float]]] = {}
        for rule in categories:
            for word, weight in rule.keywords:
                if word:
                    by_word.setdefault(word, []).append((rule.code, weight))
        # Longest first, so a shorter word can check whether a longer one already covers it.
        self._words = sorted(by_word.items(), key=lambda item: (-len(item[0]), item[0]))
        self._lookup = dict(self._words)
        self._longest = max((len(w) for w in by_word), default=0)
        self._segmenter = segmenter(
            (w for w, uses in by_word.items() if len(w) > 1 and any(x > 0 for _, x in uses)),
            floor=0,
        )

    def _found(self, text: str) -> list[tuple[str, float]]:
        """The keywords that count in ``text`` and the factor of where each counts most.

        Only runs of whole words can be keywords, so the candidates are the runs of up to
        ``MAX_KEYWORD_WORDS`` words of the segmentation that spell one; taken longest first, a
        run overlapping one already taken does not count."""
        norm = normalise(text)
        words = words_of(norm, self._segmenter)
        candidates: list[tuple[str, int, int]] = []
        for i in range(len(words)):
            run = ""
            for j in range(i, min(len(words), i + MAX_KEYWORD_WORDS)):
                run += words[j][0]
                if len(run) > self._longest:
                    break
                if run in self._lookup:
                    candidates.append((run, words[i][1], words[j][2]))
        candidates.sort(key=lambda item: (-len(item[0]), item[0], item[1]))
        parts = _factors(norm)
        covered: list[tuple[int, int]] = []
        counted: dict[str, float] = {}
        for word, start, end in candidates:
            if any(cs < end and start < ce for cs, ce in covered):
                continue
            covered.append((start, end))
            factor = next((f for ps, pe, f in parts if ps <= start < pe), 1.0)
            counted[word] = max(counted.get(word, factor), factor)
        return list(counted.items())

    def matched_words(self, text: str) -> list[str]:
        """The keywords that count in ``text`` (longest first; each word once; whole words
        only; a word overlapping one already counted does not count)."""
        return [word for word, _ in self._found(text)]

    def scores(self, text: str) -> dict[str, tuple[float, list[tuple[str, float]]]]:
        """Per sub-type: the score and the (word, weight as counted) pairs that made it."""
        result: dict[str, tuple[float, list[tuple[str, float]]]] = {}
        for word, factor in self._found(text):
            for code, weight in self._lookup[word]:
                score, words = result.get(code, (0.0, []))
                counted = round(weight * factor, 6)
                words.append((word, counted))
                result[code] = (score + counted, words)
        return result

    def classify(self, text: str) -> Classification | None:
        """The best sub-type for ``text``, or None when no positive evidence at all."""
        scored = self.scores(text)
        ranked = sorted(
            (-round(score, 6), -sum(1 for _, w in words if w > 0), self._order[code], code)
            for code, (score, words) in scored.items()
            if score > 0
        )
        if not ranked:
            return None
        code = ranked[0][3]
        score, words = scored[code]
        ordered = tuple(sorted(words, key=lambda item: (-item[1], item[0])))
        runner_up = ranked[1][3] if len(ranked) > 1 else None
        return Classification(code=code, score=round(score, 6), words=ordered, runner_up=runner_up)


def category_names(categories: Iterable[CategoryRule]) -> dict[str, str]:
    """``code → name_zh`` for display."""
    return {rule.code: rule.name_zh for rule in categories}
