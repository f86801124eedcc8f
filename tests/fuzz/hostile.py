"""Hypothesis strategies for hostile request bodies.

Values of every JSON type at any field (so every field gets a wrong type),
numbers past every limit, strings that are long, empty or full of control
characters, nesting deeper than any parser walks, and serialisations that are
not plain JSON: duplicate keys, bytes that are not UTF-8 (CESU-8 surrogates
included), truncation. Deep nesting and bad bytes are spliced into the text
after ``json.dumps`` (which could not write them), through marker strings.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from hypothesis import strategies as st

BAD_BYTES_MARK: Final = "\ue000bad\ue000"
DEEP_MARK: Final = re.compile(r'"\\ue001deep(\d+)([lo])\\ue001"')
BAD_BYTES: Final = (
    b"\xed\xa0\x80",  # CESU-8 high surrogate
    b"\xed\xbf\xbf",  # CESU-8 low surrogate
    b"\xff",
    b"\xc0\xaf",  # overlong
    b"\x80",
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"\x00",
)
SPECIAL_STRINGS: Final = (
    "",
    " ",
    "\r\nX-Injected: 1",
    "\x00\x01\x1b[31m\x7f",
    "\u202e\ufeff\u2028",
    "\\ud800",
    "x" * 70_000,
    "gemini-3-flash\r\n",
    "../../etc/passwd",
    "%0d%0aX: 1",
    "data:image/png;base64,!!!",
    "agp1.W1tbW1tb",
    BAD_BYTES_MARK,
)
SPECIAL_NUMBERS: Final = (
    0,
    -1,
    2**31,
    2**63,
    -(2**63) - 1,
    10**30,
    int("9" * 4000),
    1e308,
    -1e308,
    5e-324,
    -0.0,
    0.5,
)
FIELD_NAMES: Final = (
    "type",
    "role",
    "content",
    "text",
    "model",
    "name",
    "id",
    "parts",
    "input",
    "tools",
    "messages",
    "stream",
)


def deep_marker(depth: int, kind: str) -> str:
    return f"\ue001deep{depth}{kind}\ue001"


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(SPECIAL_NUMBERS),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(SPECIAL_STRINGS),
    st.builds(deep_marker, st.integers(50, 3000), st.sampled_from("lo")),
)
keys = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(keys, inner, max_size=3),
    ),
    max_leaves=8,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into ``node`` (the root is ``()``)."""
    yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from paths(child, (*prefix, index))


@dataclass(frozen=True)
class Mutation:
    op: str
    path: tuple[Any, ...]
    key: str = ""
    value: Any = None

    def apply(self, body: Any) -> Any:
        if not self.path and self.op in ("replace", "delete"):
            return self.value
        parent, last = _parent(body, self.path)
        if parent is None:
            return body
        if self.op == "replace":
            parent[last] = self.value
        elif self.op == "delete":
            del parent[last]
        elif self.op == "wrap":
            parent[last] = [parent[last]] if self.key else {"x": parent[last]}
        return body


@dataclass(frozen=True)
class Insert(Mutation):
    def apply(self, body: Any) -> Any:
        target = body
        for step in self.path:
            target = target[step]
        if isinstance(target, dict):
            target[self.key] = self.value
        elif isinstance(target, list):
            target.append(self.value)
        return body


def _parent(body: Any, path: tuple[Any, ...]) -> tuple[Any, Any]:
    node = body
    for step in path[:-1]:
        node = node[step]
    if not path or not isinstance(node, dict | list):
        return None, None
    return node, path[-1]


@st.composite
def mutated(draw: st.DrawFn, seed: dict[str, Any]) -> Any:
    """``seed`` with one to three mutations at paths drawn from the seed."""
    body: Any = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 3))):
        all_paths = list(paths(body))
        path = draw(st.sampled_from(all_paths))
        op = draw(st.sampled_from(("replace", "replace", "delete", "wrap", "insert")))
        if op == "insert":
            mutation: Mutation = Insert(op, path, draw(keys), draw(values))
        else:
            mutation = Mutation(
                op, path, draw(st.sampled_from(("", "l"))), draw(values)
            )
        body = mutation.apply(body)
    return body


def _deep(match: re.Match[str]) -> str:
    depth = int(match.group(1))
    if match.group(2) == "l":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@st.composite
def encoded(draw: st.DrawFn, body: Any) -> bytes:
    """``body`` serialised, sometimes not as plain JSON."""
    text = json.dumps(body, ensure_ascii=draw(st.booleans()))
    text = DEEP_MARK.sub(_deep, text)
    mode = draw(st.sampled_from(("plain", "plain", "duplicate", "truncate", "bytes")))
    if mode == "duplicate" and text.startswith("{") and len(text) > 2:
        key = draw(st.sampled_from(FIELD_NAMES))
        dup = json.dumps(draw(values))
        dup = DEEP_MARK.sub(_deep, dup)
        text = '{"' + key + '":' + dup + "," + text[1:]
    raw = text.encode("utf-8", "surrogatepass")
    escaped_mark = json.dumps(BAD_BYTES_MARK).strip('"').encode()
    for mark in (BAD_BYTES_MARK.encode(), escaped_mark):
        raw = raw.replace(mark, draw(st.sampled_from(BAD_BYTES)))
    if mode == "truncate" and raw:
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    if mode == "bytes" and raw:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from(BAD_BYTES)) + raw[at:]
    return raw


CONTENT_TYPES: Final = (
    "application/json",
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=utf-16",
    "text/plain",
    "",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=zz",
    "multipart/form-data",
    "application/json\x01\x7f",
    "application/json; " + "x" * 5000,
)
content_types = st.sampled_from(CONTENT_TYPES)


@dataclass(frozen=True)
class Part:
    name: bytes | None
    filename: bytes | None
    content_type: bytes | None
    data: bytes


PNG: Final = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01"
    b"\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
WAV: Final = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x10\x00\x00\x00\x01\x00" + b"\0" * 28
part_names = st.one_of(
    st.none(),
    st.sampled_from(
        [b"image", b"image[]", b"mask", b"file", b"prompt", b"model", b"n", b""]
    ),
    st.sampled_from([b"response_format", b"size", b"timestamp_granularities[]"]),
    st.binary(max_size=8),
)
part_data = st.one_of(
    st.sampled_from([PNG, WAV, b"", b"1", b"-5", b"json", b"gemini-3-pro-image"]),
    st.binary(max_size=64),
    st.sampled_from([b"x" * 70_000, b"\xed\xa0\x80", b"\r\n--zz--\r\n"]),
)
parts = st.builds(
    Part,
    part_names,
    st.one_of(
        st.none(), st.sampled_from([b"a.png", b"a.wav", b""]), st.binary(max_size=8)
    ),
    st.one_of(st.none(), st.sampled_from([b"image/png", b"audio/wav", b"\x01"])),
    part_data,
)


@st.composite
def multipart(draw: st.DrawFn, fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart body (often malformed) and the content type announcing it."""
    chosen = [
        Part(name.encode(), None, None, value.encode())
        for name, value in fields.items()
        if draw(st.booleans())
    ]
    chosen += draw(st.lists(parts, max_size=4))
    boundary = draw(st.sampled_from([b"zz", b"zz", b"other", b""]))
    out = b""
    for part in chosen:
        disposition = b"Content-Disposition: form-data"
        if part.name is not None:
            disposition += b'; name="' + part.name + b'"'
        if part.filename is not None:
            disposition += b'; filename="' + part.filename + b'"'
        head = b"--zz\r\n" + disposition + b"\r\n"
        if part.content_type is not None:
            head += b"Content-Type: " + part.content_type + b"\r\n"
        out += head + b"\r\n" + part.data + b"\r\n"
    out += draw(st.sampled_from([b"--zz--\r\n", b"", b"--zz", b"garbage"]))
    content_type = "multipart/form-data; boundary=" + boundary.decode()
    if draw(st.integers(0, 9)) == 0:
        content_type = draw(content_types)
    return out, content_type
