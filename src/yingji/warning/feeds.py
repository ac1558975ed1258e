"""CAP feeds (Atom/RSS) another bureau publishes, polled for received warnings.

Each active feed has one open timer ``warning.cap_feed`` (subject = the feed id, a fresh key each
time) that polls it and schedules the next poll ``interval_seconds`` later. A poll is a
conditional GET (ETag / Last-Modified), feedparser reads the entries (the newest
``cap_feed_max_entries``), and each entry's CAP link is fetched (size bound, timeout) and taken
like a posted message (:func:`cap.receive`: a message already taken is not taken again). The
outcome is kept on the feed as a code and params (``last_result``); a poll never raises for what
the network or the feed does, so the timer is never parked for it.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit, clock, timers
from yingji.core.changes import record_change
from yingji.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from yingji.core.events import EventScope
from yingji.core.ids import new_id
from yingji.core.security import Principal, Scope
from yingji.core.timers import TimerFiring
from yingji.org import service as org
from yingji.settings import Settings, get_settings
from yingji.warning import cap
from yingji.warning.models import CapFeed

log = logging.getLogger(__name__)

FEED_TIMER = "warning.cap_feed"
FEED_FIELDS = ("url", "name", "division_adcode", "interval_seconds", "active")
CAP_TYPES = ("application/cap+xml", "application/xml", "text/xml")
USER_AGENT = "yingji-cap-poller/1"


# ------------------------------------------------------------------------------ the feed rows


@dataclass(frozen=True)
class FeedValues:
    url: str
    name: str
    division_adcode: str
    interval_seconds: int = 300
    active: bool = True


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500:
        raise ValidationFailed(
            "cap_feed_url_invalid", "a feed is an http(s) URL", {"url": url[:100]}
        )
    return url


async def list_feeds(session: AsyncSession, *, scope: Scope) -> list[CapFeed]:
    rows = await session.scalars(
        select(CapFeed).where(scope.clause(CapFeed.division_path)).order_by(CapFeed.name)
    )
    return list(rows.all())


async def get_feed(session: AsyncSession, *, feed_id: uuid.UUID, scope: Scope) -> CapFeed:
    feed = await session.get(CapFeed, feed_id)
    if feed is None or not scope.covers(division_path=feed.division_path):
        raise NotFound("cap_feed_not_found", f"no feed {feed_id}", {"feed_id": str(feed_id)})
    return feed


async def _division_path(session: AsyncSession, principal: Principal, adcode: str) -> str:
    path = await org.path_of_division(session=session, adcode=adcode)
    if path is None:
        raise ValidationFailed("division_not_found", f"no division {adcode}", {"adcode": adcode})
    if not principal.scope.covers(division_path=path):
        raise PermissionDenied(
            "outside_scope", "that lies outside your jurisdiction", {"division_path": path}
        )
    return path


async def _url_taken(session: AsyncSession, url: str, feed_id: uuid.UUID | None) -> None:
    other = await session.scalar(select(CapFeed.id).where(CapFeed.url == url))
    if other is not None and other != feed_id:
        raise Conflict("cap_feed_exists", "that feed is configured already", {"url": url[:100]})


async def _record(
    session: AsyncSession, action: str, feed: CapFeed, before: dict[str, Any] | None
) -> None:
    await record_change(
        session,
        action=action,
        subject_type="warning_cap_feed",
        subject_id=feed.id,
        before=before,
        after=audit.snapshot(feed, FEED_FIELDS) if action != "warning.feed.deleted" else None,
        audience=EventScope(division_path=feed.division_path),
    )


async def _schedule(session: AsyncSession, feed: CapFeed, *, delay_seconds: int = 0) -> None:
    """The feed's one open poll timer: every other is cancelled first."""
    await timers.cancel(session, kind=FEED_TIMER, subject=feed.id)
    if feed.active:
        await timers.schedule(
            session,
            kind=FEED_TIMER,
            subject=feed.id,
            key=uuid.uuid4().hex,
            due_at=clock.now() + timedelta(seconds=delay_seconds),
        )


async def create_feed(
    session: AsyncSession, *, principal: Principal, values: FeedValues
) -> CapFeed:
    url = check_url(values.url)
    path = await _division_path(session, principal, values.division_adcode)
    await _url_taken(session, url, None)
    now = clock.now()
    feed = CapFeed(
        id=new_id(),
        url=url,
        name=values.name,
        division_adcode=values.division_adcode,
        division_path=path,
        interval_seconds=values.interval_seconds,
        active=values.active,
        last_result={},
        created_at=now,
        updated_at=now,
    )
    session.add(feed)
    await session.flush()
    await _schedule(session, feed)
    await _record(session, "warning.feed.created", feed, None)
    return feed


async def update_feed(
    session: AsyncSession, *, principal: Principal, feed_id: uuid.UUID, changes: dict[str, Any]
) -> CapFeed:
    feed = await get_feed(session, feed_id=feed_id, scope=principal.scope)
    before = audit.snapshot(feed, FEED_FIELDS)
    if "url" in changes:
        feed.url = check_url(changes["url"])
        await _url_taken(session, feed.url, feed.id)
        feed.etag = feed.last_modified = None
    if "division_adcode" in changes:
        feed.division_path = await _division_path(session, principal, changes["division_adcode"])
        feed.division_adcode = changes["division_adcode"]
    for name in ("name", "interval_seconds", "active"):
        if name in changes:
            setattr(feed, name, changes[name])
    feed.updated_at = clock.now()
    await session.flush()
    await _schedule(session, feed)
    await _record(session, "warning.feed.updated", feed, before)
    return feed


async def delete_feed(session: AsyncSession, *, principal: Principal, feed_id: uuid.UUID) -> None:
    feed = await get_feed(session, feed_id=feed_id, scope=principal.scope)
    before = audit.snapshot(feed, FEED_FIELDS)
    await timers.cancel(session, kind=FEED_TIMER, subject=feed.id)
    await _record(session, "warning.feed.deleted", feed, before)
    await session.delete(feed)
    await session.flush()


# ----------------------------------------------------------------------------------- polling


class FetchFailed(Exception):
    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Fetched:
    status: int
    body: bytes
    etag: str | None
    last_modified: str | None


async def fetch(
    client: httpx.AsyncClient, url: str, *, max_bytes: int, headers: dict[str, str] | None = None
) -> Fetched:
    """GET ``url``, reading at most ``max_bytes`` (``FetchFailed`` codes: ``unreachable``,
    ``http_error``, ``too_large``). A 304 comes back as such, with no body."""
    try:
        async with client.stream("GET", url, headers=headers or {}) as response:
            if response.status_code == 304:
                return Fetched(304, b"", None, None)
            if response.status_code >= 400:
                raise FetchFailed("http_error", status=response.status_code)
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchFailed("too_large", max_bytes=max_bytes)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise FetchFailed("too_large", max_bytes=max_bytes)
            return Fetched(
                response.status_code,
                bytes(body),
                response.headers.get("etag"),
                response.headers.get("last-modified"),
            )
    except httpx.HTTPError as exc:
        raise FetchFailed("unreachable", error=type(exc).__name__) from None


def cap_links(document: bytes, base: str, *, limit: int) -> list[str]:
    """The CAP links of a feed's entries (in the feed's order, at most ``limit``): a link typed
    as CAP or XML, else the entry's link."""
    parsed = feedparser.parse(document)
    if not parsed.get("version"):  # feedparser names the Atom or RSS version it recognised
        raise FetchFailed("not_a_feed")
    entries = list(parsed.get("entries") or [])
    found: list[str] = []
    for entry in entries[:limit]:
        href = None
        for link in entry.get("links") or []:
            if str(link.get("type", "")).split(";")[0].strip() in CAP_TYPES and link.get("href"):
                href = str(link["href"])
                break
        href = href or (str(entry["link"]) if entry.get("link") else None)
        if href:
            url = urljoin(base, href)
            if urlsplit(url).scheme in ("http", "https"):
                found.append(url)
    return found


def client_for(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=settings.cap_fetch_timeout_seconds,
        follow_redirects=True,
        max_redirects=3,
        headers={"User-Agent": USER_AGENT},
    )


async def poll(session: AsyncSession, *, feed: CapFeed, settings: Settings) -> dict[str, Any]:
    """Read the feed once and take what is new; returns (and keeps) the outcome."""
    headers = {}
    if feed.etag:
        headers["If-None-Match"] = feed.etag
    if feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    async with client_for(settings) as client:
        try:
            result = await _poll(session, client, feed, settings, headers)
        except FetchFailed as failed:
            result = {"code": failed.code, "params": failed.params}
    feed.last_polled_at = clock.now()
    feed.last_result = result
    await session.flush()
    log.info("cap feed %s polled: %s", feed.id, result)
    return result


async def _poll(
    session: AsyncSession,
    client: httpx.AsyncClient,
    feed: CapFeed,
    settings: Settings,
    headers: dict[str, str],
) -> dict[str, Any]:
    got = await fetch(client, feed.url, max_bytes=settings.cap_feed_max_bytes, headers=headers)
    if got.status == 304:
        return {"code": "not_modified", "params": {}}
    if b"<!DOCTYPE" in got.body or b"<!ENTITY" in got.body:
        raise FetchFailed("feed_unsafe")
    links = cap_links(got.body, feed.url, limit=settings.cap_feed_max_entries)
    tally = Tally(entries=len(links))
    read = await _read_messages(client, links, settings, tally)
    await _take(session, feed, read, tally)
    if not tally.deferred:
        feed.etag = (got.etag or "")[:200] or None
        feed.last_modified = (got.last_modified or "")[:100] or None
    return {"code": "ok", "params": tally.params()}


@dataclass
class Tally:
    """What one poll did with the feed's entries."""

    entries: int
    new: int = 0
    seen: int = 0
    refused: int = 0
    failed: int = 0
    deferred: int = 0
    first_refusal: str | None = None

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "entries": self.entries,
            "new": self.new,
            "seen": self.seen,
            "refused": self.refused,
            "failed": self.failed,
        }
        if self.deferred:
            params["deferred"] = self.deferred
        if self.first_refusal:
            params["first_refusal"] = self.first_refusal
        return params


async def _read_messages(
    client: httpx.AsyncClient, links: list[str], settings: Settings, tally: Tally
) -> list[tuple[str, cap.CapMessage, bytes]]:
    """Fetch and read every linked message before anything is written, so the transaction that
    takes them is short (SQLite has one writer). Past the poll's time budget the rest is left
    for the next poll (``deferred``; the feed's ETag is then not kept, so it is read again)."""
    deadline = time.monotonic() + poll_budget_seconds(settings)
    read: list[tuple[str, cap.CapMessage, bytes]] = []
    for url in links:
        if time.monotonic() >= deadline:
            tally.deferred += 1
            continue
        try:
            fetched = await fetch(client, url, max_bytes=settings.cap_max_bytes)
            message = cap.parse(fetched.body, max_bytes=settings.cap_max_bytes)
        except FetchFailed:
            tally.failed += 1
            continue
        except DomainError as refused:
            tally.refused += 1
            tally.first_refusal = tally.first_refusal or refused.code
            continue
        read.append((url, message, fetched.body))
    return read


async def _take(
    session: AsyncSession,
    feed: CapFeed,
    read: list[tuple[str, cap.CapMessage, bytes]],
    tally: Tally,
) -> None:
    for url, message, body in read:
        try:
            receipt = await cap.receive(
                session,
                message=message,
                xml=body,
                division_adcode=feed.division_adcode,
                division_path=feed.division_path,
                source=url,
            )
        except Conflict:
            tally.seen += 1  # another division took it first
            continue
        except ValidationFailed as refused:  # an Ack or Error message
            tally.refused += 1
            tally.first_refusal = tally.first_refusal or refused.code
            continue
        if receipt.created:
            tally.new += 1
        else:
            tally.seen += 1


def poll_budget_seconds(settings: Settings) -> float:
    """How long one poll may fetch: half the timer's lease, so the firing that polls still
    holds its claim when it commits."""
    return settings.timer_lease_seconds / 2


async def poll_now(
    session: AsyncSession, *, principal: Principal, feed_id: uuid.UUID, settings: Settings
) -> CapFeed:
    """Poll a feed now (``POST …/feeds/{id}/poll``); the next poll follows its interval."""
    feed = await get_feed(session, feed_id=feed_id, scope=principal.scope)
    await poll(session, feed=feed, settings=settings)
    await _schedule(session, feed, delay_seconds=feed.interval_seconds)
    return feed


async def poll_on_time(session: AsyncSession, firing: TimerFiring) -> None:
    """The ``warning.cap_feed`` timer: poll the feed, then schedule the next poll."""
    feed = await session.get(CapFeed, uuid.UUID(firing.subject))
    if feed is None or not feed.active:
        return
    await poll(session, feed=feed, settings=get_settings())
    await timers.schedule(
        session,
        kind=FEED_TIMER,
        subject=feed.id,
        key=uuid.uuid4().hex,
        due_at=clock.now() + timedelta(seconds=feed.interval_seconds),
    )
