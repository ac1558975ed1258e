"""Tests for the 庆元县 demo jurisdiction (yingji.org.demo_data)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict

import pytest
import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from yingji.org.demo_data import (
    COUNTY_ADCODE,
    DEFAULT_SEED,
    DEMO_PASSWORD,
    DemoJurisdiction,
    DivisionSeed,
    build_demo,
    cpca_centre,
)

REAL_TOWNS = {
    "濛洲街道",
    "屏都街道",
    "松源街道",
    "黄田镇",
    "竹口镇",
    "荷地镇",
    "左溪镇",
    "贤良镇",
    "百山祖镇",
    "隆宫乡",
    "举水乡",
    "江根乡",
    "岭头乡",
    "五大堡乡",
    "淤上乡",
    "安南乡",
    "张村乡",
    "龙溪乡",
    "官塘乡",
}
MOBILE_RE = re.compile(r"^1(3\d|5[0-35-9]|8\d)\d{8}$")
OFFICE_RE = re.compile(r"^0578-6\d{6}$")
# Overlap allowance between neighbours after rounding to 1e-6°: (1e-6°)² scale, i.e. < ~0.1 m².
OVERLAP_EPS = 1e-11


@pytest.fixture(scope="module")
def demo() -> DemoJurisdiction:
    return build_demo()


def _digest(d: DemoJurisdiction) -> str:
    payload = json.dumps(asdict(d), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _by_level(d: DemoJurisdiction, level: str) -> list[DivisionSeed]:
    return [x for x in d.divisions if x.level == level]


def _geom(div: DivisionSeed) -> BaseGeometry:
    assert div.boundary is not None, div.adcode
    return shape(div.boundary)


def _km2(geom: BaseGeometry) -> float:
    lat = geom.centroid.y
    return float(geom.area) * 111.320 * math.cos(math.radians(lat)) * 110.574


def _max_pairwise_overlap(geoms: list[BaseGeometry]) -> float:
    tree = shapely.STRtree(geoms)
    worst = 0.0
    for i, g in enumerate(geoms):
        for j in tree.query(g):
            if j > i:
                worst = max(worst, float(g.intersection(geoms[int(j)]).area))
    return worst


# ---- divisions -------------------------------------------------------------------------------


def test_division_counts_and_tree(demo: DemoJurisdiction) -> None:
    levels = Counter(x.level for x in demo.divisions)
    assert levels == {"province": 1, "city": 1, "county": 1, "town": 19, "village": 353}
    adcodes = [x.adcode for x in demo.divisions]
    assert len(adcodes) == len(set(adcodes))
    by_code = {x.adcode: x for x in demo.divisions}
    assert by_code["330000"].parent_adcode is None
    assert by_code["331100"].parent_adcode == "330000"
    county = by_code[COUNTY_ADCODE]
    assert (county.name, county.level, county.parent_adcode) == ("庆元县", "county", "331100")


def test_towns_are_the_real_nineteen_with_statistical_codes(demo: DemoJurisdiction) -> None:
    towns = _by_level(demo, "town")
    assert {t.name for t in towns} == REAL_TOWNS
    assert len({t.name for t in towns}) == 19
    for t in towns:
        assert re.fullmatch(r"331126\d{3}000", t.adcode), t.adcode
        assert t.parent_adcode == COUNTY_ADCODE
        code = int(t.adcode[6:9])
        if t.name.endswith("街道"):
            assert 1 <= code <= 99
        elif t.name.endswith("镇"):
            assert 100 <= code <= 199
        else:
            assert t.name.endswith("乡") and 200 <= code <= 299


def test_villages_hang_under_towns_with_matching_codes(demo: DemoJurisdiction) -> None:
    towns = {t.adcode: t for t in _by_level(demo, "town")}
    per_town: Counter[str] = Counter()
    for v in _by_level(demo, "village"):
        assert v.parent_adcode in towns, v.adcode
        assert re.fullmatch(r"\d{12}", v.adcode)
        assert v.adcode[:9] == v.parent_adcode[:9]
        assert v.adcode[9:] != "000"
        suffix = int(v.adcode[9:])
        if v.name.endswith("社区"):
            assert 1 <= suffix <= 99, v
        else:
            assert v.name.endswith("村") and suffix >= 200, v
        per_town[v.parent_adcode] += 1
    assert sum(per_town.values()) == 353
    assert set(per_town) == set(towns)
    # Streets have more communities than remote townships, and names are unique in each town.
    for code, town in towns.items():
        names = [v.name for v in _by_level(demo, "village") if v.parent_adcode == code]
        assert len(names) == len(set(names))
        communities = sum(n.endswith("社区") for n in names)
        if town.name.endswith("街道"):
            assert communities >= 3
        elif town.name.endswith("乡"):
            assert communities == 0
    biggest_township = max(per_town[c] for c, t in towns.items() if t.name.endswith("乡"))
    smallest_street = min(per_town[c] for c, t in towns.items() if t.name.endswith("街道"))
    assert biggest_township < smallest_street


def test_county_centre_matches_cpca(demo: DemoJurisdiction) -> None:
    reference = cpca_centre(COUNTY_ADCODE)
    assert reference is not None, "cpca's bundled adcodes.csv lacks 庆元县 (331126)"
    county = next(x for x in demo.divisions if x.adcode == COUNTY_ADCODE)
    assert county.centroid is not None
    assert abs(county.centroid[0] - reference[0]) < 0.05
    assert abs(county.centroid[1] - reference[1]) < 0.05
    geom = _geom(county)
    assert abs(geom.centroid.x - reference[0]) < 0.05
    assert abs(geom.centroid.y - reference[1]) < 0.05


def test_county_shape_is_plausible(demo: DemoJurisdiction) -> None:
    county = _geom(next(x for x in demo.divisions if x.adcode == COUNTY_ADCODE))
    assert county.geom_type == "Polygon"
    assert abs(_km2(county) - 1898.0) / 1898.0 < 0.02
    minx, miny, maxx, maxy = county.bounds
    width_km = (maxx - minx) * 111.320 * math.cos(math.radians(county.centroid.y))
    height_km = (maxy - miny) * 110.574
    assert 45 < width_km < 75 and 35 < height_km < 62
    assert width_km > height_km
    assert county.area / county.convex_hull.area < 0.98  # irregular, not a convex blob


def test_boundaries_are_valid_closed_rounded_geojson(demo: DemoJurisdiction) -> None:
    for div in demo.divisions:
        if div.level in ("province", "city"):
            continue
        gj = div.boundary
        assert gj is not None and gj["type"] in ("Polygon", "MultiPolygon"), div.adcode
        polys = [gj["coordinates"]] if gj["type"] == "Polygon" else gj["coordinates"]
        for poly in polys:
            for ring in poly:
                assert ring[0] == ring[-1] and len(ring) >= 4
                for lon, lat in ring:
                    assert 118.0 < lon < 120.0 and 27.0 < lat < 28.5
                    assert round(lon, 6) == lon and round(lat, 6) == lat
        geom = shape(gj)
        assert geom.is_valid and not geom.is_empty, div.adcode


def test_centroids_inside_their_boundaries(demo: DemoJurisdiction) -> None:
    for div in demo.divisions:
        assert div.centroid is not None, div.adcode
        if div.boundary is not None:
            assert _geom(div).contains(Point(div.centroid)), div.adcode


def test_towns_tile_the_county(demo: DemoJurisdiction) -> None:
    county = _geom(next(x for x in demo.divisions if x.adcode == COUNTY_ADCODE))
    towns = [_geom(t) for t in _by_level(demo, "town")]
    union = unary_union(towns)
    assert abs(union.area - county.area) / county.area < 0.001
    assert county.symmetric_difference(union).area / county.area < 0.001
    assert _max_pairwise_overlap(towns) < OVERLAP_EPS
    assert sum(_km2(t) for t in towns) == pytest.approx(_km2(county), rel=1e-3)


def test_villages_tile_each_town(demo: DemoJurisdiction) -> None:
    villages = _by_level(demo, "village")
    for town in _by_level(demo, "town"):
        tg = _geom(town)
        vgs = [_geom(v) for v in villages if v.parent_adcode == town.adcode]
        union = unary_union(vgs)
        assert abs(union.area - tg.area) / tg.area < 0.001, town.name
        assert tg.symmetric_difference(union).area / tg.area < 0.001, town.name
        assert _max_pairwise_overlap(vgs) < OVERLAP_EPS, town.name


def test_boundary_json_is_small(demo: DemoJurisdiction) -> None:
    size = len(json.dumps([d.boundary for d in demo.divisions]).encode("utf-8"))
    assert size < 3_000_000


# ---- units -----------------------------------------------------------------------------------


def test_unit_counts_codes_and_tiers(demo: DemoJurisdiction) -> None:
    codes = [u.code for u in demo.units]
    assert len(codes) == len(set(codes))
    kinds = Counter(u.kind for u in demo.units)
    assert kinds["department"] == 92
    assert kinds["town"] == 19
    assert kinds["village"] == 353
    assert kinds["rescue_team"] >= 6
    departments = [u for u in demo.units if u.kind == "department"]
    assert [u.code for u in departments] == [f"D{i:03d}" for i in range(1, 93)]
    assert len({u.name for u in departments}) == 92
    tiers = Counter(u.tier for u in departments)
    assert set(tiers) == {1, 2, 3}
    assert 20 <= tiers[1] <= 25 and 35 <= tiers[2] <= 40
    names = {u.name for u in departments}
    for required in (
        "庆元县公安局",
        "庆元县消防救援大队",
        "庆元县应急管理局",
        "国网庆元县供电公司",
        "中国移动庆元分公司",
        "中国联通庆元分公司",
        "中国电信庆元分公司",
    ):
        assert required in names
    for u in departments:
        assert u.division_adcode == COUNTY_ADCODE and u.parent_code is None
    assert all(u.tier == 1 for u in demo.units if u.kind in ("town", "rescue_team"))
    assert all(u.tier == 2 for u in demo.units if u.kind == "village")


def test_units_point_at_existing_divisions_and_parents(demo: DemoJurisdiction) -> None:
    divisions = {d.adcode: d for d in demo.divisions}
    units = {u.code: u for u in demo.units}
    for u in demo.units:
        assert u.division_adcode in divisions, u.code
        assert OFFICE_RE.match(u.phone), u.phone
        assert u.address.startswith("庆元县")
        assert u.parent_code is None or u.parent_code in units
        geom = divisions[u.division_adcode].boundary
        if geom is not None:
            assert shape(geom).buffer(1e-6).contains(Point(u.lon, u.lat)), u.code
    for u in demo.units:
        if u.kind == "town":
            d = divisions[u.division_adcode]
            assert d.level == "town" and u.code == "T" + d.adcode[6:9]
            assert u.name.endswith(("人民政府", "办事处")) and u.name.startswith(d.name)
        elif u.kind == "village":
            d = divisions[u.division_adcode]
            assert d.level == "village" and u.code == "V" + d.adcode
            assert u.name == d.name + "便民服务中心"
            parent = units[u.parent_code or ""]
            assert parent.kind == "town" and parent.division_adcode == d.parent_adcode
    seat = next(d for d in divisions.values() if d.name == "濛洲街道")
    seat_geom = _geom(seat).buffer(1e-6)
    for u in demo.units:
        if u.kind == "department":
            assert seat_geom.contains(Point(u.lon, u.lat)), u.code


# ---- people ----------------------------------------------------------------------------------


def test_people(demo: DemoJurisdiction) -> None:
    units = {u.code: u for u in demo.units}
    mobiles = [p.mobile for p in demo.people]
    assert len(mobiles) == len(set(mobiles))
    by_unit: dict[str, list[str]] = {}
    leaders: Counter[str] = Counter()
    for p in demo.people:
        assert p.unit_code in units
        assert MOBILE_RE.match(p.mobile), p.mobile
        assert OFFICE_RE.match(p.office_phone), p.office_phone
        assert 2 <= len(p.name) <= 3 and all("\u4e00" <= ch <= "\u9fff" for ch in p.name)
        by_unit.setdefault(p.unit_code, []).append(p.position)
        leaders[p.unit_code] += p.is_leader
    for u in demo.units:
        positions = by_unit.get(u.code, [])
        assert leaders[u.code] == 1, u.code
        if u.kind in ("department", "town"):
            assert 2 <= len(positions) <= 4, u.code
            assert "联络员" in positions
        elif u.kind == "village":
            assert len(positions) == 2 and "网格员" in positions
    surnames = Counter(p.name[0] for p in demo.people)
    for common in "吴叶周胡季陈":
        assert surnames[common] > 0


# ---- users -----------------------------------------------------------------------------------


def test_users(demo: DemoJurisdiction) -> None:
    divisions = {d.adcode: d for d in demo.divisions}
    units = {u.code: u for u in demo.units}
    users = {u.username: u for u in demo.users}
    assert set(users) == {
        "admin",
        "commander",
        "duty_leader",
        "duty_officer",
        "liaison_fire",
        "liaison_zhukou",
        "liaison_huangtian",
        "field_zhukou",
        "expert",
        "viewer",
    }
    for u in demo.users:
        assert u.password == DEMO_PASSWORD == "yingji-demo-2026"
        assert u.division_adcode is None or u.division_adcode in divisions, u.username
        assert u.unit_code is None or u.unit_code in units, u.username
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,3}（[\u4e00-\u9fff]+）", u.display_name)
    assert users["admin"].roles == ("admin",) and users["admin"].division_adcode is None
    for name in ("commander", "duty_leader", "duty_officer", "expert", "viewer"):
        assert users[name].roles == (name,)
        assert users[name].division_adcode == COUNTY_ADCODE
    fire = users["liaison_fire"]
    assert fire.roles == ("unit_liaison",) and fire.division_adcode is None
    assert units[fire.unit_code or ""].name == "庆元县消防救援大队"
    for username, town in (("liaison_zhukou", "竹口镇"), ("liaison_huangtian", "黄田镇")):
        u = users[username]
        assert u.roles == ("unit_liaison",)
        assert divisions[u.division_adcode or ""].name == town
        unit = units[u.unit_code or ""]
        assert unit.kind == "town" and unit.division_adcode == u.division_adcode
    field = users["field_zhukou"]
    assert field.roles == ("field_worker",)
    assert divisions[field.division_adcode or ""].name == "竹口镇"
    village_unit = units[field.unit_code or ""]
    assert village_unit.kind == "village"
    assert divisions[village_unit.division_adcode].parent_adcode == field.division_adcode
    # The liaison and field accounts belong to people listed in their units.
    people = {(p.unit_code, p.name) for p in demo.people}
    for username in ("liaison_fire", "liaison_zhukou", "liaison_huangtian", "field_zhukou"):
        u = users[username]
        assert (u.unit_code, u.display_name.split("（")[0]) in people


# ---- determinism and speed -------------------------------------------------------------------


def test_same_seed_same_output(demo: DemoJurisdiction) -> None:
    again = build_demo(DEFAULT_SEED)
    assert again == demo
    assert _digest(again) == _digest(demo)
    other = build_demo(DEFAULT_SEED + 1)
    assert other != demo
    assert len(_by_level(other, "village")) == 353


def test_output_independent_of_hash_seed(demo: DemoJurisdiction) -> None:
    code = (
        "import hashlib, json; from dataclasses import asdict; "
        "from yingji.org.demo_data import build_demo; "
        "print(hashlib.sha256(json.dumps(asdict(build_demo()), ensure_ascii=False, "
        "sort_keys=True).encode('utf-8')).hexdigest())"
    )
    expected = _digest(demo)
    for hash_seed in ("1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run(  # noqa: S603 - runs this interpreter on our own code
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        assert out.stdout.strip() == expected


def test_build_is_fast() -> None:
    start = time.perf_counter()
    build_demo()
    assert time.perf_counter() - start < 3.0
