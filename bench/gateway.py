"""A local HTTP SMS/voice gateway peer for the warning benchmarks and the crash-safety test: it
takes ``POST``s of JSON, answers ``200`` with a gateway id, and counts the sends it got by their
idempotency key (the delivery id), so a caller can tell a lost send (a key never seen) from a
doubled one (a key seen twice) — a real gateway would send a key's message once.

It runs in a thread of its own (``ThreadingHTTPServer``) so it keeps answering whatever the
caller's event loop is doing, and it can be made slow (``delay`` seconds per send) so that a worker
killed mid-publication is caught with sends in flight.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 64 * 1024
KEY_HEADERS = ("Idempotency-Key", "X-Idempotency-Key")
KEY_FIELDS = ("idempotency_key", "key", "id")


class Gateway:
    """``with Gateway() as gw:`` — ``gw.url`` to configure, ``gw.sends`` to count."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.sends: Counter[str] = Counter()  # idempotency key -> sends received
        self.bodies: dict[str, dict[str, Any]] = {}  # idempotency key -> the first body
        self.unkeyed = 0  # sends without any idempotency key (each one a defect)
        self.lock = threading.Lock()
        self.first_at: float | None = None
        self.last_at: float | None = None
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self.send_error(413)
                    return
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                key = next((self.headers[h] for h in KEY_HEADERS if self.headers.get(h)), None)
                if key is None and isinstance(body, dict):
                    key = next((str(body[f]) for f in KEY_FIELDS if body.get(f)), None)
                if gateway.delay:
                    time.sleep(gateway.delay)
                gateway.record(key, body if isinstance(body, dict) else {})
                answer = json.dumps({"id": f"gw-{key}", "status": "accepted"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/send"

    def record(self, key: str | None, body: dict[str, Any]) -> None:
        with self.lock:
            now = time.monotonic()
            self.first_at = self.first_at or now
            self.last_at = now
            if key is None:
                self.unkeyed += 1
                return
            self.sends[key] += 1
            self.bodies.setdefault(key, body)

    def distinct(self) -> int:
        with self.lock:
            return len(self.sends)

    def doubled(self) -> dict[str, int]:
        """Keys sent more than once (the gateway took them once: the key is the same)."""
        with self.lock:
            return {key: n for key, n in self.sends.items() if n > 1}

    def __enter__(self) -> Gateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
