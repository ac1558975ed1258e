"""Demo jurisdiction (演示辖区) modelled on 庆元县, Lishui, Zhejiang (adcode 331126).

Builds, deterministically from a seed, the organisation data a fresh Yingji install is shown
with: the division tree 浙江省 → 丽水市 → 庆元县 → 19 乡镇(街道) → 353 村(社区), the linkage units
(联动单位) of seed 001 (92 departments in three tiers, 19 towns, 353 village service centres and
25 rescue teams), their people and one login per role.

Everything here is pure data: no database, no ``yingji`` imports. The county's position comes
from the ``cpca`` package's bundled adcode table; its boundary and every town and village
boundary are **synthetic** (a perturbed ellipse of the real county's area, partitioned by
Voronoi cells), so they tile exactly but are not the real borders — fine for demos and tests,
never for a published map (审图号). Town names are the real 19; town statistical codes follow
the GB/T 10114 pattern (街道 0xx, 镇 1xx, 乡 2xx) but are not guaranteed to be the official
ones; village names are generated.

Determinism: only ``random.Random(seed)`` and ``numpy.random.default_rng(seed)`` are used, every
iteration is over lists or sorted keys, and GEOS operations are deterministic, so the same seed
gives identical output in every process regardless of ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.affinity import affine_transform
from shapely.geometry import MultiPoint, MultiPolygon, Point, Polygon, box, shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.ops import voronoi_diagram

__all__ = [
    "CITY_ADCODE",
    "COUNTY_ADCODE",
    "DEFAULT_SEED",
    "DEMO_PASSWORD",
    "FRONT_DESK_USER",
    "PROVINCE_ADCODE",
    "ROLE_PARTS",
    "DemoJurisdiction",
    "DivisionSeed",
    "PersonSeed",
    "UnitSeed",
    "UserSeed",
    "build_demo",
    "cpca_centre",
]

DEFAULT_SEED = 20190320
DEMO_PASSWORD = "yingji-demo-2026"
PROVINCE_ADCODE = "330000"
CITY_ADCODE = "331100"
COUNTY_ADCODE = "331126"
COUNTY_AREA_KM2 = 1898.0
#: Semi-axes (km) of the base ellipse before it is scaled to ``COUNTY_AREA_KM2``:
#: 庆元 is about 60 km east–west by 50 km north–south.
_SEMI_AXES_KM = (30.0, 25.0)
#: Douglas–Peucker tolerance (km) applied to the county outline; every town and village border
#: on the county edge inherits it, the inner borders are straight Voronoi edges.
_SIMPLIFY_KM = 0.03
_COORD_DECIMALS = 6

#: Used only when the installed ``cpca`` lacks its adcode table (values are cpca's own).
_FALLBACK_CENTRES: dict[str, tuple[str, float, float]] = {
    PROVINCE_ADCODE: ("浙江省", 120.152585, 30.266597),
    CITY_ADCODE: ("丽水市", 119.922796, 28.46763),
    COUNTY_ADCODE: ("庆元县", 119.06259, 27.61922),
}


# --------------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DivisionSeed:
    """One 行政区划 (administrative division).

    ``boundary`` is a GeoJSON geometry (Polygon or MultiPolygon, WGS-84 lon/lat, 6 decimals);
    ``centroid`` is ``(lon, lat)`` and always lies inside the boundary.
    """

    adcode: str
    name: str
    level: str  # 'province' | 'city' | 'county' | 'town' | 'village'
    parent_adcode: str | None
    boundary: dict[str, Any] | None
    centroid: tuple[float, float] | None


@dataclass(frozen=True)
class UnitSeed:
    """One 联动单位 (linkage unit); ``tier`` is the seed-001 linkage tier 1, 2 or 3."""

    code: str
    name: str
    kind: str  # 'department' | 'town' | 'village' | 'rescue_team'
    tier: int
    division_adcode: str
    parent_code: str | None
    phone: str
    address: str
    lon: float
    lat: float


@dataclass(frozen=True)
class PersonSeed:
    """A contact person of a unit (leader, 联络员, 值班员, 网格员 …)."""

    unit_code: str
    name: str
    position: str
    mobile: str
    office_phone: str
    is_leader: bool


#: The account a newcomer signs in with first (``make run`` names it).
FRONT_DESK_USER = "duty_officer"

#: The part each demo account's role plays, for the people trying the demo: (Chinese, English).
ROLE_PARTS: dict[str, tuple[str, str]] = {
    "admin": (
        "系统管理员：区划、单位、用户、派单规则",
        "administrator: divisions, units, users, routing",
    ),
    "commander": (
        "指挥长：一张图、事件、督办、考核",
        "commander: situation board, incidents, KPIs",
    ),
    "duty_leader": (
        "带班领导：首报超时提醒发给他，也可派单",
        "duty leader: gets overdue alerts, may dispatch",
    ),
    "duty_officer": (
        "值班员：接警台接警、核实、派单",
        "duty officer: takes calls, verifies, dispatches",
    ),
    "unit_liaison": (
        "联络员：在手机上签收、到场、反馈本单位的派单",
        "liaison: signs and answers the unit's orders",
    ),
    "field_worker": (
        "网格员：现场上报，处理本村的派单",
        "field worker: reports from the spot, acts for the village",
    ),
    "expert": ("专家：查看事件和考核", "expert: reads incidents and KPIs"),
    "viewer": ("观察员：只读", "viewer: reads only"),
}


@dataclass(frozen=True)
class UserSeed:
    """A demo login; every one uses ``DEMO_PASSWORD``."""

    username: str
    display_name: str
    password: str
    roles: tuple[str, ...]
    division_adcode: str | None
    unit_code: str | None


@dataclass(frozen=True)
class DemoJurisdiction:
    divisions: list[DivisionSeed]
    units: list[UnitSeed]
    people: list[PersonSeed]
    users: list[UserSeed]


# --------------------------------------------------------------------------------------------
# cpca adcode table
# --------------------------------------------------------------------------------------------


def _cpca_csv_path() -> Path | None:
    """Path of ``cpca/resources/adcodes.csv`` without importing cpca (which loads jieba/pandas)."""
    try:
        spec = importlib.util.find_spec("cpca")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "resources" / "adcodes.csv"
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=1)
def _cpca_table() -> dict[str, tuple[str, float, float]]:
    """cpca's bundled table: 12-digit adcode → (name, lon, lat); rows without a position skipped."""
    path = _cpca_csv_path()
    if path is None:
        return {}
    table: dict[str, tuple[str, float, float]] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            lon, lat = (row.get("longitude") or "").strip(), (row.get("latitude") or "").strip()
            if not lon or not lat:
                continue
            table[row["adcode"].strip()] = (row["name"].strip(), float(lon), float(lat))
    return table


def cpca_centre(adcode: str) -> tuple[float, float] | None:
    """(lon, lat) of a division from the ``cpca`` package's adcode table, or ``None`` if absent.

    ``adcode`` may be the 6-digit GB/T 2260 code or the 12-digit statistical code.
    """
    entry = _cpca_table().get(adcode.ljust(12, "0"))
    return None if entry is None else (entry[1], entry[2])


def _centre(adcode: str) -> tuple[float, float]:
    found = cpca_centre(adcode)
    if found is not None:
        return found
    _, lon, lat = _FALLBACK_CENTRES[adcode]
    return (lon, lat)


# --------------------------------------------------------------------------------------------
# Static reference data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TownSpec:
    code3: str
    name: str
    u: float  # seat position, east, as a fraction of the east–west semi-axis
    v: float  # seat position, north, as a fraction of the north–south semi-axis
    villages: int  # 村 + 社区
    communities: int  # 社区 among them


# The 19 乡镇(街道) of 庆元县: 3 街道, 6 镇, 10 乡. Seat positions follow the rough real layout
# around the county seat; village counts sum to 353 (seed 001).
_TOWNS: tuple[_TownSpec, ...] = (
    _TownSpec("001", "濛洲街道", 0.00, 0.00, 30, 8),
    _TownSpec("002", "屏都街道", -0.15, 0.05, 20, 3),
    _TownSpec("003", "松源街道", 0.13, -0.06, 22, 6),
    _TownSpec("100", "黄田镇", -0.38, -0.08, 34, 1),
    _TownSpec("101", "竹口镇", -0.78, 0.22, 32, 1),
    _TownSpec("102", "荷地镇", 0.78, 0.40, 24, 1),
    _TownSpec("103", "左溪镇", 0.50, 0.20, 22, 1),
    _TownSpec("104", "贤良镇", 0.40, -0.15, 20, 1),
    _TownSpec("105", "百山祖镇", 0.26, 0.50, 24, 1),
    _TownSpec("200", "隆宫乡", 0.15, -0.42, 15, 0),
    _TownSpec("201", "举水乡", 0.55, -0.50, 14, 0),
    _TownSpec("202", "江根乡", 0.28, -0.78, 13, 0),
    _TownSpec("203", "岭头乡", -0.45, -0.50, 12, 0),
    _TownSpec("204", "五大堡乡", 0.02, 0.42, 12, 0),
    _TownSpec("205", "淤上乡", -0.35, 0.55, 13, 0),
    _TownSpec("206", "安南乡", -0.14, -0.55, 10, 0),
    _TownSpec("207", "张村乡", 0.85, 0.00, 14, 0),
    _TownSpec("208", "龙溪乡", -0.72, -0.25, 10, 0),
    _TownSpec("209", "官塘乡", 0.58, 0.72, 12, 0),
)

# 92 departments (联动单位) by seed-001 tier: (name, leader position).
_DEPARTMENTS_TIER1: tuple[tuple[str, str], ...] = (
    ("庆元县应急管理局", "局长"),
    ("庆元县公安局", "局长"),
    ("庆元县消防救援大队", "大队长"),
    ("庆元县公安局交通警察大队", "大队长"),
    ("庆元县公安局巡特警大队", "大队长"),
    ("庆元县人民武装部", "部长"),
    ("庆元县卫生健康局", "局长"),
    ("庆元县人民医院", "院长"),
    ("庆元县中医院", "院长"),
    ("庆元县疾病预防控制中心", "主任"),
    ("庆元县120急救指挥中心", "主任"),
    ("庆元县水利局", "局长"),
    ("庆元县自然资源和规划局", "局长"),
    ("庆元县气象局", "局长"),
    ("庆元县林业局", "局长"),
    ("庆元县交通运输局", "局长"),
    ("庆元县公路与运输管理中心", "主任"),
    ("国网庆元县供电公司", "总经理"),
    ("丽水市生态环境局庆元分局", "局长"),
    ("庆元县水库管理中心", "主任"),
    ("庆元县水文管理站", "站长"),
    ("庆元县红十字会", "会长"),
    ("庆元县防汛防台抗旱指挥部办公室", "主任"),
)
_DEPARTMENTS_TIER2: tuple[tuple[str, str], ...] = (
    ("庆元县综合行政执法局", "局长"),
    ("庆元县住房和城乡建设局", "局长"),
    ("庆元县教育局", "局长"),
    ("庆元县民政局", "局长"),
    ("庆元县市场监督管理局", "局长"),
    ("庆元县农业农村局", "局长"),
    ("庆元县人力资源和社会保障局", "局长"),
    ("庆元县经济商务科技局", "局长"),
    ("庆元县文化和广电旅游体育局", "局长"),
    ("庆元县医疗保障局", "局长"),
    ("庆元县退役军人事务局", "局长"),
    ("庆元县信访局", "局长"),
    ("庆元县司法局", "局长"),
    ("庆元县数字城管指挥中心", "主任"),
    ("庆元县供排水有限公司", "总经理"),
    ("庆元县天然气有限公司", "总经理"),
    ("庆元县环境卫生管理中心", "主任"),
    ("庆元县园林绿化管理中心", "主任"),
    ("庆元县公共交通有限公司", "总经理"),
    ("庆元县汽车客运中心", "主任"),
    ("庆元县香菇市场管理中心", "主任"),
    ("庆元县住房保障服务中心", "主任"),
    ("庆元县残疾人联合会", "理事长"),
    ("庆元县妇女联合会", "主席"),
    ("共青团庆元县委员会", "书记"),
    ("庆元县总工会", "主席"),
    ("庆元县社会福利中心", "主任"),
    ("庆元县不动产登记服务中心", "主任"),
    ("庆元县行政服务中心", "主任"),
    ("庆元县96345便民服务中心", "主任"),
    ("中国邮政集团有限公司庆元县分公司", "总经理"),
    ("庆元县动物疫病预防控制中心", "主任"),
    ("庆元县食用菌产业中心", "主任"),
    ("庆元县烟草专卖局", "局长"),
    ("庆元县农贸市场管理中心", "主任"),
    ("庆元县旅游集散中心", "主任"),
    ("庆元县校园安全管理中心", "主任"),
    ("庆元县城乡供水管理站", "站长"),
)
_DEPARTMENTS_TIER3: tuple[tuple[str, str], ...] = (
    ("庆元县纪委县监委", "书记"),
    ("中共庆元县委宣传部", "部长"),
    ("中共庆元县委组织部", "部长"),
    ("中共庆元县委网络安全和信息化委员会办公室", "主任"),
    ("庆元县人民政府办公室", "主任"),
    ("庆元县机构编制委员会办公室", "主任"),
    ("庆元县发展和改革局", "局长"),
    ("庆元县财政局", "局长"),
    ("庆元县审计局", "局长"),
    ("庆元县统计局", "局长"),
    ("庆元县人民法院", "院长"),
    ("庆元县人民检察院", "检察长"),
    ("国家税务总局庆元县税务局", "局长"),
    ("中国人民银行庆元县支行", "行长"),
    ("中国移动庆元分公司", "总经理"),
    ("中国联通庆元分公司", "总经理"),
    ("中国电信庆元分公司", "总经理"),
    ("中国铁塔庆元县分公司", "总经理"),
    ("庆元县融媒体中心", "主任"),
    ("中国人民财产保险股份有限公司庆元支公司", "总经理"),
    ("庆元县粮食收储有限公司", "总经理"),
    ("庆元县机关事务管理中心", "主任"),
    ("庆元县档案馆", "馆长"),
    ("庆元县殡仪馆", "馆长"),
    ("庆元县公证处", "主任"),
    ("庆元县法律援助中心", "主任"),
    ("庆元县大数据发展中心", "主任"),
    ("庆元县供销合作社联合社", "主任"),
    ("庆元县慈善总会", "会长"),
    ("庆元县国有资产投资控股集团有限公司", "董事长"),
    ("庆元县城市建设投资集团有限公司", "董事长"),
)

#: County-level rescue teams (民间义务救援队伍 and professional teams); tier 1.
_COUNTY_TEAMS: tuple[str, ...] = (
    "庆元县蓝天救援队",
    "庆元县森林消防专业队",
    "庆元县山地救援队",
    "庆元县水上救援队",
    "庆元县红十字应急救护队",
    "庆元县公羊救援队",
    "庆元县曙光应急救援队",
    "庆元县户外运动协会救援队",
    "庆元县电力应急抢修队",
    "庆元县地质灾害应急抢险队",
    "庆元县防汛抢险突击队",
    "庆元县应急志愿服务总队",
)
#: Towns with their own 森林消防半专业队 (semi-professional forest fire team).
_TOWN_TEAM_TOWNS: tuple[str, ...] = (
    "101",
    "100",
    "102",
    "103",
    "104",
    "105",
    "204",
    "205",
    "201",
    "202",
    "207",
    "209",
    "203",
)

_SURNAMES: tuple[tuple[str, int], ...] = (
    ("吴", 9),
    ("叶", 9),
    ("周", 6),
    ("胡", 6),
    ("季", 5),
    ("陈", 6),
    ("王", 3),
    ("李", 3),
    ("张", 3),
    ("刘", 3),
    ("林", 3),
    ("杨", 2),
    ("黄", 2),
    ("徐", 2),
    ("姚", 3),
    ("范", 2),
    ("毛", 2),
    ("沈", 2),
    ("柳", 2),
    ("练", 1),
    ("郑", 2),
    ("何", 2),
    ("蔡", 1),
    ("潘", 1),
    ("金", 1),
    ("翁", 1),
    ("汤", 1),
    ("章", 1),
    ("项", 1),
    ("梅", 1),
)
_GIVEN_MALE = "建国伟军明华强平辉勇杰涛斌超鹏文海林荣峰志忠福春永立新刚俊宏德成良东晓飞彬"
_GIVEN_FEMALE = "芳丽英敏静燕霞红娟玲婷萍琴慧秀梅兰雪颖洁琳娜倩莉佳月"

_VILLAGE_FIRST = (
    "上下大小东西南北新后前高黄石竹松杨桃龙马金白青吴叶周胡季陈林梅枫柳樟岩湖月半双三五外里茶"
    "菇合兰碧长"
)
_VILLAGE_SECOND = "坑垟坪源岭洋山溪口坞田墩湾岗桥根头底坦塘坂庄川岙峰地坳畈际寮"
_VILLAGE_SURNAME_FIRST = "吴叶周胡季陈林杨黄姚范毛"
_VILLAGE_TAIL = "头口下底背"
_URBAN_COMMUNITIES = (
    "城东",
    "城西",
    "城南",
    "城北",
    "新华",
    "南门",
    "北门",
    "东门",
    "石龙",
    "江滨",
    "菇城",
    "状元",
    "府前",
    "新城",
    "兴庆",
    "河滨",
    "五都",
    "后田",
    "大济",
    "会溪",
    "双港",
    "龙庆",
)
_ROADS = (
    "石龙街",
    "濛洲街",
    "新建路",
    "城东路",
    "菇城大道",
    "庆元大道",
    "松源路",
    "解放街",
    "后田路",
    "五都路",
    "江滨路",
    "新城路",
    "城北路",
    "兴庆路",
    "状元路",
    "濛洲大道",
)
_MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "180",
    "181",
    "182",
    "183",
    "184",
    "185",
    "186",
    "187",
    "188",
    "189",
)


# --------------------------------------------------------------------------------------------
# Geometry helpers (work in a local km plane centred on the county seat, export as lon/lat)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    """Local equirectangular plane: x km east, y km north of (lon0, lat0)."""

    lon0: float
    lat0: float

    @property
    def kx(self) -> float:
        return 111.320 * math.cos(math.radians(self.lat0))

    @property
    def ky(self) -> float:
        return 110.574

    def to_lonlat(self, geom: BaseGeometry) -> BaseGeometry:
        return affine_transform(geom, [1 / self.kx, 0.0, 0.0, 1 / self.ky, self.lon0, self.lat0])

    def point(self, x: float, y: float) -> tuple[float, float]:
        return (
            round(self.lon0 + x / self.kx, _COORD_DECIMALS),
            round(self.lat0 + y / self.ky, _COORD_DECIMALS),
        )


def _polygonal(geom: BaseGeometry) -> Polygon | MultiPolygon:
    """The polygonal part of ``geom`` as a Polygon or MultiPolygon (lines and points dropped)."""
    if isinstance(geom, Polygon):
        return geom
    if isinstance(geom, MultiPolygon):
        return geom if len(geom.geoms) > 1 else geom.geoms[0]
    parts: list[Polygon] = []
    for sub in getattr(geom, "geoms", ()):
        if isinstance(sub, Polygon) and not sub.is_empty:
            parts.append(sub)
        elif isinstance(sub, MultiPolygon):
            parts.extend(p for p in sub.geoms if not p.is_empty)
    if not parts:
        raise ValueError("geometry has no polygonal part")
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _county_outline(rng: np.random.Generator) -> Polygon:
    """A perturbed, non-convex ellipse of ``COUNTY_AREA_KM2`` centred (by centroid) on (0, 0)."""
    n = 360
    theta = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    radius = np.ones(n)
    for harmonic in range(2, 13):
        amplitude = rng.uniform(0.35, 1.0) * (0.09 if harmonic <= 5 else 0.035)
        phase = rng.uniform(0.0, 2.0 * math.pi)
        radius += amplitude * np.cos(harmonic * theta + phase)
    noise = rng.normal(0.0, 0.05, n)
    kernel = np.ones(9) / 9.0
    padded = np.concatenate([noise[-4:], noise, noise[:4]])
    radius += np.convolve(padded, kernel, mode="valid")
    radius = np.clip(radius, 0.45, None)
    a, b = _SEMI_AXES_KM
    xs = a * radius * np.cos(theta)
    ys = b * radius * np.sin(theta)
    outline = Polygon(list(zip(xs.tolist(), ys.tolist(), strict=True)))
    scale = math.sqrt(COUNTY_AREA_KM2 / outline.area)
    outline = affine_transform(outline, [scale, 0.0, 0.0, scale, 0.0, 0.0])
    c = outline.centroid
    outline = affine_transform(outline, [1.0, 0.0, 0.0, 1.0, -c.x, -c.y])
    simplified = outline.simplify(_SIMPLIFY_KM, preserve_topology=True)
    result = _polygonal(simplified if simplified.is_valid else shapely.make_valid(simplified))
    if not isinstance(result, Polygon):
        raise TypeError("county outline is not a single polygon")
    return result


def _voronoi_partition(
    region: Polygon | MultiPolygon, points: Sequence[tuple[float, float]]
) -> list[Polygon | MultiPolygon]:
    """Voronoi cells of ``points`` clipped to ``region``, in the order of ``points``."""
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    minx, miny, maxx, maxy = region.bounds
    pad = 2.0 * max(maxx - minx, maxy - miny)
    envelope = box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    diagram = voronoi_diagram(MultiPoint(list(points)), envelope=envelope)
    cells: list[Polygon | MultiPolygon | None] = [None] * len(points)
    for cell in diagram.geoms:
        hits = np.flatnonzero(shapely.contains_xy(cell, xs, ys))
        if len(hits) != 1:
            raise RuntimeError("Voronoi cell does not hold exactly one generator")
        cells[int(hits[0])] = _polygonal(cell.intersection(region))
    result: list[Polygon | MultiPolygon] = []
    for c in cells:
        if c is None:
            raise RuntimeError("a generator got no Voronoi cell")
        result.append(c)
    return result


def _spread_points(
    region: Polygon | MultiPolygon,
    count: int,
    first: tuple[float, float],
    rng: np.random.Generator,
    relax: int = 3,
) -> list[tuple[float, float]]:
    """``count`` well-spread points in ``region``: ``first`` fixed, the rest by farthest-point
    sampling of random candidates followed by ``relax`` Lloyd iterations."""
    minx, miny, maxx, maxy = region.bounds
    m = max(600, 60 * count)
    cand = np.column_stack((rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)))
    cand = cand[shapely.contains_xy(region, cand[:, 0], cand[:, 1])]
    points: list[tuple[float, float]] = [first]
    dist = np.hypot(cand[:, 0] - first[0], cand[:, 1] - first[1])
    for _ in range(count - 1):
        i = int(np.argmax(dist))
        px, py = float(cand[i, 0]), float(cand[i, 1])
        points.append((px, py))
        dist = np.minimum(dist, np.hypot(cand[:, 0] - px, cand[:, 1] - py))
    for _ in range(relax):
        cells = _voronoi_partition(region, points)
        moved: list[tuple[float, float]] = [first]
        for cell in cells[1:]:
            c = cell.centroid
            if not region.contains(c) or not cell.contains(c):
                c = cell.representative_point()
            moved.append((c.x, c.y))
        points = moved
    return points


def _round_ring(coords: Any) -> list[list[float]]:
    return [[round(float(x), _COORD_DECIMALS), round(float(y), _COORD_DECIMALS)] for x, y in coords]


def _polygon_coords(poly: Polygon) -> list[list[list[float]]]:
    poly = orient(poly, 1.0)
    return [_round_ring(poly.exterior.coords)] + [_round_ring(r.coords) for r in poly.interiors]


def _to_geojson(geom: Polygon | MultiPolygon) -> dict[str, Any]:
    if isinstance(geom, Polygon):
        return {"type": "Polygon", "coordinates": _polygon_coords(geom)}
    return {"type": "MultiPolygon", "coordinates": [_polygon_coords(p) for p in geom.geoms]}


def _export(frame: _Frame, geom_km: Polygon | MultiPolygon) -> tuple[dict[str, Any], BaseGeometry]:
    """Project to lon/lat, snap to the 1e-6° grid, and return (GeoJSON, the geometry it parses to),
    repairing until the rounded geometry is valid."""
    geom = _polygonal(shapely.set_precision(frame.to_lonlat(geom_km), 10.0**-_COORD_DECIMALS))
    for _ in range(4):
        gj = _to_geojson(geom)
        parsed = shape(gj)
        if parsed.is_valid and not parsed.is_empty:
            return gj, parsed
        repaired = shapely.make_valid(parsed).buffer(0)
        geom = _polygonal(shapely.set_precision(repaired, 10.0**-_COORD_DECIMALS))
    raise RuntimeError("could not make a valid rounded boundary")


def _inside_point(geom: BaseGeometry) -> tuple[float, float]:
    """Centroid rounded to 6 decimals, or a representative point when that falls outside."""
    for candidate in (geom.centroid, geom.representative_point()):
        rounded = (round(candidate.x, _COORD_DECIMALS), round(candidate.y, _COORD_DECIMALS))
        if geom.contains(Point(rounded)):
            return rounded
    raise RuntimeError("no interior point found")


# --------------------------------------------------------------------------------------------
# Name, phone and address generators
# --------------------------------------------------------------------------------------------


class _Names:
    """Unique generated Chinese personal names, mobiles and office phones."""

    def __init__(self, rnd: random.Random) -> None:
        self._rnd = rnd
        self._surnames = [s for s, _ in _SURNAMES]
        self._weights = [w for _, w in _SURNAMES]
        self._used_names: set[str] = set()
        self._used_mobiles: set[str] = set()
        self._used_phones: set[str] = set()

    def person(self) -> str:
        while True:
            surname = self._rnd.choices(self._surnames, self._weights)[0]
            pool = _GIVEN_MALE if self._rnd.random() < 0.6 else _GIVEN_FEMALE
            length = 1 if self._rnd.random() < 0.25 else 2
            given = "".join(self._rnd.choice(pool) for _ in range(length))
            name = surname + given
            if name not in self._used_names and given[0] != surname:
                self._used_names.add(name)
                return name

    def mobile(self) -> str:
        while True:
            number = self._rnd.choice(_MOBILE_PREFIXES) + f"{self._rnd.randrange(10**8):08d}"
            if number not in self._used_mobiles:
                self._used_mobiles.add(number)
                return number

    def office_phone(self) -> str:
        while True:
            number = f"0578-6{self._rnd.randrange(10**6):06d}"
            if number not in self._used_phones:
                self._used_phones.add(number)
                return number


def _village_names(
    rnd: random.Random, towns: Sequence[_TownSpec]
) -> dict[str, tuple[list[str], list[str]]]:
    """Per town code: (社区 names, 村 names), all unique across the county."""
    used: set[str] = {t.name[:-2] if t.name.endswith("街道") else t.name[:-1] for t in towns}
    urban = list(_URBAN_COMMUNITIES)
    rnd.shuffle(urban)
    result: dict[str, tuple[list[str], list[str]]] = {}

    def village() -> str:
        while True:
            r = rnd.random()
            if r < 0.7:
                stem = rnd.choice(_VILLAGE_FIRST) + rnd.choice(_VILLAGE_SECOND)
            elif r < 0.85:
                stem = rnd.choice(_VILLAGE_SURNAME_FIRST) + "家" + rnd.choice(_VILLAGE_SECOND)
            else:
                stem = (
                    rnd.choice(_VILLAGE_FIRST)
                    + rnd.choice(_VILLAGE_SECOND)
                    + rnd.choice(_VILLAGE_TAIL)
                )
            if len(set(stem)) == len(stem) and stem not in used:
                used.add(stem)
                return stem + "村"

    for town in towns:
        communities: list[str] = []
        if town.name.endswith("街道"):
            for _ in range(town.communities):
                stem = urban.pop()
                used.add(stem)
                communities.append(stem + "社区")
        elif town.communities:
            communities.append(town.name[:-1] + "社区")
            for _ in range(town.communities - 1):
                stem = urban.pop()
                used.add(stem)
                communities.append(stem + "社区")
        villages = [village() for _ in range(town.villages - town.communities)]
        result[town.code3] = (communities, villages)
    return result


# --------------------------------------------------------------------------------------------
# Builder
# --------------------------------------------------------------------------------------------


def _town_unit_name(town_name: str) -> str:
    return town_name + ("办事处" if town_name.endswith("街道") else "人民政府")


def _town_leader_position(town_name: str) -> str:
    if town_name.endswith("街道"):
        return "街道主任"
    return "镇长" if town_name.endswith("镇") else "乡长"


def build_demo(seed: int = DEFAULT_SEED) -> DemoJurisdiction:
    """Build the 庆元县 demo jurisdiction deterministically from ``seed``."""
    rnd = random.Random(seed)
    rng = np.random.default_rng(seed)
    names = _Names(rnd)

    lon0, lat0 = _centre(COUNTY_ADCODE)
    frame = _Frame(lon0, lat0)

    # ---- divisions ---------------------------------------------------------------------
    county_km = _county_outline(rng)
    a_km = math.sqrt(-county_km.bounds[0] * county_km.bounds[2])  # ≈ semi-axes of the outline
    b_km = math.sqrt(-county_km.bounds[1] * county_km.bounds[3])
    inner = county_km.buffer(-1.5)

    town_seats: list[tuple[float, float]] = []
    for t in _TOWNS:
        jitter = rng.normal(0.0, 0.015, 2)
        x, y = (t.u + float(jitter[0])) * a_km, (t.v + float(jitter[1])) * b_km
        while not inner.contains(Point(x, y)):
            x, y = x * 0.95, y * 0.95
        town_seats.append((x, y))
    town_cells = _voronoi_partition(county_km, town_seats)

    divisions: list[DivisionSeed] = [
        DivisionSeed(PROVINCE_ADCODE, "浙江省", "province", None, None, _centre(PROVINCE_ADCODE)),
        DivisionSeed(CITY_ADCODE, "丽水市", "city", PROVINCE_ADCODE, None, _centre(CITY_ADCODE)),
    ]
    county_gj, county_geom = _export(frame, county_km)
    divisions.append(
        DivisionSeed(
            COUNTY_ADCODE, "庆元县", "county", CITY_ADCODE, county_gj, _inside_point(county_geom)
        )
    )

    village_names = _village_names(rnd, _TOWNS)
    town_adcode: dict[str, str] = {}
    # per town: (village adcode, village name, village seat in km), 社区 first
    town_villages: dict[str, list[tuple[str, str, tuple[float, float]]]] = {}
    village_divisions: list[DivisionSeed] = []
    for t, seat, cell in zip(_TOWNS, town_seats, town_cells, strict=True):
        prefix = COUNTY_ADCODE + t.code3
        adcode = prefix + "000"
        town_adcode[t.code3] = adcode
        gj, geom = _export(frame, cell)
        divisions.append(
            DivisionSeed(adcode, t.name, "town", COUNTY_ADCODE, gj, _inside_point(geom))
        )

        pts = _spread_points(cell, t.villages, seat, rng)
        vcells = _voronoi_partition(cell, pts)
        # 社区 are the cells nearest the seat; 村 are numbered by bearing, then distance.
        order = sorted(
            range(len(pts)), key=lambda i: (math.hypot(pts[i][0] - seat[0], pts[i][1] - seat[1]), i)
        )
        comm_idx = order[: t.communities]
        rest = order[t.communities :]
        rest.sort(key=lambda i: (round(math.atan2(pts[i][1] - seat[1], pts[i][0] - seat[0]), 9), i))
        comm_names, vill_names = village_names[t.code3]
        entries: list[tuple[str, str, tuple[float, float]]] = []
        for k, i in enumerate(comm_idx):
            entries.append((f"{prefix}{k + 1:03d}", comm_names[k], pts[i]))
            vgj, vgeom = _export(frame, vcells[i])
            village_divisions.append(
                DivisionSeed(
                    entries[-1][0], comm_names[k], "village", adcode, vgj, _inside_point(vgeom)
                )
            )
        for k, i in enumerate(rest):
            entries.append((f"{prefix}{200 + k:03d}", vill_names[k], pts[i]))
            vgj, vgeom = _export(frame, vcells[i])
            village_divisions.append(
                DivisionSeed(
                    entries[-1][0], vill_names[k], "village", adcode, vgj, _inside_point(vgeom)
                )
            )
        town_villages[t.code3] = entries
    divisions.extend(village_divisions)

    # ---- units and people ----------------------------------------------------------------
    units: list[UnitSeed] = []
    people: list[PersonSeed] = []

    def add_people(unit_code: str, leader_position: str, staff: Sequence[str]) -> None:
        people.append(
            PersonSeed(
                unit_code,
                names.person(),
                leader_position,
                names.mobile(),
                names.office_phone(),
                True,
            )
        )
        people.extend(
            PersonSeed(
                unit_code, names.person(), position, names.mobile(), names.office_phone(), False
            )
            for position in staff
        )

    seat_town = _TOWNS[0]  # 濛洲街道 hosts the county seat and the departments
    seat_geom_km = town_cells[0].intersection(Point(0.0, 0.0).buffer(2.5))
    seat_poly = _polygonal(seat_geom_km) if not seat_geom_km.is_empty else town_cells[0]

    def seat_location() -> tuple[float, float]:
        minx, miny, maxx, maxy = seat_poly.bounds
        while True:
            x, y = float(rng.uniform(minx, maxx)), float(rng.uniform(miny, maxy))
            if seat_poly.contains(Point(x, y)):
                return frame.point(x, y)

    def street_address() -> str:
        return f"庆元县{seat_town.name}{rnd.choice(_ROADS)}{rnd.randint(1, 299)}号"

    departments = (
        [(n, p, 1) for n, p in _DEPARTMENTS_TIER1]
        + [(n, p, 2) for n, p in _DEPARTMENTS_TIER2]
        + [(n, p, 3) for n, p in _DEPARTMENTS_TIER3]
    )
    staff_pool = ("联络员", "值班员", "值班员")
    for k, (dept_name, leader_position, tier) in enumerate(departments, start=1):
        code = f"D{k:03d}"
        lon, lat = seat_location()
        units.append(
            UnitSeed(
                code,
                dept_name,
                "department",
                tier,
                COUNTY_ADCODE,
                None,
                names.office_phone(),
                street_address(),
                lon,
                lat,
            )
        )
        n_staff = 3 if k == 1 else rnd.randint(1, 3)
        add_people(code, leader_position, staff_pool[:n_staff])

    town_unit_code: dict[str, str] = {}
    for t, seat in zip(_TOWNS, town_seats, strict=True):
        code = f"T{t.code3}"
        town_unit_code[t.code3] = code
        lon, lat = frame.point(*seat)
        address = f"庆元县{t.name}{town_villages[t.code3][0][1]}"
        units.append(
            UnitSeed(
                code,
                _town_unit_name(t.name),
                "town",
                1,
                town_adcode[t.code3],
                None,
                names.office_phone(),
                address,
                lon,
                lat,
            )
        )
        add_people(code, _town_leader_position(t.name), staff_pool[: rnd.randint(1, 3)])

    for t in _TOWNS:
        for vcode, vname, pt in town_villages[t.code3]:
            code = f"V{vcode}"
            lon, lat = frame.point(*pt)
            units.append(
                UnitSeed(
                    code,
                    vname + "便民服务中心",
                    "village",
                    2,
                    vcode,
                    town_unit_code[t.code3],
                    names.office_phone(),
                    f"庆元县{t.name}{vname}",
                    lon,
                    lat,
                )
            )
            if vname.endswith("社区"):
                leader = "社区书记"
            else:
                leader = "村支书" if rnd.random() < 0.6 else "村委会主任"
            add_people(code, leader, ("网格员",))

    team_no = 0
    for team in _COUNTY_TEAMS:
        team_no += 1
        code = f"R{team_no:02d}"
        lon, lat = seat_location()
        units.append(
            UnitSeed(
                code,
                team,
                "rescue_team",
                1,
                COUNTY_ADCODE,
                None,
                names.office_phone(),
                street_address(),
                lon,
                lat,
            )
        )
        add_people(code, "队长", ("联络员",))
    towns_by_code = {t.code3: (t, seat) for t, seat in zip(_TOWNS, town_seats, strict=True)}
    for code3 in _TOWN_TEAM_TOWNS:
        t, seat = towns_by_code[code3]
        team_no += 1
        code = f"R{team_no:02d}"
        cell = town_cells[_TOWNS.index(t)]
        x, y = seat
        for _ in range(50):  # a base near, but not on, the town seat
            dx, dy = rng.normal(0.0, 0.6, 2)
            if cell.contains(Point(x + float(dx), y + float(dy))):
                x, y = x + float(dx), y + float(dy)
                break
        lon, lat = frame.point(x, y)
        units.append(
            UnitSeed(
                code,
                f"{t.name}森林消防半专业队",
                "rescue_team",
                1,
                town_adcode[code3],
                town_unit_code[code3],
                names.office_phone(),
                f"庆元县{t.name}{town_villages[code3][0][1]}",
                lon,
                lat,
            )
        )
        add_people(code, "队长", ("联络员",))

    # ---- users ---------------------------------------------------------------------------
    def person_of(unit_code: str, position: str) -> str:
        for p in people:
            if p.unit_code == unit_code and p.position == position:
                return p.name
        raise LookupError(f"{unit_code} has no {position}")

    def leader_of(unit_code: str) -> str:
        for p in people:
            if p.unit_code == unit_code and p.is_leader:
                return p.name
        raise LookupError(f"{unit_code} has no leader")

    by_name = {u.name: u.code for u in units}
    emergency_code = by_name["庆元县应急管理局"]
    fire_code = by_name["庆元县消防救援大队"]
    zhukou, huangtian = "101", "100"
    field_village = next(v for v in town_villages[zhukou] if v[1].endswith("村"))
    field_unit = f"V{field_village[0]}"

    def user(
        username: str, who: str, label: str, role: str, division: str | None, unit: str | None
    ) -> UserSeed:
        return UserSeed(username, f"{who}（{label}）", DEMO_PASSWORD, (role,), division, unit)

    users = [
        user("admin", names.person(), "系统管理员", "admin", None, None),
        user("commander", names.person(), "指挥长", "commander", COUNTY_ADCODE, None),
        user(
            "duty_leader", leader_of(emergency_code), "带班领导", "duty_leader", COUNTY_ADCODE, None
        ),
        user(
            "duty_officer",
            person_of(emergency_code, "值班员"),
            "值班员",
            "duty_officer",
            COUNTY_ADCODE,
            None,
        ),
        user(
            "liaison_fire",
            person_of(fire_code, "联络员"),
            "联络员",
            "unit_liaison",
            None,
            fire_code,
        ),
        user(
            "liaison_zhukou",
            person_of(town_unit_code[zhukou], "联络员"),
            "联络员",
            "unit_liaison",
            town_adcode[zhukou],
            town_unit_code[zhukou],
        ),
        user(
            "liaison_huangtian",
            person_of(town_unit_code[huangtian], "联络员"),
            "联络员",
            "unit_liaison",
            town_adcode[huangtian],
            town_unit_code[huangtian],
        ),
        user(
            "field_zhukou",
            person_of(field_unit, "网格员"),
            "网格员",
            "field_worker",
            town_adcode[zhukou],
            field_unit,
        ),
        user("expert", names.person(), "专家", "expert", COUNTY_ADCODE, None),
        user("viewer", names.person(), "观察员", "viewer", COUNTY_ADCODE, None),
    ]
    return DemoJurisdiction(divisions=divisions, units=units, people=people, users=users)
