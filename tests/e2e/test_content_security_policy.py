"""The browser app works under the Content-Security-Policy the server sends (issue 15, M10):
no page of the console is blocked by it, and configured map base layers still load tiles."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.conftest import free_port, served_demo
from tests.e2e.conftest import sign_in

# a 1×1 PNG tile
TILE = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=="
)
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) =>
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


def watched(browser: Browser) -> tuple[BrowserContext, list[str]]:
    """A browser context that records CSP violations (events and console reports)."""
    context = browser.new_context(
        viewport={"width": 1600, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    context.add_init_script(RECORD_VIOLATIONS)
    reported: list[str] = []

    def on_console(message) -> None:  # noqa: ANN001 - Playwright's ConsoleMessage
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            reported.append(message.text)

    context.on("page", lambda page: page.on("console", on_console))
    return context, reported


def violations(context: BrowserContext, reported: list[str]) -> list[str]:
    found = list(reported)
    for page in context.pages:
        found += page.evaluate("window.__csp || []")
    return found


def test_no_page_of_the_console_breaks_the_policy(server: str, browser: Browser) -> None:
    policy = httpx.get(f"{server}/").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    for username, paths in [
        ("commander", ["/map", "/kpi", "/supervision"]),
        ("duty_officer", ["/intake", "/map"]),
        ("admin", ["/admin/divisions", "/admin/units", "/admin/users", "/admin/audit"]),
    ]:
        context, reported = watched(browser)
        page = context.new_page()
        sign_in(page, server, username)
        for path in paths:
            page.goto(f"{server}{path}")
            page.wait_for_load_state("networkidle")
            if path == "/map":
                expect(page.locator("canvas.maplibregl-canvas")).to_be_visible()
                page.wait_for_timeout(1000)  # the worker parses and draws
        found = violations(context, reported)
        context.close()
        assert found == [], f"{username}: {found}"


class Tiles(BaseHTTPRequestHandler):
    requested: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        Tiles.requested.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(TILE)))
        self.end_headers()
        self.wfile.write(TILE)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def tile_server() -> Iterator[str]:
    """A tile server on another origin, as 天地图 or an on-premise one would be."""
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Tiles)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def server_with_base_layer(
    tmp_path_factory: pytest.TempPathFactory, tile_server: str
) -> Iterator[str]:
    layers = [
        {"name": "测试底图", "type": "xyz", "url": f"{tile_server}/tiles/{{z}}/{{x}}/{{y}}.png"}
    ]
    with served_demo(
        tmp_path_factory.mktemp("e2e-base-layer"), YINGJI_MAP_BASE_LAYERS=json.dumps(layers)
    ) as base:
        yield base


def test_a_configured_base_layer_loads_its_tiles_under_the_policy(
    server_with_base_layer: str, tile_server: str, browser: Browser
) -> None:
    policy = httpx.get(f"{server_with_base_layer}/").headers["content-security-policy"]
    assert tile_server in policy
    Tiles.requested.clear()
    context, reported = watched(browser)
    page = context.new_page()
    sign_in(page, server_with_base_layer, "commander")
    page.wait_for_url("**/map")
    expect(page.locator("canvas.maplibregl-canvas")).to_be_visible()
    deadline = time.monotonic() + 15
    while not Tiles.requested and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    found = violations(context, reported)
    context.close()
    assert Tiles.requested, "the map asked the tile server for nothing"
    assert found == []
