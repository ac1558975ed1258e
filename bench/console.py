"""Benchmark of the situation board (一张图) in a real Chromium against a real ``yingji serve``.

``python -m bench.console [--incidents 5000] [--changes 200] [--loads 5] [--keep]``

A fresh SQLite database gets the demo county (``yingji db upgrade`` + ``yingji seed demo``), then
``yingji serve`` starts on it and ``--incidents`` reports are sent through the batch intake
(``POST /api/v1/intake/reports:batch``, 500 a request) at random points inside the county's
towns, spread over the last 30 days, with varied texts — nearly all of them open an incident of
their own. The run waits until the relay has delivered the burst's events to every durable
subscriber (``GET /api/v1/system/subscribers``: lag 0), so the board is measured on a settled
server. Then Debian's Chromium (Playwright, the e2e tests' arguments) signs in as the commander
and measures:

* **first render**: ``--loads`` cold loads of ``/map`` (a new browser context each: empty cache),
  from navigation start to the performance mark ``yj-board-first-render`` the board leaves when
  its incidents layer is first drawn with every point;
* **change visible**: ``--changes`` changes made over HTTP from the page (its own session), half
  level changes (升级/降级) of an incident in the list, half new reports that open an incident;
  each is timed from just before the request to the moment the change is both drawn on the map
  (the mark ``yj-board-change`` naming the incident) and shown in the list (the row with the new
  level);
* **initial JavaScript**: every ``.js`` file the first cold load fetched before the first render,
  gzipped (level 9) from ``src/yingji/web_dist``.

Goals (issue 5): first render ≤ 1.5 s; change visible p99 ≤ 200 ms; initial JS ≤ 600 KB gzipped.
Figures go to stdout and to ``var/bench/console.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import random
import shutil
import statistics
import sys
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

import httpx
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from bench.common import (
    DEMO_PASSWORD,
    ROOT,
    ServerProcess,
    fetch_token,
    free_port,
    fresh_sqlite,
    percentile,
    prepare_demo_database,
    write_report,
    yingji_command,
    yingji_env,
)
from yingji.core import clock

WEB_DIST = ROOT / "src" / "yingji" / "web_dist"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [  # the same as tests/e2e/conftest.py
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
GOAL_FIRST_RENDER_MS = 1500.0
GOAL_CHANGE_P99_MS = 200.0
GOAL_INITIAL_JS_KB = 600.0
VIEWPORT: ViewportSize = {"width": 1920, "height": 1080}

WHAT = [
    "{p}附近一处民房起火，有浓烟",
    "{p}路段两车相撞，有人受伤",
    "{p}河道水位上涨，漫过桥面",
    "{p}山体滑坡，道路被堵",
    "{p}大树倒伏压住电线",
    "{p}仓库冒烟，疑似化学品泄漏",
    "{p}有人落水，请求救援",
    "{p}燃气管道破裂，闻到异味",
]
PLACES = [
    "村口",
    "学校门口",
    "菜市场",
    "大桥",
    "加油站",
    "工业园",
    "水库",
    "卫生院",
    "老街",
    "车站",
]


# --- data ---------------------------------------------------------------------------------------


def _inside(lon: float, lat: float, ring: list[list[float]]) -> bool:
    """Ray casting: is the point inside the ring?"""
    hit = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            hit = not hit
        j = i
    return hit


def _outer_rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"][0]]
    if geometry["type"] == "MultiPolygon":
        return [poly[0] for poly in geometry["coordinates"]]
    return []


def random_points(towns: dict[str, Any], n: int, rng: random.Random) -> list[tuple[float, float]]:
    """``n`` random points inside the towns (uniform over the county's bbox, kept inside)."""
    rings = [r for f in towns["features"] for r in _outer_rings(f["geometry"])]
    xs = [p[0] for r in rings for p in r]
    ys = [p[1] for r in rings for p in r]
    out: list[tuple[float, float]] = []
    while len(out) < n:
        lon, lat = rng.uniform(min(xs), max(xs)), rng.uniform(min(ys), max(ys))
        if any(_inside(lon, lat, r) for r in rings):
            out.append((round(lon, 6), round(lat, 6)))
    return out


async def generate_incidents(port: int, n: int) -> tuple[int, float]:
    """Send ``n`` reports through the batch intake; returns (incidents opened, seconds)."""
    token = await fetch_token(port, "duty_officer")
    rng = random.Random(5)
    headers = {"Authorization": f"Bearer {token}"}
    now = clock.now()
    started = time.perf_counter()
    created = 0
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=300
    ) as client:
        towns = (await client.get("/api/v1/divisions.geojson", params={"level": "town"})).json()
        points = random_points(towns, n, rng)
        for start in range(0, n, 500):
            reports = []
            for i in range(start, min(start + 500, n)):
                lon, lat = points[i]
                place = f"{rng.choice(PLACES)}{i}号"
                reports.append(
                    {
                        "channel": "manual",
                        "external_id": f"bench-console-{i}",
                        "received_at": (
                            now - timedelta(minutes=rng.uniform(5, 30 * 24 * 60))
                        ).isoformat(),
                        "text": rng.choice(WHAT).format(p=place),
                        "address": place,
                        "lon": lon,
                        "lat": lat,
                    }
                )
            answer = await client.post("/api/v1/intake/reports:batch", json={"reports": reports})
            answer.raise_for_status()
            created += int(answer.json()["created"])
    return created, time.perf_counter() - started


async def wait_for_relay(port: int, timeout: float = 300) -> float:
    """Wait until every durable subscriber has caught up with the outbox (the intake burst leaves
    thousands of events to deliver); returns the seconds waited."""
    token = await fetch_token(port, "admin")
    started = time.perf_counter()
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
    ) as client:
        while time.perf_counter() - started < timeout:
            subscribers = (await client.get("/api/v1/system/subscribers")).json()
            if all(int(s["lag"]) == 0 for s in subscribers):
                break
            await asyncio.sleep(0.5)
    return time.perf_counter() - started


# --- browser ------------------------------------------------------------------------------------

# Records every yj-board-change mark by incident id (the latest time each was drawn).
RECORD_MARKS = """
() => {
  window.__drawn = new Map();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.name !== 'yj-board-change') continue;
      for (const id of (e.detail && e.detail.ids) || []) window.__drawn.set(id, e.startTime);
    }
  }).observe({ type: 'mark', buffered: true });
}
"""

# One change from the page: a level change of a listed incident, or a new report. Resolves with
# the milliseconds until the map has drawn it and the list shows it.
ONE_CHANGE = """
async ([kind, seq]) => {
  const cookie = document.cookie.match(/(?:^|; )yingji_csrf=([^;]*)/);
  const csrf = cookie ? decodeURIComponent(cookie[1]) : '';
  const headers = { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf };
  const rows = [...document.querySelectorAll('[data-testid=board-list] [data-incident-id]')]
    .filter((r) => ['reported', 'verified', 'responding', 'controlled'].includes(r.dataset.state));
  let url, body, wantLevel = null, id = null;
  if (kind === 'level' && rows.length) {
    const row = rows[seq % rows.length];
    id = row.dataset.incidentId;
    wantLevel = row.dataset.level === 'IV' ? 'III' : 'IV';
    url = `/api/v1/incidents/${id}/level`;
    body = { level: wantLevel, reason: `bench ${seq}` };
  } else {
    const p = window.__benchPoints[seq % window.__benchPoints.length];
    url = '/api/v1/intake/reports';
    body = { channel: 'manual', external_id: `bench-live-${seq}-${Date.now()}`,
             text: `测试新报警 ${seq}：仓库起火`, lon: p[0], lat: p[1] };
  }
  // the list is patched by Vue; a MutationObserver notes the exact moment the row is right
  const listed = () => {
    const row = document.querySelector(`[data-testid=board-list] [data-incident-id="${id}"]`);
    return !!row && (!wantLevel || row.dataset.level === wantLevel);
  };
  let listedAt = null;
  const list = document.querySelector('[data-testid=board-list]') || document.body;
  const observer = new MutationObserver(() => {
    if (listedAt === null && id && listed()) listedAt = performance.now();
  });
  observer.observe(list, { subtree: true, childList: true, attributes: true });
  const t0 = performance.now();
  const res = await fetch(url, {
    method: 'POST', headers, body: JSON.stringify(body), credentials: 'same-origin',
  });
  if (!res.ok) return { error: `${res.status} ${await res.text()}` };
  const requestDone = performance.now();
  const data = await res.json();
  if (!id) id = data.incident_id;
  if (!id) return { error: `no incident: ${JSON.stringify(data)}` };
  if (listedAt === null && listed()) listedAt = performance.now(); // (an upper bound)
  const deadline = t0 + 10000;
  return await new Promise((resolve) => {
    const check = () => {
      const drawn = window.__drawn.get(id);
      if (listedAt === null && listed()) listedAt = performance.now();
      if (drawn !== undefined && drawn > t0 && listedAt !== null) {
        observer.disconnect();
        resolve({
          ms: Math.max(drawn, listedAt) - t0, drawnMs: drawn - t0, listedMs: listedAt - t0,
          id, requestMs: requestDone - t0,
        });
        return;
      }
      if (performance.now() > deadline) {
        observer.disconnect();
        resolve({ error: `not visible in 10 s: ${kind} ${id} drawn=${drawn} listed=${listedAt}` });
        return;
      }
      requestAnimationFrame(check);
    };
    check();
  });
}
"""


async def signed_in_context(browser: Browser, base: str) -> BrowserContext:
    context = await browser.new_context(
        viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai", base_url=base
    )
    answer = await context.request.post(
        "/api/v1/auth/login", data={"username": "commander", "password": DEMO_PASSWORD}
    )
    if not answer.ok:
        raise RuntimeError(f"sign-in failed: {answer.status} {await answer.text()}")
    return context


async def open_board(page: Page) -> float:
    """Navigate to /map; the first-render mark's time (ms since navigation start)."""
    await page.goto("/map")
    await page.wait_for_selector("[data-incidents-rendered=true]", timeout=60_000)
    value = await page.evaluate(
        "performance.getEntriesByName('yj-board-first-render')[0].startTime"
    )
    return float(value)


async def first_renders(browser: Browser, base: str, loads: int) -> tuple[list[float], list[str]]:
    times: list[float] = []
    scripts: list[str] = []
    for i in range(loads):
        context = await signed_in_context(browser, base)
        page = await context.new_page()
        times.append(await open_board(page))
        if i == 0:
            scripts = await page.evaluate(
                """() => performance.getEntriesByType('resource')
                     .filter((e) => e.startTime <= performance.getEntriesByName(
                         'yj-board-first-render')[0].startTime)
                     .map((e) => e.name).filter((n) => new URL(n).pathname.endsWith('.js'))"""
            )
        await context.close()
    return times, scripts


def gzipped_size(urls: list[str]) -> tuple[int, list[tuple[str, int]]]:
    sizes: list[tuple[str, int]] = []
    for url in dict.fromkeys(urls):
        path = WEB_DIST / urlparse(url).path.lstrip("/")
        sizes.append((path.name, len(gzip.compress(path.read_bytes(), compresslevel=9))))
    sizes.sort(key=lambda s: -s[1])
    return sum(s for _, s in sizes), sizes


async def changes(browser: Browser, base: str, n: int, points: list[tuple[float, float]]) -> Any:
    context = await signed_in_context(browser, base)
    page = await context.new_page()
    await open_board(page)
    await page.evaluate(RECORD_MARKS)
    await page.evaluate("(pts) => { window.__benchPoints = pts }", [list(p) for p in points])
    await page.wait_for_timeout(500)
    level_ms: list[float] = []
    report_ms: list[float] = []
    request_ms: list[float] = []
    errors: list[str] = []
    for seq in range(n):
        kind = "level" if seq % 2 == 0 else "report"
        result = await page.evaluate(ONE_CHANGE, [kind, seq])
        if "error" in result:
            errors.append(str(result["error"]))
            continue
        (level_ms if kind == "level" else report_ms).append(float(result["ms"]))
        request_ms.append(float(result["requestMs"]))
        await page.wait_for_timeout(20)
    points_after = await page.get_attribute("[data-testid=board-map]", "data-points")
    await context.close()
    return level_ms, report_ms, request_ms, errors, points_after


# --- main ---------------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def _verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


async def main(args: argparse.Namespace) -> int:
    if not (WEB_DIST / "index.html").is_file():
        print("the web app is not built: run `make web` first", file=sys.stderr)
        return 2
    url, directory = fresh_sqlite("bench-console")
    started = time.perf_counter()
    await prepare_demo_database(url)
    port = free_port()
    # the seeded incidents spread over the past 30 days: let received_at lie that far back
    env = yingji_env(url, YINGJI_REPORT_BACKDATING_HOURS=str(31 * 24))
    server = await ServerProcess.start(
        yingji_command("serve", "--port", str(port)), env, port, directory / "serve.log"
    )
    base = f"http://127.0.0.1:{port}"
    try:
        created, seconds = await generate_incidents(port, args.incidents)
        print(
            f"demo + {created} incidents opened from {args.incidents} reports via "
            f"reports:batch in {seconds:.1f} s ({args.incidents / seconds:.0f} reports/s); "
            f"setup {time.perf_counter() - started:.1f} s"
        )
        settled = await wait_for_relay(port)
        print(f"relay caught up with the outbox {settled:.1f} s later")
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            token = await fetch_token(port, "commander")
            towns = (
                await client.get(
                    "/api/v1/divisions.geojson",
                    params={"level": "town"},
                    headers={"Authorization": f"Bearer {token}"},
                )
            ).json()
        live_points = random_points(towns, 64, random.Random(7))

        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            renders, scripts = await first_renders(browser, base, args.loads)
            js_total, js_files = gzipped_size(scripts)
            level_ms, report_ms, request_ms, errors, points_after = await changes(
                browser, base, args.changes, live_points
            )
            await browser.close()
    finally:
        await server.stop()
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)

    every = sorted(level_ms + report_ms)
    render_median = statistics.median(renders)
    p50, p99 = percentile(every, 0.5), percentile(every, 0.99)
    js_kb = js_total / 1024
    render_ok = render_median <= GOAL_FIRST_RENDER_MS
    change_ok = p99 is not None and p99 <= GOAL_CHANGE_P99_MS and not errors
    js_ok = js_kb <= GOAL_INITIAL_JS_KB
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (after the run)")
    print(f"points on the board after the changes: {points_after}")
    print(
        f"first render of the board (cold, {len(renders)} loads): median {render_median:.0f} ms, "
        f"max {max(renders):.0f} ms  [{', '.join(f'{r:.0f}' for r in renders)}]"
    )
    print(f"  goal <= {GOAL_FIRST_RENDER_MS:.0f} ms: {_verdict(render_ok)}")
    print(
        f"change visible (map + list), {len(every)} changes: p50 {_fmt(p50)}, p99 {_fmt(p99)}, "
        f"max {_fmt(every[-1] if every else None)}"
    )
    print(f"  goal p99 <= {GOAL_CHANGE_P99_MS:.0f} ms: {_verdict(change_ok)}")
    for name, values in (("level changes", level_ms), ("new reports", report_ms)):
        ordered = sorted(values)
        print(
            f"  {name} ({len(ordered)}): p50 {_fmt(percentile(ordered, 0.5))}, "
            f"p99 {_fmt(percentile(ordered, 0.99))}"
        )
    req = sorted(request_ms)
    print(
        f"  of which the HTTP request itself: p50 {_fmt(percentile(req, 0.5))}, "
        f"p99 {_fmt(percentile(req, 0.99))}"
    )
    if errors:
        print(f"  {len(errors)} changes failed or never showed, e.g. {errors[0]}")
    print(
        f"initial JavaScript of the board: {js_kb:.0f} KB gzipped in {len(js_files)} files; "
        f"goal <= {GOAL_INITIAL_JS_KB:.0f} KB: {_verdict(js_ok)}"
    )
    for name, size in js_files[:5]:
        print(f"  {name:<48} {size / 1024:7.1f} KB")

    path = write_report(
        "console",
        {
            "incidents_requested": args.incidents,
            "incidents_created": created,
            "first_render_ms": renders,
            "first_render_median_ms": render_median,
            "goal_first_render_ms": GOAL_FIRST_RENDER_MS,
            "change_ms": {"level": level_ms, "report": report_ms},
            "change_p50_ms": p50,
            "change_p99_ms": p99,
            "goal_change_p99_ms": GOAL_CHANGE_P99_MS,
            "change_request_ms": request_ms,
            "change_errors": errors,
            "load_average": os.getloadavg(),
            "initial_js_gzip_bytes": js_total,
            "initial_js_files": dict(js_files),
            "goal_initial_js_kb": GOAL_INITIAL_JS_KB,
        },
    )
    print(f"report: {path}")
    return 0 if render_ok and change_ok and js_ok else 1


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--incidents", type=int, default=5000)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
