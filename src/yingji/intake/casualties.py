"""伤亡 in a caller's words: "有人被困", "3人受伤", "两名工人失联" → counts the officer may change.

A clause that denies ("暂无人员被困", "没有人受伤", "未发现失联人员") counts nothing. Chinese
numerals are read by ``cn2an``; "有人" counts one and "多人"/"几人"/"数人" two (at least that
many). The counts are a suggestion: the desk shows them in the casualty fields, and a report
sent without casualties takes them (``flows``)."""

from __future__ import annotations

import re

import cn2an

from yingji.intake.levels import Casualties

KINDS: dict[str, tuple[str, ...]] = {
    "dead": ("死亡", "身亡", "遇难", "丧生", "死了"),
    "injured": ("受伤", "伤者", "伤员", "烧伤", "摔伤", "砸伤"),
    "missing": ("失联", "失踪", "下落不明"),
    "trapped": ("被困", "困住", "困在", "出不来"),
}
NEGATIONS = ("无", "没", "未", "不", "否")
CLAUSE = re.compile(r"[，,。.;；!！?？、\n]+")
COUNT = re.compile(r"(\d+)\s*(?:名|个|位|口)?")
SEVERAL = ("多人", "几人", "数人", "好几个", "几个人", "多名")
MAX_COUNT = 100_000


def _arabic(clause: str) -> str:
    clause = re.sub(r"[两俩](?=[名个位人口])", "2", clause)
    try:
        return str(cn2an.transform(clause, "cn2an"))
    except (ValueError, KeyError, IndexError):  # a numeral cn2an cannot read: as it was
        return clause


def _count(before: str) -> int:
    """The count a clause gives before its casualty word: the nearest number, else one."""
    numbers = COUNT.findall(before)
    if numbers:
        return min(int(numbers[-1]), MAX_COUNT)
    return 2 if any(word in before for word in SEVERAL) else 1


def casualties_in(text: str) -> Casualties:
    """The casualties ``text`` states, by kind (the largest count any clause gives)."""
    found = dict.fromkeys(KINDS, 0)
    for raw in CLAUSE.split(text):
        clause = _arabic(raw)
        for kind, words in KINDS.items():
            at = min((i for i in (clause.find(w) for w in words) if i >= 0), default=-1)
            if at < 0:
                continue
            before = clause[:at]
            if any(neg in before for neg in NEGATIONS):
                continue
            found[kind] = max(found[kind], _count(before))
    return Casualties(**found)
