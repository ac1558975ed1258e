"""E-mail over SMTP (aiosmtplib): subject, plain text, HTML and the area's map inline."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from yingji.notify import render
from yingji.notify.channels import ChannelError, Outgoing, Sent
from yingji.settings import Settings

ADDRESS = re.compile(r"^[^@\s<>,;\"']{1,64}@[A-Za-z0-9.-]{1,253}$")


class MapCache:
    """The area's map drawn once per message content (the sender reuses one content object for
    all of a message's deliveries), for the last few messages."""

    size = 32

    def __init__(self) -> None:
        self._maps: dict[int, tuple[dict[str, object], bytes | None]] = {}

    def get(self, content: dict[str, object]) -> bytes | None:
        known = self._maps.get(id(content))
        if known is not None and known[0] is content:
            return known[1]
        picture = render.map_png(content.get("area"), content.get("level"))
        if len(self._maps) >= self.size:
            self._maps.pop(next(iter(self._maps)))
        self._maps[id(content)] = (content, picture)
        return picture


def build_message(item: Outgoing, *, sender: str, maps: MapCache | None = None) -> EmailMessage:
    """The message for ``item`` (multipart/alternative; the HTML's map as a related part)."""
    picture = (maps or MapCache()).get(item.content)
    parts = render.email_parts(item.content, item.ack_url, with_map=picture is not None)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = item.address
    message["Subject"] = parts["subject"]
    message["Message-ID"] = make_msgid(idstring=item.idempotency_key)
    message["X-Yingji-Delivery"] = item.idempotency_key
    message.set_content(parts["text"])
    message.add_alternative(parts["html"], subtype="html")
    if picture is not None:
        html_part = message.get_body(preferencelist=("html",))
        if isinstance(html_part, EmailMessage):
            html_part.add_related(picture, maintype="image", subtype="png", cid="<area-map>")
    return message


class EmailChannel:
    name = "email"

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ValueError("the e-mail channel needs YINGJI_SMTP_HOST")
        self.settings = settings
        self.maps = MapCache()

    async def send(self, item: Outgoing) -> Sent:
        if not ADDRESS.match(item.address):
            raise ChannelError("email_address_invalid", permanent=True)
        s = self.settings
        message = build_message(item, sender=s.smtp_from, maps=self.maps)
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                use_tls=s.smtp_tls == "tls",
                start_tls=s.smtp_tls == "starttls",
                timeout=s.notify_send_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise ChannelError("email_refused", permanent=True, detail=str(exc)[:200]) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise ChannelError("email_unavailable", detail=str(exc)[:200]) from exc
        return Sent(gateway_ref=str(message["Message-ID"]))

    async def close(self) -> None:
        return None
