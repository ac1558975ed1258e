"""反馈附图: a unit uploads a photo from its phone and sends it with a feedback; the photo is
checked for what it really is, kept in the file store and served only for that order."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from tests.dispatch.test_order_flows import act, dispatched, world  # noqa: F401 (fixture)
from yingji.settings import Settings

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        secret_key="t" * 40,
        log_json=False,
        timer_poll_seconds=0.05,
        file_store=tmp_path / "files",
    )


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str], order: str, data: bytes, kind: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/orders/{order}/photos",
        headers=headers,
        files={"file": ("scene.png", data, kind)},
    )


async def test_a_feedback_carries_a_photo_that_the_centre_can_open(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
    settings: Settings,
) -> None:
    _, orders = await dispatched(client, world)
    order = orders[world["units"]["FIRE"]]["id"]
    assert (await act(client, world["fire"], order, "sign")).status_code == 200
    sent = await upload(client, world["fire"], order, PNG, "image/png")
    assert sent.status_code == 201, sent.text
    photo = sent.json()
    assert photo["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert (settings.file_store / photo["sha256"][:2] / photo["sha256"]).read_bytes() == PNG
    answer = await act(
        client, world["fire"], order, "feedback", {"text": "火势已控制", "attachments": [photo]}
    )
    assert answer.status_code == 200, answer.text
    detail = (await client.get(f"/api/v1/orders/{order}", headers=world["officer"])).json()
    assert detail["feedback"][0]["attachments"][0]["sha256"] == photo["sha256"]
    image = await client.get(
        f"/api/v1/orders/{order}/photos/{photo['sha256']}", headers=world["officer"]
    )
    assert image.status_code == 200
    assert image.content == PNG and image.headers["content-type"] == "image/png"


async def test_a_file_that_is_not_really_a_photo_is_refused(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    _, orders = await dispatched(client, world)
    order = orders[world["units"]["FIRE"]]["id"]
    answer = await upload(client, world["fire"], order, b"<script>alert(1)</script>", "image/png")
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "attachment_type_not_allowed"


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


async def test_another_unit_cannot_upload_to_an_order_it_cannot_see(
    client: httpx.AsyncClient,
    world: dict,  # noqa: F811
) -> None:
    _, orders = await dispatched(client, world)
    order = orders[world["units"]["FIRE"]]["id"]
    answer = await upload(client, world["water"], order, PNG, "image/png")
    assert answer.status_code == 404
