"""地名地址匹配: address text → the most specific place it names, never a guess among namesakes."""

from __future__ import annotations

from yingji.intake.gazetteer import Entry, Gazetteer

TOWN_A, TOWN_B = "331126101000", "331126102000"
HUANGKENG, DAJI, LINCHUAN = "331126101201", "331126101202", "331126102203"


def county() -> Gazetteer:
    divisions = [
        Entry("庆元县", "331126", "county", 119.0, 27.6),
        Entry("竹口镇", TOWN_A, "town", 119.05, 27.55, "331126"),
        Entry("五大堡乡", TOWN_B, "town", 119.15, 27.55, "331126"),
        Entry("黄坑村", HUANGKENG, "village", 119.01, 27.51, TOWN_A),
        Entry("大济村", DAJI, "village", 119.02, 27.52, TOWN_A),
        Entry("林川下村", LINCHUAN, "village", 119.11, 27.51, TOWN_B),
        Entry("川下村", "331126102204", "village", 119.12, 27.52, TOWN_B),
    ]
    places = [  # every village has a 老街 and an 8组; one 水电站 in the county
        Entry(name, code, "place", lon, lat, code)
        for code, lon, lat in ((HUANGKENG, 119.011, 27.511), (DAJI, 119.021, 27.521))
        for name in ("老街", "8组")
    ] + [
        Entry("8组", LINCHUAN, "place", 119.111, 27.511, LINCHUAN),
        Entry("8组", "331126102204", "place", 119.121, 27.521, "331126102204"),
        Entry("水电站", DAJI, "place", 119.025, 27.525, DAJI),
    ]
    return Gazetteer(divisions + places)


def test_a_name_many_villages_share_is_placed_by_the_village_the_text_names() -> None:
    hit = county().locate("五大堡乡林川下村8组这里山体滑坡")
    assert hit is not None
    assert (hit.entry.name, hit.entry.adcode, hit.entry.lon) == ("8组", LINCHUAN, 119.111)
    other = county().locate("竹口镇大济村老街被水淹了")
    assert other is not None and (other.entry.name, other.entry.adcode) == ("老街", DAJI)


def test_a_shared_name_alone_places_nothing() -> None:
    assert county().locate("老街路上水很深，车子开不过去") is None
    assert county().locate("8组停电了") is None


def test_a_shared_name_with_only_its_town_places_the_town() -> None:
    hit = county().locate("竹口镇老街着火了")  # 黄坑村 and 大济村 both have a 老街
    assert hit is not None and (hit.entry.adcode, hit.matched) == (TOWN_A, "竹口镇")


def test_a_unique_place_name_places_the_report_on_its_own() -> None:
    hit = county().locate("水电站那边发大水了")
    assert hit is not None and (hit.entry.name, hit.entry.adcode) == ("水电站", DAJI)


def test_a_name_inside_a_longer_one_is_not_counted_again() -> None:
    hit = county().locate("林川下村村口")
    assert hit is not None and hit.entry.adcode == LINCHUAN  # not 川下村


def test_suggestions_put_towns_and_villages_before_schools_and_shops() -> None:
    gazetteer = Gazetteer(
        [
            Entry("官塘中心学校", "331126103201", "place", 119.2, 27.7, "331126103201"),
            Entry("官塘超市", "331126103201", "place", 119.2, 27.7, "331126103201"),
            Entry("官塘村", "331126103201", "village", 119.2, 27.7, "331126103000"),
            Entry("官塘乡", "331126103000", "town", 119.2, 27.7, "331126"),
        ]
    )
    assert [e.name for e in gazetteer.suggest("官塘")] == [
        "官塘乡",
        "官塘村",
        "官塘超市",
        "官塘中心学校",
    ]
