"""Every channel's plugin for the settings: a channel without configuration fails its
deliveries with ``channel_not_configured`` (so the recipient's next channel goes)."""

from __future__ import annotations

from yingji.core.db import Database
from yingji.notify.channels import ChannelPlugin, NotConfigured
from yingji.notify.channels.email import EmailChannel
from yingji.notify.channels.gateway import GatewayChannel
from yingji.notify.channels.mqtt import MqttChannel
from yingji.notify.channels.webhook import WebhookChannel
from yingji.settings import Settings


def build_channels(db: Database, settings: Settings) -> dict[str, ChannelPlugin]:
    found: dict[str, ChannelPlugin] = {
        "dingtalk": WebhookChannel("dingtalk", settings),
        "wecom": WebhookChannel("wecom", settings),
    }
    found["email"] = EmailChannel(settings) if settings.smtp_host else NotConfigured("email")
    for name, url, token in (
        ("sms", settings.sms_gateway_url, settings.sms_gateway_token),
        ("voice", settings.voice_gateway_url, settings.voice_gateway_token),
    ):
        found[name] = (
            GatewayChannel(name, url, token.get_secret_value() if token else None, settings)
            if url
            else NotConfigured(name)
        )
    for name in ("loudspeaker", "led"):
        found[name] = MqttChannel(name, db, settings) if settings.mqtt_url else NotConfigured(name)
    return found
