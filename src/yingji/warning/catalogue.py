"""The warning domain's shipped reference data: levels (colour → Roman level → CAP severity),
warning types (``data/warning_types.json``) and the default call plans (叫应方案: orange and red).

Every other module of the domain (CAP, workflow, targeting, calling, the console's
``GET /api/v1/warnings/types``) reads levels and types from here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import clock
from yingji.warning.models import CallPlan, WarningLevel, WarningType


@dataclass(frozen=True)
class Level:
    colour: WarningLevel
    roman: str  # I … IV
    rank: int  # 4 red … 1 blue: higher is more severe
    severity: str  # CAP <severity>
    name_zh: str  # 红色
    gravity_zh: str  # 特别严重


LEVELS: dict[WarningLevel, Level] = {
    WarningLevel.RED: Level(WarningLevel.RED, "I", 4, "Extreme", "红色", "特别严重"),
    WarningLevel.ORANGE: Level(WarningLevel.ORANGE, "II", 3, "Severe", "橙色", "严重"),
    WarningLevel.YELLOW: Level(WarningLevel.YELLOW, "III", 2, "Moderate", "黄色", "较重"),
    WarningLevel.BLUE: Level(WarningLevel.BLUE, "IV", 1, "Minor", "蓝色", "一般"),
}
#: CAP <severity> → our colour (received warnings; Unknown maps to none)
SEVERITY_TO_LEVEL: dict[str, WarningLevel] = {lv.severity: c for c, lv in LEVELS.items()}


def level_rank(level: str | None) -> int:
    """4 for red … 1 for blue, 0 for none or unknown."""
    try:
        return LEVELS[WarningLevel(level or "")].rank
    except ValueError:
        return 0


@dataclass(frozen=True)
class TypeSpec:
    code: str
    name_zh: str
    name_en: str
    family: str
    levels: tuple[str, ...]
    cap_category: str
    authority_zh: str
    sort: int


@cache
def shipped_types() -> dict[str, TypeSpec]:
    """The shipped types by code (``data/warning_types.json``)."""
    text = resources.files("yingji").joinpath("data/warning_types.json").read_text("utf-8")
    return {
        t["code"]: TypeSpec(
            code=t["code"],
            name_zh=t["name_zh"],
            name_en=t["name_en"],
            family=t["family"],
            levels=tuple(t["levels"]),
            cap_category=t["cap_category"],
            authority_zh=t["authority_zh"],
            sort=int(t["sort"]),
        )
        for t in json.loads(text)["types"]
    }


#: the default 叫应 plan for orange and red (every type, every division) until an office writes
#: its own: call the department heads, town heads, village responsible persons inside and the
#: on-duty leader by voice then SMS then the app; wait 10 min (red: 5), repeat twice, then the
#: person's superior, then the duty leader.
DEFAULT_CALL_STEPS: dict[WarningLevel, dict[str, Any]] = {
    WarningLevel.ORANGE: {
        "positions": ["department_head", "town_head", "village_head", "duty_leader"],
        "channels": ["voice", "sms", "app"],
        "wait_minutes": 10,
        "repeats": 2,
        "escalate_to": ["superior", "duty_leader"],
    },
    WarningLevel.RED: {
        "positions": ["department_head", "town_head", "village_head", "duty_leader"],
        "channels": ["voice", "sms", "app"],
        "wait_minutes": 5,
        "repeats": 2,
        "escalate_to": ["superior", "duty_leader"],
    },
}


async def ensure_reference_data(session: AsyncSession) -> None:
    """Add the shipped warning types and default call plans that are missing (idempotent;
    an office's edits to existing rows are kept)."""
    have = set((await session.scalars(select(WarningType.code))).all())
    for spec in shipped_types().values():
        if spec.code not in have:
            session.add(
                WarningType(
                    code=spec.code,
                    name_zh=spec.name_zh,
                    name_en=spec.name_en,
                    family=spec.family,
                    levels=list(spec.levels),
                    cap_category=spec.cap_category,
                    authority_zh=spec.authority_zh,
                    sort=spec.sort,
                    active=True,
                )
            )
    await session.flush()
    defaults = await session.scalars(
        select(CallPlan.level).where(
            CallPlan.division_adcode.is_(None), CallPlan.type_code.is_(None)
        )
    )
    present = set(defaults.all())
    now = clock.now()
    for level, steps in DEFAULT_CALL_STEPS.items():
        if level.value not in present:
            session.add(
                CallPlan(
                    division_adcode=None,
                    type_code=None,
                    level=level.value,
                    name=f"默认叫应方案（{LEVELS[level].name_zh}）",
                    steps=dict(steps),
                    active=True,
                    created_at=now,
                    updated_at=now,
                )
            )
    await session.flush()


#: China's time (CAP times and the GB/T 35965.1 identifier are written in +08:00)
CHINA = timezone(timedelta(hours=8))


def cap_identifier(*, division_adcode: str, org_code: str, sent_at: datetime, sequence: int) -> str:
    """The GB/T 35965.1 identifier ``ZZZZZZDDDUUUXX_YYYYMMDDhhmmss_N``: the issuing division's
    6-digit area code, the issuing organisation's 8-character code (``DDDUUUXX``), the time of
    issue in +08:00, and the sequence number of the messages issued in that second (from 1)."""
    area = (division_adcode or "")[:6].ljust(6, "0")
    org = (org_code or "")[:8].rjust(8, "0")
    stamp = clock.as_utc(sent_at).astimezone(CHINA).strftime("%Y%m%d%H%M%S")
    return f"{area}{org}_{stamp}_{max(1, sequence)}"


def _plan_specificity(plan: CallPlan, path: str) -> tuple[int, int]:
    """Longer matched division path first, then a type's own plan before the every-type plan."""
    depth = 0 if plan.division_adcode is None else path.find(f"{plan.division_adcode}/") + 1
    return (depth, 1 if plan.type_code is not None else 0)


async def choose_call_plan(
    session: AsyncSession, *, division_path: str, type_code: str | None, level: str | None
) -> CallPlan | None:
    """The 叫应 plan for a warning issued by the division at ``division_path``: the active plan
    of the nearest division on the path (or the every-division default), for this type before the
    every-type plan, at this level. None: no 叫应 for this level (blue and yellow by default)."""
    if not level:
        return None
    adcodes = [code for code in division_path.split("/") if code]
    rows = await session.scalars(
        select(CallPlan).where(
            CallPlan.active.is_(True),
            CallPlan.level == level,
            (CallPlan.type_code.is_(None)) | (CallPlan.type_code == type_code),
            (CallPlan.division_adcode.is_(None)) | (CallPlan.division_adcode.in_(adcodes)),
        )
    )
    plans = list(rows.all())
    if not plans:
        return None
    return max(plans, key=lambda plan: _plan_specificity(plan, division_path))
