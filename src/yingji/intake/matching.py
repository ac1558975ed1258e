"""事件归并 — does a new report describe an incident already open?

A candidate incident is considered only when its category is related to the report's (the same
sub-type, a sub-type listed in ``related`` either way, a top category and its sub-types, or no
category on either side) and it lies inside the report's window: the sub-type's distance
(a building fire: hundreds of metres; a flood: kilometres) and time (minutes to hours, counted
from the incident's first..last report). A report or incident without a point is placed by its
division (行政区划): the same village still matches, with a penalty; a town or county matches
more weakly.

Inside the window a candidate gets a score in [0, 1]: the logistic of a sum of log-odds
evidence (the ``W_*`` weights) — text similarity (``textsim``), category affinity, closeness in
space (after a GPS allowance) and in time, and the places both sides name: the same spot (a
自然村, a bridge) counts for, two different spots or villages count against. A name many
villages share (村委会) is placed by the side's own point. The reason names each piece. At or above
``join_threshold`` the report joins the best candidate — unless another candidate scores nearly
as high, which makes it a suggestion; between the thresholds the best candidates are offered to
the duty officer as possible duplicates; below, the report opens a new incident.

``window(code)`` gives the widest window any related category may use, so the database layer
can pre-select candidates with a bounding box (``core.geo.radius_bbox``) and a time range.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from yingji.core.geo import haversine_m
from yingji.core.reasons import Why
from yingji.core.reasons import reason as coded
from yingji.intake.classify import CategoryRule
from yingji.intake.textsim import (
    NUMBERED_SUFFIXES,
    TextComparison,
    TextProfile,
    TextProfiler,
    compare,
    cosines,
)

Outcome = Literal["join", "suggest", "new"]

#: Evidence weights (log-odds that the report describes the candidate). Fitted by logistic
#: regression on a generated typhoon day (``bench/dedupe.py``, seed 11; checked on seeds 7, 23,
#: 42) and rounded; an administrator can read each one as "how much this piece of evidence counts".
PRIOR = -15.0  # before any evidence: a report is rarely about one given candidate
W_BIGRAM = 0.0  # × binary cosine of character bigrams (adds nothing beyond characters and concepts)
W_UNIGRAM = 2.9  # × binary cosine of characters
W_CONCEPT = 4.4  # × cosine of concepts (淹/进水 …)
W_NEAR = 7.2  # × (1 − (distance − allowance) / window), points on both sides
W_DIVISION = 11.5  # × division closeness when a side has no point
W_NO_POINT = -1.0
W_TIME = 7.1  # × (1 − minutes / window)
W_NUMBER_SHARED = 0.8  # both name 3号楼 / 5组
W_NUMBER_CONFLICT = -1.1  # 3号楼 vs 5号楼
W_SPOT_SHARED = 0.9  # both name the same spot of the gazetteer (a 自然村, a bridge …)
W_SPOT_CONFLICT = -4.9  # each names a spot, and no text of the incident names the report's
W_PLACE_CONFLICT = -6.0  # two different villages (neither inside the other)
#: By category affinity: the same sub-type, parent/top category, unknown, related family.
W_CATEGORY = {
    "same category": 0.0,
    "parent category": -0.5,
    "category unknown": -0.5,
    "related category": -4.4,
}
#: How the two categories relate, as ``match.evidence`` says it (``affinity``; the web app's
#: words are ``words.match.affinity.<it>``)
Affinity = Literal["same", "parent", "unknown", "related"]
AFFINITY: dict[str, Affinity] = {
    "same category": "same",
    "parent category": "parent",
    "category unknown": "unknown",
    "related category": "related",
}
#: The common place of two sides without a point (``division``; ``words.match.division.<it>``)
Closeness = Literal["village", "town", "none"]
#: Where a side's points come from: its own point, its callers' locations, named places
Located = Literal["own", "caller", "named"]
#: What the places and numbers both texts name say (each of ``names``; ``words.match.<kind>``)
Finding = Literal["both_name", "places_differ", "spots_differ", "numbers_differ"]
#: The most text and shared names can add (to skip comparing texts that cannot matter).
MAX_TEXT_AND_NAMES = W_BIGRAM + W_UNIGRAM + W_CONCEPT + W_NUMBER_SHARED + W_SPOT_SHARED
#: Distances up to this say nothing: phone GPS in the hills and the spread of one incident.
POINT_ALLOWANCE_M = 150.0
#: A distance beyond the window (a named place's point may be off) costs at most this share.
NEAR_FLOOR = -0.5
#: Category affinity (kept for callers).
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
class CallerFix:
    """主叫定位 — where the phone of a 110/119/120 caller was (handset AML/GNSS or the base
    station's cell), with the accuracy radius the operator states, in metres. The caller is
    usually at the incident, but the fix is only as good as its radius."""

    lon: float
    lat: float
    accuracy_m: float


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
    caller: CallerFix | None = None  # 110/119/120: the caller's location, with its accuracy


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
    callers: list[CallerFix] = field(default_factory=list)  # its reports' caller locations


@dataclass(frozen=True)
class MatchScore:
    score: float
    distance_m: float | None
    minutes: float
    text_similarity: float
    reason: str  # in English, for logs and tests
    eligible: bool = True
    #: the evidence as data (``match.evidence``): category affinity, place, minutes, text,
    #: the places and numbers both name or contradict, and each piece's log-odds
    why: Why | None = None


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
    reason: str  # in English, for logs and other systems
    suggestions: list[Suggestion]
    #: the same as ``{code, params}``: ``match.join``, ``match.suggest``, ``match.ambiguous``
    #: (each with the best candidate's ``evidence``), ``match.below`` or ``match.none``
    why: Why | None = None


def _logistic(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(logit, 50.0), -50.0)))


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
        join_threshold: float = 0.6,
        suggest_threshold: float = 0.1,
        ambiguity_margin: float = 0.2,
        max_suggestions: int = 5,
        profiler: TextProfiler | None = None,
        default_window: tuple[float, float] = DEFAULT_WINDOW,
    ) -> None:
        if not 0.0 <= suggest_threshold <= join_threshold <= 1.0:
            raise ValueError("need 0 ≤ suggest_threshold ≤ join_threshold ≤ 1")
        self.join_threshold = join_threshold
        self.suggest_threshold = suggest_threshold
        self.ambiguity_margin = ambiguity_margin
        clipped = min(max(suggest_threshold, 1e-9), 1.0 - 1e-9)
        self._suggest_logit = math.log(clipped / (1.0 - clipped))
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
        """The report's text profile; a shared name (村委会) placed by the report's own point."""
        profile = report.profile or self.profiler.profile(
            " ".join(filter(None, (report.address, report.text)))
        )
        if profile.unresolved and report.lon is not None and report.lat is not None:
            profile = self.profiler.placed_near(profile, report.lon, report.lat)
        return profile

    def _candidate_profiles(self, candidate: CandidateIncident) -> list[TextProfile]:
        if not candidate.profiles:
            texts = list(candidate.texts)
            if candidate.address:
                texts.append(candidate.address)
            candidate.profiles = [self.profiler.profile(t) for t in texts]
        if candidate.lon is not None and candidate.lat is not None:
            lon, lat = candidate.lon, candidate.lat
            if any(p.unresolved for p in candidate.profiles):
                candidate.profiles = [
                    self.profiler.placed_near(p, lon, lat) for p in candidate.profiles
                ]
        return candidate.profiles

    def _best_text(self, profile: TextProfile, candidate: CandidateIncident) -> TextComparison:
        best: TextComparison | None = None
        for other in self._candidate_profiles(candidate):
            comparison = compare(profile, other)
            if best is None or comparison.score > best.score:
                best = comparison
        return best or TextComparison(score=0.0, cosine=0.0, shared_places=(), conflict=None)

    @staticmethod
    def _points(
        lon: float | None,
        lat: float | None,
        callers: Sequence[CallerFix],
        profiles: Sequence[TextProfile],
    ) -> tuple[list[tuple[float, float, float]], Located]:
        """A side's points as (lon, lat, accuracy_m), and where they come from: its own point
        (GPS or geocoded), else its callers' locations, else the places its texts name."""
        if lon is not None and lat is not None:
            return [(lon, lat, 0.0)], "own"
        if callers:
            return [(c.lon, c.lat, c.accuracy_m) for c in callers], "caller"
        return [(x, y, 0.0) for p in profiles for x, y in p.points], "named"

    def _place(
        self,
        report: ReportFacts,
        candidate: CandidateIncident,
        max_distance: float,
        profiles: tuple[TextProfile, Sequence[TextProfile]],
    ) -> tuple[float, float | None, str, dict[str, Any]] | None:
        """(log-odds, distance_m, phrase, the same as data) or None when outside the window.

        A caller's location counts as a point whose accuracy radius is added to the allowance
        and whose weight shrinks as the radius grows against the window (``trust``); when the
        divisions say more than a coarse fix, the divisions' evidence is taken instead."""
        callers = [report.caller] if report.caller is not None else []
        mine, how = self._points(report.lon, report.lat, callers, [profiles[0]])
        theirs, their_how = self._points(
            candidate.lon, candidate.lat, candidate.callers, profiles[1]
        )
        closeness = division_closeness(report.division_adcode, candidate.division_adcode)
        by_division = None
        if closeness is not None:
            shared: dict[float, Closeness] = {SAME_VILLAGE: "village", SAME_TOWN: "town"}
            division = shared.get(closeness, "none")
            phrase = {"village": "same village", "town": "same town"}.get(
                division, "no common place"
            )
            odds = W_DIVISION * closeness + W_NO_POINT
            by_division = (odds, None, f"{phrase} (no point)", {"division": division})
        if not (mine and theirs):
            return by_division
        distance, slack = min(
            ((haversine_m(a[0], a[1], b[0], b[1]), a[2] + b[2]) for a in mine for b in theirs),
            key=lambda ds: ds[0] - ds[1],
        )
        fixed = how != "named" and their_how != "named"
        measured = how == "own" and their_how == "own"
        # a caller may call from elsewhere: a caller's location far off costs, but only two
        # measured points (or two towns) put a candidate out of the window
        if distance - slack > max_distance and (measured or closeness is None):
            return None
        beyond = max(distance - POINT_ALLOWANCE_M - slack, 0.0)
        near = max(1.0 - beyond / max_distance, NEAR_FLOOR)
        trust = max_distance / (max_distance + slack)
        where: dict[str, Any] = {"distance_m": round(distance), "named_place": not fixed}
        if slack:
            where["accuracy_m"] = round(slack)
        named = "" if measured else " of a named place" if not fixed else f" ±{slack:.0f} m"
        by_point = (W_NEAR * near * trust, distance, f"within {distance:.0f} m{named}", where)
        if slack and by_division is not None and by_division[0] > by_point[0]:
            return by_division
        return by_point

    def beyond_reach(self, report: ReportFacts, candidate: CandidateIncident) -> bool:
        """Whether no text could make ``candidate`` even a suggestion for ``report``, judged
        from the measured points of both, the categories and the times alone — the caller
        may then skip reading the candidate's texts. False whenever a side has no point."""
        here = (report.lon, report.lat)
        there = (candidate.lon, candidate.lat)
        if here[0] is None or here[1] is None or there[0] is None or there[1] is None:
            return False
        affinity = self.category_affinity(report.category_code, candidate.category_code)
        if affinity is None:
            return True
        max_distance, max_minutes = self._pair_window(report.category_code, candidate.category_code)
        minutes = minutes_apart(
            report.received_at, candidate.first_reported_at, candidate.last_reported_at
        )
        distance = haversine_m(here[0], here[1], there[0], there[1])
        if minutes > max_minutes or distance > max_distance:
            return True
        near = max(1.0 - max(distance - POINT_ALLOWANCE_M, 0.0) / max_distance, NEAR_FLOOR)
        time_odds = W_TIME * (1.0 - minutes / max_minutes if max_minutes else 0.0)
        kind = _affinity_kind(affinity)
        bound = PRIOR + W_NEAR * near + time_odds + W_CATEGORY[kind] + MAX_TEXT_AND_NAMES
        return bound < self._suggest_logit

    def score(self, report: ReportFacts, candidate: CandidateIncident) -> MatchScore:
        """How likely ``report`` describes ``candidate`` (0 and ineligible outside the window).

        The evidence is summed as log-odds (see the ``W_*`` weights) and the score is its
        logistic, a probability-like value in [0, 1]; the reason names the evidence."""
        minutes = minutes_apart(
            report.received_at, candidate.first_reported_at, candidate.last_reported_at
        )
        affinity = self.category_affinity(report.category_code, candidate.category_code)
        if affinity is None:
            why = coded("match.unrelated")
            return MatchScore(0.0, None, minutes, 0.0, "unrelated category", False, why)
        max_distance, max_minutes = self._pair_window(report.category_code, candidate.category_code)
        if minutes > max_minutes:
            why = coded("match.too_late", minutes=round(minutes))
            return MatchScore(0.0, None, minutes, 0.0, f"{minutes:.0f} min apart", False, why)
        mine = self.report_profile(report)
        theirs = self._candidate_profiles(candidate)
        place = self._place(report, candidate, max_distance, (mine, theirs))
        if place is None:
            why = coded("match.too_far")
            return MatchScore(0.0, None, minutes, 0.0, "outside the distance window", False, why)
        where_odds, distance, where, place_facts = place
        kind = _affinity_kind(affinity)
        time_odds = W_TIME * (1.0 - minutes / max_minutes if max_minutes else 0.0)
        bound = PRIOR + where_odds + time_odds + W_CATEGORY[kind] + MAX_TEXT_AND_NAMES
        facts = {"affinity": AFFINITY[kind], **place_facts, "minutes": round(minutes)}
        if bound < self._suggest_logit:  # no text could lift it to a suggestion: skip the text
            reason = f"{kind} {where} and {minutes:.0f} min: too far or too late (≤ {bound:+.1f})"
            why = coded("match.out_of_reach", **facts)
            return MatchScore(round(_logistic(bound), 4), distance, minutes, 0.0, reason, True, why)
        text = self._best_text(mine, candidate)
        bigram = unigram = concept = 0.0
        for other in theirs:
            b, u, c = cosines(mine, other)
            bigram, unigram, concept = max(bigram, b), max(unigram, u), max(concept, c)
        text_odds = W_BIGRAM * bigram + W_UNIGRAM * unigram + W_CONCEPT * concept
        names_odds, names = self._names(mine, theirs)
        logit = PRIOR + text_odds + where_odds + time_odds + names_odds + W_CATEGORY[kind]
        total = _logistic(logit)
        reason = f"{kind} {where} and {minutes:.0f} min; text {text.score:.2f}"
        if not names and text.shared_places:
            shared = [self.profiler.label(p) for p in text.shared_places]
            names = [_finding("both_name", names=shared)]
        if names:
            reason += f" ({'; '.join(_phrase(n) for n in names)})"
        evidence = {
            "text": round(text_odds, 1),
            "place": round(where_odds, 1),
            "time": round(time_odds, 1),
            "names": round(names_odds, 1),
            "category": W_CATEGORY[kind],
            "prior": PRIOR,
        }
        reason += (
            f" [evidence: text {text_odds:+.1f}, place {where_odds:+.1f}, time {time_odds:+.1f}"
            f"{f', names {names_odds:+.1f}' if names_odds else ''}"
            f", category {W_CATEGORY[kind]:+.1f}, prior {PRIOR:+.1f}]"
        )
        why = coded(
            "match.evidence", **facts, text=round(text.score, 2), names=names, evidence=evidence
        )
        return MatchScore(
            round(total, 4), distance, minutes, round(text.score, 4), reason, True, why
        )

    def _names(
        self, mine: TextProfile, theirs: Sequence[TextProfile]
    ) -> tuple[float, list[dict[str, Any]]]:
        """Log-odds and findings from the places and numbers both texts name (or contradict)."""
        odds, findings = _place_names(mine, theirs, self.profiler)
        numbers_odds, numbers = _numbers(mine, frozenset().union(*(p.numbered for p in theirs)))
        if numbers:
            findings.append(numbers)
        return odds + numbers_odds, findings

    # ----------------------------------------------------------------------------- decision

    def decide(self, report: ReportFacts, candidates: Sequence[CandidateIncident]) -> MatchDecision:
        """Join the best candidate, offer possible duplicates, or open a new incident."""
        profiled = replace(report, profile=self.report_profile(report))
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
            if ranked:
                why = coded("match.below", score=round(best, 2), threshold=self.suggest_threshold)
                text = f"best candidate {best:.2f} < {self.suggest_threshold:.2f}"
            else:
                why = coded("match.none")
                text = "no open incident of a related category in the window"
            return MatchDecision("new", None, best, text, [], why)
        top, incident = ranked[0]
        top_facts: dict[str, Any] = {"score": round(top.score, 2), "evidence": top.why}
        if top.score < self.join_threshold:
            reason = f"possible duplicate: {top.reason}"
            return MatchDecision(
                "suggest", None, top.score, reason, suggestions, coded("match.suggest", **top_facts)
            )
        runner = ranked[1][0].score if len(ranked) > 1 else 0.0
        if runner >= self.join_threshold and top.score - runner < self.ambiguity_margin:
            reason = f"two incidents score alike ({top.score:.2f} vs {runner:.2f}): {top.reason}"
            why = coded("match.ambiguous", runner=round(runner, 2), **top_facts)
            return MatchDecision("suggest", None, top.score, reason, suggestions, why)
        why = coded("match.join", **top_facts)
        return MatchDecision("join", incident.id, top.score, top.reason, suggestions, why)


def _affinity_kind(affinity: float) -> str:
    """The ``W_CATEGORY`` key of a category affinity."""
    if affinity == SAME_CATEGORY:
        return "same category"
    if affinity == RELATED_CATEGORY:
        return "related category"
    return "category unknown" if affinity == UNKNOWN_CATEGORY else "parent category"


def _spots(places: frozenset[str]) -> frozenset[str]:
    """The places inside a village (自然村, bridges, schools …): keys ``parent/name``."""
    return frozenset(p for p in places if "/" in p)


def _short(places: Iterable[str], names: TextProfiler) -> str:
    return "/".join(sorted(names.label(p) for p in places))


def _finding(kind: Finding, **facts: Any) -> dict[str, Any]:
    """One finding of :func:`_place_names` or :func:`_numbers`, as ``match.evidence`` lists it."""
    return {"kind": kind, **facts}


def _phrase(finding: dict[str, Any]) -> str:
    """A finding of :func:`_place_names` or :func:`_numbers` in English (for the log reason)."""
    kind = finding["kind"]
    if kind == "both_name":
        return f"both name {'、'.join(finding['names'])}"
    return f"{kind.replace('_', ' ')}: {finding['ours']}≠{finding['theirs']}"


def _place_names(
    mine: TextProfile, theirs: Sequence[TextProfile], names: TextProfiler
) -> tuple[float, list[dict[str, Any]]]:
    """Two different villages; the same or two different spots (a 自然村, a bridge …).

    Spots are compared over all the incident's texts: a report naming 下洋自然村 meets an
    incident any of whose reports named 下洋自然村; it differs when the incident's reports
    name only other spots."""
    places = frozenset().union(*(p.places for p in theirs))
    scope = frozenset().union(*(p.place_scope for p in theirs))
    odds, phrases = 0.0, list[dict[str, Any]]()
    if mine.places and places and not (mine.places & scope or places & mine.place_scope):
        odds += W_PLACE_CONFLICT
        ours, other = _short(mine.places, names), _short(places, names)
        if ours == other:  # 村委会 of two villages: say which
            ours = "/".join(sorted(names.label(p, within=True) for p in mine.places))
            other = "/".join(sorted(names.label(p, within=True) for p in places))
        phrases.append(_finding("places_differ", ours=ours, theirs=other))
    mine_spots, their_spots = _spots(mine.places), _spots(places)
    if mine_spots & their_spots:
        odds += W_SPOT_SHARED
    elif mine_spots and their_spots:
        odds += W_SPOT_CONFLICT
        if not phrases:
            ours, other = _short(mine_spots, names), _short(their_spots, names)
            phrases.append(_finding("spots_differ", ours=ours, theirs=other))
    if mine.places & places:
        shared = sorted(names.label(p) for p in mine.places & places)
        phrases.append(_finding("both_name", names=shared))
    return odds, phrases


def _numbers(mine: TextProfile, numbered: frozenset[str]) -> tuple[float, dict[str, Any] | None]:
    """3号楼 and 3号楼 agree; 3号楼 vs 5号楼 differ; 5号 vs 1栋 say nothing."""
    shared = sorted(mine.numbered & numbered)
    if shared:
        return W_NUMBER_SHARED, _finding("both_name", names=shared)
    for suffix in NUMBERED_SUFFIXES:
        left = {n for n in mine.numbered if n.endswith(suffix)}
        right = {n for n in numbered if n.endswith(suffix)}
        if left and right:
            ours, theirs = "/".join(sorted(left)), "/".join(sorted(right))
            return W_NUMBER_CONFLICT, _finding("numbers_differ", ours=ours, theirs=theirs)
    return 0.0, None
