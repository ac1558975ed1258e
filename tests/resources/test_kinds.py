"""The catalogue of kinds reads what offices type into a spreadsheet cell or send as JSON, and
refuses what it cannot read with a code the console words."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from yingji.resources import kinds
from yingji.resources.models import ResourceKind


def test_every_kind_of_the_ten_databases_has_a_spec_with_statuses_and_chinese_headers() -> None:
    assert set(kinds.SPECS) == set(ResourceKind)
    for spec in kinds.SPECS.values():
        assert spec.statuses and spec.usable <= set(spec.statuses)
        headers = [f.zh for f in (*kinds.COMMON, *spec.fields)]
        assert len(headers) == len(set(headers)), spec.kind  # one column per header
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in h) for h in headers)


def test_choices_are_read_as_codes_or_as_the_chinese_words_offices_type() -> None:
    shelter = kinds.spec("shelter")
    assert (
        kinds.check_attrs(shelter, {"grade": "Ⅱ类", "shelter_type": "indoor", "capacity": 800})[
            "grade"
        ]
        == "II"
    )
    team = kinds.spec("rescue_team")
    got = kinds.check_attrs(team, {"capabilities": "水上救援、山地救援；hazmat"})
    assert got["capabilities"] == ["water_rescue", "mountain", "hazmat"]
    assert kinds.tags_of(team, got) == "|water_rescue|mountain|hazmat|"


@pytest.mark.parametrize(
    ("attrs", "code", "field"),
    [
        ({"capacity": -1}, "below_minimum", "capacity"),
        ({"capacity": "一千"}, "not_a_number", "capacity"),
        ({"capacity": 12.5}, "not_an_integer", "capacity"),
        ({"capacity": "nan"}, "not_a_number", "capacity"),
        ({}, "required", "capacity"),
        ({"capacity": 10, "grade": "五类"}, "not_a_choice", "grade"),
        ({"capacity": 10, "colour": "red"}, "unknown_field", "colour"),
    ],
)
def test_a_value_the_field_cannot_take_is_refused_with_its_code_and_field(
    attrs: dict[str, object], code: str, field: str
) -> None:
    with pytest.raises(kinds.FieldProblem) as caught:
        kinds.check_attrs(kinds.spec("shelter"), attrs)
    assert caught.value.code == code
    assert caught.value.params["field"] == field


def test_spreadsheet_cells_become_values_dates_numbers_codes_and_urls_are_checked() -> None:
    plan = kinds.spec("plan")
    issued = plan.field("issued_on")
    assert issued is not None
    naive = datetime(2024, 5, 1, 0, 0)  # noqa: DTZ001 - openpyxl reads date cells naive
    assert kinds.convert(issued, naive) == "2024-05-01"
    for typed in ("2024/5/1", "2024-05-01", "2024.5.1", "2024年5月1日"):
        assert kinds.convert(issued, typed) == date(2024, 5, 1).isoformat(), typed
    with pytest.raises(kinds.FieldProblem, match="not_a_date"):
        kinds.convert(issued, "2024/13/1")
    video = kinds.spec("video_point")
    channel = video.field("channel_id")
    stream = video.field("stream_url")
    assert channel is not None and stream is not None
    assert kinds.convert(channel, "34020000001320000001") == "34020000001320000001"
    with pytest.raises(kinds.FieldProblem, match="bad_format"):
        kinds.convert(channel, "3402")
    with pytest.raises(kinds.FieldProblem, match="not_a_url"):
        kinds.convert(stream, "javascript:alert(1)")
    code = kinds.COMMON[0]
    assert kinds.convert(code, 1024.0) == "1024"  # a number cell holding a code


def test_an_unknown_kind_is_refused_with_the_allowed_ones() -> None:
    with pytest.raises(kinds.FieldProblem) as caught:
        kinds.spec("spaceship")
    assert caught.value.code == "unknown_kind"
    assert "shelter" in caught.value.params["allowed"]
