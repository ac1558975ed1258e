"""Similarity of short Chinese report texts (接警文本相似度).

A text is normalised (NFKC: full-width → half-width; lower case; Chinese numerals before 号, 组,
栋 … → digits), filler words (有, 了, 的, 我, 这里, 发生, 报警, 请, 快来 …) are cut out, and the
remainder becomes a set of character unigrams and bigrams (a run of digits or Latin letters is
one character). Two profiles are compared by binary cosine over bigrams and unigrams, then
adjusted by the place names both mention: a profiler may know a gazetteer (division names with
their parents, from the platform's division table) — two texts naming the same village gain,
two naming different villages (neither inside the other) lose. Numbered places (3号楼, 5组)
work the same way without a gazetteer.

Profiles are computed once per text (``TextProfiler.profile``); comparing two profiles is a few
set intersections, well over 50,000 pairs a second.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from yingji.core.geo import haversine_m

#: Multi-character filler (removed first, longest first), then single characters.
FILLER_WORDS = (
    "这里",
    "那里",
    "这边",
    "那边",
    "这儿",
    "那儿",
    "现在",
    "刚才",
    "刚刚",
    "赶紧",
    "赶快",
    "快点",
    "报警",
    "发生",
    "出现",
    "请求",
    "你们",
    "我们",
    "他们",
    "一下",
    "麻烦",
    "谢谢",
    "您好",
    "你好",
    "报告",
    "情况",
    "好像",
    "感觉",
    "已经",
    "可能",
    "大概",
    "左右",
    "怎么办",
    "怎么",
    "帮忙",
    "帮帮",
    "一个",
    "一些",
    "有点",
    "非常",
    "特别",
    "真的",
    "快来",
    "来人",
    "救命",
)
FILLER_CHARS = frozenset("有了的在我请快来啊呀吧呢吗哦嗯喂是就都很个这那们你他她也还要和跟把给又")
NUMBERED_SUFFIXES = ("号楼", "单元", "号", "组", "栋", "幢", "层", "弄", "巷")
PLACE_SUFFIXES = ("街道", "社区", "村委会", "自然村", "村", "镇", "乡")

_CN_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUMBER = re.compile(r"([零一二两三四五六七八九十]+)(?=号|组|栋|幢|层|单元|弄|巷)")
_NUMBERED = re.compile(r"(\d+)(" + "|".join(NUMBERED_SUFFIXES) + ")")
_UNIT = re.compile(r"\d+|[a-z]+|[\u3400-\u9fff]")
_FILLER_RE = re.compile("|".join(sorted(map(re.escape, FILLER_WORDS), key=len, reverse=True)))

#: Concepts (概念): words people use for the same thing in a report, editable. A text has a
#: concept when it contains one of its words; concepts let "一楼全淹了" meet "房子进水了".
DEFAULT_CONCEPTS: dict[str, tuple[str, ...]] = {
    "road": ("路", "交通", "车过不去", "过不去", "桥面"),
    "house": ("房", "屋", "家里", "一楼", "二楼", "民房", "猪圈", "牛栏", "棚", "仓库"),
    "inundated": (
        "淹",
        "进水",
        "泡在水里",
        "积水",
        "全是水",
        "水很深",
        "水深",
        "倒灌",
        "成河",
    ),
    "drainage": ("下水道", "排水", "排不出", "窨井", "内涝"),
    "rising_water": (
        "涨",
        "漫堤",
        "漫过",
        "漫上",
        "决口",
        "决堤",
        "溃",
        "堤",
        "水位",
        "山洪",
        "发大水",
        "大水",
        "洪水",
        "水很急",
    ),
    "collapse": ("塌", "滑坡", "垮", "泥石流", "崩", "落石", "滑下来", "冲下来", "埋"),
    "debris": ("泥土", "泥石", "石头", "土石", "落石", "滚石"),
    "crack": ("裂缝", "开裂", "松动", "往下掉", "滚"),
    "tree": ("树",),
    "wind": ("风", "掀", "吹", "刮"),
    "power": ("电", "变压器", "高压线", "线杆", "线路", "火花"),
    "trapped": ("困", "出不来", "救援", "救人", "冲锋舟", "没出来", "围住", "围困"),
    "vehicle": ("车", "司机"),
    "fire": ("着火", "起火", "失火", "烧", "烟", "火势", "火很大"),
    "swept_away": ("冲走", "落水", "掉进", "漂", "没上来"),
    "field": ("田", "庄稼", "菜地"),
    "wall": ("墙",),
    "hurt": ("伤",),
    "crash": ("撞", "翻", "沟里"),
    "basement": ("地下室", "车库"),
    "roof": ("屋顶", "房顶", "瓦", "铁皮"),
}
#: Place aliases (a name without 村/镇 …) that are also everyday words are not used as aliases.
COMMON_PLACE_WORDS = frozenset(
    (
        "后山",
        "前山",
        "山后",
        "山下",
        "村口",
        "溪口",
        "桥头",
        "岭头",
        "水口",
        "田心",
        "新村",
        "上村",
        "下村",
        "中村",
        "东门",
        "西门",
        "南门",
        "北门",
        "城东",
        "城西",
        "城南",
        "城北",
        "大山",
        "小头",
    )
)

BIGRAM_WEIGHT = 0.55
UNIGRAM_WEIGHT = 0.15
CONCEPT_WEIGHT = 0.3
SHARED_PLACE_BONUS = 0.2  # share of the remaining distance to 1 gained when a place is shared
PLACE_CONFLICT_FACTOR = 0.4  # multiplier when the texts name different places


def _cn_to_int(numeral: str) -> int:
    if "十" not in numeral:
        return int("".join(str(_CN_DIGITS[c]) for c in numeral))
    tens, _, ones = numeral.partition("十")
    return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)


def normalise(text: str) -> str:
    """NFKC (full-width → half-width), lower case, no whitespace; 三号楼 → 3号楼."""
    norm = unicodedata.normalize("NFKC", text).lower()
    norm = "".join(norm.split())
    return _CN_NUMBER.sub(lambda m: str(_cn_to_int(m.group(1))), norm)


def _units(norm: str) -> list[list[str]]:
    """Runs of adjacent meaningful units (a CJK character, a digit run, a Latin word)."""
    cut = _FILLER_RE.sub(" ", norm)
    runs: list[list[str]] = []
    current: list[str] = []
    last_end = -1
    for unit in _UNIT.finditer(cut):
        token = unit.group(0)
        if token in FILLER_CHARS:
            if current:
                runs.append(current)
            current, last_end = [], -1
            continue
        if current and unit.start() != last_end:
            runs.append(current)
            current = []
        current.append(token)
        last_end = unit.end()
    if current:
        runs.append(current)
    return runs


@dataclass(frozen=True)
class Place:
    """A gazetteer entry: ``name`` as written in texts, a unique ``key`` (default the name) and
    the key of the place containing it (a 自然村 or bridge inside its village, a village inside
    its town)."""

    name: str
    parent: str | None = None
    key: str | None = None
    lon: float | None = None  # where the place is, when the place table knows it
    lat: float | None = None


@dataclass(frozen=True)
class TextProfile:
    """The precomputed features of one text."""

    text: str
    bigrams: frozenset[str]
    unigrams: frozenset[str]
    concepts: frozenset[str]
    bigram_norm: float
    unigram_norm: float
    concept_norm: float
    places: frozenset[str]  # the most specific gazetteer places named
    place_scope: frozenset[str]  # those places and every place containing them
    numbered: frozenset[str]  # "3号楼", "5组" …
    points: tuple[tuple[float, float], ...] = ()  # (lon, lat) of named places the table places
    #: names several places share that the text alone does not place (老街 without its village)
    unresolved: tuple[frozenset[str], ...] = ()


@dataclass(frozen=True)
class TextComparison:
    score: float
    cosine: float
    shared_places: tuple[str, ...]
    conflict: str | None  # e.g. "黄坑村≠大济村"


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether two names found in a text overlap; one shared character where one name ends
    and the next begins is the way the two are written together (五坦村 + 村委会 → 五坦村委会)."""
    (s1, e1), (s2, e2) = sorted((a, b))
    if e1 - 1 == s2 and e2 - s2 > 1 and e1 - s1 > 1:
        return False
    return s2 < e1 and s1 < e2


def _aliases(name: str, common: frozenset[str]) -> list[str]:
    names = [name]
    for suffix in PLACE_SUFFIXES:
        stem = name[: -len(suffix)]
        if name.endswith(suffix) and len(stem) >= 2 and stem not in common:
            names.append(stem)
            break
    return names


PROFILE_CACHE_SIZE = 20_000


class TextProfiler:
    """Builds ``TextProfile``s, optionally knowing a gazetteer ``{place name: parent or None}``."""

    def __init__(
        self,
        places: Mapping[str, str | None] | Iterable[Place] | None = None,
        *,
        concepts: Mapping[str, Iterable[str]] | None = None,
        common_place_words: Iterable[str] = COMMON_PLACE_WORDS,
    ) -> None:
        entries = (
            [Place(name, parent) for name, parent in places.items()]
            if isinstance(places, Mapping)
            else list(places or ())
        )
        self._parents: dict[str, str | None] = {e.key or e.name: e.parent for e in entries}
        self._names = {e.key or e.name: e.name for e in entries}
        self._points = {
            e.key or e.name: (e.lon, e.lat)
            for e in entries
            if e.lon is not None and e.lat is not None
        }
        self._concepts = [
            (normalise(word), concept)
            for concept, words in (DEFAULT_CONCEPTS if concepts is None else concepts).items()
            for word in words
        ]
        common = frozenset(common_place_words)
        lookup: dict[str, set[str]] = {}
        for entry in entries:
            for alias in _aliases(normalise(entry.name), common):
                if alias:  # a name of blanks only names nothing
                    lookup.setdefault(alias, set()).add(entry.key or entry.name)
        self._lookup = sorted(
            ((alias, frozenset(names)) for alias, names in lookup.items()),
            key=lambda item: (-len(item[0]), item[0]),
        )
        # A text can only name the aliases that begin with one of its characters: _find looks
        # at those (a few dozen) rather than at the whole gazetteer, in the same order.
        self._by_first: dict[str, list[tuple[int, str, frozenset[str]]]] = {}
        for rank, (alias, names) in enumerate(self._lookup):
            self._by_first.setdefault(alias[0], []).append((rank, alias, names))
        # Profiles by text: an incident's reports are scored against every new report near it.
        self._profiles: dict[str, TextProfile] = {}

    def label(self, key: str, *, within: bool = False) -> str:
        """A place's name as people write it (keys may be adcodes); ``within`` adds the name of
        the place containing it (黄坑村/村委会)."""
        name = self._names.get(key, key.rsplit("/", 1)[-1])
        parent = self._parents.get(key)
        if within and parent is not None:
            return f"{self._names.get(parent, parent)}/{name}"
        return name

    def _ancestors(self, name: str) -> list[str]:
        chain: list[str] = []
        parent = self._parents.get(name)
        while parent is not None and parent not in chain:
            chain.append(parent)
            parent = self._parents.get(parent)
        return chain

    def find_places(self, norm: str) -> frozenset[str]:
        """Gazetteer places named in a normalised text (longest names first, no overlaps).

        A name shared by several places (村委会, 老街 in many villages) counts only for the
        place whose nearest containing place the text also names: 竹口镇黄坑村老街 names the
        老街 of 黄坑村; 竹口镇老街 (several villages of 竹口镇 have one) or 老街 alone names
        nothing."""
        return self._find(norm)[0]

    def _find(self, norm: str) -> tuple[frozenset[str], tuple[frozenset[str], ...]]:
        """The places a text names, and the shared names it does not place."""
        taken: list[tuple[int, int]] = []
        found: set[str] = set()
        ambiguous: list[frozenset[str]] = []
        by_first = self._by_first
        candidates = sorted(entry for char in set(norm) for entry in by_first.get(char, ()))
        for _, alias, names in candidates:
            start = norm.find(alias)
            while start >= 0:
                end = start + len(alias)
                if not any(_overlap((s, e), (start, end)) for s, e in taken):
                    taken.append((start, end))
                    if len(names) == 1:
                        found.update(names)
                    else:
                        ambiguous.append(names)
                start = norm.find(alias, start + 1)
        named = frozenset(found)
        unresolved: list[frozenset[str]] = []
        for names in ambiguous:
            options = self._closest(names, named)
            if len(options) == 1:
                found.update(options)
            elif options not in unresolved:
                unresolved.append(options)
        return frozenset(found), tuple(unresolved)

    def placed_near(
        self, profile: TextProfile, lon: float, lat: float, radius_m: float = 1000.0
    ) -> TextProfile:
        """``profile`` with each name it shares with other places (村委会, 老街) taken as the one
        nearest to the report's own point, when one lies within ``radius_m``; the names left
        are no longer looked at (the point has said what it can)."""
        if not profile.unresolved:
            return profile
        added: set[str] = set()
        for names in profile.unresolved:
            near = [
                (haversine_m(lon, lat, *self._points[name]), name)
                for name in names
                if name in self._points
            ]
            distance, name = min(near, default=(math.inf, ""))
            if distance <= radius_m:
                added.add(name)
        return self._placed(replace(profile, unresolved=()), profile.places | added)

    def _placed(self, profile: TextProfile, found: frozenset[str]) -> TextProfile:
        """``profile`` naming ``found``: its places, their scope and points recomputed."""
        ancestors = {a for name in found for a in self._ancestors(name)}
        leaves = frozenset(name for name in found if name not in ancestors)
        return replace(
            profile,
            places=leaves,
            place_scope=frozenset(found | ancestors),
            points=tuple(self._points[name] for name in sorted(leaves) if name in self._points),
        )

    def _closest(self, names: frozenset[str], named: frozenset[str]) -> frozenset[str]:
        """The places among ``names`` that a named place contains most closely (all if none):
        one when the text says which, several when it does not."""
        best: set[str] = set()
        best_depth = -1
        for name in names:
            chain = self._ancestors(name)
            depth = next((len(chain) - i for i, a in enumerate(chain) if a in named), -1)
            if depth > best_depth:
                best, best_depth = {name}, depth
            elif depth == best_depth:
                best.add(name)
        return frozenset(best)

    def profile(self, text: str) -> TextProfile:
        """The text's profile (profiles are immutable: one is kept per text, up to
        ``PROFILE_CACHE_SIZE`` texts)."""
        cached = self._profiles.get(text)
        if cached is None:
            if len(self._profiles) >= PROFILE_CACHE_SIZE:
                self._profiles.clear()
            cached = self._profiles[text] = self._profile(text)
        return cached

    def _profile(self, text: str) -> TextProfile:
        norm = normalise(text)
        bigrams: set[str] = set()
        unigrams: set[str] = set()
        for run in _units(norm):
            unigrams.update(run)
            bigrams.update(a + b for a, b in zip(run, run[1:], strict=False))
        concepts = frozenset(concept for word, concept in self._concepts if word in norm)
        found, unresolved = self._find(norm) if self._lookup else (frozenset(), ())
        bare = TextProfile(
            text=text,
            bigrams=frozenset(bigrams),
            unigrams=frozenset(unigrams),
            concepts=concepts,
            bigram_norm=math.sqrt(len(bigrams)),
            unigram_norm=math.sqrt(len(unigrams)),
            concept_norm=math.sqrt(len(concepts)),
            places=frozenset(),
            place_scope=frozenset(),
            numbered=frozenset(m.group(0) for m in _NUMBERED.finditer(norm)),
            unresolved=unresolved,
        )
        return self._placed(bare, found) if found else bare


_DEFAULT = TextProfiler()


def profile(text: str) -> TextProfile:
    """A profile without gazetteer (numbered places still count)."""
    return _DEFAULT.profile(text)


def _cos(a: frozenset[str], b: frozenset[str], norm_a: float, norm_b: float) -> float:
    return len(a & b) / (norm_a * norm_b) if a and b else 0.0


def cosines(a: TextProfile, b: TextProfile) -> tuple[float, float, float]:
    """Binary cosines over (bigrams, unigrams, concepts), each in [0, 1]."""
    return (
        _cos(a.bigrams, b.bigrams, a.bigram_norm, b.bigram_norm),
        _cos(a.unigrams, b.unigrams, a.unigram_norm, b.unigram_norm),
        _cos(a.concepts, b.concepts, a.concept_norm, b.concept_norm),
    )


def cosine(a: TextProfile, b: TextProfile) -> float:
    """Weighted binary cosine over bigrams, unigrams and concepts, in [0, 1]."""
    return (
        BIGRAM_WEIGHT * _cos(a.bigrams, b.bigrams, a.bigram_norm, b.bigram_norm)
        + UNIGRAM_WEIGHT * _cos(a.unigrams, b.unigrams, a.unigram_norm, b.unigram_norm)
        + CONCEPT_WEIGHT * _cos(a.concepts, b.concepts, a.concept_norm, b.concept_norm)
    )


def _place_conflict(a: TextProfile, b: TextProfile) -> str | None:
    if a.places and b.places and not (a.places & b.place_scope or b.places & a.place_scope):
        return f"{'/'.join(sorted(a.places))}≠{'/'.join(sorted(b.places))}"
    for suffix in NUMBERED_SUFFIXES:
        left = {n for n in a.numbered if n.endswith(suffix)}
        right = {n for n in b.numbered if n.endswith(suffix)}
        if left and right and not left & right:
            return f"{'/'.join(sorted(left))}≠{'/'.join(sorted(right))}"
    return None


def compare(a: TextProfile, b: TextProfile) -> TextComparison:
    """Similarity with the place evidence that adjusted it."""
    base = cosine(a, b)
    conflict = _place_conflict(a, b)
    shared = tuple(sorted(a.places & b.places)) + tuple(sorted(a.numbered & b.numbered))
    score = base
    if conflict is not None:
        score = base * PLACE_CONFLICT_FACTOR
    elif shared:
        score = base + (1.0 - base) * SHARED_PLACE_BONUS
    return TextComparison(
        score=min(max(score, 0.0), 1.0), cosine=base, shared_places=shared, conflict=conflict
    )


def similarity(a: TextProfile | str, b: TextProfile | str) -> float:
    """Similarity in [0, 1] of two texts or profiles (strings get a gazetteer-free profile)."""
    left = a if isinstance(a, TextProfile) else profile(a)
    right = b if isinstance(b, TextProfile) else profile(b)
    return compare(left, right).score


def profiles(texts: Iterable[str], profiler: TextProfiler | None = None) -> list[TextProfile]:
    maker = profiler or _DEFAULT
    return [maker.profile(t) for t in texts]
