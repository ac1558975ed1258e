"""Photos and recordings of a report: decoded or checked for what they really are, recorded with
the type found, and served so that a file carrying markup can never run as a page."""

from __future__ import annotations

import base64
import io
import struct
import wave

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from tests.factories import bearer, make_county_with_two_towns, make_user
from yingji.core.db import Database
from yingji.intake.models import Attachment, Report
from yingji.settings import Settings

POLYGLOT = b"\xff\xd8\xff<html><script>document.title='owned'</script></html>"


def encoded(fmt: str, size: tuple[int, int] = (32, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt)
    return out.getvalue()


def wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as recording:
        recording.setnchannels(1)
        recording.setsampwidth(2)
        recording.setframerate(8_000)
        recording.writeframes(b"\x00\x00" * 800)
    return out.getvalue()


MP3_FRAME = b"\xff\xfb\x90\x64" + b"\x00" * 413  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz
ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10
MP4 = struct.pack(">I", 24) + b"ftypM4A \x00\x00\x00\x00M4A isom" + b"\x00\x00\x00\x08free"


async def a_report(client: httpx.AsyncClient, officer: dict[str, str], eid: str) -> str:
    answer = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json={
            "channel": "hotline_119",
            "external_id": eid,
            "text": "甲镇老街一居民楼着火",
            "lon": 119.05,
            "lat": 27.55,
        },
    )
    assert answer.status_code == 201, answer.text
    report: str = answer.json()["report_id"]
    return report


async def attach(
    client: httpx.AsyncClient,
    officer: dict[str, str],
    report: str,
    name: str,
    data: bytes,
    kind: str,
) -> httpx.Response:
    return await client.post(
        f"/api/v1/intake/reports/{report}/attachments",
        headers=officer,
        files={"file": (name, data, kind)},
    )


async def stored(db: Database) -> int:
    async with db.unit_of_work(readonly=True) as session:
        return int(await session.scalar(select(func.count()).select_from(Attachment)) or 0)


async def test_report_attachments_are_served_as_recorded_and_never_run(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    report = await a_report(client, officer, "att-1")
    photo = encoded("JPEG")
    for name, data, kind, found, disposition in (
        ("现场.jpg", photo, "image/png", "image/jpeg", "inline"),
        ("录音 1.wav", wav(), "audio/wav", "audio/wav", "attachment"),
    ):
        added = await attach(client, officer, report, name, data, kind)
        assert added.status_code == 201, added.text
        assert added.json()["content_type"] == found  # the format it decodes as, not the claim
        served = await client.get(
            f"/api/v1/intake/reports/{report}/attachments/{added.json()['id']}", headers=officer
        )
        assert served.status_code == 200 and served.content == data
        assert served.headers["content-type"] == found
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"
        header = served.headers["content-disposition"]
        assert header.startswith(f"{disposition}; filename=")
        assert "filename*=UTF-8''" in header and header.isascii()


async def test_a_jpeg_header_followed_by_html_is_refused_however_it_arrives(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    report = await a_report(client, officer, "att-2")
    answer = await attach(client, officer, report, "scene.jpg", POLYGLOT, "image/jpeg")
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "attachment_type_not_allowed"
    inline = await client.post(
        "/api/v1/intake/reports",
        headers=officer,
        json={
            "channel": "hotline_119",
            "external_id": "att-2b",
            "text": "甲镇老街一居民楼着火",
            "attachments": [
                {
                    "filename": "scene.jpg",
                    "content_type": "image/jpeg",
                    "data_base64": base64.b64encode(POLYGLOT).decode(),
                }
            ],
        },
    )
    assert inline.status_code == 422
    assert inline.json()["error"]["code"] == "attachment_type_not_allowed"
    assert await stored(db) == 0
    async with db.unit_of_work(readonly=True) as session:
        assert await session.scalar(select(func.count()).select_from(Report)) == 1


@pytest.mark.parametrize(
    ("kind", "data", "accepted"),
    [
        ("audio/wav", wav(), True),
        ("audio/wav", b"RIFF\x24\x00\x00\x00WAVE" + b"<html>" * 10, False),
        ("audio/mpeg", ID3 + MP3_FRAME, True),
        ("audio/mpeg", MP3_FRAME, True),
        ("audio/mpeg", b"ID3<html><script></script></html>", False),
        ("audio/mp4", MP4, True),
        ("audio/mp4", b"\x00\x00\x00<html><script></script></html>", False),
        ("audio/amr", b"#!AMR\n" + b"\x3c" * 32, True),
        ("audio/amr", b"#!AMR<html>", False),
        ("audio/aac", b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\x00" * 9, True),
        ("audio/aac", b"\xff\xf1<html><script></script>", False),
    ],
    ids=[
        "wav",
        "wav-without-format",
        "mp3-id3",
        "mp3-frame",
        "id3-then-html",
        "m4a",
        "zeros-then-html",
        "amr",
        "amr-bad-magic",
        "adts",
        "adts-then-html",
    ],
)
async def test_recordings_must_have_the_structure_of_their_kind(
    client: httpx.AsyncClient, db: Database, kind: str, data: bytes, accepted: bool
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    report = await a_report(client, officer, "att-3")
    answer = await attach(client, officer, report, "recording", data, kind)
    if accepted:
        assert answer.status_code == 201, answer.text
        assert (answer.json()["kind"], answer.json()["content_type"]) == ("audio", kind)
    else:
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "attachment_type_not_allowed"
        assert await stored(db) == 0


async def test_a_report_photo_that_decodes_to_too_many_pixels_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    report = await a_report(client, officer, "att-4")
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, "PNG")
    answer = await attach(client, officer, report, "bomb.png", out.getvalue(), "image/png")
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "attachment_too_many_pixels"
    assert await stored(db) == 0


async def test_a_report_attachment_whose_file_left_the_store_is_not_found(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(client, "county")
    report = await a_report(client, officer, "att-5")
    added = (await attach(client, officer, report, "a.png", encoded("PNG"), "image/png")).json()
    (settings.file_store / added["sha256"][:2] / added["sha256"]).unlink()
    served = await client.get(
        f"/api/v1/intake/reports/{report}/attachments/{added['id']}", headers=officer
    )
    assert served.status_code == 404
    assert served.json()["error"]["code"] == "attachment_not_found"


async def test_another_town_cannot_read_a_report_attachment(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    await make_user(db, "officer_a", roles=["duty_officer"], division="331126101000")
    await make_user(db, "officer_b", roles=["duty_officer"], division="331126102000")
    officer = await bearer(client, "county")
    report = await a_report(client, officer, "att-6")
    added = (await attach(client, officer, report, "a.png", encoded("PNG"), "image/png")).json()
    url = f"/api/v1/intake/reports/{report}/attachments/{added['id']}"
    assert (await client.get(url, headers=await bearer(client, "officer_a"))).status_code == 200
    refused = await client.get(url, headers=await bearer(client, "officer_b"))
    assert refused.status_code == 404 and refused.content != encoded("PNG")
    assert (await client.get(url)).status_code == 401
