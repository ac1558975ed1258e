"""排班设置 in the browser: a roster manager (the demo's duty leader) gives a town with no roster of
its own its duty positions and a 24-hour shift pattern, generates a month from rotations of the
town's people, reads the conflicts the server found in Chinese, and sees the shifts on the
calendar; a duty officer, who may read the roster but not manage it, is offered none of that.

The month is two months ahead, so the town's roster never answers "who is on duty now" for the
other browser tests sharing the demo server."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import bearer, shot, sign_in
from yingji.core import clock

API = "/api/v1"


def desk_context(browser: Browser):
    return browser.new_context(
        viewport={"width": 1400, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )


def months_ahead(n: int) -> str:
    today = clock.now().astimezone(clock.LOCAL_TZ)  # the served node's clock (the system's)
    index = today.year * 12 + today.month - 1 + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def town_to_roster(server: str, headers: dict[str, str]) -> tuple[dict, list[dict]]:
    """A town of the demo county with no positions of its own and three people to stand duty."""
    towns = httpx.get(
        f"{server}{API}/divisions",
        params={"parent": "331126", "level": "town", "limit": 50},
        headers=headers,
    ).json()["items"]
    for town in towns:
        division = {"division": town["adcode"]}
        positions = httpx.get(f"{server}{API}/duty/positions", params=division, headers=headers)
        if positions.json()["items"]:
            continue
        people = httpx.get(f"{server}{API}/duty/candidates", params=division, headers=headers)
        named: dict[str, dict] = {}
        for person in people.json()["items"]:
            named.setdefault(person["name"], person)  # a name that repeats is no good to click
        if len(named) >= 3:
            return town, list(named.values())[:3]
    raise AssertionError("no demo town without a roster has three people")


def pick_division(page: Page, town: dict) -> None:
    page.get_by_test_id("roster").locator(".tools .el-select").first.click()
    page.keyboard.type(town["name"])
    page.locator(".el-select-dropdown__item:visible", has_text=town["adcode"]).first.click()


def pick_people(page: Page, testid: str, people: list[dict]) -> None:
    page.get_by_test_id(testid).click()
    for person in people:
        page.locator(".el-select-dropdown__item:visible", has_text=person["name"]).first.click()
    page.get_by_test_id("roster-setup").get_by_text("轮换起点偏移").click()  # closes the list
    expect(page.locator(".el-select-dropdown__item:visible")).to_have_count(0)


def test_a_roster_manager_sets_up_a_town_and_generates_a_month(
    server: str, browser: Browser
) -> None:
    leader = bearer(server, "duty_leader")
    town, (first, second, third) = town_to_roster(server, leader)
    month = months_ahead(2)
    ctx = desk_context(browser)
    try:
        page = ctx.new_page()
        sign_in(page, server, "duty_leader")
        page.goto(f"{server}/duty/roster")
        pick_division(page, town)
        page.get_by_test_id("next-month").click()
        page.get_by_test_id("next-month").click()
        expect(page.get_by_test_id("month")).to_have_text(f"{int(month[:4])}年{int(month[5:])}月")
        expect(page.locator("[data-shift]")).to_have_count(0)

        page.get_by_test_id("roster-setup-open").click()
        setup = page.get_by_test_id("roster-setup")
        # positions: the 1+1+X+X a new division starts from, with one officer seat
        expect(setup.get_by_test_id("positions-table").locator("tbody tr")).to_have_count(3)
        seats = setup.get_by_test_id("seats-2").locator("input")
        seats.fill("1")
        seats.press("Tab")
        setup.get_by_test_id("save-positions").click()
        expect(page.get_by_text("值班岗位已保存")).to_be_visible()

        # a 24-hour pattern
        setup.get_by_role("tab", name="班次模式").click()
        setup.get_by_test_id("pattern-name").fill("镇24小时值班")
        setup.get_by_test_id("kind-full_day").click()
        expect(setup.get_by_test_id("pattern-preview")).to_have_text("白班 08:00 起 24 小时")
        setup.get_by_test_id("save-pattern").click()
        expect(setup.get_by_test_id("patterns-table")).to_contain_text("镇24小时值班")

        # the month: the leader seat alternates two people, one of whom is also the officer
        setup.get_by_role("tab", name="生成月排班").click()
        pick_people(page, "rotation-leader||1", [first, second])
        pick_people(page, "rotation-chief||1", [third])
        pick_people(page, "rotation-officer||1", [second])
        setup.get_by_test_id("run-generate").click()
        result = setup.get_by_test_id("generate-result")
        expect(result).to_contain_text("共生成")
        expect(setup.get_by_test_id("generate-conflicts")).to_contain_text("一人两岗")
        expect(setup.get_by_test_id("generate-conflicts")).to_contain_text("轮休不足")
        shot(page, "duty-roster-setup-generated")
        page.locator(".el-drawer__close-btn").click()
        expect(page.get_by_test_id("roster-setup")).to_be_hidden()

        # the calendar shows the month's shifts, named
        expect(page.locator("[data-shift]").first).to_be_visible()
        expect(page.get_by_test_id("roster")).to_contain_text(first["name"])
        expect(page.get_by_test_id("roster")).to_contain_text(third["name"])
        shot(page, "duty-roster-calendar-generated")
    finally:
        ctx.close()

    made = httpx.get(
        f"{server}{API}/duty/roster",
        params={"division": town["adcode"], "month": month},
        headers=leader,
    ).json()
    days = len({s["starts_at"][:10] for s in made["shifts"]})
    assert len(made["shifts"]) == 3 * days >= 84
    assert {s["person_id"] for s in made["shifts"] if s["position"] == "leader"} == {
        first["id"],
        second["id"],
    }


def test_a_duty_officer_is_offered_no_roster_setup(server: str, browser: Browser) -> None:
    ctx = desk_context(browser)
    try:
        page = ctx.new_page()
        sign_in(page, server, "duty_officer")
        page.goto(f"{server}/duty/roster")
        expect(page.get_by_test_id("month")).to_be_visible()
        expect(page.locator("[data-shift]").first).to_be_visible()  # the county's roster reads
        expect(page.get_by_test_id("roster-setup-open")).to_have_count(0)
        expect(page.get_by_test_id("roster-setup")).to_have_count(0)
    finally:
        ctx.close()
    officer = bearer(server, "duty_officer")
    county = {"division": "331126"}
    before = httpx.get(f"{server}{API}/duty/positions", params=county, headers=officer).json()
    one_each = [{"position": p, "seats": 1} for p in ("leader", "chief", "officer")]
    refused = httpx.put(
        f"{server}{API}/duty/positions",
        params=county,
        json={"positions": one_each},
        headers=officer,
    )
    assert refused.status_code == 403
    after = httpx.get(f"{server}{API}/duty/positions", params=county, headers=officer).json()
    assert after == before
