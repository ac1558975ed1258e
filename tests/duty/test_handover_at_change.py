"""The platform opens the handover (交接班) itself at each shift change of a division's roster:
a timer per change, armed from the shifts by the check-in arming (``attendance.arm``, hourly),
opens it at the change unless a desk opened it already, and so arms the unsigned alert that
reaches the duty leader on duty ``YINGJI_HANDOVER_UNSIGNED_MINUTES`` (30) later. A division
without a roster gets none."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import delete

from tests.duty.handover_setup import COUNTY, TOWN_B, Desk, make_desk, roster_change
from tests.factories import deliver_events
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.timers import TimerFiring, TimerWorker, handlers
from yingji.duty import attendance
from yingji.duty.models import DutyShift
from yingji.settings import get_settings

START = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # when the app starts: the arming timer is due
CHANGE = datetime(2026, 7, 2, 0, 0, tzinfo=UTC)  # 08:00 in China, the next morning


@pytest.fixture
async def desk(client: httpx.AsyncClient, db: Database, clock: ManualClock) -> Desk:
    clock.set(START)
    return await make_desk(client, db)


async def handovers(
    client: httpx.AsyncClient, desk: Desk, division: str = COUNTY
) -> list[dict[str, object]]:
    answer = await client.get(
        f"/api/v1/duty/handovers?division={division}", headers=desk.headers["leader"]
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, object]] = answer.json()["items"]
    return items


async def told(client: httpx.AsyncClient, desk: Desk, username: str) -> list[str]:
    answer = await client.get("/api/v1/notifications", headers=desk.headers[username])
    return [n["kind"] for n in answer.json()["items"] if n["kind"] == "handover_unsigned"]


async def arming(db: Database, clock: ManualClock) -> None:
    """The hourly arming run (``duty.check_in_arm``; the template database's own is due later
    than these tests' July): it runs again an hour later by itself."""
    firing = TimerFiring(0, attendance.ARM_TIMER, "shifts", "", clock.now(), {}, 1)
    async with db.unit_of_work() as session:
        await attendance.arm_on_time(session, firing)


async def run_until(db: Database, clock: ManualClock, moment: datetime) -> None:
    """Move the clock to ``moment`` and fire what is due (the hourly arming among them)."""
    clock.set(moment)
    await TimerWorker(db, handler_map=handlers()).run_due()
    await deliver_events(db)


async def test_the_handover_opens_at_the_change_and_its_alert_reaches_the_leader(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: ManualClock
) -> None:
    await roster_change(
        db,
        desk,
        CHANGE,
        outgoing={"chief": "county", "leader": "third"},
        incoming={"chief": "relief", "leader": "leader"},
    )
    await arming(db, clock)  # the hourly arming takes the change within a day
    await run_until(db, clock, CHANGE - timedelta(minutes=1))
    assert await handovers(client, desk) == []
    await run_until(db, clock, CHANGE)
    [opened] = await handovers(client, desk)
    assert datetime.fromisoformat(str(opened["change_at"])) == CHANGE
    assert opened["state"] == "open" and opened["overdue"] is False
    assert opened["outgoing_shift_id"] and opened["incoming_shift_id"]
    await run_until(db, clock, CHANGE + timedelta(minutes=29))
    assert await told(client, desk, "leader") == []
    await run_until(db, clock, CHANGE + timedelta(minutes=30))
    assert await told(client, desk, "leader") == ["handover_unsigned"]  # 带班 on duty now
    assert await told(client, desk, "third") == []  # the outgoing leader is not told
    await run_until(db, clock, CHANGE + timedelta(hours=2))  # nothing opens it twice
    assert len(await handovers(client, desk)) == 1
    assert await handovers(client, desk, TOWN_B) == []  # the town keeps no roster


async def test_a_handover_opened_by_the_desk_just_before_is_the_one(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: ManualClock
) -> None:
    await roster_change(
        db, desk, CHANGE, outgoing={"chief": "county"}, incoming={"chief": "relief"}
    )
    await arming(db, clock)
    clock.set(CHANGE - timedelta(minutes=10))
    manual = await client.post(
        "/api/v1/duty/handovers",
        headers=desk.headers["county"],
        json={"division_adcode": COUNTY},
    )
    assert manual.status_code == 201, manual.text
    await run_until(db, clock, CHANGE)
    assert [h["id"] for h in await handovers(client, desk)] == [manual.json()["id"]]
    await run_until(db, clock, CHANGE + timedelta(minutes=30))
    assert await told(client, desk, "leader") == ["handover_unsigned"]  # one alert, not two


async def test_a_division_without_a_roster_gets_no_handover_and_no_alert(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: ManualClock
) -> None:
    await arming(db, clock)
    await run_until(db, clock, CHANGE)
    await run_until(db, clock, CHANGE + timedelta(hours=1))
    assert await handovers(client, desk) == []
    assert await told(client, desk, "leader") == []


async def test_a_change_the_roster_no_longer_has_opens_nothing(
    client: httpx.AsyncClient, db: Database, desk: Desk, clock: ManualClock
) -> None:
    await roster_change(
        db, desk, CHANGE, outgoing={"chief": "county"}, incoming={"chief": "relief"}
    )
    await arming(db, clock)  # armed
    async with db.unit_of_work() as session:  # the incoming shift is removed from the roster
        await session.execute(
            delete(DutyShift).where(
                DutyShift.division_adcode == COUNTY, DutyShift.starts_at == CHANGE
            )
        )
    await run_until(db, clock, CHANGE + timedelta(minutes=40))
    assert await handovers(client, desk) == []


@pytest.fixture
def unsigned_after_45() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("YINGJI_HANDOVER_UNSIGNED_MINUTES", "45")
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


async def test_the_unsigned_delay_is_a_setting(
    client: httpx.AsyncClient,
    db: Database,
    desk: Desk,
    clock: ManualClock,
    unsigned_after_45: None,
) -> None:
    await roster_change(
        db, desk, CHANGE, outgoing={"chief": "county"}, incoming={"chief": "relief"}
    )
    await arming(db, clock)
    await run_until(db, clock, CHANGE + timedelta(minutes=44))
    [opened] = await handovers(client, desk)
    assert datetime.fromisoformat(str(opened["alert_at"])) == CHANGE + timedelta(minutes=45)
    assert await told(client, desk, "leader") == []
    await run_until(db, clock, CHANGE + timedelta(minutes=45))
    assert await told(client, desk, "leader") == ["handover_unsigned"]
