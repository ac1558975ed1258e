"""伤亡 read from a caller's words, as suggestions; denials count nothing."""

from __future__ import annotations

import pytest

from yingji.intake.casualties import casualties_in, read_casualties
from yingji.intake.levels import Casualties


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("民房着火了，有人被困", Casualties(trapped=1)),
        ("3人受伤，浓烟很大", Casualties(injured=3)),
        ("工厂爆炸，三人受伤，两名工人失联", Casualties(injured=3, missing=2)),
        ("十二人被困在电梯里", Casualties(trapped=12)),
        ("多人受伤", Casualties(injured=2)),
        ("仓库着火，暂无人员被困", Casualties()),
        ("没有人受伤，也没人被困", Casualties()),
        ("未发现失联人员", Casualties()),
        ("楼里有人被困，暂无人员受伤", Casualties(trapped=1)),
        ("asdfgh 哈哈哈 ？？？ 123", Casualties()),
    ],
)
def test_casualties_are_read_from_the_words_and_denials_count_nothing(
    text: str, expected: Casualties
) -> None:
    assert casualties_in(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("事故造成3人死亡、12人受伤", Casualties(dead=3, injured=12)),
        ("两死一伤", Casualties(dead=2, injured=1)),
        ("截至目前，死亡人数升至十一人", Casualties(dead=11)),
        ("暂无人员伤亡", Casualties()),
        ("已致7人遇难", Casualties(dead=7)),
        ("未造成人员伤亡", Casualties()),
        ("江苏无锡一男子不幸遇难", Casualties(dead=1)),
        ("12月6日甘肃发生3.2级地震，无人员伤亡", Casualties()),
        ("事故共造成5人死亡、3人重伤、2人轻伤", Casualties(dead=5, injured=5)),
        ("仍有30余人被困井下", Casualties(trapped=30)),
        ("目前已救出4名被埋人员，仍有2人被困", Casualties(trapped=2)),
        ("1名老人被压身亡", Casualties(dead=1)),
        (
            "地震已造成126人遇难、188人受伤，另有2人失踪",
            Casualties(dead=126, injured=188, missing=2),
        ),
        ("张村乡三口村养殖场死了好多猪", Casualties()),
    ],
)
def test_counts_of_news_reports(text: str, expected: Casualties) -> None:
    assert casualties_in(text) == expected


def test_each_count_comes_with_the_words_that_gave_it() -> None:
    reading = read_casualties("高速发生多车连撞，已致2死4伤。现场还有多人被困，死亡人数升至三人")
    assert reading.counts == Casualties(dead=3, injured=4, trapped=2)
    found = {(e.kind, e.count, e.words, e.at_least) for e in reading.evidence}
    assert ("dead", 2, "已致2死4伤", False) in found
    assert ("injured", 4, "已致2死4伤", False) in found
    assert ("trapped", 2, "现场还有多人被困", True) in found
    assert ("dead", 3, "死亡人数升至三人", False) in found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("小区电梯坏了，里面关了两个人", Casualties(trapped=2)),
        ("厂房的墙塌了，压在底下还有三个人", Casualties(trapped=3)),
        ("山上滚石头下来，埋在里面一个人", Casualties(trapped=1)),
        ("有个老人在家里摔倒了，人已经昏迷", Casualties(injured=1)),
        ("两个人打架，一个人头被打破了", Casualties(injured=1)),
        ("村里食堂吃饭后8人中毒，其中1人死亡", Casualties(dead=1, injured=7)),
        ("店门关了三个月了", Casualties()),
        ("货车侧翻压在护栏上", Casualties()),
        ("街上的店铺都关了", Casualties()),
    ],
)
def test_what_callers_say_is_read_as_they_mean_it(text: str, expected: Casualties) -> None:
    assert casualties_in(text) == expected
