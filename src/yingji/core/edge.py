"""The edge of the HTTP application: what every request and response passes through before any
route parses or sees it (pure ASGI, no framework).

- :class:`RequestGuard` reads the request body under a limit (refusing a too-large
  ``Content-Length`` at once, counting a streamed body as it arrives) and refuses NUL
  characters in the path, the query string and textual bodies, before anything parses them.
  A body above the plain limit is read further only for a caller whose credentials hold.
- :class:`SecurityHeaders` puts the Content-Security-Policy and its companions on every
  response that does not set its own.
- :class:`UnexpectedErrorGuard` makes an exception that escaped every handler a well-formed
  500 (or, after the 500 was sent, nothing more), so that the server keeps the connection.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("yingji.edge")

MiB = 1024 * 1024

#: Does this request (its scope: headers, cookies) carry credentials that hold?
CredentialCheck = Callable[[Scope], Awaitable[bool]]


def error_body(code: str, message: str, details: Any = None) -> bytes:
    return json.dumps(
        {"error": {"code": code, "message": message, "details": details}}, ensure_ascii=False
    ).encode()


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """An answer in the error envelope, sent straight from the edge."""
    body = error_body(code, message, details)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


# ---------------------------------------------------------------------------- request bodies


@dataclass(frozen=True)
class BodyLimits:
    """How many bytes a request body may have.

    ``plain`` for JSON and every other body, ``upload`` for ``multipart/form-data``, and
    ``routes`` for the few routes that carry more in JSON (``(method, path)`` → bytes).
    """

    plain: int = 1 * MiB
    upload: int = 12 * MiB
    routes: dict[tuple[str, str], int] = field(default_factory=dict)

    def for_request(self, method: str, path: str, content_type: str) -> int:
        """``content_type`` in lower case."""
        limit = self.routes.get((method, path))
        if limit is not None:
            return limit
        if content_type.startswith("multipart/"):
            return self.upload
        return self.plain


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(code)
        self.status, self.code, self.message, self.details = status, code, message, details


class _Disconnected(Exception):
    pass


# a JSON escape of NUL: \u0000 after an even number of backslashes (\\u0000 is text)
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def _nul_in_query(query: bytes) -> bool:
    return b"%00" in query or b"\x00" in query


def _nul_in_body(content_type: str, body: bytes) -> bool:
    """A NUL character in a textual body (JSON, form, text, multipart fields)."""
    if not body:
        return False
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        return b"\x00" in body or (b"\\u0000" in body and _JSON_NUL.search(body) is not None)
    if kind == "application/x-www-form-urlencoded":
        return _nul_in_query(body)
    if kind.startswith("text/"):
        return b"\x00" in body
    if kind == "multipart/form-data":
        return _nul_in_form_fields(content_type, body)
    return False


def _nul_in_form_fields(content_type: str, body: bytes) -> bool:
    """NUL in a multipart field that is not a file (files are binary and may hold NULs)."""
    found = _BOUNDARY.search(content_type)
    if found is None or b"\x00" not in body:
        return False
    for part in body.split(b"--" + found.group(1).encode("latin-1")):
        head, separator, content = part.partition(b"\r\n\r\n")
        if separator and b"filename=" not in head.lower() and b"\x00" in content:
            return True
    return False


class RequestGuard:
    """Body limits and NUL characters, answered before the application reads anything.

    The body is read here, whole, then handed to the application as one message: the
    application would read it whole anyway (JSON, forms), so this costs no memory of its own.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: BodyLimits,
        credentials_hold: CredentialCheck | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        self.credentials_hold = credentials_hold

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive)
        except _Disconnected:
            return
        except _Refused as refused:
            # what the client still sends of a refused body, the server reads and drops
            await send_error(send, refused.status, refused.code, refused.message, refused.details)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, scope: Scope, receive: Receive) -> bytes:
        if "\x00" in scope["path"] or _nul_in_query(scope.get("query_string", b"")):
            raise _Refused(422, "invalid_character", "the request contains a NUL character")
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1")  # boundary: as sent
        limit = self.limits.for_request(scope["method"], scope["path"], content_type.lower())
        declared = headers.get(b"content-length")
        if declared is not None:
            await self._check_declared(scope, declared, limit)
        body = await self._receive_body(scope, receive, limit, checked=declared is not None)
        if _nul_in_body(content_type, body):
            raise _Refused(422, "invalid_character", "the request contains a NUL character")
        return body

    async def _check_declared(self, scope: Scope, declared: bytes, limit: int) -> None:
        """Refuse at once what ``Content-Length`` says is too large."""
        try:
            length = int(declared)
        except ValueError:
            raise _Refused(400, "bad_request", "Content-Length is not a number") from None
        if length > limit:
            raise self._too_large(limit)
        if length > self.limits.plain:
            await self._require_credentials(scope)

    async def _receive_body(
        self, scope: Scope, receive: Receive, limit: int, *, checked: bool
    ) -> bytes:
        """The body, counted as it arrives (chunked bodies have no ``Content-Length``)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise self._too_large(limit)
            if size > self.limits.plain and not checked:
                await self._require_credentials(scope)
                checked = True
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _too_large(self, limit: int) -> _Refused:
        return _Refused(
            413,
            "payload_too_large",
            f"the request body is larger than {limit} bytes",
            {"max_bytes": limit},
        )

    async def _require_credentials(self, scope: Scope) -> None:
        if self.credentials_hold is not None and not await self.credentials_hold(scope):
            raise _Refused(
                401,
                "not_authenticated",
                f"sign in first: a body over {self.limits.plain} bytes is read only "
                "for a signed-in caller",
            )


# ---------------------------------------------------------------------------- response headers

DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})


def origins_of(urls: Iterable[str]) -> list[str]:
    """The CSP source expressions of the hosts ``urls`` name (tile templates included):
    ``https://t0.tianditu.gov.cn/…`` → ``https://t0.tianditu.gov.cn``; a templated host label
    (``t{s}.example.org``) becomes a wildcard (``*.example.org``); relative URLs add nothing."""
    found: list[str] = []
    for url in urls:
        try:
            parts = urlsplit(url.strip())
        except ValueError:
            continue
        if parts.scheme not in ("http", "https") or not parts.netloc:
            continue
        host = parts.netloc.rsplit("@", 1)[-1]
        if "{" in host:
            labels = host.split(".")
            host = ".".join(["*", *[label for label in labels if "{" not in label]])
        if re.fullmatch(r"[A-Za-z0-9*.\-:\[\]]+", host) is None:
            continue
        origin = f"{parts.scheme}://{host}"
        if origin not in found:
            found.append(origin)
    return found


def content_security_policy(extra_origins: Iterable[str] = ()) -> str:
    """The policy the browser app runs under.

    MapLibre parses tiles in a worker started from a ``blob:`` URL and draws from ``data:`` and
    ``blob:`` images; Element Plus and MapLibre set inline ``style`` attributes. No inline
    script and no ``eval``: vue-i18n compiles messages without ``new Function`` (JIT).
    ``extra_origins``: where the configured map base layers load tiles from.
    """
    tiles = " ".join(extra_origins)
    with_tiles = f" {tiles}" if tiles else ""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: blob:{with_tiles}",
            "font-src 'self' data:",
            f"connect-src 'self'{with_tiles}",
            "worker-src 'self' blob:",
            "child-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


#: FastAPI's /docs and /redoc pages load Swagger UI and ReDoc from a CDN and start them with an
#: inline script.
DOCS_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com",
        "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
        "font-src 'self' https://fonts.gstatic.com",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ]
)


class SecurityHeaders:
    """``Content-Security-Policy``, ``X-Content-Type-Options: nosniff``, ``X-Frame-Options``,
    ``Referrer-Policy`` (and ``Strict-Transport-Security`` when ``hsts``) on every HTTP
    response; a header the route set itself (a file download's own CSP) is kept."""

    def __init__(self, app: ASGIApp, *, policy: str, hsts: bool) -> None:
        self.app = app
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if hsts:
            common.append((b"strict-transport-security", b"max-age=31536000"))
        self.headers = [(b"content-security-policy", policy.encode()), *common]
        self.docs_headers = [(b"content-security-policy", DOCS_POLICY.encode()), *common]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ours = self.docs_headers if scope["path"] in DOCS_PATHS else self.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in ours if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ---------------------------------------------------------------------------- unexpected errors


class UnexpectedErrorGuard:
    """The last line: an exception that reached the server would make it drop the connection
    (uvicorn closes it when the application raises after its response began). Starlette's
    error middleware sends the 500 (``app.py``'s handler logs it) and raises again; here that
    second raise ends. Should nothing have been sent yet, this sends the 500 itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = completed = False

        async def tracking_send(message: Message) -> None:
            nonlocal started, completed
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                completed = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if completed:  # the 500 went out; its handler logged the error
                return
            log.exception("unhandled error %s %s", scope.get("method"), scope.get("path"))
            if not started:
                request_id = (scope.get("state") or {}).get("request_id")
                await send_error(
                    send,
                    500,
                    "internal_error",
                    "an internal error occurred; it has been logged",
                    {"request_id": request_id},
                )


__all__ = [
    "BodyLimits",
    "CredentialCheck",
    "RequestGuard",
    "SecurityHeaders",
    "UnexpectedErrorGuard",
    "content_security_policy",
    "origins_of",
    "send_error",
]
