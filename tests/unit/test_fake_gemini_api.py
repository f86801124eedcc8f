"""The fake's Gemini API surface (tests/fakes/gemini_api.py), used by bench-peers."""

from __future__ import annotations

import json

import pytest
from werkzeug.test import Client

from tests.fakes.cloudcode import FakeCloudCode, Stream, not_found, rate_limited
from tests.fakes.gemini_api import GeminiApi

BODY = {"contents": [{"role": "user", "parts": [{"text": "hello there"}]}]}
GENERATE = "/v1beta/models/gemini-3-flash:generateContent"
STREAM = "/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse"


def make() -> tuple[GeminiApi, Client]:
    api = GeminiApi(FakeCloudCode())
    return api, Client(api)


def text_of(chunk: dict) -> str:
    return "".join(p["text"] for p in chunk["candidates"][0]["content"]["parts"])


@pytest.mark.parametrize(
    ("path", "headers"),
    [(GENERATE + "?key=k", {}), (GENERATE, {"x-goog-api-key": "k"})],
)
def test_generate_answers_unwrapped_with_either_key(path: str, headers: dict) -> None:
    api, client = make()
    reply = client.post(path, json=BODY, headers=headers)
    assert reply.status_code == 200
    body = reply.get_json()
    assert "response" not in body
    assert text_of(body) == "echo: hello there"
    assert body["candidates"][0]["finishReason"] == "STOP"
    assert api.requests[-1].json == BODY


def test_stream_sends_unwrapped_events_and_logs_writes() -> None:
    api, client = make()
    reply = client.post(STREAM + "&key=k", json=BODY)
    events = [e for e in reply.get_data().split(b"\r\n\r\n") if e]
    chunks = [json.loads(e.removeprefix(b"data: ")) for e in events]
    assert reply.mimetype == "text/event-stream"
    assert "".join(text_of(c) for c in chunks) == "echo: hello there"
    assert len(api.sent_times) == 1 and len(api.sent_times[0]) == len(chunks)


def test_scripted_stream_answers_here() -> None:
    api, client = make()
    chunk = {"candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}}]}
    api.fake.script(Stream([chunk, chunk], delay=0.0))
    reply = client.post(STREAM + "&key=k", json=BODY)
    assert reply.get_data().count(b"data: ") == 2
    assert api.fake.pending_scripts == 0


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        (GENERATE, BODY, 403),
        (GENERATE + "?key=k", {"contents": "no"}, 400),
        ("/v1beta/models/m:streamGenerateContent?key=k", BODY, 400),
    ],
)
def test_bad_calls_get_google_errors(path: str, body: dict, status: int) -> None:
    _, client = make()
    reply = client.post(path, json=body)
    assert reply.status_code == status
    assert reply.get_json()["error"]["code"] == status


def test_get_is_not_found_and_faults_pass_through() -> None:
    api, client = make()
    assert client.get(GENERATE + "?key=k").status_code == 404
    api.fake.script(rate_limited())
    assert client.post(GENERATE + "?key=k", json=BODY).status_code == 429


def test_other_paths_reach_the_cloud_code_fake() -> None:
    api, client = make()
    api.fake.add_prefix("/v1internal", always=not_found())
    assert client.post("/v1internal:loadCodeAssist", json={}).status_code == 404
    assert api.fake.calls(":loadCodeAssist")
    assert api.requests == []
