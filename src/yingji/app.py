"""The FastAPI application: routers, error handlers, observability, the web app and ``/ws``."""

from __future__ import annotations

import gc
import hmac
import ipaddress
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yingji import __version__, domains
from yingji.core import audit, clock, domain, edge, metrics, migrate, security
from yingji.core.db import Database, database_unavailable, refused_nul_character
from yingji.core.errors import DomainError, PermissionDenied, Unauthenticated
from yingji.core.events import Bus, make_bus
from yingji.core.logs import redact_secrets_in_logs, request_id_var
from yingji.core.timers import TimerWorker
from yingji.core.web import client_ip, credentials_hold
from yingji.realtime.hub import Hub
from yingji.settings import Settings, get_settings

log = logging.getLogger("yingji")
WEB_DIST = Path(__file__).parent / "web_dist"


def install_jobs(bus: Bus, db: Database) -> None:
    """Subscribe the domains' durable event handlers (they run where the relay runs)."""
    domain.subscribe(bus, db, domains.EVERYTHING)


def timer_worker(db: Database, settings: Settings) -> TimerWorker:
    """The timer worker of ``yingji serve`` and ``yingji worker``, with every domain's handlers."""
    return TimerWorker(
        db,
        batch=settings.timer_batch,
        concurrency=settings.timer_concurrency,
        lease_seconds=settings.timer_lease_seconds,
        max_attempts=settings.timer_max_attempts,
        poll_seconds=settings.timer_poll_seconds,
        handler_map=domain.timer_handlers(domains.EVERYTHING),
    )


def background_workers(db: Database, settings: Settings) -> list[domain.BackgroundWorker]:
    """The domains' background loops (the delivery sender …), run where the timer worker runs."""
    return domain.background_workers(db, settings, domains.EVERYTHING)


def start_workers(
    db: Database, settings: Settings
) -> tuple[TimerWorker, list[domain.BackgroundWorker]]:
    """Start the timer worker and the domains' background loops (``serve``, ``worker``)."""
    worker = timer_worker(db, settings)
    worker.start()
    loops = background_workers(db, settings)
    for each in loops:
        each.start()
    return worker, loops


async def stop_workers(worker: TimerWorker | None, loops: list[domain.BackgroundWorker]) -> None:
    """Stop what :func:`start_workers` started: the loops first, then the timer worker."""
    for each in loops:
        await each.stop()
    if worker is not None:
        await worker.stop()


async def ensure_reference_data(db: Database) -> None:
    """Shipped reference data the schema needs (the category table), added if missing."""
    await domain.ensure_reference_data(db, domains.EVERYTHING)


class RequestContextMiddleware:
    """Request id, access log line and metrics for every HTTP request (pure ASGI, cheap)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = incoming or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            metrics.http_requests.labels(scope["method"], path, str(status)).inc()
            metrics.http_latency.labels(scope["method"], path).observe(elapsed)
            log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)


def _error(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}},
        status_code=status,
        headers=headers,
    )


def install_outage_handlers(app: FastAPI) -> None:
    """The database gone or saturated: 503 with Retry-After, never a fault of the request."""

    @app.exception_handler(PoolTimeout)
    async def pool_exhausted(_: Request, exc: PoolTimeout) -> JSONResponse:
        # every connection of the pool stayed busy for its whole timeout: the process takes
        # more than the database gives it; the client should come back, not read a fault
        log.warning("no database connection free: %s", str(exc)[:200])
        return _error(
            503,
            "server_busy",
            "the server is too busy to take this request now; try again shortly",
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(ConnectionError)
    async def connection_lost(_: Request, exc: ConnectionError) -> JSONResponse:
        # a request opens no connection but to the database (the bus and notifications run
        # after commit, in the relay): the database went away (refused, reset)
        log.error("database connection failed: %s", exc)
        return _error(
            503,
            "database_unavailable",
            "the database cannot take this request now; try again later",
            headers={"Retry-After": "5"},
        )


def install_error_handlers(app: FastAPI) -> None:
    install_outage_handlers(app)

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if hasattr(exc, "retry_after") else None
        if exc.status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        return JSONResponse(exc.to_body(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")}
            for e in exc.errors()
        ]
        return _error(422, "validation_failed", "the request is not valid", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            404: "not_found",
            405: "method_not_allowed",
            400: "bad_request",
            413: "payload_too_large",
            415: "unsupported_media_type",
        }
        return _error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))

    @app.exception_handler(DBAPIError)
    async def database_refused(request: Request, exc: DBAPIError) -> JSONResponse:
        if database_unavailable(exc):  # read-only, unreachable, full: not the request's fault
            log.error("database unavailable: %s", str(exc.orig)[:300])
            return _error(
                503,
                "database_unavailable",
                "the database cannot take this request now; try again later",
                headers={"Retry-After": "5"},
            )
        # the edge refuses NUL characters (core.edge); a NUL that came another way and that
        # PostgreSQL refused is still bad input, not a fault
        if refused_nul_character(exc):
            return _error(422, "invalid_character", "the request contains a NUL character")
        return await unexpected(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", None)
        log.exception("unhandled error (request %s)", request_id, exc_info=exc)
        return _error(
            500,
            "internal_error",
            "an internal error occurred; it has been logged",
            {"request_id": request_id},
        )


def install_operations(app: FastAPI) -> None:
    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Database reachable and migrations current (503 otherwise)",
    )
    async def readyz(request: Request) -> JSONResponse:
        db: Database = request.app.state.db
        checks: dict[str, Any] = {}
        try:
            async with db.unit_of_work(readonly=True) as session:
                await session.execute(text("SELECT 1"))
                current = await migrate.current_revisions(session)
            checks["database"] = "ok"
            head = migrate.head_revisions()
            checks["migrations"] = (
                "ok" if current == head else {"current": sorted(current), "head": sorted(head)}
            )
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        if checks["database"] == "ok":
            try:
                await db.probe_write()
                checks["writes"] = "ok"
            except Exception as exc:
                checks["writes"] = f"refused: {type(exc).__name__}"
        ready = all(checks.get(k) == "ok" for k in ("database", "writes", "migrations"))
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics (text format); YINGJI_METRICS_TOKEN as a bearer token, "
        "else open in local/test/drill and loopback-only in staging/production",
    )
    async def prometheus(request: Request) -> Response:
        allow_metrics(request)
        return PlainTextResponse(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)


def allow_metrics(request: Request) -> None:
    """``/metrics`` tells how busy the centre is and who fails to sign in: with a token set,
    only for its bearer; without, in staging and production only to a loopback caller (a
    Prometheus on the same host; through nginx the caller is the client, not loopback)."""
    settings: Settings = request.app.state.settings
    if settings.metrics_token is not None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        expected = settings.metrics_token.get_secret_value()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Unauthenticated("not_authenticated", "give the metrics token as a bearer token")
        return
    if not settings.exposed:
        return
    address = client_ip(request, settings)
    if address is None or not ipaddress.ip_address(address).is_loopback:
        raise PermissionDenied(
            "metrics_loopback_only",
            "metrics are served to loopback callers only; set YINGJI_METRICS_TOKEN",
        )


def install_web_app(app: FastAPI, dist: Path) -> None:
    """Serve the built browser app; unknown non-API paths get index.html (client routing)."""
    index = dist / "index.html"

    @app.get("/{path:path}", include_in_schema=False)
    async def web(path: str) -> Response:
        if path.startswith(("api/", "ws")) or path in ("docs", "redoc", "openapi.json"):
            return _error(404, "not_found", f"no route /{path}")  # docs: when turned off
        candidate = (dist / path).resolve()
        if path and candidate.is_file() and dist.resolve() in candidate.parents:
            cache = (
                "public, max-age=31536000, immutable" if "/assets/" in f"/{path}" else "no-cache"
            )
            return FileResponse(candidate, headers={"Cache-Control": cache})
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return PlainTextResponse(
            "Yingji API is running; the web app is not built (run `make web`).", status_code=200
        )


#: New container objects (less those freed) between two collections of the youngest
#: generation; Python's default is 700. A report leaves about 150 (the ORM's and asyncio's
#: cycles), so with the default a young collection ran every five reports and a full one every
#: few seconds under load; now one every 130 reports, and a full one every few minutes. A full
#: collection walks everything built since start-up (the text profiles the matcher keeps):
#: 13-31 ms within 20 s of load and growing with them, in the middle of whichever requests are
#: in flight, which was most of the p99 of ``bench.intake``'s open loop. What waits longer for
#: the collector is cyclic garbage: the server's resident memory stayed the same.
GC_YOUNG_THRESHOLD = 20_000


async def warm_caches(db: Database) -> None:
    """Build the reference data every report needs (the gazetteer, the category table and the
    matcher's indexes: 40-180 ms) before the first request instead of inside it. A database
    that cannot give it yet (unreachable, not migrated) does not stop the start: ``/readyz``
    says what is wrong, and the first report builds it."""
    try:
        await domain.warm(db, domains.EVERYTHING)
    except (DBAPIError, OSError) as exc:
        log.warning("reference data not built at start", extra={"error": str(exc)[:200]})


async def schedule_audit_anchor(db: Database) -> None:
    """Whatever runs timers makes sure the audit head is published (core.audit); a database
    that cannot be written yet does not stop the start (``/readyz`` says what is wrong)."""
    try:
        await audit.ensure_anchor_timer(db)
    except (DBAPIError, OSError) as exc:
        log.warning("audit anchor not scheduled at start", extra={"error": str(exc)[:200]})


def settle_heap() -> None:
    """Move what start-up built (modules, the app, the gazetteer tables of ``cpca``, the
    matcher's indexes) out of the cycle collector's sight: it lives as long as the process.
    Without this every full collection walks it, a pause of about 160 ms in the middle of a
    request on this class of machine; with it, under 30 ms (``gc.freeze``, Python's advice for
    long-running servers). Then collect less often (``GC_YOUNG_THRESHOLD``)."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, oldest)


class YingjiApp(FastAPI):
    """FastAPI with the edge around everything, Starlette's error middleware included:
    security headers on every response (a 500 too), and no exception left to the server."""

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.settings
        policy = edge.content_security_policy(edge.origins_of(settings.base_layer_urls()))
        return edge.SecurityHeaders(
            edge.UnexpectedErrorGuard(super().build_middleware_stack()),
            policy=policy,
            hsts=settings.exposed,
        )


def body_limits(settings: Settings) -> edge.BodyLimits:
    """1 MiB for JSON, more for multipart uploads and for the routes that take reports with
    their attachments in base64 (``Settings.report_body_limit``)."""
    reports = settings.report_body_limit
    return edge.BodyLimits(
        plain=settings.max_json_bytes,
        upload=settings.upload_body_limit,
        routes={
            ("POST", "/api/v1/intake/reports"): reports,
            ("POST", "/api/v1/intake/reports:batch"): reports,
        },
    )


def create_app(
    settings: Settings | None = None,
    *,
    run_worker: bool = True,
    clock_override: clock.Clock | None = None,
    bus: Bus | None = None,
) -> FastAPI:
    """Build the application. ``run_worker`` also runs the relay and the timer worker here."""
    settings = settings or get_settings()
    if clock_override is not None:
        clock.set_clock(clock_override)
    elif settings.clock_rate != 1.0:
        clock.set_clock(clock.SystemClock(settings.clock_rate))
    domains.install()
    redact_secrets_in_logs()
    if settings.env == "test":
        security.configure_hasher(cheap=True)
    audit.configure(audit.config_from(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            settings.database_url,
            sqlite_synchronous=settings.sqlite_synchronous,
            pool_size=settings.db_pool_size,
        )
        the_bus = bus or make_bus(settings.nats_url, settings.nats_stream)
        hub = Hub()
        the_bus.subscribe("realtime.hub", hub.on_event, durable=False)
        install_jobs(the_bus, db)
        app.state.db, app.state.bus, app.state.hub = db, the_bus, hub
        worker, loops = start_workers(db, settings) if run_worker else (None, [])
        if run_worker:
            await schedule_audit_anchor(db)
        await the_bus.start(db, run_relay=run_worker)
        app.state.timer_worker = worker
        app.state.background_workers = loops
        if settings.env != "test":
            await warm_caches(db)
            settle_heap()
        log.info("yingji started", extra={"path": settings.database_url.split("@")[-1]})
        try:
            yield
        finally:
            await the_bus.stop()
            await stop_workers(worker, loops)
            await db.dispose()

    docs = settings.docs_enabled
    app = YingjiApp(
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        title="Yingji 应急 — integrated emergency command and linkage platform",
        version=__version__,
        lifespan=lifespan,
        description=(
            "Every route declares the permission it needs. Errors are "
            '`{"error": {"code", "message", "details"}}` with a stable `code`. Browser clients '
            "sign in with `/api/v1/auth/login` (session cookie + `X-CSRF-Token` header on "
            "unsafe methods); integrations with `/api/v1/auth/token` (OAuth2 password form) "
            "and `Authorization: Bearer`."
        ),
    )
    app.state.settings = settings
    # added last is outermost: the request id and access log see what the guard refuses
    app.add_middleware(
        edge.RequestGuard, limits=body_limits(settings), credentials_hold=credentials_hold
    )
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    install_operations(app)
    for declared in domains.EVERYTHING:
        for router in declared.routers:
            app.include_router(router)
    install_web_app(app, settings.web_dist or WEB_DIST)
    return app
