"""``Instant``: the one datetime type a request may carry (a query filter, a field of a body).

Strict where pydantic's ``AwareDatetime`` is lax, and bounded:

- an ISO 8601 string with a date, a time and an offset (``2026-12-06T10:00:00+08:00``,
  ``…Z``); not a number, not a numeric string read as Unix time (``?until=0.5``), not a
  naive time;
- converted to UTC at once: an offset that carries the moment beyond what a ``datetime``
  holds (``9999-12-31T23:59:59-23:59``) is refused, not a 500 in the database layer;
- years 1900-2999 (in UTC), so that arithmetic on it (periods, deadlines) cannot overflow.

Python code may pass an aware ``datetime``; it is converted to UTC and bounded alike.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)

_ISO_8601 = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)"
)


def parse_instant(value: Any) -> datetime:
    """``value`` as an aware UTC datetime within [1900, 3000), else ``ValueError``."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and len(value) <= 40 and _ISO_8601.fullmatch(value):
        text = value.replace(",", ".")
        fraction = re.search(r"\.(\d+)", text)
        if fraction and len(fraction.group(1)) > 6:  # nanoseconds: keep microseconds
            text = text[: fraction.start(1) + 6] + text[fraction.end(1) :]
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"not a valid date and time: {exc}") from None
    else:
        raise ValueError(
            "give an ISO 8601 date and time with an offset, e.g. 2026-12-06T10:00:00+08:00"
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("give the offset (…Z or …+08:00): a time without one is ambiguous")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("the moment lies outside the years 1900-2999") from None
    if not EARLIEST <= moment < LATEST:
        raise ValueError("the moment lies outside the years 1900-2999")
    return moment


Instant = Annotated[
    datetime,
    BeforeValidator(parse_instant),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""An aware UTC datetime from an ISO 8601 string with an offset, years 1900-2999."""

__all__ = ["EARLIEST", "LATEST", "Instant", "parse_instant"]
