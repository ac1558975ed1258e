"""事件分类: the keyword classifier over the shipped category table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from yingji.intake.classify import Classifier, load_categories, parse_categories


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(load_categories())


def test_shipped_table_has_the_five_top_categories_and_marks_itself_as_own() -> None:
    document = json.loads(
        (Path(__file__).resolve().parents[2] / "src/yingji/data/categories.json").read_text("utf-8")
    )
    assert "not the official" in document["note"].lower()
    rules = load_categories()
    assert {r.parent for r in rules} == {
        "natural",
        "accident",
        "public_health",
        "social_security",
        "service",
    }
    assert {"accident.fire", "natural.flood", "natural.landslide"} <= {r.code for r in rules}


def test_building_fire_report_is_a_fire_and_names_the_deciding_words(
    classifier: Classifier,
) -> None:
    result = classifier.classify("城东小区3号楼着火了，有浓烟，楼上有人被困")
    assert result is not None
    assert result.code == "accident.fire"
    words = {w for w, _ in result.words}
    assert {"着火", "浓烟", "被困"} <= words


def test_river_over_the_road_is_a_flood(classifier: Classifier) -> None:
    result = classifier.classify("竹口镇村里河水漫上公路了")
    assert result is not None and result.code == "natural.flood"


def test_landslide_blocking_a_road_is_a_landslide(classifier: Classifier) -> None:
    result = classifier.classify("山体滑坡把路堵了")
    assert result is not None and result.code == "natural.landslide"


def test_vomiting_after_a_wedding_feast_is_food_poisoning(classifier: Classifier) -> None:
    result = classifier.classify("吃了喜酒后十几个人上吐下泻")
    assert result is not None and result.code == "public_health.food_poisoning"


def test_text_without_any_keyword_is_not_classified(classifier: Classifier) -> None:
    assert classifier.classify("今天天气不错，随便问问") is None


def test_longer_keyword_hides_the_shorter_one_inside_it(classifier: Classifier) -> None:
    result = classifier.classify("后山发生森林火灾")
    assert result is not None
    assert result.code == "natural.forest_fire"
    assert "火灾" not in classifier.matched_words("后山发生森林火灾")
    assert "accident.fire" not in classifier.scores("后山发生森林火灾")


def test_hotpot_is_not_a_fire(classifier: Classifier) -> None:
    assert classifier.classify("在店里吃火锅") is None


def test_full_width_text_is_normalised_before_matching(classifier: Classifier) -> None:
    result = classifier.classify("３号楼着火")
    assert result is not None and result.code == "accident.fire"


def test_ties_are_broken_by_table_order() -> None:
    base = {"name_zh": "x", "name_en": "x", "match": {"distance_m": 1, "window_minutes": 1}}
    rules = parse_categories(
        {
            "subtypes": [
                {**base, "code": "natural.b", "parent": "natural", "keywords": {"水": 1}},
                {**base, "code": "natural.a", "parent": "natural", "keywords": {"水": 1}},
            ]
        }
    )
    result = Classifier(rules).classify("水")
    assert result is not None
    assert (result.code, result.runner_up) == ("natural.b", "natural.a")


def test_table_with_unknown_related_code_is_rejected() -> None:
    with pytest.raises(ValueError, match="related"):
        parse_categories(
            {
                "subtypes": [
                    {
                        "code": "natural.x",
                        "parent": "natural",
                        "name_zh": "x",
                        "name_en": "x",
                        "keywords": {},
                        "match": {
                            "distance_m": 1,
                            "window_minutes": 1,
                            "related": ["natural.nope"],
                        },
                    }
                ]
            }
        )


def test_overlapping_keywords_count_once(classifier: Classifier) -> None:
    words = classifier.matched_words("变压器被水淹了")
    assert len({"被水", "水淹", "淹了"} & set(words)) == 1
    result = classifier.classify("三地村那边变压器被水淹了，屋顶被大风掀掉了")
    assert result is not None and result.code == "natural.typhoon"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("昆明火车站发生暴力恐怖袭击案，造成31人死亡", "social_security.terrorist_attack"),
        ("某市场发生爆炸袭击，造成4人死亡、20余人受伤", "social_security.terrorist_attack"),
        ("四川发生6.1级强震，震中位于芦山县", "natural.earthquake"),
        ("交警部门通报，一辆货车撞上护栏，司机受伤", "accident.traffic"),
        ("一男子持刀行凶，造成2死3伤，犯罪嫌疑人已被抓获", "social_security.criminal_case"),
        ("数百名村民聚集围堵政府大门，群体性事件致5人受伤", "social_security.mass_incident"),
    ],
)
def test_the_words_real_reports_use(classifier: Classifier, text: str, code: str) -> None:
    result = classifier.classify(text)
    assert result is not None and result.code == code, result


def test_words_count_only_as_whole_words(classifier: Classifier) -> None:
    assert classifier.matched_words("突发火灾") == ["火灾"]  # never 发火
    assert "明火" not in classifier.matched_words("昆明火车站发生暴力恐怖袭击案")
    assert "火" not in classifier.matched_words("昆明火车站")


def test_the_headline_weighs_more_than_a_side_remark(classifier: Classifier) -> None:
    text = (
        "高速公路发生多车连撞事故，已致2死4伤。据中国消防在线消息，现场有多人被困，"
        "消防救援人员正在破拆救援。"
    )
    result = classifier.classify(text)
    assert result is not None and result.code == "accident.traffic"
    weights = dict(result.words)
    assert weights["连撞"] == 8.0  # 4 in the headline counts twice
    fire = dict(classifier.scores(text)["accident.fire"][1])
    assert fire["消防"] == 0.25  # 1 in the attribution counts a quarter
