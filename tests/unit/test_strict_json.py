"""``protocols.strict_json``: every text Python's ``json`` would take but JSON
does not is ``NotJson``, for bytes and for nested strings alike."""

from __future__ import annotations

import base64

import pytest

from antigravity_proxy.protocols import strict_json
from antigravity_proxy.protocols.openai.content import args_from_arguments
from antigravity_proxy.protocols.sealed import seal, unseal

REFUSED = {
    "cesu8-high-surrogate": b'{"a":"x\xed\xa0\x80y"}',
    "cesu8-low-surrogate": b'{"a":"\xed\xbf\xbf"}',
    "cesu8-in-key": b'{"\xed\xa0\x80":1}',
    "invalid-byte": b'{"a":"\xff"}',
    "overlong": b'{"a":"\xc0\xaf"}',
    "past-unicode": b'{"a":"\xf4\x90\x80\x80"}',
    "escaped-high-surrogate": b'{"a":"\\ud800"}',
    "escaped-low-surrogate-in-key": b'{"\\udc00":1}',
    "escaped-surrogate-in-list": b'[["\\uDBFF"]]',
    "nan": b'{"a":NaN}',
    "infinity": b"[-Infinity]",
    "float-overflow": b"[1e400]",
    "too-many-digits": b"[" + b"9" * 5000 + b"]",
    "too-deep": b"[" * 100_000 + b"]" * 100_000,
    "syntax": b'{"a":',
    "odd-utf16": b'\xff\xfe{\x00"',
}
ACCEPTED = {
    "pair-escape": (b'{"a":"\\ud83d\\ude00"}', {"a": "\U0001f600"}),
    "raw-emoji": ('{"a":"\U0001f600"}'.encode(), {"a": "\U0001f600"}),
    "escape-like-text": (b'{"a":"\\\\ud800"}', {"a": "\\ud800"}),
    "utf8-bom": (b'\xef\xbb\xbf{"a":1}', {"a": 1}),
    "utf16": ('{"a":"\u00e9"}'.encode("utf-16"), {"a": "\u00e9"}),
    "str-input": ('{"a":[1,2.5]}', {"a": [1, 2.5]}),
}


@pytest.mark.parametrize("raw", REFUSED.values(), ids=REFUSED.keys())
def test_strict_json_refuses(raw):
    with pytest.raises(strict_json.NotJson):
        strict_json.loads(raw)


@pytest.mark.parametrize(("raw", "value"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_strict_json_accepts(raw, value):
    assert strict_json.loads(raw) == value


def test_strict_json_has_lone_surrogate():
    assert strict_json.has_lone_surrogate("a\udfffb")
    assert not strict_json.has_lone_surrogate("a\U0001f600b")


@pytest.mark.parametrize(
    "arguments", ['{"city":"\\ud800"}', '{"a":NaN}', "[" * 5000, '{"a":1e999}']
)
def test_tool_arguments_that_are_not_json_are_kept_verbatim(arguments):
    """A nested JSON string is held to the same rules as the body."""
    assert args_from_arguments(arguments) == {"arguments": arguments}


def test_unseal_refuses_a_token_hiding_a_lone_surrogate():
    token = seal({"s": "x"}).removeprefix("agp1.")
    assert unseal("agp1." + token) == {"s": "x"}
    raw = base64.urlsafe_b64encode(b'{"s":"\\ud800"}').decode().rstrip("=")
    assert unseal("agp1." + raw) is None
