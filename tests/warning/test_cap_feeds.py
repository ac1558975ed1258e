"""CAP feeds through the app and the timer worker, against a real HTTP server on 127.0.0.1 that
serves an Atom (or RSS) feed whose entries link CAP messages (the shared real alerts and a
Chinese one): polled now and on time, conditional GET, what is new taken once, what is refused or
unreachable counted, never raised; who may manage feeds."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import free_port
from tests.factories import bearer, make_county_with_two_towns, make_division, make_user
from tests.warning.cap_fixtures import CAP_DIR, SENT, needs_material, orange_rainstorm
from tests.warning.test_cap_parse import XXE
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.core.timers import OPEN_STATES, Timer, TimerWorker, handlers
from yingji.settings import Settings
from yingji.warning import cap, feeds
from yingji.warning.models import CapFeed, Warning

API = "/api/v1/warnings/feeds"


class Peer:
    """A bureau's web server: paths → (content type, body, etag); counts what was asked."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, bytes, str | None, int]] = {}
        self.hits: dict[str, int] = {}
        self.conditional: list[str] = []
        self.port = 0

    def serve(
        self,
        path: str,
        body: bytes,
        *,
        media: str = "application/xml",
        etag: str | None = None,
        status: int = 200,
    ) -> str:
        self.routes[path] = (media, body, etag, status)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def handler_for(peer: Peer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            peer.hits[self.path] = peer.hits.get(self.path, 0) + 1
            route = peer.routes.get(self.path)
            if route is None:
                self.send_response(404)
                self.end_headers()
                return
            media, body, etag, status = route
            if etag and self.headers.get("If-None-Match") == etag:
                peer.conditional.append(self.path)
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(status)
            self.send_header("Content-Type", media)
            self.send_header("Content-Length", str(len(body)))
            if etag:
                self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return  # quiet

    return Handler


@pytest.fixture
def peer() -> Iterator[Peer]:
    bureau = Peer()
    bureau.port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", bureau.port), handler_for(bureau))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield bureau
    server.shutdown()
    server.server_close()


@pytest.fixture
async def world(db: Database) -> None:
    await make_county_with_two_towns(db)
    await make_division(db, "331127", name="景宁县", level="county", parent="330000")
    await make_user(db, "leader", roles=["duty_leader"], division="331126")
    await make_user(db, "other_leader", roles=["duty_leader"], division="331127")


def atom(peer: Peer, links: list[str], *, typed: bool = True) -> bytes:
    entries = "".join(
        f"""<entry><id>urn:uuid:{uuid.uuid4()}</id><title>{i}</title>
        <updated>2026-07-03T01:30:00Z</updated>
        <link rel="alternate" {'type="application/cap+xml"' if typed else ""} href="{link}"/>
        </entry>"""
        for i, link in enumerate(links)
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:zjqx</id><title>浙江省气象台</title>
<updated>2026-07-03T01:30:00Z</updated>{entries}</feed>""".encode()


def rss(links: list[str]) -> bytes:
    items = "".join(
        f'<item><title>{i}</title><enclosure url="{link}" type="application/cap+xml" '
        'length="1"/></item>'
        for i, link in enumerate(links)
    )
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>水文</title>
<link>http://example.invalid/</link><description>d</description>{items}</channel></rss>""".encode()


def chinese(identifier: str, minutes: int = 0) -> bytes:
    return cap.build(
        orange_rainstorm(
            identifier=identifier,
            sender="zjqx@cma.example",
            sent_at=SENT + timedelta(minutes=minutes),
        )
    )


async def add_feed(
    client: httpx.AsyncClient, url: str, user: str = "leader", **body: Any
) -> httpx.Response:
    auth = await bearer(client, user)
    payload = {"url": url, "name": "浙江省气象台", "division_adcode": "331126", **body}
    return await client.post(API, json=payload, headers=auth)


async def received(db: Database) -> list[Warning]:
    async with db.unit_of_work(readonly=True) as session:
        return list((await session.scalars(select(Warning).order_by(Warning.created_at))).all())


async def open_timers(db: Database) -> list[Timer]:
    async with db.unit_of_work(readonly=True) as session:
        rows = await session.scalars(
            select(Timer).where(Timer.kind == feeds.FEED_TIMER, Timer.state.in_(OPEN_STATES))
        )
        return list(rows.all())


async def run_timers(db: Database) -> None:
    worker = TimerWorker(db, handler_map=handlers())
    while await worker.run_due():
        pass


@needs_material
async def test_polling_now_takes_each_new_message_once_and_counts_the_rest(
    client: httpx.AsyncClient, db: Database, world: None, peer: Peer
) -> None:
    links = [
        peer.serve("/cap/a.xml", chinese("A1")),
        peer.serve("/cap/tri.xml", (CAP_DIR / "v1dot2_appendix_adot3.xml").read_bytes()),
        peer.serve("/cap/ipaws.xml", (CAP_DIR / "ipaws-5e7e0fc5023f1930efcf3deb.xml").read_bytes()),
        peer.serve("/cap/old.xml", (CAP_DIR / "v1dot1_appendix_adot1.xml").read_bytes()),
        peer.serve("/cap/xxe.xml", XXE),
        peer.url("/cap/gone.xml"),
        peer.serve(
            "/cap/ack.xml",
            cap.build(orange_rainstorm(identifier="K1", msg_type="Ack", sender="zjqx@cma.example")),
        ),
    ]
    url = peer.serve("/feed.atom", atom(peer, links), media="application/atom+xml", etag='"v1"')
    created = await add_feed(client, url)
    assert created.status_code == 201, created.text
    feed = created.json()
    assert feed["last_result"] == {"code": None, "params": {}}
    auth = await bearer(client, "leader")
    polled = await client.post(f"{API}/{feed['id']}/poll", headers=auth)
    assert polled.status_code == 200, polled.text
    assert polled.json()["last_result"] == {
        "code": "ok",
        "params": {
            "entries": 7,
            "new": 3,
            "seen": 0,
            "refused": 3,
            "failed": 1,
            "first_refusal": "cap_version_unsupported",
        },
    }
    warnings = await received(db)
    assert sorted(w.identifier or "" for w in warnings) == sorted(
        ["A1", "TRI13970876.2", cap.parse(peer.routes["/cap/ipaws.xml"][1]).identifier]
    )
    assert {w.division_adcode for w in warnings} == {"331126"}
    assert {w.source for w in warnings} == set(links[:3])
    # again: the feed has not changed (ETag), so nothing is fetched or taken
    again = await client.post(f"{API}/{feed['id']}/poll", headers=auth)
    assert again.json()["last_result"] == {"code": "not_modified", "params": {}}
    assert peer.conditional == ["/feed.atom"] and peer.hits["/cap/a.xml"] == 1
    assert len(await received(db)) == 3
    # the next poll follows the interval, one open timer only
    timers = await open_timers(db)
    assert len(timers) == 1


async def test_the_timer_polls_each_feed_and_schedules_the_next_poll(
    client: httpx.AsyncClient, db: Database, world: None, peer: Peer, clock: ManualClock
) -> None:
    a1 = peer.serve("/cap/a1.xml", chinese("A1"))
    url = peer.serve("/feed.atom", atom(peer, [a1]), etag='"1"')
    feed = (await add_feed(client, url, interval_seconds=120)).json()
    [timer] = await open_timers(db)
    assert timer.subject == feed["id"] and timer.due_at == clock.now()
    await run_timers(db)
    assert [w.identifier for w in await received(db)] == ["A1"]
    [timer] = await open_timers(db)
    assert timer.due_at == clock.now() + timedelta(seconds=120)
    await run_timers(db)  # not due yet
    assert peer.hits["/feed.atom"] == 1
    # the bureau adds a message; the next poll takes it, and only it
    a2 = peer.serve("/cap/a2.xml", chinese("A2", minutes=5))
    peer.serve("/feed.atom", rss([a2, a1]), etag='"2"')
    clock.advance(timedelta(seconds=121))
    await run_timers(db)
    assert sorted(w.identifier or "" for w in await received(db)) == ["A1", "A2"]
    auth = await bearer(client, "leader")
    read = (await client.get(f"{API}/{feed['id']}", headers=auth)).json()
    assert read["last_result"]["params"] | {} == {
        "entries": 2,
        "new": 1,
        "seen": 1,
        "refused": 0,
        "failed": 0,
    }
    # switched off: no timer is left, and nothing more is polled
    off = await client.patch(f"{API}/{feed['id']}", json={"active": False}, headers=auth)
    assert off.status_code == 200 and off.json()["active"] is False
    assert await open_timers(db) == []
    clock.advance(timedelta(hours=1))
    await run_timers(db)
    assert peer.hits["/feed.atom"] == 2


@pytest.mark.parametrize(
    ("body", "status", "result"),
    [
        (b"<html><body>maintenance</body></html>", 200, {"code": "not_a_feed", "params": {}}),
        (b"oops", 500, {"code": "http_error", "params": {"status": 500}}),
        (XXE, 200, {"code": "feed_unsafe", "params": {}}),
        (
            b"x" * (5 * 1024 * 1024),
            200,
            {"code": "too_large", "params": {"max_bytes": 4 * 1024 * 1024}},
        ),
    ],
    ids=["not-a-feed", "server-error", "unsafe", "too-large"],
)
async def test_a_bad_feed_is_recorded_as_a_code_and_never_raised(
    client: httpx.AsyncClient,
    db: Database,
    world: None,
    peer: Peer,
    body: bytes,
    status: int,
    result: dict[str, Any],
) -> None:
    url = peer.serve("/feed", body, status=status, media="text/html")
    feed = (await add_feed(client, url)).json()
    await run_timers(db)
    auth = await bearer(client, "leader")
    read = (await client.get(f"{API}/{feed['id']}", headers=auth)).json()
    assert read["last_result"] == result and read["last_polled_at"] is not None
    assert await received(db) == []
    assert len(await open_timers(db)) == 1  # polled again later all the same


async def test_an_unreachable_feed_is_recorded(
    client: httpx.AsyncClient, db: Database, world: None
) -> None:
    feed = (await add_feed(client, f"http://127.0.0.1:{free_port()}/feed")).json()
    auth = await bearer(client, "leader")
    polled = (await client.post(f"{API}/{feed['id']}/poll", headers=auth)).json()
    assert polled["last_result"]["code"] == "unreachable"


async def test_who_may_manage_feeds_and_what_a_feed_must_be(
    client: httpx.AsyncClient, db: Database, world: None, peer: Peer
) -> None:
    url = peer.serve("/feed.atom", atom(peer, []))
    for user in ("county", "town_a"):  # a duty officer and a town's liaison do not manage
        assert (await add_feed(client, url, user=user)).status_code == 403
        auth = await bearer(client, user)
        assert (await client.get(API, headers=auth)).status_code == 403
    refused = await add_feed(client, "file:///etc/passwd")
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "cap_feed_url_invalid"
    outside = await add_feed(client, url, division_adcode="331127")
    assert outside.status_code == 403 and outside.json()["error"]["code"] == "outside_scope"
    bad_interval = await add_feed(client, url, interval_seconds=5)
    assert bad_interval.status_code == 422
    feed = (await add_feed(client, url)).json()
    taken = await add_feed(client, url)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "cap_feed_exists"
    # another county's desk does not see it
    other = await bearer(client, "other_leader")
    assert (await client.get(API, headers=other)).json() == {"items": []}
    for method, path in (
        ("GET", f"{API}/{feed['id']}"),
        ("PATCH", f"{API}/{feed['id']}"),
        ("DELETE", f"{API}/{feed['id']}"),
        ("POST", f"{API}/{feed['id']}/poll"),
    ):
        response = await client.request(method, path, headers=other, json={"name": "x"})
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "cap_feed_not_found"
    auth = await bearer(client, "leader")
    assert [f["id"] for f in (await client.get(API, headers=auth)).json()["items"]] == [feed["id"]]
    renamed = await client.patch(
        f"{API}/{feed['id']}", json={"name": "省气象台", "interval_seconds": 600}, headers=auth
    )
    assert renamed.json()["name"] == "省气象台" and renamed.json()["interval_seconds"] == 600
    assert (await client.delete(f"{API}/{feed['id']}", headers=auth)).status_code == 204
    assert (await client.get(f"{API}/{feed['id']}", headers=auth)).status_code == 404
    assert await open_timers(db) == []
    async with db.unit_of_work(readonly=True) as session:
        assert await session.scalar(select(func.count()).select_from(Warning)) == 0


async def test_a_poll_out_of_time_leaves_the_rest_for_the_next_and_reads_the_feed_again(
    client: httpx.AsyncClient, db: Database, world: None, peer: Peer, settings: Settings
) -> None:
    links = [peer.serve("/cap/a1.xml", chinese("A1")), peer.serve("/cap/a2.xml", chinese("A2", 1))]
    url = peer.serve("/feed.atom", atom(peer, links), etag='"1"')
    feed_id = uuid.UUID((await add_feed(client, url, active=False)).json()["id"])
    hurried = settings.model_copy(update={"timer_lease_seconds": 0})  # no time to fetch at all
    async with db.unit_of_work() as session:
        feed = await session.get(CapFeed, feed_id)
        assert feed is not None
        result = await feeds.poll(session, feed=feed, settings=hurried)
        assert result == {
            "code": "ok",
            "params": {"entries": 2, "new": 0, "seen": 0, "refused": 0, "failed": 0, "deferred": 2},
        }
        assert feed.etag is None
        result = await feeds.poll(session, feed=feed, settings=settings)
        assert result["params"]["new"] == 2 and feed.etag == '"1"'
    assert peer.conditional == [] and peer.hits["/feed.atom"] == 2
    assert sorted(w.identifier or "" for w in await received(db)) == ["A1", "A2"]
