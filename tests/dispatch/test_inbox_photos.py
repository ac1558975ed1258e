"""反馈附图: a unit uploads a photo from its phone and sends it with a feedback. The photo is
decoded for what it really is, recorded for that order with the type it decoded as, kept in the
file store, and served only for that order, as an image that can never run as a page."""

from __future__ import annotations

import hashlib
import io

import httpx
import pytest
from PIL import Image

from tests.dispatch.test_order_flows import act, dispatched, world  # noqa: F401 (fixture)
from tests.factories import bearer, make_user
from yingji.core.db import Database
from yingji.core.files import FILE_CSP, PHOTO_MAX_PIXELS
from yingji.settings import Settings

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
# what passed as a JPEG when uploads were recognised by their first three bytes
POLYGLOT = b"\xff\xd8\xff<html><script>fetch('/api/v1/users',{method:'POST'})</script></html>"


def encoded(fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 0).save(out, fmt)
    return out.getvalue()


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    order: str,
    data: bytes,
    kind: str,
    name: str = "scene.png",
) -> httpx.Response:
    return await client.post(
        f"/api/v1/orders/{order}/photos", headers=headers, files={"file": (name, data, kind)}
    )


async def signed_fire_order(client: httpx.AsyncClient, world: dict) -> str:  # noqa: F811
    _, orders = await dispatched(client, world)
    order: str = orders[world["units"]["FIRE"]]["id"]
    assert (await act(client, world["fire"], order, "sign")).status_code == 200
    return order


async def detail(client: httpx.AsyncClient, world: dict, order: str) -> dict:  # noqa: F811
    answer = await client.get(f"/api/v1/orders/{order}", headers=world["officer"])
    assert answer.status_code == 200, answer.text
    found: dict = answer.json()
    return found


def assert_served_safely(answer: httpx.Response, content_type: str, disposition: str) -> None:
    assert answer.headers["content-type"] == content_type
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-security-policy"] == FILE_CSP == "default-src 'none'; sandbox"
    assert answer.headers["content-disposition"].startswith(disposition)


async def test_a_feedback_carries_a_photo_that_the_centre_can_open(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
    settings: Settings,
) -> None:
    order = await signed_fire_order(client, world)
    sent = await upload(client, world["fire"], order, PNG, "image/png")
    assert sent.status_code == 201, sent.text
    photo = sent.json()
    assert photo == {
        "kind": "photo",
        "sha256": hashlib.sha256(PNG).hexdigest(),
        "filename": "scene.png",
        "content_type": "image/png",
        "size": len(PNG),
    }
    assert (settings.file_store / photo["sha256"][:2] / photo["sha256"]).read_bytes() == PNG
    answer = await act(
        client, world["fire"], order, "feedback", {"text": "火势已控制", "attachments": [photo]}
    )
    assert answer.status_code == 200, answer.text
    assert (await detail(client, world, order))["feedback"][0]["attachments"] == [photo]
    image = await client.get(
        f"/api/v1/orders/{order}/photos/{photo['sha256']}", headers=world["officer"]
    )
    assert image.status_code == 200
    assert image.content == PNG
    assert_served_safely(image, "image/png", 'inline; filename="scene.png"')


async def test_a_feedback_names_photos_by_hash_and_the_server_supplies_type_name_and_size(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    order = await signed_fire_order(client, world)
    jpeg = encoded("JPEG")
    sha = (await upload(client, world["fire"], order, jpeg, "image/jpeg", "现场 1.jpg")).json()[
        "sha256"
    ]
    forged = {"sha256": sha, "content_type": "text/html", "filename": "x.html", "size": 1}
    answer = await act(
        client, world["fire"], order, "feedback", {"text": "见附图", "attachments": [forged]}
    )
    assert answer.status_code == 200, answer.text
    [attachment] = (await detail(client, world, order))["feedback"][0]["attachments"]
    assert attachment == {
        "kind": "photo",
        "sha256": sha,
        "filename": "现场 1.jpg",
        "content_type": "image/jpeg",
        "size": len(jpeg),
    }
    image = await client.get(f"/api/v1/orders/{order}/photos/{sha}", headers=world["officer"])
    assert image.status_code == 200 and image.content == jpeg
    assert_served_safely(image, "image/jpeg", "inline;")
    # a safe ASCII name for old clients, the real one (RFC 5987) for the rest
    disposition = image.headers["content-disposition"]
    assert 'filename="__ 1.jpg"' in disposition
    assert "filename*=UTF-8''%E7%8E%B0%E5%9C%BA%201.jpg" in disposition


async def test_a_feedback_naming_a_file_not_uploaded_for_its_order_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    """M2: a stored file of someone else (a report's attachment, another order's photo) cannot
    be read through one's own order by naming its hash in a feedback."""
    _, orders = await dispatched(client, world)
    order = orders[world["units"]["FIRE"]]["id"]
    assert (await act(client, world["fire"], order, "sign")).status_code == 200
    report = await client.post(
        "/api/v1/intake/reports",
        headers=world["officer"],
        json={"channel": "hotline_119", "external_id": "m2-1", "text": "甲镇仓库着火"},
    )
    secret = encoded("PNG", (5, 5))
    added = await client.post(
        f"/api/v1/intake/reports/{report.json()['report_id']}/attachments",
        headers=world["officer"],
        files={"file": ("reporter.png", secret, "image/png")},
    )
    assert added.status_code == 201, added.text
    town_order = orders[world["units"]["TA"]]["id"]
    other = await upload(client, world["town_a"], town_order, encoded("PNG", (6, 6)), "image/png")
    assert other.status_code == 201, other.text
    before = await detail(client, world, order)
    for sha in (added.json()["sha256"], other.json()["sha256"], "a" * 64):
        answer = await act(
            client,
            world["fire"],
            order,
            "feedback",
            {"text": "见附图", "attachments": [{"sha256": sha}]},
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "attachment_not_uploaded"
        assert answer.json()["error"]["details"] == {"sha256": [sha]}
        served = await client.get(f"/api/v1/orders/{order}/photos/{sha}", headers=world["fire"])
        assert served.status_code == 404
        assert served.json()["error"]["code"] == "attachment_not_found"
    after = await detail(client, world, order)
    assert after["feedback_count"] == before["feedback_count"] == 0
    assert after["feedback"] == [] and after["feedback_due_at"] == before["feedback_due_at"]


async def test_a_jpeg_header_followed_by_html_is_refused(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
    settings: Settings,
) -> None:
    order = await signed_fire_order(client, world)
    answer = await upload(client, world["fire"], order, POLYGLOT, "image/jpeg", "scene.jpg")
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "attachment_type_not_allowed"
    assert not settings.file_store.exists() or not any(settings.file_store.rglob("*"))


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"<script>alert(1)</script>", "image/png"),
        (encoded("JPEG")[:-200], "image/jpeg"),  # cut off in the middle of the image data
        (encoded("PNG")[:-20], "image/png"),
        (encoded("GIF"), "image/png"),  # an image, but not of an accepted format
        (b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 8, "image/webp"),
    ],
    ids=["script", "truncated-jpeg", "truncated-png", "gif", "webp-header-only"],
)
async def test_a_file_that_does_not_decode_as_a_photo_is_refused(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
    data: bytes,
    kind: str,
) -> None:
    order = await signed_fire_order(client, world)
    answer = await upload(client, world["fire"], order, data, kind)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "attachment_type_not_allowed"


@pytest.mark.parametrize(
    "size",
    [(20_000, 20_000), (8_000, 7_000)],  # far beyond Pillow's own limit; just beyond ours
    ids=["bomb", "just-too-many"],
)
async def test_a_decompression_bomb_is_refused(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
    size: tuple[int, int],
) -> None:
    bomb = encoded("PNG", size, mode="1")  # tens of kilobytes that decode to hundreds of MB
    assert len(bomb) < 200_000 and size[0] * size[1] > PHOTO_MAX_PIXELS
    order = await signed_fire_order(client, world)
    answer = await upload(client, world["fire"], order, bomb, "image/png")
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "attachment_too_many_pixels"


async def test_the_recorded_type_is_the_format_the_photo_decodes_as(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    order = await signed_fire_order(client, world)
    for fmt, claimed, found in (
        ("WEBP", "image/webp", "image/webp"),
        ("JPEG", "image/png", "image/jpeg"),
        ("PNG", "application/octet-stream", "image/png"),
    ):
        answer = await upload(client, world["fire"], order, encoded(fmt), claimed, "photo")
        assert answer.status_code == 201, answer.text
        assert answer.json()["content_type"] == found


async def test_the_same_photo_uploaded_twice_is_recorded_once(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    order = await signed_fire_order(client, world)
    first = await upload(client, world["fire"], order, PNG, "image/png", "a.png")
    again = await upload(client, world["fire"], order, PNG, "image/png", "b.png")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    twice = [{"sha256": first.json()["sha256"]}] * 2
    answer = await act(
        client, world["fire"], order, "feedback", {"text": "x", "attachments": twice}
    )
    assert answer.status_code == 200, answer.text
    assert len((await detail(client, world, order))["feedback"][0]["attachments"]) == 1


async def test_a_photo_no_feedback_of_the_order_lists_is_not_served(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    _, orders = await dispatched(client, world)
    order = orders[world["units"]["FIRE"]]["id"]
    photo = (await upload(client, world["fire"], order, PNG, "image/png")).json()
    image = await client.get(
        f"/api/v1/orders/{order}/photos/{photo['sha256']}", headers=world["officer"]
    )
    assert image.status_code == 404
    assert image.json()["error"]["code"] == "attachment_not_found"


async def test_a_photo_whose_file_left_the_store_is_not_found_rather_than_an_error(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
    settings: Settings,
) -> None:
    order = await signed_fire_order(client, world)
    photo = (await upload(client, world["fire"], order, PNG, "image/png")).json()
    sent = await act(
        client, world["fire"], order, "feedback", {"text": "x", "attachments": [photo]}
    )
    assert sent.status_code == 200
    (settings.file_store / photo["sha256"][:2] / photo["sha256"]).unlink()
    image = await client.get(
        f"/api/v1/orders/{order}/photos/{photo['sha256']}", headers=world["officer"]
    )
    assert image.status_code == 404
    assert image.json()["error"]["code"] == "attachment_not_found"


async def test_who_may_open_a_feedback_photo(
    client: httpx.AsyncClient,
    db: Database,
    world: dict,  # noqa: F811
) -> None:
    """The order's unit and the centre and town that hold the incident; not another town's
    officer, not another unit, not a stranger (another town's order is not found: 404)."""
    await make_user(db, "officer_a", roles=["duty_officer"], division="331126101000")
    await make_user(db, "officer_b", roles=["duty_officer"], division="331126102000")
    order = await signed_fire_order(client, world)
    photo = (await upload(client, world["fire"], order, PNG, "image/png")).json()
    sent = await act(
        client, world["fire"], order, "feedback", {"text": "x", "attachments": [photo]}
    )
    assert sent.status_code == 200
    url = f"/api/v1/orders/{order}/photos/{photo['sha256']}"
    for who in (
        world["officer"],
        world["fire"],
        world["leader"],
        await bearer(client, "officer_a"),
    ):
        assert (await client.get(url, headers=who)).status_code == 200
    for who in (await bearer(client, "officer_b"), world["water"]):
        refused = await client.get(url, headers=who)
        assert refused.status_code == 404, refused.text
        assert refused.content != PNG
    assert (await client.get(url)).status_code == 401


async def test_only_the_order_s_unit_uploads_photos_for_it(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    order = await signed_fire_order(client, world)
    unseen = await upload(client, world["water"], order, PNG, "image/png")
    assert unseen.status_code == 404  # the water company cannot see the brigade's order
    other = await upload(client, world["town_a"], order, PNG, "image/png")
    assert other.status_code in (404, 422), other.text  # it may see the order, not act on it
    assert other.json()["error"]["code"] in ("order_not_found", "not_your_order")
    assert (await upload(client, {}, order, PNG, "image/png")).status_code == 401
