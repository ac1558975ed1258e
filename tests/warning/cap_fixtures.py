"""What the CAP tests share: the CAP material others wrote (read in place from
``../shared/data/cap/``, never copied here) and a Chinese warning of ours as CAP facts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from yingji.warning import cap

#: the folder CI always has beside the checkout
CAP_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "cap"
needs_material = pytest.mark.skipif(
    not CAP_DIR.is_dir(), reason=f"the shared CAP material is not at {CAP_DIR}"
)


def material(prefix: str = "") -> list[Path]:
    """The XML files of the shared CAP folder whose names start with ``prefix``."""
    if not CAP_DIR.is_dir():
        return []
    return sorted(p for p in CAP_DIR.glob(f"{prefix}*.xml"))


def cap12_files() -> list[Path]:
    """The CAP 1.2 ones: specification examples and real alerts."""
    return [*material("v1dot2_"), *material("ipaws-"), *material("google-")]


def older_files() -> list[Path]:
    """CAP 1.0 and 1.1 (the specifications' examples and a real NWS alert)."""
    return [*material("v1dot0_"), *material("v1dot1_"), *material("nws-")]


def ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


SENT = datetime(2026, 7, 3, 1, 30, tzinfo=UTC)  # 09:30 in China

AREA = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[119.0, 27.5], [119.1, 27.5], [119.1, 27.6], [119.0, 27.6], [119.0, 27.5]]],
        [[[119.1, 27.5], [119.2, 27.5], [119.2, 27.6], [119.1, 27.6], [119.1, 27.5]]],
    ],
}


def orange_rainstorm(**changes: Any) -> cap.CapFacts:
    """An orange rainstorm warning of 庆元县 over two towns, as CAP facts."""
    facts = cap.CapFacts(
        identifier="33112600000000_20260703093000_1",
        sender="qingyuan@yingji.example",
        sent_at=SENT,
        status="Actual",
        msg_type="Alert",
        references=(),
        category="Met",
        event_zh="暴雨橙色预警",
        event_en="Rainstorm warning",
        level="orange",
        headline="庆元县气象台发布暴雨橙色预警",
        description="预计未来6小时甲镇、乙镇降雨量将达50毫米以上。",
        instruction="请转移山洪地质灾害隐患点人员。",
        headline_en="Orange Rainstorm warning",
        description_en="",
        instruction_en="",
        issuer="庆元县气象台",
        area_desc="甲镇、乙镇",
        area=AREA,
        area_adcodes=("331126101000", "331126102000"),
        onset_at=SENT + timedelta(hours=1),
        expires_at=SENT + timedelta(hours=12),
    )
    return dataclasses.replace(facts, **changes)
