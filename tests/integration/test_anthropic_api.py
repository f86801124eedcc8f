"""The Anthropic Messages endpoint through the WSGI app against the loopback fake."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from antigravity_proxy import streaming
from antigravity_proxy.sessions import session_key
from tests.fakes.cloudcode import CutStream, Stream
from tests.integration.anthropic_support import (
    MESSAGES,
    THINKING,
    WEATHER_TOOL,
    accumulate,
    body,
    chunk,
    events,
    sent_parts,
    sent_request,
)
from tests.upstream_env import seed_account

GOLDEN = Path(__file__).parent.parent / "golden/anthropic/claude_code_first_turn"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image").decode()
PDF = base64.b64encode(b"%PDF-1.4 fake document").decode()


@pytest.fixture
def client(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    return gateway()


def test_messages_non_stream(client, fake_upstream):
    response = client.post(MESSAGES, json=body())
    assert response.status_code == 200, response.get_data(as_text=True)
    message = response.json
    assert message["id"].startswith("msg_") and len(message["id"]) > 20
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["model"] == "gemini-3-flash"
    assert message["content"] == [{"type": "text", "text": "echo: hello there gateway"}]
    assert message["stop_reason"] == "end_turn" and message["stop_sequence"] is None
    assert message["usage"]["input_tokens"] == 3
    assert message["usage"]["output_tokens"] == 4
    assert response.headers["X-Mapped-Model"] == "gemini-3-flash"
    envelope = fake_upstream.calls(":streamGenerateContent")[-1]
    assert envelope.json["request"]["contents"] == [
        {"role": "user", "parts": [{"text": "hello there gateway"}]}
    ]
    assert envelope.json["request"]["generationConfig"]["maxOutputTokens"] == 1024
    assert "anthropic-beta" not in envelope.headers


def test_messages_stream_event_order(client, fake_upstream):
    response = client.post(MESSAGES, json=body(stream=True))
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    text = response.get_data(as_text=True)
    assert text.startswith("event: message_start\ndata: ")
    frames = events(response)
    assert all(name == data["type"] for name, data in frames)
    names = [name for name, _ in frames]
    deltas = names.count("content_block_delta")
    assert names == [
        "message_start",
        "ping",
        "content_block_start",
        *["content_block_delta"] * deltas,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert deltas == 3  # the fake streams the echo in 3 chunks, each forwarded
    assert frames[-2][1]["delta"]["stop_reason"] == "end_turn"
    assert accumulate(frames)["content"][0]["text"] == "echo: hello there gateway"


def test_non_stream_equals_stream(client, fake_upstream):
    script = [
        chunk({"text": "plan", "thought": True}),
        chunk({"text": "pl", "thought": True, "thoughtSignature": "sig-thought-1"}),
        chunk({"text": "Hello"}),
        chunk(
            {"text": " world"},
            finish="STOP",
            usage={"promptTokenCount": 5, "candidatesTokenCount": 2},
        ),
    ]
    fake_upstream.script(Stream(script), Stream(script))
    streamed = accumulate(events(client.post(MESSAGES, json=body(stream=True))))
    whole = client.post(MESSAGES, json=body()).json
    assert whole["content"][0]["signature"].startswith("agp1.")
    assert {**streamed, "id": ""} == {**whole, "id": ""}


def test_stop_sequence_beyond_the_upstream_five(client, fake_upstream):
    stops = ["S1", "S2", "S3", "S4", "S5", "HALT"]
    fake_upstream.script(
        Stream([chunk({"text": "one two HA"}), chunk({"text": "LT three"})])
    )
    message = client.post(MESSAGES, json=body(stop_sequences=stops)).json
    assert message["content"] == [{"type": "text", "text": "one two "}]
    assert (message["stop_reason"], message["stop_sequence"]) == (
        "stop_sequence",
        "HALT",
    )
    config = sent_request(fake_upstream)["generationConfig"]
    assert config["stopSequences"] == stops[:5]


def test_tool_use_round_trip(client, fake_upstream):
    first = client.post(
        MESSAGES, json=body("please call get_weather", tools=[WEATHER_TOOL])
    ).json
    assert first["stop_reason"] == "tool_use"
    tool_use = first["content"][-1]
    assert tool_use["type"] == "tool_use" and tool_use["name"] == "get_weather"
    assert tool_use["input"] == {"city": "x"}
    history = [
        {"role": "user", "content": "please call get_weather"},
        {"role": "assistant", "content": first["content"]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": tool_use["id"],
                    "content": "21 degrees",
                }
            ],
        },
    ]
    second = client.post(MESSAGES, json=body(messages=history, tools=[WEATHER_TOOL]))
    assert second.status_code == 200, second.get_data(as_text=True)
    assert "get_weather" in second.json["content"][0]["text"]
    response_part = sent_parts(fake_upstream)[-1]["functionResponse"]
    assert response_part == {
        "name": "get_weather",
        "id": tool_use["id"],
        "response": {"output": "21 degrees"},
    }


def thinking_tool_turn(fake, client, signature="sig-first-turn-0001"):
    """First turn: thinking then a signed call; returns the assistant content."""
    call = {"name": "get_weather", "args": {"city": "Paris"}, "id": "toolu_w1"}
    fake.script(
        Stream(
            [
                chunk({"text": "Let me check.", "thought": True}),
                chunk({"functionCall": call, "thoughtSignature": signature}),
                chunk(finish="STOP"),
            ]
        )
    )
    first = client.post(
        MESSAGES,
        json=body("weather in Paris?", tools=[WEATHER_TOOL], thinking=THINKING),
    ).json
    assert [b["type"] for b in first["content"]] == ["thinking", "tool_use"]
    return first["content"]


def second_turn(client, assistant_content):
    history = [
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": assistant_content},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_w1", "content": "sunny"}
            ],
        },
    ]
    extra = {"tools": [WEATHER_TOOL], "thinking": THINKING, "stream": True}
    response = client.post(MESSAGES, json=body(messages=history, **extra))
    assert response.status_code == 200
    assert events(response)[-1][0] == "message_stop"


def replayed_call(fake) -> dict:
    return next(p for p in sent_parts(fake) if "functionCall" in p)


def test_thinking_tool_conversation_replays_signature(client, fake_upstream):
    content = thinking_tool_turn(fake_upstream, client)
    assert content[0]["signature"].startswith("agp1.")
    second_turn(client, content)
    assert replayed_call(fake_upstream)["thoughtSignature"] == "sig-first-turn-0001"


@pytest.mark.parametrize("blank", ["empty", "foreign", "dropped"])
def test_blank_signature_restored_from_shared_store(client, fake_upstream, blank):
    thinking, tool_use = thinking_tool_turn(fake_upstream, client, "sig-stored-0002")
    if blank == "dropped":
        content = [tool_use]
    else:
        signature = "" if blank == "empty" else "EqQBCkgIBxABGAIiQ" * 4
        content = [{**thinking, "signature": signature}, tool_use]
    second_turn(client, content)
    assert replayed_call(fake_upstream)["thoughtSignature"] == "sig-stored-0002"


def test_image_and_pdf_blocks(client, fake_upstream):
    content = [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": PNG},
        },
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
        },
        {"type": "text", "text": "describe both"},
    ]
    response = client.post(MESSAGES, json=body(content))
    assert response.status_code == 200
    assert sent_parts(fake_upstream) == [
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"inlineData": {"mimeType": "application/pdf", "data": PDF}},
        {"text": "describe both"},
    ]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/a.png", "http://10.0.0.8/a.png", "http://[::1]/a.png"]
)
def test_url_image_source_to_private_host_is_refused(client, fake_upstream, url):
    image = {"type": "image", "source": {"type": "url", "url": url}}
    response = client.post(MESSAGES, json=body([image]))
    assert response.status_code == 400
    error = response.json["error"]
    assert error["type"] == "invalid_request_error"
    assert "messages[0].content[0].source.url" in error["message"]
    assert "private, loopback" in error["message"]
    assert fake_upstream.calls(":streamGenerateContent") == []


def test_url_document_source_is_refused_naming_the_field(client, fake_upstream):
    document = {
        "type": "document",
        "source": {"type": "url", "url": "https://x.test/a.pdf"},
    }
    response = client.post(MESSAGES, json=body([document]))
    assert response.status_code == 400
    assert response.json["error"]["message"].startswith("messages[0].content[0].source")
    assert "base64" in response.json["error"]["message"]


def test_url_source_path_counts_null_blocks_before_it(client, fake_upstream):
    """A ``null`` block passes the shape check; the path still names the real
    index of the ``url`` block after it (the media walk once counted only the
    object blocks, naming ``content[0]`` here)."""
    image = {"type": "image", "source": {"type": "url", "url": ""}}
    tool = {"type": "tool_result", "tool_use_id": "t", "content": [None, image]}
    response = client.post(MESSAGES, json=body([None, image]))
    assert response.status_code == 400
    assert response.json["error"]["message"] == (
        "messages[0].content[1].source.url: Field required"
    )
    response = client.post(MESSAGES, json=body([None, tool]))
    assert response.json["error"]["message"] == (
        "messages[0].content[1].content[1].source.url: Field required"
    )
    assert fake_upstream.calls(":streamGenerateContent") == []


@pytest.mark.parametrize(
    ("configured", "expected"),
    [(None, "gemini-2.5-flash"), ("claude-sonnet-4-6", "claude-sonnet-4-6")],
)
def test_background_request_routed_to_background_model(
    gateway, home, fake_upstream, configured, expected
):
    seed_account(home, fake_upstream, "a")
    extra = (
        {} if configured is None else {"anthropic": {"background_model": configured}}
    )
    client = gateway(extra)
    title = body("Please write a 5-10 word title for the following conversation")
    response = client.post(MESSAGES, json={**title, "model": "claude-opus-4-8"})
    assert response.status_code == 200
    assert response.json["model"] == "claude-opus-4-8"
    assert fake_upstream.calls(":streamGenerateContent")[-1].json["model"] == expected
    client.post(MESSAGES, json={**body(), "model": "claude-opus-4-8"})
    assert fake_upstream.calls(":streamGenerateContent")[-1].json["model"] == (
        "claude-opus-4-6-thinking"
    )


def test_background_routing_off_when_empty(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    client = gateway({"anthropic": {"background_model": ""}})
    client.post(MESSAGES, json=body("Warmup"))
    assert fake_upstream.calls(":streamGenerateContent")[-1].json["model"] == (
        "gemini-3-flash"
    )


def test_beta_query_and_anthropic_beta_header(client, fake_upstream):
    headers = {"anthropic-beta": "interleaved-thinking-2025-05-14,effort-2025-11-24"}
    request = {**body(), "model": "claude-sonnet-4-6"}
    response = client.post(MESSAGES + "?beta=true", json=request, headers=headers)
    assert response.status_code == 200
    assert response.headers["X-Mapped-Model"] == "claude-sonnet-4-6"
    sent = fake_upstream.calls(":streamGenerateContent")[-1].headers
    assert sent["anthropic-beta"] == "claude-code-20250219"


def claude_code_request() -> dict:
    """The recorded Claude Code first turn, grown to its real size: 20 tools with
    2020-12 schemas and a ~20k-character system prompt."""
    request = json.loads((GOLDEN / "request.json").read_text())
    tools = request["tools"]
    request["tools"] = [{**tools[i % 2], "name": f"Tool{i}"} for i in range(20)]
    request["system"][2]["text"] += " Follow the rules." * 1200
    return request


def test_claude_code_request_replay_streams(client, fake_upstream):
    response = client.post(
        MESSAGES + "?beta=true",
        json=claude_code_request(),
        headers={"anthropic-version": "2023-06-01", "x-app": "cli"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    frames = events(response)
    assert [n for n, _ in frames][:3] == [
        "message_start",
        "ping",
        "content_block_start",
    ]
    assert frames[-1][0] == "message_stop"
    answer = accumulate(frames)["content"][-1]["text"]
    assert answer.endswith("Reply with the contents of hello.txt")
    envelope = fake_upstream.calls(":streamGenerateContent")[-1].json
    request = envelope["request"]
    system = [p["text"] for p in request["systemInstruction"]["parts"]]
    assert len(system) == 3 and system[0].startswith("You are Claude Code")
    assert system[-1] == "Available agent types for the Agent tool: general-purpose."
    declarations = request["tools"][0]["functionDeclarations"]
    assert len(declarations) == 20
    for banned in ("$schema", "additionalProperties", "exclusiveMinimum"):
        assert banned not in json.dumps(declarations)
    assert request["generationConfig"]["thinkingConfig"]["includeThoughts"] is True
    assert envelope["model"] == "claude-opus-4-6-thinking"
    session = session_key(["anthropic-session:7903aa"])
    assert envelope["requestId"].endswith("/" + session)


def test_mid_stream_failure_is_error_event(client, fake_upstream):
    text = chunk({"text": "partial "})
    fake_upstream.script(CutStream([text, text, text], after=2))
    response = client.post(MESSAGES, json=body(stream=True))
    assert response.status_code == 200
    frames = events(response)
    names = [n for n, _ in frames]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names.count("content_block_delta") == 2
    assert names[-1] == "error" and "message_stop" not in names
    assert frames[-1][1]["error"]["type"] == "api_error"


def test_keepalive_ping_while_upstream_is_silent(client, fake_upstream, monkeypatch):
    monkeypatch.setattr(streaming, "KEEPALIVE_SECONDS", 0.2)
    # The comment sends the upstream's headers at once; then it is silent.
    script = [
        b": comment\n\n",
        chunk({"text": "slow"}),
        chunk({"text": " answer"}, finish="STOP"),
    ]
    fake_upstream.script(Stream(script, delay=0.7))
    frames = events(client.post(MESSAGES, json=body(stream=True)))
    names = [n for n, _ in frames]
    assert names[:3] == ["message_start", "ping", "ping"]
    first_text = names.index("content_block_start")
    assert names[first_text + 2 :].count("ping") >= 2
    assert names[-1] == "message_stop"
    assert accumulate(frames)["content"][0]["text"] == "slow answer"


def test_client_disconnect_closes_upstream(client, fake_upstream):
    script = [chunk({"text": f"part {i} "}) for i in range(20)]
    fake_upstream.script(Stream(script, delay=2.0))
    response = client.post(MESSAGES, json=body(stream=True), buffered=False)
    stream = iter(response.response)
    assert next(stream).startswith(b"event: message_start")
    started = time.monotonic()
    response.close()
    # Well before the upstream's next event: the blocked read was interrupted.
    assert time.monotonic() - started < 1
    deadline = time.monotonic() + 5
    while fake_upstream.stream_outcomes != ["aborted"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake_upstream.stream_outcomes == ["aborted"]
