"""伤亡 in a report's words → counts the officer confirms, each with the words that gave it.

"造成3人死亡、12人受伤", "两死一伤", "死亡人数升至十一人", "已致7人遇难", "有人被困", and
what callers say ("电梯里关了3个人", "压在下面一个人", "人已经昏迷", "头被打破了"):
dead, injured, missing and trapped. Chinese numerals are read by ``cn2an``; a count is a number
with a person's measure word (3人, 12名, 两位) before the casualty word or after it (死亡人数升至
十一人, 死亡3人), or the short form N死M伤. Without a number, "有人" or a person (一名男子, 司机)
counts one and "多人"/"数人" two (at least that many: ``at_least``). A clause that denies ("暂无
人员伤亡", "没有人受伤", "未发现失联人员", "无人被困"; negations are whole words of the
segmentation, so 无锡 or 不幸遇难 deny nothing) counts nothing. A date, a magnitude or a time is no
count (3.2级地震, 12月6日). "5人中毒，其中2人死亡": the dead are among the five, so three
injured.

A kind's count is the largest any statement gives (reports repeat and update their figures:
"死亡人数升至11人" after "造成9人死亡"); 重伤 and 轻伤 stated in one sentence add up. The
counts are a suggestion: the desk shows them with their words and the officer confirms them;
a report sent without casualties takes them, marked as extracted (``flows``, ``levels``).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import cn2an

from yingji.intake.gazetteer import words_of
from yingji.intake.levels import Casualties

KINDS: dict[str, tuple[str, ...]] = {  # fmt: skip
    "dead": (
        "死亡",
        "身亡",
        "遇难",
        "丧生",
        "罹难",
        "死了",
        "殒命",
        "不治",
        "去世",
        "遇害",
        "溺亡",
        "牺牲",
    ),
    "injured": (
        "受伤",
        "伤者",
        "伤员",
        "烧伤",
        "摔伤",
        "砸伤",
        "重伤",
        "轻伤",
        "负伤",
        "伤势",
        "砍伤",
        "刺伤",
        "捅伤",
        "咬伤",
        "撞伤",
        "劈伤",
        "打伤",
        "打破",  # 头被打破了
        "头破",
        "流血",
        "骨折",
        "炸伤",
        "烫伤",
        "中毒",
        "送医",
        "就医",
        "入院",
        "住院",
        "昏迷",
        "呕吐",
        "腹泻",
        "上吐下泻",
        "不适",
    ),
    "missing": ("失联", "失踪", "下落不明", "冲走"),
    "trapped": ("被困", "困住", "困在", "出不来", "被埋", "被压", "压在", "埋在", "关了", "关在"),
}
#: the short form N死M伤 (两死一伤, 3死5伤, 1死2伤1失联)
SHORT = {"死": "dead", "伤": "injured", "失联": "missing", "失踪": "missing"}
NEGATIONS = frozenset(
    ("无", "暂无", "并无", "尚无", "均无", "没", "没有", "未", "并未", "暂未", "均未", "尚未",
     "未曾", "无人", "没人", "否", "未有", "未见", "不存在")
)  # fmt: skip
SENTENCE = re.compile(r"[。！？!?\n；;]+")
CLAUSE = re.compile(r"[，,、：:（）()“”\"]+")
MEASURE = "人名位个"  # not 口: 三口村 is a village, not three people
#: words before a trapped word that say the people are out (已救出4名被埋人员)
RESCUED = ("救出", "获救", "救起", "脱困", "转移出")
NUMBER_BEFORE = re.compile(
    r"(\d+)\s*(?:多|余|几)?\s*[" + MEASURE + r"](?:[^\d，。]{0,10})$"
)  # 3名工人 … 死亡
NUMBER_AFTER = re.compile(
    r"^(?:者|人数|人员|的人数)?(?:已|共|累计|已经)?(?:上升|升|增加|增|达|为|是|至|到|有|升到|共计)*"
    r"(?:[了着]?(?:下面|底下|下边|里面|里边|里头)?(?:还|还有|有)?)"
    r"\s*(\d+)\s*(?:多|余)?\s*[" + MEASURE + r"](?!月|小时|钟头|星期|多月|多小时)"
)  # 死亡人数升至11人, 死亡3人, 压在下面1个人, 关了3个人 (not 关了3个月)
SHORT_FORM = re.compile(r"(\d+)\s*(死|伤|失联|失踪)")
PERSON = re.compile(
    r"(有人|1[名位个]|男子|女子|男孩|女孩|老人|孩子|司机|驾驶员|驾驶人|乘客|行人|工人|村民|居民|"
    r"学生|游客|船员|矿工|民警|消防员|一人|其中一人|该男|该女|妇女|婴儿|老汉|骑手|骑车人|"
    r"车主|店主|户主|幼儿|儿童|患者)[^\d，。]{0,12}$"
)
#: a clause that starts with the person the previous clause named (有人喝了农药，人已经昏迷)
SAME_PERSON = re.compile(r"^(?:这个|那个|该)?(?:人|伤者|病人)(?:已经|已|还|都|也)?[^\d，。]{0,4}$")
SEVERAL = ("多人", "数人", "几人", "多名", "好几个", "几个人", "数名", "若干")
MAX_COUNT = 100_000


@dataclass(frozen=True)
class Evidence:
    """One statement of the text: the kind, the count and the words that gave it."""

    kind: str
    count: int
    words: str
    at_least: bool = False


@dataclass(frozen=True)
class CasualtyReading:
    counts: Casualties
    evidence: tuple[Evidence, ...] = field(default=())

    def words_for(self, kind: str) -> list[str]:
        return [e.words for e in self.evidence if e.kind == kind]


def _arabic(clause: str) -> str:
    clause = re.sub(r"十几(?=[名个位人])", "10几", clause)  # 十几个人: at least ten
    clause = re.sub(r"[两俩](?=[名个位人口死伤])", "2", clause)
    clause = re.sub(r"(?<![\d零一二三四五六七八九十百千万两])一(?=[名个位人口死伤])", "1", clause)
    try:
        with warnings.catch_warnings():  # cn2an warns of each numeral it leaves as it was
            warnings.simplefilter("ignore", UserWarning)
            return str(cn2an.transform(clause, "cn2an"))
    except (ValueError, KeyError, IndexError):  # a numeral cn2an cannot read: as it was
        return clause


def _denied(before: str) -> bool:
    """Whether the words before a casualty word deny it (whole words: 无锡 denies nothing)."""
    return any(word in NEGATIONS for word, _, _ in words_of(before))


def _count(before: str, after: str) -> tuple[int, bool] | None:
    """The count a clause gives for its casualty word: a number with a measure word before
    or after it, a person (one) or several (two, at least); None when nothing counts."""
    found = NUMBER_AFTER.match(after)
    if found:
        return min(int(found.group(1)), MAX_COUNT), False
    found = NUMBER_BEFORE.search(before)
    if found:
        several = any(c in found.group(0) for c in "多余几")
        return min(int(found.group(1)), MAX_COUNT), several
    tail = before[-8:]
    if any(word in tail for word in SEVERAL):
        return 2, True
    if PERSON.search(before) or SAME_PERSON.match(before):
        return 1, False
    return None


def _statements(sentence: str) -> list[Evidence]:
    found: list[Evidence] = []
    for raw in CLAUSE.split(sentence):
        clause = _arabic(raw)
        shorts = list(SHORT_FORM.finditer(clause))
        if shorts and not _denied(clause[: shorts[0].start()]):
            found.extend(
                Evidence(SHORT[short.group(2)], int(short.group(1)), raw.strip())
                for short in shorts
            )
            continue
        for kind, words in KINDS.items():
            at = min((i for i in (clause.find(w) for w in words) if i >= 0), default=-1)
            if at < 0:
                continue
            word = next(w for w in words if clause.startswith(w, at))
            before, after = clause[:at], clause[at + len(word) :]
            if _denied(before):
                continue
            if kind == "injured" and any(after[:3].find(w) >= 0 for w in KINDS["dead"]):
                continue  # 9人食物中毒死亡, 受伤死亡: dead, not injured
            if kind == "trapped" and (
                any(w in before for w in RESCUED)
                or any(w in after for k in ("dead", "injured") for w in KINDS[k])
            ):
                continue  # 已救出4名被埋人员; 被压身亡 / 被压受伤 say how, not who is trapped
            counted = _count(before, after)
            if counted is None:
                continue
            count, at_least = counted
            found.append(Evidence(kind, count, raw.strip(), at_least))
    return found


def _of_whom(statements: list[Evidence]) -> int | None:
    """ "5人中毒，其中2人死亡": the dead are among the injured, so the injured are 3. The
    injured count with the dead of a later "其中" taken out; None when the sentence says no
    such thing."""
    for n, item in enumerate(statements):
        if item.kind != "injured":
            continue
        dead = [e.count for e in statements[n + 1 :] if e.kind == "dead" and "其中" in e.words]
        if dead and max(dead) <= item.count:
            return item.count - max(dead)
    return None


def read_casualties(text: str) -> CasualtyReading:
    """The casualties ``text`` states, by kind, with the statements that gave them."""
    evidence: list[Evidence] = []
    best: dict[str, int] = dict.fromkeys(KINDS, 0)
    for sentence in SENTENCE.split(text):
        statements = _statements(sentence)
        injured = [e for e in statements if e.kind == "injured"]
        severe = [e for e in injured if "重伤" in e.words]
        light = [e for e in injured if "轻伤" in e.words and "重伤" not in e.words]
        if severe and light:  # 3人重伤、5人轻伤: eight injured
            best["injured"] = max(
                best["injured"], max(e.count for e in severe) + max(e.count for e in light)
            )
        among = _of_whom(statements)
        for item in statements:
            count = among if item.kind == "injured" and among is not None else item.count
            best[item.kind] = max(best[item.kind], count)
            evidence.append(item)
    return CasualtyReading(Casualties(**best), tuple(evidence))


def casualties_in(text: str) -> Casualties:
    """The casualties ``text`` states, by kind (the largest count any statement gives)."""
    return read_casualties(text).counts
