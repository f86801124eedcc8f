"""Each protocol's error body names the request id where it has a place for one."""

from __future__ import annotations

import pytest

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.protocols.anthropic import errors as anthropic
from antigravity_proxy.protocols.gemini import errors as gemini
from antigravity_proxy.protocols.mcp import errors as mcp
from antigravity_proxy.protocols.openai import errors as openai


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


def test_openai_body_keeps_its_four_fields():
    """OpenAI's error object has no request id field; the SDK reads the header."""
    assert set(openai.error_body(_err("req_x"))["error"]) == {
        "message",
        "type",
        "param",
        "code",
    }
