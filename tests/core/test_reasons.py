"""Every reason the server can give has words in the web app, in zh-CN and in en."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

from yingji.core import reasons
from yingji.intake import matching

WORDS_TS = Path(__file__).resolve().parents[2] / "web/src/i18n/features/words.ts"
LOCALES = ("zh-CN", "en")

_TOKEN = re.compile(
    r"""
      (?P<string>'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|`(?:\\.|[^`\\])*`)
    | (?P<comment>//[^\n]*|/\*.*?\*/)
    | (?P<name>[A-Za-z_$][\w$]*)
    | (?P<punct>[{}:])
    | (?P<other>\S)
    """,
    re.VERBOSE | re.DOTALL,
)


def message_keys(source: str) -> set[str]:
    """The dotted paths of the string messages in a TypeScript object literal of messages
    (``'zh-CN'.words.level.reached``): enough of a reader for the i18n files, which hold only
    nested objects of strings (and ``as Record<…>`` casts)."""
    keys: set[str] = set()
    path: list[str | None] = []  # None: an object opened without a key (the file's own)
    pending: str | None = None  # a key whose colon was read, waiting for its value
    previous: str | None = None  # the last key-like token, in case a colon follows
    for token in _TOKEN.finditer(source):
        kind, text = token.lastgroup, token.group()
        if kind == "comment":
            continue
        if kind == "punct" and text == ":" and previous is not None:
            pending, previous = previous, None
            continue
        if kind == "punct" and text == "{":
            path.append(pending)
        elif kind == "punct" and text == "}":
            path.pop()
        elif kind == "string" and pending is not None:
            keys.add(".".join([p for p in path if p is not None] + [pending]))
        pending = None
        previous = text.strip("'\"") if kind in ("name", "string") else None
    return keys


def test_the_reader_finds_nested_multiline_and_quoted_keys() -> None:
    source = """export default {
      'zh-CN': { words: { a: { b: 'x', c:
        'y' } as Record<string, string>, d: `z` } },
    }"""
    assert message_keys(source) == {"zh-CN.words.a.b", "zh-CN.words.a.c", "zh-CN.words.d"}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_reason_code_has_words(locale: str) -> None:
    keys = message_keys(WORDS_TS.read_text(encoding="utf-8"))
    # a legacy reason is its own text (typed by a person, or stored before codes)
    codes = [code for code in reasons.REASON_CODES if code != reasons.LEGACY]
    missing = [code for code in codes if f"{locale}.words.{code}" not in keys]
    assert not missing, f"no {locale} words in {WORDS_TS.name} for {missing}"


def test_a_reason_is_its_code_and_params() -> None:
    assert reasons.reason("routing.rule", rule=3, note="消防") == {
        "code": "routing.rule",
        "params": {"rule": 3, "note": "消防"},
    }
    assert reasons.legacy("typed") == {"code": "legacy", "params": {"text": "typed"}}
    assert reasons.legacy(None) is None


@pytest.mark.parametrize("locale", LOCALES)
def test_every_part_of_the_matchers_evidence_has_words(locale: str) -> None:
    keys = message_keys(WORDS_TS.read_text(encoding="utf-8"))
    wanted = (
        [f"match.affinity.{a}" for a in get_args(matching.Affinity)]
        + [f"match.division.{d}" for d in get_args(matching.Closeness)]
        + [f"match.{kind}" for kind in get_args(matching.Finding)]
    )
    missing = [key for key in wanted if f"{locale}.words.{key}" not in keys]
    assert not missing, f"no {locale} words in {WORDS_TS.name} for {missing}"
