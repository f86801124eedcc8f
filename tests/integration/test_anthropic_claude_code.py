"""Claude Code's real traffic (reference real-clients.md) through the WSGI app.

Each test replays one request shape Claude Code 2.1 sends to
``POST /v1/messages?beta=true``, with its headers, against the loopback fake
upstream, and checks both what went upstream and what Claude Code reads back.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from antigravity_proxy.protocols.anthropic.signature import SKIP_SIGNATURE
from antigravity_proxy.sessions import session_key
from tests.fakes.cloudcode import Stream, bad_request
from tests.integration.anthropic_support import (
    MESSAGES,
    accumulate,
    assert_event_grammar,
    body,
    chunk,
    events,
    sent_request,
)
from tests.upstream_env import seed_account

GOLDEN = Path(__file__).parent.parent / "golden/anthropic"
ENDPOINT = MESSAGES + "?beta=true"
KEY = "sk-claude-code"
BETAS = (
    "claude-code-20250219,context-1m-2025-08-07,interleaved-thinking-2025-05-14,"
    "thinking-token-count-2026-05-13,context-management-2025-06-27,"
    "prompt-caching-scope-2026-01-05,mid-conversation-system-2026-04-07,"
    "effort-2025-11-24"
)
HEADERS = {
    "anthropic-version": "2023-06-01",
    "anthropic-beta": BETAS,
    "x-app": "cli",
    "User-Agent": "claude-cli/2.1.197 (external, sdk-cli)",
    "anthropic-dangerous-direct-browser-access": "true",
    "X-Claude-Code-Session-Id": "7903aa",
    "X-Stainless-Retry-Count": "0",
    "X-Stainless-Timeout": "600",
    "Accept-Encoding": "gzip, deflate, br, zstd",
}
API_KEY = {"x-api-key": KEY}
TOOL_NAMES = (
    "Agent Bash CronCreate CronDelete CronList Edit EnterWorktree ExitWorktree "
    "NotebookEdit Read ReportFindings ScheduleWakeup SendMessage Skill TaskCreate "
    "TaskGet TaskList TaskOutput TaskStop TaskUpdate WebFetch WebSearch Workflow "
    "Write"
).split()
USER_ID = '{"device_id":"92fe0c","account_uuid":"","session_id":"7903aa"}'
SESSION = session_key(["anthropic-session:7903aa"])
DENIED = (
    "Claude requested permissions to use WebSearch, but you haven't granted it yet."
)
# Claude Code reads the token counts of "prompt is too long" with this pattern.
TOKEN_GAP = re.compile(r"prompt is too long[^0-9]*(\d+)\s*tokens?\s*>\s*(\d+)", re.I)


@pytest.fixture
def client(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    return gateway({"proxy": {"api_key": KEY, "auth_mode": "strict"}})


def first_turn(model: str = "claude-opus-4-8") -> dict[str, Any]:
    """The recorded first turn with all 24 tools (2020-12 schemas)."""
    request = json.loads((GOLDEN / "claude_code_first_turn/request.json").read_text())
    schemas = [tool["input_schema"] for tool in request["tools"]]
    request["tools"] = [
        {
            "name": name,
            "description": f"The {name} tool.",
            "input_schema": copy.deepcopy(schemas[i % len(schemas)]),
            **({"cache_control": {"type": "ephemeral"}} if i == 23 else {}),
        }
        for i, name in enumerate(TOOL_NAMES)
    ]
    return {**request, "model": model}


def post(client, request: dict[str, Any], auth: dict[str, str] = API_KEY):
    response = client.post(ENDPOINT, json=request, headers={**HEADERS, **auth})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def streamed(
    client, request: dict[str, Any], auth: dict[str, str] = API_KEY
) -> dict[str, Any]:
    """The message Claude Code assembles from a stream (grammar checked)."""
    frames = events(post(client, {**request, "stream": True}, auth))
    assert_event_grammar(frames)
    return accumulate(frames)


def test_preconnect_head_root_is_never_a_server_error(client):
    for headers in ({}, {"x-api-key": KEY}, {"x-api-key": "wrong"}):
        assert client.head("/", headers=headers).status_code < 500


@pytest.mark.parametrize(
    "auth", [API_KEY, {"Authorization": f"Bearer {KEY}"}], ids=["x-api-key", "bearer"]
)
def test_first_turn_of_the_default_model(client, fake_upstream, auth):
    message = streamed(client, first_turn(), auth)
    assert message["content"][-1]["text"].startswith("echo: ")
    envelope = fake_upstream.calls(":streamGenerateContent")[-1]
    assert envelope.json["model"] == "claude-opus-4-6-thinking"
    assert envelope.json["requestId"].endswith("/" + SESSION)
    assert envelope.headers["anthropic-beta"] == "claude-code-20250219"
    request = envelope.json["request"]
    system = [p["text"] for p in request["systemInstruction"]["parts"]]
    assert not any(text.startswith("x-anthropic-billing-header") for text in system)
    assert system[-1] == "Available agent types for the Agent tool: general-purpose."
    declarations = request["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declarations] == TOOL_NAMES
    text = json.dumps(declarations)
    for keyword in ("$schema", "additionalProperties", "exclusiveMinimum"):
        assert keyword not in text
    assert "cache_control" not in json.dumps(request)
    config = request["generationConfig"]
    assert config["maxOutputTokens"] == 64000
    assert config["thinkingConfig"] == {
        "includeThoughts": True,
        "thinkingBudget": 24576,
    }


@pytest.mark.parametrize(
    ("model", "max_tokens", "thinking", "effort", "upstream", "budget"),
    [
        ("gemini-3-flash", 32000, {"type": "adaptive"}, "high", "gemini-3-flash", 24576),
        ("claude-sonnet-4-5", 32000, {"type": "enabled", "budget_tokens": 31999},
         None, "claude-sonnet-4-6", 31999),
        ("claude-opus-4-5", 32000, {"type": "enabled", "budget_tokens": 31999},
         "high", "claude-opus-4-6-thinking", 31999),
        ("claude-haiku-4-5", 32000, {"type": "enabled", "budget_tokens": 31999},
         None, "claude-sonnet-4-6", 31999),
    ],
)  # fmt: skip
def test_first_turn_of_each_model_family(
    client, fake_upstream, model, max_tokens, thinking, effort, upstream, budget
):
    request = {**first_turn(model), "max_tokens": max_tokens, "thinking": thinking}
    if effort is None:
        request.pop("output_config")
        request["messages"] = request["messages"][:1]  # no mid-conversation system
    streamed(client, request)
    envelope = fake_upstream.calls(":streamGenerateContent")[-1].json
    assert envelope["model"] == upstream
    config = envelope["request"]["generationConfig"]
    assert config["maxOutputTokens"] == max_tokens
    assert config["thinkingConfig"] == {
        "includeThoughts": True,
        "thinkingBudget": budget,
    }


def test_system_messages_anywhere_join_the_system_prompt(client, fake_upstream):
    messages = [
        {"role": "user", "content": "first"},
        {"role": "system", "content": [{"type": "text", "text": "mid rule"}]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second"},
        {"role": "system", "content": "last rule"},
    ]
    streamed(client, body(messages=messages))
    request = sent_request(fake_upstream)
    assert [p["text"] for p in request["systemInstruction"]["parts"]] == [
        "mid rule",
        "last rule",
    ]
    assert [c["role"] for c in request["contents"]] == ["user", "model", "user"]


READ_TOOL = {
    "name": "Read",
    "description": "Reads a file from the local filesystem.",
    "input_schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"file_path": {"type": "string"}},
        "required": ["file_path"],
        "additionalProperties": False,
    },
}
BASH_TOOL = {**READ_TOOL, "name": "Bash", "description": "Runs a command."}
ADAPTIVE = {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}


def call_turn(fake, name: str, signature: str | None, thought_signature=None):
    """Script one upstream answer: a thought, then one call of ``name``."""
    thought: dict[str, Any] = {"text": f"Use {name}.", "thought": True}
    if thought_signature:
        thought["thoughtSignature"] = thought_signature
    call: dict[str, Any] = {
        "functionCall": {"name": name, "args": {"file_path": "/p/a"}, "id": name}
    }
    if signature:
        call["thoughtSignature"] = signature
    fake.script(Stream([chunk(thought), chunk(call, finish="STOP")]))


def loop_request(model: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        **body(messages=messages, tools=[READ_TOOL, BASH_TOOL], **ADAPTIVE),
        "model": model,
        "max_tokens": 64000,
        "metadata": {"user_id": USER_ID},
    }


def result(tool_use_id: str, content: Any = "1\tsecret\n", **extra: Any) -> dict:
    block = {"type": "tool_result", "tool_use_id": tool_use_id, "content": content}
    return {"role": "user", "content": [{**block, **extra}]}


def echoed(content: list[dict[str, Any]], signature: str | None) -> list[dict]:
    """The assistant content as Claude Code sends it back (signature replaced)."""
    blocks = copy.deepcopy(content)
    for block in blocks:
        if block["type"] == "thinking" and signature is not None:
            block["signature"] = signature
    return blocks


def model_turns(fake) -> list[list[dict[str, Any]]]:
    contents = sent_request(fake)["contents"]
    return [c["parts"] for c in contents if c["role"] == "model"]


def assert_no_synthetic_turns(fake, messages: list[dict[str, Any]]) -> None:
    """One upstream turn per client message, and no invented recovery text."""
    request = sent_request(fake)
    assert len(request["contents"]) == len(messages)
    assert "[System" not in json.dumps(request) and "interrupted" not in json.dumps(
        request
    )


@pytest.mark.parametrize("echo", [None, "", "EqQBCkgIBxAB" * 8])
def test_gemini_tool_loop_replays_every_call_signed(client, fake_upstream, echo):
    """Three turns of tools on a thinking model, history echoed verbatim, with
    blank signatures (Claude Code's ``""``) or with foreign ones."""
    ask = [{"role": "user", "content": "Read a, then run it"}]
    call_turn(fake_upstream, "Read", "sig-read-0001")
    first = streamed(client, loop_request("gemini-3-flash", ask))
    assert [b["type"] for b in first["content"]] == ["thinking", "tool_use"]
    assert first["stop_reason"] == "tool_use"
    history = [
        *ask,
        {"role": "assistant", "content": echoed(first["content"], echo)},
        result("Read", cache_control={"type": "ephemeral"}),
    ]
    call_turn(fake_upstream, "Bash", "sig-bash-0002")
    second = streamed(client, loop_request("gemini-3-flash", history))
    history += [
        {"role": "assistant", "content": echoed(second["content"], echo)},
        result("Bash"),
    ]
    streamed(client, loop_request("gemini-3-flash", history))
    calls = [p for turn in model_turns(fake_upstream) for p in turn]
    assert [p["thoughtSignature"] for p in calls] == ["sig-read-0001", "sig-bash-0002"]
    assert "thinkingConfig" in sent_request(fake_upstream)["generationConfig"]
    assert_no_synthetic_turns(fake_upstream, history)


def test_unsigned_upstream_call_replays_with_the_skip_sentinel(client, fake_upstream):
    """Nothing was ever signed, so Claude Code echoes ``""``: the call must still
    carry a signature (Gemini's documented validator bypass) on replay."""
    ask = [{"role": "user", "content": "Read a"}]
    call_turn(fake_upstream, "Read", None)
    first = streamed(client, loop_request("gemini-3-flash", ask))
    assert first["content"][0] == {
        "type": "thinking",
        "thinking": "Use Read.",
        "signature": "",
    }
    history = [*ask, {"role": "assistant", "content": first["content"]}, result("Read")]
    streamed(client, loop_request("gemini-3-flash", history))
    [call] = model_turns(fake_upstream)[0]
    assert call["thoughtSignature"] == SKIP_SIGNATURE


@pytest.mark.parametrize("echo", [None, ""])
def test_claude_upstream_tool_loop(client, fake_upstream, echo):
    """A Claude model signs its thought part; replayed verbatim it is restored
    and thinking stays on; echoed blank, the turn is sent without thinking
    rather than failing, and nothing else is dropped or invented."""
    ask = [{"role": "user", "content": "Read a"}]
    call_turn(fake_upstream, "Read", None, thought_signature="ErUBclaude-sig-01")
    first = streamed(client, loop_request("claude-opus-4-8", ask))
    history = [
        *ask,
        {"role": "assistant", "content": echoed(first["content"], echo)},
        result("Read"),
    ]
    streamed(client, loop_request("claude-opus-4-8", history))
    [turn] = model_turns(fake_upstream)
    config = sent_request(fake_upstream)["generationConfig"]
    if echo is None:
        assert turn[0] == {
            "text": "Use Read.",
            "thought": True,
            "thoughtSignature": "ErUBclaude-sig-01",
        }
        assert config["thinkingConfig"]["includeThoughts"] is True
    else:
        assert [p.get("thoughtSignature") for p in turn] == [SKIP_SIGNATURE]
        assert "functionCall" in turn[0] and "thinkingConfig" not in config
    assert_no_synthetic_turns(fake_upstream, history)


def test_denied_tool_result_reaches_the_model_as_an_error(client, fake_upstream):
    history = [
        {"role": "user", "content": "search the web"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}}
            ],
        },
        result("toolu_1", DENIED, is_error=True),
    ]
    message = streamed(client, loop_request("gemini-3-flash", history))
    assert message["content"][-1]["type"] == "text"
    response = sent_request(fake_upstream)["contents"][-1]["parts"][0]
    assert response == {
        "functionResponse": {
            "name": "Read",
            "id": "toolu_1",
            "response": {"error": DENIED},
        }
    }


SEARCH_QUERY = "python 3.14 release date"
GROUNDING = {
    "webSearchQueries": [SEARCH_QUERY],
    "groundingChunks": [
        {"web": {"uri": "https://example.test/python-314", "title": "python.org"}},
        {"web": {"uri": "https://example.test/whatsnew", "title": "What's New"}},
    ],
    "groundingSupports": [
        {
            "segment": {"text": "Python 3.14 was released on 7 October 2025."},
            "groundingChunkIndices": [0, 1],
        }
    ],
}


def web_search_request() -> dict[str, Any]:
    """Claude Code's nested WebSearch call (``samples/claude_web_search_...``)."""
    return {
        "model": "claude-opus-4-8",
        "max_tokens": 64000,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1"},
            {
                "type": "text",
                "text": "You are an assistant for performing a web search tool use",
            },
        ],
        "messages": [
            {
                "role": "user",
                "content": "Perform a web search for the query: " + SEARCH_QUERY,
            }
        ],
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 8}],
        "tool_choice": {"type": "tool", "name": "web_search"},
        "thinking": {"type": "disabled"},
        "output_config": {"effort": "high"},
        "metadata": {"user_id": USER_ID},
    }


def grounded_answer() -> Stream:
    return Stream(
        [
            chunk({"text": "Python 3.14 was released on 7 October 2025."}),
            chunk(
                finish="STOP",
                grounding=GROUNDING,
                usage={"promptTokenCount": 20, "candidatesTokenCount": 11},
            ),
        ]
    )


def search_results(content: list[dict[str, Any]]) -> list[Any]:
    """Claude Code's WebSearch tool reading the answer (its ``EEf`` loop)."""
    results: list[Any] = []
    text, in_text = "", True
    for block in content:
        if block["type"] == "server_tool_use":
            if in_text and text.strip():
                results.append(text.strip())
            text, in_text = "", False
        elif block["type"] == "web_search_tool_result":
            links = [{"title": r["title"], "url": r["url"]} for r in block["content"]]
            results.append({"tool_use_id": block["tool_use_id"], "content": links})
        elif block["type"] == "text":
            text = text + block["text"] if in_text else block["text"]
            in_text = True
    return [*results, text.strip()] if text else results


def test_web_search_request_answers_with_search_blocks(client, fake_upstream):
    fake_upstream.script(grounded_answer(), grounded_answer())
    frames = events(post(client, {**web_search_request(), "stream": True}))
    assert_event_grammar(frames)
    message = accumulate(frames)
    request = sent_request(fake_upstream)
    assert request["tools"] == [{"googleSearch": {}}]
    assert "toolConfig" not in request
    assert request["generationConfig"]["thinkingConfig"] == {"includeThoughts": False}
    starts = [d["content_block"] for n, d in frames if n == "content_block_start"]
    use = next(b for b in starts if b["type"] == "server_tool_use")
    assert use["name"] == "web_search"
    query = next(
        d["delta"]["partial_json"]
        for n, d in frames
        if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta"
    )
    assert json.loads(query) == {"query": SEARCH_QUERY}  # Claude Code's progress
    assert search_results(message["content"]) == [
        "Python 3.14 was released on 7 October 2025.",
        {
            "tool_use_id": use["id"],
            "content": [
                {"title": "python.org", "url": "https://example.test/python-314"},
                {"title": "What's New", "url": "https://example.test/whatsnew"},
            ],
        },
    ]
    assert message["usage"]["server_tool_use"] == {"web_search_requests": 1}
    whole = post(client, web_search_request()).json
    assert without_ids(whole) == without_ids(message)


def without_ids(message: dict[str, Any]) -> str:
    text = json.dumps({**message, "id": ""}, sort_keys=True)
    return re.sub(r"srvtoolu_[0-9a-f]+_", "srvtoolu_", text)


SESSION_TITLE_PROMPT = (
    "Generate a concise, sentence-case title (3-7 words) that captures the main "
    "topic or goal of this coding session. The title should be clear enough that "
    "the user recognizes the session in a list.\nReturn JSON with a single "
    '"title" field.'
)
TITLE_SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}},
    "required": ["title"],
    "additionalProperties": False,
}


def test_session_title_request_goes_to_the_background_model(client, fake_upstream):
    session = "<session>\n" + "Reply with the contents of hello.txt\n" * 40
    request = {
        "model": "claude-haiku-4-5",
        "max_tokens": 32000,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1"},
            {"type": "text", "text": SESSION_TITLE_PROMPT},
        ],
        "messages": [
            {
                "role": "user",
                "content": session + "</session>\nWrite the title in the language "
                "the user wrote in, regardless of the language of the examples above.",
            }
        ],
        "thinking": {"type": "disabled"},
        "output_config": {"format": {"type": "json_schema", "schema": TITLE_SCHEMA}},
        "metadata": {"user_id": USER_ID},
    }
    message = streamed(client, request)
    envelope = fake_upstream.calls(":streamGenerateContent")[-1].json
    assert envelope["model"] == "gemini-2.5-flash"
    config = envelope["request"]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == TITLE_SCHEMA
    assert config["thinkingConfig"] == {"includeThoughts": False}
    assert "echo" in json.loads(message["content"][0]["text"])
    assert message["model"] == "claude-haiku-4-5"


def test_prompt_too_long_carries_the_token_counts_claude_code_reads(
    client, fake_upstream
):
    fake_upstream.script(
        bad_request(
            "The input token count (1200000) exceeds the maximum number of "
            "tokens allowed (1048576)."
        )
    )
    response = client.post(
        ENDPOINT, json={**first_turn(), "stream": True}, headers={**HEADERS, **API_KEY}
    )
    assert response.status_code == 400
    error = response.json["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].lower().startswith("prompt is too long")
    gap = TOKEN_GAP.search(error["message"])
    assert gap is not None and gap.groups() == ("1200000", "1048576")
