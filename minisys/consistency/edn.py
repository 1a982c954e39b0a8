"""A reader for the subset of EDN that Jepsen history files use.

Jepsen (Knossos, Elle, Maelstrom) writes one operation per line as an EDN
map: ``{:process 0, :type :invoke, :f :read, :value nil}``. Only the data
forms that appear there are read: maps, vectors, lists, sets, keywords,
strings, integers, floats, ``nil``/``true``/``false`` and bare symbols (as
strings). Tagged literals such as ``#jepsen.history.Op`` are skipped over
(the tag is dropped, the value kept), as Jepsen's own ``edn/read`` does for
records it knows. Keywords become plain strings without the colon, which is
how the rest of the toolkit names ``type`` and ``f``.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(
    r"""
    (?P<ws>[\s,]+|;[^\n]*)
  | (?P<open>\#\{|[{\[(])
  | (?P<close>[}\])])
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<tag>\#[A-Za-z][\w.\-/]*)
  | (?P<atom>[^\s,{}\[\]()"]+)
    """,
    re.VERBOSE,
)
_INT = re.compile(r"[+-]?\d+N?$")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\d*\.\d+|\d+)([eE][+-]?\d+)?M?$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_CLOSERS = {"{": "}", "#{": "}", "[": "]", "(": ")"}


class EDNError(ValueError):
    """Malformed EDN; the message says what and at which character."""


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - the atom rule matches anything else
            raise EDNError(f"unexpected character {text[pos]!r} at column {pos + 1}")
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append((kind, m.group(), pos))
        pos = m.end()
    return out


def _atom(text: str, pos: int) -> Any:
    if text == "nil":
        return None
    if text == "true":
        return True
    if text == "false":
        return False
    if text.startswith(":"):
        if len(text) == 1:
            raise EDNError(f"empty keyword at column {pos + 1}")
        return text[1:]
    if _INT.match(text):
        return int(text.rstrip("N"))
    if _FLOAT.match(text):
        return float(text.rstrip("M"))
    return text  # a symbol


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), raw[1:-1])


def loads(text: str) -> Any:
    """Parse exactly one EDN value from ``text``."""
    toks = _tokens(text)
    if not toks:
        raise EDNError("empty input")
    value, end = _parse(toks, 0, text)
    if end != len(toks):
        raise EDNError(f"unexpected {toks[end][1]!r} after the value at column {toks[end][2] + 1}")
    return value


def _parse(toks: list[tuple[str, str, int]], i: int, text: str) -> tuple[Any, int]:
    if i >= len(toks):
        raise EDNError("input ends inside a value")
    kind, tok, pos = toks[i]
    if kind == "string":
        return _unescape(tok), i + 1
    if kind == "atom":
        return _atom(tok, pos), i + 1
    if kind == "tag":
        return _parse(toks, i + 1, text)
    if kind == "close":
        raise EDNError(f"unbalanced {tok!r} at column {pos + 1}")
    closer = _CLOSERS[tok]
    items: list[Any] = []
    j = i + 1
    while True:
        if j >= len(toks):
            raise EDNError(f"{tok!r} opened at column {pos + 1} is never closed")
        if toks[j][0] == "close":
            if toks[j][1] != closer:
                raise EDNError(f"{toks[j][1]!r} at column {toks[j][2] + 1} closes {tok!r} from column {pos + 1}")
            break
        item, j = _parse(toks, j, text)
        items.append(item)
    if tok == "{":
        if len(items) % 2:
            raise EDNError(f"map at column {pos + 1} has an odd number of forms")
        return {_hashable(items[k]): items[k + 1] for k in range(0, len(items), 2)}, j + 1
    if tok == "#{":
        return [x for x in items], j + 1
    return items, j + 1


def _hashable(x: Any) -> Any:
    return tuple(_hashable(v) for v in x) if isinstance(x, list) else x
