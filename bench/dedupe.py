"""Benchmark of report matching (事件归并): a generated typhoon day over the demo county (庆元).

``python -m bench.dedupe [--reports 2000] [--duplicate-share 0.30 | --incidents N] [--seed 7]``

What "30 % duplicates" means here: of the ``reports`` reports, ``round(share × reports)`` are
*duplicates* — reports about an incident that an earlier report (in arrival order) already
described; every other report is the *first report* of its own incident. So 2,000 reports with
30 % duplicates describe 1,400 incidents, and the 600 duplicates fall on the incidents in
proportion to how conspicuous each kind is (a flooded street draws many calls, a fallen tree
one or two). ``--incidents N`` fixes the number of incidents instead (duplicates = reports − N;
``--incidents 600`` with 2,000 reports is 70 % duplicates).

The day: incidents of a typhoon (flood, people trapped by water, waterlogging, landslide, fallen
trees and torn roofs, power-line damage, house collapse, fire, traffic, drowning) at named spots
(自然村, bridges, roads …) of the demo villages, most between 08:00 and 22:00. To make it hard,
about a third of the incidents are placed in a village that already has one, within ±3 h, at
the same or another spot, of the same or another kind. Each report is written by a different
reporter (resident, passer-by, grid worker, village cadre): phrasings drawn from synonym
families of the incident's scenario, clauses reordered, colloquial or formal, place named fully,
partly or not at all, a few typos in place names and dropped characters. About 60 % carry a GPS
point (spread over the incident's extent plus 20–300 m jitter); the rest only text, sometimes a
typed address, and are placed by the simulated intake from the place names they contain. The
gazetteer holds the named spots with their points, as the platform's place table does, so the
matcher can measure a distance from a report that names a spot but has no GPS.

The flow: reports in arrival order; each is classified (``Classifier``), candidates are
pre-selected by the Matcher's window (bounding box + time), and the Matcher decides. 'new' opens
an incident, 'join' attaches. 'suggest' is counted as *not joined* for precision/recall; to keep
the open-incident set realistic, a simulated duty officer then resolves it (joins if the right
incident is among the suggestions, else opens a new one).

Metrics: a *correct join* is a join to the open incident whose opening report describes the same
true incident. precision = correct joins / all joins; recall = correct joins / true duplicates.
Baselines in the same run and flow: ``window-only`` (join the nearest related incident inside
the same distance/time window, no text) and ``exact-text`` (join an incident having the same
normalised text). Results go to stdout and ``var/bench/dedupe.json``. ``bench/dedupe_api.py``
plays the same day through the running platform and prints the two side by side.
"""

from __future__ import annotations

import argparse
import functools
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shapely import STRtree
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from bench.common import write_report
from yingji.core.geo import haversine_m, radius_bbox
from yingji.intake.classify import Classifier, load_categories
from yingji.intake.matching import (
    CallerFix,
    CandidateIncident,
    MatchDecision,
    Matcher,
    ReportFacts,
    Suggestion,
    division_key,
)
from yingji.intake.textsim import Place, TextProfiler, compare, normalise
from yingji.org.demo_data import build_demo

DAY_START = datetime(2026, 8, 12, 0, 0, tzinfo=UTC) - timedelta(hours=8)  # 00:00 Beijing time
M_PER_DEG = 111_320.0

# --------------------------------------------------------------------------------------------
# The kinds of incident on a typhoon day and how people describe them
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    code: str  # true category
    share: float  # of incidents
    extent_m: float  # reporters are spread over this radius
    delay_min: float  # later reports arrive up to this long after the incident
    salience: float  # relative number of duplicate reports
    scenarios: tuple[tuple[str, ...], ...]  # an incident picks one; reporters pick phrasings
    generic: tuple[str, ...] = ()
    persist_h: float = 8.0  # the same kind at the same place within this is the same incident
    area: bool = False  # the whole village is the place (a flood), else the spot (a fallen tree)


KINDS: dict[str, Kind] = {
    "flood": Kind(
        "natural.flood",
        22,
        700,
        150,
        3.0,
        (
            (
                "{spot}的路被水淹了",
                "溪水漫过{spot}路面，车过不去",
                "路上水很深，车子开不过去",
                "河水漫上公路了",
                "桥面被淹了过不去",
                "道路被洪水淹没，交通中断",
                "路被大水冲断了",
            ),
            (
                "好几户人家进水了",
                "水都进屋了",
                "房子里进水有半米深",
                "洪水冲进村里，民房进水",
                "家里被淹了，东西都泡在水里",
                "村里房屋进水，需要转移群众",
                "一楼全淹了",
            ),
            (
                "溪水涨得很快，快漫堤了",
                "河水漫堤了",
                "河堤被冲开一个口子",
                "溪里水位暴涨",
                "山洪下来了，水很急",
                "发大水了，河水冲下来了",
                "堤坝决口了",
            ),
            (
                "田全淹了",
                "农田被淹，庄稼泡在水里",
                "稻田里全是水",
                "大片农田被洪水淹没",
                "菜地都被水淹了",
            ),
        ),
        ("发大水了", "水很大", "雨一直下，水越来越大", "水还在涨"),
        area=True,
    ),
    "trapped": Kind(
        "natural.flood",
        6,
        200,
        60,
        3.0,
        (
            (
                "有人被困在家里出不来",
                "{n}个人被水困住了",
                "老人被困在二楼",
                "屋里有人被洪水围住了",
                "被困群众等待救援",
                "水太深人出不来，需要冲锋舟",
                "一家人被困在房顶",
            ),
            (
                "车子被水困住了，人在车顶上",
                "一辆车被冲到河边，车里有人",
                "有车陷在水里，司机被困",
                "小车在水里熄火了，人出不来",
            ),
        ),
        ("快来救人", "水还在涨", "请求救援"),
        persist_h=4,
    ),
    "waterlogging": Kind(
        "natural.rainstorm",
        8,
        400,
        90,
        2.0,
        (
            (
                "路面积水很深",
                "街上积水到膝盖",
                "下水道堵了水排不出去",
                "积水漫进店里了",
                "路口积水严重，车辆熄火",
                "马路变成河了",
            ),
            ("地下车库进水了", "地下室被淹了", "车库里积水很深，车都泡了", "地下室倒灌进水"),
        ),
        ("雨太大了", "暴雨一直下"),
        area=True,
    ),
    "landslide": Kind(
        "natural.landslide",
        18,
        250,
        120,
        2.0,
        (
            (
                "山体滑坡把路堵了",
                "塌方了，路过不去",
                "{spot}边上的山塌下来了，路断了",
                "泥土石头冲到路上",
                "公路边坡塌方，交通中断",
                "落石把路封了",
                "山上滑下来好多土把路埋了",
            ),
            (
                "后山滑坡，泥土冲进房子",
                "山体塌方压到房子了",
                "房子后面的山滑下来了",
                "泥石流冲到村里了",
                "后山泥土冲下来，房子被埋了一半",
                "屋后边坡垮了",
            ),
            (
                "后山开裂了，有滑坡的危险",
                "山上出现裂缝，石头往下滚",
                "边坡有裂缝在往下掉土",
                "山体有松动，怕要滑坡",
            ),
        ),
        ("山体滑坡", "塌方"),
    ),
    "tree": Kind(
        "natural.typhoon",
        14,
        150,
        60,
        1.0,
        (
            (
                "大树倒了横在路上",
                "路边的树被风刮倒了，挡住了路",
                "一棵大树倒在马路中间，车过不去",
                "台风把树吹倒了，堵住了道路",
                "树倒了把路拦住了",
            ),
            (
                "大树倒下来砸到车了",
                "树倒了压在房顶上",
                "大风把树刮倒砸在屋顶",
                "倒下的树压坏了车子",
            ),
            (
                "屋顶被大风掀掉了",
                "彩钢瓦被吹飞了",
                "广告牌被风吹下来了，砸在路上",
                "厂房铁皮屋顶被掀翻",
                "瓦片被风刮得到处飞",
            ),
        ),
        ("风太大了", "台风"),
        persist_h=4,
    ),
    "power": Kind(
        "accident.power_outage",
        12,
        800,
        180,
        2.0,
        (
            (
                "全村停电了",
                "我们这里没电了好几个小时",
                "停电了，什么时候来电",
                "整片都断电了",
                "家里没电了，邻居也没电",
            ),
            (
                "电线杆倒了",
                "电线断了掉在地上，很危险",
                "高压线被树压断了",
                "电线杆被风刮倒，电线拖在路上",
                "电线掉下来挂在路边",
            ),
            ("变压器冒火花", "变压器被水淹了", "电箱进水打火花", "配电箱冒火花，怕漏电"),
        ),
        ("停电了",),
        area=True,
    ),
    "collapse": Kind(
        "accident.building_collapse",
        7,
        150,
        90,
        2.0,
        (
            ("老房子塌了", "一间泥房倒塌了", "房子被雨泡塌了", "旧房子墙体倒塌", "土坯房塌了一半"),
            ("围墙倒了", "挡墙塌了压到路边", "猪圈倒了", "院墙被冲倒了"),
            (
                "房子塌了，有人被压在下面",
                "倒塌房屋里可能有人",
                "房屋倒塌，一人被埋",
                "房子倒了，老人没出来",
            ),
        ),
    ),
    "fire": Kind(
        "accident.fire",
        3,
        200,
        40,
        3.0,
        (
            (
                "房子着火了",
                "民房起火，烟很大",
                "一户人家失火了",
                "着火了，火很大",
                "木房子烧起来了",
            ),
            ("电线短路起火了", "电箱着火了", "配电房冒烟起火", "电线起火，冒黑烟"),
            ("厂房着火了", "仓库起火，冒黑烟", "工厂里失火了，浓烟很大"),
        ),
    ),
    "traffic": Kind(
        "accident.traffic",
        3,
        200,
        30,
        2.0,
        (
            ("车子被水冲到路边翻了", "一辆车滑到沟里去了", "货车侧翻了", "小车翻到沟里了"),
            ("两车相撞", "两辆车撞了，有人受伤", "雨天路滑，车撞到护栏", "摩托车摔倒了，人受伤"),
        ),
    ),
    "drowning": Kind(
        "accident.drowning",
        1.5,
        500,
        60,
        2.0,
        (
            (
                "有人掉进河里被冲走了",
                "一个人过桥被水冲走了",
                "有人落水了",
                "村民在溪边被洪水冲走",
                "看到有人在水里漂，没上来",
            ),
        ),
    ),
}

SPOT_STEMS = (
    "下洋",
    "后坑",
    "上坪",
    "石门",
    "岭头",
    "大坑",
    "黄泥",
    "竹坪",
    "樟树",
    "桥头",
    "外洋",
    "里坑",
    "田心",
    "山后",
    "溪口",
    "枫树",
    "水尾",
    "坑口",
    "高山",
    "洋背",
    "塘下",
    "松坑",
)
SPOT_FORMS = (
    "{s}自然村",
    "{s}自然村",
    "{s}组",
    "{s}桥",
    "{s}岭",
    "村口大桥",
    "村委会",
    "村小学",
    "老街",
    "溪边",
    "后山",
    "机耕路",
    "水电站",
    "S56省道",
    "{n}组",
    "{n}组",
)
TYPO = {
    "坑": "抗",
    "洋": "阳",
    "岭": "领",
    "溪": "西",
    "桥": "乔",
    "坪": "平",
    "垟": "洋",
    "岙": "奥",
    "墩": "敦",
    "坳": "凹",
    "峰": "风",
    "源": "元",
    "济": "际",
    "庄": "装",
    "山": "三",
}
OPENERS = ("喂，", "你好，", "我跟你说，", "", "", "", "", "")
CLOSERS = (
    "，快来人啊",
    "，麻烦你们快来看看",
    "，请尽快派人处理",
    "，要不要紧啊",
    "，赶紧来",
    "",
    "",
    "",
    "",
)
ROLES = ("resident", "resident", "resident", "passerby", "grid", "grid", "cadre")


@dataclass(frozen=True)
class Village:
    adcode: str
    name: str
    town_adcode: str
    town: str
    polygon: BaseGeometry
    spots: tuple[tuple[str, float, float], ...]  # (name, lon, lat)


@dataclass
class TrueIncident:
    id: int
    kind: str
    village: Village
    spot: tuple[str, float, float]
    lon: float
    lat: float
    at: datetime
    scenario: tuple[str, ...]
    n_people: int


@dataclass(frozen=True)
class Report:
    id: int
    incident: int
    text: str
    address: str | None
    lon: float | None
    lat: float | None
    division_adcode: str | None
    received_at: datetime
    role: str
    channel: str = "manual"
    caller: CallerFix | None = None  # 110/119/120: the caller's location (assign_calls)


# --------------------------------------------------------------------------------------------
# Geography
# --------------------------------------------------------------------------------------------


def _offset(lon: float, lat: float, metres: float, angle: float) -> tuple[float, float]:
    dlat = metres * math.sin(angle) / M_PER_DEG
    dlon = metres * math.cos(angle) / (M_PER_DEG * math.cos(math.radians(lat)))
    return lon + dlon, lat + dlat


def _inside(rnd: random.Random, poly: BaseGeometry) -> tuple[float, float]:
    minx, miny, maxx, maxy = poly.bounds
    for _ in range(200):
        x, y = rnd.uniform(minx, maxx), rnd.uniform(miny, maxy)
        if poly.contains(Point(x, y)):
            return x, y
    c = poly.representative_point()
    return float(c.x), float(c.y)


def _spots(rnd: random.Random, poly: BaseGeometry) -> tuple[tuple[str, float, float], ...]:
    names: list[str] = []
    while len(names) < rnd.randint(4, 6):
        form = rnd.choice(SPOT_FORMS)
        name = form.format(s=rnd.choice(SPOT_STEMS), n=rnd.randint(1, 9))
        if name not in names:
            names.append(name)
    spots: list[tuple[str, float, float]] = []
    for name in names:
        best = _inside(rnd, poly)
        for _ in range(20):  # keep spots of a village at least 250 m apart where possible
            if all(haversine_m(best[0], best[1], s[1], s[2]) >= 250 for s in spots):
                break
            best = _inside(rnd, poly)
        spots.append((name, best[0], best[1]))
    return tuple(spots)


def build_villages(rnd: random.Random) -> list[Village]:
    demo = build_demo()
    towns = {d.adcode: d.name for d in demo.divisions if d.level == "town"}
    villages = []
    for d in demo.divisions:
        if d.level != "village" or d.boundary is None or d.parent_adcode not in towns:
            continue
        poly = shape(d.boundary)
        villages.append(
            Village(
                d.adcode, d.name, d.parent_adcode, towns[d.parent_adcode], poly, _spots(rnd, poly)
            )
        )
    return villages


#: Spot names that are everyday words ("the hill behind", "by the stream"), not in a gazetteer.
COMMON_SPOTS = frozenset(("后山", "溪边"))


def gazetteer(villages: Sequence[Village], *, spots: bool = True) -> list[Place]:
    """Towns, villages and (``spots``) the named places inside villages — what the platform's
    division table and its place-name/POI tables (自然村, bridges, schools …) would hold."""
    places = [Place(town) for town in sorted({v.town for v in villages})]
    places += [Place(v.name, v.town) for v in villages]
    if spots:
        places += [
            Place(name, v.name, f"{v.name}/{name}", lon, lat)
            for v in villages
            for name, lon, lat in v.spots
            if name not in COMMON_SPOTS
        ]
    return places


# --------------------------------------------------------------------------------------------
# The day: incidents and reports
# --------------------------------------------------------------------------------------------


def _incident_time(rnd: random.Random) -> datetime:
    hours = rnd.gauss(14.0, 4.0) if rnd.random() < 0.8 else rnd.uniform(0.0, 24.0)
    return DAY_START + timedelta(hours=min(max(hours, 0.0), 23.9))


def _clashes(new: TrueIncident, others: Sequence[TrueIncident]) -> bool:
    """The same kind at the same place within its persistence is one incident for a duty officer
    (a village flooding for hours is one flood; a second tree down at the same bridge in the
    hour is the same call). Other kinds in the same village at the same time, the same kind at
    another spot of the village (two fallen trees) and the next village are allowed — they are
    the hard cases."""
    hours = KINDS[new.kind].persist_h
    return any(
        o.village is new.village
        and o.kind == new.kind
        and (KINDS[new.kind].area or o.spot[0] == new.spot[0])
        and abs((o.at - new.at).total_seconds()) < hours * 3600
        for o in others
    )


def build_incidents(
    rnd: random.Random, villages: Sequence[Village], count: int
) -> list[TrueIncident]:
    kinds = list(KINDS)
    town_weight = {t: rnd.lognormvariate(0, 0.8) for t in sorted({v.town for v in villages})}
    weights = [town_weight[v.town] * rnd.lognormvariate(0, 0.7) for v in villages]
    incidents: list[TrueIncident] = []
    while len(incidents) < count:
        if incidents and rnd.random() < 0.25:  # deliberately near an existing incident
            near = rnd.choice(incidents)
            village = near.village
            at = near.at + timedelta(minutes=rnd.uniform(-180, 180))
        else:
            village = rnd.choices(villages, weights)[0]
            at = _incident_time(rnd)
        kind = rnd.choices(kinds, [KINDS[k].share for k in kinds])[0]
        spot = rnd.choice(village.spots)
        lon, lat = _offset(spot[1], spot[2], rnd.uniform(0, 60), rnd.uniform(0, 2 * math.pi))
        candidate = TrueIncident(
            len(incidents),
            kind,
            village,
            spot,
            lon,
            lat,
            at,
            rnd.choice(KINDS[kind].scenarios),
            rnd.randint(2, 9),
        )
        if not _clashes(candidate, incidents):
            incidents.append(candidate)
    return incidents


def _typo(rnd: random.Random, name: str) -> str:
    spots = [i for i, c in enumerate(name) if c in TYPO]
    if not spots:
        return name
    i = rnd.choice(spots)
    return name[:i] + TYPO[name[i]] + name[i + 1 :]


def _place_phrase(rnd: random.Random, inc: TrueIncident, has_point: bool) -> str:
    v, spot = inc.village, inc.spot[0]
    village = v.name if rnd.random() < 0.6 else v.name.removesuffix("村").removesuffix("社区")
    if len(village) < 2:
        village = v.name
    if rnd.random() < 0.06:
        village = _typo(rnd, village)
    forms = [
        (f"{v.town}{village}{spot}", 18),
        (f"{village}{spot}", 22),
        (f"{village}", 18),
        (f"{spot}", 10),
        (f"{v.town}{village}", 12),
        (f"{v.town}", 4),
        ("", 16 if has_point else 0),
    ]
    text = rnd.choices([f for f, _ in forms], [w for _, w in forms])[0]
    if text and rnd.random() < 0.4:
        text += rnd.choice(("这里", "那边", "附近", "这边", "旁边"))
    return text


def _event_clauses(rnd: random.Random, inc: TrueIncident) -> list[str]:
    kind = KINDS[inc.kind]
    pool = list(inc.scenario)
    picked = rnd.sample(pool, k=min(len(pool), rnd.choice((1, 1, 2, 2, 3))))
    if kind.generic and rnd.random() < 0.3:
        picked.append(rnd.choice(kind.generic))
    if rnd.random() < 0.06:  # the reporter also mentions a side effect of the typhoon
        other = rnd.choice([k for k in ("tree", "power", "waterlogging") if k != inc.kind])
        picked.append(rnd.choice(rnd.choice(KINDS[other].scenarios)))
    rnd.shuffle(picked)
    return [c.format(spot=inc.spot[0], n=inc.n_people) for c in picked]


def _drop_char(rnd: random.Random, text: str) -> str:
    if len(text) < 6:
        return text
    i = rnd.randrange(len(text))
    return text[:i] + text[i + 1 :]


def compose_text(rnd: random.Random, inc: TrueIncident, role: str, has_point: bool) -> str:
    place = _place_phrase(rnd, inc, has_point)
    clauses = _event_clauses(rnd, inc)
    if role in ("grid", "cadre"):
        who = f"{inc.village.name}网格员" if role == "grid" else f"{inc.village.town}干部"
        head = rnd.choice((f"{who}报告：", "报告：", f"据{who}反映，", ""))
        body = f"{head}{place}{'，'.join(clauses)}。"
    elif place and rnd.random() < 0.35:  # event first, place afterwards
        body = f"{rnd.choice(OPENERS)}{'，'.join(clauses)}，在{place}{rnd.choice(CLOSERS)}"
    else:
        body = f"{rnd.choice(OPENERS)}{place}{'，'.join(clauses)}{rnd.choice(CLOSERS)}"
    return _drop_char(rnd, body) if rnd.random() < 0.08 else body


class Geocoder:
    """The simulated intake: a point → its village; otherwise the places the text names."""

    def __init__(self, villages: Sequence[Village], profiler: TextProfiler) -> None:
        self._villages = list(villages)
        self._tree = STRtree([v.polygon for v in villages])
        self._profiler = profiler
        self._by_name = {v.name: v.adcode for v in villages}
        self._towns = {v.town: v.town_adcode for v in villages}

    def village_at(self, lon: float, lat: float) -> str | None:
        for i in self._tree.query(Point(lon, lat), predicate="within"):
            return self._villages[int(i)].adcode
        return None

    def division(self, lon: float | None, lat: float | None, text: str) -> str | None:
        if lon is not None and lat is not None:
            return self.village_at(lon, lat)
        places = self._profiler.find_places(normalise(text))
        named = {p.split("/")[0] for p in places}  # a spot "village/name" names its village
        villages = sorted(self._by_name[p] for p in named if p in self._by_name)
        if len(villages) == 1:
            return villages[0]
        towns = sorted(self._towns[p] for p in places if p in self._towns)
        return towns[0] if len(towns) == 1 else None


def build_reports(
    rnd: random.Random, incidents: Sequence[TrueIncident], duplicates: int, geocoder: Geocoder
) -> list[Report]:
    weights = [KINDS[i.kind].salience for i in incidents]
    extra = Counter(rnd.choices(range(len(incidents)), weights, k=duplicates))
    reports: list[Report] = []
    for inc in incidents:
        kind = KINDS[inc.kind]
        for n in range(1 + extra[inc.id]):
            delay = rnd.uniform(0, 8) if n == 0 else rnd.uniform(3, kind.delay_min)
            role = rnd.choice(ROLES)
            has_point = rnd.random() < (0.9 if role == "grid" else 0.55)
            lon = lat = None
            if has_point:
                spread = kind.extent_m * math.sqrt(rnd.random())
                lon, lat = _offset(inc.lon, inc.lat, spread, rnd.uniform(0, 2 * math.pi))
                lon, lat = _offset(lon, lat, rnd.uniform(20, 300), rnd.uniform(0, 2 * math.pi))
            text = compose_text(rnd, inc, role, has_point)
            address = None
            if not has_point and rnd.random() < 0.7:  # the call-taker asked and typed an address
                spot = inc.spot[0] if rnd.random() < 0.4 else ""
                address = f"{inc.village.town}{inc.village.name}{spot}"
            division = geocoder.division(lon, lat, f"{address or ''}{text}")
            reports.append(
                Report(
                    0,
                    inc.id,
                    text,
                    address,
                    lon,
                    lat,
                    division,
                    inc.at + timedelta(minutes=delay),
                    role,
                )
            )
    reports.sort(key=lambda r: (r.received_at, r.incident))
    return [replace(r, id=i) for i, r in enumerate(reports)]


#: The hotline a resident or passer-by calls, by kind of incident (the rest call 12345)
HOTLINE: dict[str, str] = {
    "fire": "hotline_119",
    "trapped": "hotline_119",
    "collapse": "hotline_119",
    "drowning": "hotline_120",
    "traffic": "hotline_110",
}
#: Caller locations of 110/119/120 calls (stated in the bench's output): the share of calls
#: with a handset fix (AML/GNSS, stated accuracy 10–100 m), with only the base station's cell
#: (300–3,000 m in these hills), and the share of callers who are not at the incident (they call
#: for someone else, from 1–8 km away). Actual errors are Rayleigh-distributed so that 68 % of
#: fixes fall inside the stated radius.
HANDSET_SHARE = 0.65
CELL_SHARE = 0.25
AWAY_SHARE = 0.12
#: A fix at most this coarse places a report that names no village (as ``intake.flows`` does).
CALLER_PLACES_WITHIN_M = 300.0


def _fix(rnd: random.Random, lon: float, lat: float, accuracy: float) -> CallerFix:
    sigma = accuracy / 1.51  # P(r ≤ accuracy) = 0.68 for a Rayleigh error
    error = sigma * math.sqrt(-2.0 * math.log(1.0 - rnd.random()))
    x, y = _offset(lon, lat, error, rnd.uniform(0, 2 * math.pi))
    return CallerFix(round(x, 6), round(y, 6), float(round(accuracy)))


def assign_calls(
    rnd: random.Random,
    reports: Sequence[Report],
    incidents: Sequence[TrueIncident],
    geocoder: Geocoder,
) -> list[Report]:
    """Each report's channel, and a caller location for the 110/119/120 calls (drawn from their
    own random stream, so the day's texts and points are those of ``build_reports``)."""
    out = []
    for r in reports:
        inc = incidents[r.incident]
        if r.role == "grid":
            channel = "grid"
        elif r.role == "cadre" or rnd.random() < 0.2:
            channel = "hotline_12345"
        else:
            channel = HOTLINE.get(inc.kind, "hotline_110")
        caller = None
        if channel in ("hotline_110", "hotline_119", "hotline_120"):
            draw = rnd.random()
            if draw < HANDSET_SHARE + CELL_SHARE:
                handset = draw < HANDSET_SHARE
                accuracy = rnd.uniform(10, 100) if handset else rnd.uniform(300, 3000)
                lon, lat = _offset(
                    inc.lon,
                    inc.lat,
                    KINDS[inc.kind].extent_m * math.sqrt(rnd.random()) + rnd.uniform(20, 300),
                    rnd.uniform(0, 2 * math.pi),
                )
                if rnd.random() < AWAY_SHARE:
                    lon, lat = _offset(inc.lon, inc.lat, rnd.uniform(1000, 8000), rnd.random() * 7)
                caller = _fix(rnd, lon, lat, accuracy)
        division = r.division_adcode
        if (
            caller is not None
            and r.lon is None
            and (division is None or len(division_key(division)) < 12)
            and caller.accuracy_m <= CALLER_PLACES_WITHIN_M
        ):
            division = geocoder.village_at(caller.lon, caller.lat) or division
        out.append(replace(r, channel=channel, caller=caller, division_adcode=division))
    return out


# --------------------------------------------------------------------------------------------
# The flow: open incidents, pre-selection, decisions
# --------------------------------------------------------------------------------------------

Decide = Callable[[ReportFacts, list[CandidateIncident]], MatchDecision]


@dataclass
class OpenIncident:
    candidate: CandidateIncident
    true_incident: int  # of the report that opened it


@dataclass
class FlowResult:
    outcomes: Counter[str] = field(default_factory=Counter)
    joins: int = 0
    correct_joins: int = 0
    true_duplicates: int = 0
    suggests_true_offered: int = 0
    suggests_of_non_duplicates: int = 0
    #: duplicates whose incident was joined, or is among the first three suggestions
    right_in_top3: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    missed_because: Counter[str] = field(default_factory=Counter)  # diagnostics only
    seconds: float = 0.0
    decide_ms: list[float] = field(default_factory=list)  # per report, the decision alone

    def summary(self, reports: int) -> dict[str, Any]:
        precision = self.correct_joins / self.joins if self.joins else 1.0
        recall = self.correct_joins / self.true_duplicates if self.true_duplicates else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        suggests = self.outcomes["suggest"]
        return {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "joins": self.joins,
            "correct_joins": self.correct_joins,
            "true_duplicates": self.true_duplicates,
            "outcomes": dict(self.outcomes),
            "suggest_rate": round(suggests / reports, 4),
            "suggests_with_right_incident_offered": self.suggests_true_offered,
            "suggests_of_first_reports": self.suggests_of_non_duplicates,
            "right_incident_in_top3": round(self.right_in_top3 / self.true_duplicates, 4)
            if self.true_duplicates
            else 1.0,
            "recall_after_duty_officer": round(
                (self.correct_joins + self.suggests_true_offered) / self.true_duplicates, 4
            )
            if self.true_duplicates
            else 1.0,
            "errors": dict(self.errors),
            "missed_because": dict(self.missed_because.most_common()),
            "seconds": round(self.seconds, 3),
            "decide_ms_p50": round(_quantile(self.decide_ms, 0.5), 3),
            "decide_ms_p99": round(_quantile(self.decide_ms, 0.99), 3),
        }


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else 0.0


def _preselect(
    matcher: Matcher, facts: ReportFacts, open_incidents: Sequence[OpenIncident]
) -> list[OpenIncident]:
    distance, window = matcher.window(facts.category_code)
    earliest, latest = facts.received_at - window, facts.received_at + window
    box = (
        radius_bbox(facts.lon, facts.lat, distance)
        if facts.lon is not None and (facts.lat is not None)
        else radius_bbox(facts.caller.lon, facts.caller.lat, distance + facts.caller.accuracy_m)
        if facts.caller is not None
        else None
    )
    chosen = []
    for inc in open_incidents:
        c = inc.candidate
        if c.last_reported_at < earliest or c.first_reported_at > latest:
            continue
        if (
            box is not None
            and c.lon is not None
            and c.lat is not None
            and not (box[0] <= c.lon <= box[2] and box[1] <= c.lat <= box[3])
        ):
            continue
        chosen.append(inc)
    return chosen


def _error_kind(opener: TrueIncident, truth: TrueIncident) -> str:
    if opener.village is not truth.village:
        return "other village"
    if opener.kind != truth.kind:
        return "same village, other kind"
    return "same village and kind, other spot/time"


def _attach(inc: OpenIncident, facts: ReportFacts) -> None:
    c = inc.candidate
    c.texts.append(facts.text)
    if facts.profile is not None:
        c.profiles.append(facts.profile)
    c.last_reported_at = max(c.last_reported_at, facts.received_at)
    if facts.caller is not None and len(c.texts) <= 5:  # the platform reads the first five
        c.callers.append(facts.caller)
    if c.lon is None and facts.lon is not None:  # a measured point (facts carry no other)
        c.lon, c.lat = facts.lon, facts.lat
    finer = facts.division_adcode
    if finer and (
        not c.division_adcode
        or (
            len(division_key(finer)) > len(division_key(c.division_adcode))
            and division_key(finer).startswith(division_key(c.division_adcode))
        )
    ):
        c.division_adcode = finer  # as incidents.refine_place does on a join


def _open(facts: ReportFacts, report: Report, key: str) -> OpenIncident:
    cand = CandidateIncident(
        id=key,
        category_code=facts.category_code,
        lon=facts.lon,
        lat=facts.lat,
        division_adcode=facts.division_adcode,
        first_reported_at=facts.received_at,
        last_reported_at=facts.received_at,
        texts=[facts.text],
        address=facts.address,
        profiles=[facts.profile] if facts.profile else [],
        callers=[facts.caller] if facts.caller else [],
    )
    return OpenIncident(cand, report.incident)


def _officer(decision: MatchDecision, by_id: dict[str, OpenIncident], truth: int) -> str | None:
    """The duty officer picks the right incident among the suggestions, if it is there."""
    return next(
        (
            s.incident_id
            for s in decision.suggestions
            if by_id[s.incident_id].true_incident == truth
        ),
        None,
    )


def _in_top3(decision: MatchDecision, by_id: dict[str, OpenIncident], truth: int) -> bool:
    """The right incident joined, or among the desk's first three suggestions."""
    if decision.outcome == "join" and decision.incident_id is not None:
        return by_id[decision.incident_id].true_incident == truth
    return any(by_id[s.incident_id].true_incident == truth for s in decision.suggestions[:3])


def _miss_cause(
    matcher: Matcher,
    fact: ReportFacts,
    decision: MatchDecision,
    pool: Sequence[OpenIncident],
    true_open: OpenIncident | None,
) -> str:
    """Why a duplicate was not joined to its incident (diagnostics; the metric ignores it)."""
    if true_open is None:
        return "its incident was never opened (its first report joined another)"
    if true_open not in pool:
        return "its incident lies outside the pre-selection window"
    score = matcher.score(fact, true_open.candidate)
    if not score.eligible:
        return f"ineligible: {score.reason}"
    if any(s.score > score.score for s in decision.suggestions):
        return "another incident scored higher"
    if decision.outcome == "suggest" and score.score >= matcher.join_threshold:
        return "two incidents scored alike"
    where = score.reason.split(" and ")[0].split(" ", 2)[-1]
    where = "a point on both sides" if where.startswith("within") else where
    late = ", > 60 min later" if score.minutes > 60 else ""
    category = "" if score.reason.startswith("same category") else ", category differs"
    return f"scored below the join threshold: {where}{late}{category}"


def run_flow(
    decide: Decide,
    matcher: Matcher,
    reports: Sequence[Report],
    facts: Sequence[ReportFacts],
    incidents: Sequence[TrueIncident],
) -> FlowResult:
    result = FlowResult()
    open_incidents: list[OpenIncident] = []
    by_id: dict[str, OpenIncident] = {}
    opened: dict[int, OpenIncident] = {}  # true incident → the incident its first report opened
    seen: set[int] = set()
    started = time.perf_counter()
    for report, fact in zip(reports, facts, strict=True):
        duplicate = report.incident in seen
        seen.add(report.incident)
        result.true_duplicates += duplicate
        pool = _preselect(matcher, fact, open_incidents)
        tick = time.perf_counter()
        decision = decide(fact, [p.candidate for p in pool])
        result.decide_ms.append((time.perf_counter() - tick) * 1000.0)
        result.outcomes[decision.outcome] += 1
        if duplicate:
            result.right_in_top3 += _in_top3(decision, by_id, report.incident)
        target: str | None = None
        if decision.outcome == "join" and decision.incident_id is not None:
            target = decision.incident_id
            result.joins += 1
            opener = by_id[target].true_incident
            if opener == report.incident:
                result.correct_joins += 1
            else:
                result.errors[_error_kind(incidents[opener], incidents[report.incident])] += 1
        elif decision.outcome == "suggest":
            target = _officer(decision, by_id, report.incident)
            result.suggests_true_offered += target is not None and duplicate
            result.suggests_of_non_duplicates += not duplicate
        if duplicate and decision.outcome != "join":
            result.errors["missed duplicate (" + decision.outcome + ")"] += 1
            true_open = opened.get(report.incident)
            result.missed_because[_miss_cause(matcher, fact, decision, pool, true_open)] += 1
        if target is not None:
            _attach(by_id[target], fact)
        else:
            inc = _open(fact, report, f"E{len(open_incidents)}")
            open_incidents.append(inc)
            by_id[inc.candidate.id] = inc
            opened.setdefault(report.incident, inc)
    result.seconds = time.perf_counter() - started
    return result


def window_only(matcher: Matcher) -> Decide:
    """Baseline: the nearest related incident inside the window, whatever the text says."""

    def decide(report: ReportFacts, candidates: list[CandidateIncident]) -> MatchDecision:
        eligible = [(matcher.score(report, c), c) for c in candidates]
        ranked = sorted(
            ((s, c) for s, c in eligible if s.eligible),
            key=lambda sc: (
                sc[0].distance_m if sc[0].distance_m is not None else 1e9,
                sc[0].minutes,
                sc[1].id,
            ),
        )
        if not ranked:
            return MatchDecision("new", None, 0.0, "nothing in the window", [])
        s, c = ranked[0]
        return MatchDecision(
            "join", c.id, 1.0, "nearest in window", [Suggestion(c.id, 1.0, s.distance_m, s.minutes)]
        )

    return decide


def exact_text() -> Decide:
    """Baseline: join an incident that has exactly the same normalised text."""

    normalised = functools.lru_cache(maxsize=None)(normalise)

    def decide(report: ReportFacts, candidates: list[CandidateIncident]) -> MatchDecision:
        mine = normalised(report.text)
        for c in sorted(candidates, key=lambda c: c.id):
            if any(normalised(t) == mine for t in c.texts):
                return MatchDecision("join", c.id, 1.0, "same text", [])
        return MatchDecision("new", None, 0.0, "no identical text", [])

    return decide


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def _facts(
    reports: Sequence[Report], classifier: Classifier, profiler: TextProfiler
) -> list[ReportFacts]:
    facts = []
    for r in reports:
        found = classifier.classify(r.text)
        code = found.code if found else None
        facts.append(
            ReportFacts(
                text=r.text,
                category_code=code,
                lon=r.lon,
                lat=r.lat,
                division_adcode=r.division_adcode,
                received_at=r.received_at,
                address=r.address,
                caller=r.caller,
                profile=profiler.profile(" ".join(filter(None, (r.address, r.text)))),
            )
        )
    return facts


def similarity_rate(facts: Sequence[ReportFacts], pairs: int = 200_000) -> float:
    """Profile comparisons per second (profiles precomputed, as the Matcher uses them)."""
    profiles = [f.profile for f in facts if f.profile is not None]
    n = max(int(math.sqrt(pairs)), 1)
    sample = (profiles * (n // max(len(profiles), 1) + 1))[:n]
    started = time.perf_counter()
    for a in sample:
        for b in sample:
            compare(a, b)
    return n * n / (time.perf_counter() - started)


def _classification_accuracy(
    reports: Sequence[Report], facts: Sequence[ReportFacts], incidents: Sequence[TrueIncident]
) -> dict[str, float]:
    exact = sum(
        f.category_code == KINDS[incidents[r.incident].kind].code
        for r, f in zip(reports, facts, strict=True)
    )
    none = sum(f.category_code is None for f in facts)
    return {"exact": round(exact / len(reports), 4), "unclassified": round(none / len(reports), 4)}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dedupe", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--reports", type=int, default=2000)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--duplicate-share", type=float, default=0.30)
    group.add_argument("--incidents", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--samples", type=int, default=0, help="print N sample reports")
    parser.add_argument(
        "--join-threshold", type=float, default=None, help="the matcher's (default: shipped)"
    )
    parser.add_argument(
        "--no-callers",
        action="store_true",
        help="no caller locations (the day of decision 0009)",
    )
    return parser.parse_args(argv)


def _print_table(rows: dict[str, dict[str, Any]]) -> None:
    print(
        f"{'matcher':<14}{'precision':>10}{'recall':>8}{'F1':>8}{'joins':>7}{'suggest':>9}"
        f"{'new':>6}{'recall+officer':>16}{'s':>8}"
    )
    for name, row in rows.items():
        o = row["outcomes"]
        print(
            f"{name:<14}{row['precision']:>10.3f}{row['recall']:>8.3f}{row['f1']:>8.3f}"
            f"{row['joins']:>7}{o.get('suggest', 0):>9}{o.get('new', 0):>6}"
            f"{row['recall_after_duty_officer']:>16.3f}{row['seconds']:>8.2f}"
        )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    n_incidents = (
        args.incidents
        if args.incidents is not None
        else round(args.reports * (1 - args.duplicate_share))
    )
    duplicates = args.reports - n_incidents
    if not 0 < n_incidents <= args.reports:
        raise SystemExit("need 0 < incidents ≤ reports")
    rnd = random.Random(args.seed)
    villages = build_villages(rnd)
    profiler = TextProfiler(gazetteer(villages))
    incidents = build_incidents(rnd, villages, n_incidents)
    geocoder = Geocoder(villages, profiler)
    reports = build_reports(rnd, incidents, duplicates, geocoder)
    if not args.no_callers:
        reports = assign_calls(random.Random(args.seed + 1), reports, incidents, geocoder)
    categories = load_categories()
    classifier = Classifier(categories)
    matcher = Matcher(categories, profiler=profiler)
    if args.join_threshold is not None:
        matcher = Matcher(categories, profiler=profiler, join_threshold=args.join_threshold)
    facts = _facts(reports, classifier, profiler)
    for r in reports[: args.samples]:
        print(
            f"  #{r.incident:<5}{r.role:<9}{'GPS' if r.lon else '   '} {r.address or ''} {r.text}"
        )
    rows = {
        "matcher": run_flow(matcher.decide, matcher, reports, facts, incidents).summary(
            len(reports)
        ),
        "window-only": run_flow(window_only(matcher), matcher, reports, facts, incidents).summary(
            len(reports)
        ),
        "exact-text": run_flow(exact_text(), matcher, reports, facts, incidents).summary(
            len(reports)
        ),
    }
    print(
        f"typhoon day: {len(reports)} reports, {n_incidents} incidents, {duplicates} duplicates "
        f"({duplicates / len(reports):.0%} of reports are about an incident already reported); "
        f"seed {args.seed}"
    )
    print(
        f"reports with a GPS point: {sum(r.lon is not None for r in reports) / len(reports):.0%}; "
        f"classification = true category: {_classification_accuracy(reports, facts, incidents)}"
    )
    _print_table(rows)
    base = rows["window-only"]
    ratio = rows["matcher"]["f1"] / base["f1"] if base["f1"] else float("nan")
    print(
        f"F1 matcher / window-only = {ratio:.2f}; precision {rows['matcher']['precision']:.3f} vs "
        f"{base['precision']:.3f}, recall {rows['matcher']['recall']:.3f} vs {base['recall']:.3f}"
    )
    print(f"matcher errors: {rows['matcher']['errors']}")
    print("matcher's missed duplicates, by cause:")
    for cause, count in rows["matcher"]["missed_because"].items():
        print(f"  {count:>4}  {cause}")
    print(
        f"matcher decision per report: p50 {rows['matcher']['decide_ms_p50']:.2f} ms, "
        f"p99 {rows['matcher']['decide_ms_p99']:.2f} ms (candidates pre-selected, profiles cached)"
    )
    rate = similarity_rate(facts)
    print(f"text similarity: {rate:,.0f} profile pairs/s (goal ≥ 50,000)")
    calls = [r for r in reports if r.channel in ("hotline_110", "hotline_119", "hotline_120")]
    fixes = [r.caller for r in calls if r.caller is not None]
    fine = sum(f.accuracy_m <= 100 for f in fixes)
    print(
        f"110/119/120 calls: {len(calls)}; with a caller location {len(fixes)} "
        f"(handset ≤ 100 m: {fine}, base station 300–3000 m: {len(fixes) - fine}; "
        f"{AWAY_SHARE:.0%} of callers away from the incident)"
    )
    top3 = rows["matcher"]["right_incident_in_top3"]
    goal = rows["matcher"]["precision"] >= 0.97 and top3 >= 0.95
    print(
        f"automatic joins precision {rows['matcher']['precision']:.3f} (goal ≥ 0.97); right "
        f"incident joined or in the first three suggestions {top3:.3f} (goal ≥ 0.95): "
        f"{'reached' if goal else 'NOT reached'}"
    )
    data = {
        "reports": len(reports),
        "incidents": n_incidents,
        "duplicates": duplicates,
        "seed": args.seed,
        "thresholds": {"join": matcher.join_threshold, "suggest": matcher.suggest_threshold},
        "classification": _classification_accuracy(reports, facts, incidents),
        "results": rows,
        "f1_ratio_vs_window_only": round(ratio, 3) if base["f1"] else None,
        "similarity_pairs_per_second": round(rate),
        "goal_reached": goal,
        "caller_locations": not args.no_callers,
    }
    print(f"written {write_report('dedupe', data)}")
    return data


if __name__ == "__main__":
    main()
