"""Why, as data: a ``code`` and its ``params``, worded by the web app in the reader's language.

The server never sends prose meant for the operator. A reason (a level rule's threshold, the
matcher's evidence, the routing rule that chose a unit) and a timeline entry are stored and
returned as ``{"code": ..., "params": {...}}``; ``web/src/i18n`` holds the words for each code.
Text a person typed (a note, a reason for a level change) travels as a parameter, unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

#: The code of a reason or timeline entry stored before codes existed: ``params.text`` is it.
LEGACY = "legacy"


class Reason(BaseModel):
    """A reason or an event in words the reader's screen chooses: a code and its parameters."""

    code: str = Field(description="what happened or why, e.g. `level.reached`; see web/src/i18n")
    params: dict[str, Any] = Field(
        default_factory=dict, description="the values the words need (numbers, names, codes)"
    )


def reason(code: str, **params: Any) -> dict[str, Any]:
    """A reason as it is stored in a JSON column and sent in events."""
    return {"code": code, "params": params}


def legacy(text: str | None) -> dict[str, Any] | None:
    """A reason that exists only as text (typed by a person, or stored before codes)."""
    return None if text is None else reason(LEGACY, text=text)
