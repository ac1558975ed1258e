"""Receipts from the SMS and voice gateways: ``POST /api/v1/notify/receipts/{channel}``.

The gateway proves itself with the shared secret (``X-Yingji-Receipt-Secret``, compared in
constant time; unset in the settings: every receipt is refused). The body names the delivery by
the idempotency key it was sent with (``ref``) or the gateway's own id, says whether it arrived,
and for a voice call which key was pressed. Bodies are small and bounded; nothing is echoed
back but the delivery's id and state.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field

from yingji.core.errors import NotFound, Unauthenticated
from yingji.core.web import Session, get_settings
from yingji.notify import delivery

router = APIRouter(prefix="/api/v1/notify/receipts", tags=["notify"])


class ReceiptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ref: str = Field(
        min_length=1, max_length=200, description="`delivery-<n>` as sent, or the gateway's id"
    )
    status: Literal["delivered", "failed"]
    key: str | None = Field(
        default=None, pattern=r"^[0-9*#]{1,4}$", description="voice: the key pressed"
    )
    code: str | None = Field(
        default=None, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$", description="why it failed"
    )


class ReceiptOut(BaseModel):
    delivery_id: int
    state: str
    changed: bool


@router.post(
    "/{channel}",
    response_model=ReceiptOut,
    summary="A gateway's delivery receipt (shared secret; voice: the key pressed)",
)
async def receipt(
    channel: Literal["sms", "voice"],
    body: ReceiptIn,
    request: Request,
    session: Session,
    secret: Annotated[str | None, Header(alias="X-Yingji-Receipt-Secret", max_length=200)] = None,
) -> ReceiptOut:
    expected = get_settings(request).notify_receipt_secret
    if (
        expected is None
        or secret is None
        or not hmac.compare_digest(
            secret.encode("utf-8"), expected.get_secret_value().encode("utf-8")
        )
    ):
        raise Unauthenticated("receipt_secret_invalid", "missing or wrong receipt secret")
    if body.key is not None and channel != "voice":
        body = body.model_copy(update={"key": None})
    row = await delivery.find_by_ref(session, channel=channel, ref=body.ref)
    if row is None:
        raise NotFound("delivery_not_found", "no delivery with that reference")
    facts = await delivery.apply_receipt(
        session, row=row, delivered=body.status == "delivered", key=body.key, code=body.code
    )
    return ReceiptOut(**facts)
