"""The OpenAI Responses API through the WSGI app against the loopback fake Cloud
Code: objects and event streams, ``previous_response_id``, custom tools, Codex's
signature carrier, the WebSocket refusal and the path aliases."""

from __future__ import annotations

import pytest

from tests.fakes.cloudcode import CutStream
from tests.fakes.cloudcode_replies import default_reply
from tests.integration.openai_support import (
    APPLY_PATCH,
    MODEL,
    RESPONSES,
    candidate,
    data_events,
    upstream_requests,
)
from tests.upstream_env import seed_account


@pytest.fixture
def client(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    return gateway()


# --- Responses API -----------------------------------------------------------


def test_responses_non_stream(client, fake_upstream):
    response = client.post(
        RESPONSES,
        json={
            "model": MODEL,
            "input": "tell me something",
            "instructions": "Be brief.",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    assert body["object"] == "response"
    assert body["id"].startswith("resp_")
    assert body["status"] == "completed"
    assert body["instructions"] == "Be brief."
    [message] = body["output"]
    assert message["type"] == "message" and message["status"] == "completed"
    assert message["content"][0]["text"] == "echo: tell me something"
    assert body["usage"]["input_tokens"] == 5
    sent = upstream_requests(fake_upstream)[0]
    assert sent["systemInstruction"]["parts"] == [{"text": "Be brief."}]


def test_responses_stream_event_order(client):
    response = client.post(
        RESPONSES, json={"model": MODEL, "input": "tell me something", "stream": True}
    )
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = data_events(response)
    types = [e["type"] for e in events]
    deltas = types.count("response.output_text.delta")
    assert deltas >= 2
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * deltas,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    completed = events[-1]["response"]
    assert completed["status"] == "completed"
    assert completed["output"][0]["content"][0]["text"] == "echo: tell me something"
    assert completed["usage"]["output_tokens"] > 0
    assert "[DONE]" not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/responses", "/responses/compact"])
def test_responses_aliases_answer_response_objects(client, path):
    response = client.post(path, json={"model": MODEL, "input": "tell me something"})
    assert response.status_code == 200
    assert response.json["object"] == "response"


def test_previous_response_id_follow_up_from_another_worker(
    gateway, home, fake_upstream
):
    seed_account(home, fake_upstream, "a")
    worker_1, worker_2 = gateway(), gateway()  # two apps sharing one state store
    first = worker_1.post(
        RESPONSES,
        json={"model": MODEL, "input": "remember the word banana", "stream": True},
    )
    first_id = data_events(first)[-1]["response"]["id"]
    second = worker_2.post(
        RESPONSES,
        json={
            "model": MODEL,
            "input": "what was the word",
            "previous_response_id": first_id,
        },
    )
    assert second.status_code == 200, second.get_data(as_text=True)
    assert second.json["previous_response_id"] == first_id
    contents = upstream_requests(fake_upstream)[1]["contents"]
    assert contents == [
        {"role": "user", "parts": [{"text": "remember the word banana"}]},
        {"role": "model", "parts": [{"text": "echo: remember the word banana"}]},
        {"role": "user", "parts": [{"text": "what was the word"}]},
    ]


@pytest.mark.parametrize("store", [False, None], ids=["store-false", "unknown-id"])
def test_unknown_previous_response_id_is_400(client, fake_upstream, store):
    previous = "resp_does_not_exist"
    if store is False:
        first = client.post(
            RESPONSES, json={"model": MODEL, "input": "forget me", "store": False}
        )
        previous = first.json["id"]
    response = client.post(
        RESPONSES,
        json={"model": MODEL, "input": "and then", "previous_response_id": previous},
    )
    assert response.status_code == 400
    assert response.json["error"] == {
        "message": f"Previous response with id '{previous}' not found. "
        f"(request id: {response.headers['X-Request-Id']})",
        "type": "invalid_request_error",
        "param": "previous_response_id",
        "code": "previous_response_not_found",
    }


def test_custom_tool_round_trip_without_encrypted_content(client, fake_upstream):
    question = {"role": "user", "content": "please call apply_patch on hello.txt"}
    first = client.post(
        RESPONSES, json={"model": MODEL, "input": [question], "tools": [APPLY_PATCH]}
    )
    assert first.status_code == 200
    declared = upstream_requests(fake_upstream)[0]["tools"][0]["functionDeclarations"]
    assert declared[0]["name"] == "apply_patch"
    [call] = [i for i in first.json["output"] if i["type"] == "custom_tool_call"]
    assert (call["name"], call["input"]) == ("apply_patch", "x")
    expected = default_reply(upstream_requests(fake_upstream)[0]).parts[1]
    output = {
        "type": "custom_tool_call_output",
        "call_id": call["call_id"],
        "output": "Success. Updated hello.txt",
    }
    second = client.post(
        RESPONSES,
        json={
            "model": MODEL,
            "tools": [APPLY_PATCH],
            "input": [question, call, output],
        },
    )
    assert second.status_code == 200
    contents = upstream_requests(fake_upstream)[1]["contents"]
    replayed = contents[1]["parts"][0]
    assert replayed["functionCall"] == {
        "name": "apply_patch",
        "args": {"input": "x"},
        "id": call["call_id"],
    }
    assert replayed["thoughtSignature"] == expected["thoughtSignature"]
    assert contents[2]["parts"][0]["functionResponse"]["response"] == {
        "output": "Success. Updated hello.txt"
    }


def test_codex_style_turn_carries_signature_in_encrypted_content(client, fake_upstream):
    codex = {
        "model": MODEL,
        "stream": True,
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "tools": [APPLY_PATCH],
        "reasoning": {"summary": "auto"},
        "prompt_cache_key": "session-1",
    }
    question = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "please call apply_patch"}],
    }
    first = client.post(RESPONSES, json={**codex, "input": [question]})
    done = [
        e["item"]
        for e in data_events(first)
        if e["type"] == "response.output_item.done"
    ]
    assert [i["type"] for i in done] == ["reasoning", "custom_tool_call"]
    assert done[0]["encrypted_content"].startswith("agp1.")
    output = {
        "type": "custom_tool_call_output",
        "call_id": done[1]["call_id"],
        "output": "ok",
    }
    # A different conversation key: only encrypted_content can restore the signature.
    second = client.post(
        RESPONSES,
        json={**codex, "prompt_cache_key": "other", "input": [question, *done, output]},
    )
    assert second.status_code == 200
    expected = default_reply(upstream_requests(fake_upstream)[0]).parts[1]
    replayed = upstream_requests(fake_upstream)[1]["contents"][1]["parts"][0]
    assert replayed["thoughtSignature"] == expected["thoughtSignature"]


def test_websocket_upgrade_is_refused_with_426(client):
    response = client.get(
        RESPONSES,
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert response.status_code == 426
    assert response.json["error"]["type"] == "invalid_request_error"
    assert response.json["error"]["code"] == "websocket_not_supported"


def test_plain_get_on_responses_is_405(client):
    response = client.get(RESPONSES)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json["error"]["type"] == "invalid_request_error"


def test_responses_stream_cut_midway_ends_with_response_failed(client, fake_upstream):
    chunk = {"candidates": [candidate([{"text": "partial "}], 0, None)]}
    fake_upstream.script(CutStream([chunk, chunk], after=1))
    response = client.post(
        RESPONSES, json={"model": MODEL, "input": "tell me", "stream": True}
    )
    events = data_events(response)
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["status"] == "failed"
    assert events[-1]["response"]["error"]["code"] == "server_error"


def test_responses_image_url_to_loopback_is_refused(client, fake_upstream):
    content = [
        {"type": "input_text", "text": "what is this"},
        {"type": "input_image", "image_url": "http://127.0.0.1:9/x.png"},
    ]
    response = client.post(
        RESPONSES,
        json={"model": MODEL, "input": [{"role": "user", "content": content}]},
    )
    assert response.status_code == 400
    assert response.json["error"]["param"] == "input[0].content[1].image_url"
    assert fake_upstream.calls(":streamGenerateContent") == []
