"""Yingji (应急) — integrated emergency command and linkage platform."""

__version__ = "0.1.0"
