"""Tests of the loopback Cloud Code + Google OAuth fake, over real HTTP.

The gateway's upstream tests trust this fake, so each endpoint, each scripted
fault, the stream pacing and the mid-body cut are checked here with ``requests``
(and a raw socket where ``requests`` would hide when bytes arrive).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.fakes.cloudcode import (
    CutStream,
    FakeCloudCode,
    Fault,
    Reply,
    Stream,
    capacity_exhausted,
    forbidden,
    not_found,
    quota_exhausted,
    rate_limited,
    serve,
    server_error,
    unavailable,
)

RT = "1//rt-alice"
CLIENT = {"client_id": "cid", "client_secret": "secret"}
PREFIX = "/v1internal"


@pytest.fixture
def fake() -> FakeCloudCode:
    cloud = FakeCloudCode()
    cloud.add_account(RT, email="alice@example.com")
    return cloud


@pytest.fixture
def base(fake: FakeCloudCode) -> Iterator[str]:
    with serve(fake) as url:
        yield url


@pytest.fixture
def token(base: str) -> str:
    return refresh(base, RT).json()["access_token"]


def refresh(base: str, refresh_token: str, **form: str) -> requests.Response:
    data = {**CLIENT, "grant_type": "refresh_token", "refresh_token": refresh_token}
    return requests.post(f"{base}/token", data={**data, **form}, timeout=5)


def call(
    base: str, method: str, token: str | None, body: Any, prefix: str = PREFIX
) -> requests.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    suffix = "?alt=sse" if method == "streamGenerateContent" else ""
    url = f"{base}{prefix}:{method}{suffix}"
    return requests.post(url, json=body, headers=headers, timeout=5)


def envelope(text: str, model: str = "gemini-3-flash", **extra: Any) -> dict[str, Any]:
    contents = [{"role": "user", "parts": [{"text": text}]}]
    request = {"contents": contents, **extra}
    return {"project": "proj-1", "model": model, "request": request}


def open_stream(base: str, token: str, body: Any) -> requests.Response:
    return requests.post(
        f"{base}{PREFIX}:streamGenerateContent",
        params={"alt": "sse"},
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        stream=True,
        timeout=5,
    )


def parse_events(raw: bytes) -> list[dict[str, Any]]:
    frames = [f for f in raw.split(b"\r\n\r\n") if f]
    assert all(f.startswith(b"data: ") for f in frames)
    return [json.loads(f[len(b"data: ") :]) for f in frames]


def stream_events(base: str, token: str, body: Any) -> list[dict[str, Any]]:
    with open_stream(base, token, body) as resp:
        assert resp.status_code == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        return parse_events(resp.content)


def parts_of(chunk: dict[str, Any]) -> list[dict[str, Any]]:
    return chunk["candidates"][0]["content"]["parts"]


def text_chunk(text: str) -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}}]}


def test_token_refresh_issues_unique_access_tokens(fake, base):
    first, second = refresh(base, RT), refresh(base, RT)
    assert first.status_code == second.status_code == 200
    assert first.json()["access_token"] != second.json()["access_token"]
    assert first.json()["expires_in"] == 3599
    assert first.json()["token_type"] == "Bearer"
    assert "refresh_token" not in first.json()
    assert fake.refresh_count(RT) == 2


def test_token_refresh_revoked_or_unknown_is_invalid_grant(fake, base):
    fake.revoke(RT)
    for refresh_token in (RT, "1//never-issued"):
        resp = refresh(base, refresh_token)
        assert resp.status_code == 400
        assert resp.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("missing", ["client_id", "client_secret"])
def test_token_requires_client_credentials(base, missing):
    resp = refresh(base, RT, **{missing: ""})
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_request"


def test_token_checks_client_secret_when_clients_configured():
    cloud = FakeCloudCode(clients={"cid": "secret"})
    cloud.add_account(RT, email="alice@example.com")
    with serve(cloud) as url:
        assert refresh(url, RT, client_secret="wrong").status_code == 401
        assert refresh(url, RT).status_code == 200


def test_token_rotation_returns_new_refresh_token_and_retires_old(fake, base):
    account = fake.add_account(
        "1//rt-rot", email="rot@example.com", rotate_refresh=True
    )
    body = refresh(base, "1//rt-rot").json()
    assert body["refresh_token"] == account.refresh_token != "1//rt-rot"
    assert refresh(base, "1//rt-rot").json()["error"] == "invalid_grant"
    assert refresh(base, body["refresh_token"]).status_code == 200


def test_token_authorization_code_exchanges_once(fake, base):
    code = fake.issue_auth_code(RT)
    form = {**CLIENT, "grant_type": "authorization_code", "code": code}
    first = requests.post(f"{base}/token", data=form, timeout=5)
    again = requests.post(f"{base}/token", data=form, timeout=5)
    assert first.json()["refresh_token"] == RT
    assert first.json()["access_token"].startswith("ya29.")
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_token_refresh_delay_is_counted_before_sleeping(fake, base):
    fake.add_account("1//slow", email="slow@example.com", refresh_delay=0.3)
    worker = threading.Thread(target=lambda: refresh(base, "1//slow").close())
    started = time.monotonic()
    worker.start()
    while fake.refresh_count("1//slow") == 0:
        time.sleep(0.01)
    assert worker.is_alive()
    worker.join()
    assert time.monotonic() - started >= 0.3
    assert fake.refresh_count("1//slow") == 1


def test_userinfo_returns_account_for_bearer(base, token):
    ok = requests.get(
        f"{base}/userinfo", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert ok.json()["email"] == "alice@example.com"
    assert ok.json()["name"] == "Alice"
    assert requests.get(f"{base}/userinfo", timeout=5).status_code == 401


def test_cloudcode_requires_valid_bearer(fake, base, token):
    for bad in (None, "ya29.unknown"):
        resp = call(base, "generateContent", bad, envelope("hi"))
        assert resp.status_code == 401
        assert resp.json()["error"]["status"] == "UNAUTHENTICATED"
    fake.expire_access_tokens()
    assert call(base, "generateContent", token, envelope("hi")).status_code == 401
    fresh = refresh(base, RT).json()["access_token"]
    assert call(base, "generateContent", fresh, envelope("hi")).status_code == 200


def test_access_token_expires_after_expires_in():
    cloud = FakeCloudCode(expires_in=0)
    cloud.add_account(RT, email="alice@example.com")
    with serve(cloud) as url:
        short = refresh(url, RT).json()
        assert short["expires_in"] == 0
        resp = call(url, "loadCodeAssist", short["access_token"], {"metadata": {}})
        assert resp.status_code == 401


def test_load_code_assist_reports_project_and_tier(fake, base, token):
    body = {"metadata": {"ideType": "ANTIGRAVITY"}}
    resp = call(base, "loadCodeAssist", token, body)
    assert resp.json()["cloudaicompanionProject"] == "proj-1"
    assert resp.json()["paidTier"] == {"id": "g1-pro-tier", "name": "Google AI Pro"}
    assert "id" in resp.json()["currentTier"]


def test_load_code_assist_omits_missing_project_and_tier(fake, base):
    fake.add_account("1//bare", email="bare@example.com", project=None, tier=None)
    bare = refresh(base, "1//bare").json()["access_token"]
    resp = call(base, "loadCodeAssist", bare, {"metadata": {"ideType": "ANTIGRAVITY"}})
    assert "cloudaicompanionProject" not in resp.json()
    assert "paidTier" not in resp.json()


def test_fetch_available_models_lists_quota(fake, base):
    fake.add_account("1//m", email="m@example.com", models={"gemini-3-flash": 0.25})
    access = refresh(base, "1//m").json()["access_token"]
    resp = call(base, "fetchAvailableModels", access, {"project": "proj-2"})
    entry = resp.json()["models"]["gemini-3-flash"]
    assert entry["quotaInfo"]["remainingFraction"] == 0.25
    assert entry["quotaInfo"]["resetTime"].endswith("Z")
    assert entry["displayName"] == "Gemini 3 Flash"
    assert entry["maxOutputTokens"] > 0
    assert "deprecatedModelIds" in resp.json()


def test_generate_content_echoes_last_user_text(base, token):
    resp = call(base, "generateContent", token, envelope("hello there"))
    inner = resp.json()["response"]
    assert parts_of(inner) == [{"text": "echo: hello there"}]
    assert inner["candidates"][0]["finishReason"] == "STOP"
    assert inner["modelVersion"] == "gemini-3-flash"
    assert inner["usageMetadata"] == {
        "promptTokenCount": 2,
        "candidatesTokenCount": 3,
        "totalTokenCount": 5,
    }
    assert resp.json()["traceId"] == resp.headers["x-cloudaicompanion-trace-id"]
    assert inner["responseId"]


@pytest.mark.parametrize("missing", ["project", "model", "request"])
def test_generate_content_rejects_incomplete_envelope(base, token, missing):
    body = envelope("hi")
    del body[missing]
    resp = call(base, "generateContent", token, body)
    assert resp.status_code == 400
    assert resp.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_stream_generate_content_sends_echo_in_chunks(base, token):
    events = stream_events(base, token, envelope("hello there"))
    chunks = [event["response"] for event in events]
    assert len(chunks) == 3
    assert "".join(parts_of(c)[0]["text"] for c in chunks) == "echo: hello there"
    assert "finishReason" not in chunks[0]["candidates"][0]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["totalTokenCount"] == 5
    assert all(event["traceId"] for event in events)


def test_stream_calls_declared_function_with_thought_first(base, token):
    declaration = {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "STRING"}}},
    }
    tools = [{"functionDeclarations": [declaration]}]
    body = envelope("please call get_weather now", tools=tools)
    chunks = [event["response"] for event in stream_events(base, token, body)]
    parts = [part for chunk in chunks for part in parts_of(chunk)]
    assert parts[0] == {"text": "thinking...", "thought": True}
    call_part = parts[1]
    assert call_part["functionCall"]["name"] == "get_weather"
    assert call_part["functionCall"]["args"] == {"city": "x"}
    assert call_part["functionCall"]["id"]
    assert call_part["thoughtSignature"].startswith("sig-")
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def test_undeclared_function_name_is_echoed(base, token):
    body = envelope("call nothing", tools=[{"functionDeclarations": []}])
    resp = call(base, "generateContent", token, body)
    assert parts_of(resp.json()["response"]) == [{"text": "echo: call nothing"}]


def test_generate_json_mime_returns_json_text(base, token):
    config = {"responseMimeType": "application/json"}
    body = envelope("hi", generationConfig=config)
    text = parts_of(call(base, "generateContent", token, body).json()["response"])
    assert json.loads(text[0]["text"]) == {"echo": "hi"}


def test_count_tokens_counts_words_and_non_text_parts(base, token):
    parts = [{"text": "one two three"}, {"inlineData": {"data": "", "mimeType": "x"}}]
    request = {
        "contents": [{"role": "user", "parts": parts}],
        "systemInstruction": {"parts": [{"text": "be brief"}]},
    }
    resp = call(base, "countTokens", token, {"request": request})
    assert resp.json() == {"totalTokens": 6}


@pytest.mark.parametrize("key", ["model", "project"])
def test_count_tokens_rejects_top_level_keys(base, token, key):
    body = {"request": {"contents": []}, key: "x"}
    resp = call(base, "countTokens", token, body)
    assert resp.status_code == 400
    assert f'Unknown name "{key}"' in resp.json()["error"]["message"]


@pytest.mark.parametrize(
    ("fault", "status", "grpc"),
    [
        (quota_exhausted(), 429, "RESOURCE_EXHAUSTED"),
        (rate_limited(), 429, "RESOURCE_EXHAUSTED"),
        (capacity_exhausted(), 429, "RESOURCE_EXHAUSTED"),
        (forbidden(), 403, "PERMISSION_DENIED"),
        (unavailable(), 503, "UNAVAILABLE"),
        (server_error(), 500, "INTERNAL"),
        (not_found(), 404, "NOT_FOUND"),
    ],
)
@pytest.mark.parametrize("method", ["generateContent", "streamGenerateContent"])
def test_scripted_fault_answers_next_call_once(
    fake, base, token, fault, status, grpc, method
):
    fake.script(fault)
    failed = call(base, method, token, envelope("hi"))
    assert failed.status_code == status
    error = failed.json()["error"]
    assert (error["code"], error["status"]) == (status, grpc)
    assert error["message"]
    assert call(base, method, token, envelope("hi")).status_code == 200
    assert fake.pending_scripts == 0


def test_quota_exhausted_carries_reset_delay_and_retry_info(fake, base, token):
    fake.script(quota_exhausted("1h2m3.5s"))
    details = call(base, "generateContent", token, envelope("hi")).json()["error"][
        "details"
    ]
    assert details[0]["reason"] == "QUOTA_EXHAUSTED"
    assert details[0]["metadata"]["quotaResetDelay"] == "1h2m3.5s"
    assert details[1]["@type"].endswith("RetryInfo")
    assert details[1]["retryDelay"] == "3723.5s"


def test_fault_headers_are_sent(fake, base, token):
    fake.script(rate_limited(retry_after=7))
    resp = call(base, "generateContent", token, envelope("hi"))
    assert resp.headers["Retry-After"] == "7"
    assert resp.json()["error"]["details"][0]["reason"] == "RATE_LIMIT_EXCEEDED"


def test_forbidden_with_validation_url(fake, base, token):
    fake.script(forbidden(validation_url="https://accounts.example/verify"))
    error = call(base, "generateContent", token, envelope("hi")).json()["error"]
    assert error["details"][0]["reason"] == "VALIDATION_REQUIRED"
    assert "verify your account" in error["message"]


def test_scripted_reply_is_streamed_part_by_part(fake, base, token):
    usage = {"promptTokenCount": 9, "candidatesTokenCount": 1, "totalTokenCount": 10}
    fake.script(Reply([{"text": "a"}, {"text": "b"}], "MAX_TOKENS", usage))
    chunks = [e["response"] for e in stream_events(base, token, envelope("hi"))]
    assert [parts_of(c) for c in chunks] == [[{"text": "a"}], [{"text": "b"}]]
    assert chunks[-1]["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert chunks[-1]["usageMetadata"] == usage


def test_scripted_stream_merges_for_generate_content(fake, base, token):
    fake.script(Stream([text_chunk("ab"), b": ping\r\n\r\n", text_chunk("cd")]))
    inner = call(base, "generateContent", token, envelope("hi")).json()["response"]
    assert parts_of(inner) == [{"text": "abcd"}]


def test_scripted_stream_writes_raw_bytes_verbatim(fake, base, token):
    fake.script(Stream([b": ping\r\n\r\n", text_chunk("x")]))
    with open_stream(base, token, envelope("hi")) as resp:
        raw = resp.content
    assert raw.startswith(b": ping\r\n\r\ndata: {")


def test_slow_stream_spaces_events_by_delay(fake, base, token):
    fake.script(Stream([text_chunk(str(i)) for i in range(3)], delay=0.15))
    arrivals = []
    with open_stream(base, token, envelope("hi")) as resp:
        for _ in resp.iter_content(chunk_size=None):
            arrivals.append(time.monotonic())
    sent = fake.sent_times[0]
    assert len(sent) == 3
    assert all(b - a >= 0.14 for a, b in zip(sent, sent[1:], strict=False))
    assert arrivals[-1] - arrivals[0] >= 0.28
    assert fake.stream_outcomes == ["complete"]


def test_stream_first_event_arrives_before_last_is_written(fake, base, token):
    fake.script(Stream([text_chunk(str(i)) for i in range(3)], delay=0.2))
    body = json.dumps(envelope("hi")).encode()
    head = (
        f"POST {PREFIX}:streamGenerateContent?alt=sse HTTP/1.1\r\n"
        f"Host: fake\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        sock.sendall(head.encode() + body)
        received = b""
        while b"\r\n\r\n" not in received.partition(b"data: ")[2]:
            received += sock.recv(65536)
        first_at = time.monotonic()
        while chunk := sock.recv(65536):
            received += chunk
    sent = fake.sent_times[0]
    assert first_at < sent[-1]
    assert received.count(b"data: ") == 3
    assert received.endswith(b"0\r\n\r\n")


def test_cut_stream_raises_while_iterating(fake, base, token):
    fake.script(CutStream([text_chunk("a"), text_chunk("b"), text_chunk("c")], after=1))
    received = []
    with open_stream(base, token, envelope("hi")) as resp:
        assert resp.status_code == 200
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for piece in resp.iter_content(chunk_size=None):
                received.append(piece)
    assert b"".join(received).count(b"data: ") == 1
    assert fake.stream_outcomes == ["cut"]


def test_cut_stream_on_generate_content_drops_connection(fake, base, token):
    fake.script(CutStream([text_chunk("a")], after=0))
    with pytest.raises(requests.exceptions.ConnectionError):
        call(base, "generateContent", token, envelope("hi"))


def test_stream_aborted_by_client_is_logged(fake, base, token):
    fake.script(Stream([text_chunk("x" * 1000)] * 50, delay=0.02))
    with open_stream(base, token, envelope("hi")) as resp:
        next(resp.iter_content(chunk_size=None))
    deadline = time.monotonic() + 5
    while fake.stream_outcomes != ["aborted"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.stream_outcomes == ["aborted"]


def test_script_targets_one_account(fake, base, token):
    fake.add_account("1//bob", email="bob@example.com")
    bob = refresh(base, "1//bob").json()["access_token"]
    fake.script(quota_exhausted(), account="bob@example.com")
    assert call(base, "generateContent", token, envelope("hi")).status_code == 200
    assert call(base, "generateContent", bob, envelope("hi")).status_code == 429
    assert call(base, "generateContent", bob, envelope("hi")).status_code == 200


def test_script_targets_one_model(fake, base, token):
    fake.script(unavailable(), model="claude-sonnet-4-6-thinking")
    assert call(base, "generateContent", token, envelope("hi")).status_code == 200
    claude = envelope("hi", model="claude-sonnet-4-6-thinking")
    assert call(base, "generateContent", token, claude).status_code == 503


def test_script_targets_other_methods_with_faults_only(fake, base, token):
    fake.script(forbidden(), method="fetchAvailableModels")
    assert call(base, "generateContent", token, envelope("hi")).status_code == 200
    assert call(base, "fetchAvailableModels", token, {}).status_code == 403
    with pytest.raises(ValueError, match="Fault"):
        fake.script(Reply([]), method="countTokens")


def test_fault_may_be_any_fixed_json(fake, base, token):
    fake.script(Fault(200, {"models": {}}), method="fetchAvailableModels")
    assert call(base, "fetchAvailableModels", token, {}).json() == {"models": {}}


def test_zero_fraction_model_is_quota_exhausted(fake, base):
    fake.add_account("1//z", email="z@example.com", models={"gemini-3-flash": 0.0})
    access = refresh(base, "1//z").json()["access_token"]
    resp = call(base, "generateContent", access, envelope("hi"))
    assert resp.status_code == 429
    assert resp.json()["error"]["details"][0]["reason"] == "QUOTA_EXHAUSTED"


def test_strict_models_rejects_unlisted_model():
    cloud = FakeCloudCode(strict_models=True)
    cloud.add_account(RT, email="alice@example.com", models={"gemini-3-flash": 1})
    with serve(cloud) as url:
        access = refresh(url, RT).json()["access_token"]
        unknown = envelope("hi", model="gemini-9")
        assert call(url, "generateContent", access, unknown).status_code == 404
        assert call(url, "generateContent", access, envelope("hi")).status_code == 200


def test_prefixes_support_base_url_fallback(fake, base, token):
    fake.add_prefix("/down/v1internal", unavailable())
    fake.add_prefix("/gone/v1internal", not_found())
    fake.add_prefix("/alt/v1internal")
    for prefix, status in [("/down/v1internal", 503), ("/gone/v1internal", 404)]:
        resp = call(base, "generateContent", token, envelope("hi"), prefix)
        assert resp.status_code == status
    assert call(base, "generateContent", token, envelope("hi"), "/alt/v1internal").ok
    assert (
        call(base, "generateContent", token, envelope("hi"), "/nope").status_code == 404
    )


def test_requests_are_recorded(fake, base, token):
    body = {"request": {"contents": []}}
    call(base, "countTokens", token, body)
    recorded = fake.calls(":countTokens")[0]
    assert (recorded.method, recorded.path, recorded.json) == (
        "POST",
        "/v1internal:countTokens",
        body,
    )
    assert recorded.headers["authorization"] == f"Bearer {token}"
    assert recorded.account_email == "alice@example.com"
    token_call = fake.calls("/token")[0]
    assert token_call.form["refresh_token"] == RT
    assert token_call.account_email == "alice@example.com"
    stream_events(base, token, envelope("hi"))
    assert fake.calls(":streamGenerateContent")[0].query == {"alt": "sse"}


def test_chunked_request_body_is_accepted(fake, base, token):
    payload = json.dumps(envelope("chunked")).encode()
    resp = requests.post(
        f"{base}{PREFIX}:generateContent",
        data=iter([payload]),
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert fake.calls(":generateContent")[0].headers["transfer-encoding"] == "chunked"
    assert parts_of(resp.json()["response"]) == [{"text": "echo: chunked"}]


def test_reset_clears_scripts_and_records(fake, base, token):
    stream_events(base, token, envelope("hi"))
    fake.script(unavailable())
    fake.reset()
    assert (fake.requests, fake.sent_times, fake.pending_scripts) == ([], [], 0)
    assert call(base, "generateContent", token, envelope("hi")).status_code == 200
