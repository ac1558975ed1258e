"""How well intake reads Chinese reports: placements, casualty counts and categories right.

``python -m bench.intake_quality [--corpus DIR] [--misses]``

The test set is ``tests/intake/corpus/*.jsonl``: sentences written for this purpose (news-style
reports of emergencies all over China and abroad, callers' words from the demo county 庆元县,
and the traps of issue 21: 新华社 / 新华网 for 新华社区, 印度南部, 公安部, 和政府, 中方, 太平间,
东方网, 吉利车, 昆明火车站, 突发火灾, "据中国消防在线消息…被困" in a pile-up). One JSON object a
line: ``text``; ``place`` — ``local:<name>`` (the gazetteer entry that must place it),
``outside:<two-digit province code>`` (no point in the jurisdiction, and the province said),
``abroad`` (no point in the jurisdiction) or ``none`` (no point, nothing said); ``casualties``
(dead, injured, missing, trapped; absent = 0); ``category`` (the sub-type).

The gazetteer is the demo county's (``org.demo_data.build_demo`` divisions, ``seed.demo_places``)
with the rest of China from cpca, as ``intake.service.gazetteer`` builds it; the category table is
the shipped one. Nothing touches a database. Printed: the share right of placements (and how many
reports were given a point in the jurisdiction they are not in), of casualty counts (all four
kinds right in a report; and per kind), of sub-types and of top categories; ``--misses`` lists
what went wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from yingji.intake import gazetteer as gz
from yingji.intake.casualties import read_casualties
from yingji.intake.classify import Classifier, load_categories
from yingji.intake.levels import Casualties
from yingji.org import demo_data, seed

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "intake" / "corpus"
KINDS = ("dead", "injured", "missing", "trapped")


@dataclass(frozen=True)
class Sample:
    text: str
    place: str
    casualties: Casualties
    category: str


@dataclass
class Scores:
    total: int = 0
    placed_right: int = 0
    placed_wrongly_inside: int = 0
    casualties_right: int = 0
    kind_right: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    subtype_right: int = 0
    top_right: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)

    def shares(self) -> dict[str, float]:
        n = max(self.total, 1)
        return {
            "placements": round(self.placed_right / n, 4),
            "casualty_counts": round(self.casualties_right / n, 4),
            **{f"casualty_{k}": round(v / n, 4) for k, v in self.kind_right.items()},
            "subtypes": round(self.subtype_right / n, 4),
            "top_categories": round(self.top_right / n, 4),
        }


def load_corpus(folder: Path = CORPUS) -> list[Sample]:
    samples: list[Sample] = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            raw = json.loads(line)
            counts = {k: int(raw.get("casualties", {}).get(k, 0)) for k in KINDS}
            samples.append(Sample(raw["text"], raw["place"], Casualties(**counts), raw["category"]))
    return samples


def demo_gazetteer() -> gz.Gazetteer:
    """The demo county's gazetteer, as ``intake.service.gazetteer`` builds it from the seeds."""
    divisions = demo_data.build_demo().divisions
    entries = [
        gz.Entry(
            d.name,
            d.adcode,
            d.level,
            d.centroid[0] if d.centroid else None,
            d.centroid[1] if d.centroid else None,
            d.parent_adcode,
        )
        for d in divisions
    ]
    for place in seed.demo_places():
        code = str(place["division_adcode"])
        lon, lat = place["lon"], place["lat"]
        assert isinstance(lon, float) and isinstance(lat, float)
        entries.append(gz.Entry(str(place["name"]), code, "place", lon, lat, code))
    entries.extend(gz.china_counties(exclude={d.adcode[:6] for d in divisions}))
    return gz.Gazetteer(entries)


def placement_right(expected: str, reading: gz.Reading) -> bool:
    hit = reading.hit if reading.placed else None
    if expected.startswith("local:"):
        return hit is not None and hit.entry.name == expected.removeprefix("local:")
    if hit is not None:
        return False
    if expected.startswith("outside:"):
        code = expected.removeprefix("outside:")
        return reading.outside is not None and reading.outside.adcode[:2] == code
    if expected == "none":
        return reading.outside is None
    return True  # abroad: no point in the jurisdiction is right


def score(samples: list[Sample], gazetteer: gz.Gazetteer, classifier: Classifier) -> Scores:
    result = Scores()
    for sample in samples:
        result.total += 1
        miss: dict[str, Any] = {}
        reading = gazetteer.read(sample.text)
        if placement_right(sample.place, reading):
            result.placed_right += 1
        else:
            miss["place"] = {
                "expected": sample.place,
                "hit": reading.hit.entry.name if reading.placed and reading.hit else None,
                "outside": asdict(reading.outside) if reading.outside else None,
            }
        if reading.placed and not sample.place.startswith("local:"):
            result.placed_wrongly_inside += 1
        counts = read_casualties(sample.text).counts
        if counts == sample.casualties:
            result.casualties_right += 1
        else:
            miss["casualties"] = {"expected": asdict(sample.casualties), "read": asdict(counts)}
        for kind in KINDS:
            result.kind_right[kind] += int(
                getattr(counts, kind) == getattr(sample.casualties, kind)
            )
        found = classifier.classify(sample.text)
        code = found.code if found else None
        if code == sample.category:
            result.subtype_right += 1
        else:
            miss["category"] = {
                "expected": sample.category,
                "read": code,
                "words": list(found.words) if found else [],
            }
        if code is not None and code.split(".")[0] == sample.category.split(".")[0]:
            result.top_right += 1
        if miss:
            result.misses.append({"text": sample.text, **miss})
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--misses", action="store_true", help="list what was read wrong")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    gazetteer = demo_gazetteer()
    classifier = Classifier(load_categories())
    built = time.perf_counter() - started
    samples = load_corpus(args.corpus)
    started = time.perf_counter()
    result = score(samples, gazetteer, classifier)
    took = time.perf_counter() - started
    shares = result.shares()
    print(f"test set: {result.total} sentences in {args.corpus}")
    print(
        f"placements right:       {result.placed_right}/{result.total} = {shares['placements']:.1%}"
    )
    print(f"  given a point in the jurisdiction they are not in: {result.placed_wrongly_inside}")
    print(
        f"casualty counts right:  {result.casualties_right}/{result.total} = "
        f"{shares['casualty_counts']:.1%} (all four kinds right in a report)"
    )
    print(
        "  per kind: "
        + ", ".join(f"{k} {v / max(result.total, 1):.1%}" for k, v in result.kind_right.items())
    )
    print(
        f"sub-types right:        {result.subtype_right}/{result.total} = {shares['subtypes']:.1%}"
    )
    top = shares["top_categories"]
    print(f"top categories right:   {result.top_right}/{result.total} = {top:.1%}")
    print(f"built in {built:.1f} s; read {result.total} reports in {took * 1000:.0f} ms")
    if args.misses:
        for miss in result.misses:
            print(json.dumps(miss, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
