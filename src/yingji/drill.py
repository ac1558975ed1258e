"""演练 — the drill player: a generated typhoon day played against a running Yingji over HTTP.

Reports arrive from every channel (110/119/120/12345/96345/grid/sensor/public web) with Chinese
texts at places of the demo county, some of them duplicates of an earlier report; the duty
officer verifies and dispatches; each unit's liaison signs, arrives, feeds back and completes —
some late, some returning the order with a reason (退回), some transferring it (移交); then the
officer closes the incident and records the callback (回访).

The player schedules every action in business time. Its own clock is a
:class:`~yingji.core.clock.SystemClock` running at ``speed``, anchored to the server's business
time by the first report's ``received_at``, so a server started with ``YINGJI_ENV=drill
YINGJI_CLOCK_RATE=<speed>`` and the player agree on what "five minutes to sign" means. The player
checks that pace and warns when the two disagree. Every choice comes from ``seed``; the run ends
at ``duration_minutes`` of business time (plus a short wall-time grace for requests in flight).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from yingji.core import clock
from yingji.org import demo_data

DEMO_PASSWORD = "yingji-demo-2026"  # noqa: S105 - the demo county's published password
LIAISON_PASSWORD = "drill-liaison-2026"  # noqa: S105 - accounts the drill creates for units
SCENARIOS = ("typhoon",)
PACE_TOLERANCE = 0.25  # warn when the server's clock runs >25 % off the player's speed
GRACE_WALL_SECONDS = 20.0  # requests in flight at the end may take this long


# --- the plan and the summary --------------------------------------------------------------------


@dataclass(frozen=True)
class DrillPlan:
    scenario: str = "typhoon"
    speed: float = 60.0
    url: str = "http://127.0.0.1:8000"
    username: str = "duty_officer"
    password: str = DEMO_PASSWORD
    admin_username: str = "admin"
    admin_password: str = DEMO_PASSWORD
    duration_minutes: float = 1440.0
    seed: int = 2026
    reports_per_day: int = 360
    concurrency: int = 8


@dataclass
class DrillSummary:
    reports_sent: int = 0
    reports_joined: int = 0  # joined an incident (by the matcher, or by the officer's click)
    incidents: int = 0
    orders: int = 0
    stages: Counter[str] = field(default_factory=Counter)  # signed, arrived, feedback, completed …
    late: Counter[str] = field(default_factory=Counter)  # sign, arrive, complete
    returned: int = 0
    transferred: int = 0
    closed: int = 0
    callbacks: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # "POST /orders/{id}/sign: code"
    unplayed: int = 0  # actions due after the end of the window
    server_rate: float | None = None
    warnings: list[str] = field(default_factory=list)
    incident_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reports_sent": self.reports_sent,
            "reports_joined": self.reports_joined,
            "incidents": self.incidents,
            "orders": self.orders,
            "stages": dict(self.stages),
            "late": dict(self.late),
            "returned": self.returned,
            "transferred": self.transferred,
            "closed": self.closed,
            "callbacks": self.callbacks,
            "errors": dict(self.errors),
            "unplayed": self.unplayed,
            "server_rate": self.server_rate,
            "warnings": list(self.warnings),
        }


# --- the scenario: a typhoon day -----------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    town: str
    town_adcode: str
    village: str
    lon: float
    lat: float


@dataclass(frozen=True)
class Hazard:
    """A kind of thing a typhoon does, with what people say about it."""

    name: str
    weight: float
    channels: tuple[str, ...]
    texts: tuple[str, ...]
    sensor_text: str | None = None
    sensor_category: str | None = None
    trapped: tuple[int, int] = (0, 0)


HAZARDS = (
    Hazard(
        "fallen_tree",
        5,
        ("hotline_110", "hotline_12345", "grid", "hotline_96345"),
        (
            "{village}村口的大树被台风刮倒了，横在路上，车子过不去",
            "{town}{village}这边风太大，路边一棵大树吹倒压在电线上",
            "{village}通往镇上的路被倒树堵住了，请派人来清理",
        ),
    ),
    Hazard(
        "waterlogging",
        4,
        ("hotline_12345", "hotline_96345", "grid", "public_web"),
        (
            "{town}{village}雨太大，路面积水已经没过膝盖，低洼的房子进水了",
            "{village}下水道排不出去，积水倒灌进了一楼",
            "{town}{village}暴雨内涝，地下室进水，家里老人出不来",
        ),
    ),
    Hazard(
        "river_rising",
        3,
        ("sensor", "grid", "hotline_110"),
        (
            "{village}旁边的溪水涨得很快，快要漫过河堤了",
            "{town}{village}山洪下来了，河水已经漫上路面",
        ),
        sensor_text="{village}水位站：溪流水位超警戒 0.6 米，仍在上涨",
        sensor_category="natural.flood",
    ),
    Hazard(
        "landslide",
        2,
        ("hotline_110", "grid", "sensor"),
        (
            "{village}后山发生山体滑坡，泥土冲下来把路堵了",
            "{town}{village}有塌方，落石滚到公路上",
        ),
        sensor_text="{village}地灾监测点：位移速率超阈值，疑似滑坡",
        sensor_category="natural.landslide",
    ),
    Hazard(
        "power_outage",
        3,
        ("hotline_12345", "hotline_96345", "grid"),
        (
            "{village}整个村都停电了，电线杆被风吹倒了",
            "{town}{village}高压线被吹断，掉在路边打火花",
        ),
    ),
    Hazard(
        "house_collapse",
        1,
        ("hotline_110", "hotline_119"),
        (
            "{village}一间老房子被风吹塌了，里面好像还有人",
            "{town}{village}危房倒塌，有人被压在下面",
        ),
        trapped=(1, 2),
    ),
    Hazard(
        "trapped_by_flood",
        1,
        ("hotline_119", "hotline_110", "hotline_120"),
        (
            "{village}有人被洪水困在屋顶上，水已经到二楼了",
            "{town}{village}发大水，一家人被困在家里出不来",
        ),
        trapped=(1, 4),
    ),
)

SURNAMES = "王李张刘陈杨黄吴周徐叶胡林姚吴郑"
RETURN_REASONS = (
    "不属本单位职责范围，请改派属地乡镇",
    "该路段不归我单位管养，请改派",
    "现场核实为其他单位设施，请改派",
)
FEEDBACK_TEXTS = (
    "已到现场，正在组织人员处置",
    "已设置警戒区，疏散周边群众",
    "抢险人员和机械已到位，预计一小时内完成",
    "现场险情已初步控制，继续巡查",
    "已转移受影响群众，无人员伤亡",
)
TRANSFER_TARGETS = {  # hazard → the unit better placed to handle it (移交)
    "fallen_tree": ("D041", "涉及道路绿化树木，移交园林绿化管理中心"),
    "power_outage": ("D018", "涉及电力设施，移交供电公司抢修"),
    "landslide": ("D017", "涉及公路塌方，移交公路与运输管理中心"),
    "river_rising": ("D012", "涉及河道堤防，移交水利局"),
    "waterlogging": ("D038", "涉及排水管网，移交供排水公司"),
}


@dataclass(frozen=True)
class PlannedReport:
    minute: float  # business minutes after the start of the drill
    index: int
    event: int  # the real-world event it tells of (duplicates share it)
    hazard: Hazard
    channel: str
    text: str
    place: Place
    point: tuple[float, float] | None
    reporter: str
    phone: str | None
    trapped: int
    category_code: str | None


def places_of_demo() -> list[Place]:
    """Every village of the demo county, with its town (from the pure demo builder)."""
    county = demo_data.build_demo()
    towns = {d.adcode: d.name for d in county.divisions if d.level == "town"}
    return [
        Place(towns[d.parent_adcode], d.parent_adcode, d.name, d.centroid[0], d.centroid[1])
        for d in county.divisions
        if d.level == "village" and d.parent_adcode in towns and d.centroid is not None
    ]


def typhoon_intensity(minute: float) -> float:
    """Reports per minute relative to the peak: the storm makes landfall around 13:00."""
    hour = (minute / 60.0) % 24
    return 0.15 + math.exp(-(((hour - 13.0) / 3.5) ** 2))


def _jitter(rng: random.Random, lon: float, lat: float, metres: float) -> tuple[float, float]:
    dx, dy = rng.gauss(0, metres), rng.gauss(0, metres)
    return round(lon + dx / 98_000, 6), round(lat + dy / 111_000, 6)


def _report_for(
    rng: random.Random, minute: float, index: int, event: int, hazard: Hazard, place: Place
) -> PlannedReport:
    channel = rng.choice(hazard.channels)
    category = None
    if channel == "sensor" and hazard.sensor_text:
        text, category = hazard.sensor_text, hazard.sensor_category
    else:
        text = rng.choice(hazard.texts)
    point: tuple[float, float] | None = None
    if channel in ("sensor", "grid"):
        point = _jitter(rng, place.lon, place.lat, 60)
    elif channel.startswith("hotline_1") and channel != "hotline_12345":
        point = _jitter(rng, place.lon, place.lat, 250)  # the caller's handset position
    person = f"{rng.choice(SURNAMES)}{rng.choice(('先生', '女士'))}"
    phone = None if channel == "sensor" else f"13{rng.randrange(10**8, 10**9)}"
    return PlannedReport(
        minute=minute,
        index=index,
        event=event,
        hazard=hazard,
        channel=channel,
        text=text.format(town=place.town, village=place.village),
        place=place,
        point=point,
        reporter="监测设备" if channel == "sensor" else person,
        phone=phone,
        trapped=rng.randint(*hazard.trapped),
        category_code=category,
    )


def typhoon_day(
    *, seed: int, duration_minutes: float, reports_per_day: int, places: list[Place]
) -> list[PlannedReport]:
    """The reports of the window, in time order; about a quarter repeat an earlier event."""
    rng = random.Random(f"typhoon:{seed}")
    day_mean = sum(typhoon_intensity(m) for m in range(1440)) / 1440
    window = max(int(duration_minutes), 1)
    window_mean = sum(typhoon_intensity(m) for m in range(window)) / window
    count = max(1, round(reports_per_day * window / 1440 * window_mean / day_mean))
    peak = max(typhoon_intensity(m) for m in range(window))
    minutes: list[float] = []
    while len(minutes) < count:
        m = rng.uniform(0, duration_minutes)
        if rng.random() * peak <= typhoon_intensity(m):
            minutes.append(m)
    minutes.sort()
    weights = [h.weight for h in HAZARDS]
    reports: list[PlannedReport] = []
    for index, minute in enumerate(minutes):
        earlier = [r for r in reports if r.event == r.index and minute - r.minute <= 90]
        if earlier and rng.random() < 0.25:
            first = rng.choice(earlier)
            reports.append(_report_for(rng, minute, index, first.event, first.hazard, first.place))
            continue
        hazard = rng.choices(HAZARDS, weights)[0]
        reports.append(_report_for(rng, minute, index, index, hazard, rng.choice(places)))
    return reports


# --- talking to the server -----------------------------------------------------------------------


class Api:
    """HTTP calls that never raise: failures are counted by their error code."""

    def __init__(self, client: httpx.AsyncClient, summary: DrillSummary) -> None:
        self.client, self.summary = client, summary

    async def call(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        label: str,
        json: Any = None,
        data: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            answer = await self.client.request(
                method, path, headers=headers, json=json, data=data, params=params
            )
        except httpx.HTTPError as exc:
            self.summary.errors[f"{method} {label}: {type(exc).__name__}"] += 1
            return None
        if answer.status_code >= 400:
            self.summary.errors[f"{method} {label}: {error_code(answer)}"] += 1
            return None
        return answer.json() if answer.content else {}

    async def token(self, username: str, password: str) -> str | None:
        body = await self.call(
            "POST",
            "/api/v1/auth/token",
            None,
            label="/auth/token",
            data={"username": username, "password": password},
        )
        return str(body["access_token"]) if body else None


def error_code(answer: httpx.Response) -> str:
    try:
        return str(answer.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"http_{answer.status_code}"


@dataclass
class Unit:
    id: str
    code: str
    name: str
    kind: str
    division_adcode: str


@dataclass
class IncidentState:
    id: str
    report: PlannedReport
    orders: dict[str, str] = field(default_factory=dict)  # order id → stage
    units: dict[str, str] = field(default_factory=dict)  # order id → unit id
    closing: bool = False


# --- the player ----------------------------------------------------------------------------------

Action = Callable[[], Awaitable[None]]


class Player:
    def __init__(self, plan: DrillPlan, api: Api, summary: DrillSummary) -> None:
        self.plan, self.api, self.summary = plan, api, summary
        self.clock = clock.SystemClock(plan.speed)
        self.offset = timedelta(0)  # server business time − the player's clock
        self.start = self.clock.now()
        self.end = self.start + timedelta(minutes=plan.duration_minutes)
        self.queue: list[tuple[datetime, int, Action]] = []
        self.counter = itertools.count()
        self.officer: str | None = None
        self.admin: str | None = None
        self.units: dict[str, Unit] = {}  # by id
        self.codes: dict[str, Unit] = {}  # by code
        self.liaisons: dict[str, str | None] = {}  # unit id → token
        self.liaison_locks: dict[str, asyncio.Lock] = {}
        self.demo_liaisons = {
            u.unit_code: u.username
            for u in demo_data.build_demo().users
            if "unit_liaison" in u.roles and u.unit_code
        }
        self.incidents: dict[str, IncidentState] = {}
        self.by_event: dict[int, str] = {}  # event → incident id
        self.anchor: tuple[float, datetime] | None = None  # (monotonic, server time) of a report
        self.warm = False  # the first anchor is taken; the second (warm server) is to come
        self.running: set[asyncio.Task[None]] = set()
        self.slots = asyncio.Semaphore(plan.concurrency)

    # time

    def now(self) -> datetime:
        """The server's business time as the player reckons it."""
        return self.clock.now() + self.offset

    def at(self, moment: datetime, action: Action) -> None:
        heapq.heappush(self.queue, (moment, next(self.counter), action))

    def after(self, minutes: float, action: Action) -> None:
        self.at(self.now() + timedelta(minutes=minutes), action)

    def rng(self, *key: object) -> random.Random:
        return random.Random(":".join(str(k) for k in (self.plan.seed, *key)))

    # set-up

    async def sign_in(self) -> bool:
        self.officer = await self.api.token(self.plan.username, self.plan.password)
        self.admin = await self.api.token(self.plan.admin_username, self.plan.admin_password)
        if self.officer is None:
            self.summary.warnings.append(f"could not sign in as {self.plan.username}")
            return False
        page = await self.api.call(
            "GET",
            "/api/v1/units",
            self.admin or self.officer,
            label="/units",
            params={"limit": 1000},
        )
        for raw in (page or {}).get("items", []):
            unit = Unit(raw["id"], raw["code"], raw["name"], raw["kind"], raw["division_adcode"])
            self.units[unit.id], self.codes[unit.code] = unit, unit
        return True

    async def liaison(self, unit_id: str) -> str | None:
        """The token of the unit's liaison: a demo account, or one the drill creates."""
        lock = self.liaison_locks.setdefault(unit_id, asyncio.Lock())
        async with lock:
            if unit_id in self.liaisons:
                return self.liaisons[unit_id]
            unit = self.units.get(unit_id)
            token = None
            if unit is not None and unit.code in self.demo_liaisons:
                token = await self.api.token(self.demo_liaisons[unit.code], DEMO_PASSWORD)
            elif unit is not None:
                token = await self._drill_liaison(unit)
            self.liaisons[unit_id] = token
            return token

    async def _drill_liaison(self, unit: Unit) -> str | None:
        """Create ``drill_<code>`` (unit_liaison of the unit) unless it exists, and sign in."""
        username = f"drill_{unit.code.lower()}"
        if self.admin is not None:
            body = {
                "username": username,
                "display_name": f"{unit.name}联络员（演练）",
                "password": LIAISON_PASSWORD,
                "roles": ["unit_liaison"],
                "unit_code": unit.code,
                "division_adcode": unit.division_adcode
                if unit.kind in ("town", "village")
                else None,
            }
            answer = await self.api.client.post(
                "/api/v1/users", json=body, headers={"Authorization": f"Bearer {self.admin}"}
            )
            if answer.status_code >= 400 and answer.status_code != 409:  # 409: made before
                self.summary.errors[f"POST /users: {error_code(answer)}"] += 1
        return await self.api.token(username, LIAISON_PASSWORD)

    # the loop

    async def play(self, reports: list[PlannedReport], tick: Callable[[], None]) -> None:
        """Send the first report (it anchors the player to the server's time), then play the
        rest of the window action by action."""
        first, rest = reports[0], reports[1:]
        await self.receive(first)
        self.start = self.now() - timedelta(minutes=first.minute)
        self.end = self.start + timedelta(minutes=self.plan.duration_minutes)
        for report in rest:
            self.at(self.start + timedelta(minutes=report.minute), self._receive_action(report))
        hard_stop = time.monotonic() + GRACE_WALL_SECONDS
        hard_stop += (self.end - self.now()).total_seconds() / self.plan.speed
        while self.queue and time.monotonic() < hard_stop:
            moment, _, action = self.queue[0]
            if moment > self.end:
                break
            wait = (moment - self.now()).total_seconds() / self.plan.speed
            if wait > 0:
                await asyncio.sleep(min(wait, 0.25))  # wall seconds; then look at the queue again
                tick()
                continue
            heapq.heappop(self.queue)
            await self.slots.acquire()
            task = asyncio.create_task(self._run(action))
            self.running.add(task)
            task.add_done_callback(self.running.discard)
        while self.now() < self.end and time.monotonic() < hard_stop:
            await asyncio.sleep(0.25)
            tick()
        if self.running:
            await asyncio.wait(self.running, timeout=max(hard_stop - time.monotonic(), 1.0))
        self.summary.unplayed = len(self.queue)
        tick()

    async def _run(self, action: Action) -> None:
        try:
            await action()
        except Exception as exc:  # noqa: BLE001 - one failed action never ends the drill
            self.summary.errors[f"player: {type(exc).__name__}"] += 1
        finally:
            self.slots.release()

    # reports and incidents

    def _receive_action(self, report: PlannedReport) -> Action:
        async def act() -> None:
            await self.receive(report)

        return act

    def _report_body(self, report: PlannedReport) -> dict[str, Any]:
        body: dict[str, Any] = {
            "channel": report.channel,
            "external_id": f"drill-{self.plan.seed}-{report.index:05d}",
            "text": report.text,
            "reporter_name": report.reporter,
            "reporter_phone": report.phone,
            "address": f"庆元县{report.place.town}{report.place.village}",
            "casualties": {"trapped": report.trapped},
        }
        if report.point is not None:
            body["lon"], body["lat"] = report.point
        if report.category_code:
            body["category_code"] = report.category_code
        return body

    async def receive(self, report: PlannedReport) -> None:
        sent = (time.monotonic(), self.clock.now())
        receipt = await self.api.call(
            "POST",
            "/api/v1/intake/reports",
            self.officer,
            label="/intake/reports",
            json=self._report_body(report),
        )
        if receipt is None:
            return
        self.summary.reports_sent += 1
        await self._check_pace(receipt["report_id"], sent)
        if receipt["status"] == "pending_verification":
            receipt = await self.api.call(
                "POST",
                f"/api/v1/intake/reports/{receipt['report_id']}/accept",
                self.officer,
                label="/intake/reports/{id}/accept",
            )
            if receipt is None:
                return
        await self._place(report, receipt)

    async def _place(self, report: PlannedReport, receipt: dict[str, Any]) -> None:
        incident_id = receipt.get("incident_id")
        if incident_id is None:
            return
        if receipt.get("duplicate") or incident_id in self.incidents:
            self.summary.reports_joined += 1
            return
        original = self.by_event.get(report.event)
        offered = {s["incident_id"] for s in receipt.get("suggestions") or []}
        if original is not None and original in offered:  # the officer clicks "join"
            joined = await self.api.call(
                "POST",
                f"/api/v1/intake/reports/{receipt['report_id']}/join",
                self.officer,
                label="/intake/reports/{id}/join",
                json={"incident_id": original},
            )
            if joined is not None:
                self.summary.reports_joined += 1
                return
        self.incidents[incident_id] = IncidentState(incident_id, report)
        self.by_event.setdefault(report.event, incident_id)
        self.summary.incidents += 1
        self.summary.incident_ids.append(incident_id)
        rng = self.rng("verify", report.index)
        self.after(rng.uniform(1, 6), self._incident_action(incident_id, "verify"))

    async def _check_pace(self, report_id: str, sent: tuple[float, datetime]) -> None:
        """The first report anchors the player to the server's business time; a report after
        2 warm-up seconds anchors it again, and one 5 wall seconds after that measures the
        server's pace — a warning says if it is not the player's."""
        if self.summary.server_rate is not None:
            return
        if self.anchor is not None and sent[0] - self.anchor[0] < (2.0 if self.warm else 5.0):
            return
        stored = await self.api.call(
            "GET",
            f"/api/v1/intake/reports/{report_id}",
            self.officer,
            label="/intake/reports/{id}",
        )
        if stored is None:
            return
        received = datetime.fromisoformat(stored["received_at"])
        if self.anchor is None or self.warm:
            self.warm = self.anchor is None
            self.anchor = (sent[0], received)
            self.offset = received - sent[1]
            return
        rate = (received - self.anchor[1]).total_seconds() / (sent[0] - self.anchor[0])
        self.summary.server_rate = round(rate, 1)
        if abs(rate - self.plan.speed) > PACE_TOLERANCE * self.plan.speed:
            self.summary.warnings.append(
                f"the server's clock runs at about {rate:.0f}x, the player at "
                f"{self.plan.speed:g}x: start it with YINGJI_ENV=drill "
                f"YINGJI_CLOCK_RATE={self.plan.speed:g}"
            )

    def _incident_action(self, incident_id: str, what: str) -> Action:
        async def act() -> None:
            await getattr(self, what)(self.incidents[incident_id])

        return act

    async def verify(self, incident: IncidentState) -> None:
        verified = await self.api.call(
            "POST",
            f"/api/v1/incidents/{incident.id}/verify",
            self.officer,
            label="/incidents/{id}/verify",
            json={"reason": "电话回拨核实属实"},
        )
        if verified is not None:
            rng = self.rng("dispatch", incident.report.index)
            self.after(rng.uniform(1, 4), self._incident_action(incident.id, "dispatch"))

    async def dispatch(self, incident: IncidentState, units: list[str] | None = None) -> None:
        body = None if units is None else {"units": [{"unit_id": u, "role": "co"} for u in units]}
        orders = await self.api.call(
            "POST",
            f"/api/v1/incidents/{incident.id}/dispatch",
            self.officer,
            label="/incidents/{id}/dispatch",
            json=body,
        )
        for order in orders or []:
            self.take_order(incident, order)

    def take_order(self, incident: IncidentState, order: dict[str, Any]) -> None:
        """A new order: its unit's liaison will act on it as the plan for that unit says."""
        incident.orders[order["id"]] = "issued"
        incident.units[order["id"]] = order["unit_id"]
        self.summary.orders += 1
        unit = self.units.get(order["unit_id"])
        rng = self.rng("order", incident.report.index, unit.code if unit else order["unit_id"])
        issued = datetime.fromisoformat(order["issued_at"])
        sign_due = datetime.fromisoformat(order["sign_due_at"])
        window = sign_due - issued
        roll = rng.random()
        if roll < 0.10 and order["transferred_from_id"] is None:
            self.at(issued + window * rng.uniform(0.2, 0.6), self._order(incident, order, "back"))
            return
        if roll < 0.30:  # signs after the deadline: 催办 and 督办 have fired by then
            moment = sign_due + window * rng.uniform(0.3, 1.5)
        else:
            moment = issued + window * rng.uniform(0.15, 0.7)
        self.at(moment, self._order(incident, order, "sign"))

    def _key(self, incident: IncidentState, order: dict[str, Any]) -> str:
        """A stable name of the order for the random choices (server ids differ per run)."""
        unit = self.units.get(order["unit_id"])
        return f"{incident.report.index}:{unit.code if unit else order['unit_id']}"

    def _order(self, incident: IncidentState, order: dict[str, Any], step: str) -> Action:
        async def act() -> None:
            await getattr(self, f"order_{step}")(incident, order)

        return act

    async def _act(
        self, order: dict[str, Any], action: str, body: Any = None, *, as_unit: str | None = None
    ) -> dict[str, Any] | None:
        token = await self.liaison(as_unit or order["unit_id"])
        if token is None:
            self.summary.errors["liaison: no_account"] += 1
            return None
        answer: dict[str, Any] | None = await self.api.call(
            "POST",
            f"/api/v1/orders/{order['id']}/{action}",
            token,
            label=f"/orders/{{id}}/{action}",
            json=body,
        )
        return answer

    async def order_back(self, incident: IncidentState, order: dict[str, Any]) -> None:
        """退回, then the officer dispatches to the incident's town (or the emergency bureau)."""
        rng = self.rng("return", self._key(incident, order))
        answer = await self._act(order, "return", {"reason": rng.choice(RETURN_REASONS)})
        if answer is None:
            return
        incident.orders[order["id"]] = "returned"
        self.summary.returned += 1
        fallback = self._fallback_unit(incident, order["unit_id"])
        if fallback is not None:
            self.after(rng.uniform(2, 6), self._redispatch(incident, fallback))

    def _fallback_unit(self, incident: IncidentState, refusing: str) -> str | None:
        """The incident's town unit, else the emergency bureau, else the police: the first
        without an open order on the incident."""
        busy = {
            incident.units[o]
            for o, stage in incident.orders.items()
            if stage in ("issued", "signed", "arrived")
        } | {refusing}
        town = incident.report.place.town_adcode
        candidates = [
            u.id for u in self.units.values() if u.kind == "town" and u.division_adcode == town
        ]
        candidates += [self.codes[c].id for c in ("D001", "D002") if c in self.codes]
        return next((u for u in candidates if u not in busy), None)

    def _redispatch(self, incident: IncidentState, unit_id: str) -> Action:
        async def act() -> None:
            await self.dispatch(incident, [unit_id])

        return act

    async def order_sign(self, incident: IncidentState, order: dict[str, Any]) -> None:
        signed = await self._act(order, "sign")
        if signed is None:
            return
        incident.orders[order["id"]] = "signed"
        self.summary.stages["signed"] += 1
        if signed.get("sign_late"):
            self.summary.late["sign"] += 1
        if signed.get("transferred_from_id"):
            incident.orders[signed["transferred_from_id"]] = "transferred"
        rng = self.rng("after-sign", self._key(incident, order))
        target = TRANSFER_TARGETS.get(incident.report.hazard.name)
        if (
            target is not None
            and target[0] in self.codes
            and self.codes[target[0]].id != order["unit_id"]
            and not signed.get("transferred_from_id")
            and rng.random() < 0.12
        ):
            self.after(rng.uniform(3, 15), self._order(incident, signed, "transfer"))
            return
        self._after_sign(incident, signed, rng)

    def _after_sign(
        self, incident: IncidentState, order: dict[str, Any], rng: random.Random
    ) -> None:
        signed_at = datetime.fromisoformat(order["signed_at"])
        if order["needs_presence"] and order["arrive_due_at"]:
            due = datetime.fromisoformat(order["arrive_due_at"])
            share = rng.uniform(1.05, 1.6) if rng.random() < 0.12 else rng.uniform(0.25, 0.9)
            self.at(signed_at + (due - signed_at) * share, self._order(incident, order, "arrive"))
        else:
            self.after(rng.uniform(10, 40), self._order(incident, order, "feedback"))

    async def order_transfer(self, incident: IncidentState, order: dict[str, Any]) -> None:
        code, reason = TRANSFER_TARGETS[incident.report.hazard.name]
        new = await self._act(
            order, "transfer", {"to_unit_id": self.codes[code].id, "reason": reason}
        )
        if new is None:
            self._after_sign(incident, order, self.rng("after-sign", self._key(incident, order)))
            return
        self.summary.transferred += 1
        self.take_order(incident, new)

    async def order_arrive(self, incident: IncidentState, order: dict[str, Any]) -> None:
        rng = self.rng("arrive", self._key(incident, order))
        lon, lat = _jitter(rng, incident.report.place.lon, incident.report.place.lat, 80)
        arrived = await self._act(order, "arrive", {"lon": lon, "lat": lat})
        if arrived is None:
            return
        incident.orders[order["id"]] = "arrived"
        self.summary.stages["arrived"] += 1
        if arrived.get("arrive_late"):
            self.summary.late["arrive"] += 1
        self.after(rng.uniform(5, 25), self._order(incident, arrived, "feedback"))

    async def order_feedback(self, incident: IncidentState, order: dict[str, Any]) -> None:
        count = int(order.get("feedback_count") or 0)
        rng = self.rng("feedback", self._key(incident, order), count)
        answer = await self._act(order, "feedback", {"text": rng.choice(FEEDBACK_TEXTS)})
        if answer is None:
            return
        self.summary.stages["feedback"] += 1
        if answer["feedback_count"] < 1 + rng.randrange(3):
            self.after(rng.uniform(10, 40), self._order(incident, answer, "feedback"))
        else:
            self.after(rng.uniform(10, 60), self._order(incident, answer, "complete"))

    async def order_complete(self, incident: IncidentState, order: dict[str, Any]) -> None:
        done = await self._act(order, "complete", {"note": "险情已排除，现场恢复正常"})
        if done is None:
            return
        incident.orders[order["id"]] = "completed"
        self.summary.stages["completed"] += 1
        if done.get("complete_late"):
            self.summary.late["complete"] += 1
        live = [s for s in incident.orders.values() if s not in ("returned", "transferred")]
        if live and all(s == "completed" for s in live) and not incident.closing:
            incident.closing = True
            rng = self.rng("close", incident.report.index)
            self.after(rng.uniform(5, 20), self._incident_action(incident.id, "close"))

    async def close(self, incident: IncidentState) -> None:
        closed = await self.api.call(
            "POST",
            f"/api/v1/incidents/{incident.id}/close",
            self.officer,
            label="/incidents/{id}/close",
            json={"reason": "各单位均已办结，现场恢复"},
        )
        if closed is None:
            return
        self.summary.closed += 1
        rng = self.rng("callback", incident.report.index)
        self.after(rng.uniform(10, 60), self._incident_action(incident.id, "callback"))

    async def callback(self, incident: IncidentState) -> None:
        rng = self.rng("callback-result", incident.report.index)
        reachable = incident.report.phone is not None
        reached = reachable and rng.random() < 0.85
        body = {
            "reachable": reachable,
            "reached": reached,
            "satisfied": (rng.random() < 0.9) if reached else None,
            "note": "报警人对处置结果表示认可" if reached else None,
        }
        answer = await self.api.call(
            "POST",
            f"/api/v1/incidents/{incident.id}/callback",
            self.officer,
            label="/incidents/{id}/callback",
            json=body,
        )
        if answer is not None:
            self.summary.callbacks += 1


# --- entry point ---------------------------------------------------------------------------------


async def run_drill(
    plan: DrillPlan, *, progress: Callable[[float, DrillSummary], None] | None = None
) -> DrillSummary:
    """Play ``plan`` against the server at ``plan.url``; returns what happened."""
    if plan.scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {plan.scenario!r}; choose one of {SCENARIOS}")
    summary = DrillSummary()
    reports = typhoon_day(
        seed=plan.seed,
        duration_minutes=plan.duration_minutes,
        reports_per_day=plan.reports_per_day,
        places=places_of_demo(),
    )
    limits = httpx.Limits(max_connections=plan.concurrency * 2)
    async with httpx.AsyncClient(base_url=plan.url, timeout=30, limits=limits) as client:
        player = Player(plan, Api(client, summary), summary)
        if not await player.sign_in():
            return summary

        def tick() -> None:
            if progress is not None:
                elapsed = (player.now() - player.start).total_seconds() / 60
                progress(min(max(elapsed, 0.0), plan.duration_minutes), summary)

        await player.play(reports, tick)
    return summary


__all__ = ["DrillPlan", "DrillSummary", "PlannedReport", "places_of_demo", "run_drill"]
