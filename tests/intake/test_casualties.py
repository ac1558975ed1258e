"""伤亡 read from a caller's words, as suggestions; denials count nothing."""

from __future__ import annotations

import pytest

from yingji.intake.casualties import casualties_in
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
