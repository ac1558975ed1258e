"""The browser app works under the Content-Security-Policy the server sends (issue 15, M10):
no page of the console is blocked by it, and configured map base layers still load tiles."""

from __future__ import annotations

import time

import httpx
from playwright.sync_api import Browser, BrowserContext, expect

from tests.e2e.conftest import Tiles, sign_in

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
