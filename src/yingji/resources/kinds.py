"""What each of the ten kinds holds: its statuses and its own fields, with the Chinese column
headers offices use, as data.

One catalogue serves every surface: the API checks ``attrs`` with it (:func:`check_attrs`), an
import reads a spreadsheet's columns by its headers and converts each cell with it
(:func:`convert`), templates and exports write its headers, and the console draws its forms and
filters from ``GET /api/v1/resources/kinds``. A problem is a code with parameters
(:class:`FieldProblem`), worded by the console.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from yingji.resources.models import ResourceKind

FieldType = Literal["text", "int", "number", "bool", "date", "choice", "list", "url"]

#: separators of a list typed into one cell: 、，,;； and newlines
LIST_SEPARATORS = re.compile(r"[、，,;；\n]+")
_TRUE = {"true", "1", "yes", "y", "是", "有", "√"}
_FALSE = {"false", "0", "no", "n", "否", "无", "×"}
URL_SCHEMES = ("http://", "https://", "rtsp://", "rtmp://")


@dataclass(frozen=True)
class FieldProblem(Exception):
    """A value a field refuses: ``code`` (``resource.field.<code>`` in the console) and params."""

    code: str
    params: Mapping[str, Any]

    def __str__(self) -> str:
        return f"{self.code} {dict(self.params)}"


@dataclass(frozen=True)
class Field:
    """One field of a kind (kept in ``attrs``), or a common column (:data:`COMMON`)."""

    key: str
    zh: str  # the column header offices use
    en: str
    type: FieldType = "text"
    required: bool = False
    #: for ``choice`` and ``list``: the allowed codes with their Chinese words (a cell may hold
    #: either); a ``list`` without choices takes free words
    choices: Mapping[str, str] | None = None
    max_length: int = 200
    minimum: float | None = None
    maximum: float | None = None
    #: for ``list``: most items; its words go into ``Resource.tags`` (filterable)
    max_items: int = 30
    tag: bool = False
    pattern: str | None = None  # for ``text``: a full-match regular expression

    def describe(self) -> dict[str, Any]:
        """The field for the console (``GET /api/v1/resources/kinds``)."""
        return {
            "key": self.key,
            "zh": self.zh,
            "en": self.en,
            "type": self.type,
            "required": self.required,
            "choices": dict(self.choices) if self.choices is not None else None,
            "max_length": self.max_length,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "tag": self.tag,
            "pattern": self.pattern,
        }


@dataclass(frozen=True)
class KindSpec:
    kind: ResourceKind
    zh: str
    en: str
    #: status code → Chinese word; the first is a new resource's status
    statuses: Mapping[str, str]
    #: statuses in which it can be promised to a request or counted as usable nearby
    usable: frozenset[str]
    fields: tuple[Field, ...]
    #: may carry an ``area`` polygon (its point is then a point inside it)
    area: bool = False
    #: teams, equipment and experts are requested whole (申请调派); warehouses give supplies
    requestable: bool = False
    #: default straight-line travel speed for the estimated time to a place (km/h)
    speed_kmh: float = 40.0

    @property
    def default_status(self) -> str:
        return next(iter(self.statuses))

    def field(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "zh": self.zh,
            "en": self.en,
            "statuses": dict(self.statuses),
            "usable": sorted(self.usable),
            "fields": [f.describe() for f in self.fields],
            "area": self.area,
            "requestable": self.requestable,
            "speed_kmh": self.speed_kmh,
        }


#: the columns every kind has (``Resource`` columns; the import and the template lead with them)
COMMON: tuple[Field, ...] = (
    Field("code", "编号", "Code", required=True, max_length=64, pattern=r"[0-9A-Za-z_\-.]{1,64}"),
    Field("name", "名称", "Name", required=True, max_length=200),
    Field("division_adcode", "行政区划代码", "Division code", required=True, pattern=r"\d{6,12}"),
    Field("status", "状态", "Status", type="choice"),  # choices: the kind's statuses
    Field("address", "地址", "Address", max_length=300),
    Field("lon", "经度", "Longitude", type="number", minimum=-180, maximum=180),
    Field("lat", "纬度", "Latitude", type="number", minimum=-90, maximum=90),
    Field("contact_name", "联系人", "Contact", max_length=100),
    Field("contact_phone", "联系电话", "Phone", max_length=40, pattern=r"[0-9+\-() 转]{3,40}"),
    Field("owner_unit_code", "所属单位编码", "Owning unit code", max_length=50),
)

_CAPABILITIES = {
    "water_rescue": "水上救援",
    "mountain": "山地救援",
    "hazmat": "危化品处置",
    "medical": "医疗救护",
    "firefighting": "灭火救援",
    "collapse": "建筑坍塌搜救",
    "power": "电力抢修",
    "road": "道路抢通",
    "communication": "通信保障",
    "forest_fire": "森林灭火",
}
_SPECIALTIES = {
    "flood": "防汛抗旱",
    "geology": "地质灾害",
    "hazmat": "危险化学品",
    "fire": "消防",
    "medical": "医疗卫生",
    "structure": "建筑结构",
    "meteorology": "气象",
    "earthquake": "地震",
    "forest_fire": "森林防火",
    "mining": "矿山安全",
    "traffic": "交通运输",
}

SPECS: dict[ResourceKind, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(
            ResourceKind.RESCUE_TEAM,
            "救援队伍",
            "Rescue teams",
            {"standby": "在岗待命", "deployed": "出动中", "resting": "休整"},
            frozenset({"standby"}),
            (
                Field(
                    "team_type",
                    "队伍类型",
                    "Team type",
                    type="choice",
                    choices={
                        "professional": "专业队伍",
                        "fire": "综合性消防救援队伍",
                        "social": "社会救援力量",
                        "militia": "民兵应急分队",
                        "enterprise": "企业专职队伍",
                    },
                ),
                Field("members", "队员人数", "Members", type="int", minimum=0, maximum=100000),
                Field(
                    "capabilities",
                    "救援能力",
                    "Capabilities",
                    type="list",
                    choices=_CAPABILITIES,
                    tag=True,
                ),
                Field("equipment", "主要装备", "Main equipment", max_length=500),
                Field("base", "驻地", "Base", max_length=300),
            ),
            requestable=True,
            speed_kmh=50.0,
        ),
        KindSpec(
            ResourceKind.WAREHOUSE,
            "物资仓库",
            "Warehouses",
            {"open": "正常", "closed": "停用"},
            frozenset({"open"}),
            (
                Field(
                    "grade",
                    "仓库级别",
                    "Grade",
                    type="choice",
                    choices={
                        "province": "省级",
                        "city": "市级",
                        "county": "县级",
                        "town": "乡镇级",
                        "village": "村级",
                    },
                ),
                Field("floor_area_m2", "库房面积(㎡)", "Floor area (m²)", type="number", minimum=0),
                Field("keeper", "保管员", "Keeper", max_length=100),
            ),
            speed_kmh=40.0,
        ),
        KindSpec(
            ResourceKind.EQUIPMENT,
            "应急装备",
            "Equipment",
            {
                "available": "完好可用",
                "in_use": "使用中",
                "maintenance": "维修保养",
                "broken": "损坏",
            },
            frozenset({"available"}),
            (
                Field(
                    "equipment_type",
                    "装备类型",
                    "Type",
                    type="choice",
                    required=True,
                    choices={
                        "pump": "排涝泵",
                        "generator": "发电机",
                        "boat": "冲锋舟",
                        "drone": "无人机",
                        "excavator": "挖掘机",
                        "lighting": "照明设备",
                        "satellite_phone": "卫星电话",
                        "other": "其他",
                    },
                    tag=True,
                ),
                Field("model", "规格型号", "Model", max_length=100),
                Field("count", "数量", "Count", type="int", minimum=1, maximum=10000),
                Field("capacity", "性能参数", "Capacity", max_length=200),
            ),
            requestable=True,
            speed_kmh=40.0,
        ),
        KindSpec(
            ResourceKind.EXPERT,
            "专家",
            "Experts",
            {"available": "可联系", "engaged": "已参与处置", "unavailable": "暂不可用"},
            frozenset({"available"}),
            (
                Field(
                    "specialties",
                    "专业领域",
                    "Specialties",
                    type="list",
                    choices=_SPECIALTIES,
                    required=True,
                    tag=True,
                ),
                Field("title", "职称", "Title", max_length=100),
                Field("employer", "工作单位", "Employer", max_length=200),
            ),
            requestable=True,
            speed_kmh=60.0,
        ),
        KindSpec(
            ResourceKind.SHELTER,
            "避难场所",
            "Shelters",
            {"closed": "未启用", "open": "已开放"},
            frozenset({"open", "closed"}),
            (
                Field("capacity", "容纳人数", "Capacity", type="int", required=True, minimum=0),
                Field("occupancy", "已安置人数", "Occupancy", type="int", minimum=0),
                Field(
                    "floor_area_m2", "有效面积(㎡)", "Usable area (m²)", type="number", minimum=0
                ),
                Field(
                    "grade",
                    "场所类别",
                    "Grade",
                    type="choice",
                    choices={"I": "Ⅰ类", "II": "Ⅱ类", "III": "Ⅲ类"},
                ),
                Field(
                    "shelter_type",
                    "场所类型",
                    "Type",
                    type="choice",
                    choices={"indoor": "室内", "outdoor": "室外"},
                ),
            ),
            area=True,
            speed_kmh=5.0,  # people walk to a shelter
        ),
        KindSpec(
            ResourceKind.HAZARD_SOURCE,
            "危险源",
            "Hazard sources",
            {"active": "在产", "suspended": "停产", "closed": "关闭"},
            frozenset({"active", "suspended"}),
            (
                Field(
                    "hazard_type",
                    "危险源类型",
                    "Type",
                    type="choice",
                    required=True,
                    choices={
                        "chemical": "危险化学品",
                        "gas": "燃气",
                        "mine": "矿山",
                        "tailings": "尾矿库",
                        "fireworks": "烟花爆竹",
                        "geological": "地质灾害隐患点",
                        "other": "其他",
                    },
                ),
                Field("substances", "主要物质", "Substances", type="list", tag=True),
                Field("quantities", "储量", "Quantities", max_length=300),
                Field(
                    "risk_grade",
                    "危险等级",
                    "Risk grade",
                    type="choice",
                    choices={"1": "一级", "2": "二级", "3": "三级", "4": "四级"},
                ),
                Field("responsible_person", "责任人", "Responsible person", max_length=100),
                Field(
                    "responsible_phone",
                    "责任人电话",
                    "Responsible phone",
                    max_length=40,
                    pattern=r"[0-9+\-() 转]{3,40}",
                ),
            ),
            area=True,
        ),
        KindSpec(
            ResourceKind.PROTECTION_TARGET,
            "防护目标",
            "Protection targets",
            {"normal": "正常", "evacuated": "已转移"},
            frozenset({"normal"}),
            (
                Field(
                    "target_type",
                    "目标类型",
                    "Type",
                    type="choice",
                    required=True,
                    choices={
                        "school": "学校",
                        "kindergarten": "幼儿园",
                        "hospital": "医院",
                        "nursing_home": "养老院",
                        "market": "集贸市场",
                        "station": "车站",
                        "residential": "居民区",
                        "other": "其他",
                    },
                ),
                Field("population", "人数", "Population", type="int", minimum=0),
            ),
        ),
        KindSpec(
            ResourceKind.MEDICAL_FACILITY,
            "医疗机构",
            "Medical facilities",
            {"open": "正常接诊", "closed": "停诊"},
            frozenset({"open"}),
            (
                Field("beds", "床位数", "Beds", type="int", minimum=0),
                Field(
                    "specialties",
                    "特色专科",
                    "Specialties",
                    type="list",
                    choices={
                        "trauma": "创伤",
                        "burns": "烧伤",
                        "poisoning": "中毒救治",
                        "pediatrics": "儿科",
                        "general": "综合",
                    },
                    tag=True,
                ),
                Field("grade", "医院等级", "Grade", max_length=20),
            ),
            speed_kmh=50.0,
        ),
        KindSpec(
            ResourceKind.VIDEO_POINT,
            "视频点位",
            "Video points",
            {"online": "在线", "offline": "离线"},
            frozenset({"online"}),
            (
                Field(
                    "device_type",
                    "设备类型",
                    "Device",
                    type="choice",
                    required=True,
                    choices={
                        "camera": "固定摄像机",
                        "drone": "无人机",
                        "body_camera": "执法记录仪",
                    },
                ),
                # GB/T 28181: a 20-digit device / channel code
                Field("channel_id", "通道编码", "Channel id", pattern=r"\d{20}"),
                Field("stream_url", "视频流地址", "Stream URL", type="url", max_length=500),
                Field("snapshot_url", "快照地址", "Snapshot URL", type="url", max_length=500),
                Field(
                    "direction_deg",
                    "朝向(度)",
                    "Direction (°)",
                    type="number",
                    minimum=0,
                    maximum=360,
                ),
                Field(
                    "fov_deg",
                    "视场角(度)",
                    "Field of view (°)",
                    type="number",
                    minimum=1,
                    maximum=360,
                ),
                Field(
                    "range_m", "可视距离(米)", "Range (m)", type="number", minimum=1, maximum=20000
                ),
            ),
        ),
        KindSpec(
            ResourceKind.PLAN,
            "应急预案",
            "Plans",
            {"in_force": "现行", "revising": "修订中", "repealed": "废止"},
            frozenset({"in_force"}),
            (
                Field(
                    "plan_type",
                    "预案类型",
                    "Plan type",
                    type="choice",
                    required=True,
                    choices={
                        "overall": "总体应急预案",
                        "special": "专项应急预案",
                        "department": "部门应急预案",
                        "enterprise": "企事业单位预案",
                        "site": "现场处置方案",
                    },
                ),
                Field(
                    "plan_level",
                    "预案层级",
                    "Level",
                    type="choice",
                    choices={
                        "province": "省级",
                        "city": "市级",
                        "county": "县级",
                        "town": "乡镇级",
                        "village": "村级",
                    },
                ),
                Field(
                    "category_codes", "适用事件类别", "Incident categories", type="list", tag=True
                ),
                Field("issued_on", "发布日期", "Issued on", type="date"),
                Field("issuer", "发布单位", "Issuer", max_length=200),
                Field("file_id", "预案文件", "Document (file id)", max_length=64),
            ),
        ),
    )
}


def spec(kind: str) -> KindSpec:
    """The spec of ``kind``; an unknown kind is a :class:`FieldProblem` (``unknown_kind``)."""
    try:
        return SPECS[ResourceKind(kind)]
    except ValueError:
        raise FieldProblem("unknown_kind", {"kind": kind, "allowed": sorted(SPECS)}) from None


def _choice(field: Field, text: str) -> str:
    choices = field.choices or {}
    if text in choices:
        return text
    for code, word in choices.items():
        if text == word:
            return code
    raise FieldProblem("not_a_choice", {"value": text, "allowed": list(choices)})


def _list(field: Field, raw: object) -> list[str]:
    items = raw if isinstance(raw, list) else LIST_SEPARATORS.split(str(raw))
    words = [str(item).strip() for item in items if str(item).strip()]
    if len(words) > field.max_items:
        raise FieldProblem("too_many", {"max": field.max_items})
    if field.choices is not None:
        words = [_choice(field, word) for word in words]
    elif any(len(word) > 50 for word in words):
        raise FieldProblem("too_long", {"max": 50})
    return list(dict.fromkeys(words))


def _number(field: Field, raw: object) -> int | float:
    shown = {"value": str(raw)[:50]}
    if isinstance(raw, bool):
        raise FieldProblem("not_a_number", shown)
    try:
        value = float(str(raw).strip().replace(",", ""))
    except ValueError:
        raise FieldProblem("not_a_number", shown) from None
    if not math.isfinite(value):
        raise FieldProblem("not_a_number", shown)
    if field.type == "int" and value != int(value):
        raise FieldProblem("not_an_integer", shown)
    if field.minimum is not None and value < field.minimum:
        raise FieldProblem("below_minimum", {"min": field.minimum})
    if field.maximum is not None and value > field.maximum:
        raise FieldProblem("above_maximum", {"max": field.maximum})
    return int(value) if field.type == "int" else value


def _bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise FieldProblem("not_a_bool", {"value": str(raw)[:50]})


#: a date as offices type it: 2024-05-01, 2024/5/1, 2024.5.1, 2024年5月1日
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def _date(raw: object) -> str:
    if isinstance(raw, datetime):
        return raw.date().isoformat()
    if isinstance(raw, date):
        return raw.isoformat()
    found = _DATE.fullmatch(str(raw).strip())
    try:
        if found is None:
            raise ValueError(raw)
        return date(*(int(part) for part in found.groups())).isoformat()
    except ValueError:
        raise FieldProblem("not_a_date", {"value": str(raw)[:50]}) from None


def _text(field: Field, raw: object) -> str:
    text = str(raw).strip()
    if isinstance(raw, float) and raw == int(raw):
        text = str(int(raw))  # a spreadsheet's number cell holding a code
    if len(text) > field.max_length:
        raise FieldProblem("too_long", {"max": field.max_length})
    if field.type == "choice":
        return _choice(field, text)
    if field.type == "url" and not text.lower().startswith(URL_SCHEMES):
        raise FieldProblem("not_a_url", {"schemes": list(URL_SCHEMES)})
    if field.pattern is not None and re.fullmatch(field.pattern, text) is None:
        raise FieldProblem("bad_format", {"value": text[:50]})
    return text


def convert(field: Field, raw: object) -> Any:
    """``raw`` (a JSON value or a spreadsheet cell: text, number, date) as the field's value;
    ``None`` when empty (a required field then refuses with ``required``)."""
    if raw is None or (isinstance(raw, str) and raw.strip() == "") or raw == []:
        if field.required:
            raise FieldProblem("required", {})
        return None
    if field.type == "list":
        return _list(field, raw)
    if field.type in ("int", "number"):
        return _number(field, raw)
    if field.type == "bool":
        return _bool(raw)
    if field.type == "date":
        return _date(raw)
    return _text(field, raw)


def check_attrs(kind_spec: KindSpec, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The kind's ``attrs`` checked and converted: unknown keys and bad values are refused
    (``FieldProblem`` with ``params.field``); missing optional fields are left out."""
    known = {f.key for f in kind_spec.fields}
    unknown = sorted(set(attrs) - known)
    if unknown:
        raise FieldProblem("unknown_field", {"field": unknown[0], "allowed": sorted(known)})
    checked: dict[str, Any] = {}
    for field in kind_spec.fields:
        try:
            value = convert(field, attrs.get(field.key))
        except FieldProblem as problem:
            raise FieldProblem(problem.code, {**problem.params, "field": field.key}) from None
        if value is not None:
            checked[field.key] = value
    return checked


def status_field(kind_spec: KindSpec) -> Field:
    """The common ``status`` column with this kind's statuses as its choices."""
    return Field("status", "状态", "Status", type="choice", choices=kind_spec.statuses)


def tags_of(kind_spec: KindSpec, attrs: Mapping[str, Any]) -> str:
    """``|word|word|`` from the kind's tag fields (empty string when none)."""
    words: list[str] = []
    for field in kind_spec.fields:
        if field.tag:
            value = attrs.get(field.key)
            words.extend(value if isinstance(value, list) else [] if value is None else [value])
    unique = list(dict.fromkeys(str(w) for w in words))
    return f"|{'|'.join(unique)}|" if unique else ""
