"""The hot-path JSON codec: strict where the gateway must be, compact on output."""

from __future__ import annotations

import json

import pytest

from antigravity_proxy import json_codec

REJECTED = {
    "nan-literal": (b'{"a": NaN}', ""),
    "infinity-literal": (b'{"a": Infinity}', ""),
    "overflowing-number": (b'{"a": 1e400}', "a number is out of range"),
    "lone-high-surrogate-escape": (b'"\\ud800"', "unpaired UTF-16 surrogate"),
    "lone-low-surrogate-escape": (b'"x\\udfff"', "unpaired UTF-16 surrogate"),
    "cesu8-surrogate-bytes": (b'"\xed\xa0\x80"', "unpaired UTF-16 surrogate"),
    "invalid-utf8": (b'"\xff"', ""),
    "too-deep": (b"[" * 1100 + b"]" * 1100, "it nests too deeply"),
    "trailing-garbage": (b"{} x", ""),
    "truncated": (b'{"a": [1, 2', ""),
}


@pytest.mark.parametrize("raw, problem", REJECTED.values(), ids=list(REJECTED))
def test_json_codec_rejects_what_json_does_not_allow(raw, problem):
    with pytest.raises(json_codec.JsonError) as caught:
        json_codec.loads(raw)
    assert problem in str(caught.value)


ACCEPTED = {
    "object": (b'{"a": [1, 2.5, "x", true, null]}', {"a": [1, 2.5, "x", True, None]}),
    "surrogate-pair-escape": (b'"\\ud83d\\ude00"', "\U0001f600"),
    "byte-order-mark": (b'\xef\xbb\xbf{"a": 1}', {"a": 1}),
    "duplicate-keys-last-wins": (b'{"a": 1, "a": 2}', {"a": 2}),
    "deep-but-allowed": (b"[" * 500 + b"]" * 500, json.loads("[" * 500 + "]" * 500)),
    "text": ('{"é": "ü"}', {"é": "ü"}),
}


@pytest.mark.parametrize("raw, value", ACCEPTED.values(), ids=list(ACCEPTED))
def test_json_codec_accepts_json(raw, value):
    assert json_codec.loads(raw) == value


def test_json_codec_dumps_compact_utf8_in_insertion_order():
    value = {"b": "é", "a": [1, 2.5, None]}
    assert json_codec.dumps(value) == '{"b":"é","a":[1,2.5,null]}'.encode()


@pytest.mark.parametrize(
    "value",
    [{"text": "x\ud800"}, {"n": 2**70}, {"deep": json.loads("[" * 300 + "]" * 300)}],
    ids=["lone-surrogate", "wide-integer", "past-orjson-depth"],
)
def test_json_codec_dumps_falls_back_to_valid_json(value):
    """Values not from ``loads`` (an upstream answer) still serialise validly."""
    raw = json_codec.dumps(value)
    assert json.loads(raw) == value
    raw.decode("ascii")
