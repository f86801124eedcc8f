"""Our request id in z.ai's relayed error bodies (``upstream/zai_errors.py``)."""

from __future__ import annotations

import json

import pytest

from antigravity_proxy.upstream.zai import Relayed
from antigravity_proxy.upstream.zai_errors import (
    anthropic_error_with_id,
    is_rpc_error,
    rpc_error_with_id,
)

OURS = "req_0123456789abcdef0123456789abcdef"
ERROR = {"type": "rate_limit_error", "message": "slow down"}
UNCHANGED = [
    b"<html><body>502 Bad Gateway</body></html>",
    b"",
    b"   ",
    b"\xff\xfe not utf-8",
    b'["type", "error"]',
    b'"error"',
    b"null",
    b"[" * 5000 + b"]" * 5000,
    b'{"type": "error", "error": NaN}',
]

ANTHROPIC_CASES = {
    "no upstream id": (
        {"type": "error", "error": ERROR},
        {"type": "error", "error": ERROR, "request_id": OURS},
    ),
    "different upstream id": (
        {"type": "error", "error": ERROR, "request_id": "zai-42"},
        {
            "type": "error",
            "error": ERROR,
            "request_id": OURS,
            "upstream_request_id": "zai-42",
        },
    ),
    "same id": (
        {"type": "error", "error": ERROR, "request_id": OURS},
        {"type": "error", "error": ERROR, "request_id": OURS},
    ),
    "null upstream id": (
        {"type": "error", "error": ERROR, "request_id": None},
        {"type": "error", "error": ERROR, "request_id": OURS},
    ),
    "non-ascii message": (
        {"type": "error", "error": {"type": "api_error", "message": "配额 ✓"}},
        {
            "type": "error",
            "error": {"type": "api_error", "message": "配额 ✓"},
            "request_id": OURS,
        },
    ),
}
NOT_ANTHROPIC_ERRORS = [
    {"error": ERROR},
    {"type": "message", "error": ERROR},
    {"type": "error", "error": "slow down"},
    {"type": "error"},
    {"code": 1302, "msg": "rate limited", "success": False},
    {"jsonrpc": "2.0", "id": 1, "error": {"code": -32600, "message": "bad"}},
]


@pytest.mark.parametrize(
    ("upstream", "expected"), ANTHROPIC_CASES.values(), ids=ANTHROPIC_CASES.keys()
)
def test_anthropic_error_gets_our_request_id(upstream, expected):
    content = json.dumps(upstream, ensure_ascii=False).encode()
    stamped = anthropic_error_with_id(content, OURS)
    assert json.loads(stamped) == expected
    assert list(json.loads(stamped))[: len(upstream)] == list(upstream)


@pytest.mark.parametrize("content", UNCHANGED)
def test_anthropic_error_not_json_object_is_unchanged(content):
    assert anthropic_error_with_id(content, OURS) is content


@pytest.mark.parametrize("body", NOT_ANTHROPIC_ERRORS)
def test_anthropic_error_of_another_shape_is_unchanged(body):
    content = json.dumps(body).encode()
    assert anthropic_error_with_id(content, OURS) is content


RPC = {"jsonrpc": "2.0", "id": 7}
RPC_CASES = {
    "no data": (
        {"code": -32602, "message": "bad"},
        {"code": -32602, "message": "bad", "data": {"request_id": OURS}},
    ),
    "null data": (
        {"code": -32602, "message": "bad", "data": None},
        {"code": -32602, "message": "bad", "data": {"request_id": OURS}},
    ),
    "object data": (
        {"code": -32602, "message": "bad", "data": {"field": "q"}},
        {"code": -32602, "message": "bad", "data": {"field": "q", "request_id": OURS}},
    ),
    "different upstream id": (
        {"code": -32603, "message": "x", "data": {"request_id": "zai-9"}},
        {
            "code": -32603,
            "message": "x",
            "data": {"request_id": OURS, "upstream_request_id": "zai-9"},
        },
    ),
    "same id": (
        {"code": -32603, "message": "x", "data": {"request_id": OURS}},
        {"code": -32603, "message": "x", "data": {"request_id": OURS}},
    ),
    "string data": (
        {"code": -32000, "message": "x", "data": "trace 12"},
        {
            "code": -32000,
            "message": "x",
            "data": {"upstream_data": "trace 12", "request_id": OURS},
        },
    ),
    "list data": (
        {"code": -32000, "message": "x", "data": [1, 2]},
        {
            "code": -32000,
            "message": "x",
            "data": {"upstream_data": [1, 2], "request_id": OURS},
        },
    ),
}
NOT_RPC_ERRORS = [
    {"jsonrpc": "2.0", "id": 1, "result": {}},
    {"jsonrpc": "1.0", "id": 1, "error": {"code": 1, "message": "x"}},
    {"jsonrpc": "2.0", "id": 1, "error": "bad"},
    {"type": "error", "error": ERROR},
]


@pytest.mark.parametrize(
    ("error", "expected"), RPC_CASES.values(), ids=RPC_CASES.keys()
)
def test_rpc_error_gets_our_request_id_in_data(error, expected):
    content = json.dumps({**RPC, "error": error}).encode()
    assert is_rpc_error(content)
    assert json.loads(rpc_error_with_id(content, OURS)) == {**RPC, "error": expected}


@pytest.mark.parametrize("content", UNCHANGED)
def test_rpc_error_not_json_object_is_unchanged(content):
    assert not is_rpc_error(content)
    assert rpc_error_with_id(content, OURS) is content


@pytest.mark.parametrize("body", NOT_RPC_ERRORS)
def test_rpc_error_of_another_shape_is_unchanged(body):
    content = json.dumps(body).encode()
    assert not is_rpc_error(content)
    assert rpc_error_with_id(content, OURS) is content


def stamp(content: bytes, request_id: str) -> bytes:
    return content + b"|" + request_id.encode()


@pytest.mark.parametrize("status", [400, 401, 404, 429, 500, 502, 529, 302, 199])
def test_relayed_error_stamped_for_every_non_2xx_read_whole(status):
    answer = Relayed(status, {"content-type": "application/json"}, b"{}")
    stamped = answer.error_stamped(stamp, OURS)
    assert stamped.body == b"{}|" + OURS.encode()
    assert (stamped.status, stamped.headers) == (status, answer.headers)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_relayed_error_stamped_never_touches_a_2xx(status):
    answer = Relayed(status, {}, json.dumps({"type": "error", "error": ERROR}).encode())
    assert answer.error_stamped(stamp, OURS) is answer


@pytest.mark.parametrize("status", [200, 429, 500])
def test_relayed_error_stamped_never_touches_a_stream(status):
    chunks = iter([b"event: error\n", b"data: {}\n\n"])
    answer = Relayed(status, {}, chunks, stream=True)
    stamped = answer.error_stamped(stamp, OURS)
    assert stamped is answer
    assert stamped.body is chunks
