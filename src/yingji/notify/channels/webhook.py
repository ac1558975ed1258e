"""DingTalk (钉钉 / 浙政钉) and WeCom (企业微信) robots: a card posted to the robot's webhook.

The address is the robot's webhook URL; it must point at one of ``YINGJI_NOTIFY_WEBHOOK_HOSTS``
(https, or http to a loopback host), so a contact point cannot make the server call anywhere.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import httpx

from yingji.notify import render
from yingji.notify.channels import ChannelError, Outgoing, Sent, http_error
from yingji.settings import Settings


def webhook_allowed(url: str, hosts: list[str]) -> bool:
    """Whether ``url`` is a robot webhook the server may call."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if not host or host not in {h.lower() for h in hosts} or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return True
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    return parts.scheme == "http" and loopback


def dingtalk_body(item: Outgoing) -> dict[str, Any]:
    card = render.card(item.content, item.ack_url)
    if item.ack_url:
        return {
            "msgtype": "actionCard",
            "actionCard": {
                "title": card["title"],
                "text": card["markdown"],
                "btnOrientation": "0",
                "singleTitle": "确认收到",
                "singleURL": item.ack_url,
            },
        }
    return {"msgtype": "markdown", "markdown": {"title": card["title"], "text": card["markdown"]}}


def wecom_body(item: Outgoing) -> dict[str, Any]:
    card = render.card(item.content, item.ack_url)
    return {"msgtype": "markdown", "markdown": {"content": card["markdown"]}}


class WebhookChannel:
    def __init__(self, name: str, settings: Settings) -> None:
        self.name = name
        self.settings = settings
        self.client = httpx.AsyncClient(
            timeout=settings.notify_send_timeout_seconds, follow_redirects=False
        )

    async def send(self, item: Outgoing) -> Sent:
        if not webhook_allowed(item.address, self.settings.notify_webhook_hosts):
            raise ChannelError(f"{self.name}_webhook_not_allowed", permanent=True)
        body = dingtalk_body(item) if self.name == "dingtalk" else wecom_body(item)
        try:
            response = await self.client.post(item.address, json=body)
        except httpx.HTTPError as exc:
            raise ChannelError(f"{self.name}_unavailable", detail=type(exc).__name__) from exc
        if response.status_code >= 300:
            raise http_error(self.name, response.status_code)
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        errcode = answer.get("errcode", 0) if isinstance(answer, dict) else 0
        if errcode not in (0, "0"):
            raise ChannelError(f"{self.name}_errcode", detail=str(errcode)[:40])
        return Sent()

    async def close(self) -> None:
        await self.client.aclose()
