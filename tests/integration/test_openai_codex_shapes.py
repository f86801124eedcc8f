"""Codex CLI's real Responses request shapes (real-clients.md) through the WSGI app
against the fake Cloud Code: each answers a 200 event stream whose items Codex reads
from ``response.output_item.done``, ending in ``response.completed``, and sends the
upstream the request the shape means."""

from __future__ import annotations

import json

import pytest

from tests.fakes.cloudcode_replies import default_reply
from tests.integration.openai_support import (
    APPLY_PATCH_GRAMMAR,
    CODE_MODE_EXEC,
    CODEX_HEADERS,
    ENVIRONMENT,
    EXEC_COMMAND,
    MODEL,
    codex_body,
)
from tests.upstream_env import seed_account


@pytest.fixture
def client(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    return gateway({"model_mapping": {"gpt-*": MODEL}})


def post(client, body: dict, path: str = "/v1/responses"):
    response = client.post(path, json=body, headers=CODEX_HEADERS)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/event-stream"
    return response


def events_of(response) -> list[dict]:
    """The event JSON of each SSE frame; each frame also names its type."""
    frames = response.get_data(as_text=True).split("\n\n")
    found = []
    for frame in filter(None, frames):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        event = json.loads(lines["data"])
        assert lines["event"] == event["type"]
        found.append(event)
    return found


def done_items(events: list[dict]) -> list[dict]:
    """What Codex keeps: the items of ``response.output_item.done``."""
    assert events[-1]["type"] == "response.completed", events[-1]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    items = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert items, "Codex takes its output only from response.output_item.done"
    assert events[-1]["response"]["output"] == items
    assert events[-1]["response"]["usage"]["input_tokens"] > 0
    return items


def sent(fake, index: int = -1) -> dict:
    return [c.json["request"] for c in fake.calls(":streamGenerateContent")][index]


def declared(request: dict) -> dict[str, dict]:
    return {
        d["name"]: d
        for t in request.get("tools", [])
        for d in t["functionDeclarations"]
    }


# --- Codex request shapes ------------------------------------------------------


def test_codex_unknown_model_shape(client, fake_upstream):
    """Developer messages, ids on items, namespace + web_search tools, metadata."""
    items = done_items(events_of(post(client, codex_body("Reply with exactly OK."))))
    assert items[-1]["type"] == "message"
    assert items[-1]["content"][0]["text"].endswith(" Reply with exactly OK.")
    request = sent(fake_upstream)
    assert request["systemInstruction"]["parts"] == [
        {"text": "You are a coding agent running in the Codex CLI."},
        {"text": "<skills_instructions>none</skills_instructions>"},
    ]
    assert request["contents"] == [
        {
            "role": "user",
            "parts": [{"text": ENVIRONMENT}, {"text": "Reply with exactly OK."}],
        }
    ]
    assert set(declared(request)) == {
        "exec_command",
        "multi_agent_v1__spawn_agent",
        "multi_agent_v1__send_input",
    }
    assert "additionalProperties" not in json.dumps(declared(request))
    assert request["generationConfig"] == {"thinkingConfig": {"includeThoughts": True}}
    envelope = fake_upstream.calls(":streamGenerateContent")[-1].json
    assert "googleSearch" not in json.dumps(envelope)


def test_codex_gpt55_shape_with_custom_and_tool_search(client, fake_upstream):
    """``text.verbosity``, ``reasoning.effort``, a lark ``custom`` tool and a
    client-side ``tool_search`` tool (dropped: the upstream cannot run it)."""
    body = codex_body(
        "please call apply_patch to fix hello.txt",
        model="gpt-5.5",
        text={"verbosity": "low"},
        reasoning={"effort": "medium", "summary": "auto"},
        tools=[
            EXEC_COMMAND,
            APPLY_PATCH_GRAMMAR,
            {
                "type": "tool_search",
                "execution": "client",
                "description": "Find tools.",
            },
            {"type": "web_search", "external_web_access": False},
        ],
    )
    items = done_items(events_of(post(client, body)))
    assert [i["type"] for i in items] == ["reasoning", "custom_tool_call"]
    assert items[0]["encrypted_content"].startswith("agp1.")
    assert (items[1]["name"], items[1]["input"]) == ("apply_patch", "x")
    request = sent(fake_upstream)
    patch = declared(request)["apply_patch"]
    assert patch["parameters"]["required"] == ["input"]
    assert "lark grammar" in patch["description"]
    assert set(declared(request)) == {"exec_command", "apply_patch"}
    assert request["generationConfig"]["thinkingConfig"] == {
        "thinkingBudget": 8192,
        "includeThoughts": True,
    }


def test_codex_default_model_additional_tools_shape(client, fake_upstream):
    """gpt-6.1-sol: no top-level tools, an ``additional_tools`` input item with a
    namespaced custom tool, ``reasoning.context`` and ``parallel_tool_calls:false``."""
    body = codex_body(
        "please call functions__exec to print 1",
        model="gpt-6.1-sol",
        parallel_tool_calls=False,
        reasoning={"effort": "low", "context": "all_turns", "summary": "auto"},
    )
    del body["tools"]
    additional = {
        "type": "additional_tools",
        "role": "developer",
        "tools": [
            {"type": "namespace", "name": "functions", "tools": [CODE_MODE_EXEC]}
        ],
    }
    body["input"].insert(2, additional)
    items = done_items(events_of(post(client, body)))
    call = items[-1]
    assert call["type"] == "custom_tool_call"
    assert (call["namespace"], call["name"], call["input"]) == (
        "functions",
        "exec",
        "x",
    )
    request = sent(fake_upstream)
    assert set(declared(request)) == {"functions__exec"}
    assert request["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 1024
    envelope = fake_upstream.calls(":streamGenerateContent")[-1].json
    assert envelope["model"] == MODEL


def test_codex_tool_follow_up_restores_signature(client, fake_upstream):
    """Codex replays the reasoning item (``content: null``, ``encrypted_content``),
    the function_call with ``status``/``id`` and the output with its own ``id``."""
    first = post(client, codex_body("please call exec_command to list files"))
    reasoning, call = done_items(events_of(first))
    expected = default_reply(sent(fake_upstream)).parts[1]["thoughtSignature"]
    replay = [
        {**reasoning, "content": None},
        {**call, "status": "completed"},
        {
            "type": "function_call_output",
            "id": "fco_01a2",
            "call_id": call["call_id"],
            "output": "Chunk ID: 0de4d7\nProcess exited with code 0\nOutput:\nhi\n",
        },
    ]
    body = codex_body("please call exec_command to list files")
    body["input"] += replay
    body["prompt_cache_key"] = "another-session"  # only encrypted_content can help
    done_items(events_of(post(client, body)))
    model_turn, tool_turn = sent(fake_upstream)["contents"][1:]
    assert model_turn["parts"][0]["thoughtSignature"] == expected
    assert model_turn["parts"][0]["functionCall"]["id"] == call["call_id"]
    response = tool_turn["parts"][0]["functionResponse"]
    assert (response["id"], response["name"]) == (call["call_id"], "exec_command")


def test_codex_foreign_encrypted_content_falls_back_to_sentinel(client, fake_upstream):
    """A reasoning item another backend encrypted (after a model switch)."""
    body = codex_body("what did the command print")
    body["input"] += [
        {
            "type": "reasoning",
            "id": "rs_4563",
            "summary": [{"type": "summary_text", "text": "Thinking about it."}],
            "content": None,
            "encrypted_content": "enc-d40c5e0f9a",
        },
        {
            "type": "function_call",
            "status": "completed",
            "id": "fc_42a0",
            "name": "exec_command",
            "arguments": '{"cmd": "echo hi"}',
            "call_id": "call_f551",
        },
        {
            "type": "function_call_output",
            "id": "fco_1",
            "call_id": "call_f551",
            "output": "hi\n",
        },
    ]
    done_items(events_of(post(client, body)))
    part = sent(fake_upstream)["contents"][1]["parts"][0]
    assert part["functionCall"] == {
        "name": "exec_command",
        "args": {"cmd": "echo hi"},
        "id": "call_f551",
    }
    assert part["thoughtSignature"] == "skip_thought_signature_validator"


@pytest.mark.parametrize(
    "item",
    [
        {"type": "compaction", "id": "cmp_1", "encrypted_content": "opaque"},
        {"type": "item_reference", "id": "msg_earlier"},
        {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {}},
        {"type": "tool_search_call", "id": "ts_1", "arguments": {"query": "x"}},
        {"type": "local_shell_call", "id": "ls_1", "call_id": "c", "action": {}},
        {"type": "a_type_from_the_future", "payload": [1, {"x": None}]},
    ],
    ids=lambda item: item["type"],
)
def test_codex_unknown_input_items_are_skipped(client, fake_upstream, item):
    body = codex_body("carry on")
    body["input"].insert(3, item)
    done_items(events_of(post(client, body)))
    assert sent(fake_upstream)["contents"][-1]["parts"][-1] == {"text": "carry on"}


@pytest.mark.parametrize("path", ["/responses", "/responses/compact"])
def test_codex_paths_without_v1(client, path):
    done_items(events_of(post(client, codex_body("Reply with exactly OK."), path)))


def test_codex_websocket_attempt_is_426(client):
    headers = {**CODEX_HEADERS, "Upgrade": "websocket", "Connection": "Upgrade"}
    response = client.get("/v1/responses", headers=headers)
    assert response.status_code == 426
    assert set(response.json["error"]) == {"message", "type", "param", "code"}


def test_model_retrieve_known_and_unknown(client):
    known = client.get(f"/v1/models/{MODEL}")
    assert known.status_code == 200
    assert {"id", "object", "created", "owned_by"} <= set(known.json)
    assert (known.json["id"], known.json["object"]) == (MODEL, "model")
    unknown = client.get("/v1/models/no-such-model-1")
    assert unknown.status_code == 404
    assert unknown.json["error"]["code"] == "model_not_found"
