"""docs/resources.md stays true to the catalogue of kinds."""

from __future__ import annotations

from pathlib import Path

from yingji.resources import kinds

DOC = Path(__file__).resolve().parents[2] / "docs" / "resources.md"


def test_the_developer_doc_lists_every_kind_field_and_status() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [f"common {f.key}" for f in kinds.COMMON if f"| `{f.key}` | {f.zh} |" not in text]
    for spec in kinds.SPECS.values():
        if f"### `{spec.kind.value}` — {spec.zh}" not in text:
            missing.append(spec.kind.value)
        missing += [
            f"{spec.kind.value}.{f.key}"
            for f in spec.fields
            if f"| `{f.key}` | {f.zh} | {f.type}" not in text
        ]
        missing += [
            f"{spec.kind.value} status {code}"
            for code, word in spec.statuses.items()
            if f"`{code}` {word}" not in text
        ]
    assert missing == []
