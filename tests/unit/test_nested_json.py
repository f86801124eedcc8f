"""JSON inside JSON strings follows the body's rules (``json_codec``): a tool call's
``arguments``, a sealed token, Claude Code's ``user_id``. What is not strict JSON is
kept verbatim or ignored, never decoded into a lone surrogate or a crash."""

from __future__ import annotations

import base64

import pytest

from antigravity_proxy.handlers.anthropic_common import _session_id
from antigravity_proxy.protocols.openai.content import args_from_arguments
from antigravity_proxy.protocols.sealed import seal, unseal

NOT_STRICT = ['{"city":"\\ud800"}', '{"a":NaN}', "[" * 5000, '{"a":1e999}', '{"a":']


@pytest.mark.parametrize("arguments", NOT_STRICT)
def test_tool_arguments_that_are_not_strict_json_are_kept_verbatim(arguments):
    assert args_from_arguments(arguments) == {"arguments": arguments}


def test_tool_arguments_that_are_json_are_parsed():
    assert args_from_arguments('{"city":"\\ud83d\\ude00"}') == {"city": "\U0001f600"}


def test_unseal_refuses_a_token_hiding_a_lone_surrogate():
    assert unseal(seal({"s": "x"})) == {"s": "x"}
    raw = base64.urlsafe_b64encode(b'{"s":"\\ud800"}').decode().rstrip("=")
    assert unseal("agp1." + raw) is None


@pytest.mark.parametrize("user_id", NOT_STRICT)
def test_claude_code_user_id_that_is_not_strict_json_is_used_whole(user_id):
    assert _session_id(user_id) == user_id
