"""Channel plugins: one interface (:class:`ChannelPlugin`) for every way a delivery leaves.

The sender (``notify.delivery.DeliveryWorker``) hands a plugin one :class:`Outgoing` at a time;
the plugin renders it (``notify.render``), hands it to its peer and says what became of it: a
:class:`Sent` (the peer took it; ``delivered`` when taking it is the delivery) or a
:class:`ChannelError` with a stable code, ``permanent`` when trying again cannot help (the
channel is not configured, the address is refused) so the recipient's next channel goes at once.

The in-app channel is no plugin: the sender writes its notifications in the database, a batch in
one transaction (``notify.delivery``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Outgoing:
    """One delivery to send: who, where, what (the message's content) and its ack link."""

    delivery_id: int
    channel: str
    address: str
    name: str
    recipient_ref: str
    subject_id: str
    step: int
    kind: str
    content: dict[str, Any]
    #: the recipient's acknowledge link (``{public_url}/ack/<token>``) or None
    ack_url: str | None

    @property
    def idempotency_key(self) -> str:
        """The same for every try of this delivery: a gateway that saw it sends it once."""
        return f"delivery-{self.delivery_id}"


@dataclass(frozen=True)
class Sent:
    """The peer took the message; ``gateway_ref`` is its id for it (receipts name it)."""

    gateway_ref: str | None = None
    #: taking it is the delivery (nothing further will report it)
    delivered: bool = False


class ChannelError(Exception):
    """A send that failed, as a stable code; ``permanent``: no retry on this channel."""

    def __init__(self, code: str, *, permanent: bool = False, detail: str = "") -> None:
        self.code = code
        self.permanent = permanent
        self.detail = detail
        super().__init__(f"{code}: {detail}" if detail else code)


class ChannelPlugin(Protocol):
    """A way out. ``send`` may be called concurrently; ``close`` releases connections."""

    name: str

    async def send(self, item: Outgoing) -> Sent: ...

    async def close(self) -> None: ...


class NotConfigured:
    """A channel without its settings: every delivery fails at once (the next channel goes)."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def send(self, item: Outgoing) -> Sent:
        raise ChannelError("channel_not_configured", permanent=True, detail=item.channel)

    async def close(self) -> None:
        return None


PERMANENT_HTTP = frozenset({400, 401, 403, 404, 405, 410, 413, 415, 422})


def http_error(channel: str, status: int) -> ChannelError:
    """A gateway's refusal: a client error cannot get better by retrying; the rest may."""
    if status in PERMANENT_HTTP:
        return ChannelError(f"{channel}_refused", permanent=True, detail=str(status))
    return ChannelError(f"{channel}_unavailable", detail=str(status))
