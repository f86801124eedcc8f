"""Gemini CLI's real traffic (real-clients.md) through the WSGI app and the fake.

Each request here has the shape Gemini CLI 0.61 sends: ``x-goog-api-key`` and the
CLI's own headers, a 23-30k character ``systemInstruction``, eight tools declared
with ``parametersJsonSchema``, ``thinkingLevel``/``thinkingBudget``, the router
classifier in JSON mode, the nested ``google_web_search`` request, and tool
follow-ups carrying the CLI's invented call ids and thought signatures.
"""

from __future__ import annotations

import json

import pytest

from tests.fakes.cloudcode import Stream
from tests.upstream_env import seed_account

KEY = "sk-gemini-cli-0123456789abcdef0123"
CLI_HEADERS = {
    "x-goog-api-key": KEY,
    "User-Agent": "GeminiCLI-tui/0.61.0/gemini-3.8-flash (linux; x64; terminal)",
    "x-goog-api-client": "google-genai-sdk/1.30.0 gl-node/v20.20.2",
    "x-gemini-api-privileged-user-id": "2f0c9a4e-7c1e-4a52-9a55-3d0d6a1b7e11",
}
TOOL_NAMES = (
    "update_topic",
    "list_directory",
    "read_file",
    "grep_search",
    "glob",
    "google_web_search",
    "enter_plan_mode",
    "invoke_agent",
)
SYSTEM_TEXT = (
    "You are Gemini CLI, an interactive CLI agent specializing in software "
    "engineering tasks. " * 300
)[:26_500]
SESSION_CONTEXT = (
    "<session_context>This is the Gemini CLI. We are setting up the context for "
    "our chat. Today's date is Friday. My operating system is: linux. I'm "
    "currently working in the directory: /home/user/project</session_context>"
)
CLASSIFIER_SCHEMA = {
    "type": "OBJECT",
    "properties": {
        "complexity_reasoning": {"type": "STRING"},
        "complexity_score": {"type": "INTEGER"},
    },
    "required": ["complexity_reasoning", "complexity_score"],
}


def declaration(name: str) -> dict:
    return {
        "name": name,
        "description": f"The {name} tool of Gemini CLI.",
        "parametersJsonSchema": {
            "type": "object",
            "properties": {
                "file_path": {"type": "string", "description": "Absolute path."},
                "offset": {"type": "number", "minimum": 0},
                "patterns": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["file_path"],
        },
    }


def turn_body(prompt: str, *, thinking: dict | None = None) -> dict:
    return {
        "contents": [
            {"role": "user", "parts": [{"text": SESSION_CONTEXT}, {"text": prompt}]}
        ],
        "systemInstruction": {"parts": [{"text": SYSTEM_TEXT}]},
        "tools": [{"functionDeclarations": [declaration(n) for n in TOOL_NAMES]}],
        "generationConfig": {
            "temperature": 1,
            "topP": 0.95,
            "topK": 64,
            "thinkingConfig": thinking
            or {"includeThoughts": True, "thinkingLevel": "HIGH"},
        },
    }


@pytest.fixture
def cli(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    return gateway({"proxy": {"api_key": KEY, "auth_mode": "strict"}})


def stream_path(model: str) -> str:
    return f"/v1beta/models/{model}:streamGenerateContent?alt=sse"


def sse_chunks(response) -> list[dict]:
    raw = response.get_data(as_text=True)
    frames = raw.split("\r\n\r\n")
    assert frames[-1] == "", "every event ends with \\r\\n\\r\\n"
    assert all(f.startswith("data: ") and "\n" not in f for f in frames[:-1])
    return [json.loads(f[len("data: ") :]) for f in frames[:-1]]


def last_upstream(fake_upstream) -> dict:
    return fake_upstream.calls(":streamGenerateContent")[-1].json


def test_cli_turn_headers_pass_auth_and_never_reach_upstream(cli, fake_upstream):
    response = cli.post(
        stream_path("gemini-3.8-flash"), json=turn_body("hello"), headers=CLI_HEADERS
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["X-Mapped-Model"] == "gemini-3-flash"
    call = fake_upstream.calls(":streamGenerateContent")[-1]
    assert call.headers["user-agent"].startswith("Antigravity/")
    for name in (
        "x-goog-api-key",
        "x-goog-api-client",
        "x-gemini-api-privileged-user-id",
    ):
        assert name not in call.headers
    every = json.dumps([(r.headers, r.json, r.query) for r in fake_upstream.requests])
    assert KEY not in every
    assert CLI_HEADERS["x-gemini-api-privileged-user-id"] not in every


def test_cli_turn_without_the_key_is_a_gemini_401(cli):
    headers = {k: v for k, v in CLI_HEADERS.items() if k != "x-goog-api-key"}
    response = cli.post(
        stream_path("gemini-3.8-flash"), json=turn_body("hi"), headers=headers
    )
    assert response.status_code == 401
    assert response.json["error"]["status"] == "UNAUTHENTICATED"
    assert response.json["error"]["code"] == 401


def test_cli_turn_body_reaches_upstream_translated(cli, fake_upstream):
    body = turn_body("explain this repository")
    response = cli.post(stream_path("gemini-3.8-flash"), json=body, headers=CLI_HEADERS)
    assert response.status_code == 200
    envelope = last_upstream(fake_upstream)
    assert envelope["model"] == "gemini-3-flash"
    request = envelope["request"]
    assert request["contents"] == body["contents"]
    assert request["systemInstruction"] == {
        "role": "user",
        "parts": [{"text": SYSTEM_TEXT}],
    }
    assert len(request["systemInstruction"]["parts"][0]["text"]) == 26_500
    declarations = request["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declarations] == list(TOOL_NAMES)
    for sent in declarations:
        assert "parametersJsonSchema" not in sent
        assert sent["parameters"]["type"] == "object"
        assert sent["parameters"]["required"] == ["file_path"]
        assert sent["parameters"]["properties"]["patterns"]["items"] == {
            "type": "string"
        }
    config = request["generationConfig"]
    assert config["thinkingConfig"] == {
        "includeThoughts": True,
        "thinkingBudget": 32768,
    }
    assert (config["temperature"], config["topP"], config["topK"]) == (1, 0.95, 64)


@pytest.mark.parametrize(
    ("model", "upstream", "thinking", "budget"),
    [
        (
            "gemini-3.1-pro-preview",
            "gemini-3.1-pro-preview",
            {"thinkingLevel": "HIGH"},
            49152,
        ),
        ("gemini-3-flash-preview", "gemini-3-flash", {"thinkingLevel": "HIGH"}, 32768),
        ("gemini-2.5-pro", "gemini-pro-agent", {"thinkingBudget": 8192}, 8192),
        ("gemini-2.5-flash", "gemini-2.5-flash", {"thinkingBudget": 8192}, 8192),
    ],
)
def test_cli_models_and_thinking_configs(
    cli, fake_upstream, model, upstream, thinking, budget
):
    body = turn_body("hi there", thinking={"includeThoughts": True, **thinking})
    response = cli.post(stream_path(model), json=body, headers=CLI_HEADERS)
    assert response.status_code == 200, response.get_data(as_text=True)
    envelope = last_upstream(fake_upstream)
    assert envelope["model"] == upstream
    sent = envelope["request"]["generationConfig"]["thinkingConfig"]
    assert sent == {"includeThoughts": True, "thinkingBudget": budget}


def test_cli_stream_ends_with_finish_reason_and_crlf_frames(cli):
    response = cli.post(
        stream_path("gemini-3.8-flash"), json=turn_body("say hi"), headers=CLI_HEADERS
    )
    assert response.mimetype == "text/event-stream"
    chunks = sse_chunks(response)
    assert len(chunks) >= 2
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert all("finishReason" not in c["candidates"][0] for c in chunks[:-1])
    assert all("response" not in c for c in chunks)


def classifier_body() -> dict:
    return {
        "contents": [
            {"role": "user", "parts": [{"text": "fix the failing test in utils.py"}]}
        ],
        "systemInstruction": {"parts": [{"text": "You are a routing classifier."}]},
        "generationConfig": {
            "temperature": 0,
            "responseMimeType": "application/json",
            "responseJsonSchema": CLASSIFIER_SCHEMA,
            "thinkingConfig": {"thinkingBudget": 512},
        },
    }


def answer_text(response_json: dict) -> str:
    parts = response_json["candidates"][0]["content"]["parts"]
    return "".join(p["text"] for p in parts if "text" in p and not p.get("thought"))


def test_cli_router_classifier_gets_valid_json(cli, fake_upstream):
    path = "/v1beta/models/gemini-3.5-flash-lite:generateContent"
    response = cli.post(path, json=classifier_body(), headers=CLI_HEADERS)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    answer = json.loads(answer_text(response.json))
    assert answer == {"echo": "fix the failing test in utils.py"}
    assert response.json["candidates"][0]["finishReason"] == "STOP"
    envelope = last_upstream(fake_upstream)
    assert envelope["model"] == "gemini-2.5-flash"
    config = envelope["request"]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == CLASSIFIER_SCHEMA  # upper-case types kept
    assert config["temperature"] == 0


def test_cli_router_classifier_json_split_mid_token_with_thoughts(cli, fake_upstream):
    text = '{"complexity_reasoning": "a small, local fix", "complexity_score": 12}'
    chunks = [
        {"candidates": [{"content": {"role": "model", "parts": [
            {"text": "Judging the task.", "thought": True}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": text[:7]}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": text[7:40]}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [
            {"text": text[40:], "thoughtSignature": "sig-classifier"}]},
            "finishReason": "STOP"}],
         "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 30}},
    ]  # fmt: skip
    fake_upstream.script(Stream(chunks))
    path = "/v1beta/models/gemini-3.5-flash-lite:generateContent"
    response = cli.post(path, json=classifier_body(), headers=CLI_HEADERS)
    assert response.status_code == 200
    assert json.loads(answer_text(response.json)) == json.loads(text)
    assert response.json["candidates"][0]["finishReason"] == "STOP"


def test_cli_google_web_search_nested_request(cli, fake_upstream):
    grounding = {
        "webSearchQueries": ["gemini cli release"],
        "groundingChunks": [{"web": {"uri": "https://example.test/a", "title": "A"}}],
        "groundingSupports": [
            {"segment": {"startIndex": 0, "endIndex": 9}, "groundingChunkIndices": [0]}
        ],
    }
    fake_upstream.script(
        Stream(
            [
                {
                    "candidates": [
                        {"content": {"role": "model", "parts": [{"text": "Released "}]}}
                    ]
                },
                {
                    "candidates": [
                        {
                            "content": {"role": "model", "parts": [{"text": "today."}]},
                            "finishReason": "STOP",
                            "groundingMetadata": grounding,
                        }
                    ]
                },
            ]  # fmt: skip
        )
    )
    body = {
        "contents": [{"role": "user", "parts": [{"text": "gemini cli release"}]}],
        "tools": [{"googleSearch": {}}],
        "generationConfig": {"temperature": 0},
    }
    path = "/v1beta/models/gemini-3-flash-preview:generateContent"
    response = cli.post(path, json=body, headers=CLI_HEADERS)
    assert response.status_code == 200, response.get_data(as_text=True)
    candidate = response.json["candidates"][0]
    assert answer_text(response.json) == "Released today."
    assert candidate["groundingMetadata"] == grounding
    assert candidate["finishReason"] == "STOP"
    envelope = last_upstream(fake_upstream)
    assert envelope["model"] == "gemini-3-flash"
    assert envelope["requestType"] == "agent"
    assert envelope["request"]["tools"] == [{"googleSearch": {}}]
    assert envelope["request"]["generationConfig"] == {"temperature": 0}


def test_cli_tool_call_turn_streams_call_id_signature_and_finish(cli):
    response = cli.post(
        stream_path("gemini-3.8-flash"),
        json=turn_body("please call read_file on hello.txt"),
        headers=CLI_HEADERS,
    )
    chunks = sse_chunks(response)
    parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    call = next(p for p in parts if "functionCall" in p)
    assert call["functionCall"]["name"] == "read_file"
    assert call["functionCall"]["id"]
    assert call["thoughtSignature"].startswith("sig-")
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def follow_up(call_part: dict) -> dict:
    body = turn_body("read hello.txt")
    call_id = call_part["functionCall"]["id"]
    body["contents"] += [
        {"role": "model", "parts": [call_part]},
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "id": call_id,
                        "name": "read_file",
                        "response": {"output": "secret-content-42\n"},
                    }
                }
            ],
        },
    ]
    return body


@pytest.mark.parametrize(
    "signature", ["sig-3c63a1b2c3d4e5f6", "skip_thought_signature_validator"]
)
def test_cli_tool_follow_up_keeps_ids_and_signature(cli, fake_upstream, signature):
    call_part = {
        "functionCall": {
            "id": "read_file_1795622054160_0",
            "name": "read_file",
            "args": {"file_path": "/home/user/project/hello.txt"},
        },
        "thoughtSignature": signature,
    }
    body = follow_up(call_part)
    response = cli.post(stream_path("gemini-3.8-flash"), json=body, headers=CLI_HEADERS)
    assert response.status_code == 200, response.get_data(as_text=True)
    chunks = sse_chunks(response)
    text = "".join(
        p.get("text", "")
        for c in chunks
        for p in c["candidates"][0]["content"]["parts"]
    )
    assert "secret-content-42" in text
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    sent = last_upstream(fake_upstream)["request"]["contents"]
    assert sent[1]["parts"] == [call_part]
    assert sent[2]["parts"][0]["functionResponse"]["id"] == "read_file_1795622054160_0"


def test_cli_stream_without_alt_is_a_json_array_ending_with_finish_reason(cli):
    path = "/v1beta/models/gemini-3.8-flash:streamGenerateContent"
    response = cli.post(path, json=turn_body("array please"), headers=CLI_HEADERS)
    assert response.mimetype == "application/json"
    chunks = json.loads(response.get_data(as_text=True))
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def test_cli_stream_gets_a_finish_reason_when_upstream_sends_none(cli, fake_upstream):
    text_chunk = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}}]
    }
    fake_upstream.script(Stream([text_chunk, text_chunk]))
    response = cli.post(
        stream_path("gemini-3.8-flash"), json=turn_body("hello"), headers=CLI_HEADERS
    )
    chunks = sse_chunks(response)
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert [c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks[:-1]] == [
        "hi",
        "hi",
    ]
