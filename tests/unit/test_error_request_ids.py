"""Each protocol's error body names the request id where it has a place for one."""

from __future__ import annotations

import json

import pytest

from antigravity_proxy.errors import (
    AuthError,
    ErrorKind,
    GatewayError,
    InvalidRequest,
    NotFoundError,
    UpstreamUnavailable,
)
from antigravity_proxy.exchange import Exchange
from antigravity_proxy.protocols.anthropic import errors as anthropic
from antigravity_proxy.protocols.gemini import errors as gemini
from antigravity_proxy.protocols.mcp import errors as mcp
from antigravity_proxy.protocols.openai import errors as openai
from antigravity_proxy.protocols.openai.responses_stream import (
    ResponsesStreamTranslator,
)
from antigravity_proxy.protocols.openai.responses_types import ResponsesContext


def _err(request_id):
    err = InvalidRequest("bad")
    err.request_id = request_id
    return err


CASES = [
    (anthropic, lambda b: b.get("request_id")),
    (gemini, lambda b: (b["error"].get("details") or [{}])[0].get("requestId")),
    (mcp, lambda b: (b["error"].get("data") or {}).get("request_id")),
]


@pytest.mark.parametrize("module,found", CASES, ids=["anthropic", "gemini", "mcp"])
def test_request_id_in_error_body(module, found):
    assert found(module.error_body(_err("req_x"))) == "req_x"
    assert found(module.error_body(_err(None))) is None


def test_openai_message_names_the_request_id_and_keeps_four_fields():
    """OpenAI's error object has no request id field: the message names it, as
    OpenAI's own server errors do; the SDK also reads the header."""
    error = openai.error_body(_err("req_x"))["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] == "bad (request id: req_x)"
    assert openai.error_body(_err(None))["error"]["message"] == "bad"


def test_exchange_names_the_errors_it_records():
    """The one place an error learns its request id: the Exchange noting it."""
    exchange = Exchange("req_seen")
    err = InvalidRequest("bad")
    exchange.failed(err)
    assert (err.request_id, exchange.error_kind) == ("req_seen", "invalid_request")


def test_responses_stream_failure_names_the_request_id():
    ctx = ResponsesContext("resp_1", 0, "m", "m", "seed")
    translator = ResponsesStreamTranslator(ctx, {"model": "m", "input": "x"})
    translator.start()
    frames = translator.error(_err("req_r"))
    failed = json.loads(frames[-1].split(b"data: ", 1)[1])
    assert failed["response"]["error"]["message"] == "bad (request id: req_r)"


@pytest.mark.parametrize(
    ("err", "code", "status"),
    [
        (mcp.RpcError(mcp.PARSE_ERROR, "Parse error", status=400), -32700, 400),
        (mcp.RpcError(mcp.METHOD_NOT_FOUND, "no such method"), -32601, 200),
        (InvalidRequest("bad"), -32600, 400),
        (NotFoundError("gone"), -32601, 404),
        (AuthError("who"), -32001, 401),
        (UpstreamUnavailable("down"), -32603, 502),
    ],
)
def test_mcp_errors_share_the_gateway_error_tree(err, code, status):
    """An MCP server failure is a GatewayError: one seam renders every kind."""
    assert isinstance(err, GatewayError)
    err.request_id = "req_m"
    assert mcp.error_body(err) == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {
            "code": code,
            "message": err.message,
            "data": {"request_id": "req_m"},
        },
    }
    assert mcp.error_status(err) == status


def test_rpc_error_kind_follows_its_status_and_keeps_its_headers():
    err = mcp.RpcError(mcp.INVALID_REQUEST, "no", status=405, headers={"Allow": "GET"})
    assert err.kind is ErrorKind.METHOD_NOT_ALLOWED
    assert err.response_headers == {"Allow": "GET"}
    assert mcp.RpcError(mcp.INVALID_REQUEST, "in-band").kind is (
        ErrorKind.INVALID_REQUEST
    )
