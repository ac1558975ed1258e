"""SMS and voice through HTTP gateways: ``POST`` JSON with the delivery's idempotency key.

The request (both): ``{"id": "delivery-<n>", "to": "<mobile>", "text": "…", "callback": "<url>"}``
with headers ``Authorization: Bearer <token>`` and ``Idempotency-Key: delivery-<n>``; the voice
gateway gets the speech text and ``"keys": ["1"]`` (the keys it reports back). The answer may
name the gateway's own id (``{"id": "…"}``). Receipts come back to
``POST /api/v1/notify/receipts/{sms|voice}`` (``notify.gateways_api``).
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from yingji.notify import render
from yingji.notify.channels import ChannelError, Outgoing, Sent, http_error
from yingji.settings import Settings

MOBILE = re.compile(r"^\+?[0-9]{5,20}$")


def gateway_body(item: Outgoing, *, callback: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": item.idempotency_key,
        "to": item.address,
        "callback": callback,
    }
    if item.channel == "voice":
        body["text"] = render.speech_text(item.content, ask_key=item.ack_url is not None)
        body["keys"] = ["1"] if item.ack_url is not None else []
    else:
        body["text"] = render.sms_text(item.content, item.ack_url)
    return body


class GatewayChannel:
    def __init__(self, name: str, url: str, token: str | None, settings: Settings) -> None:
        self.name = name
        self.url = url
        self.callback = f"{settings.public_url.rstrip('/')}/api/v1/notify/receipts/{name}"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.AsyncClient(
            timeout=settings.notify_send_timeout_seconds, headers=headers, follow_redirects=False
        )

    async def send(self, item: Outgoing) -> Sent:
        address = re.sub(r"[\s-]", "", item.address)
        if not MOBILE.match(address):
            raise ChannelError(f"{self.name}_address_invalid", permanent=True)
        body = gateway_body(item, callback=self.callback)
        body["to"] = address
        try:
            response = await self.client.post(
                self.url, json=body, headers={"Idempotency-Key": item.idempotency_key}
            )
        except httpx.HTTPError as exc:
            raise ChannelError(f"{self.name}_unavailable", detail=type(exc).__name__) from exc
        if response.status_code >= 300:
            raise http_error(self.name, response.status_code)
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        ref = answer.get("id") if isinstance(answer, dict) else None
        return Sent(gateway_ref=str(ref)[:200] if ref else None)

    async def close(self) -> None:
        await self.client.aclose()
