"""The Anthropic slice through the WSGI app against the loopback fake upstream."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path

import pytest
from anthropic.lib.streaming._messages import accumulate_event

from antigravity_proxy.handlers import anthropic as anthropic_handler
from antigravity_proxy.handlers.anthropic_tokens import SingleFlight
from antigravity_proxy.protocols.anthropic.background import estimate_tokens
from antigravity_proxy.sessions import session_key
from antigravity_proxy.sse import SSEDecoder
from tests.fakes.cloudcode import (
    CutStream,
    Stream,
    bad_request,
    not_found,
    quota_exhausted,
    server_error,
)
from tests.upstream_env import seed_account

GOLDEN = Path(__file__).parent.parent / "golden/anthropic/claude_code_first_turn"
MESSAGES = "/v1/messages"
COUNT = "/v1/messages/count_tokens"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image").decode()
PDF = base64.b64encode(b"%PDF-1.4 fake document").decode()
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
THINKING = {"type": "enabled", "budget_tokens": 2048}


def body(text="hello there gateway", **fields):
    return {
        "model": "gemini-3-flash",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": text}],
        **fields,
    }


def chunk(*parts, finish=None, usage=None):
    candidate = {"content": {"role": "model", "parts": list(parts)}}
    if finish:
        candidate["finishReason"] = finish
    out = {"candidates": [candidate]}
    if usage:
        out["usageMetadata"] = usage
    return out


def events(response) -> list[tuple[str, dict]]:
    decoder = SSEDecoder()
    raw = response.get_data()
    return [(e.event, e.json()) for e in decoder.feed(raw) + decoder.flush()]


def sent_request(fake, index=-1) -> dict:
    return fake.calls(":streamGenerateContent")[index].json["request"]


def sent_parts(fake, index=-1) -> list[dict]:
    return [p for c in sent_request(fake, index)["contents"] for p in c["parts"]]


def accumulate(frames: list[tuple[str, dict]]) -> dict:
    """What the official SDK builds from the stream."""
    snapshot, bufs = None, {}
    for name, data in frames:
        if name not in ("ping", "error"):
            snapshot = accumulate_event(
                event=data, current_snapshot=snapshot, json_bufs=bufs
            )
    result = snapshot.to_dict()
    result.pop("stop_details", None)
    return result


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


def test_count_tokens_upstream_then_cache(client, fake_upstream):
    request = body("one two three four", system="be brief")
    first = client.post(COUNT, json=request)
    assert first.status_code == 200
    assert first.json == {"input_tokens": 6}  # 4 + 2 system words, fake's count
    assert client.post(COUNT, json=request).json == {"input_tokens": 6}
    assert len(fake_upstream.calls(":countTokens")) == 1
    other = client.post(COUNT, json=body("one two"))
    assert other.json == {"input_tokens": 2}
    assert len(fake_upstream.calls(":countTokens")) == 2


def test_count_tokens_concurrent_identical_share_one_call(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a", refresh_delay=0.3)
    client = gateway()
    results: list[dict] = []

    def count() -> None:
        results.append(client.post(COUNT, json=body("same words every time")).json)

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [{"input_tokens": 4}] * 8
    assert len(fake_upstream.calls(":countTokens")) == 1


def test_single_flight_shares_outcome():
    flight = SingleFlight()
    release, started = threading.Event(), threading.Event()
    calls: list[int] = []
    results: list[int] = []

    def work() -> int:
        calls.append(1)
        started.set()
        release.wait(5)
        return 42

    leader = threading.Thread(target=lambda: results.append(flight.run("k", work)))
    leader.start()
    started.wait(5)
    followers = [
        threading.Thread(target=lambda: results.append(flight.run("k", work)))
        for _ in range(3)
    ]
    for thread in followers:
        thread.start()
    time.sleep(0.1)
    release.set()
    for thread in [leader, *followers]:
        thread.join(5)
    assert results == [42] * 4 and calls == [1]
    with pytest.raises(ZeroDivisionError):
        flight.run("k", lambda: 1 // 0)
    assert flight.run("k", lambda: 7) == 7


def test_count_tokens_estimates_without_accounts(gateway, fake_upstream):
    request = body(
        [{"type": "text", "text": "count these words locally please " * 20}],
        system="a system prompt",
        tools=[WEATHER_TOOL],
    )
    response = gateway().post(COUNT, json=request)
    assert response.status_code == 200
    assert response.json == {"input_tokens": estimate_tokens(request)}
    assert response.json["input_tokens"] > 150
    assert fake_upstream.calls(":countTokens") == []


def test_count_tokens_invalid_body_is_400(client):
    response = client.post(COUNT, json={"model": "gemini-3-flash"})
    assert response.status_code == 400
    assert response.json["error"]["message"] == "messages: Field required"
    image = {"type": "image", "source": {"type": "url", "url": "http://127.0.0.1:9/a"}}
    response = client.post(COUNT, json=body([image]))
    assert response.status_code == 400
    assert "messages[0].content[0].source.url" in response.json["error"]["message"]


def test_models_list_anthropic_shape(client):
    page = client.get("/v1/models/claude?limit=1000").json
    assert page["has_more"] is False
    ids = [m["id"] for m in page["data"]]
    assert "gemini-3-flash" in ids and page["first_id"] == ids[0]
    assert page["last_id"] == ids[-1]
    model = next(m for m in page["data"] if m["id"] == "claude-opus-4-6-thinking")
    assert model == {
        "type": "model",
        "id": "claude-opus-4-6-thinking",
        "display_name": "Claude Opus 4.6 Thinking",
        "created_at": "2024-02-01T00:00:00Z",
        "lifecycle": "active",
    }
    first = client.get("/v1/models/claude?limit=2").json
    assert len(first["data"]) == 2 and first["has_more"] is True
    after = client.get(f"/v1/models/claude?limit=2&after_id={first['last_id']}").json
    assert [m["id"] for m in after["data"]] == ids[2:4]
    before = client.get(f"/v1/models/claude?before_id={ids[3]}").json
    assert [m["id"] for m in before["data"]] == ids[:3]
    assert client.get("/v1/models/claude?limit=0").status_code == 400


def test_v1_models_answers_anthropic_callers_in_their_shape(client):
    headers = {"anthropic-version": "2023-06-01"}
    page = client.get("/v1/models", headers=headers).json
    assert set(page) == {"data", "has_more", "first_id", "last_id"}
    one = client.get("/v1/models/gemini-3-flash", headers=headers).json
    assert one["type"] == "model" and one["display_name"] == "Gemini 3 Flash"
    assert client.get("/v1/models").json["object"] == "list"


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


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({**body(), "max_tokens": None}, "max_tokens: Field required"),
        (
            body([{"type": "video", "data": "x"}]),
            "messages[0].content[0].type: Input tag 'video' found",
        ),
        ({**body(), "stream": "yes"}, "stream: Input should be a valid boolean"),
        ({**body(), "model": ""}, "model: String should have at least 1 character"),
    ],
)
def test_invalid_request_names_the_field(client, fake_upstream, request_body, message):
    response = client.post(MESSAGES, json=request_body)
    assert response.status_code == 400
    assert response.json["type"] == "error"
    assert response.json["error"]["type"] == "invalid_request_error"
    assert response.json["error"]["message"].startswith(message)
    assert fake_upstream.calls(":streamGenerateContent") == []


def test_wrong_key_is_401_authentication_error(gateway, home, fake_upstream):
    client = gateway({"proxy": {"api_key": "sk-right", "auth_mode": "strict"}})
    response = client.post(MESSAGES, json=body(), headers={"x-api-key": "sk-wrong"})
    assert response.status_code == 401
    assert response.json["error"]["type"] == "authentication_error"


def test_unknown_model_upstream_is_404(client, fake_upstream):
    fake_upstream.script(not_found(), not_found(), not_found())
    response = client.post(MESSAGES, json={**body(), "model": "gemini-9-nope"})
    assert response.status_code == 404
    assert response.json["error"] == {
        "type": "not_found_error",
        "message": "model: gemini-9-nope",
    }


def test_body_over_limit_is_413(gateway, home, fake_upstream):
    client = gateway({"proxy": {"auth_mode": "off", "max_body_bytes": 1000}})
    response = client.post(MESSAGES, json=body("x" * 2000))
    assert response.status_code == 413
    assert response.json["error"]["type"] == "request_too_large"


def test_rate_limited_is_429_with_retry_after(client, fake_upstream):
    fake_upstream.script(quota_exhausted("90s"))
    for _ in range(2):
        response = client.post(MESSAGES, json=body(stream=True))
        assert response.status_code == 429
        assert response.json["error"]["type"] == "rate_limit_error"
        assert 1 <= int(response.headers["retry-after"]) <= 90


def test_no_account_is_529_overloaded_even_when_streaming(gateway):
    response = gateway().post(MESSAGES, json=body(stream=True))
    assert response.status_code == 529
    assert response.mimetype == "application/json"
    assert response.json["error"]["type"] == "overloaded_error"


def test_upstream_failures_are_api_error(client, fake_upstream):
    fake_upstream.script(server_error(), server_error(), server_error())
    response = client.post(MESSAGES, json=body())
    assert response.status_code == 500  # Anthropic documents 500 api_error, no 502
    assert response.json["error"]["type"] == "api_error"


def test_gateway_bug_is_500_api_error(make_client, tmp_path):
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        "- {method: POST, path: /v1/messages, "
        "handler: tests.integration.boom_handlers.crash, protocol: anthropic}\n"
    )
    client = make_client({"proxy": {"auth_mode": "off"}, "routes_file": str(routes)})
    response = client.post(MESSAGES, json=body())
    assert response.status_code == 500
    assert response.json == {
        "type": "error",
        "error": {"type": "api_error", "message": "internal gateway error"},
    }


def test_prompt_too_long(client, fake_upstream):
    fake_upstream.script(
        bad_request(
            "The input token count (1200000) exceeds the maximum number of "
            "tokens allowed (1048576)."
        )
    )
    response = client.post(MESSAGES, json=body(stream=True))
    assert response.status_code == 400
    error = response.json["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("prompt is too long: The input token count")


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
    monkeypatch.setattr(anthropic_handler, "PING_INTERVAL", 0.2)
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
