"""JSON from an untrusted remote, parsed totally: a value, or :class:`RejectedJSON` with a reason.

``json.loads`` alone lets other exceptions escape on hostile bytes, and accepts things a
reader should not trust. Here:

- the size is capped before anything else is done with the bytes;
- the bytes must be UTF-8 (``json.loads`` would also guess UTF-16/32 from the first bytes);
- nesting is bounded by a cheap scan *before* parsing: 30,000 nested brackets otherwise end
  in ``RecursionError`` deep inside the decoder;
- every number literal is bounded in length before it is converted: a 5,000-digit integer
  otherwise raises ``ValueError`` from Python's int-digits limit (3.11), and a huge one would
  overflow ``float()`` later;
- ``NaN``, ``Infinity`` and literals that overflow to infinity (``1e400``) are rejected, so every
  float that comes out is finite;
- a key given twice in one object is rejected: readers that keep the first and readers that
  keep the last would otherwise see different documents.

Strings may still hold lone surrogates (``"\\ud800"`` is valid JSON); callers check strings
against their own patterns, and :func:`show` renders any value ASCII-only for messages.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_NUMBER_CHARS = 40  # the longest float repr is 24 characters ("-2.2250738585072014e-308")

# Outside strings only brackets and quotes matter; inside, a backslash escapes the next character.
_SIGNIFICANT = re.compile(rb'[\[\]{}"]|\\.', re.DOTALL)


class RejectedJSON(ValueError):
    """The bytes are not a JSON document this reader accepts; the message says why."""


def show(value: object, limit: int = 60) -> str:
    """A short, ASCII-only rendering of a rejected value, safe in logs and the catalog."""
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    text = ascii(value[:limit] if isinstance(value, str) else value)  # (other values are short: numbers, None)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(value) if isinstance(value, str) else len(text)} characters)"


def nesting_depth_exceeds(raw: bytes, max_depth: int) -> bool:
    """True if brackets outside strings nest deeper than ``max_depth`` anywhere in ``raw``.

    Linear in ``len(raw)``, and free for ordinary documents: a document with no more opening
    brackets than ``max_depth`` cannot nest deeper. Malformed input may be over-counted, which
    only rejects a document the decoder would have rejected anyway.
    """
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return False
    depth, in_string = 0, False
    for m in _SIGNIFICANT.finditer(raw):
        tok = m.group()
        if tok == b'"':
            in_string = not in_string
        elif in_string or len(tok) == 2:  # a bracket inside a string, or an escape (outside one: invalid anyway)
            continue
        elif tok in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False


def load_json(raw: bytes, *, max_bytes: int, max_depth: int = DEFAULT_MAX_DEPTH,
              max_number_chars: int = DEFAULT_MAX_NUMBER_CHARS) -> Any:
    """Parse ``raw`` (bytes) as one JSON document within the bounds above, or raise :class:`RejectedJSON`."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise RejectedJSON(f"expected bytes, got a {type(raw).__name__}")
    raw = bytes(raw)
    if len(raw) > max_bytes:
        raise RejectedJSON(f"{len(raw)} bytes, over the {max_bytes} byte cap")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RejectedJSON(f"not UTF-8 ({e.reason} at byte {e.start})") from None
    if nesting_depth_exceeds(raw, max_depth):
        raise RejectedJSON(f"nested deeper than {max_depth} levels")

    def parse_int(s: str) -> int:
        if len(s) > max_number_chars:
            raise RejectedJSON(f"an integer of {len(s)} characters (at most {max_number_chars})")
        return int(s)

    def parse_float(s: str) -> float:
        if len(s) > max_number_chars:
            raise RejectedJSON(f"a number of {len(s)} characters (at most {max_number_chars})")
        v = float(s)
        if not math.isfinite(v):
            raise RejectedJSON(f"number {s} is out of range")
        return v

    def parse_constant(s: str) -> Any:
        raise RejectedJSON(f"{s} is not a number this reader accepts")

    def object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for k, v in pairs:
            if k in d:
                raise RejectedJSON(f"key {show(k)} appears twice in one object")
            d[k] = v
        return d

    try:
        return json.loads(text, parse_int=parse_int, parse_float=parse_float, parse_constant=parse_constant,
                          object_pairs_hook=object_pairs)
    except json.JSONDecodeError as e:
        raise RejectedJSON(f"not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:  # not reachable past the depth scan; kept so the contract holds regardless
        raise RejectedJSON("nested too deeply") from None
