"""The OpenAI chat and legacy completions endpoints through the WSGI app against the
loopback fake Cloud Code, and the errors every OpenAI endpoint shares; the Responses
API is in ``test_openai_responses_api.py``."""

from __future__ import annotations

import json

import pytest

from tests.fakes.cloudcode import (
    CutStream,
    Stream,
    bad_request,
    not_found,
    quota_exhausted,
)
from tests.fakes.cloudcode_replies import default_reply
from tests.integration.openai_support import (
    CHAT,
    MODEL,
    PNG_DATA_URL,
    RESPONSES,
    WEATHER_TOOL,
    candidate,
    chat_body,
    data_events,
    upstream_requests,
)
from tests.upstream_env import seed_account


@pytest.fixture
def client(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    return gateway()


# --- chat completions ------------------------------------------------------


def test_chat_non_stream(client, fake_upstream):
    response = client.post(CHAT, json=chat_body())
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == MODEL
    choice = body["choices"][0]
    assert choice["message"] == {
        "role": "assistant",
        "content": "echo: hello there gateway",
        "refusal": None,
    }
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["prompt_tokens"] == 3
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert response.headers["X-Mapped-Model"] == MODEL
    sent = upstream_requests(fake_upstream)[0]
    assert sent["contents"] == [
        {"role": "user", "parts": [{"text": "hello there gateway"}]}
    ]


def test_chat_stream_with_usage_and_done(client):
    body = chat_body(stream=True, stream_options={"include_usage": True})
    response = client.post(CHAT, json=body)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = data_events(response)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(
        c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]
    )
    assert text == "echo: hello there gateway"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 3
    assert all(c["usage"] is None for c in chunks[:-1])


def test_chat_stream_without_usage_has_no_usage_chunk(client):
    events = data_events(client.post(CHAT, json=chat_body(stream=True)))
    assert events[-1] == "[DONE]"
    assert all(e["choices"] and "usage" not in e for e in events[:-1])


def first_tool_call(response, streamed: bool) -> tuple[str, str, str]:
    """(id, name, arguments) of the first tool call, as a client reassembles it."""
    assert response.status_code == 200
    if streamed:
        deltas = [e["choices"][0]["delta"] for e in data_events(response)[:-1]]
        calls = [c for d in deltas for c in d.get("tool_calls", [])]
        arguments = "".join(c["function"].get("arguments", "") for c in calls)
        return calls[0]["id"], calls[0]["function"]["name"], arguments
    choice = response.json["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["reasoning_content"] == "thinking..."
    call = choice["message"]["tool_calls"][0]
    return call["id"], call["function"]["name"], call["function"]["arguments"]


@pytest.mark.parametrize("first_stream", [False, True], ids=["collected", "streamed"])
def test_chat_tool_call_round_trip_replays_signature(
    client, fake_upstream, first_stream
):
    question = {"role": "user", "content": "please call get_weather for Paris"}
    body = {"model": MODEL, "messages": [question], "tools": [WEATHER_TOOL]}
    first = client.post(CHAT, json={**body, "stream": first_stream})
    call_id, name, arguments = first_tool_call(first, first_stream)
    assert (call_id, name, json.loads(arguments)) == (
        "call-get_weather-1",
        "get_weather",
        {"city": "x"},
    )
    expected = default_reply(upstream_requests(fake_upstream)[0]).parts[1]
    function = {"name": name, "arguments": arguments}
    assistant = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": call_id, "type": "function", "function": function}],
    }
    tool = {"role": "tool", "tool_call_id": call_id, "content": "21C and sunny"}
    second = client.post(CHAT, json={**body, "messages": [question, assistant, tool]})
    assert second.status_code == 200
    assert "21C and sunny" in second.json["choices"][0]["message"]["content"]
    replayed = upstream_requests(fake_upstream)[1]["contents"][1]["parts"][0]
    assert replayed["functionCall"]["id"] == call_id
    assert replayed["thoughtSignature"] == expected["thoughtSignature"]


def test_chat_unknown_call_replayed_with_skip_sentinel(client, fake_upstream):
    messages = [
        {"role": "user", "content": "what is the weather like"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_elsewhere",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_elsewhere", "content": "rain"},
    ]
    response = client.post(
        CHAT, json={"model": MODEL, "messages": messages, "tools": [WEATHER_TOOL]}
    )
    assert response.status_code == 200
    part = upstream_requests(fake_upstream)[0]["contents"][1]["parts"][0]
    assert part["thoughtSignature"] == "skip_thought_signature_validator"


def test_chat_n_2_returns_every_candidate(client, fake_upstream):
    fake_upstream.script(
        Stream(
            [
                {
                    "candidates": [
                        candidate([{"text": "first"}], 0, None),
                        candidate([{"text": "second"}], 1, None),
                    ]
                },
                {
                    "candidates": [
                        candidate([{"text": "!"}], 0),
                        candidate([], 1, "MAX_TOKENS"),
                    ],
                    "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 3},
                },
            ]
        )
    )
    response = client.post(CHAT, json=chat_body(n=2))
    assert response.status_code == 200
    choices = response.json["choices"]
    assert [
        (c["index"], c["message"]["content"], c["finish_reason"]) for c in choices
    ] == [
        (0, "first!", "stop"),
        (1, "second", "length"),
    ]
    assert (
        upstream_requests(fake_upstream)[0]["generationConfig"]["candidateCount"] == 2
    )


def test_chat_vision_data_url(client, fake_upstream):
    content = [
        {"type": "text", "text": "what is in this picture"},
        {"type": "image_url", "image_url": {"url": PNG_DATA_URL}},
    ]
    response = client.post(
        CHAT, json={"model": MODEL, "messages": [{"role": "user", "content": content}]}
    )
    assert response.status_code == 200
    parts = upstream_requests(fake_upstream)[0]["contents"][0]["parts"]
    assert parts[1] == {
        "inlineData": {"mimeType": "image/png", "data": PNG_DATA_URL.split(",", 1)[1]}
    }


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/cat.png",
        "http://localhost/cat.png",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x.png",
    ],
)
def test_chat_image_url_to_private_host_is_refused(client, fake_upstream, url):
    content = [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": url}},
    ]
    response = client.post(
        CHAT, json={"model": MODEL, "messages": [{"role": "user", "content": content}]}
    )
    assert response.status_code == 400
    error = response.json["error"]
    assert error["param"] == "messages[0].content[1].image_url.url"
    assert "private, loopback" in error["message"]
    assert fake_upstream.calls(":streamGenerateContent") == []


def test_chat_json_schema(client, fake_upstream):
    schema = {
        "type": "object",
        "properties": {"echo": {"type": "string"}},
        "required": ["echo"],
        "additionalProperties": False,
    }
    body = chat_body(
        "give me json",
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "echo", "schema": schema, "strict": True},
        },
    )
    response = client.post(CHAT, json=body)
    assert response.status_code == 200
    assert json.loads(response.json["choices"][0]["message"]["content"]) == {
        "echo": "give me json"
    }
    config = upstream_requests(fake_upstream)[0]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == schema


def test_chat_invented_model_maps_by_family(client):
    response = client.post(CHAT, json={**chat_body(), "model": "gemini-9.9-flash"})
    assert response.status_code == 200
    assert response.json["model"] == "gemini-9.9-flash"
    assert response.headers["X-Mapped-Model"] == "gemini-3-flash"


# --- legacy completions ------------------------------------------------------


def test_completions_non_stream(client):
    response = client.post(
        "/v1/completions", json={"model": MODEL, "prompt": "complete this sentence"}
    )
    assert response.status_code == 200
    body = response.json
    assert body["object"] == "text_completion"
    assert body["id"].startswith("cmpl-")
    assert body["choices"] == [
        {
            "text": "echo: complete this sentence",
            "index": 0,
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert body["usage"]["prompt_tokens"] == 3


def test_completions_stream(client):
    response = client.post(
        "/v1/completions",
        json={
            "model": MODEL,
            "prompt": ["complete this sentence"],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    events = data_events(response)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["object"] for c in chunks} == {"text_completion"}
    text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
    assert text == "echo: complete this sentence"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 3


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"echo": True}, "echo"),
        ({"suffix": "end"}, "suffix"),
        ({"logprobs": 2}, "logprobs"),
        ({"prompt": ["a", "b"]}, "prompt"),
    ],
)
def test_completions_unsupported_fields_are_400(client, fake_upstream, extra, param):
    body = {"model": MODEL, "prompt": "complete this sentence", **extra}
    response = client.post("/v1/completions", json=body)
    assert response.status_code == 400
    assert response.json["error"]["param"] == param
    assert fake_upstream.calls(":streamGenerateContent") == []


# --- errors ------------------------------------------------------------------


@pytest.mark.parametrize("path", [CHAT, "/v1/completions", RESPONSES])
def test_malformed_json_is_400(client, path):
    response = client.post(path, data=b'{"model": ', content_type="application/json")
    assert response.status_code == 400
    error = response.json["error"]
    assert error["type"] == "invalid_request_error"
    assert "not valid JSON" in error["message"]


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        (CHAT, {"model": MODEL}, "messages"),
        (CHAT, {"messages": [{"role": "user", "content": "hi"}]}, "model"),
        (CHAT, chat_body(temperature="hot"), "temperature"),
        (CHAT, chat_body(stream_options={"include_usage": True}), "stream_options"),
        (
            CHAT,
            {
                "model": MODEL,
                "messages": [
                    {"role": "user", "content": [{"type": "video", "video": "x"}]}
                ],
            },
            "messages[0].content[0].type",
        ),
        ("/v1/completions", {"model": MODEL}, "prompt"),
        (RESPONSES, {"input": "hi"}, "model"),
        (RESPONSES, {"model": MODEL, "input": "hi", "stream": "yes"}, "stream"),
        (RESPONSES, {"model": MODEL, "input": 5}, "input"),
        (
            RESPONSES,
            {"model": MODEL, "input": "hi", "previous_response_id": 7},
            "previous_response_id",
        ),
    ],
)
def test_invalid_fields_are_400_naming_the_param(
    client, fake_upstream, path, body, param
):
    response = client.post(path, json=body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error"]["type"] == "invalid_request_error"
    assert response.json["error"]["param"] == param
    assert fake_upstream.calls(":streamGenerateContent") == []


def test_no_account_is_400_not_retried(gateway):
    response = gateway().post(CHAT, json=chat_body())
    assert response.status_code == 400
    assert response.headers["x-should-retry"] == "false"
    assert response.json["error"]["type"] == "invalid_request_error"
    assert response.json["error"]["code"] == "no_usable_account"
    assert "antigravity-proxy accounts login" in response.json["error"]["message"]


def test_all_accounts_rate_limited_is_429_with_retry_after(client, fake_upstream):
    fake_upstream.script(quota_exhausted("90s"))
    first = client.post(CHAT, json=chat_body())
    assert first.status_code == 429
    assert first.json["error"]["type"] == "rate_limit_error"
    assert first.json["error"]["code"] == "rate_limit_exceeded"
    second = client.post(RESPONSES, json={"model": MODEL, "input": "hi there"})
    assert second.status_code == 429
    assert 1 <= int(second.headers["Retry-After"]) <= 90


def test_upstream_400_is_passed_through(client, fake_upstream):
    fake_upstream.script(bad_request("Invalid JSON payload received. Unknown name"))
    response = client.post(CHAT, json=chat_body(stream=True))
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    assert response.json["error"]["type"] == "invalid_request_error"
    assert "Unknown name" in response.json["error"]["message"]


def test_upstream_404_is_model_not_found(client, fake_upstream):
    fake_upstream.script(not_found(), not_found(), not_found())
    response = client.post(CHAT, json={**chat_body(), "model": "no-such-model"})
    assert response.status_code == 404
    assert response.json["error"] == {
        "message": "The model 'no-such-model' does not exist or you do not have "
        f"access to it. (request id: {response.headers['X-Request-Id']})",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }


def test_chat_stream_cut_midway_ends_with_error_chunk_and_done(client, fake_upstream):
    chunk = {"candidates": [candidate([{"text": "partial "}], 0, None)]}
    fake_upstream.script(CutStream([chunk, chunk, chunk], after=2))
    response = client.post(CHAT, json=chat_body(stream=True))
    assert response.status_code == 200
    events = data_events(response)
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-2])
    assert text == "partial partial "
    assert events[-2]["error"]["type"] == "api_error"
    assert events[-1] == "[DONE]"


def test_chat_image_model_answers_markdown_data_url(client, fake_upstream):
    image = {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
    fake_upstream.script(Stream([{"candidates": [candidate([image])]}]))
    response = client.post(
        CHAT, json={**chat_body("draw a cat"), "model": "gemini-3-pro-image"}
    )
    assert response.status_code == 200
    content = response.json["choices"][0]["message"]["content"]
    assert content == "![image](data:image/png;base64,iVBORw0KGgo=)"
    envelope = fake_upstream.calls(":streamGenerateContent")[0].json
    assert envelope["requestType"] == "image_gen"
