"""Address text → division and point (地名地址匹配), read as whole words.

Names come from the jurisdiction's own divisions and places (in the database) and, for the rest
of China, province, city and county names from the public ``cpca`` package's table. A text is
segmented by ``jieba`` with the jurisdiction's names and their short forms loaded as its user
dictionary, and a name counts only where it is one or several whole words of that segmentation:
新华社区 is never found in 新华社 / 新华网, 南部县 never in 印度南部, 和政县 never in 和政府.

A short form (竹口 for 竹口镇) is used only when it is no word of the segmenter's own dictionary:
新华 (新华社区), 贤良 (贤良镇), 南部 (南部县), 公安 (公安县), 东方 (东方市) are ordinary words or
the start of organisations' names, so only the full names count for them.

The local match is transparent: the deepest name found wins, preferring one whose division is
also named, then the longest; a name several places share counts only where the text names a
division holding exactly one of them. A name outside the jurisdiction (or only its province or
city) places no point: the reading says where (``Outside``, from cpca's codes). Names written
with the same sound as a local name but other characters (竺口镇 for 竹口镇) are returned as
suggestions, never used silently.
"""

from __future__ import annotations

import csv
import importlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Protocol

from pypinyin import lazy_pinyin

#: jieba ships no type information: the part of it used here is typed by ``Segmenter``
_jieba = importlib.import_module("jieba")

SUFFIXES = ("便民服务中心", "居委会", "街道", "社区", "村委会", "镇", "乡", "村", "县", "区", "市")
LEVEL_DEPTH = {"province": 1, "city": 2, "county": 3, "town": 4, "village": 5, "place": 6}
SUGGEST_ORDER = {"town": 0, "village": 1, "place": 2, "county": 3, "city": 4, "province": 5}
#: levels that place a report at a point; a province or a city is wider than any incident
PLACING_LEVELS = frozenset({"county", "town", "village", "place"})
#: the longest run of segmenter words one name may span (五大堡乡 + 林川下村 are two names)
MAX_NAME_WORDS = 6
#: a county's short form outside counts when the dictionary's frequency for it is below this
#: (温岭 9, 米脂 93: place names; 南部 5612, 公安 2800, 吉利 374, 宜兴 413: words, or too
#: common to tell)
RARE = 100
#: the suffixes a homophone suggestion is looked for before (竺口镇, 黄炕村)
HOMOPHONE_SUFFIXES = ("街道", "社区", "镇", "乡", "村")
#: the administrative endings stripped for the short form of a name outside
OUTSIDE_SUFFIXES = (
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "特别行政区",
    "自治区",
    "自治州",
    "自治县",
    "地区",
    "林区",
    "新区",
    "省",
    "市",
    "盟",
    "县",
    "区",
    "旗",
)
#: ethnic names that stand between a city's name and 自治州 (临夏回族自治州 → 临夏)
_NATIONS = (
    "回族",
    "藏族",
    "彝族",
    "苗族",
    "土家族",
    "侗族",
    "布依族",
    "壮族",
    "傣族",
    "景颇族",
    "白族",
    "哈尼族",
    "傈僳族",
    "朝鲜族",
    "哈萨克",
    "柯尔克孜",
    "蒙古",
    "羌族",
)


@dataclass(frozen=True)
class Entry:
    name: str
    adcode: str | None
    level: str
    lon: float | None
    lat: float | None
    parent_adcode: str | None = None
    #: False for the rest of China (cpca's table): such a name says where, it places nothing
    local: bool = True


@dataclass(frozen=True)
class Hit:
    entry: Entry
    matched: str  # the text that decided

    @property
    def source(self) -> str:
        return "place" if self.entry.level == "place" else "division"


@dataclass(frozen=True)
class Outside:
    """Where a text names a place outside the jurisdiction (cpca's codes and names)."""

    adcode: str  # six digits, of the most specific division named
    name: str  # its full name
    province: str | None
    city: str | None
    county: str | None
    matched: str  # the words that named it


@dataclass(frozen=True)
class Homophone:
    """A name written with other characters of the same sound as a local name (a suggestion)."""

    written: str
    name: str
    adcode: str | None
    level: str


@dataclass(frozen=True)
class Reading:
    """What the place names of a text say: the local place (a point), or where outside, and
    the homophone suggestions."""

    hit: Hit | None
    outside: Outside | None
    homophones: tuple[Homophone, ...] = field(default=())

    @property
    def placed(self) -> bool:
        return self.hit is not None and self.hit.entry.level in PLACING_LEVELS


def aliases(name: str, level: str = "village", known: dict[str, int] | None = None) -> list[str]:
    """A name and its short form without the administrative suffix (竹口镇 → 竹口), unless the
    short form is a word of the segmenter's dictionary (新华社区 keeps no 新华, 贤良镇 no 贤良);
    the jurisdiction's own county always has its short form (庆元 for 庆元县)."""
    words = _base_words() if known is None else known
    names = [name]
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            stem = name[: -len(suffix)]
            if level == "county" or not _is_word(words, stem):
                names.append(stem)
            break
    return names


def ordinary_short_forms(names: Iterable[str]) -> frozenset[str]:
    """The short forms of ``names`` that are words of the segmenter's dictionary (新华 of
    新华社区, 贤良 of 贤良镇): others that find names by their short forms leave these out."""
    known = _base_words()
    found: set[str] = set()
    for name in names:
        for suffix in SUFFIXES:
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                if _is_word(known, name[: -len(suffix)]):
                    found.add(name[: -len(suffix)])
                break
    return frozenset(found)


def _is_word(known: dict[str, int], word: str) -> bool:
    return int(known.get(word, 0) or 0) > 0


# --- the segmenter -------------------------------------------------------------------------------


class Segmenter(Protocol):
    """The part of ``jieba.Tokenizer`` used here."""

    FREQ: dict[str, int]
    total: int
    initialized: bool

    def initialize(self) -> None: ...
    def cut(self, sentence: str, cut_all: bool = False, HMM: bool = True) -> Iterator[str]: ...  # noqa: N803
    def add_word(self, word: str, freq: int | None = None, tag: str | None = None) -> None: ...
    def suggest_freq(self, segment: str, tune: bool = False) -> int: ...


def _tokenizer() -> Segmenter:
    made: Segmenter = _jieba.Tokenizer()
    return made


_LOCK = threading.Lock()
_BASE: Segmenter | None = None
_SEGMENTERS: OrderedDict[frozenset[str], Segmenter] = OrderedDict()
SEGMENTER_CACHE = 4


def _base() -> Segmenter:
    """jieba's own dictionary, loaded once per process (its words and frequencies)."""
    global _BASE
    with _LOCK:
        if _BASE is None:
            _jieba.setLogLevel(60)
            tokenizer = _tokenizer()
            tokenizer.initialize()
            _BASE = tokenizer
        return _BASE


def _base_words() -> dict[str, int]:
    freq: dict[str, int] = _base().FREQ
    return freq


def segmenter(words: Iterable[str] = (), *, floor: int = 2000) -> Segmenter:
    """A segmenter with jieba's dictionary and ``words`` added, each at least as frequent as
    ``floor`` (kept per set of words: the same jurisdiction's names make one segmenter per
    process)."""
    names = frozenset(w for w in words if w)
    key = names | {f"\x00{floor}"}
    with _LOCK:
        found = _SEGMENTERS.get(key)
        if found is not None:
            _SEGMENTERS.move_to_end(key)
            return found
    base = _base()
    tokenizer = _tokenizer()
    tokenizer.FREQ = dict(base.FREQ)
    tokenizer.total = base.total
    tokenizer.initialized = True
    for word in sorted(names):
        # frequent enough to stay whole next to the words around it
        tokenizer.add_word(word, freq=max(tokenizer.suggest_freq(word), floor))
    with _LOCK:
        _SEGMENTERS[key] = tokenizer
        while len(_SEGMENTERS) > SEGMENTER_CACHE:
            _SEGMENTERS.popitem(last=False)
    return tokenizer


def words_of(text: str, tokenizer: Segmenter | None = None) -> list[tuple[str, int, int]]:
    """The words of ``text`` as (word, start, end), by ``tokenizer`` (default jieba's own)."""
    found: list[tuple[str, int, int]] = []
    at = 0
    for word in (tokenizer or _base()).cut(text, HMM=False):
        found.append((word, at, at + len(word)))
        at += len(word)
    return found


def _composed(
    words: list[tuple[str, int, int]], names: dict[str, list[Entry]]
) -> list[tuple[str, int, int]]:
    """Names inside one word of the dictionary: 云南昆明 (two names), 天津港, 昆明站."""
    found: list[tuple[str, int, int]] = []
    for word, start, end in words:
        if word in names or len(word) < 3:
            continue
        for cut in range(2, len(word)):
            head, tail = word[:cut], word[cut:]
            if head in names and (tail in names or (len(tail) == 1 and tail in "港站市")):
                found.append((head, start, start + cut))
                if tail in names:
                    found.append((tail, start + cut, end))
                break
    return found


def _spans(
    words: list[tuple[str, int, int]], names: dict[str, list[Entry]], *, compose: bool = False
) -> list[tuple[str, int, int]]:
    """Runs of whole words that spell a name, longest first, a name inside a longer one not
    counted again (林川下村 does not also name a 川下村). With ``compose``, a word the
    dictionary made of two names (云南昆明) counts as both."""
    found = _composed(words, names) if compose else []
    for i in range(len(words)):
        text = ""
        for j in range(i, min(len(words), i + MAX_NAME_WORDS)):
            text += words[j][0]
            if text in names:
                found.append((text, words[i][1], words[j][2]))
    found.sort(key=lambda item: (-(item[2] - item[1]), item[1]))
    taken: list[tuple[str, int, int]] = []
    for name, start, end in found:
        if not any(s < end and start < e for _, s, e in taken):
            taken.append((name, start, end))
    return sorted(taken, key=lambda item: item[1])


AGENCIES = ("新华社", "中新社", "中新网", "人民网", "央视网", "新华网", "记者")


def _dateline(words: list[tuple[str, int, int]], span: tuple[str, int, int]) -> bool:
    """Whether a name found is a news dateline's (新华社昆明12月6日电, 中新网北京电)."""
    before = [w for w, _, e in words if e <= span[1]][-1:]
    after = "".join(w for w, s, _ in words if s >= span[2])[:10]
    return bool(before) and before[0] in AGENCIES and "电" in after


def _pinyin(text: str) -> str:
    return " ".join(lazy_pinyin(text))


class Gazetteer:
    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = list(entries)
        base = _base_words()
        self._by_alias: dict[str, list[Entry]] = {}
        self._outside: dict[str, list[Entry]] = {}
        self._outside_names: dict[str, str] = {}
        for entry in self.entries:
            if entry.local:
                if entry.level in ("province", "city") and entry.adcode:
                    self._outside_names.setdefault(entry.adcode[:6], entry.name)
                for alias in aliases(entry.name, entry.level, base):
                    self._by_alias.setdefault(alias, []).append(entry)
            else:
                if entry.adcode:
                    self._outside_names[entry.adcode] = entry.name
                for alias in _outside_aliases(entry, base):
                    self._outside.setdefault(alias, []).append(entry)
        self._parent = {
            e.adcode: e.parent_adcode for e in self.entries if e.level != "place" and e.adcode
        }
        self._tokenizer = segmenter(self._by_alias)
        self._sounds = _sound_table(self.entries)

    def _chain(self, entry: Entry) -> list[str]:
        """The divisions containing ``entry``, nearest first (a place's own division first)."""
        chain: list[str] = []
        code = entry.adcode if entry.level == "place" else entry.parent_adcode
        while code and code not in chain:
            chain.append(code)
            code = self._parent.get(code)
        return chain

    def words(self, text: str) -> list[tuple[str, int, int]]:
        """The words of ``text`` as this gazetteer's segmenter reads them."""
        return words_of(text, self._tokenizer)

    def read(self, text: str | None) -> Reading:
        """The local place ``text`` names (if any), where outside it names, and the homophone
        suggestions."""
        if not text:
            return Reading(None, None)
        words = self.words(text)
        hit = self._local(words)
        outside = None
        if hit is None or hit.entry.level not in PLACING_LEVELS:
            outside = self._where(words) or (self._wide(hit) if hit is not None else None)
        return Reading(hit, outside, self._homophones(text, words))

    def locate(self, text: str | None) -> Hit | None:
        """The most specific local place ``text`` names; the result says which name decided.

        A name several entries share (村委会, 老街, 3组 in many villages; two villages of one
        name) counts only when the text also names a division containing exactly one of them:
        竹口镇黄坑村老街 is the 老街 of 黄坑村; 老街 alone, or 竹口镇老街 where several villages
        of 竹口镇 have one, places nothing by itself. A province or a city (wider than the
        jurisdiction) places nothing either."""
        reading = self.read(text)
        return reading.hit if reading.placed else None

    def _local(self, words: list[tuple[str, int, int]]) -> Hit | None:
        named = [(name, self._by_alias[name]) for name, _, _ in _spans(words, self._by_alias)]
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

    def _outside_of(self, code: str, matched: str) -> Outside:
        province = self._outside_names.get(code[:2] + "0000")
        city = self._outside_names.get(code[:4] + "00") if code[2:4] != "00" else None
        if city in ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"):
            city = None
        county = self._outside_names.get(code) if code[4:6] != "00" else None
        name = county or city or province or self._outside_names.get(code, code)
        return Outside(code, name, province, city, county, matched)

    def _where(self, words: list[tuple[str, int, int]]) -> Outside | None:
        """The most specific division outside the jurisdiction the words name: a county named
        with its province or city (or alone when its name is unique), else the city, else the
        province."""
        spans = _spans(words, self._outside, compose=True)
        dateline = [span for span in spans if _dateline(words, span)]
        if len(dateline) < len(spans):  # 新华社北京12月6日电 names the agency's office
            spans = [span for span in spans if span not in dateline]
        if not spans:
            return None
        named = {e.adcode or "" for name, _, _ in spans for e in self._outside[name]}
        best: tuple[int, int, str, str] | None = None
        anchor: str | None = None  # the province of the first name: the report is about it
        for name, _, _ in spans:
            entries = self._outside[name]
            if len(entries) > 1:  # a name several divisions share: one within a named one
                entries = [
                    e
                    for e in entries
                    if (e.adcode or "")[:2] + "0000" in named
                    or (e.adcode or "")[:4] + "00" in named
                ]
                if len(entries) != 1:
                    continue
            code = entries[0].adcode or ""
            if anchor is None:
                anchor = code[:2]
            elif code[:2] != anchor:  # 台湾花莲县…福建福州等地震感强烈: still 台湾
                continue
            depth = LEVEL_DEPTH.get(entries[0].level, 0)
            within = int(code[:2] + "0000" in named or code[:4] + "00" in named)
            candidate = (depth, within, code, name)
            if best is None or candidate[:2] > best[:2]:
                best = candidate
        if best is None:
            return None
        return self._outside_of(best[2], best[3])

    def _wide(self, hit: Hit) -> Outside:
        """A local province or city named alone: where, without a point."""
        code = (hit.entry.adcode or "")[:6]
        name = hit.entry.name
        province = name if hit.entry.level == "province" else None
        city = name if hit.entry.level == "city" else None
        return Outside(code, name, province, city, None, hit.matched)

    def _homophones(self, text: str, words: list[tuple[str, int, int]]) -> tuple[Homophone, ...]:
        """Names written like a local town or village in sound but not in characters."""
        if not self._sounds:
            return ()
        spans = _spans(words, self._by_alias)
        taken = [(s, e) for _, s, e in spans]
        found: dict[tuple[str, str], Homophone] = {}
        for suffix in HOMOPHONE_SUFFIXES:
            at = text.find(suffix)
            while at >= 0:
                for size in (2, 3, 4):
                    start = at - size
                    if start < 0:
                        break
                    written = text[start : at + len(suffix)]
                    if any(s < at + len(suffix) and start < e for s, e in taken):
                        continue
                    for entry in self._sounds.get((_pinyin(text[start:at]), suffix), ()):
                        if entry.name != written:
                            found[(written, entry.name)] = Homophone(
                                written, entry.name, entry.adcode, entry.level
                            )
                at = text.find(suffix, at + 1)
        return tuple(found.values())

    def suggest(self, prefix: str, limit: int = 10) -> list[Entry]:
        """Local entries whose name contains ``prefix`` (for typing): towns and villages first (a
        caller names where they are), then named places (schools, shops), then the wider
        divisions; shortest first within each."""
        if not prefix:
            return []
        hits = [e for e in self.entries if e.local and prefix in e.name]
        hits.sort(
            key=lambda e: (SUGGEST_ORDER.get(e.level, len(SUGGEST_ORDER)), len(e.name), e.name)
        )
        return hits[:limit]


def _sound_table(entries: Iterable[Entry]) -> dict[tuple[str, str], list[Entry]]:
    """The local towns and villages by the sound of their name without its suffix."""
    sounds: dict[tuple[str, str], list[Entry]] = {}
    for entry in entries:
        if not entry.local or entry.level not in ("town", "village"):
            continue
        for suffix in HOMOPHONE_SUFFIXES:
            if entry.name.endswith(suffix) and len(entry.name) > len(suffix) + 1:
                stem = entry.name[: -len(suffix)]
                sounds.setdefault((_pinyin(stem), suffix), []).append(entry)
                break
    return sounds


def _outside_aliases(entry: Entry, known: dict[str, int]) -> list[str]:
    """A division outside: its full name, and its short form where that is no ordinary word
    (昆明 for 昆明市, 临夏 for 临夏回族自治州; not 南部 for 南部县, 公安 for 公安县)."""
    names = [entry.name]
    stem = entry.name
    for suffix in OUTSIDE_SUFFIXES:
        if stem.endswith(suffix) and len(stem) - len(suffix) >= 2:
            stem = stem[: -len(suffix)]
            break
    for nation in _NATIONS:
        if stem.endswith(nation) and len(stem) - len(nation) >= 2:
            stem = stem[: -len(nation)]
            break
    if entry.name.endswith("自治州") and len(stem) >= 2:
        names.append(stem + "州")  # 临夏州, 恩施州
    # a province's or a city's short name is how reports name them (云南, 昆明); a county's
    # only where the dictionary knows it as a rare word at most (和政, 温岭; not 南部, 公安,
    # 东方, 平原, 宜兴's namesakes of everyday words)
    rare = entry.level in ("province", "city") or int(known.get(stem, 0) or 0) < RARE
    if stem != entry.name and len(stem) >= 2 and rare:
        names.append(stem)
    return names


def china_divisions(exclude: set[str] | None = None) -> list[Entry]:
    """Province, city and county names and centroids of all China from the cpca package's
    table, as entries outside the jurisdiction (``exclude``: six-digit codes held locally)."""
    exclude = exclude or set()
    table = resources.files("cpca").joinpath("resources/adcodes.csv")
    rows: list[Entry] = []
    with table.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            code = row["adcode"][:6]
            if not row["adcode"].endswith("000000") or code in exclude:
                continue
            level = "province" if code[2:] == "0000" else "city" if code[4:] == "00" else "county"
            lon = float(row["longitude"]) if row["longitude"] else None
            lat = float(row["latitude"]) if row["latitude"] else None
            rows.append(Entry(row["name"], code, level, lon, lat, None, local=False))
    return rows


def china_counties(exclude: set[str] | None = None) -> list[Entry]:
    """The divisions of all China outside the jurisdiction (see ``china_divisions``)."""
    return china_divisions(exclude)
