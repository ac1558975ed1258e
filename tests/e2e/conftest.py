"""Browser tests: a real `yingji serve` on a temporary, seeded database, driven through Debian's
Chromium by Playwright (never a browser Playwright downloads itself)."""

from __future__ import annotations

import base64
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.conftest import free_port, served_demo

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DEMO_PASSWORD = "yingji-demo-2026"
# a 1×1 PNG, as a phone camera would hand over a photo
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=="
)
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-gl=swiftshader",
    "--enable-unsafe-swiftshader",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not (ROOT / "src/yingji/web_dist/index.html").is_file():
        pytest.fail("the web app is not built: run `make web` (make e2e does)")
    with served_demo(tmp_path_factory.mktemp("e2e")) as base:
        yield base


class Tiles(BaseHTTPRequestHandler):
    """Map tiles (each a 1×1 PNG); the paths asked for are kept in ``requested``."""

    requested: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        Tiles.requested.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="session")
def tile_server() -> Iterator[str]:
    """A tile server on another origin, as 天地图 or an on-premise one would be."""
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Tiles)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="session")
def server_with_base_layer(
    tmp_path_factory: pytest.TempPathFactory, tile_server: str
) -> Iterator[str]:
    """Another demo server, with a base layer (测试底图) from ``tile_server``."""
    layers = [
        {"name": "测试底图", "type": "xyz", "url": f"{tile_server}/tiles/{{z}}/{{x}}/{{y}}.png"}
    ]
    with served_demo(
        tmp_path_factory.mktemp("e2e-base-layer"), YINGJI_MAP_BASE_LAYERS=json.dumps(layers)
    ) as base:
        yield base


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def phone_context(browser: Browser) -> BrowserContext:
    """A browser context as a liaison's phone: 390×844, touch, zh-CN, Beijing time."""
    return browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def bearer(base: str, username: str) -> dict[str, str]:
    """Headers of a demo user's bearer token, for what a test does through the API."""
    answer = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def sign_in(page: Page, base: str, username: str, home: str | None = None) -> None:
    """Sign a demo user in on the sign-in page; wait until they land (on ``home``, if given)."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    if home is None:
        page.wait_for_url(lambda url: "/login" not in url)
    else:
        page.wait_for_url(f"**/{home}")
