"""Address text → division and point (地名地址匹配).

Names come from the jurisdiction's own divisions and places (in the database) and, for the rest
of China, county-level names and centroids from the public ``cpca`` package's table. The match is
transparent: the deepest name found in the text wins, preferring one whose division is also named,
then the longest; a name several places share counts only where the text names a division holding
exactly one of them; the result says which name decided.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

SUFFIXES = ("便民服务中心", "居委会", "街道", "社区", "村委会", "镇", "乡", "村", "县", "区", "市")
LEVEL_DEPTH = {"province": 1, "city": 2, "county": 3, "town": 4, "village": 5, "place": 6}
SUGGEST_ORDER = {"town": 0, "village": 1, "place": 2, "county": 3, "city": 4, "province": 5}


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
        self._aliases = sorted(self._by_alias, key=lambda alias: (-len(alias), alias))
        self._adcodes = {e.adcode for e in self.entries if e.adcode}
        self._parent = {
            e.adcode: e.parent_adcode for e in self.entries if e.level != "place" and e.adcode
        }

    def _chain(self, entry: Entry) -> list[str]:
        """The divisions containing ``entry``, nearest first (a place's own division first)."""
        chain: list[str] = []
        code = entry.adcode if entry.level == "place" else entry.parent_adcode
        while code and code not in chain:
            chain.append(code)
            code = self._parent.get(code)
        return chain

    def _named(self, text: str) -> list[tuple[str, list[Entry]]]:
        """The names in ``text``, longest first, a name inside a longer one not counted again
        (林川下村 does not also name a 川下村)."""
        taken: list[tuple[int, int]] = []
        found: list[tuple[str, list[Entry]]] = []
        for alias in self._aliases:
            start = text.find(alias)
            while start >= 0:
                end = start + len(alias)
                if not any(s < end and start < e for s, e in taken):
                    taken.append((start, end))
                    found.append((alias, self._by_alias[alias]))
                start = text.find(alias, start + 1)
        return found

    def locate(self, text: str | None) -> Hit | None:
        """The most specific place ``text`` names; the result says which name decided.

        A name several entries share (村委会, 老街, 3组 in many villages; two villages of one
        name) counts only when the text also names a division containing exactly one of them:
        竹口镇黄坑村老街 is the 老街 of 黄坑村; 老街 alone, or 竹口镇老街 where several villages
        of 竹口镇 have one, places nothing by itself."""
        if not text:
            return None
        named = self._named(text)
        divisions = {e.adcode for _, entries in named for e in entries if e.level != "place"}
        found: list[tuple[int, str, Entry]] = []
        for alias, entries in named:
            if len(entries) == 1:
                found.append((0, alias, entries[0]))
                continue
            # the entries whose nearest named containing division is closest
            depth = {
                id(e): next((i for i, code in enumerate(self._chain(e)) if code in divisions), -1)
                for e in entries
            }
            placed = [e for e in entries if depth[id(e)] >= 0]
            if not placed:
                continue
            best = min(depth[id(e)] for e in placed)
            closest = [e for e in placed if depth[id(e)] == best]
            if len(closest) == 1:
                found.append((1, alias, closest[0]))
        if not found:
            return None

        def rank(item: tuple[int, str, Entry]) -> tuple[int, int, int, int, str]:
            shared, alias, entry = item
            chain = self._chain(entry)
            parent_named = int(bool(chain) and chain[0] in divisions)
            depth = LEVEL_DEPTH.get(entry.level, 0)
            return (depth, parent_named, len(alias), shared, entry.adcode or "")

        _, alias, entry = max(found, key=rank)
        return Hit(entry, alias)

    def suggest(self, prefix: str, limit: int = 10) -> list[Entry]:
        """Entries whose name contains ``prefix`` (for typing): towns and villages first (a
        caller names where they are), then named places (schools, shops), then the wider
        divisions; shortest first within each."""
        if not prefix:
            return []
        hits = [e for e in self.entries if prefix in e.name]
        hits.sort(
            key=lambda e: (SUGGEST_ORDER.get(e.level, len(SUGGEST_ORDER)), len(e.name), e.name)
        )
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
