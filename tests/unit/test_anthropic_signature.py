"""Our ``thinking.signature`` tokens: decoded the same whether memoised or not."""

from __future__ import annotations

import pytest

from antigravity_proxy.protocols.anthropic.signature import (
    CACHED_TOKEN_CHARS,
    ThinkingSignature,
    decode_signature,
    encode_signature,
)


@pytest.mark.parametrize("size", [10, CACHED_TOKEN_CHARS, CACHED_TOKEN_CHARS * 2])
def test_decode_signature_round_trips_small_and_large_tokens(size):
    token = encode_signature("s" * size, "gemini-3-pro", "call")
    expected = ThinkingSignature("s" * size, "gemini-3-pro", "call")
    assert decode_signature(token) == expected
    assert decode_signature(token) == expected  # a second read (memoised or not)


@pytest.mark.parametrize("value", ["", "agp1.!!!", "EqQBCkgIBhAB", None, 3, ["x"], {}])
def test_decode_signature_of_anything_else_is_none(value):
    assert decode_signature(value) is None
