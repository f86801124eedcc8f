"""Strict JSON (RFC 8259) for every text a client sends, whole body or nested.

Python's ``json`` accepts more than JSON: ``NaN``/``Infinity``, numbers that
overflow a double, integers past the 4300-digit limit, bytes that are not UTF-8
(it decodes with ``surrogatepass``, so CESU-8 surrogates such as
``\\xed\\xa0\\x80`` slip through) and ``\\ud800`` escapes that leave a lone UTF-16
surrogate. Each of those either 500s later (a string that cannot be encoded for
the upstream) or is not what the client meant. ``loads`` refuses all of them with
``NotJson``, a ``ValueError`` whose message names the problem; callers turn it
into their protocol's 400 (``http.loads_strict``) or fall back (a tool call's
``arguments`` string that is not JSON is kept verbatim).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final, NoReturn

SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")


class NotJson(ValueError):
    """Text Python's ``json`` would accept (or crash on) that is not JSON."""


def loads(raw: bytes | str) -> Any:
    """``raw`` parsed as JSON; ``NotJson`` for anything JSON does not allow.

    Why decode first: ``json.loads(bytes)`` decodes with ``surrogatepass``; a
    strict decode (in the encoding RFC 8259 §8.1 detection names) refuses
    encoded surrogates and any other invalid byte sequence.
    """
    text = raw if isinstance(raw, str) else _decode(raw)
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_float)
    except RecursionError:
        raise NotJson("it nests too deeply") from None
    except NotJson:
        raise
    except json.JSONDecodeError as exc:
        raise NotJson(str(exc)) from None
    except ValueError:  # int() refuses more than sys.get_int_max_str_digits()
        raise NotJson("a number has too many digits") from None
    if SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise NotJson("it contains an unpaired UTF-16 surrogate escape")
    return value


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a surrogate code point (never encodable as UTF-8)."""
    return LONE_SURROGATE.search(text) is not None


def _decode(raw: bytes) -> str:
    try:
        return raw.decode(json.detect_encoding(raw))
    except UnicodeDecodeError as exc:
        raise NotJson(f"it is not valid UTF-8 (byte {exc.start})") from None


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any key or string at any depth holds a surrogate (iterative walk)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if has_lone_surrogate(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _reject_constant(name: str) -> NoReturn:
    raise NotJson(f"{name} is not a JSON value")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise NotJson(f"number {text[:40]} is out of range")
    return value
