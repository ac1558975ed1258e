"""The warning workflow through the HTTP API: draft → submit → approve → sign → publish (the
recipients frozen, the deliveries queued, one transaction), cancel, update, relay and dismiss;
who may and who may not; another town's warning is 404; bad input changes nothing."""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from tests.factories import bearer, deliver_events, square
from tests.warning.workflow_setup import COUNTY, TOWN_A, draft_body, make_warning_county
from yingji.core import clock, timers
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.events import OutboxEvent
from yingji.notify.models import Delivery, Notification, OutboundMessage
from yingji.org.models import UserAccount
from yingji.warning import flows
from yingji.warning.models import Warning, WarningRecipient

W = "/api/v1/warnings"


async def _post(
    client: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    body: Any = None,
    status: int = 200,
) -> dict[str, Any]:
    response = await client.post(path, headers=headers, json=body if body is not None else {})
    assert response.status_code == status, response.text
    data: dict[str, Any] = response.json()
    return data


async def _signed(
    client: httpx.AsyncClient, **extra: Any
) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """A warning drafted by the duty officer, approved by the duty leader, signed by the
    commander."""
    who = {name: await bearer(client, name) for name in ("drafter", "reviewer", "chief")}
    draft = await _post(client, W, who["drafter"], draft_body(**extra), status=201)
    wid = draft["id"]
    await _post(client, f"{W}/{wid}/submit", who["drafter"], {"version": draft["version"]})
    await _post(client, f"{W}/{wid}/approve", who["reviewer"])
    signed = await _post(client, f"{W}/{wid}/sign", who["chief"])
    return signed, who


async def _count(db: Database, model: Any, *where: Any) -> int:
    async with db.unit_of_work(readonly=True) as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_draft_to_publication_freezes_recipients_and_queues_deliveries(
    client: httpx.AsyncClient, db: Database
) -> None:
    people = await make_warning_county(db)
    signed, who = await _signed(client)
    assert signed["state"] == "signed"
    wid = signed["id"]
    published = await _post(
        client, f"{W}/{wid}/publish", who["drafter"], {"version": signed["version"]}
    )
    assert published["state"] == "published"
    assert re.fullmatch(r"33112600000000_\d{14}_1", published["identifier"])
    assert published["call_plan"]["steps"]["positions"][0] == "department_head"
    assert published["call_plan"]["steps"]["wait_minutes"] == 10
    assert published["call_plan"]["id"]
    assert published["recipient_count"] == 8
    # the frozen list: 叫应 people waiting with a token each
    page = (
        await client.get(f"{W}/{wid}/recipients", headers=who["drafter"], params={"must_ack": True})
    ).json()
    assert {r["reason"] for r in page["items"]} == {
        "department_head",
        "town_head",
        "village_head",
        "duty_leader",
    }
    assert all(r["call_state"] == "waiting" for r in page["items"])
    async with db.unit_of_work(readonly=True) as session:
        tokens = list(await session.scalars(select(WarningRecipient.ack_token)))
        message = await session.scalar(select(OutboundMessage))
    assert message is not None and message.content["must_ack"] is True
    assert message.content["level_zh"] == "橙色" and message.content["type_zh"] == "暴雨"
    assert message.content["ack_url"].endswith("/ack/{token}")
    assert len([t for t in tokens if t]) == 7  # every one but the loudspeaker
    # one delivery per recipient on the first channel, the rest as fallbacks
    deliveries = (await client.get(f"{W}/{wid}/deliveries", headers=who["drafter"])).json()
    assert deliveries["total"] == 8
    assert {state: n for state, n in deliveries["counts"].items() if n} == {"queued": 8}
    head = next(d for d in deliveries["items"] if d["name"] == "甲镇长")
    assert (head["channel"], head["address"]) == ("voice", "13800000001")
    async with db.unit_of_work(readonly=True) as session:
        row = await session.scalar(select(Delivery).where(Delivery.name == "甲镇长"))
        events = list(await session.scalars(select(OutboxEvent.type).order_by(OutboxEvent.id)))
        published_event = await session.scalar(
            select(OutboxEvent).where(OutboxEvent.type == "warning.published")
        )
    assert row is not None and [f["channel"] for f in row.fallbacks] == ["sms", "email"]
    for step in ("created", "submitted", "approved", "signed", "published"):
        assert f"warning.{step}" in events
    assert published_event is not None
    assert published_event.payload["counts"]["must_ack"] == 4
    assert published_event.payload["warning"]["state"] == "published"
    # publishing twice is a conflict and adds nothing
    again = await client.post(f"{W}/{wid}/publish", headers=who["drafter"], json={})
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "warning_invalid_transition"
    assert await _count(db, WarningRecipient) == 8
    # the recipient list exports (an acknowledgement's time as text)
    async with db.unit_of_work() as session:
        await session.execute(
            update(WarningRecipient)
            .where(WarningRecipient.name == "甲镇长")
            .values(acked_at=clock.now(), call_state="answered")
        )
    sheet = await client.get(f"{W}/{wid}/recipients.xlsx", headers=who["drafter"])
    assert sheet.status_code == 200
    rows = list(load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))
    assert len(rows) == 9
    head_row = next(r for r in rows if r[0] == "甲镇长")
    assert head_row[7] == "answered" and str(head_row[8]).startswith("2026-07-01T08:00")
    del people


async def test_who_may_and_who_may_not_and_another_town_reads_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_warning_county(db)
    who = {
        name: await bearer(client, name)
        for name in ("drafter", "reviewer", "chief", "desk_b", "town_a", "town_b")
    }
    draft = await _post(client, W, who["chief"], draft_body(), status=201)
    wid = draft["id"]
    # a liaison may not draft; the town B desk does not see the county's warning
    denied = await client.post(W, headers=who["town_a"], json=draft_body())
    assert denied.status_code == 403
    assert (await client.get(f"{W}/{wid}", headers=who["desk_b"])).status_code == 404
    assert (
        await client.post(f"{W}/{wid}/submit", headers=who["desk_b"], json={})
    ).status_code == 404
    await _post(client, f"{W}/{wid}/submit", who["chief"])
    # the author may not review their own; a duty officer may not review at all
    own = await client.post(f"{W}/{wid}/approve", headers=who["chief"], json={})
    assert own.status_code == 403 and own.json()["error"]["code"] == "warning_self_review"
    officer = await client.post(f"{W}/{wid}/approve", headers=who["drafter"], json={})
    assert officer.status_code == 403
    await _post(client, f"{W}/{wid}/approve", who["reviewer"])
    # only a commander signs, and not the author
    assert (
        await client.post(f"{W}/{wid}/sign", headers=who["reviewer"], json={})
    ).status_code == 403
    assert (await client.post(f"{W}/{wid}/sign", headers=who["chief"], json={})).status_code == 403
    # steps out of order are conflicts
    early = await client.post(f"{W}/{wid}/publish", headers=who["drafter"], json={})
    assert early.status_code == 409
    # returned with a reason, edited, submitted again
    returned = await _post(client, f"{W}/{wid}/return", who["reviewer"], {"reason": "范围不准"})
    assert returned["state"] == "returned" and returned["state_reason"] == "范围不准"
    stale = await client.patch(
        f"{W}/{wid}", headers=who["chief"], json={"headline": "x", "version": 1}
    )
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_version"
    edited = await client.patch(
        f"{W}/{wid}", headers=who["chief"], json={"headline": "改", "version": returned["version"]}
    )
    assert edited.status_code == 200 and edited.json()["headline"] == "改"
    # the list: the county desk sees it, town B's desk does not
    mine = (await client.get(W, headers=who["drafter"], params={"state": "returned"})).json()
    assert [w["id"] for w in mine["items"]] == [wid]
    assert (await client.get(W, headers=who["desk_b"])).json()["total"] == 0
    # a recipient reads the warning sent to them once it is published
    await _post(client, f"{W}/{wid}/submit", who["chief"])
    await _post(client, f"{W}/{wid}/approve", who["reviewer"])
    signer = await bearer(client, "admin")
    await _post(client, f"{W}/{wid}/sign", signer)
    assert (await client.get(f"{W}/{wid}", headers=who["town_a"])).status_code == 404
    await _post(client, f"{W}/{wid}/publish", who["drafter"])
    assert (await client.get(f"{W}/{wid}", headers=who["town_a"])).status_code == 200
    assert (await client.get(f"{W}/{wid}", headers=who["town_b"])).status_code == 404
    assert (await client.get(f"{W}/{wid}/recipients", headers=who["desk_b"])).status_code == 404
    assert (await client.get(f"{W}/{wid}/deliveries", headers=who["desk_b"])).status_code == 404


async def test_bad_drafts_are_refused_with_a_code_and_change_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_warning_county(db)
    headers = await bearer(client, "drafter")
    cases = {
        "warning_level_not_allowed": draft_body(type_code="sandstorm", level="blue"),
        "warning_type_unknown": draft_body(type_code="meteor"),
        "warning_times_disordered": draft_body(
            onset_at="2026-07-01T15:00:00+00:00", expires_at="2026-07-01T14:00:00+00:00"
        ),
        "warning_area_missing": draft_body(area_adcodes=[]),
        "warning_time_out_of_range": draft_body(expires_at="0001-01-01T00:00:00+14:00"),
        "division_not_found": draft_body(area_adcodes=["331126109000"]),
        "warning_area_invalid": draft_body(
            area={"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}
        ),
    }
    for code, body in cases.items():
        response = await client.post(W, headers=headers, json=body)
        assert response.status_code == 422, (code, response.text)
        assert response.json()["error"]["code"] == code, response.text
    too_long = await client.post(W, headers=headers, json=draft_body(headline="长" * 301))
    assert too_long.status_code == 422
    outside = await client.post(
        W, headers=await bearer(client, "desk_b"), json=draft_body(division_adcode=COUNTY)
    )
    assert outside.status_code == 403
    assert await _count(db, Warning) == 0


async def test_cancel_withdraws_queued_deliveries_and_tells_everyone(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_warning_county(db)
    signed, who = await _signed(client)
    wid = signed["id"]
    await _post(client, f"{W}/{wid}/publish", who["drafter"])
    cancelled = await _post(client, f"{W}/{wid}/cancel", who["drafter"], {"reason": "降雨减弱"})
    assert cancelled["state"] == "cancelled" and cancelled["state_reason"] == "降雨减弱"
    async with db.unit_of_work(readonly=True) as session:
        kinds = dict(
            (await session.execute(select(OutboundMessage.kind, OutboundMessage.content))).all()
        )
        states = list(await session.scalars(select(Delivery.state)))
    assert kinds["warning.cancel"]["msg_type"] == "Cancel"
    assert states.count("cancelled") == 8 and states.count("queued") == 8
    again = await client.post(f"{W}/{wid}/cancel", headers=who["drafter"], json={"reason": "x"})
    assert again.status_code == 409


async def test_an_update_supersedes_the_warning_it_replaces(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_warning_county(db)
    signed, who = await _signed(client)
    first = signed["id"]
    await _post(client, f"{W}/{first}/publish", who["drafter"])
    update = await _post(client, f"{W}/{first}/update", who["drafter"], status=201)
    assert update["msg_type"] == "Update" and update["replaces_id"] == first
    assert update["references"] and update["state"] == "draft"
    uid = update["id"]
    await _post(client, f"{W}/{uid}/submit", who["drafter"])
    await _post(client, f"{W}/{uid}/approve", who["reviewer"])
    await _post(client, f"{W}/{uid}/sign", who["chief"])
    await _post(client, f"{W}/{uid}/publish", who["drafter"])
    old = (await client.get(f"{W}/{first}", headers=who["drafter"])).json()
    assert old["state"] == "superseded"


async def _received(db: Database, n: int) -> uuid.UUID:
    now = clock.now()
    async with db.unit_of_work() as session:
        warning = Warning(
            number=f"YJ-W-20250101-{n:04d}",
            identifier=f"CN-METEO-{n}",
            sender="qxj@zj",
            origin="received",
            state="received",
            type_code="rainstorm",
            level="red",
            headline="暴雨红色预警",
            issuer="浙江省气象台",
            division_adcode=COUNTY,
            division_path=f"330000/{COUNTY}/",
            area_adcodes=[TOWN_A],
            sent_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(warning)
        await session.flush()
        return warning.id


async def test_a_received_warning_is_relayed_as_our_draft_or_dismissed(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_warning_county(db)
    headers = await bearer(client, "drafter")
    received = await _received(db, 1)
    draft = await _post(client, f"{W}/{received}/relay", headers, {}, status=201)
    assert draft["relayed_from_id"] == str(received) and draft["state"] == "draft"
    assert draft["area_adcodes"] == [TOWN_A] and draft["level"] == "red"
    assert (await client.get(f"{W}/{received}", headers=headers)).json()["state"] == "relayed"
    twice = await client.post(f"{W}/{received}/relay", headers=headers, json={})
    assert twice.status_code == 409
    other = await _received(db, 2)
    dismissed = await _post(client, f"{W}/{other}/dismiss", headers, {"reason": "不涉及本县"})
    assert dismissed["state"] == "dismissed"


async def test_a_published_warning_expires_at_its_end(
    client: httpx.AsyncClient, db: Database, clock: ManualClock
) -> None:
    await make_warning_county(db)
    signed, who = await _signed(client)
    wid = signed["id"]
    await _post(client, f"{W}/{wid}/publish", who["drafter"])
    clock.advance(timedelta(hours=7))
    async with db.unit_of_work() as session:
        timer = await session.scalar(
            select(timers.Timer).where(timers.Timer.kind == flows.EXPIRE_TIMER)
        )
        assert timer is not None
        firing = timers.TimerFiring(
            id=timer.id,
            kind=timer.kind,
            subject=timer.subject,
            key=timer.key,
            due_at=timer.due_at,
            payload={},
            attempt=1,
        )
        await flows.expire(session, firing)
    assert (await client.get(f"{W}/{wid}", headers=who["drafter"])).json()["state"] == "expired"


async def test_types_list_the_colours_each_allows(client: httpx.AsyncClient, db: Database) -> None:
    await make_warning_county(db)
    body = (await client.get(f"{W}/types", headers=await bearer(client, "town_a"))).json()
    by_code = {t["code"]: t["levels"] for t in body["items"]}
    assert by_code["sandstorm"] == ["yellow", "orange", "red"]
    assert (await client.get(f"{W}/types")).status_code == 401


async def test_each_step_tells_the_next_role_in_the_chain(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_warning_county(db)
    who = {name: await bearer(client, name) for name in ("drafter", "reviewer", "chief")}
    draft = await _post(client, W, who["drafter"], draft_body(), status=201)
    wid = draft["id"]
    await _post(client, f"{W}/{wid}/submit", who["drafter"])
    await deliver_events(db)
    assert await _told(db) == {("reviewer", "warning_review"), ("chief", "warning_review")}
    await _post(client, f"{W}/{wid}/return", who["reviewer"], {"reason": "补充措施"})
    await deliver_events(db)
    assert ("drafter", "warning_returned") in await _told(db)
    await _post(client, f"{W}/{wid}/submit", who["drafter"])
    await _post(client, f"{W}/{wid}/approve", who["reviewer"])
    await deliver_events(db)
    told = await _told(db)
    assert ("chief", "warning_sign") in told and ("reviewer", "warning_sign") not in told
    # a step whose version moved on changes nothing
    stale = await client.post(f"{W}/{wid}/sign", headers=who["chief"], json={"version": 1})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_version"
    editing = await client.patch(
        f"{W}/{wid}", headers=who["drafter"], json={"headline": "改", "version": 99}
    )
    assert editing.status_code == 409
    assert editing.json()["error"]["code"] == "warning_not_editable"


async def _told(db: Database) -> set[tuple[str, str]]:
    async with db.unit_of_work(readonly=True) as session:
        rows = await session.execute(
            select(UserAccount.username, Notification.kind).join(
                UserAccount, UserAccount.id == Notification.user_id
            )
        )
        return {(name, kind) for name, kind in rows}


async def test_two_publications_at_once_publish_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_warning_county(db)
    signed, who = await _signed(client)
    wid = signed["id"]
    officer = await bearer(client, "county")
    first, second = await asyncio.gather(
        client.post(f"{W}/{wid}/publish", headers=who["drafter"], json={}),
        client.post(f"{W}/{wid}/publish", headers=officer, json={}),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    assert await _count(db, WarningRecipient) == 8
    assert await _count(db, OutboundMessage) == 1
    assert await _count(db, OutboxEvent, OutboxEvent.type == "warning.published") == 1


async def test_a_drawn_polygon_is_stored_with_its_box(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_warning_county(db)
    headers = await bearer(client, "drafter")
    body = draft_body(area_adcodes=None, area=square(119.11, 27.51, 0.08))
    del body["area_adcodes"]
    created = await _post(client, W, headers, body, status=201)
    assert created["area"]["type"] == "Polygon" and created["area_adcodes"] == []
    async with db.unit_of_work(readonly=True) as session:
        row = await session.get(Warning, uuid.UUID(created["id"]))
    assert row is not None
    assert (row.min_lon, row.max_lat) == (119.11, 27.59)
