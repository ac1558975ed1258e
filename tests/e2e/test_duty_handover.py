"""交接班 in two browsers: the outgoing officer opens the handover at the shift change, reads
what is open, writes notes and signs; the incoming one, in another context, sees it waiting
(live), adds notes and signs; both see it handed over, and the daily duty report names both."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from docx import Document
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import bearer, shot, sign_in

CHINA = ZoneInfo("Asia/Shanghai")


def desk_context(browser: Browser):
    return browser.new_context(
        viewport={"width": 1400, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )


def test_a_shift_handover_is_signed_by_two_people_in_two_browsers(
    server: str, browser: Browser
) -> None:
    outgoing_ctx, incoming_ctx = desk_context(browser), desk_context(browser)
    try:
        outgoing = outgoing_ctx.new_page()
        sign_in(outgoing, server, "commander")
        outgoing.goto(f"{server}/duty")
        incoming = incoming_ctx.new_page()
        sign_in(incoming, server, "duty_leader")
        incoming.goto(f"{server}/duty")
        expect(incoming.get_by_test_id("handover-none")).to_be_visible()

        outgoing.get_by_test_id("handover-start").click()
        expect(outgoing.get_by_test_id("handover-state")).to_have_text("待交班签字")
        expect(outgoing.get_by_test_id("open-incidents")).to_contain_text("未结事件")
        expect(outgoing.get_by_test_id("open-warnings")).to_contain_text("生效预警")
        outgoing.get_by_test_id("notes-out").fill("竹口镇火情仍在处置，注意续报")
        outgoing.get_by_test_id("sign-out").click()
        expect(outgoing.get_by_test_id("signed-out-by")).to_contain_text("交班人")
        expect(outgoing.get_by_test_id("wait-other")).to_be_visible()
        shot(outgoing, "duty-handover-signed-out")

        # the incoming officer's screen follows live: the handover waits for their signature
        expect(incoming.get_by_test_id("handover-state")).to_have_text("待接班签字")
        expect(incoming.get_by_test_id("notes-out")).to_have_value("竹口镇火情仍在处置，注意续报")
        incoming.get_by_test_id("notes-in").fill("已接收，继续跟进")
        incoming.get_by_test_id("sign-in").click()
        expect(incoming.get_by_test_id("handover-last")).to_contain_text("交")
        expect(incoming.get_by_test_id("handover-none")).to_be_visible()
        shot(incoming, "duty-handover-signed")
        # and the outgoing one's too
        expect(outgoing.get_by_test_id("handover-last")).to_be_visible()
        expect(outgoing.get_by_test_id("wait-other")).to_have_count(0)
    finally:
        outgoing_ctx.close()
        incoming_ctx.close()

    viewer = bearer(server, "viewer")
    me = httpx.get(f"{server}/api/v1/auth/me", headers=viewer).json()
    county = me["scope"]["division_path"].strip("/").split("/")[-1]
    signed = httpx.get(
        f"{server}/api/v1/duty/handovers", params={"division": county}, headers=viewer
    ).json()["items"][0]
    assert signed["state"] == "signed"
    assert signed["signed_out_name"] != signed["signed_in_name"]
    assert signed["notes_in"] == "已接收，继续跟进"
    china_day = datetime.fromisoformat(signed["change_at"]).astimezone(CHINA).date()
    report = httpx.get(
        f"{server}/api/v1/duty/daily-report.docx",
        params={"division": county, "date": str(china_day)},
        headers=viewer,
    )
    report.raise_for_status()
    text = "\n".join(p.text for p in Document(io.BytesIO(report.content)).paragraphs)
    assert signed["signed_out_name"] in text and signed["signed_in_name"] in text
