"""事件归并 — does a new report describe an incident already open?

A candidate incident is considered only when its category is related to the report's (the same
sub-type, a sub-type listed in ``related`` either way, a top category and its sub-types, or no
category on either side) and it lies inside the report's window: the sub-type's distance
(a building fire: hundreds of metres; a flood: kilometres) and time (minutes to hours, counted
from the incident's first..last report). A report or incident without a point is placed by its
division (行政区划): the same village still matches, with a penalty; a town or county matches
more weakly.

Inside the window a candidate gets a score in [0, 1]: a weighted sum of text similarity
(``textsim``), category affinity, closeness in space and closeness in time. At or above
``join_threshold`` the report joins the best candidate — unless another candidate scores nearly
as high, which makes it a suggestion; between the thresholds the best candidates are offered to
the duty officer as possible duplicates; below, the report opens a new incident.

``window(code)`` gives the widest window any related category may use, so the database layer
can pre-select candidates with a bounding box (``core.geo.radius_bbox``) and a time range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from yingji.core.geo import haversine_m
from yingji.intake.classify import CategoryRule
from yingji.intake.textsim import TextComparison, TextProfile, TextProfiler, compare

Outcome = Literal["join", "suggest", "new"]

#: Weights of the score's parts (they sum to 1).
TEXT_WEIGHT = 0.44
CATEGORY_WEIGHT = 0.16
PLACE_WEIGHT = 0.2
TIME_WEIGHT = 0.2
#: Category affinity of the pair.
SAME_CATEGORY = 1.0
PARENT_CATEGORY = 0.75
UNKNOWN_CATEGORY = 0.6
RELATED_CATEGORY = 0.5
#: Place closeness when one side has no point: same village, same town, same county or unknown.
SAME_VILLAGE = 0.55
SAME_TOWN = 0.3
SAME_COUNTY = 0.0
DEFAULT_WINDOW = (2000.0, 180.0)


@dataclass(frozen=True)
class ReportFacts:
    """接报 — what matching needs to know about one report."""

    text: str
    category_code: str | None
    lon: float | None
    lat: float | None
    division_adcode: str | None
    received_at: datetime
    address: str | None = None
    profile: TextProfile | None = None  # precomputed (text + address); computed when None


@dataclass
class CandidateIncident:
    """An open incident near the report, as the database layer pre-selected it."""

    id: str
    category_code: str | None
    lon: float | None
    lat: float | None
    division_adcode: str | None
    first_reported_at: datetime
    last_reported_at: datetime
    texts: list[str] = field(default_factory=list)
    address: str | None = None
    profiles: list[TextProfile] = field(default_factory=list)  # one per text; filled when empty


@dataclass(frozen=True)
class MatchScore:
    score: float
    distance_m: float | None
    minutes: float
    text_similarity: float
    reason: str
    eligible: bool = True


@dataclass(frozen=True)
class Suggestion:
    incident_id: str
    score: float
    distance_m: float | None
    minutes: float


@dataclass(frozen=True)
class MatchDecision:
    outcome: Outcome
    incident_id: str | None
    score: float
    reason: str
    suggestions: list[Suggestion]


def division_key(adcode: str) -> str:
    """The significant prefix of an adcode: 331126101004 village, 331126101 town, 331126 county."""
    code = adcode.strip()
    if len(code) == 12 and code.endswith("000"):
        code = code[:9]
    if len(code) == 9 and code.endswith("000"):
        code = code[:6]
    if len(code) == 6:
        while len(code) > 2 and code.endswith("00"):
            code = code[:-2]
    return code


def division_closeness(a: str | None, b: str | None) -> float | None:
    """Place closeness of two divisions; None when in different towns.

    The same village scores best; two villages of one town count as the same town (a report
    placed by its point near a village border may fall in the neighbour village)."""
    if not a or not b:
        return SAME_COUNTY
    ka, kb = division_key(a), division_key(b)
    if ka == kb and len(ka) >= 12:
        return SAME_VILLAGE
    if ka[:9] == kb[:9] and min(len(ka), len(kb)) >= 9:
        return SAME_TOWN
    if ka.startswith(kb) or kb.startswith(ka):
        return SAME_COUNTY
    return None


def minutes_apart(at: datetime, first: datetime, last: datetime) -> float:
    """Minutes from ``at`` to the interval ``first..last`` (0 inside it)."""
    if at < first:
        return (first - at).total_seconds() / 60.0
    if at > last:
        return (at - last).total_seconds() / 60.0
    return 0.0


class Matcher:
    """Scores reports against open incidents and decides join / suggest / new."""

    def __init__(
        self,
        categories: Sequence[CategoryRule],
        *,
        join_threshold: float = 0.68,
        suggest_threshold: float = 0.42,
        ambiguity_margin: float = 0.04,
        max_suggestions: int = 5,
        profiler: TextProfiler | None = None,
        default_window: tuple[float, float] = DEFAULT_WINDOW,
    ) -> None:
        if not 0.0 <= suggest_threshold <= join_threshold <= 1.0:
            raise ValueError("need 0 ≤ suggest_threshold ≤ join_threshold ≤ 1")
        self.join_threshold = join_threshold
        self.suggest_threshold = suggest_threshold
        self.ambiguity_margin = ambiguity_margin
        self.max_suggestions = max_suggestions
        self.profiler = profiler or TextProfiler()
        self._rules = {rule.code: rule for rule in categories}
        self._default = default_window
        related: dict[str, set[str]] = {code: set() for code in self._rules}
        for rule in categories:  # relatedness is symmetric whichever side lists it
            for other in rule.related:
                related[rule.code].add(other)
                related.setdefault(other, set()).add(rule.code)
        self._related = related

    # ------------------------------------------------------------------ windows and categories

    def _own_window(self, code: str | None) -> tuple[float, float]:
        rule = self._rules.get(code) if code else None
        return (rule.distance_m, rule.window_minutes) if rule else self._default

    def window(self, category_code: str | None) -> tuple[float, timedelta]:
        """The widest (distance_m, time) any candidate of a related category may be matched at."""
        if category_code is None or category_code not in self._rules:
            distance, minutes = self._default
            return distance, timedelta(minutes=minutes)
        codes = {category_code, *self._related.get(category_code, ())}
        windows = [self._own_window(c) for c in codes]
        return max(w[0] for w in windows), timedelta(minutes=max(w[1] for w in windows))

    def _pair_window(
        self, report_code: str | None, incident_code: str | None
    ) -> tuple[float, float]:
        if report_code is None or report_code not in self._rules:
            own, default = self._own_window(incident_code), self._default
            return min(own[0], default[0]), min(own[1], default[1])
        mine, theirs = self._own_window(report_code), self._own_window(incident_code)
        return max(mine[0], theirs[0]), max(mine[1], theirs[1])

    def category_affinity(self, a: str | None, b: str | None) -> float | None:
        """How alike two category codes are; None when unrelated (never matched)."""
        if a is None or b is None:
            return UNKNOWN_CATEGORY
        if a == b:
            return SAME_CATEGORY
        if a.split(".")[0] == b or b.split(".")[0] == a:
            return PARENT_CATEGORY
        if b in self._related.get(a, ()):
            return RELATED_CATEGORY
        return None

    # ------------------------------------------------------------------------------ scoring

    def report_profile(self, report: ReportFacts) -> TextProfile:
        if report.profile is not None:
            return report.profile
        return self.profiler.profile(" ".join(filter(None, (report.address, report.text))))

    def _candidate_profiles(self, candidate: CandidateIncident) -> list[TextProfile]:
        if not candidate.profiles:
            texts = list(candidate.texts)
            if candidate.address:
                texts.append(candidate.address)
            candidate.profiles = [self.profiler.profile(t) for t in texts]
        return candidate.profiles

    def _best_text(self, profile: TextProfile, candidate: CandidateIncident) -> TextComparison:
        best: TextComparison | None = None
        for other in self._candidate_profiles(candidate):
            comparison = compare(profile, other)
            if best is None or comparison.score > best.score:
                best = comparison
        return best or TextComparison(score=0.0, cosine=0.0, shared_places=(), conflict=None)

    def _place(
        self, report: ReportFacts, candidate: CandidateIncident, max_distance: float
    ) -> tuple[float, float | None, str] | None:
        """(closeness, distance_m, phrase) or None when outside the window."""
        lon, lat, c_lon, c_lat = report.lon, report.lat, candidate.lon, candidate.lat
        if lon is not None and lat is not None and c_lon is not None and c_lat is not None:
            distance = haversine_m(lon, lat, c_lon, c_lat)
            if distance > max_distance:
                return None
            return 1.0 - distance / max_distance, distance, f"within {distance:.0f} m"
        closeness = division_closeness(report.division_adcode, candidate.division_adcode)
        if closeness is None:
            return None
        phrase = {SAME_VILLAGE: "same village", SAME_TOWN: "same town"}.get(
            closeness, "no common place"
        )
        return closeness, None, f"{phrase} (no point)"

    def score(self, report: ReportFacts, candidate: CandidateIncident) -> MatchScore:
        """How likely ``report`` describes ``candidate`` (0 and ineligible outside the window)."""
        minutes = minutes_apart(
            report.received_at, candidate.first_reported_at, candidate.last_reported_at
        )
        affinity = self.category_affinity(report.category_code, candidate.category_code)
        if affinity is None:
            return MatchScore(0.0, None, minutes, 0.0, "unrelated category", eligible=False)
        max_distance, max_minutes = self._pair_window(report.category_code, candidate.category_code)
        if minutes > max_minutes:
            return MatchScore(0.0, None, minutes, 0.0, f"{minutes:.0f} min apart", eligible=False)
        place = self._place(report, candidate, max_distance)
        if place is None:
            return MatchScore(0.0, None, minutes, 0.0, "outside the distance window", False)
        closeness, distance, where = place
        text = self._best_text(self.report_profile(report), candidate)
        total = (
            TEXT_WEIGHT * text.score
            + CATEGORY_WEIGHT * affinity
            + PLACE_WEIGHT * closeness
            + TIME_WEIGHT * (1.0 - minutes / max_minutes if max_minutes else 0.0)
        )
        kind = {SAME_CATEGORY: "same category", RELATED_CATEGORY: "related category"}.get(
            affinity, "category unknown" if affinity == UNKNOWN_CATEGORY else "parent category"
        )
        reason = f"{kind} {where} and {minutes:.0f} min; text {text.score:.2f}"
        if text.conflict:
            reason += f" (places differ: {text.conflict})"
        elif text.shared_places:
            reason += f" (both name {'、'.join(text.shared_places)})"
        return MatchScore(round(total, 4), distance, minutes, round(text.score, 4), reason)

    # ----------------------------------------------------------------------------- decision

    def decide(self, report: ReportFacts, candidates: Sequence[CandidateIncident]) -> MatchDecision:
        """Join the best candidate, offer possible duplicates, or open a new incident."""
        profiled = (
            report if report.profile else replace(report, profile=self.report_profile(report))
        )
        scored = [(self.score(profiled, c), c) for c in candidates]
        ranked = sorted(
            ((s, c) for s, c in scored if s.eligible), key=lambda sc: (-sc[0].score, sc[1].id)
        )
        suggestions = [
            Suggestion(c.id, s.score, s.distance_m, s.minutes)
            for s, c in ranked[: self.max_suggestions]
            if s.score >= self.suggest_threshold
        ]
        if not ranked or ranked[0][0].score < self.suggest_threshold:
            best = ranked[0][0].score if ranked else 0.0
            why = (
                f"best candidate {best:.2f} < {self.suggest_threshold:.2f}"
                if ranked
                else ("no open incident of a related category in the window")
            )
            return MatchDecision("new", None, best, why, [])
        top, incident = ranked[0]
        if top.score < self.join_threshold:
            return MatchDecision(
                "suggest", None, top.score, f"possible duplicate: {top.reason}", suggestions
            )
        runner = ranked[1][0].score if len(ranked) > 1 else 0.0
        if runner >= self.join_threshold and top.score - runner < self.ambiguity_margin:
            reason = f"two incidents score alike ({top.score:.2f} vs {runner:.2f}): {top.reason}"
            return MatchDecision("suggest", None, top.score, reason, suggestions)
        return MatchDecision("join", incident.id, top.score, top.reason, suggestions)
