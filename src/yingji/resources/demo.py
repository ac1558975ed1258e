"""The demo county's resources (演示辖区资源): a realistic set of every kind for 庆元县.

Built on the organisation the demo seed wrote (``org.seed``): a warehouse in every town and one
for the county with stock by batch (some batches near their expiry, one item below its minimum),
shelters in the towns' central schools, hazard sources at the industrial park in 屏都街道 and
geological hazard points in the hills, cameras on the main roads, the demo's 25 rescue teams
(their ``rescue_team`` units, extended), equipment, experts, protection targets, medical
facilities and plans.

Places are derived from each town's centroid with fixed offsets (kept inside the town's
boundary), so the same database gets the same set every time; a second run changes nothing.
The rows are written with the kinds' own checks (``kinds.check_attrs``); one audit row and one
event (``resources.demo_seeded``) record the load.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from shapely.geometry import Point, shape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit, clock, events, security
from yingji.core.events import EventScope
from yingji.org import service as org
from yingji.resources import kinds, service
from yingji.resources.models import (
    Resource,
    ResourceKind,
    SupplyItem,
)

COUNTY_ADCODE = "331126"
#: the county seat (濛洲街道) and the town holding the industrial park (屏都街道)
SEAT_TOWN = "001"
PARK_TOWN = "002"

#: the demo's supply catalogue: code, name, category, unit of measure
DEMO_ITEMS: tuple[tuple[str, str, str, str], ...] = (
    ("tent", "救灾帐篷", "生活类", "顶"),
    ("life_jacket", "救生衣", "防汛类", "件"),
    ("sandbag", "编织袋", "防汛类", "条"),
    ("drinking_water", "瓶装饮用水", "生活类", "箱"),
    ("instant_food", "方便食品", "生活类", "箱"),
    ("generator", "柴油发电机", "电力类", "台"),
    ("quilt", "棉被", "生活类", "床"),
    ("flashlight", "强光手电", "照明类", "把"),
    ("folding_bed", "折叠床", "生活类", "张"),
)


@dataclass
class DemoResourcesReport:
    already: bool = False
    resources: dict[str, int] = field(default_factory=dict)
    items: int = 0
    batches: int = 0


@dataclass(frozen=True)
class _Town:
    adcode: str
    code3: str
    name: str
    short: str
    path: str
    lon: float
    lat: float
    boundary: Any  # shapely geometry or None
    unit_id: uuid.UUID | None


@dataclass
class _Book:
    """What the load writes, collected before it is written."""

    now: Any
    today: date
    paths: dict[str, str]
    #: column values of the new rows (``service.prepare_resource``), inserted at once
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        kind: ResourceKind,
        code: str,
        name: str,
        *,
        division: str,
        lon: float | None,
        lat: float | None,
        attrs: dict[str, Any],
        status: str | None = None,
        owner: uuid.UUID | None = None,
        address: str | None = None,
        contact: tuple[str, str] | None = None,
        area: dict[str, Any] | None = None,
        unit_id: uuid.UUID | None = None,
    ) -> None:
        values = service.ResourceValues(
            kind=kind.value,
            code=code,
            name=name,
            division_adcode=division,
            status=status,
            address=address,
            lon=None if lon is None else round(lon, 6),
            lat=None if lat is None else round(lat, 6),
            area=area,
            contact_name=contact[0] if contact else None,
            contact_phone=contact[1] if contact else None,
            owner_unit_id=owner,
            unit_id=unit_id,
            attrs=attrs,
        )
        self.rows.append(service.prepare_resource(values, division_path=self.paths[division]))


def _square(lon: float, lat: float, half_m: float) -> dict[str, Any]:
    """A small square area (GeoJSON Polygon) centred on the point, ``half_m`` to each side."""
    dlat = half_m / 111_320.0
    dlon = half_m / (111_320.0 * math.cos(math.radians(lat)))
    ring = [
        [round(lon - dlon, 6), round(lat - dlat, 6)],
        [round(lon + dlon, 6), round(lat - dlat, 6)],
        [round(lon + dlon, 6), round(lat + dlat, 6)],
        [round(lon - dlon, 6), round(lat + dlat, 6)],
        [round(lon - dlon, 6), round(lat - dlat, 6)],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def _near(town: _Town, dx_m: float, dy_m: float) -> tuple[float, float]:
    """A point ``dx_m`` east and ``dy_m`` north of the town's centroid, pulled back towards
    the centroid until it lies inside the town."""
    for scale in (1.0, 0.6, 0.35, 0.15, 0.0):
        lat = town.lat + dy_m * scale / 111_320.0
        lon = town.lon + dx_m * scale / (111_320.0 * math.cos(math.radians(town.lat)))
        if town.boundary is None or town.boundary.covers(Point(lon, lat)):
            return lon, lat
    return town.lon, town.lat


def _phone(n: int) -> str:
    return f"0578-62{(n * 7919) % 100000:05d}"


def _mobile(n: int) -> str:
    return f"13{(n * 37) % 10}{(n * 104729) % 100000000:08d}"


async def _towns(session: AsyncSession) -> list[_Town]:
    divisions, _ = await org.list_divisions(
        session=session,
        scope=security.SYSTEM.scope,
        parent_adcode=COUNTY_ADCODE,
        level="town",
        limit=100,
    )
    units, _ = await org.list_units(
        session=session, scope=security.SYSTEM.scope, kind="town", limit=1000
    )
    unit_of = {u.division_adcode: u.id for u in units}
    towns = []
    for d in divisions:
        if d.centroid_lon is None or d.centroid_lat is None:
            continue
        short = d.name.removesuffix("街道").removesuffix("镇").removesuffix("乡")
        towns.append(
            _Town(
                adcode=d.adcode,
                code3=d.adcode[6:9],
                name=d.name,
                short=short,
                path=d.path,
                lon=d.centroid_lon,
                lat=d.centroid_lat,
                boundary=shape(d.boundary) if d.boundary else None,
                unit_id=unit_of.get(d.adcode),
            )
        )
    return towns


# --- the kinds -------------------------------------------------------------------------------


def _warehouses(book: _Book, towns: list[_Town], seat: _Town, units: dict[str, Any]) -> None:
    bureau = units.get("庆元县应急管理局")
    lon, lat = _near(seat, 900, -600)
    book.add(
        ResourceKind.WAREHOUSE,
        "QY-WH-000",
        "庆元县应急物资储备库",
        division=COUNTY_ADCODE,
        lon=lon,
        lat=lat,
        owner=bureau.id if bureau else None,
        address="庆元县濛洲街道城东路",
        contact=("吴建国", _mobile(1)),
        attrs={"grade": "county", "floor_area_m2": 2400, "keeper": "吴建国"},
    )
    for i, town in enumerate(towns):
        lon, lat = _near(town, 350, 250)
        book.add(
            ResourceKind.WAREHOUSE,
            f"QY-WH-{town.code3}",
            f"{town.name}应急物资储备点",
            division=town.adcode,
            lon=lon,
            lat=lat,
            owner=town.unit_id,
            address=f"庆元县{town.name}人民政府院内",
            contact=(f"{town.short}仓管员", _mobile(100 + i)),
            attrs={"grade": "town", "floor_area_m2": 120 + 10 * (i % 6)},
        )


#: per warehouse: item → (quantity per batch, batches, shelf life in days or None, minimum)
_COUNTY_STOCK: dict[str, tuple[int, int, int | None, int]] = {
    "tent": (300, 2, None, 200),
    "life_jacket": (500, 1, None, 300),
    "sandbag": (20000, 2, None, 10000),
    "drinking_water": (800, 3, 360, 500),
    "instant_food": (600, 3, 270, 400),
    "generator": (12, 1, None, 6),
    "quilt": (1000, 1, None, 500),
    "flashlight": (300, 1, None, 100),
    "folding_bed": (400, 1, None, 200),
}
_TOWN_STOCK: dict[str, tuple[int, int, int | None, int]] = {
    "tent": (30, 1, None, 20),
    "life_jacket": (80, 1, None, 50),
    "sandbag": (2000, 1, None, 1000),
    "drinking_water": (60, 2, 300, 40),
    "instant_food": (40, 2, 240, 30),
    "generator": (2, 1, None, 1),
}
#: the town whose life jackets have run low (below its minimum: an alert is due)
_LOW_TOWN = "100"


async def _stock(
    session: AsyncSession, today: date, warehouses: list[Resource], items: dict[str, SupplyItem]
) -> int:
    """Batches and minimums of every warehouse, through the registry's stock service."""
    batches = 0
    for w_no, warehouse in enumerate(warehouses):
        plan = _COUNTY_STOCK if warehouse.code == "QY-WH-000" else _TOWN_STOCK
        for i_no, (item, (quantity, count, shelf_days, _minimum)) in enumerate(plan.items()):
            for b in range(count):
                received = today - timedelta(days=30 + 97 * b + 11 * w_no + 5 * i_no)
                expires = None
                if shelf_days is not None:
                    # the oldest batch of water and food in every third warehouse nears expiry
                    age = shelf_days - 12 - (w_no % 5) if b == 0 and w_no % 3 == 0 else 60 * b
                    received = today - timedelta(days=age)
                    expires = received + timedelta(days=shelf_days)
                on_hand = quantity // count + (7 * w_no + 3 * b) % 10
                if item == "life_jacket" and warehouse.code == f"QY-WH-{_LOW_TOWN}":
                    on_hand = 15
                await service.receive_batch(
                    session=session,
                    warehouse=warehouse,
                    item=items[item],
                    batch_no=f"{received:%Y%m}-{b + 1:02d}",
                    quantity=on_hand,
                    expires_on=expires,
                    received_on=received,
                )
                batches += 1
        await service.set_minimums(
            session=session,
            warehouse=warehouse,
            minimums={items[item].id: minimum for item, (*_, minimum) in plan.items()},
        )
    return batches


def _shelters(book: _Book, towns: list[_Town], seat: _Town) -> None:
    for i, town in enumerate(towns):
        lon, lat = _near(town, 220, 110)  # the gazetteer's "中心学校" sits here
        capacity = 300 + 60 * (i % 7)
        book.add(
            ResourceKind.SHELTER,
            f"QY-SH-{town.code3}",
            f"{town.short}中心学校避灾安置场所",
            division=town.adcode,
            lon=lon,
            lat=lat,
            owner=town.unit_id,
            status="open" if i % 6 == 1 else "closed",
            address=f"庆元县{town.name}{town.short}中心学校",
            contact=(f"{town.short}中心学校校长", _mobile(200 + i)),
            area=_square(lon, lat, 60),
            attrs={
                "capacity": capacity,
                "occupancy": 40 + 10 * i if i % 6 == 1 else 0,
                "floor_area_m2": capacity * 2.5,
                "grade": "II",
                "shelter_type": "indoor",
            },
        )
    lon, lat = _near(seat, -700, 500)
    book.add(
        ResourceKind.SHELTER,
        "QY-SH-P01",
        "庆元县城市广场应急避难场所",
        division=seat.adcode,
        lon=lon,
        lat=lat,
        status="closed",
        address="庆元县濛洲街道城市广场",
        area=_square(lon, lat, 150),
        attrs={
            "capacity": 5000,
            "occupancy": 0,
            "floor_area_m2": 90000,
            "grade": "I",
            "shelter_type": "outdoor",
        },
    )


#: hazard sources at the industrial park: code, name, type, substances, quantities, grade, (dx, dy)
_PARK_HAZARDS: tuple[tuple[str, str, str, list[str], str, str, tuple[int, int]], ...] = (
    ("01", "庆元县液化气储配站", "gas", ["液化石油气"], "液化石油气 50 t", "2", (0, 0)),
    ("02", "庆元县天然气LNG气化站", "gas", ["液化天然气"], "LNG 储罐 2×60 m³", "2", (350, 120)),
    ("03", "屏都竹木制品有限公司", "chemical", ["甲醛", "脲醛树脂"], "甲醛 8 t", "3", (-250, 200)),
    ("04", "庆元县宏达涂装有限公司", "chemical", ["油漆", "稀释剂"], "油漆 12 t", "4", (180, -260)),
    ("05", "屏都工业气体充装站", "chemical", ["乙炔", "氧气"], "乙炔 120 瓶", "3", (-400, -150)),
    ("06", "庆元县烟花爆竹批发仓库", "fireworks", ["烟花爆竹"], "成品 30 t", "3", (600, -400)),
    ("07", "中石化屏都加油站", "chemical", ["汽油", "柴油"], "油罐 4×30 m³", "4", (-650, 380)),
)


def _hazards(book: _Book, towns: list[_Town], park: _Town, units: dict[str, Any]) -> None:
    owner = units.get("庆元县应急管理局")
    for n, (code, name, kind, substances, quantities, grade, (dx, dy)) in enumerate(_PARK_HAZARDS):
        lon, lat = _near(park, 1200 + dx, -800 + dy)
        book.add(
            ResourceKind.HAZARD_SOURCE,
            f"QY-HZ-P{code}",
            name,
            division=park.adcode,
            lon=lon,
            lat=lat,
            owner=owner.id if owner else None,
            address="庆元县屏都综合新区工业园区",
            area=_square(lon, lat, 80) if kind == "gas" else None,
            attrs={
                "hazard_type": kind,
                "substances": substances,
                "quantities": quantities,
                "risk_grade": grade,
                "responsible_person": f"{name[:2]}安全主管",
                "responsible_phone": _mobile(300 + n),
            },
        )
    resources_bureau = units.get("庆元县自然资源和规划局")
    for i, town in enumerate(towns):
        if int(town.code3) < 100 or i % 2:  # the hill towns, every other one
            continue
        lon, lat = _near(town, -1500, 1800)
        book.add(
            ResourceKind.HAZARD_SOURCE,
            f"QY-HZ-G{town.code3}",
            f"{town.short}后山滑坡隐患点",
            division=town.adcode,
            lon=lon,
            lat=lat,
            owner=resources_bureau.id if resources_bureau else None,
            area=_square(lon, lat, 120),
            attrs={
                "hazard_type": "geological",
                "substances": [],
                "risk_grade": "3" if i % 4 else "2",
                "responsible_person": f"{town.short}地灾监测员",
                "responsible_phone": _mobile(400 + i),
            },
        )


_TARGET_TYPES = (
    ("school", "中心学校", (220, 110), 600),
    ("kindergarten", "中心幼儿园", (-300, 280), 180),
    ("market", "农贸市场", (150, -320), 800),
    ("nursing_home", "敬老院", (-420, -200), 60),
)


def _targets(book: _Book, towns: list[_Town], seat: _Town) -> None:
    for i, town in enumerate(towns):
        for t_no, (kind, suffix, (dx, dy), population) in enumerate(_TARGET_TYPES):
            if kind == "kindergarten" and int(town.code3) >= 200:
                continue  # the small 乡 share the town's kindergarten
            lon, lat = _near(town, dx, dy)
            book.add(
                ResourceKind.PROTECTION_TARGET,
                f"QY-PT-{town.code3}-{t_no + 1}",
                f"{town.short}{suffix}",
                division=town.adcode,
                lon=lon,
                lat=lat,
                address=f"庆元县{town.name}",
                attrs={"target_type": kind, "population": population + 17 * (i % 9)},
            )
    for n, (name, kind, (dx, dy), population) in enumerate(
        (
            ("庆元中学", "school", (-500, 900), 2600),
            ("庆元县人民医院", "hospital", (400, 650), 1200),
            ("庆元县汽车客运中心", "station", (-900, -300), 1500),
            ("濛洲街道城东小区", "residential", (1100, 200), 4200),
        )
    ):
        lon, lat = _near(seat, dx, dy)
        book.add(
            ResourceKind.PROTECTION_TARGET,
            f"QY-PT-C{n + 1:02d}",
            name,
            division=seat.adcode,
            lon=lon,
            lat=lat,
            address="庆元县濛洲街道",
            attrs={"target_type": kind, "population": population},
        )


def _medical(book: _Book, towns: list[_Town], seat: _Town, units: dict[str, Any]) -> None:
    for n, (name, dx, dy, beds, specialties, grade) in enumerate(
        (
            ("庆元县人民医院", 400, 650, 520, ["trauma", "burns", "general"], "二级甲等"),
            ("庆元县中医院", -350, 420, 300, ["general", "pediatrics"], "二级甲等"),
            ("庆元县疾病预防控制中心", 600, -150, 0, ["poisoning"], ""),
        )
    ):
        lon, lat = _near(seat, dx, dy)
        unit = units.get(name)
        book.add(
            ResourceKind.MEDICAL_FACILITY,
            f"QY-MF-C{n + 1:02d}",
            name,
            division=COUNTY_ADCODE,
            lon=lon,
            lat=lat,
            owner=unit.id if unit else None,
            address="庆元县濛洲街道",
            contact=("总值班", _phone(500 + n)),
            attrs={"beds": beds, "specialties": specialties, "grade": grade or None},
        )
    for i, town in enumerate(towns):
        lon, lat = _near(town, -220, -110)  # the gazetteer's "卫生院" sits here
        book.add(
            ResourceKind.MEDICAL_FACILITY,
            f"QY-MF-{town.code3}",
            f"{town.short}卫生院",
            division=town.adcode,
            lon=lon,
            lat=lat,
            address=f"庆元县{town.name}",
            contact=("值班医生", _phone(600 + i)),
            attrs={"beds": 20 + 5 * (i % 5), "specialties": ["general"], "grade": "一级"},
        )


def _bearing(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """The compass bearing (degrees, 0 = north, clockwise) from point 1 to point 2."""
    y = math.sin(math.radians(lon2 - lon1)) * math.cos(math.radians(lat2))
    x = math.cos(math.radians(lat1)) * math.sin(math.radians(lat2)) - math.sin(
        math.radians(lat1)
    ) * math.cos(math.radians(lat2)) * math.cos(math.radians(lon2 - lon1))
    return round((math.degrees(math.atan2(y, x)) + 360.0) % 360.0, 1)


_SEAT_ROADS = ("庆元大道", "菇城大道", "濛洲大道", "石龙街", "松源路", "新建路")


def _cameras(book: _Book, towns: list[_Town], seat: _Town, units: dict[str, Any]) -> None:
    police = units.get("庆元县公安局交通警察大队")
    n = 0
    for r_no, road in enumerate(_SEAT_ROADS):
        for k in range(2):
            n += 1
            angle = math.radians(60 * r_no + 20 * k)
            lon, lat = _near(seat, 700 * math.cos(angle) * (k + 1), 700 * math.sin(angle) * (k + 1))
            book.add(
                ResourceKind.VIDEO_POINT,
                f"QY-VP-{n:03d}",
                f"{road}{'北口' if k else '中段'}",
                division=seat.adcode,
                lon=lon,
                lat=lat,
                owner=police.id if police else None,
                status="offline" if n % 9 == 0 else "online",
                attrs={
                    "device_type": "camera",
                    "channel_id": f"33112600001320{n:06d}",
                    "stream_url": f"rtsp://video.qingyuan.example/ch/{n:03d}",
                    "direction_deg": (60 * r_no + 90 * k) % 360,
                    "fov_deg": 90,
                    "range_m": 300,
                },
            )
    # the county roads from the seat to every town: a camera a third of the way, facing the town
    for town in towns:
        if town.code3 == SEAT_TOWN:
            continue
        n += 1
        lon = seat.lon + (town.lon - seat.lon) / 3
        lat = seat.lat + (town.lat - seat.lat) / 3
        book.add(
            ResourceKind.VIDEO_POINT,
            f"QY-VP-{n:03d}",
            f"县城至{town.short}公路监控",
            division=COUNTY_ADCODE,
            lon=lon,
            lat=lat,
            owner=police.id if police else None,
            attrs={
                "device_type": "camera",
                "channel_id": f"33112600001320{n:06d}",
                "stream_url": f"rtsp://video.qingyuan.example/ch/{n:03d}",
                "direction_deg": _bearing(lon, lat, town.lon, town.lat),
                "fov_deg": 60,
                "range_m": 800,
            },
        )
    bureau = units.get("庆元县应急管理局")
    lon, lat = _near(seat, 900, -600)
    book.add(
        ResourceKind.VIDEO_POINT,
        "QY-VP-D01",
        "县应急管理局无人机（全向）",
        division=COUNTY_ADCODE,
        lon=lon,
        lat=lat,
        owner=bureau.id if bureau else None,
        attrs={"device_type": "drone", "range_m": 3000, "fov_deg": 360},
    )


#: rescue team capabilities by words in the team's name (first match wins)
_TEAM_CAPABILITIES: tuple[tuple[str, list[str], str, int], ...] = (
    ("森林消防", ["forest_fire", "firefighting"], "professional", 40),
    ("山地", ["mountain", "collapse"], "social", 30),
    ("水上", ["water_rescue"], "social", 28),
    ("红十字", ["medical"], "social", 35),
    ("电力", ["power"], "enterprise", 45),
    ("地质灾害", ["collapse", "road"], "professional", 32),
    ("防汛", ["water_rescue", "road"], "militia", 60),
    ("蓝天", ["water_rescue", "mountain", "medical"], "social", 50),
    ("公羊", ["collapse", "water_rescue", "mountain"], "social", 36),
    ("曙光", ["mountain", "communication"], "social", 24),
    ("户外", ["mountain"], "social", 20),
    ("志愿", ["medical", "communication"], "social", 120),
)


def _team_attrs(name: str) -> dict[str, Any]:
    for word, capabilities, team_type, members in _TEAM_CAPABILITIES:
        if word in name:
            return {"team_type": team_type, "capabilities": capabilities, "members": members}
    return {"team_type": "social", "capabilities": ["mountain"], "members": 20}


_EQUIPMENT: tuple[tuple[str, str, str, str, str, int], ...] = (
    # code, name, type, model, owning unit, count
    ("01", "大流量排涝泵车", "pump", "3000 m³/h", "庆元县水利局", 1),
    ("02", "移动式排涝泵", "pump", "500 m³/h", "庆元县防汛防台抗旱指挥部办公室", 4),
    ("03", "应急发电车", "generator", "500 kW", "国网庆元县供电公司", 1),
    ("04", "冲锋舟", "boat", "6 m 铝合金", "庆元县消防救援大队", 3),
    ("05", "橡皮艇", "boat", "4.3 m", "庆元县应急管理局", 4),
    ("06", "多旋翼无人机", "drone", "DJI M300 RTK", "庆元县应急管理局", 2),
    ("07", "挖掘机", "excavator", "21 t 履带式", "庆元县交通运输局", 2),
    ("08", "移动照明灯塔", "lighting", "4×1000 W", "庆元县消防救援大队", 2),
    ("09", "卫星电话", "satellite_phone", "天通一号", "庆元县应急管理局", 6),
    ("10", "森林灭火水泵", "pump", "高扬程接力泵", "庆元县林业局", 5),
)


def _equipment(book: _Book, towns: list[_Town], seat: _Town, units: dict[str, Any]) -> None:
    for n, (code, name, kind, model, owner_name, count) in enumerate(_EQUIPMENT):
        owner = units.get(owner_name)
        lon, lat = (
            (owner.lon, owner.lat)
            if owner and owner.lon is not None
            else _near(seat, 100 * n, -80 * n)
        )
        book.add(
            ResourceKind.EQUIPMENT,
            f"QY-EQ-C{code}",
            name,
            division=COUNTY_ADCODE,
            lon=lon,
            lat=lat,
            owner=owner.id if owner else None,
            status="maintenance" if n == 7 else "available",
            attrs={"equipment_type": kind, "model": model, "count": count},
        )
    for i, town in enumerate(towns):
        if i % 3:
            continue
        lon, lat = _near(town, 350, 250)  # kept at the town's warehouse
        for e_no, (kind, name, model) in enumerate(
            (("pump", "小型排涝泵", "100 m³/h"), ("generator", "汽油发电机", "8 kW"))
        ):
            book.add(
                ResourceKind.EQUIPMENT,
                f"QY-EQ-{town.code3}-{e_no + 1}",
                f"{town.short}{name}",
                division=town.adcode,
                lon=lon,
                lat=lat,
                owner=town.unit_id,
                status="in_use" if i == 3 and e_no == 0 else "available",
                attrs={"equipment_type": kind, "model": model, "count": 2},
            )


_EXPERTS: tuple[tuple[str, list[str], str, str], ...] = (
    ("叶建华", ["flood", "meteorology"], "高级工程师", "庆元县水利局"),
    ("吴立新", ["geology"], "正高级工程师", "庆元县自然资源和规划局"),
    ("周海燕", ["medical"], "主任医师", "庆元县人民医院"),
    ("陈国平", ["hazmat", "fire"], "高级工程师", "丽水市生态环境局庆元分局"),
    ("李志强", ["forest_fire"], "高级工程师", "庆元县林业局"),
    ("刘晓东", ["structure", "earthquake"], "高级工程师", "庆元县住房和城乡建设局"),
    ("张丽娟", ["medical"], "副主任医师", "庆元县中医院"),
    ("胡建军", ["traffic"], "工程师", "庆元县交通运输局"),
    ("姚卫东", ["mining", "hazmat"], "注册安全工程师", "庆元县应急管理局"),
    ("季红梅", ["meteorology"], "高级工程师", "庆元县气象局"),
    ("蔡永明", ["fire"], "高级工程师", "庆元县消防救援大队"),
    ("王秀英", ["flood", "geology"], "工程师", "庆元县水库管理中心"),
)


def _experts(book: _Book, seat: _Town, units: dict[str, Any]) -> None:
    for n, (name, specialties, title, employer) in enumerate(_EXPERTS):
        unit = units.get(employer)
        lon, lat = (
            (unit.lon, unit.lat) if unit and unit.lon is not None else _near(seat, 150 * n, 100 * n)
        )
        book.add(
            ResourceKind.EXPERT,
            f"QY-EX-{n + 1:03d}",
            name,
            division=COUNTY_ADCODE,
            lon=lon,
            lat=lat,
            owner=unit.id if unit else None,
            status="engaged" if n == 10 else "available",
            contact=(name, _mobile(700 + n)),
            attrs={"specialties": specialties, "title": title, "employer": employer},
        )


_PLANS: tuple[tuple[str, str, str, list[str], str], ...] = (
    # code, name, type, categories, issuer
    ("01", "庆元县突发事件总体应急预案", "overall", [], "庆元县人民政府"),
    (
        "02",
        "庆元县防汛防台抗旱应急预案",
        "special",
        ["natural.typhoon", "natural.rainstorm", "natural.flood"],
        "庆元县防汛防台抗旱指挥部",
    ),
    ("03", "庆元县森林火灾应急预案", "special", ["natural.forest_fire"], "庆元县人民政府"),
    ("04", "庆元县地质灾害应急预案", "special", ["natural.landslide"], "庆元县自然资源和规划局"),
    (
        "05",
        "庆元县危险化学品事故应急预案",
        "special",
        ["accident.hazmat", "accident.gas_leak"],
        "庆元县应急管理局",
    ),
    ("06", "庆元县道路交通事故应急预案", "special", ["accident.traffic"], "庆元县公安局"),
    (
        "07",
        "庆元县突发公共卫生事件应急预案",
        "special",
        ["public_health.food_poisoning", "public_health.infectious_disease"],
        "庆元县卫生健康局",
    ),
    (
        "08",
        "庆元县大面积停电事件应急预案",
        "department",
        ["accident.power_outage"],
        "国网庆元县供电公司",
    ),
)


def _plans(book: _Book, towns: list[_Town]) -> None:
    for n, (code, name, plan_type, categories, issuer) in enumerate(_PLANS):
        book.add(
            ResourceKind.PLAN,
            f"QY-PL-C{code}",
            name,
            division=COUNTY_ADCODE,
            lon=None,
            lat=None,
            status="revising" if n == 6 else "in_force",
            attrs={
                "plan_type": plan_type,
                "plan_level": "county",
                "category_codes": categories,
                "issued_on": date(2023 + n % 3, 1 + (3 * n) % 12, 10 + n).isoformat(),
                "issuer": issuer,
            },
        )
    for i, town in enumerate(towns):
        book.add(
            ResourceKind.PLAN,
            f"QY-PL-{town.code3}",
            f"{town.name}防汛防台应急预案",
            division=town.adcode,
            lon=None,
            lat=None,
            attrs={
                "plan_type": "special",
                "plan_level": "town",
                "category_codes": ["natural.typhoon", "natural.flood"],
                "issued_on": date(2024, 4, 1 + i).isoformat(),
                "issuer": f"{town.name}人民政府",
            },
        )


async def _teams(session: AsyncSession, book: _Book) -> list[tuple[Resource, dict[str, Any]]]:
    """Rows for the demo's rescue_team units that have none; rows that exist and carry no
    fields yet (made by the registry for a bare unit) get the team's fields."""
    units, _ = await org.list_units(
        session=session, scope=security.SYSTEM.scope, kind="rescue_team", limit=1000
    )
    existing = {
        row.unit_id: row
        for row in await session.scalars(
            select(Resource).where(Resource.kind == ResourceKind.RESCUE_TEAM.value)
        )
    }
    fill: list[tuple[Resource, dict[str, Any]]] = []
    spec = kinds.SPECS[ResourceKind.RESCUE_TEAM]
    for n, unit in enumerate(units):
        attrs = kinds.check_attrs(spec, {**_team_attrs(unit.name), "base": unit.address or None})
        row = existing.get(unit.id)
        if row is not None:
            if not row.attrs:
                fill.append((row, attrs))
            continue
        book.add(
            ResourceKind.RESCUE_TEAM,
            unit.code,
            unit.name,
            division=unit.division_adcode,
            lon=unit.lon,
            lat=unit.lat,
            owner=unit.id,
            unit_id=unit.id,
            address=unit.address,
            status="resting" if n % 11 == 10 else "standby",
            contact=(f"{unit.name[-6:]}队长", unit.phone) if unit.phone else None,
            attrs=attrs,
        )
    return fill


async def _items(session: AsyncSession) -> tuple[dict[str, SupplyItem], int]:
    found: dict[str, SupplyItem] = {}
    added = 0
    for code, name, category, unit in DEMO_ITEMS:
        item = await service.get_supply_item_by_code(session=session, code=code)
        if item is None:
            item = await service.create_supply_item(
                session=session, code=code, name=name, unit_of_measure=unit, category=category
            )
            added += 1
        found[code] = item
    return found, added


async def seed_demo_resources(*, session: AsyncSession) -> DemoResourcesReport:
    """Write the demo county's resources once (after ``org.seed.seed_demo``); a second run, or a
    run without the demo county, changes nothing."""
    report = DemoResourcesReport()
    marker = await session.scalar(
        select(Resource.id).where(
            Resource.kind == ResourceKind.WAREHOUSE.value, Resource.code == "QY-WH-000"
        )
    )
    county = await org.get_division(session=session, adcode=COUNTY_ADCODE)
    if marker is not None or county is None:
        report.already = True
        return report
    towns = await _towns(session)
    by_code = {t.code3: t for t in towns}
    seat, park = by_code.get(SEAT_TOWN), by_code.get(PARK_TOWN)
    if seat is None or park is None:
        report.already = True
        return report
    units_list, _ = await org.list_units(session=session, scope=security.SYSTEM.scope, limit=2000)
    units = {u.name: u for u in units_list}
    now = clock.now()
    paths = {COUNTY_ADCODE: county.path, **{t.adcode: t.path for t in towns}}
    team_units, _ = await org.list_units(
        session=session, scope=security.SYSTEM.scope, kind="rescue_team", limit=1000
    )
    paths.update(
        await org.division_paths(
            session=session,
            adcodes={u.division_adcode for u in team_units},
            scope=security.SYSTEM.scope,
        )
    )
    book = _Book(now=now, today=now.date(), paths=paths)

    _warehouses(book, towns, seat, units)
    _shelters(book, towns, seat)
    _hazards(book, towns, park, units)
    _targets(book, towns, seat)
    _medical(book, towns, seat, units)
    _cameras(book, towns, seat, units)
    _equipment(book, towns, seat, units)
    _experts(book, seat, units)
    _plans(book, towns)
    fill = await _teams(session, book)
    for team, attrs in fill:
        await service.update_resource(
            session=session, resource=team, changes={"attrs": attrs}, version=None
        )
    await service.insert_resources(session=session, rows=book.rows)
    for values in book.rows:
        report.resources[values["kind"]] = report.resources.get(values["kind"], 0) + 1
    if fill:
        report.resources[ResourceKind.RESCUE_TEAM.value] = report.resources.get(
            ResourceKind.RESCUE_TEAM.value, 0
        ) + len(fill)

    items, report.items = await _items(session)
    warehouses = list(
        await session.scalars(
            select(Resource)
            .where(
                Resource.kind == ResourceKind.WAREHOUSE.value,
                Resource.code.in_([r["code"] for r in book.rows if r["kind"] == "warehouse"]),
            )
            .order_by(Resource.code)
        )
    )
    report.batches = await _stock(session, book.today, warehouses, items)
    summary = {
        "resources": report.resources,
        "items": report.items,
        "batches": report.batches,
    }
    await audit.record(
        session,
        action="resources.demo_seeded",
        subject_type="division",
        subject_id=COUNTY_ADCODE,
        area=county.path,
        after=summary,
    )
    await events.emit(
        session,
        type="resources.demo_seeded",
        subject_type="division",
        subject_id=COUNTY_ADCODE,
        payload=summary,
        scope=EventScope(division_path=county.path),
    )
    return report
