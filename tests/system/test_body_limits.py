"""Request bodies are limited before anything parses them (issue 15, M4): 413 in the error
envelope, at once for a too-large ``Content-Length``, as they arrive for a streamed body; a
body above the plain limit is read only for a signed-in caller."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.factories import bearer, make_county_with_two_towns
from yingji.core.db import Database
from yingji.settings import Settings

MiB = 1024 * 1024


def too_large(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text[:300]
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "payload_too_large"
    assert response.json()["error"]["details"] == {"max_bytes": limit}


def json_of_size(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    head = b'{"name": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


async def test_an_anonymous_oversized_json_body_is_413_before_it_is_read(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    received = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal received
        for _ in range(300):  # 300 MiB, if anyone read it all
            received += 1
            yield b" " * MiB

    declared = await client.post(
        "/api/v1/units",
        headers={"Content-Type": "application/json", "Content-Length": str(300 * MiB)},
        content=body(),
    )
    too_large(declared, settings.max_json_bytes)
    assert received <= 1  # refused on its Content-Length, not after reading it


async def test_a_streamed_json_body_is_counted_as_it_arrives(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    sent = 0

    async def body() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        nonlocal sent
        for _ in range(300):
            sent += 1
            yield b" " * (256 * 1024)

    streamed = await client.post(
        "/api/v1/units", headers={**admin, "Content-Type": "application/json"}, content=body()
    )
    too_large(streamed, settings.max_json_bytes)
    assert sent <= 6  # stopped a little past 1 MiB


async def test_a_json_body_at_the_limit_is_read_and_one_byte_more_is_not(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(client, "admin")
    headers = {**admin, "Content-Type": "application/json"}
    limit = settings.max_json_bytes
    at_limit = await client.post("/api/v1/units", headers=headers, content=json_of_size(limit))
    assert at_limit.status_code == 422  # read and parsed: a unit needs more than a name
    over = await client.post("/api/v1/units", headers=headers, content=json_of_size(limit + 1))
    too_large(over, limit)


async def test_anonymous_callers_cannot_send_more_than_the_plain_limit_anywhere(
    client: httpx.AsyncClient,
) -> None:
    """Uploads and reports may be larger, but only a signed-in caller's: an anonymous (or
    wrongly signed) body over 1 MiB is refused before it is read."""
    read = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal read
        for _ in range(4):
            read += 1
            yield b" " * (MiB // 2)

    attempts = [
        ("/api/v1/intake/reports", "application/json", {}),
        ("/api/v1/intake/reports:batch", "application/json", {"Authorization": "Bearer nope"}),
        (f"/api/v1/orders/{uuid.uuid4()}/photos", "multipart/form-data; boundary=b", {}),
    ]
    for path, content_type, headers in attempts:
        refused = await client.post(
            path,
            headers={**headers, "Content-Type": content_type, "Content-Length": str(2 * MiB)},
            content=body(),
        )
        assert refused.status_code == 401, refused.text[:300]
        assert refused.json()["error"]["code"] == "not_authenticated"
    assert read == 0


async def test_a_multipart_upload_may_be_larger_than_json_but_not_without_bound(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    created = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json={"channel": "hotline_119", "external_id": "119-up", "text": "路边树倒了"},
    )
    assert created.status_code == 201, created.text
    report_id = created.json()["report_id"]
    path = f"/api/v1/intake/reports/{report_id}/attachments"
    photo = b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * MiB)
    five = await client.post(path, headers=officer, files={"file": ("p.png", photo, "image/png")})
    assert five.status_code != 413, five.text[:300]
    huge = b"\x89PNG\r\n\x1a\n" + b"\0" * settings.upload_body_limit
    refused = await client.post(path, headers=officer, files={"file": ("p.png", huge, "image/png")})
    too_large(refused, settings.upload_body_limit)


def largest_report(external_id: str, attachments: list[dict[str, str]]) -> dict[str, object]:
    """A report with every field at its longest, escaped as JSON escapes the most."""
    return {
        "channel": "hotline_12345",
        "external_id": external_id.ljust(100, "x"),
        "received_at": "2026-12-06T10:00:00.000000+08:00",
        "reporter_name": "\u2028" * 100,
        "reporter_phone": "1" * 40,
        "text": "\u2028" * 4000,  # escaped by json.dumps: 6 bytes each
        "address": "\u2028" * 300,
        "lon": -179.123456789,
        "lat": -89.123456789,
        "crs": "wgs84",
        "category_code": "c" * 64,
        "casualties": {"dead": 100000, "injured": 100000, "missing": 100000, "trapped": 100000},
        "attachments": attachments,
    }


async def test_the_largest_legal_report_and_the_largest_batch_fit_the_report_limit(
    settings: Settings,
) -> None:
    """The report routes take attachments in base64: their limit is what the largest legal
    requests need (one report whose attachments take their whole budget; 500 text-only
    reports of the longest), and the other routes' limit stays at 1 MiB."""
    share = settings.attachment_max_bytes // 5
    attachment = {
        "filename": "f" * 200,
        "content_type": "audio/mpeg",
        "data_base64": base64.b64encode(b"\0" * share).decode(),
    }
    report = largest_report("r", [attachment] * 5)
    size = len(json.dumps(report, indent=4).encode())
    assert size <= settings.report_body_limit
    assert settings.report_body_limit - size < 2 * MiB
    batch = {"reports": [largest_report(f"b{i}", []) for i in range(500)]}
    assert len(json.dumps(batch, indent=4).encode()) <= settings.report_body_limit
    assert settings.max_json_bytes == MiB


async def test_a_reports_attachments_over_their_budget_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    half = base64.b64encode(b"ID3" + b"\0" * (settings.attachment_max_bytes // 2)).decode()
    parts = [
        {"filename": f"{i}.mp3", "content_type": "audio/mpeg", "data_base64": half}
        for i in range(2)
    ]
    report = {"channel": "hotline_119", "external_id": "119-big", "text": "路边树倒了"}
    refused = await client.post(
        "/api/v1/intake/reports", headers=officer, json={**report, "attachments": parts}
    )
    assert refused.status_code == 422, refused.text[:300]
    assert refused.json()["error"]["code"] == "attachments_too_large"
    listed = await client.get("/api/v1/intake/reports", headers=officer)
    assert listed.json()["total"] == 0


@pytest.mark.parametrize("route", ["/api/v1/intake/reports", "/api/v1/intake/reports:batch"])
async def test_a_report_over_the_report_limit_is_413(
    client: httpx.AsyncClient, db: Database, settings: Settings, route: str
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    limit = settings.report_body_limit

    async def body() -> AsyncIterator[bytes]:
        for _ in range(limit // MiB + 1):
            yield b" " * MiB

    over = await client.post(
        route,
        headers={**officer, "Content-Type": "application/json", "Content-Length": str(limit + 1)},
        content=body(),
    )
    too_large(over, limit)
