"""C1 closed end to end, in a real Chromium against a real server: a liaison's crafted "photo"
(a JPEG header followed by a page with a script) is refused at upload; and a real photo that
carries a page anyway, sent with a feedback that claims it is ``text/html``, opens as an image
for the officer and the admin — its script never runs, so it cannot create an admin account."""

from __future__ import annotations

import io
import uuid

import httpx
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, expect

from tests.e2e.conftest import bearer, phone_context, shot, sign_in

POLYGLOT = (
    b"\xff\xd8\xff<html><body><script>window.__owned = true; document.title = 'owned'"
    b"</script></body></html>"
)


def a_page_that_creates_an_admin(username: str) -> bytes:
    """What the attacker wants an officer's browser to run on the platform's origin: it reads
    the readable CSRF cookie and creates an admin account with the victim's session."""
    return (
        "<html><body><script>"
        "window.__owned = true;"
        "const csrf = decodeURIComponent((document.cookie.match(/yingji_csrf=([^;]+)/) || [])[1]"
        " || '');"
        "fetch('/api/v1/users', {method: 'POST', credentials: 'same-origin',"
        " headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},"
        f" body: JSON.stringify({{username: '{username}', password: 'owned-by-a-photo-2026',"
        " roles: ['admin']})}).then(r => { window.__created = r.status })"
        "</script></body></html>"
    ).encode()


def photo_carrying(page: bytes) -> bytes:
    """A real JPEG (it decodes) whose comment segment holds ``page``."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 40, 40)).save(out, "JPEG")
    jpeg = out.getvalue()
    comment = b"\xff\xfe" + (len(page) + 2).to_bytes(2, "big") + page
    return jpeg[:2] + comment + jpeg[2:]


def signed_fire_order(base: str, text: str, lon: float, lat: float) -> tuple[str, str, str]:
    """A fire reported, verified and dispatched; the brigade's order signed. Returns the
    incident, the order and the incident's title."""
    officer = bearer(base, "duty_officer")
    report = httpx.post(
        f"{base}/api/v1/intake/reports",
        headers=officer,
        json={
            "channel": "hotline_119",
            "external_id": f"e2e-photo-{uuid.uuid4().hex[:12]}",
            "text": text,
            "lon": lon,
            "lat": lat,
            "reporter_phone": "13900002222",
            "category_code": "accident.fire",
        },
    )
    report.raise_for_status()
    assert report.json()["created"], report.json()
    incident = report.json()["incident_id"]
    httpx.post(f"{base}/api/v1/incidents/{incident}/verify", headers=officer).raise_for_status()
    httpx.post(f"{base}/api/v1/incidents/{incident}/dispatch", headers=officer).raise_for_status()
    liaison = bearer(base, "liaison_fire")
    mine = httpx.get(f"{base}/api/v1/orders", headers=liaison, params={"limit": 500}).json()
    order = next(o for o in mine["items"] if o["incident_id"] == incident)
    httpx.post(f"{base}/api/v1/orders/{order['id']}/sign", headers=liaison).raise_for_status()
    return incident, order["id"], order["incident"]["title"]


def desk(browser: Browser) -> BrowserContext:
    return browser.new_context(
        viewport={"width": 1600, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )


def test_a_liaison_cannot_upload_a_jpeg_header_followed_by_a_page(
    server: str, browser: Browser
) -> None:
    _, order_id, title = signed_fire_order(server, "竹口镇新窑村一柴房起火", 118.8700, 27.6900)
    phone = phone_context(browser)
    page = phone.new_page()
    sign_in(page, server, "liaison_fire")
    page.wait_for_url("**/inbox")
    card = page.get_by_test_id("inbox-order").filter(has_text=title)
    expect(card).to_be_visible()
    card.locator("[data-action=feedback]").click()
    page.get_by_label("反馈内容").fill("现场照片见附件")
    page.get_by_label("现场照片").set_input_files(
        {"name": "scene.jpg", "mimeType": "image/jpeg", "buffer": POLYGLOT}
    )
    with page.expect_response(lambda r: f"/orders/{order_id}/photos" in r.url) as upload:
        page.get_by_test_id("dialog-submit").click()
    assert upload.value.status == 422, upload.value.text()
    assert upload.value.json()["error"]["code"] == "attachment_type_not_allowed"
    expect(page.get_by_text("只能上传 JPEG、PNG 或 WebP 照片")).to_be_visible()
    shot(page, "photo-polyglot-refused")
    phone.close()
    # nothing was sent: no feedback, so nothing for an officer to open
    detail = httpx.get(
        f"{server}/api/v1/orders/{order_id}", headers=bearer(server, "duty_officer")
    ).json()
    assert detail["feedback_count"] == 0 and detail["feedback"] == []


def test_a_photo_that_carries_a_page_opens_as_an_image_and_runs_nothing(
    server: str, browser: Browser
) -> None:
    incident, order_id, _ = signed_fire_order(server, "竹口镇黄坛村一处草垛起火", 118.8200, 27.6600)
    username = f"owned_{uuid.uuid4().hex[:8]}"
    crafted = photo_carrying(a_page_that_creates_an_admin(username))
    liaison = bearer(server, "liaison_fire")
    uploaded = httpx.post(
        f"{server}/api/v1/orders/{order_id}/photos",
        headers=liaison,
        files={"file": ("scene.jpg", crafted, "image/jpeg")},
    )
    assert uploaded.status_code == 201, uploaded.text  # a real photo: it decodes
    sha = uploaded.json()["sha256"]
    # the liaison claims the photo is a page; the server keeps what it found at upload
    forged = {"kind": "photo", "sha256": sha, "filename": "scene.html"}
    forged |= {"content_type": "text/html", "size": len(crafted)}
    sent = httpx.post(
        f"{server}/api/v1/orders/{order_id}/feedback",
        headers=liaison,
        json={"text": "现场照片", "attachments": [forged]},
    )
    assert sent.status_code == 200, sent.text
    url = f"{server}/api/v1/orders/{order_id}/photos/{sha}"

    # the officer clicks the photo on the incident page: it opens in a new tab
    context = desk(browser)
    page = context.new_page()
    sign_in(page, server, "duty_officer")
    page.goto(f"{server}/incidents/{incident}")
    row = page.get_by_test_id(f"order-{order_id}")
    row.get_by_test_id("order-detail-toggle").click()
    link = row.get_by_test_id("feedback-photo")
    expect(link.locator("img")).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 64", arg=link.locator("img").element_handle()
    )
    with context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_load_state("load")
    tab.wait_for_timeout(1000)  # time enough for a script's fetch to come back
    assert tab.evaluate("document.contentType") == "image/jpeg"
    assert tab.evaluate("[...document.images].map(i => i.naturalWidth)") == [64]
    assert tab.evaluate("window.__owned === undefined && window.__created === undefined")
    assert tab.title() != "owned"
    shot(tab, "photo-opened-as-image")
    context.close()

    # the admin, whose session could create users, opens the photo's address directly
    context = desk(browser)
    page = context.new_page()
    sign_in(page, server, "admin")
    answer = page.goto(url)
    assert answer is not None and answer.status == 200
    headers = answer.all_headers()
    assert headers["content-type"] == "image/jpeg"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert headers["content-disposition"].startswith('inline; filename="scene.jpg"')
    page.wait_for_timeout(1000)
    assert page.evaluate("document.contentType") == "image/jpeg"
    assert page.evaluate("window.__owned === undefined && window.__created === undefined")
    context.close()

    # and no account was created with either session
    token = httpx.post(
        f"{server}/api/v1/auth/token",
        data={"username": username, "password": "owned-by-a-photo-2026"},
    )
    assert token.status_code == 401, token.text
