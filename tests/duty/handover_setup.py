"""The county of ``make_county_with_two_towns`` with a duty desk and a roster around one shift
change, written the way the roster writes it (``duty_shift`` rows naming people whose accounts
are linked to them)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert, update

from tests.factories import bearer, make_county_with_two_towns, make_user
from yingji.core import clock
from yingji.core.db import Database
from yingji.core.ids import new_id
from yingji.duty.models import DutyShift, LeaderInstruction, ReportDue, StatutoryReport
from yingji.org import service as org_service
from yingji.org.models import UserAccount
from yingji.warning.models import Warning

COUNTY = "331126"
COUNTY_PATH = "330000/331126/"
TOWN_A = "331126101000"
TOWN_B = "331126102000"


@dataclass
class Desk:
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # username → bearer
    people: dict[str, uuid.UUID] = field(default_factory=dict)  # username → person id


async def make_desk(client: httpx.AsyncClient, db: Database) -> Desk:
    """County desk: ``county`` (officer), ``relief`` (officer), ``third`` (officer), ``leader``
    (duty leader), ``viewer``; ``officer_a`` is a duty officer of town A. Each officer and the
    leader has a person record."""
    await make_county_with_two_towns(db)
    await make_user(db, "relief", roles=["duty_officer"], division=COUNTY, display_name="接班员")
    await make_user(db, "third", roles=["duty_officer"], division=COUNTY)
    await make_user(db, "leader", roles=["duty_leader"], division=COUNTY, display_name="带班甲")
    await make_user(db, "viewer", roles=["viewer"], division=COUNTY)
    await make_user(db, "officer_a", roles=["duty_officer"], division=TOWN_A)
    desk = Desk()
    async with db.unit_of_work() as session:
        units = await org_service.unit_ids_by_code(session=session)
        for username in ("county", "relief", "third", "leader", "officer_a"):
            person = await org_service.create_person(
                session=session, data={"unit_id": units["TA"], "name": f"{username}之人"}
            )
            await session.execute(
                update(UserAccount)
                .where(UserAccount.username == username)
                .values(person_id=person.id)
            )
            desk.people[username] = person.id
    for username in ("admin", "county", "relief", "third", "leader", "viewer", "officer_a"):
        desk.headers[username] = await bearer(client, username)
    desk.headers["town_a"] = await bearer(client, "town_a")
    return desk


async def roster_change(
    db: Database,
    desk: Desk,
    change_at: datetime,
    *,
    outgoing: dict[str, str],
    incoming: dict[str, str],
    division: str = COUNTY,
) -> None:
    """Twelve-hour shifts ending and starting at ``change_at``: ``{position: username}``."""
    now = clock.now()
    rows: list[dict[str, Any]] = []
    for starts, seats in ((change_at - timedelta(hours=12), outgoing), (change_at, incoming)):
        for position, username in seats.items():
            rows.append(
                {
                    "id": new_id(),
                    "division_adcode": division,
                    "position": position,
                    "label": "",
                    "seat": 1,
                    "shift_code": "day" if starts == change_at else "night",
                    "starts_at": starts,
                    "ends_at": starts + timedelta(hours=12),
                    "person_id": desk.people[username] if username else None,
                    "person_name": f"{username}之人" if username else None,
                    "state": "scheduled",
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    async with db.unit_of_work() as session:
        await session.execute(insert(DutyShift), rows)


async def owed_report_and_instruction(db: Database, incident_id: str, division: str) -> None:
    """A 续报 owed by ``division`` and a 领导批示 on its 首报 not yet carried out."""
    now = clock.now()
    incident = uuid.UUID(incident_id)
    report_id = new_id()
    async with db.unit_of_work() as session:
        await session.execute(
            insert(StatutoryReport).values(
                id=report_id,
                number=f"BS-{report_id.hex[:8]}",
                incident_id=incident,
                kind="first",
                seq=1,
                division_adcode=division,
                to_division_adcode="330000",
                state="acknowledged",
                title="首报",
                reporter_id="x",
                reporter_name="报送人",
                sent_at=now,
                late=False,
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        await session.execute(
            insert(ReportDue).values(
                id=new_id(),
                incident_id=incident,
                division_adcode=division,
                kind="followup",
                seq=1,
                due_at=now + timedelta(hours=2),
                state="due",
                created_at=now,
            )
        )
        for text, done in (("请全力搜救被困人员", None), ("已落实的批示", now)):
            await session.execute(
                insert(LeaderInstruction).values(
                    id=new_id(),
                    report_id=report_id,
                    incident_id=incident,
                    from_division_adcode="330000",
                    to_division_adcode=division,
                    text=text,
                    author_id="p",
                    author_name="省厅领导",
                    issued_at=now,
                    carried_out_at=done,
                )
            )


async def published_warning(
    db: Database, *, headline: str, area: list[str], expires_in: timedelta, division: str = COUNTY
) -> None:
    now = clock.now()
    async with db.unit_of_work() as session:
        await session.execute(
            insert(Warning).values(
                id=new_id(),
                number=f"YJ-W-{uuid.uuid4().hex[:10]}",
                origin="authored",
                state="published",
                msg_type="Alert",
                level="orange",
                headline=headline,
                description="",
                instruction="",
                issuer="应急管理局",
                division_adcode=division,
                division_path=COUNTY_PATH if division == COUNTY else "330000/",
                area_desc="",
                area_adcodes=area,
                sent_at=now,
                published_at=now,
                expires_at=now + expires_in,
                recipient_count=0,
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
