"""The 叫应 part's background work: subscribers that start and stop the chains and take voice
answers, and the timer handlers of the chains' steps and of the auditor (see ``calling``)."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core.db import Database
from yingji.core.errors import NotFound
from yingji.core.events import DomainEvent
from yingji.core.timers import TimerFiring
from yingji.settings import get_settings
from yingji.warning import calling

log = logging.getLogger(__name__)

CALL_STEP_TIMER = calling.CALL_STEP_TIMER
CALL_AUDIT_TIMER = calling.CALL_AUDIT_TIMER
ACK_EVENT_TIMER = calling.ACK_EVENT_TIMER
#: the key a person presses in a voice call to acknowledge
VOICE_ACK_KEY = "1"


def _warning_id(event: DomainEvent) -> uuid.UUID | None:
    """The warning an event of the workflow names (``payload.warning.id``, else the subject)."""
    said = event.payload.get("warning")
    raw = said.get("id") if isinstance(said, dict) else None
    try:
        return uuid.UUID(str(raw or event.subject_id))
    except ValueError:
        return None


class StartCallChains:
    """``warning.published``: every called person's chain starts (idempotent)."""

    name = "warning.start_call_chains"
    types = ("warning.published",)

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(self, event: DomainEvent) -> None:
        warning_id = _warning_id(event)
        if warning_id is None:
            return
        async with self.db.unit_of_work() as session:
            await calling.start_chains(session, warning_id=warning_id)


class StopCallChains:
    """A warning no longer in force: its chains' open timers are cancelled."""

    name = "warning.stop_call_chains"
    types = ("warning.cancelled", "warning.superseded", "warning.expired")

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(self, event: DomainEvent) -> None:
        warning_id = _warning_id(event)
        if warning_id is None:
            return
        async with self.db.unit_of_work() as session:
            await calling.stop_chains(session, warning_id=warning_id)


class VoiceAnswers:
    """``notify.delivery.answered``: key 1 in a warning's voice call is that person's answer;
    any other key is kept in the chain as a receipt (a receipt is never an answer)."""

    name = "warning.voice_answers"
    types = ("notify.delivery.answered",)

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(self, event: DomainEvent) -> None:
        payload = event.payload
        try:
            warning_id = uuid.UUID(str(payload.get("subject_id")))
            recipient_id = uuid.UUID(str(payload.get("recipient_ref")))
        except ValueError:
            return  # not a warning's delivery
        key = None if payload.get("key") is None else str(payload.get("key"))[:8]
        async with self.db.unit_of_work() as session:
            if key == VOICE_ACK_KEY:
                try:
                    await calling.acknowledge(
                        session, via="voice", recipient_id=recipient_id, warning_id=warning_id
                    )
                except NotFound:
                    log.info("voice answer for no recipient", extra={"ref": str(recipient_id)})
                return
            await calling.record_receipt(
                session,
                warning_id=warning_id,
                recipient_id=recipient_id,
                channel=str(payload.get("channel") or "voice"),
                key=key,
                delivery_id=payload.get("delivery_id"),
            )


async def call_step(session: AsyncSession, firing: TimerFiring) -> None:
    """``warning.call_step``: a chain's wait is over."""
    await calling.call_step(session, firing, public_url=get_settings().public_url)


async def ack_event(session: AsyncSession, firing: TimerFiring) -> None:
    """``warning.ack_event``: ``warning.acknowledged`` emitted after the ack committed."""
    await calling.announce_ack(session, firing)


async def call_audit(session: AsyncSession, firing: TimerFiring) -> None:
    """``warning.call_audit``: stuck chains re-armed and reported, then the next round."""
    await calling.run_call_audit(session, firing)


async def ensure_call_audit(session: AsyncSession) -> None:
    """The auditor runs (scheduled at start if it is not)."""
    await calling.ensure_call_audit(session)
