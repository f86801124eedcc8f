"""The Exchange of every protocol, stream and not, matches what the fake upstream did.

Each case sends one request whose first upstream call is refused (429, so the
dispatcher rotates) and whose second is answered with known usage; the Exchange
must name both attempts, the serving account (also in X-Antigravity-Account),
the upstream model the fake saw, the usage it reported and how the answer ended.
A cut mid-stream must end in the protocol's error and count against the account.
"""

from __future__ import annotations

import io
import json
import socket

import pytest

from antigravity_proxy import exchange as exchange_mod
from antigravity_proxy import streaming
from antigravity_proxy.exchange import Ending
from tests.fakes.cloudcode_steps import CutStream, Reply, Stream, rate_limited
from tests.upstream_env import seed_account, upstream_section

USAGE = {
    "promptTokenCount": 21,
    "candidatesTokenCount": 5,
    "thoughtsTokenCount": 3,
    "cachedContentTokenCount": 8,
    "totalTokenCount": 29,
}
TEXT = {"text": "hello from upstream"}
GEMINI = "/v1beta/models/gemini-3-flash"
PART_CHUNK = {"candidates": [{"content": {"role": "model", "parts": [TEXT]}}]}

# (name, path, body, streamed)
CASES = [
    (
        "chat",
        "/v1/chat/completions",
        {"model": "gemini-3-flash", "messages": [{"role": "user", "content": "hi"}]},
    ),
    ("completions", "/v1/completions", {"model": "gemini-3-flash", "prompt": "hi"}),
    ("responses", "/v1/responses", {"model": "gemini-3-flash", "input": "hi"}),
    (
        "anthropic",
        "/v1/messages",
        {
            "model": "gemini-3-flash",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "hi"}],
        },
    ),
]
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def _requests():
    for name, path, body in CASES:
        yield pytest.param(path, body, False, id=f"{name}")
        yield pytest.param(path, {**body, "stream": True}, True, id=f"{name}-stream")
    yield pytest.param(f"{GEMINI}:generateContent", GEMINI_BODY, False, id="gemini")
    yield pytest.param(
        f"{GEMINI}:streamGenerateContent?alt=sse", GEMINI_BODY, True, id="gemini-sse"
    )
    yield pytest.param(
        f"{GEMINI}:streamGenerateContent", GEMINI_BODY, True, id="gemini-array"
    )


@pytest.fixture
def finished(monkeypatch):
    """Every Exchange finished during the test, in order."""
    seen: list = []
    monkeypatch.setattr(exchange_mod, "FINISH_HOOKS", [seen.append])
    return seen


@pytest.fixture
def client(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    seed_account(home, fake_upstream, "b")
    return gateway()


def _send(client, path, body):
    response = client.post(path, json=body)
    data = response.get_data()
    response.close()
    return response, data


@pytest.mark.parametrize("path,body,streamed", list(_requests()))
def test_exchange_records_what_the_upstream_did(
    client, fake_upstream, finished, path, body, streamed
):
    fake_upstream.script(rate_limited(), Reply([TEXT], usage=USAGE))
    response, data = _send(client, path, body)
    assert response.status_code == 200, data
    (ex,) = finished
    calls = [r for r in fake_upstream.requests if "GenerateContent" in r.path]
    assert len(calls) == 2
    assert [a.status for a in ex.attempts] == [429, 200]
    assert [a.reason for a in ex.attempts] == ["rotate", "ok"]
    assert [a.account + "@example.test" for a in ex.attempts] == [
        c.account_email for c in calls
    ]
    assert all(a.base_url.endswith("/v1internal") for a in ex.attempts)
    assert ex.account == ex.attempts[1].account
    assert response.headers["X-Antigravity-Account"] == ex.account
    assert ex.upstream_model == calls[1].json["model"] == "gemini-3-flash"
    assert ex.client_model == "gemini-3-flash" and ex.stream is streamed
    usage = ex.usage
    assert (usage.input_tokens, usage.output_tokens) == (21, 5)
    assert (usage.thinking_tokens, usage.cached_tokens) == (3, 8)
    assert ex.ending is Ending.COMPLETE and ex.status == 200
    assert ex.bytes_out == len(data) and ex.first_byte is not None
    assert ex.request_id == response.headers["X-Request-Id"]


def test_count_tokens_attempts_are_in_the_exchange(client, fake_upstream, finished):
    """``count_tokens`` goes through the pipeline like every generation route."""
    fake_upstream.script(rate_limited(), method="countTokens")
    body = {**CASES[3][2], "messages": [{"role": "user", "content": "one two"}]}
    response, data = _send(client, "/v1/messages/count_tokens", body)
    assert response.status_code == 200, data
    assert json.loads(data) == {"input_tokens": 2}
    (ex,) = finished
    calls = [r for r in fake_upstream.requests if r.path.endswith(":countTokens")]
    assert [a.status for a in ex.attempts] == [429, 200]
    assert [a.account + "@example.test" for a in ex.attempts] == [
        c.account_email for c in calls
    ]
    assert ex.account == ex.attempts[1].account
    assert response.headers["X-Antigravity-Account"] == ex.account
    assert response.headers["X-Mapped-Model"] == ex.upstream_model == "gemini-3-flash"
    assert ex.client_model == "gemini-3-flash" and ex.stream is False


def test_warmup_attempts_and_account_header_come_from_the_exchange(
    client, fake_upstream, finished
):
    """The warm-up's upstream calls are attempts; its header is the shared one."""
    fake_upstream.script(rate_limited(), account="a@example.test")
    refused, _ = _send(client, "/internal/warmup", {"account_id": "a"})
    served, _ = _send(client, "/internal/warmup", {"account_id": "b"})
    assert (refused.status_code, served.status_code) == (429, 200)
    failed, ok = finished
    assert [(a.account, a.status) for a in failed.attempts] == [("a", 429)]
    assert failed.account is None and "X-Antigravity-Account" not in refused.headers
    assert [(a.account, a.status, a.reason) for a in ok.attempts] == [("b", 200, "ok")]
    assert ok.account == served.headers["X-Antigravity-Account"] == "b"
    assert served.headers["X-Mapped-Model"] == ok.upstream_model == "gemini-3-flash"


@pytest.mark.parametrize("chunked", [False, True], ids=["sized", "chunked"])
def test_bytes_in_is_what_was_read(client, fake_upstream, finished, chunked):
    """A chunked upload declares no length; the Exchange counts what was read."""
    body = json.dumps(CASES[0][2]).encode()
    framing = {"wsgi.input_terminated": True, "CONTENT_LENGTH": ""} if chunked else {}
    response = client.post(
        "/v1/chat/completions",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        content_length=None if chunked else len(body),
        headers={"Transfer-Encoding": "chunked"} if chunked else {},
        environ_overrides=framing,
    )
    response.close()
    assert response.status_code == 200
    (ex,) = finished
    assert ex.bytes_in == len(body)


def test_bytes_in_of_a_body_refused_unread_is_zero(make_client, finished):
    """Declared past the limit: 413 before a byte is read, so none came in."""
    client = make_client({"proxy": {"auth_mode": "off", "max_body_bytes": 1000}})
    response = client.post(
        "/v1/chat/completions", data=b"x" * 5000, content_type="application/json"
    )
    response.close()
    assert response.status_code == 413
    (ex,) = finished
    assert ex.bytes_in == 0


STREAM_CASES = [
    ("chat", "/v1/chat/completions", CASES[0][2]),
    ("completions", "/v1/completions", CASES[1][2]),
    ("responses", "/v1/responses", CASES[2][2]),
    ("anthropic", "/v1/messages", CASES[3][2]),
]


def _terminal_error(name: str, data: bytes) -> bool:
    """Whether the stream ends with the protocol's own error frame."""
    text = data.decode()
    if name == "anthropic":
        return text.rstrip().split("\n\n")[-1].startswith("event: error")
    if name == "responses":
        return "event: response.failed" in text.rstrip().split("\n\n")[-1]
    if name in ("chat", "completions"):
        frames = text.rstrip().split("\n\n")
        return frames[-1] == "data: [DONE]" and '"error"' in frames[-2]
    last = text.rstrip().split("\n\n")[-1].removeprefix("data: ")
    return "error" in json.loads(last)


@pytest.mark.parametrize(
    "name,path,body", STREAM_CASES, ids=[c[0] for c in STREAM_CASES]
)
def test_a_cut_stream_ends_in_the_protocol_error_and_counts_against_the_account(
    client, fake_upstream, finished, name, path, body
):
    fake_upstream.script(CutStream([PART_CHUNK] * 3, after=1))
    response, data = _send(client, path, {**body, "stream": True})
    assert response.status_code == 200
    assert _terminal_error(name, data), data
    (ex,) = finished
    assert ex.ending is Ending.UPSTREAM_CUT and ex.error_kind == "upstream"
    frames = data.decode().rstrip().split("\n\n")
    last = frames[-2] if name in ("chat", "completions") else frames[-1]
    assert ex.request_id in last  # the terminal error names the request
    assert any(key.startswith(ex.account) for key in _cooldowns(client))


def test_gemini_sse_cut_ends_in_an_error_object(client, fake_upstream, finished):
    fake_upstream.script(CutStream([PART_CHUNK] * 3, after=1))
    response, data = _send(
        client, f"{GEMINI}:streamGenerateContent?alt=sse", GEMINI_BODY
    )
    last = data.decode().rstrip().split("\r\n\r\n")[-1].removeprefix("data: ")
    assert json.loads(last)["error"]["status"] == "INTERNAL"
    (ex,) = finished
    assert json.loads(last)["error"]["details"][0]["requestId"] == ex.request_id
    assert ex.ending is Ending.UPSTREAM_CUT
    assert any(key.startswith(ex.account) for key in _cooldowns(client))


def _cooldowns(client) -> list[str]:
    """Keys of the cooldowns the shared state holds (account:group:scope)."""
    services = _services(client.application)
    return list(services.state.active_cooldowns())


def _services(app):
    while not hasattr(app, "services"):
        app = getattr(app, "app", None) or app.gateway
    return app.services


HEARTBEAT_CASES = [
    ("chat", "/v1/chat/completions", CASES[0][2], b": keepalive\n\n"),
    ("completions", "/v1/completions", CASES[1][2], b": keepalive\n\n"),
    ("responses", "/v1/responses", CASES[2][2], b": keepalive\n\n"),
    ("anthropic", "/v1/messages", CASES[3][2], b"event: ping\n"),
    ("gemini-sse", f"{GEMINI}:streamGenerateContent?alt=sse", None, b": keepalive"),
]
FINISH = {
    "candidates": [
        {"content": {"role": "model", "parts": [TEXT]}, "finishReason": "STOP"}
    ]
}


@pytest.mark.parametrize(
    "name,path,body,beat", HEARTBEAT_CASES, ids=[c[0] for c in HEARTBEAT_CASES]
)
def test_keepalive_during_upstream_silence_in_the_protocols_form(
    client, fake_upstream, finished, monkeypatch, name, path, body, beat
):
    monkeypatch.setattr(streaming, "KEEPALIVE_SECONDS", 0.2)
    fake_upstream.script(Stream([b": thinking\n\n", PART_CHUNK, FINISH], delay=0.7))
    payload = GEMINI_BODY if body is None else {**body, "stream": True}
    response, data = _send(client, path, payload)
    assert response.status_code == 200
    first_text = data.index(b"hello from upstream")
    assert beat in data[:first_text]
    assert beat in data[first_text:]
    (ex,) = finished
    assert ex.ending is Ending.COMPLETE


def test_no_heartbeat_inside_gemini_json_array(client, fake_upstream, monkeypatch):
    monkeypatch.setattr(streaming, "KEEPALIVE_SECONDS", 0.2)
    fake_upstream.script(Stream([b": thinking\n\n", PART_CHUNK, FINISH], delay=0.5))
    response, data = _send(client, f"{GEMINI}:streamGenerateContent", GEMINI_BODY)
    assert len(json.loads(data)) == 2


def test_stall_past_the_read_timeout_ends_with_an_error(
    gateway, home, fake_upstream, finished
):
    seed_account(home, fake_upstream, "a")
    upstream = {**upstream_section(fake_upstream.base_url), "read_timeout": 1}
    client = gateway({"upstream": upstream})
    fake_upstream.script(Stream([PART_CHUNK, FINISH], delay=3.0))
    response, data = _send(client, "/v1/messages", {**CASES[3][2], "stream": True})
    assert data.rstrip().split(b"\n\n")[-1].startswith(b"event: error")
    (ex,) = finished
    assert ex.ending is Ending.TIMEOUT and ex.error_kind == "timeout"


def _gone_client_socket():
    """A socket whose peer has already closed: the client went away."""
    mine, theirs = socket.socketpair()
    theirs.close()
    return mine


@pytest.mark.parametrize(
    "path,body",
    [
        ("/v1/images/generations", {"prompt": "a cat", "n": 3}),
        ("/v1/chat/completions", CASES[0][2]),
        ("/v1/messages", CASES[3][2]),
    ],
)
def test_no_upstream_call_once_the_client_is_gone(
    client, fake_upstream, finished, path, body
):
    sock = _gone_client_socket()
    response = client.post(path, json=body, environ_overrides={"werkzeug.socket": sock})
    response.get_data()
    response.close()
    sock.close()
    assert not [r for r in fake_upstream.requests if "Generate" in r.path]
    (ex,) = finished
    assert ex.attempts == [] and ex.status == 499
