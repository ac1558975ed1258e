"""``POST /api/v1/warnings:cap`` and ``GET /api/v1/warnings/{id}/cap`` through the app: real alerts
become received warnings of the desk's division, once; hostile or old messages are refused and
write nothing; Update and Cancel close what they reference; our published warning comes out as
CAP 1.2 that validates and reads back; who may and who may not."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from lxml import etree
from sqlalchemy import func, select

from tests.factories import (
    bearer,
    deliver_events,
    make_county_with_two_towns,
    make_division,
    make_user,
)
from tests.warning.cap_fixtures import (
    AREA,
    CAP_DIR,
    SENT,
    cap12_files,
    ids,
    needs_material,
    orange_rainstorm,
)
from tests.warning.test_cap_parse import BILLION_LAUGHS, XXE
from yingji.core import clock
from yingji.core.audit import AuditEntry
from yingji.core.db import Database
from yingji.core.events import OutboxEvent
from yingji.warning import cap, catalogue
from yingji.warning.models import CapSeen, Warning

API = "/api/v1/warnings:cap"
XML = {"Content-Type": "application/cap+xml"}


@pytest.fixture
async def world(db: Database) -> None:
    await make_county_with_two_towns(db)
    await make_division(db, "331127", name="景宁县", level="county", parent="330000")
    await make_user(db, "leader", roles=["duty_leader"], division="331126")
    await make_user(db, "other_county", roles=["duty_officer"], division="331127")


async def post(
    client: httpx.AsyncClient, user: str, xml: bytes, query: str = "", **headers: str
) -> httpx.Response:
    auth = await bearer(client, user)
    return await client.post(f"{API}{query}", content=xml, headers={**XML, **auth, **headers})


async def stored(db: Database) -> tuple[int, int, int]:
    """Warnings, CAP messages seen, and warning.received events."""
    async with db.unit_of_work(readonly=True) as session:
        warnings = await session.scalar(select(func.count()).select_from(Warning))
        seen = await session.scalar(select(func.count()).select_from(CapSeen))
        events = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.type == "warning.received")
        )
    return int(warnings or 0), int(seen or 0), int(events or 0)


def chinese_alert(**changes: Any) -> bytes:
    """A provincial observatory's warning for 庆元县's two towns, as it would send it."""
    facts = orange_rainstorm(
        identifier="33000041600000_20260703093000_1", sender="zjqx@cma.example", **changes
    )
    return cap.build(facts)


@needs_material
@pytest.mark.parametrize("path", cap12_files(), ids=ids(cap12_files()))
async def test_every_real_cap12_alert_becomes_a_received_warning(
    client: httpx.AsyncClient, db: Database, world: None, path: Any
) -> None:
    xml = path.read_bytes()
    response = await post(client, "county", xml)
    assert response.status_code == 201, response.text
    body = response.json()
    message = cap.parse(xml)
    assert body["origin"] == "received" and body["state"] == "received"
    assert body["identifier"] == message.identifier and body["sender"] == message.sender
    assert body["msg_type"] == message.msg_type and body["division_adcode"] == "331126"
    assert body["created"] is True and body["number"].startswith("YJ-R-")
    async with db.unit_of_work(readonly=True) as session:
        warning = await session.get(Warning, uuid.UUID(body["id"]))
        assert warning is not None
        assert warning.cap_xml is not None and cap.parse(warning.cap_xml.encode()) == message
        assert warning.division_path == "330000/331126/" and warning.source == "api"
        assert warning.sent_at == message.sent
        if warning.area is not None:
            assert warning.min_lon is not None and warning.max_lon is not None
            assert warning.min_lon <= warning.max_lon
    assert await stored(db) == (1, 1, 1)


async def test_a_chinese_warning_is_mapped_to_our_type_level_area_and_codes(
    client: httpx.AsyncClient, db: Database, world: None
) -> None:
    response = await post(client, "county", chinese_alert())
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["type_code"], body["level"], body["event_text"]) == ("rainstorm", "orange", None)
    assert body["area_adcodes"] == ["331126101000", "331126102000"] and body["has_area"]
    async with db.unit_of_work(readonly=True) as session:
        warning = await session.get(Warning, uuid.UUID(body["id"]))
        assert warning is not None and warning.area == AREA
        assert (warning.min_lon, warning.min_lat, warning.max_lon, warning.max_lat) == (
            119.0,
            27.5,
            119.2,
            27.6,
        )
        assert warning.headline == "庆元县气象台发布暴雨橙色预警"
        assert warning.headline_en == "Orange Rainstorm warning"
        assert warning.issuer == "庆元县气象台"
        event = await session.scalar(
            select(OutboxEvent).where(OutboxEvent.type == "warning.received")
        )
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "warning.received")
        )
    assert event is not None and event.division_path == "330000/331126/"
    assert event.payload["warning"]["id"] == body["id"]
    assert event.payload["warning"]["level"] == "orange"
    assert entry is not None and entry.subject_id == body["id"]
    # the receiving county's desk is told (not the towns below it)
    await deliver_events(db)
    for user, told in (("county", 1), ("leader", 1), ("town_a", 0)):
        auth = await bearer(client, user)
        items = (await client.get("/api/v1/notifications", headers=auth)).json()["items"]
        mine = [n for n in items if n["kind"] == "warning"]
        assert len(mine) == told, (user, items)
        if told:
            assert mine[0]["title"] == "收到橙色预警：庆元县气象台发布暴雨橙色预警"


async def test_the_same_message_twice_gives_the_same_warning_and_nothing_new(
    client: httpx.AsyncClient, db: Database, world: None
) -> None:
    first = await post(client, "county", chinese_alert())
    again = await post(client, "leader", chinese_alert())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["created"] is False
    assert await stored(db) == (1, 1, 1)


async def test_the_same_message_at_another_county_reveals_nothing(
    client: httpx.AsyncClient, db: Database, world: None
) -> None:
    assert (await post(client, "county", chinese_alert())).status_code == 201
    response = await post(client, "other_county", chinese_alert())
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "cap_already_received"
    assert response.json()["error"]["details"] is None
    assert await stored(db) == (1, 1, 1)


@pytest.mark.parametrize(
    ("xml", "status", "code"),
    [
        (BILLION_LAUGHS, 422, "cap_unsafe"),
        (XXE, 422, "cap_unsafe"),
        (b"<alert", 422, "cap_malformed"),
        (b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>', 422, "cap_invalid"),
    ],
    ids=["billion-laughs", "xxe", "malformed", "invalid"],
)
async def test_hostile_and_broken_messages_are_refused_and_write_nothing(
    client: httpx.AsyncClient, db: Database, world: None, xml: bytes, status: int, code: str
) -> None:
    response = await post(client, "county", xml)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert "passwd" not in response.text and "lollol" not in response.text
    assert await stored(db) == (0, 0, 0)


async def test_an_ack_is_no_warning_and_is_refused(
    client: httpx.AsyncClient, db: Database, world: None
) -> None:
    response = await post(client, "county", chinese_alert(msg_type="Ack"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "cap_msg_type_unsupported"
    assert response.json()["error"]["details"] == {"msg_type": "Ack"}
    assert await stored(db) == (0, 0, 0)


@needs_material
async def test_cap_11_is_refused_with_its_code(
    client: httpx.AsyncClient, db: Database, world: None
) -> None:
    xml = (CAP_DIR / "v1dot1_appendix_adot2.xml").read_bytes()
    response = await post(client, "county", xml)
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "cap_version_unsupported",
        "message": "only CAP 1.2 is taken",
        "details": {"version": "1.1"},
    }
    assert await stored(db) == (0, 0, 0)


async def test_only_cap_media_types_are_taken(
    client: httpx.AsyncClient, db: Database, world: None
) -> None:
    auth = await bearer(client, "county")
    response = await client.post(
        API, content=chinese_alert(), headers={**auth, "Content-Type": "text/html"}
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    ok = await client.post(
        API, content=chinese_alert(), headers={**auth, "Content-Type": "application/xml"}
    )
    assert ok.status_code == 201
    assert await stored(db) == (1, 1, 1)


async def test_who_may_post_and_into_which_division(
    client: httpx.AsyncClient, db: Database, world: None
) -> None:
    # a town's liaison may read warnings but not draft them
    assert (await post(client, "town_a", chinese_alert())).status_code == 403
    # a desk names a division within its scope, never another county's
    outside = await post(client, "county", chinese_alert(), query="?division=331127")
    assert outside.status_code == 404
    assert outside.json()["error"]["code"] == "division_not_found"
    # an administrator of everything names the division (it has none of its own)
    none = await post(client, "admin", chinese_alert())
    assert none.status_code == 422 and none.json()["error"]["code"] == "division_required"
    assert (await client.post(API, content=chinese_alert(), headers=XML)).status_code == 401
    assert await stored(db) == (0, 0, 0)
    town = await post(client, "county", chinese_alert(), query="?division=331126101000")
    assert town.status_code == 201 and town.json()["division_adcode"] == "331126101000"
    later = chinese_alert(sent_at=SENT + timedelta(minutes=1))
    named = await post(client, "admin", later, query="?division=331127")
    assert named.status_code == 201 and named.json()["division_adcode"] == "331127"


async def test_an_update_supersedes_and_a_cancel_cancels_what_they_reference(
    client: httpx.AsyncClient, db: Database, world: None
) -> None:
    sender = "zjqx@cma.example"
    first = orange_rainstorm(identifier="A1", sender=sender)
    alert = (await post(client, "county", cap.build(first))).json()
    ref = f"{sender},A1,{cap.cap_time(first.sent_at)}"
    later = SENT + timedelta(hours=1)
    update = orange_rainstorm(
        identifier="A2",
        sender=sender,
        sent_at=later,
        msg_type="Update",
        references=(ref,),
        level="red",
    )
    updated = (await post(client, "county", cap.build(update))).json()
    assert updated["replaces_id"] == alert["id"] and updated["level"] == "red"
    ref2 = f"{sender},A2,{cap.cap_time(later)}"
    cancel = orange_rainstorm(
        identifier="A3",
        sender=sender,
        sent_at=later + timedelta(hours=1),
        msg_type="Cancel",
        references=(ref, ref2),
    )
    cancelled = (await post(client, "county", cap.build(cancel))).json()
    assert cancelled["replaces_id"] == updated["id"]
    async with db.unit_of_work(readonly=True) as session:
        states = {
            str(w.id): (w.state, w.version) for w in (await session.scalars(select(Warning))).all()
        }
        types = list(
            (
                await session.scalars(
                    select(OutboxEvent.type)
                    .where(OutboxEvent.type.like("warning.%"))
                    .order_by(OutboxEvent.id)
                )
            ).all()
        )
    assert states[alert["id"]] == ("superseded", 2)
    assert states[updated["id"]] == ("cancelled", 2)
    assert states[cancelled["id"]] == ("received", 1)
    assert types == [
        "warning.received",
        "warning.received",
        "warning.superseded",
        "warning.received",
        "warning.cancelled",
    ]


async def published_warning(db: Database, *, division: str = "331126", **values: Any) -> Warning:
    """A warning of ours as publication leaves it (the workflow is another part's)."""
    now = clock.now()
    sent = values.pop("sent_at", SENT)
    columns: dict[str, Any] = {
        "number": f"YJ-W-20260703-{uuid.uuid4().hex[:4]}",
        "identifier": catalogue.cap_identifier(
            division_adcode=division, org_code="00000000", sent_at=sent, sequence=1
        ),
        "origin": "authored",
        "state": "published",
        "type_code": "rainstorm",
        "level": "orange",
        "headline": "庆元县发布暴雨橙色预警",
        "description": "预计甲镇、乙镇将有暴雨。",
        "instruction": "请做好防御。",
        "issuer": "庆元县应急管理局",
        "division_adcode": division,
        "division_path": f"330000/{division}/",
        "area_desc": "甲镇、乙镇",
        "area": AREA,
        "area_adcodes": ["331126101", "331126102000"],
        "onset_at": sent,
        "expires_at": sent + timedelta(hours=6),
        "sent_at": sent,
        "references": [],
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    warning = Warning(**{**columns, **values})
    async with db.unit_of_work() as session:
        session.add(warning)
    return warning


async def test_our_published_warning_comes_out_as_cap_that_validates_and_reads_back(
    client: httpx.AsyncClient, db: Database, world: None
) -> None:
    warning = await published_warning(db)
    auth = await bearer(client, "town_a")
    response = await client.get(f"/api/v1/warnings/{warning.id}/cap", headers=auth)
    assert response.status_code == 404  # the county's warning is not the town's to read
    auth = await bearer(client, "county")
    response = await client.get(f"/api/v1/warnings/{warning.id}/cap", headers=auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/cap+xml"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{warning.identifier}.xml"'
    )
    assert cap.schema().validate(etree.fromstring(response.content).getroottree())
    message = cap.parse(response.content)
    assert message.identifier == warning.identifier == "33112600000000_20260703093000_1"
    assert message.sent_text == "2026-07-03T09:30:00+08:00"
    assert message.sender == "yingji@localhost"
    assert [i.language for i in message.infos] == ["zh-CN", "en-US"]
    assert message.infos[0].event == "暴雨橙色预警" and message.infos[0].severity == "Severe"
    assert message.infos[1].headline == "Orange Rainstorm warning"
    values = cap.mapped(message, [])
    assert values["area"] == AREA
    # division codes come out as 12 digits
    assert values["area_adcodes"] == ["331126101000", "331126102000"]


async def test_an_update_of_ours_references_the_warning_it_replaces(
    client: httpx.AsyncClient, db: Database, world: None
) -> None:
    old = await published_warning(db)
    new = await published_warning(
        db, msg_type="Update", replaces_id=old.id, sent_at=SENT + timedelta(hours=2)
    )
    auth = await bearer(client, "leader")
    response = await client.get(f"/api/v1/warnings/{new.id}/cap", headers=auth)
    message = cap.parse(response.content)
    assert message.msg_type == "Update"
    assert [r.text() for r in message.references] == [
        f"yingji@localhost,{old.identifier},2026-07-03T09:30:00+08:00"
    ]


async def test_a_received_warning_comes_out_as_it_was_received(
    client: httpx.AsyncClient, db: Database, world: None
) -> None:
    xml = chinese_alert()
    body = (await post(client, "county", xml)).json()
    auth = await bearer(client, "county")
    response = await client.get(f"/api/v1/warnings/{body['id']}/cap", headers=auth)
    assert response.status_code == 200 and response.content == xml


async def test_a_draft_has_no_cap_message_yet_and_unknown_ids_are_404(
    client: httpx.AsyncClient, db: Database, world: None
) -> None:
    draft = await published_warning(db, state="draft", identifier=None)
    other = await published_warning(db, division="331127")
    auth = await bearer(client, "county")
    response = await client.get(f"/api/v1/warnings/{draft.id}/cap", headers=auth)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "cap_not_published"
    for unknown in (other.id, uuid.uuid4()):
        response = await client.get(f"/api/v1/warnings/{unknown}/cap", headers=auth)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "warning_not_found"
    assert (await client.get(f"/api/v1/warnings/{draft.id}/cap")).status_code == 401


async def test_the_same_message_posted_at_once_makes_one_warning(
    client: httpx.AsyncClient, db: Database, world: None
) -> None:
    auth = await bearer(client, "county")
    xml = chinese_alert()
    responses = await asyncio.gather(
        *(client.post(API, content=xml, headers={**XML, **auth}) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await stored(db) == (1, 1, 1)


async def test_cap_and_feed_routes_come_before_any_route_of_one_warning(app: Any) -> None:
    """``warnings:cap`` and ``warnings/feeds`` are matched before ``warnings/{id}…`` could take
    ``feeds`` for an id (the warning domain mounts CAP's router first)."""
    paths = list(app.openapi()["paths"])  # in the order the routes are matched
    mine = [i for i, p in enumerate(paths) if p in (API, "/api/v1/warnings/feeds")]
    theirs = [
        i
        for i, p in enumerate(paths)
        if p.startswith("/api/v1/warnings/{") and not p.endswith("/cap")
    ]
    assert len(mine) >= 2 and all(i < j for i in mine for j in theirs), paths


async def test_a_message_over_the_size_bound_is_refused_unread(
    client: httpx.AsyncClient, db: Database, world: None
) -> None:
    padding = b"<!-- " + b"x" * (1024 * 1024) + b" -->"
    response = await post(client, "county", chinese_alert() + padding)
    assert response.status_code == 413, response.text
    assert await stored(db) == (0, 0, 0)
