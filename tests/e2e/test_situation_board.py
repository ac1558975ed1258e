"""The situation board (一张图): the commander sees the county's incidents on the map and in the
list; an incident opened meanwhile over HTTP appears live (no reload) in both, a raise to level Ⅱ
is highlighted; the level filter narrows map and list; a list item opens the incident."""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import bearer, phone_context, shot, sign_in

ACTIVE = "state=reported&state=verified&state=responding&state=controlled"


def report(
    base: str, headers: dict[str, str], external_id: str, text: str, lon: float, lat: float
) -> str:
    answer = httpx.post(
        f"{base}/api/v1/intake/reports",
        headers=headers,
        json={
            "channel": "hotline_119",
            "external_id": external_id,
            "text": text,
            "lon": lon,
            "lat": lat,
        },
    )
    assert answer.status_code in (200, 201), answer.text
    incident_id: str = answer.json()["incident_id"]
    return incident_id


def set_level(base: str, headers: dict[str, str], incident_id: str, level: str) -> None:
    answer = httpx.post(
        f"{base}/api/v1/incidents/{incident_id}/level",
        headers=headers,
        json={"level": level, "reason": "e2e"},
    )
    assert answer.status_code in (200, 422), answer.text  # 422: already that level


def town_points(base: str, headers: dict[str, str]) -> list[tuple[float, float]]:
    """A point well inside each of three towns (the centre of their bounding boxes' middle)."""
    towns = httpx.get(f"{base}/api/v1/divisions.geojson?level=town", headers=headers).json()[
        "features"
    ]
    points = []
    for feature in towns[:3]:
        ring = feature["geometry"]["coordinates"][0]
        if feature["geometry"]["type"] == "MultiPolygon":
            ring = ring[0]
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        points.append((round(sum(xs) / len(xs), 5), round(sum(ys) / len(ys), 5)))
    return points


def drawn(page: Page, incident_id: str) -> None:
    """Wait until the map has drawn a live change of this incident (the board's own mark)."""
    page.wait_for_function(
        """(id) => performance.getEntriesByName('yj-board-change')
             .some((e) => (e.detail && e.detail.ids || []).includes(id))""",
        arg=incident_id,
        timeout=10_000,
    )


def test_commander_sees_incidents_live_on_the_board_and_filters_by_level(
    server: str, browser: Browser
) -> None:
    officer = bearer(server, "duty_officer")
    spots = town_points(server, officer)
    first = report(server, officer, "board-1", "竹口镇一处仓库起火，浓烟很大", *spots[0])
    second = report(server, officer, "board-2", "河水上涨漫过桥面，村民被困", *spots[1])
    set_level(server, officer, first, "IV")
    set_level(server, officer, second, "II")

    context = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    sign_in(page, server, "commander")
    page.wait_for_url("**/map")
    board_map = page.get_by_test_id("board-map")
    expect(board_map).to_have_attribute("data-incidents-rendered", "true", timeout=15_000)
    listed = page.get_by_test_id("board-list")
    expect(listed.locator(f"[data-incident-id='{first}']")).to_be_visible()
    expect(listed.locator(f"[data-incident-id='{second}']")).to_have_attribute("data-level", "II")
    on_map = httpx.get(f"{server}/api/v1/incidents.geojson?{ACTIVE}", headers=officer).json()
    expect(board_map).to_have_attribute("data-points", str(len(on_map["features"])))
    page.evaluate("window.__sameDocument = true")

    # opened over HTTP while the commander watches: it appears without a reload …
    third = report(server, officer, "board-3", "山体滑坡，道路被堵，有车辆被埋", *spots[2])
    row = listed.locator(f"[data-incident-id='{third}']")
    expect(row).to_be_visible(timeout=5_000)
    drawn(page, third)
    expect(board_map).to_have_attribute("data-points", str(len(on_map["features"]) + 1))
    # … and raised to level II it is highlighted in the list and on the map
    set_level(server, officer, third, "II")
    expect(row).to_have_attribute("data-level", "II", timeout=5_000)
    expect(row).to_have_class(re.compile(r"\bhot\b"))
    expect(page.locator(f".yj-pulse[data-incident-id='{third}']")).to_be_attached()
    assert page.evaluate("window.__sameDocument") is True
    shot(page, "board-desktop")

    # the level filter narrows the list and the map to level II
    page.get_by_test_id("filter-level-II").check()
    expect(listed.locator("[data-incident-id]")).to_have_count(2)
    expect(listed.locator("[data-level='II']")).to_have_count(2)
    expect(board_map).to_have_attribute("data-points", "2")
    expect(page.get_by_test_id("board-total")).to_contain_text("2")

    # a click on a list item flies the map to it; its title opens the incident
    row.locator("button.fly").click()
    expect(row).to_have_class(re.compile(r"\bselected\b"))
    row.locator("a.title").click()
    page.wait_for_url(f"**/incidents/{third}")
    context.close()


def test_board_on_a_phone_shows_map_and_list(server: str, browser: Browser) -> None:
    context = phone_context(browser)
    page = context.new_page()
    sign_in(page, server, "commander")
    page.wait_for_url("**/map")
    expect(page.get_by_test_id("board-map")).to_have_attribute(
        "data-incidents-rendered", "true", timeout=15_000
    )
    expect(page.get_by_test_id("board-list")).to_be_visible()
    page.wait_for_timeout(500)
    shot(page, "board-phone")
    context.close()


# towns far from the other tests' incidents, so their centres stay apart at the county's zoom
OUTLYING_TOWNS = ("官塘乡", "张村乡", "江根乡", "安南乡", "百山祖镇")

# What the board has drawn once it is still: for each incident (id, lon, lat), whether the map
# drew it as a point of its own and which HTML overlays (town or village labels, cluster counts)
# lie over it; and the cluster counts shown beside the clusters the map drew.
BOARD_STATE = """(spots) => {
  const el = document.querySelector('[data-testid=board-map]')
  const map = el && el.yjMap
  if (!map || !map.loaded() || map.isMoving()) return null
  const box = el.getBoundingClientRect()
  const shown = (e) => {
    const s = getComputedStyle(e)
    const r = e.getBoundingClientRect()
    return s.display !== 'none' && s.visibility !== 'hidden' && r.width > 0 && r.height > 0
  }
  const overlays = [...el.querySelectorAll('.yj-map-label, .yj-cluster-count')].filter(shown)
  const incidents = {}
  for (const [id, lon, lat] of spots) {
    const p = map.project([lon, lat])
    const hits = map.queryRenderedFeatures(
      [[p.x - 2, p.y - 2], [p.x + 2, p.y + 2]], { layers: ['incident-points'] })
    const x = box.left + p.x, y = box.top + p.y, r = 7
    incidents[id] = {
      drawn: hits.some((f) => f.properties.id === id),
      under: overlays.filter((o) => {
        const b = o.getBoundingClientRect()
        return b.left < x + r && b.right > x - r && b.top < y + r && b.bottom > y - r
      }).map((o) => o.textContent),
    }
  }
  const clusters = new Map()
  for (const f of map.queryRenderedFeatures({ layers: ['incident-clusters'] })) {
    clusters.set(f.properties.cluster_id, String(f.properties.point_count))
  }
  const counts = [...el.querySelectorAll('.yj-cluster-count')]
    .filter(shown)
    .map((e) => e.textContent)
  return { incidents, clusters: [...clusters.values()], counts }
}"""


def still_board_state(page: Page, spots: list[tuple[str, float, float]]) -> dict[str, Any]:
    """The board's state once every incident is drawn and uncovered and every count has its
    cluster — or, if that never comes within 10 s, the last state seen (for the message)."""
    state: dict[str, Any] | None = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = page.evaluate(BOARD_STATE, [list(s) for s in spots]) or state
        if state and board_is_clear(state):
            break
        page.wait_for_timeout(250)
    assert state is not None, "the board's map never settled"
    return state


def board_is_clear(state: dict[str, Any]) -> bool:
    incidents_clear = all(i["drawn"] and not i["under"] for i in state["incidents"].values())
    return incidents_clear and not stray_counts(state)


def stray_counts(state: dict[str, Any]) -> Counter[str]:
    """The cluster counts shown with no cluster drawn beneath them."""
    return Counter(state["counts"]) - Counter(state["clusters"])


def test_incidents_at_town_centres_are_drawn_above_the_labels_and_no_stray_cluster_count(
    server: str, browser: Browser
) -> None:
    officer = bearer(server, "duty_officer")
    towns = httpx.get(f"{server}/api/v1/divisions?level=town&limit=50", headers=officer).json()
    centres = {
        t["name"]: (t["centroid_lon"], t["centroid_lat"])
        for t in towns["items"]
        if t["name"] in OUTLYING_TOWNS
    }
    assert len(centres) == len(OUTLYING_TOWNS)
    spots = [
        (report(server, officer, f"centre-{i}", f"{name}政府门口一辆车起火", *centres[name]),)
        + centres[name]
        for i, name in enumerate(OUTLYING_TOWNS)
    ]

    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    sign_in(page, server, "commander")
    page.wait_for_url("**/map")
    expect(page.get_by_test_id("board-map")).to_have_attribute(
        "data-incidents-rendered", "true", timeout=15_000
    )
    state = still_board_state(page, spots)
    shot(page, "board-town-centres")
    for incident_id, lon, lat in spots:
        seen = state["incidents"][incident_id]
        assert seen["drawn"], f"the incident at {lon},{lat} is not drawn as a point: {state}"
        assert not seen["under"], f"the incident at {lon},{lat} lies under {seen['under']}"
    # every count shown belongs to a cluster the map drew (none over N incidents apart)
    assert not stray_counts(state), state
    context.close()
