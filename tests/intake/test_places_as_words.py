"""Places read as whole words (issue 21): a name is found only where the segmentation has it,
never shortened to an ordinary word; a name outside the jurisdiction says where and places
nothing; homophones are suggestions only."""

from __future__ import annotations

import pytest

from yingji.intake.gazetteer import Entry, Gazetteer, china_counties

COUNTY, TOWN = "331126", "331126101000"


@pytest.fixture(scope="module")
def county() -> Gazetteer:
    local = [
        Entry("浙江省", "330000", "province", 120.15, 30.27),
        Entry("丽水市", "331100", "city", 119.92, 28.45, "330000"),
        Entry("庆元县", COUNTY, "county", 119.06, 27.62, "331100"),
        Entry("竹口镇", TOWN, "town", 118.89, 27.73, COUNTY),
        Entry("贤良镇", "331126104000", "town", 119.12, 27.70, COUNTY),
        Entry("新华社区", "331126001006", "village", 119.06, 27.61, "331126001000"),
        Entry("东方社区", "331126001007", "village", 119.07, 27.62, "331126001000"),
        Entry("黄坑村", "331126101201", "village", 118.90, 27.74, TOWN),
    ]
    return Gazetteer(local + china_counties(exclude={"330000", "331100", COUNTY}))


@pytest.mark.parametrize(
    "text",
    [
        "新华社北京12月6日电，应急管理部通报一起事故",
        "据新华网报道，一辆货车侧翻",
        "东方网消息：一辆吉利车在高速上自燃",
        "印度南部发生洪灾，已致25人死亡",
        "公安部通报一起持刀伤人案件",
        "村民和政府工作人员一起加固堤坝",
        "中方对此表示慰问",
        "遗体已被送往太平间",
        "事故车辆是一辆吉利车",
        "贤良方正的干部连夜赶到现场",
    ],
)
def test_an_ordinary_word_or_an_organisation_places_nothing(county: Gazetteer, text: str) -> None:
    reading = county.read(text)
    assert not reading.placed and county.locate(text) is None
    # none of these names a county of China either (南部县, 公安县, 和政县, 东方市, 吉利区)
    assert reading.outside is None or reading.outside.name == "北京市"


def test_a_name_is_found_whole_and_never_by_a_fragment(county: Gazetteer) -> None:
    hit = county.locate("新华社区3号楼有人打架")
    assert hit is not None and hit.entry.name == "新华社区"
    assert county.locate("东方社区停电了") is not None
    # a short form that is no ordinary word still counts; one that is (贤良) does not
    short = county.locate("竹口黄坑村着火了")
    assert short is not None and short.entry.name == "黄坑村"
    assert county.locate("贤良发生车祸") is None
    town = county.locate("贤良镇发生车祸")
    assert town is not None and town.entry.name == "贤良镇"


@pytest.mark.parametrize(
    ("text", "name", "province"),
    [
        ("甘肃临夏州和政县发生3.2级地震", "和政县", "甘肃省"),
        ("四川南充市南部县一化工企业发生爆炸", "南部县", "四川省"),
        ("湖北荆州市公安县一男子溺水失踪", "公安县", "湖北省"),
        ("云南昆明发生地震，暂无人员伤亡", "昆明市", "云南省"),
        ("新华社成都12月6日电 四川雅安市芦山县发生6.1级地震", "芦山县", "四川省"),
        ("台湾花莲县海域发生7.3级地震，福建福州、厦门等地震感强烈", "台湾省", "台湾省"),
        ("浙江温州市鹿城区一厂房发生火灾", "鹿城区", "浙江省"),
    ],
)
def test_a_name_outside_says_where_and_places_no_point(
    county: Gazetteer, text: str, name: str, province: str
) -> None:
    reading = county.read(text)
    assert reading.hit is None or not reading.placed
    assert county.locate(text) is None
    assert reading.outside is not None
    assert (reading.outside.name, reading.outside.province) == (name, province)


def test_a_province_or_city_of_the_jurisdiction_alone_places_nothing(county: Gazetteer) -> None:
    reading = county.read("丽水市发布暴雨预警")
    assert not reading.placed and reading.outside is not None
    assert reading.outside.name == "丽水市"


def test_a_homophone_is_a_suggestion_never_a_place(county: Gazetteer) -> None:
    reading = county.read("竺口镇有人落水了")
    assert not reading.placed and county.locate("竺口镇有人落水了") is None
    assert [(h.written, h.name, h.adcode) for h in reading.homophones] == [
        ("竺口镇", "竹口镇", TOWN)
    ]
    assert county.read("竹口镇有人落水了").homophones == ()
