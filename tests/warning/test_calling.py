"""叫应 chains under a ManualClock: started once per called person on ``warning.published``,
repeated and escalated at the plan's times, stopped by exactly that person's answer, answered
from above by an escalated superior, voice key 1, the auditor and a warning no longer in force."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.factories import deliver_events
from tests.warning.calling_helpers import (
    Published,
    World,
    make_world,
    minutes,
    open_step_timers,
    publish,
    run_timers,
)
from yingji.core import events
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.events import EventScope, OutboxEvent
from yingji.core.timers import Timer
from yingji.notify.models import Delivery
from yingji.warning import calling
from yingji.warning.models import CallEvent, Warning, WarningAck, WarningRecipient


@pytest.fixture
async def world(app: Any, db: Database) -> World:
    return await make_world(db)


async def recipients(db: Database, warning_id: uuid.UUID) -> dict[str, WarningRecipient]:
    """The warning's recipients by name (escalated ones as ``name<-source name``)."""
    async with db.unit_of_work(readonly=True) as session:
        rows = (
            await session.scalars(
                select(WarningRecipient).where(WarningRecipient.warning_id == warning_id)
            )
        ).all()
    names = {r.id: r.name for r in rows}
    return {
        (f"{r.name}<-{names[r.escalated_from_id]}" if r.escalated_from_id else r.name): r
        for r in rows
    }


async def chain_kinds(db: Database, recipient_id: uuid.UUID) -> list[tuple[str, int]]:
    async with db.unit_of_work(readonly=True) as session:
        rows = await session.execute(
            select(CallEvent.kind, CallEvent.step)
            .where(CallEvent.recipient_id == recipient_id)
            .order_by(CallEvent.at, CallEvent.step)
        )
        return [(k, s) for k, s in rows]


async def steps_queued(db: Database, recipient_id: uuid.UUID) -> list[tuple[int, str]]:
    async with db.unit_of_work(readonly=True) as session:
        rows = await session.execute(
            select(Delivery.step, Delivery.channel)
            .where(Delivery.recipient_ref == str(recipient_id))
            .order_by(Delivery.step)
        )
        return [(s, c) for s, c in rows]


async def outbox_types(db: Database, prefix: str) -> list[str]:
    async with db.unit_of_work(readonly=True) as session:
        rows = await session.scalars(
            select(OutboxEvent.type)
            .where(OutboxEvent.type.startswith(prefix))
            .order_by(OutboxEvent.id)
        )
        return list(rows.all())


async def started(db: Database, world: World, **kw: Any) -> Published:
    published = await publish(db, world, **kw)
    await deliver_events(db)  # warning.published → the chains start
    return published


async def test_publication_starts_one_chain_per_called_person(
    db: Database, world: World, clock: ManualClock
) -> None:
    published = await started(db, world, informed=("甲镇长",))
    timers = await open_step_timers(db)
    called = [published.recipients[n].id for n in ("甲干部", "乙镇长", "村主任")]
    assert set(timers) == {str(i) for i in called}  # the informed 甲镇长 has no chain
    for t in timers.values():
        assert t.due_at == clock.now() + minutes(10)
        assert t.payload["step"] == 0
    for rid in called:
        assert await chain_kinds(db, rid) == [("call", 0)]
    # at least once: the event again starts nothing more
    async with db.unit_of_work() as session:
        assert await calling.start_chains(session, warning_id=published.warning_id) == 0
    assert len(await open_step_timers(db)) == 3


async def test_repeats_then_escalation_fire_at_the_plans_times(
    db: Database, world: World, clock: ManualClock
) -> None:
    published = await started(db, world)
    cadre = published.recipients["甲干部"].id

    clock.advance(minutes(10) - minutes(1 / 60))  # one second early: nothing
    assert await run_timers(db) == 0
    assert await chain_kinds(db, cadre) == [("call", 0)]

    clock.advance(minutes(1 / 60))  # the wait is over: repeat 1
    assert await run_timers(db) == 3
    assert await chain_kinds(db, cadre) == [("call", 0), ("repeat", 1)]
    # the repeat's deliveries: the plan's channels first (voice, then sms as the fallback)
    assert await steps_queued(db, cadre) == [(0, "voice"), (1, "voice")]
    assert (await open_step_timers(db))[str(cadre)].due_at == clock.now() + minutes(10)

    clock.advance(minutes(10))  # repeat 2
    await run_timers(db)
    assert await chain_kinds(db, cadre) == [("call", 0), ("repeat", 1), ("repeat", 2)]
    assert (await recipients(db, published.warning_id))["甲干部"].call_state == "waiting"

    clock.advance(minutes(10))  # repeats spent: escalate
    await run_timers(db)
    people = await recipients(db, published.warning_id)
    assert people["甲干部"].call_state == "escalated"
    assert people["村主任"].call_state == "escalated"
    assert people["乙镇长"].call_state == "escalated"
    # 甲干部's superior: the leader of town A's unit; 村主任 leads the village: the leader of the
    # parent unit (town A); 乙镇长 leads a unit with no parent: the duty leader
    above_cadre = people["甲镇长<-甲干部"]
    assert above_cadre.reason == "escalation"
    assert above_cadre.must_ack and above_cadre.ack_token and above_cadre.call_state == "waiting"
    assert above_cadre.town_adcode == people["甲干部"].town_adcode
    assert "甲镇长<-村主任" in people
    duty = [k for k in people if k.endswith("<-乙镇长")]
    assert len(duty) == 1
    assert people[duty[0]].user_id == world.users["duty_leader"]
    assert ("escalate", 2) in await chain_kinds(db, cadre)
    assert await steps_queued(db, above_cadre.id) == [(0, "voice")]  # the superior is called
    assert (await outbox_types(db, "warning.call.")).count("warning.call.escalated") == 3
    # the escalated chains run on their own clock: three more waits, then the next target
    for _ in range(3):
        clock.advance(minutes(10))
        await run_timers(db)
    people = await recipients(db, published.warning_id)
    assert people["甲镇长<-甲干部"].call_state == "escalated"
    assert people[duty[0]].call_state == "exhausted"  # the duty leader was the last target
    above_above = [k for k in people if k.endswith("<-甲镇长")]
    assert above_above and all(people[k].user_id == world.users["duty_leader"] for k in above_above)
    assert "warning.call.exhausted" in await outbox_types(db, "warning.call.")


async def test_an_answer_stops_exactly_that_persons_chain(
    client: httpx.AsyncClient, db: Database, world: World, clock: ManualClock
) -> None:
    published = await started(db, world)
    cadre = published.recipients["甲干部"]
    clock.advance(minutes(10))
    await run_timers(db)  # repeat 1 for all three

    response = await client.post(f"/api/v1/warnings/ack/{cadre.token}")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "acknowledged"
    # the event follows the ack through a timer row (the ack itself takes no journal lock)
    assert await outbox_types(db, "warning.acknowledged") == []
    timers = await open_step_timers(db)
    assert str(cadre.id) not in timers
    assert {str(published.recipients[n].id) for n in ("乙镇长", "村主任")} == set(timers)

    clock.advance(minutes(10))
    await run_timers(db)
    people = await recipients(db, published.warning_id)
    assert people["甲干部"].call_state == "answered"
    assert people["甲干部"].call_step == 1  # no repeat after the answer
    assert people["乙镇长"].call_step == 2
    assert await steps_queued(db, cadre.id) == [(0, "voice"), (1, "voice")]
    assert (await chain_kinds(db, cadre.id))[-1] == ("answer", 1)

    again = await client.post(f"/api/v1/warnings/ack/{cadre.token}")
    assert again.status_code == 200
    assert again.json()["status"] == "already_acknowledged"
    async with db.unit_of_work(readonly=True) as session:
        acks = (await session.scalars(select(WarningAck))).all()
    assert [(a.recipient_id, a.via) for a in acks] == [(cadre.id, "link")]
    await run_timers(db)
    assert await outbox_types(db, "warning.acknowledged") == ["warning.acknowledged"]
    async with db.unit_of_work(readonly=True) as session:
        said = (
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.type == "warning.acknowledged")
            )
        ).one()
    assert said.payload == {
        "warning_id": str(published.warning_id),
        "recipient_id": str(cadre.id),
        "via": "link",
        "town_adcode": "331126101000",
        "answers_for": [],
    }
    assert said.division_path == "330000/331126/"


async def test_an_escalated_superiors_answer_answers_the_chain_below(
    client: httpx.AsyncClient, db: Database, world: World, clock: ManualClock
) -> None:
    published = await started(db, world, called=("甲干部",))
    for _ in range(3):
        clock.advance(minutes(10))
        await run_timers(db)
    superior = (await recipients(db, published.warning_id))["甲镇长<-甲干部"]
    response = await client.post(f"/api/v1/warnings/ack/{superior.ack_token}")
    assert response.json()["status"] == "acknowledged"
    people = await recipients(db, published.warning_id)
    assert people["甲镇长<-甲干部"].call_state == "answered"
    assert people["甲干部"].call_state == "answered"
    assert people["甲干部"].acked_at is None  # answered for, not by, them
    assert await open_step_timers(db) == {}
    assert await run_timers(db) == 1  # the acknowledgement's event
    clock.advance(minutes(60))
    assert await run_timers(db) == 0  # nothing left to fire


async def test_voice_key_one_answers_other_keys_are_receipts(
    db: Database, world: World, clock: ManualClock
) -> None:
    published = await started(db, world)
    cadre = published.recipients["甲干部"].id

    async def pressed(key: str) -> None:
        async with db.unit_of_work() as session:
            await events.emit(
                session,
                type="notify.delivery.answered",
                subject_type="delivery",
                subject_id=1,
                payload={
                    "delivery_id": 1,
                    "subject_id": str(published.warning_id),
                    "recipient_ref": str(cadre),
                    "channel": "voice",
                    "key": key,
                },
                scope=EventScope(division_path="330000/331126/"),
            )
        await deliver_events(db)

    await pressed("2")
    people = await recipients(db, published.warning_id)
    assert people["甲干部"].call_state == "waiting"  # a receipt is never an answer
    assert await chain_kinds(db, cadre) == [("call", 0), ("receipt", 0)]
    await pressed("1")
    people = await recipients(db, published.warning_id)
    assert people["甲干部"].call_state == "answered"
    async with db.unit_of_work(readonly=True) as session:
        via = await session.scalar(select(WarningAck.via).where(WarningAck.recipient_id == cadre))
    assert via == "voice"
    assert str(cadre) not in await open_step_timers(db)


async def test_the_auditor_rearms_and_reports_a_stuck_chain(
    db: Database, world: World, clock: ManualClock
) -> None:
    published = await started(db, world)
    lost = published.recipients["乙镇长"].id
    async with db.unit_of_work() as session:  # a chain whose timer went missing
        await session.execute(
            update(Timer).where(Timer.subject == str(lost)).values(state="cancelled")
        )
    async with db.unit_of_work() as session:
        assert await calling.audit_chains(session) == [lost]
    assert "warning.call.stuck" in await outbox_types(db, "warning.call.")
    timers = await open_step_timers(db)
    assert timers[str(lost)].due_at == clock.now()
    assert timers[str(lost)].payload["step"] == 0
    # the re-armed chain carries on: its wait was over, so it repeats now
    await run_timers(db)
    assert await chain_kinds(db, lost) == [("call", 0), ("repeat", 1)]
    async with db.unit_of_work() as session:
        assert await calling.audit_chains(session) == []


async def test_a_cancelled_warning_stops_its_chains(
    db: Database, world: World, clock: ManualClock
) -> None:
    published = await started(db, world)
    async with db.unit_of_work() as session:
        await session.execute(
            update(Warning).where(Warning.id == published.warning_id).values(state="cancelled")
        )
        await events.emit(
            session,
            type="warning.cancelled",
            subject_type="warning",
            subject_id=published.warning_id,
            payload={"warning": {"id": str(published.warning_id), "state": "cancelled"}},
            scope=EventScope(division_path="330000/331126/"),
        )
    await deliver_events(db)
    assert await open_step_timers(db) == {}
    clock.advance(minutes(60))
    assert await run_timers(db) == 0
    people = await recipients(db, published.warning_id)
    assert {p.call_step for p in people.values()} == {0}


async def test_the_frozen_plan_sets_the_times_and_an_account_alone_exhausts(
    db: Database, world: World, clock: ManualClock
) -> None:
    """No repeats, a 3-minute wait, escalation to the duty leader only: the duty leader on the
    list themself has nobody above (they are skipped as already in the chain): exhausted."""
    steps = {
        "positions": ["duty_leader"],
        "channels": ["app"],
        "wait_minutes": 3,
        "repeats": 0,
        "escalate_to": ["duty_leader"],
    }
    published = await started(db, world, called=(), user_recipient="duty_leader", steps=steps)
    leader = published.recipients["duty_leader"].id
    assert (await open_step_timers(db))[str(leader)].due_at == clock.now() + minutes(3)
    clock.advance(minutes(3))
    await run_timers(db)
    people = await recipients(db, published.warning_id)
    assert people["duty_leader"].call_state == "exhausted"
    assert await chain_kinds(db, leader) == [("call", 0), ("exhausted", 0)]
    assert len(people) == 1
