"""Identifiers: time-ordered UUIDs (version 7 layout) so ids sort by creation across nodes."""

from __future__ import annotations

import os
import uuid

from yingji.core import clock


def new_id() -> uuid.UUID:
    millis = int(clock.now().timestamp() * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis << 80) | (0x7 << 76) | ((rand >> 66) & 0xFFF) << 64
    value |= (0b10 << 62) | (rand & ((1 << 62) - 1))
    return uuid.UUID(int=value)
