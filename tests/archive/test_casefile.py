"""一事一档: an incident's case file (.docx + .zip with a manifest), built when it is archived or
on demand, the same bytes for the same data; the evaluation after closing (response times from
the timeline); the replay; who may and who may not."""

from __future__ import annotations

import hashlib
import io
import json
import time
import uuid
import zipfile
from datetime import timedelta

import httpx
import pytest
from docx import Document
from PIL import Image

from tests.dispatch.test_order_flows import act, dispatched, world
from tests.factories import bearer, deliver_events, make_user
from yingji.archive import casefile, service
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.security import SYSTEM
from yingji.incidents import service as incidents
from yingji.settings import Settings, get_settings

__all__ = ["world"]  # the fixture, shared with test_order_flows


def jpeg(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (shade, 0, 0)).save(out, "JPEG")
    return out.getvalue()


async def handled_and_closed(
    client: httpx.AsyncClient, world: dict, clock: ManualClock
) -> tuple[str, str]:
    """A fire: dispatched, the brigade signs, arrives, sends a feedback with a photo and
    completes; the town's order ends with the incident, which is closed. (incident, photo sha)"""
    incident, orders = await dispatched(client, world)
    officer, fire = world["officer"], world["fire"]
    order = orders[world["units"]["FIRE"]]["id"]
    clock.advance(timedelta(minutes=3))
    assert (await act(client, fire, order, "sign")).status_code == 200
    clock.advance(timedelta(minutes=12))
    arrived = await act(client, fire, order, "arrive", {"lon": 119.051, "lat": 27.552})
    assert arrived.status_code == 200, arrived.text
    photo = await client.post(
        f"/api/v1/orders/{order}/photos",
        headers=fire,
        files={"file": ("现场.jpg", jpeg(200), "image/jpeg")},
    )
    assert photo.status_code == 201, photo.text
    sha = photo.json()["sha256"]
    feedback = {"text": "明火已扑灭", "attachments": [{"sha256": sha}]}
    assert (await act(client, fire, order, "feedback", feedback)).status_code == 200
    clock.advance(timedelta(minutes=30))
    assert (await act(client, fire, order, "complete")).status_code == 200
    closed = await client.post(
        f"/api/v1/incidents/{incident}/close",
        headers=officer,
        json={"reason": "火已扑灭", "confirm_end_orders": True},
    )
    assert closed.status_code == 200, closed.text
    return incident, sha


@pytest.fixture
def store_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The event handler builds with the process's settings: this test's file store."""
    monkeypatch.setenv("YINGJI_FILE_STORE", str(settings.file_store))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_archiving_builds_the_case_file_and_rebuilding_gives_the_same_bytes(
    client: httpx.AsyncClient, world: dict, db: Database, clock: ManualClock, store_env: None
) -> None:
    officer = world["officer"]
    incident, sha = await handled_and_closed(client, world, clock)
    evaluation = await client.put(
        f"/api/v1/incidents/{incident}/evaluation",
        headers=officer,
        json={"what_happened": "仓库起火，消防到场扑灭", "went_well": "到场快", "to_improve": ""},
    )
    assert evaluation.status_code == 200, evaluation.text
    measured = evaluation.json()["measured"]
    assert measured["to_sign"] == 3.0 and measured["to_arrive"] == 15.0
    assert measured["to_close"] == 45.0 and measured["to_control"] is None
    archived = await client.post(f"/api/v1/incidents/{incident}/archive", headers=officer)
    assert archived.status_code == 200, archived.text
    await deliver_events(db)  # incidents.archived → the case file
    versions = (
        await client.get(f"/api/v1/incidents/{incident}/case-files", headers=officer)
    ).json()
    assert [v["version"] for v in versions] == [1]
    assert versions[0]["counts"]["orders"] == 2 and versions[0]["counts"]["attachments"] == 1
    assert versions[0]["built_by_name"] == SYSTEM.display_name

    docx = await client.get(f"/api/v1/incidents/{incident}/case-files/1.docx", headers=officer)
    assert docx.status_code == 200
    assert docx.headers["content-type"] == casefile.DOCX_TYPE
    assert docx.headers["x-content-type-options"] == "nosniff"
    assert docx.headers["content-disposition"].startswith("attachment;")
    text = "\n".join(p.text for p in Document(io.BytesIO(docx.content)).paragraphs)
    assert "一、事件概况" in text and "八、总结评估" in text
    cells = {
        c.text
        for t in Document(io.BytesIO(docx.content)).tables
        for row in t.rows
        for c in row.cells
    }
    assert {"仓库起火，消防到场扑灭", "明火已扑灭", "接报至首个单位到场", "15.0"} <= cells

    packed = await client.get(f"/api/v1/incidents/{incident}/case-files/1.zip", headers=officer)
    assert packed.status_code == 200 and packed.headers["content-type"] == casefile.ZIP_TYPE
    with zipfile.ZipFile(io.BytesIO(packed.content)) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        manifest = json.loads(archive.read("manifest.json"))
        for entry in manifest["files"]:
            assert hashlib.sha256(archive.read(entry["name"])).hexdigest() == entry["sha256"]
        assert f"attachments/{sha}.jpg" in names and manifest["missing_attachments"] == []
        assert archive.read(f"attachments/{sha}.jpg") == jpeg(200)
        assert {i.date_time for i in archive.infolist()} == {casefile.ZIP_TIME}
        orders = json.loads(archive.read("data/orders.json"))
        assert {o["stage"] for o in orders} == {"completed", "closed_with_incident"}
        assert archive.read(f"{manifest['incident']}.docx") == docx.content

    # on demand, later, nothing changed: the same version, no new files
    clock.advance(timedelta(hours=2))
    again = await client.post(f"/api/v1/incidents/{incident}/case-file", headers=officer)
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["zip_sha256"] == versions[0]["zip_sha256"]
    # rendered afresh from the same data: byte for byte the same files
    wall = time.time()
    async with db.unit_of_work(readonly=True) as session:
        found = await incidents.find_incident(session=session, incident_id=uuid.UUID(incident))
        assert found is not None
        evaluated = await service.get_evaluation(session=session, incident_id=found.id)
        data = await casefile.gather(session, incident=found, evaluation=evaluated)
    # a day later by the wall clock too (python-docx stamps each part with the time written)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", lambda: wall + 86_400.0)
        rebuilt = casefile.render(data, {sha: jpeg(200)})
    assert rebuilt.docx == docx.content and rebuilt.zip == packed.content

    # the data changed (the evaluation revised): a new version
    revised = await client.put(
        f"/api/v1/incidents/{incident}/evaluation",
        headers=officer,
        json={"what_happened": "仓库起火", "expected_version": 1},
    )
    assert revised.status_code == 200 and revised.json()["version"] == 2
    stale = await client.put(
        f"/api/v1/incidents/{incident}/evaluation",
        headers=officer,
        json={"what_happened": "x", "expected_version": 1},
    )
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "evaluation_changed"
    newer = await client.post(f"/api/v1/incidents/{incident}/case-file", headers=officer)
    assert newer.status_code == 201 and newer.json()["version"] == 2
    assert newer.json()["content_sha256"] != versions[0]["content_sha256"]


async def test_an_attachment_missing_from_the_store_is_named_in_the_manifest(
    client: httpx.AsyncClient, world: dict, clock: ManualClock, settings: Settings
) -> None:
    incident, sha = await handled_and_closed(client, world, clock)
    (settings.file_store / sha[:2] / sha).unlink()
    built = await client.post(f"/api/v1/incidents/{incident}/case-file", headers=world["officer"])
    assert built.status_code == 201 and built.json()["counts"]["missing_attachments"] == 1
    packed = await client.get(
        f"/api/v1/incidents/{incident}/case-files/1.zip", headers=world["officer"]
    )
    with zipfile.ZipFile(io.BytesIO(packed.content)) as archive:
        assert json.loads(archive.read("manifest.json"))["missing_attachments"] == [sha]
        assert not any(n.startswith("attachments/") for n in archive.namelist())


async def test_evaluation_waits_for_closing_and_replay_places_reports_and_arrivals(
    client: httpx.AsyncClient, world: dict, clock: ManualClock
) -> None:
    officer = world["officer"]
    incident, orders = await dispatched(client, world)
    early = await client.put(
        f"/api/v1/incidents/{incident}/evaluation", headers=officer, json={"what_happened": "x"}
    )
    assert early.status_code == 409 and early.json()["error"]["code"] == "incident_not_closed"
    empty = await client.put(
        f"/api/v1/incidents/{incident}/evaluation", headers=officer, json={"what_happened": " "}
    )
    assert empty.status_code == 422
    order = orders[world["units"]["FIRE"]]["id"]
    clock.advance(timedelta(minutes=5))
    await act(client, world["fire"], order, "sign")
    await act(client, world["fire"], order, "arrive", {"lon": 119.06, "lat": 27.56})
    replay = await client.get(f"/api/v1/incidents/{incident}/replay", headers=officer)
    assert replay.status_code == 200, replay.text
    frames = replay.json()["frames"]
    assert frames[0]["kind"] == "report" and frames[0]["lon"] == 119.05
    arrival = next(f for f in frames if f["kind"] == "arrival")
    assert (arrival["lon"], arrival["lat"]) == (119.06, 27.56)
    assert arrival["params"]["unit"] == "单位FIRE"
    assert [f["at"] for f in frames] == sorted(f["at"] for f in frames)
    assert "dispatch.order_issued" in {f["code"] for f in frames}
    # building on demand works before closing too (a snapshot for the level above)
    assert (
        await client.post(f"/api/v1/incidents/{incident}/case-file", headers=officer)
    ).status_code == 201


async def test_who_may_and_who_may_not(
    client: httpx.AsyncClient, world: dict, db: Database, clock: ManualClock
) -> None:
    incident, _ = await handled_and_closed(client, world, clock)
    leader = world["leader"]
    assert (
        await client.post(f"/api/v1/incidents/{incident}/case-file", headers=leader)
    ).status_code == 201
    # a unit liaison holds neither permission
    town = world["town_a"]
    for method, path in (
        ("POST", "case-file"),
        ("GET", "case-files"),
        ("GET", "case-files/1.docx"),
        ("GET", "case-files/1.zip"),
        ("GET", "evaluation"),
        ("GET", "replay"),
    ):
        answer = await client.request(method, f"/api/v1/incidents/{incident}/{path}", headers=town)
        assert answer.status_code == 403, (method, path, answer.text)
    denied = await client.put(
        f"/api/v1/incidents/{incident}/evaluation", headers=town, json={"what_happened": "x"}
    )
    assert denied.status_code == 403
    # a desk of the other town: the incident is not theirs (404), nothing built
    await make_user(db, "desk_b", roles=["duty_officer"], division="331126102000")
    desk_b = await bearer(client, "desk_b")
    for method, path in (
        ("POST", "case-file"),
        ("GET", "case-files"),
        ("GET", "case-files/1.docx"),
        ("GET", "evaluation"),
        ("GET", "replay"),
    ):
        answer = await client.request(
            method, f"/api/v1/incidents/{incident}/{path}", headers=desk_b
        )
        assert answer.status_code == 404, (method, path, answer.text)
    other = await client.put(
        f"/api/v1/incidents/{incident}/evaluation", headers=desk_b, json={"what_happened": "x"}
    )
    assert other.status_code == 404
    missing = await client.get(
        f"/api/v1/incidents/{incident}/case-files/9.zip", headers=world["officer"]
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "case_file_not_found"
    async with db.unit_of_work(readonly=True) as session:
        rows = await service.case_files(session=session, incident_id=uuid.UUID(incident))
    assert [r.version for r in rows] == [1]
