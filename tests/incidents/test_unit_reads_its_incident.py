"""A linkage unit reads the incident it holds an order on (联动单位查看所派事件): description,
place, casualties, reports with their attachments, the other units' orders and the notes meant
for units — while its order is live and for ``order_read_days`` after it ended — and nothing
else of that town; it acts on nothing but its own order."""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import httpx
from PIL import Image

from tests.dispatch.test_order_flows import act, world  # noqa: F401 (fixture)
from tests.factories import bearer, report
from yingji.core.clock import ManualClock


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def fire_with_a_photo(client: httpx.AsyncClient, world: dict) -> tuple[str, dict]:  # noqa: F811
    """A fire in town A called in by 张三 with a photo, verified and dispatched (brigade + town)."""
    photo = {
        "filename": "scene.png",
        "content_type": "image/png",
        "data_base64": base64.b64encode(png()).decode(),
    }
    body = report(
        "unit-read-1",
        "甲镇一仓库着火，有人被困，浓烟很大",
        address="甲镇仓库路 8 号",
        lon=119.05,
        lat=27.55,
        reporter_name="张三",
        reporter_phone="13900001111",
        casualties={"trapped": 2, "injured": 1},
        category_code="accident.fire",
        attachments=[photo],
    )
    answer = await client.post("/api/v1/intake/reports", headers=world["officer"], json=body)
    assert answer.status_code == 201, answer.text
    incident = answer.json()["incident_id"]
    officer = world["officer"]
    assert (
        await client.post(f"/api/v1/incidents/{incident}/verify", headers=officer)
    ).status_code == 200
    sent = await client.post(f"/api/v1/incidents/{incident}/dispatch", headers=officer)
    assert sent.status_code == 201, sent.text
    return incident, {o["unit_id"]: o for o in sent.json()}


async def reads(client: httpx.AsyncClient, headers: dict[str, str], incident: str) -> list[int]:
    """The statuses of the incident's read routes: itself, timeline, reports, orders."""
    paths = ("", "/timeline", "/reports", "/orders")
    return [
        (await client.get(f"/api/v1/incidents/{incident}{p}", headers=headers)).status_code
        for p in paths
    ]


async def test_a_unit_with_an_order_reads_the_incident_its_reports_attachments_and_other_units(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    incident, orders = await fire_with_a_photo(client, world)
    fire, units = world["fire"], world["units"]
    # the brigade's scope is its unit, the incident lies in town A: its order opens it
    found = await client.get(f"/api/v1/incidents/{incident}", headers=fire)
    assert found.status_code == 200, found.text
    seen = found.json()
    assert (seen["lon"], seen["lat"], seen["address"]) == (119.05, 27.55, "甲镇仓库路 8 号")
    assert (seen["trapped"], seen["injured"]) == (2, 1)

    reports = await client.get(f"/api/v1/incidents/{incident}/reports", headers=fire)
    assert reports.status_code == 200, reports.text
    [call] = reports.json()["items"]
    assert call["text"] == "甲镇一仓库着火，有人被困，浓烟很大"
    assert (call["reporter_name"], call["reporter_phone"]) == ("张三", "13900001111")
    assert call["incident_id"] == incident

    listed = await client.get(f"/api/v1/intake/reports/{call['id']}/attachments", headers=fire)
    assert listed.status_code == 200, listed.text
    [attachment] = listed.json()
    body = await client.get(
        f"/api/v1/intake/reports/{call['id']}/attachments/{attachment['id']}", headers=fire
    )
    assert body.status_code == 200 and body.content == png()

    # the other unit on it (town A, co-handling) and its stage
    ta_order = orders[units["TA"]]["id"]
    assert (await act(client, world["town_a"], ta_order, "sign")).status_code == 200
    on_it = await client.get(f"/api/v1/incidents/{incident}/orders", headers=fire)
    assert on_it.status_code == 200
    assert {(o["unit_id"], o["stage"]) for o in on_it.json()} == {
        (units["FIRE"], "issued"),
        (units["TA"], "signed"),
    }


async def test_a_unit_reads_the_photos_another_unit_sent_on_the_same_incident(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    incident, orders = await fire_with_a_photo(client, world)
    ta_order = orders[world["units"]["TA"]]["id"]
    town_a = world["town_a"]
    assert (await act(client, town_a, ta_order, "sign")).status_code == 200
    uploaded = await client.post(
        f"/api/v1/orders/{ta_order}/photos",
        headers=town_a,
        files={"file": ("fire.png", png(), "image/png")},
    )
    assert uploaded.status_code == 201, uploaded.text
    sha = uploaded.json()["sha256"]
    sent = await act(
        client,
        town_a,
        ta_order,
        "feedback",
        {"text": "火势已控制", "attachments": [{"sha256": sha}]},
    )
    assert sent.status_code == 200, sent.text

    detail = await client.get(f"/api/v1/orders/{ta_order}", headers=world["fire"])
    assert detail.status_code == 200, detail.text
    assert [f["text"] for f in detail.json()["feedback"]] == ["火势已控制"]
    photo = await client.get(f"/api/v1/orders/{ta_order}/photos/{sha}", headers=world["fire"])
    assert photo.status_code == 200 and photo.content == png()
    # a unit with no order on the incident sees none of it
    water = world["water"]
    assert (await client.get(f"/api/v1/orders/{ta_order}", headers=water)).status_code == 404
    hidden = await client.get(f"/api/v1/orders/{ta_order}/photos/{sha}", headers=water)
    assert hidden.status_code == 404


async def test_a_unit_without_an_order_on_the_incident_still_gets_404(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    incident, _ = await fire_with_a_photo(client, world)
    assert await reads(client, world["fire"], incident) == [200, 200, 200, 200]
    assert await reads(client, world["water"], incident) == [404, 404, 404, 404]
    reports = await client.get(f"/api/v1/incidents/{incident}/reports", headers=world["fire"])
    call = reports.json()["items"][0]["id"]
    for path in (
        f"/api/v1/intake/reports/{call}",
        f"/api/v1/intake/reports/{call}/attachments",
    ):
        assert (await client.get(path, headers=world["water"])).status_code == 404


async def test_a_unit_reads_the_incident_29_days_after_its_order_ended_but_not_31(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
    clock: ManualClock,
) -> None:
    incident, orders = await fire_with_a_photo(client, world)
    fire_order = orders[world["units"]["FIRE"]]["id"]
    # a live order opens the incident however long it has been open
    clock.advance(timedelta(days=40))
    fire = await bearer(client, "fire_liaison")  # a token lasts a day
    assert await reads(client, fire, incident) == [200, 200, 200, 200]
    assert (await act(client, fire, fire_order, "sign")).status_code == 200
    assert (await act(client, fire, fire_order, "complete")).status_code == 200
    clock.advance(timedelta(days=29))
    fire = await bearer(client, "fire_liaison")
    assert await reads(client, fire, incident) == [200, 200, 200, 200]
    clock.advance(timedelta(days=2))
    fire = await bearer(client, "fire_liaison")
    assert await reads(client, fire, incident) == [404, 404, 404, 200]
    # its own order stays in its inbox and on the incident's list, the other unit's is gone
    on_it = (await client.get(f"/api/v1/incidents/{incident}/orders", headers=fire)).json()
    assert [o["id"] for o in on_it] == [fire_order]
    inbox = (await client.get("/api/v1/orders?mine=true", headers=fire)).json()
    assert [o["id"] for o in inbox["items"]] == [fire_order]
    assert inbox["items"][0]["incident"]["description"] is None


async def test_a_returned_order_opens_the_incident_for_the_same_30_days(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
    clock: ManualClock,
) -> None:
    incident, orders = await fire_with_a_photo(client, world)
    fire, fire_order = world["fire"], orders[world["units"]["FIRE"]]["id"]
    returned = await act(client, fire, fire_order, "return", {"reason": "不属本单位"})
    assert returned.status_code == 200, returned.text
    clock.advance(timedelta(days=29, hours=23))
    fire = await bearer(client, "fire_liaison")  # a token lasts a day
    assert (await client.get(f"/api/v1/incidents/{incident}", headers=fire)).status_code == 200
    clock.advance(timedelta(hours=2))
    assert (await client.get(f"/api/v1/incidents/{incident}", headers=fire)).status_code == 404


async def test_a_unit_cannot_read_another_incident_of_the_same_town(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    incident, _ = await fire_with_a_photo(client, world)
    crash = report(
        "unit-read-other",
        "甲镇东街两车相撞",
        lon=119.02,
        lat=27.52,
        category_code="accident.traffic",
    )
    other = await client.post("/api/v1/intake/reports", headers=world["officer"], json=crash)
    assert other.status_code == 201, other.text
    elsewhere = other.json()["incident_id"]
    assert elsewhere != incident
    fire = world["fire"]
    assert await reads(client, fire, incident) == [200, 200, 200, 200]
    assert await reads(client, fire, elsewhere) == [404, 404, 404, 404]
    listed = (await client.get("/api/v1/incidents", headers=fire)).json()
    assert elsewhere not in {i["id"] for i in listed["items"]}


async def test_a_unit_that_reads_the_incident_cannot_act_on_it(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    incident, orders = await fire_with_a_photo(client, world)
    fire = world["fire"]
    assert (await client.get(f"/api/v1/incidents/{incident}", headers=fire)).status_code == 200
    base = f"/api/v1/incidents/{incident}"
    for path, body in (
        ("/close", None),
        ("/control", None),
        ("/notes", {"text": "x"}),
        ("/level", {"level": "II", "reason": "x"}),
        ("/dispatch", None),
        ("/cancel", {"kind": "other", "reason": "x"}),
    ):
        answer = await client.post(f"{base}{path}", headers=fire, json=body)
        assert answer.status_code == 403, (path, answer.text)
    # nor on the other unit's order, nor on the reports it reads
    ta_order = orders[world["units"]["TA"]]["id"]
    assert (await act(client, fire, ta_order, "sign")).status_code == 404
    reports = (await client.get(f"{base}/reports", headers=fire)).json()["items"]
    added = await client.post(
        f"/api/v1/intake/reports/{reports[0]['id']}/attachments",
        headers=fire,
        files={"file": ("more.png", png(), "image/png")},
    )
    assert added.status_code == 404
    state = (await client.get(base, headers=world["officer"])).json()
    assert (state["state"], state["level"]) == ("responding", "IV")


async def test_a_unit_reads_only_the_notes_meant_for_units(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    incident, _ = await fire_with_a_photo(client, world)
    officer = world["officer"]
    base = f"/api/v1/incidents/{incident}"
    for body in (
        {"text": "请从北侧进入，南门已封", "for_units": True},
        {"text": "带班领导已知悉（内部）"},
    ):
        assert (await client.post(f"{base}/notes", headers=officer, json=body)).status_code == 200
    seen = await client.get(f"{base}/timeline", headers=world["fire"])
    assert seen.status_code == 200
    assert [(e["kind"], e["summary"]) for e in seen.json()] == [("noted", "请从北侧进入，南门已封")]
    assert seen.json()[0]["data"]["for_units"] is True
    # the centre, and the town the incident lies in, read the whole timeline
    for who in ("officer", "town_a"):
        whole = (await client.get(f"{base}/timeline", headers=world[who])).json()
        notes = [e["summary"] for e in whole if e["kind"] == "noted"]
        assert notes == ["请从北侧进入，南门已封", "带班领导已知悉（内部）"]
        assert len(whole) > len(notes)


async def test_the_inbox_card_carries_the_description_caller_and_casualties(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    incident, _ = await fire_with_a_photo(client, world)
    inbox = (await client.get("/api/v1/orders?mine=true", headers=world["fire"])).json()
    [brief] = [o["incident"] for o in inbox["items"]]
    assert brief["id"] == incident
    assert brief["description"] == "甲镇一仓库着火，有人被困，浓烟很大"
    assert (brief["reporter_name"], brief["reporter_phone"]) == ("张三", "13900001111")
    assert (brief["trapped"], brief["injured"], brief["dead"], brief["missing"]) == (2, 1, 0, 0)
