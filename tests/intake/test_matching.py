"""事件归并: does a report join an open incident, get offered as a duplicate, or open one?"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from yingji.intake.classify import Classifier, load_categories
from yingji.intake.matching import CandidateIncident, Matcher, ReportFacts
from yingji.intake.textsim import Place, TextProfiler, compare, similarity

T0 = datetime(2026, 8, 12, 6, 0, tzinfo=UTC)
LON, LAT = 118.95, 27.62
M_PER_DEG = 111_320.0

GAZETTEER = [
    Place("竹口镇"),
    Place("黄坑村", "竹口镇"),
    Place("大济村", "竹口镇"),
    Place("下洋自然村", "黄坑村", "黄坑村/下洋自然村"),
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_categories(), profiler=TextProfiler(GAZETTEER))


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(load_categories())


def _east(metres: float) -> tuple[float, float]:
    return LON + metres / (M_PER_DEG * math.cos(math.radians(LAT))), LAT


def _incident(text: str, code: str, *, at: datetime = T0, point: bool = True) -> CandidateIncident:
    return CandidateIncident(
        id="E1",
        category_code=code,
        lon=LON if point else None,
        lat=LAT if point else None,
        division_adcode="331126101004",
        first_reported_at=at,
        last_reported_at=at,
        texts=[text],
        address=None,
    )


def _report(
    text: str,
    code: str | None,
    *,
    metres: float = 0.0,
    minutes: float = 0.0,
    point: bool = True,
    division: str | None = "331126101004",
) -> ReportFacts:
    lon, lat = _east(metres)
    return ReportFacts(
        text=text,
        category_code=code,
        lon=lon if point else None,
        lat=lat if point else None,
        division_adcode=division,
        received_at=T0 + timedelta(minutes=minutes),
        address=None,
    )


def test_same_fire_reworded_300_m_and_10_min_later_joins(matcher: Matcher) -> None:
    incident = _incident("竹口镇黄坑村老街一户民房着火了，浓烟很大", "accident.fire")
    report = _report(
        "黄坑村老街那边房子烧起来了，冒黑烟，快来人", "accident.fire", metres=300, minutes=10
    )
    decision = matcher.decide(report, [incident])
    assert decision.outcome == "join"
    assert decision.incident_id == "E1"
    assert "same category within 300 m and 10 min" in decision.reason


def test_same_words_20_km_away_open_a_new_incident(matcher: Matcher) -> None:
    text = "竹口镇黄坑村老街一户民房着火了，浓烟很大"
    decision = matcher.decide(
        _report(text, "accident.fire", metres=20_000), [_incident(text, "accident.fire")]
    )
    assert decision.outcome == "new"
    assert decision.suggestions == []


def test_flood_2_km_and_an_hour_apart_is_joined_or_offered(matcher: Matcher) -> None:
    # The window is an outer limit: evidence decays towards its edge, so a reworded report at
    # 2.9 km / 2 h of a 3 km / 6 h window now opens a new incident; 2 km / 1 h is still offered.
    incident = _incident("黄坑村河水漫堤了，好几户人家进水", "natural.flood")
    report = _report(
        "黄坑村发大水了，房子进水了，需要转移群众", "natural.flood", metres=2_000, minutes=60
    )
    decision = matcher.decide(report, [incident])
    assert decision.outcome in ("join", "suggest")
    assert [s.incident_id for s in decision.suggestions] == ["E1"]


def test_other_category_at_the_same_place_opens_a_new_incident(matcher: Matcher) -> None:
    incident = _incident("黄坑村老街一户民房着火了", "accident.fire")
    report = _report("黄坑村老街有人打架，持刀伤人", "social_security.public_order", minutes=5)
    assert matcher.score(report, incident).eligible is False
    assert matcher.decide(report, [incident]).outcome == "new"


def test_fire_report_after_its_time_window_opens_a_new_incident(matcher: Matcher) -> None:
    text = "黄坑村老街一户民房着火了"
    report = _report(text, "accident.fire", minutes=200)
    assert matcher.decide(report, [_incident(text, "accident.fire")]).outcome == "new"


def test_report_without_point_in_the_same_village_matches_on_text(matcher: Matcher) -> None:
    incident = _incident("竹口镇黄坑村下洋自然村山体滑坡，路堵了", "natural.landslide")
    report = _report(
        "黄坑村下洋那边塌方了，山体滑坡把路堵住了", "natural.landslide", minutes=30, point=False
    )
    score = matcher.score(report, incident)
    assert score.eligible and score.distance_m is None
    assert "same village (no point)" in score.reason
    assert matcher.decide(report, [incident]).outcome in ("join", "suggest")


def test_report_naming_another_village_scores_lower(matcher: Matcher) -> None:
    incident = _incident("黄坑村河水漫上公路了", "natural.flood")
    same = matcher.score(_report("黄坑村河水漫上公路了", "natural.flood", metres=800), incident)
    other = matcher.score(_report("大济村河水漫上公路了", "natural.flood", metres=800), incident)
    assert other.score < same.score
    assert "places differ" in other.reason


def test_two_incidents_scoring_alike_make_a_suggestion_not_a_join(matcher: Matcher) -> None:
    text = "黄坑村老街一户民房着火了，浓烟很大"
    first = _incident(text, "accident.fire")
    second = _incident(text, "accident.fire")
    second.id = "E2"
    decision = matcher.decide(_report(text, "accident.fire", minutes=2), [first, second])
    assert decision.outcome == "suggest"
    assert {s.incident_id for s in decision.suggestions} == {"E1", "E2"}


def test_window_covers_related_categories(matcher: Matcher) -> None:
    distance, window = matcher.window("natural.typhoon")
    flood_distance, flood_window = matcher.window("natural.flood")
    assert distance >= 3000 and window >= timedelta(hours=6)
    assert (flood_distance, flood_window) >= (3000, timedelta(hours=6))
    assert matcher.window("accident.elevator") == (200, timedelta(minutes=120))


def test_classified_reports_match_end_to_end(matcher: Matcher, classifier: Classifier) -> None:
    first = "城东小区3号楼着火了，有浓烟，楼上有人被困"
    second = "城东小区三号楼失火，烟很大"
    code = classifier.classify(first)
    again = classifier.classify(second)
    assert code is not None and again is not None and code.code == again.code
    incident = _incident(first, code.code)
    assert (
        matcher.decide(_report(second, again.code, metres=80, minutes=4), [incident]).outcome
        == "join"
    )


def test_numbered_buildings_that_differ_lower_the_similarity() -> None:
    assert similarity("城东小区3号楼着火", "城东小区三号楼着火") > similarity(
        "城东小区3号楼着火", "城东小区5号楼着火"
    )


def test_shared_village_is_reported_by_the_comparison() -> None:
    profiler = TextProfiler(GAZETTEER)
    result = compare(profiler.profile("黄坑村河水漫堤"), profiler.profile("黄坑那边发大水"))
    assert result.shared_places == ("黄坑村",)
    assert result.conflict is None


def test_similarity_is_symmetric_and_bounded() -> None:
    texts = ["黄坑村河水漫堤", "黄坑那边发大水", "３号楼着火了！", "", "停电了"]
    for a in texts:
        for b in texts:
            value = similarity(a, b)
            assert 0.0 <= value <= 1.0
            assert value == pytest.approx(similarity(b, a))
    assert similarity("黄坑村河水漫堤", "黄坑村河水漫堤") == pytest.approx(1.0)


def test_named_place_gives_a_report_without_point_a_distance() -> None:
    places = [*GAZETTEER[:3], Place("下洋自然村", "黄坑村", "黄坑村/下洋自然村", LON, LAT)]
    matcher = Matcher(load_categories(), profiler=TextProfiler(places))
    incident = _incident("山体滑坡，路堵了", "natural.landslide")
    report = _report("黄坑村下洋那边塌方了，路过不去", "natural.landslide", minutes=20, point=False)
    score = matcher.score(report, incident)
    assert score.distance_m is not None and score.distance_m < 1
    assert "within 0 m of a named place" in score.reason
    assert "[evidence: text" in score.reason


def test_two_spots_of_one_village_lower_the_score() -> None:
    places = [
        *GAZETTEER,
        Place("上坪桥", "黄坑村", "黄坑村/上坪桥"),
    ]
    matcher = Matcher(load_categories(), profiler=TextProfiler(places))
    incident = _incident("黄坑村下洋自然村大树倒了横在路上", "natural.typhoon", point=False)
    same = matcher.score(
        _report("下洋自然村树倒了把路拦住了", "natural.typhoon", minutes=10, point=False), incident
    )
    other = matcher.score(
        _report("上坪桥树倒了把路拦住了", "natural.typhoon", minutes=10, point=False), incident
    )
    assert other.score < same.score
    assert "places differ: 上坪桥≠下洋自然村" in other.reason


def test_shared_spot_name_counts_for_the_named_village_only() -> None:
    places = [
        *GAZETTEER,
        Place("老街", "黄坑村", "黄坑村/老街"),
        Place("老街", "大济村", "大济村/老街"),
    ]
    profiler = TextProfiler(places)
    assert profiler.profile("竹口镇黄坑村老街水淹了").places == {"黄坑村/老街"}
    # the town has two 老街: naming the town does not say which
    assert profiler.profile("竹口镇老街水淹了").places == {"竹口镇"}
    assert profiler.profile("老街水淹了").places == frozenset()


def _spot_matcher() -> Matcher:
    return Matcher(
        load_categories(),
        profiler=TextProfiler([*GAZETTEER, Place("上坪桥", "黄坑村", "黄坑村/上坪桥")]),
    )


def test_report_naming_the_same_spot_in_other_words_joins() -> None:
    incident = _incident("竹口镇黄坑村下洋自然村大树倒了横在路上", "natural.typhoon", point=False)
    report = _report(
        "下洋那边一棵树被风刮倒了，车过不去", "natural.typhoon", minutes=20, point=False
    )
    decision = _spot_matcher().decide(report, [incident])
    assert decision.outcome == "join"
    assert "both name 下洋自然村" in decision.reason


def test_two_spots_of_one_village_do_not_join_even_when_the_village_was_named() -> None:
    incident = _incident("黄坑村大树倒了，横在路上", "natural.typhoon", point=False)
    incident.texts.append("黄坑村下洋自然村树倒了把路拦住了")
    report = _report("黄坑村上坪桥树倒了把路拦住了", "natural.typhoon", minutes=10, point=False)
    matcher = _spot_matcher()
    decision = matcher.decide(report, [incident])
    assert decision.outcome != "join"
    assert "spots differ: 上坪桥≠下洋自然村" in matcher.score(report, incident).reason


def test_a_name_many_villages_share_is_placed_by_the_report_point() -> None:
    far_lon, _ = _east(3000)
    places = [
        *GAZETTEER,
        Place("村委会", "黄坑村", "黄坑村/村委会", LON, LAT),
        Place("村委会", "大济村", "大济村/村委会", far_lon, LAT),
    ]
    matcher = Matcher(load_categories(), profiler=TextProfiler(places))
    report = _report("村委会这边树倒了把路拦住了", "natural.typhoon", metres=150, minutes=10)
    assert matcher.report_profile(report).places == {"黄坑村/村委会"}
    here = _incident("黄坑村村委会旁边大树倒了，横在路上", "natural.typhoon")
    there = _incident("大济村村委会旁边大树倒了，横在路上", "natural.typhoon")
    assert "both name 村委会" in matcher.score(report, here).reason
    assert "places differ: 黄坑村/村委会≠大济村/村委会" in matcher.score(report, there).reason
    # without a point the report does not say which 村委会
    unplaced = _report("村委会这边树倒了把路拦住了", "natural.typhoon", minutes=10, point=False)
    assert matcher.report_profile(unplaced).places == frozenset()


def test_village_and_its_committee_written_together_name_the_committee() -> None:
    places = [*GAZETTEER, Place("村委会", "黄坑村", "黄坑村/村委会")]
    profiler = TextProfiler(places)
    assert profiler.profile("竹口镇黄坑村委会旁边树倒了").places == {"黄坑村/村委会"}
    assert profiler.profile("黄坑村村委会旁边树倒了").places == {"黄坑村/村委会"}


def test_points_a_gps_error_apart_count_as_the_same_place(matcher: Matcher) -> None:
    incident = _incident("黄坑村老街一户民房着火了，浓烟很大", "accident.fire")
    text = "老街房子烧起来了，冒黑烟"
    here = matcher.score(_report(text, "accident.fire", minutes=5), incident)
    near = matcher.score(_report(text, "accident.fire", metres=120, minutes=5), incident)
    further = matcher.score(_report(text, "accident.fire", metres=400, minutes=5), incident)
    assert near.score == here.score
    assert further.score < near.score


def test_reports_in_other_words_share_concepts() -> None:
    assert "rising_water" in TextProfiler().profile("河堤被冲开一个口子").concepts
    assert "power" in TextProfiler().profile("变压器冒火花").concepts
    assert similarity("下水道堵了水排不出去", "这里内涝很严重") > 0


def test_a_gazetteer_name_of_blanks_names_nothing_and_the_others_still_work() -> None:
    profiler = TextProfiler({" ": None, "　": None, "黄坑村": None})
    assert profiler.profile("黄坑村老街起火").places == frozenset({"黄坑村"})
    assert profiler.profile("路边起火").places == frozenset()


def test_reasons_name_places_as_people_write_them_when_the_gazetteer_keys_are_adcodes() -> None:
    """The platform keys its gazetteer by adcode (flows.knowledge); the officer reads names."""
    town, huangkeng, daji = "331126101000", "331126101004", "331126101005"
    far_lon, _ = _east(3000)
    places = [
        Place("竹口镇", None, town),
        Place("黄坑村", town, huangkeng),
        Place("大济村", town, daji),
        Place("村委会", huangkeng, f"{huangkeng}/村委会", LON, LAT),
        Place("村委会", daji, f"{daji}/村委会", far_lon, LAT),
    ]
    matcher = Matcher(load_categories(), profiler=TextProfiler(places))
    report = _report("黄坑村这边树倒了把路拦住了", "natural.typhoon", metres=150, minutes=10)
    here = matcher.score(report, _incident("黄坑村大树倒了，横在路上", "natural.typhoon"))
    assert "both name 黄坑村" in here.reason and huangkeng not in here.reason
    committee = _report("村委会这边树倒了把路拦住了", "natural.typhoon", metres=150, minutes=10)
    there = matcher.score(committee, _incident("大济村村委会旁边大树倒了", "natural.typhoon"))
    assert "places differ: 黄坑村/村委会≠大济村/村委会" in there.reason


def test_a_candidate_beyond_reach_could_not_have_been_suggested(matcher: Matcher) -> None:
    """beyond_reach lets the intake skip reading texts: it must never drop a candidate that the
    best possible text would lift to a suggestion."""
    best_text = "黄坑村下洋自然村老街5号民房着火了，浓烟很大"
    reached = skipped = 0
    for metres in (0, 200, 500, 790, 900, 2500, 4000):
        for minutes in (0, 30, 60, 85, 120, 200, 400):
            for code in ("accident.fire", "natural.flood", "accident.traffic"):
                incident = _incident(best_text, "accident.fire")
                report = _report(best_text, code, metres=metres, minutes=minutes)
                score = matcher.score(report, incident)
                if matcher.beyond_reach(report, incident):
                    skipped += 1
                    assert not score.eligible or score.score < matcher.suggest_threshold
                else:
                    reached += 1
    assert reached and skipped  # both kinds occur on this grid
    no_point = _report(best_text, "accident.fire", metres=4000, minutes=400, point=False)
    assert not matcher.beyond_reach(no_point, _incident(best_text, "accident.fire"))


def test_evidence_says_how_the_categories_relate_in_a_word_the_screens_know(
    matcher: Matcher,
) -> None:
    incident = _incident("竹口镇黄坑村老街一户民房着火了", "accident.fire")
    words = {"same", "parent", "unknown", "related"}  # words.match.affinity.* in the web app
    for code, affinity in (("accident.fire", "same"), (None, "unknown")):
        why = matcher.score(_report("黄坑村老街民房着火", code, metres=100), incident).why
        assert why is not None and why["code"] == "match.evidence"
        assert why["params"]["affinity"] == affinity and affinity in words
