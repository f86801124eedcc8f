"""The bench's floor proxy forwards bytes unchanged, so the floor it measures is real."""

from __future__ import annotations

import responses
from werkzeug.test import Client

from benchmarks import passthrough

UPSTREAM = "http://upstream.test/v1internal:streamGenerateContent?alt=sse"


@responses.activate
def test_post_forwards_body_and_auth_and_returns_the_upstream_answer(monkeypatch):
    monkeypatch.setenv("PASSTHROUGH_URL", UPSTREAM)
    monkeypatch.setenv("PASSTHROUGH_AUTHORIZATION", "Bearer t0k")
    responses.post(
        UPSTREAM, body=b"data: {}\n\n", status=429, content_type="text/event-stream"
    )
    reply = Client(passthrough.app).post("/anything", data=b'{"a": 1}')
    sent = responses.calls[0].request
    assert sent.body == b'{"a": 1}'
    assert sent.headers["Authorization"] == "Bearer t0k"
    assert (reply.status_code, reply.data) == (429, b"data: {}\n\n")
    assert reply.headers["Content-Type"] == "text/event-stream"


@responses.activate
def test_get_answers_ready_without_calling_upstream():
    reply = Client(passthrough.app).get("/")
    assert (reply.status_code, reply.data, len(responses.calls)) == (200, b"", 0)
