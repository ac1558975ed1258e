"""The only source of "now" in Yingji.

Business time may run faster than wall time (``YINGJI_CLOCK_RATE``) for drills and demos, and
tests pass a :class:`ManualClock` they move by hand. Everything that asks what time it is asks
:func:`now`; everything that waits for business time converts with :func:`wall_seconds`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # the users' time zone, for numbers and bulletins


class Clock(Protocol):
    rate: float

    def now(self) -> datetime: ...


class SystemClock:
    """Wall time, optionally accelerated from the moment the clock was created."""

    def __init__(self, rate: float = 1.0) -> None:
        self.rate = rate
        self._wall_start = time.time()
        self._mono_start = time.monotonic()

    def now(self) -> datetime:
        elapsed = time.monotonic() - self._mono_start
        return datetime.fromtimestamp(self._wall_start + elapsed * self.rate, tz=UTC)


class ManualClock:
    """A clock that moves only when told to; for tests."""

    rate = 1.0

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 7, 1, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment

    def advance(self, delta: timedelta | float) -> datetime:
        self._now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        return self._now


_clock: Clock = SystemClock()


def now() -> datetime:
    """Business "now", timezone-aware UTC."""
    return _clock.now()


def get_clock() -> Clock:
    return _clock


def set_clock(clock: Clock) -> Clock:
    """Install ``clock`` as the process clock; returns the previous one."""
    global _clock  # noqa: PLW0603 - the process has exactly one clock
    previous, _clock = _clock, clock
    return previous


def wall_seconds(business: timedelta) -> float:
    """How long to wait in wall seconds for ``business`` time to pass."""
    return max(business.total_seconds(), 0.0) / _clock.rate


def as_utc(moment: datetime) -> datetime:
    """Normalise a datetime to aware UTC; naive values are taken as UTC (SQLite returns those)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


__all__ = [
    "Clock",
    "ManualClock",
    "SystemClock",
    "as_utc",
    "get_clock",
    "now",
    "set_clock",
    "timedelta",
    "wall_seconds",
]
