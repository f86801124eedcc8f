"""JSON on the hot path: the client's body in, the upstream's body out, via orjson.

A 700 KB agent request is parsed once and serialised once; with the standard
library those two steps alone cost more than the whole translation in between,
so both go through ``orjson``. It is also strict where the gateway must be
(RFC 8259): ``NaN``/``Infinity`` literals, numbers that overflow a double, lone
UTF-16 surrogates (escaped or as CESU-8 bytes), invalid UTF-8 and nesting past
1024 levels are all rejected at parse time, so nothing that cannot be re-encoded
for the upstream gets past the door. Integers wider than 64 bits parse as
doubles, which is what the upstream's ``google.protobuf.Value`` makes of any
number anyway. A leading UTF-8 byte order mark is tolerated, as the standard
library did.
"""

from __future__ import annotations

import json
from typing import Any, Final

import orjson

BOM: Final = b"\xef\xbb\xbf"
_PROBLEMS: Final = (
    ("depth limit", "it nests too deeply"),
    ("surrogate", "it contains an unpaired UTF-16 surrogate"),
    ("infinity", "a number is out of range"),
)


class JsonError(ValueError):
    """A body that is not strict JSON; the message says why, in plain words."""


def loads(raw: bytes | str) -> Any:
    """Parse strict JSON; ``JsonError`` names the problem."""
    if isinstance(raw, bytes) and raw.startswith(BOM):
        raw = raw[len(BOM) :]
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise JsonError(_plain(str(exc))) from exc


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, keys in insertion order (``separators=(",", ":")``).

    Why the fallback: values from elsewhere than ``loads`` (an upstream answer
    parsed by the standard library) may hold what orjson refuses, a lone
    surrogate or an integer past 64 bits; the standard library writes those as
    ``\\udXXX`` escapes and exact digits, which is still valid JSON.
    """
    try:
        return orjson.dumps(value)
    except TypeError:
        text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
        return text.encode("ascii")


def _plain(message: str) -> str:
    lowered = message.lower()
    for marker, problem in _PROBLEMS:
        if marker in lowered:
            return problem
    return message
