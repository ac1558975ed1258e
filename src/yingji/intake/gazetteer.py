"""Address text → division and point (地名地址匹配).

Names come from the jurisdiction's own divisions and places (in the database) and, for the rest
of China, county-level names and centroids from the public ``cpca`` package's table. The match is
transparent: the longest, deepest name found in the text wins, preferring a village whose town is
also named; the result says which name decided.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

SUFFIXES = ("便民服务中心", "居委会", "街道", "社区", "村委会", "镇", "乡", "村", "县", "区", "市")
LEVEL_DEPTH = {"province": 1, "city": 2, "county": 3, "town": 4, "village": 5, "place": 6}


@dataclass(frozen=True)
class Entry:
    name: str
    adcode: str | None
    level: str
    lon: float | None
    lat: float | None
    parent_adcode: str | None = None


@dataclass(frozen=True)
class Hit:
    entry: Entry
    matched: str  # the text that decided

    @property
    def source(self) -> str:
        return "place" if self.entry.level == "place" else "division"


def aliases(name: str) -> list[str]:
    """A name and its short form without the administrative suffix (竹口镇 → 竹口)."""
    names = [name]
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            names.append(name[: -len(suffix)])
            break
    return names


class Gazetteer:
    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = list(entries)
        self._by_alias: dict[str, list[Entry]] = {}
        for entry in self.entries:
            for alias in aliases(entry.name):
                self._by_alias.setdefault(alias, []).append(entry)
        self._aliases = sorted(self._by_alias, key=len, reverse=True)
        self._adcodes = {e.adcode for e in self.entries if e.adcode}

    def locate(self, text: str | None) -> Hit | None:
        if not text:
            return None
        found: list[tuple[str, Entry]] = []
        for alias in self._aliases:
            if alias in text:
                found.extend((alias, entry) for entry in self._by_alias[alias])
        if not found:
            return None
        named = {entry.adcode for _, entry in found if entry.adcode}

        def rank(item: tuple[str, Entry]) -> tuple[int, int, int, str]:
            alias, entry = item
            parent_named = int(bool(entry.parent_adcode) and entry.parent_adcode in named)
            return (parent_named, LEVEL_DEPTH.get(entry.level, 0), len(alias), entry.adcode or "")

        alias, entry = max(found, key=rank)
        return Hit(entry, alias)

    def suggest(self, prefix: str, limit: int = 10) -> list[Entry]:
        """Entries whose name contains ``prefix``, deepest and shortest first (for typing)."""
        if not prefix:
            return []
        hits = [e for e in self.entries if prefix in e.name]
        hits.sort(key=lambda e: (-LEVEL_DEPTH.get(e.level, 0), len(e.name), e.name))
        return hits[:limit]


def china_counties(exclude: set[str] | None = None) -> list[Entry]:
    """County-level names and centroids of all China from the cpca package's table."""
    exclude = exclude or set()
    table = resources.files("cpca").joinpath("resources/adcodes.csv")
    counts: dict[str, int] = {}
    rows: list[Entry] = []
    with table.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            code = row["adcode"]
            if not code.endswith("000000") or code[4:6] == "00" or code[:6] in exclude:
                continue
            if not row["longitude"] or not row["latitude"]:
                continue
            counts[row["name"]] = counts.get(row["name"], 0) + 1
            rows.append(
                Entry(
                    row["name"], code[:6], "county", float(row["longitude"]), float(row["latitude"])
                )
            )
    # a county name that occurs in several provinces says nothing on its own
    return [e for e in rows if counts[e.name] == 1 and len(e.name) >= 3]
