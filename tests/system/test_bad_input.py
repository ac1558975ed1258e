"""Bad input at the edge is a clear 4xx with a stable code, never a 5xx (issue 15, M6), and an
unexpected error is a well-formed 500 on a connection that stays usable."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter
from sqlalchemy import select

from tests.conftest import free_port
from tests.factories import bearer, make_county_with_two_towns
from yingji.app import create_app
from yingji.core.audit import AuditEntry
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.settings import Settings

FAR_OFFSETS = [
    "9999-12-31T23:59:59-23:59",  # in UTC: year 10000, beyond what a datetime holds
    "0001-01-01T00:00:00+23:59",  # in UTC: year 0
]
NOT_ISO_8601 = ["0.5", "1700000000", "yesterday", "2026-13-01T00:00:00Z"]
NAIVE = ["2026-12-06T10:00:00"]
OUT_OF_RANGE = ["1066-10-14T09:00:00Z", "3026-12-06T10:00:00+08:00"]


def report(external_id: str, **extra: object) -> dict[str, object]:
    return {"channel": "hotline_119", "external_id": external_id, "text": "路边树倒了", **extra}


@pytest.mark.parametrize("moment", FAR_OFFSETS + NOT_ISO_8601 + NAIVE + OUT_OF_RANGE)
async def test_a_bad_or_far_moment_in_a_filter_is_refused_with_422(
    client: httpx.AsyncClient, db: Database, moment: str
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    for path, name in [
        ("/api/v1/incidents", "since"),
        ("/api/v1/incidents", "until"),
        ("/api/v1/incidents.geojson", "since"),
        ("/api/v1/kpi/units", "from"),
        ("/api/v1/kpi/tiers", "to"),
    ]:
        response = await client.get(path, params={name: moment}, headers=admin)
        assert response.status_code == 422, (path, name, response.text)
        assert response.json()["error"]["code"] == "validation_failed"


async def test_a_moment_with_an_offset_is_read_in_utc(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    for moment in ["2026-12-06T10:00:00+08:00", "2026-12-06T02:00:00Z", "2026-12-06T02:00:00.5Z"]:
        response = await client.get("/api/v1/incidents", params={"since": moment}, headers=admin)
        assert response.status_code == 200, response.text
    kpi = await client.get(
        "/api/v1/kpi/units",
        params={"from": "2026-12-01T00:00:00+08:00", "to": "2026-12-06T00:00:00-05:00"},
        headers=admin,
    )
    assert kpi.status_code == 200, kpi.text


@pytest.mark.parametrize("moment", [*FAR_OFFSETS, "1700000000", *NAIVE, *OUT_OF_RANGE, 0.5])
async def test_a_report_with_a_bad_or_far_received_at_is_refused_and_stores_nothing(
    client: httpx.AsyncClient, db: Database, moment: Any
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    one = await client.post(
        "/api/v1/intake/reports", headers=officer, json=report("119-m6", received_at=moment)
    )
    assert one.status_code == 422, one.text
    assert one.json()["error"]["code"] == "validation_failed"
    batch = await client.post(
        "/api/v1/intake/reports:batch",
        headers=officer,
        json={"reports": [report("119-m6b", received_at=moment)]},
    )
    assert batch.status_code == 422, batch.text
    listed = await client.get("/api/v1/intake/reports", headers=officer)
    assert listed.json()["total"] == 0


async def test_nul_characters_are_refused_alike_on_both_databases(
    client: httpx.AsyncClient, db: Database
) -> None:
    """PostgreSQL cannot store NUL in text or JSONB; SQLite can. One behaviour for both:
    refused at the edge with 422 invalid_character, and nothing stored."""
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    admin = await bearer(client, "admin")
    attempts = [
        client.post(
            "/api/v1/intake/reports", headers=officer, json=report("119-nul", text="树倒了\x00")
        ),
        client.post(
            "/api/v1/intake/reports",
            headers=officer,
            json=report("119-nul\u0000", text="路边树倒了"),
        ),
        client.post(  # JSON text written by hand: the escape, not the byte
            "/api/v1/intake/reports",
            headers={**officer, "Content-Type": "application/json"},
            content=json.dumps(report("119-nul2"))[:-1].encode() + b', "address": "A\\u0000"}',
        ),
        client.get("/api/v1/audit", params={"subject_type": "a\x00b"}, headers=admin),
        client.get("/api/v1/incidents?q=%00", headers=admin),
        client.post("/api/v1/auth/token", data={"username": "admin\x00", "password": "x"}),
        client.post(  # the same form as multipart: a field, not a file
            "/api/v1/auth/token", files={"username": (None, "admin\x00"), "password": (None, "x")}
        ),
    ]
    for response in await asyncio.gather(*attempts):
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_character"
    listed = await client.get("/api/v1/intake/reports", headers=officer)
    assert listed.json()["total"] == 0


async def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    # no category and no place: confirmed as an incident (if_unclear), the text is the point
    body = json.dumps(
        report("119-backslash", text="路径 C:\\u0000 是文本", if_unclear="open_incident")
    )
    assert "\\\\u0000" in body
    response = await client.post(
        "/api/v1/intake/reports",
        headers={**officer, "Content-Type": "application/json"},
        content=body.encode(),
    )
    assert response.status_code == 201, response.text


async def test_a_long_or_odd_forwarded_address_is_not_stored(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    """A proxy in ``trusted_proxies`` passes ``X-Forwarded-For`` along; whatever a client put
    in it, the audit log keeps a valid address of bounded length or none."""
    settings.trusted_proxies = ["203.0.113.7"]  # the test client's address
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    forwarded = [
        "fe80::1%" + "x" * 300,  # an IPv6 address with a scope id as long as you like
        "1.2.3.4, " * 2000 + "198.51.100.9",
        "y" * 5000,
    ]
    for index, value in enumerate(forwarded):
        response = await client.post(
            "/api/v1/units",
            headers={**admin, "X-Forwarded-For": value},
            json={
                "code": f"XFF{index}",
                "name": f"单位XFF{index}",
                "kind": "department",
                "tier": 1,
                "division_adcode": "331126",
            },
        )
        assert response.status_code == 201, response.text
    async with db.unit_of_work(readonly=True) as session:
        ips = list(
            (
                await session.scalars(
                    select(AuditEntry.ip)
                    .where(AuditEntry.action == "org.unit.created")
                    .order_by(AuditEntry.id)
                )
            ).all()
        )
    assert ips == ["fe80::1", "198.51.100.9", "203.0.113.7"]


@pytest.fixture
async def crashing_server(settings: Settings, clock: ManualClock) -> AsyncIterator[str]:
    """A real uvicorn server whose app has one route with a bug in it."""
    application = create_app(settings, run_worker=False, clock_override=clock)
    router = APIRouter()

    @router.get("/api/v1/test-crash")
    async def crash() -> None:
        raise ZeroDivisionError("a bug")

    application.router.routes[:0] = router.routes
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_after_an_unexpected_error_the_connection_stays_usable(
    crashing_server: str,
) -> None:
    opened: list[object] = []

    async def count_connections(event_name: str, info: dict[str, Any]) -> None:
        if event_name == "connection.connect_tcp.complete":
            opened.append(info["return_value"])

    async with httpx.AsyncClient(
        base_url=f"http://{crashing_server}", limits=httpx.Limits(max_connections=1)
    ) as client:
        crashed = await client.get("/api/v1/test-crash", extensions={"trace": count_connections})
        assert crashed.status_code == 500
        assert crashed.json()["error"]["code"] == "internal_error"
        assert crashed.json()["error"]["details"]["request_id"]
        assert crashed.headers["x-content-type-options"] == "nosniff"
        after = await client.get("/healthz", extensions={"trace": count_connections})
        assert after.status_code == 200
        again = await client.get("/api/v1/test-crash", extensions={"trace": count_connections})
        assert again.status_code == 500
    assert len(opened) == 1, "the server closed the connection after the 500"


async def test_a_browser_upload_of_a_binary_file_beside_a_text_field_is_not_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    """Files are binary and hold NUL bytes; only fields that are not files are text."""
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    created = await client.post(
        "/api/v1/intake/reports", headers=officer, json=report("119-multipart")
    )
    boundary = "----WebKitFormBoundaryQ3xLmZ9aBcDeFgHi"  # as Chromium writes it: mixed case
    photo = base64.b64decode(  # a 1×1 PNG: NUL bytes in its chunk lengths
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=="
    )
    assert b"\x00" in photo
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\n现场照片\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + photo
        + f"\r\n--{boundary}--\r\n".encode()
    )
    uploaded = await client.post(
        f"/api/v1/intake/reports/{created.json()['report_id']}/attachments",
        headers={**officer, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=body,
    )
    assert uploaded.status_code == 201, uploaded.text
