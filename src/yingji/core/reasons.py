"""Why, as data: a ``code`` and its ``params``, worded by the web app in the reader's language.

The server never sends prose meant for the operator. A reason (a level rule's threshold, the
matcher's evidence, the routing rule that chose a unit) and a timeline entry are stored and
returned as ``{"code": ..., "params": {...}}``; ``web/src/i18n`` holds the words for each code.
Text a person typed (a note, a reason for a level change) travels as a parameter, unchanged.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, get_args

from pydantic import BaseModel, Field

#: Every reason the server gives. ``web/src/i18n/features/words.ts`` words each one in zh-CN and
#: en under ``words.<code>`` (``tests/core/test_reasons.py`` fails when one is missing).
ReasonCode = Literal[
    # a reason typed by a person, or stored before codes existed: ``params.text`` is it
    "legacy",
    # level rules (``intake.levels``) and the duty officer's own choice
    "level.reached",
    "level.below_default",
    "level.default",
    "level.manual",
    # the matcher (``intake.matching``): a decision, and one candidate's evidence
    "match.join",
    "match.suggest",
    "match.ambiguous",
    "match.below",
    "match.none",
    "match.evidence",
    "match.out_of_reach",
    "match.unrelated",
    "match.too_late",
    "match.too_far",
    # what became of a report afterwards (``intake.flows``)
    "match.pending_verification",
    "match.rejected",
    "match.joined_by",
    # routing (``dispatch.service.route``) and the units a person chose or transferred to
    "routing.rule",
    "routing.chosen_by",
    "routing.transfer",
    # requests for resources (``resources.allocation``): the decider's words, a forwarding
    "request.approved",
    "request.rejected",
    "request.forwarded",
    "request.noted",
    # stock alerts to a warehouse's owning unit (``resources.jobs``)
    "stock.expiring",
    "stock.below_minimum",
]
REASON_CODES: tuple[ReasonCode, ...] = get_args(ReasonCode)

#: The code of a reason or timeline entry stored before codes existed: ``params.text`` is it.
LEGACY: ReasonCode = "legacy"


class Why(TypedDict):
    """A reason as it is stored in a JSON column (``*_why``) and sent in events."""

    code: str  # a ReasonCode when written now; rows read back may be older
    params: dict[str, Any]


class Reason(BaseModel):
    """A reason or an event in words the reader's screen chooses: a code and its parameters."""

    code: str = Field(description="what happened or why, e.g. `level.reached`; see web/src/i18n")
    params: dict[str, Any] = Field(
        default_factory=dict, description="the values the words need (numbers, names, codes)"
    )


def reason(code: ReasonCode, **params: Any) -> Why:
    """A reason as it is stored in a JSON column and sent in events."""
    return {"code": code, "params": params}


def legacy(text: str | None) -> Why | None:
    """A reason that exists only as text (typed by a person, or stored before codes)."""
    return None if text is None else reason(LEGACY, text=text)
