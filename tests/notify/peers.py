"""Real peers for the channel tests: an HTTP gateway / robot webhook on 127.0.0.1 (a thread)
that honours idempotency keys, an SMTP server (aiosmtpd), and a sample warning's content."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import free_port
from tests.factories import square
from yingji.settings import Settings


@dataclass
class Gateway:
    """What the gateway saw: every request, and the messages it would send (one per key)."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    #: answer these statuses first (one per request), then 200
    fail_with: list[int] = field(default_factory=list)
    answer: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def sent(self) -> list[dict[str, Any]]:
        """The messages it sent on: the first accepted request of each idempotency key."""
        seen: dict[str, dict[str, Any]] = {}
        for key, body in zip(self.keys, self.requests, strict=True):
            if key and key not in seen and body.get("_accepted"):
                seen[key] = body
        return list(seen.values())


@contextmanager
def http_gateway(path: str = "/send") -> Iterator[Gateway]:
    gateway = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # noqa: ARG002 - quiet
            return

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            with gateway.lock:
                status = gateway.fail_with.pop(0) if gateway.fail_with else 200
                body["_accepted"] = status == 200 and self.path == path
                gateway.requests.append(body)
                gateway.keys.append(self.headers.get("Idempotency-Key") or "")
                gateway.headers.append(dict(self.headers.items()))
                answer = gateway.answer or {"id": f"gw-{len(gateway.requests)}", "errcode": 0}
            payload = json.dumps(answer if status == 200 else {"error": status}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    gateway.url = f"http://127.0.0.1:{port}{path}"
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(  # noqa: N802 - aiosmtpd's name
        self,
        server: object,  # noqa: ARG002
        session: object,  # noqa: ARG002
        envelope: Any,
    ) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[int, _Inbox]]:
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def warning_content(**changes: Any) -> dict[str, Any]:
    """A published orange rainstorm warning's message content (the contract's shape)."""
    content: dict[str, Any] = {
        "kind": "warning",
        "warning_id": "5f0c3a4e-0000-4000-8000-000000000001",
        "number": "331126-2026-0007",
        "msg_type": "Alert",
        "type_code": "rainstorm",
        "type_zh": "暴雨",
        "type_en": "Rainstorm",
        "level": "orange",
        "level_zh": "橙色",
        "headline": "庆元县气象台发布暴雨橙色预警",
        "description": "预计未来6小时甲镇、乙镇降雨量将达50毫米以上，局地可达80毫米。",
        "instruction": "请做好山洪地质灾害防御，转移危险区域人员。",
        "issuer": "庆元县应急管理局",
        "area_desc": "甲镇、乙镇",
        "area": {"type": "MultiPolygon", "coordinates": [square(119.0, 27.5, 0.1)["coordinates"]]},
        "onset_at": "2026-07-01T16:00:00+08:00",
        "expires_at": "2026-07-02T04:00:00+08:00",
        "sent_at": "2026-07-01T16:00:00+08:00",
        "ack_url": "https://yingji.example.org/ack/{token}",
        "must_ack": True,
    }
    content.update(changes)
    return content


def with_settings(settings: Settings, **changes: Any) -> Settings:
    """The test's settings with ``changes`` (validated, so secrets become ``SecretStr``)."""
    return Settings.model_validate({**settings.model_dump(), "notify_retry_seconds": 10, **changes})
