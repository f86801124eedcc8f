"""The Gemini slice through the WSGI app: translation, accounts, rotation, errors."""

from __future__ import annotations

import email.utils
import json
import sqlite3
import threading
import time

import pytest

from tests.fakes.cloudcode import (
    CutStream,
    Fault,
    Stream,
    bad_request,
    forbidden,
    google_error,
    quota_exhausted,
    server_error,
    unauthenticated,
    unavailable,
)
from tests.upstream_env import read_account, seed_account

GENERATE = "/v1beta/models/gemini-3-flash:generateContent"
STREAM = "/v1beta/models/gemini-3-flash:streamGenerateContent"
BODY = {"contents": [{"role": "user", "parts": [{"text": "hello there gateway"}]}]}


def sse_events(response) -> list[dict]:
    text = response.get_data(as_text=True)
    return [
        json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")
    ]


def test_generate_content_through_refreshed_account(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    client = gateway()
    response = client.post(GENERATE, json=BODY)
    assert response.status_code == 200, response.get_data(as_text=True)
    candidate = response.json["candidates"][0]
    assert candidate["content"]["parts"][0]["text"] == "echo: hello there gateway"
    assert candidate["finishReason"] == "STOP"
    assert response.json["usageMetadata"]["promptTokenCount"] == 3
    assert response.headers["X-Mapped-Model"] == "gemini-3-flash"
    assert fake_upstream.refresh_count("1//rt-a") == 1
    saved = read_account(home, "a")
    assert saved["token"]["access_token"] != "ya29.stale"
    assert saved["token"]["project_id"] == "proj-1"
    assert saved["unknown_field_kept"] == {"nested": [1, 2]}
    assert {m["name"] for m in saved["quota"]["models"]} >= {"gemini-3-flash"}


def test_generate_sends_envelope_and_headers(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    client = gateway({"proxy": {"api_key": "sk-gateway-secret", "auth_mode": "strict"}})
    response = client.post(
        GENERATE, json=BODY, headers={"x-goog-api-key": "sk-gateway-secret"}
    )
    assert response.status_code == 200
    call = fake_upstream.calls(":streamGenerateContent")[-1]
    assert call.query == {"alt": "sse"}
    envelope = call.json
    assert envelope["project"] == "proj-1"
    assert envelope["model"] == "gemini-3-flash"
    assert envelope["requestType"] == "agent"
    assert envelope["userAgent"] == "antigravity"
    assert envelope["request"]["contents"] == BODY["contents"]
    assert envelope["request"]["sessionId"].lstrip("-").isdigit()
    assert call.headers["authorization"].startswith("Bearer ")
    assert call.headers["user-agent"].startswith("Antigravity/")
    assert call.headers["x-client-name"] == "antigravity"
    every_request = json.dumps(
        [(r.headers, r.json, r.query) for r in fake_upstream.requests]
    )
    assert "sk-gateway-secret" not in every_request


def test_stream_generate_content_sse(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    response = gateway().post(STREAM + "?alt=sse", json=BODY)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = sse_events(response)
    assert len(events) >= 2
    assert "".join(
        p["text"] for e in events for p in e["candidates"][0]["content"]["parts"]
    ) == ("echo: hello there gateway")
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"
    assert all("response" not in e for e in events)


def test_stream_generate_content_json_array_without_alt(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    response = gateway().post(STREAM, json=BODY)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    chunks = json.loads(response.get_data(as_text=True))
    assert isinstance(chunks, list) and len(chunks) >= 2
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


@pytest.mark.parametrize(
    "path",
    [
        "/v1beta/models/gemini-3-flash:countTokens",
        "/v1beta/models/gemini-3-flash/countTokens",
        "/v1/models/gemini-3-flash:countTokens",
    ],
)
def test_count_tokens_calls_upstream(gateway, home, fake_upstream, path):
    seed_account(home, fake_upstream, "a")
    response = gateway().post(
        path, json={"contents": [{"parts": [{"text": "one two three four"}]}]}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["totalTokens"] == 4
    sent = fake_upstream.calls(":countTokens")[-1].json
    assert set(sent) == {"request"}


def test_quota_exhausted_rotates_and_cools_down(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a", tier="Google AI Ultra")
    seed_account(home, fake_upstream, "b", tier="Google AI Pro")
    fake_upstream.script(quota_exhausted("120s"), account="a@example.test")
    client = gateway()
    response = client.post(GENERATE, json=BODY)
    assert response.status_code == 200
    served = [c.account_email for c in fake_upstream.calls(":streamGenerateContent")]
    assert served == ["a@example.test", "b@example.test"]
    # The cooldown is shared state: the next request goes straight to b.
    assert client.post(GENERATE, json=BODY).status_code == 200
    served = [c.account_email for c in fake_upstream.calls(":streamGenerateContent")]
    assert served[-1] == "b@example.test"
    assert served.count("a@example.test") == 1


def test_all_accounts_cooling_down_is_429_with_retry_after(
    gateway, home, fake_upstream
):
    seed_account(home, fake_upstream, "a")
    fake_upstream.script(quota_exhausted("90s"))
    client = gateway()
    first = client.post(GENERATE, json=BODY)
    assert first.status_code == 429
    assert first.json["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert 85 <= int(first.headers["Retry-After"]) <= 90  # from the cooldown just set
    second = client.post(GENERATE, json=BODY)
    assert second.status_code == 429
    assert 1 <= int(second.headers["Retry-After"]) <= 90
    assert "a until" in second.json["error"]["message"]
    assert "@" not in second.json["error"]["message"]


def test_no_accounts_is_400_failed_precondition_with_instructions(gateway):
    response = gateway().post(GENERATE, json=BODY)
    assert response.status_code == 400
    assert response.headers["x-should-retry"] == "false"
    assert response.json["error"]["status"] == "FAILED_PRECONDITION"
    assert "antigravity-proxy accounts login" in response.json["error"]["message"]


def test_invalid_grant_disables_account_and_moves_on(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a", tier="Google AI Ultra")
    seed_account(home, fake_upstream, "b")
    fake_upstream.revoke("1//rt-a")
    response = gateway().post(GENERATE, json=BODY)
    assert response.status_code == 200
    saved = read_account(home, "a")
    assert saved["disabled"] is True
    assert saved["disabled_reason"].startswith("invalid_grant")
    assert saved["unknown_field_kept"] == {"nested": [1, 2]}


def test_forbidden_marks_account_on_disk(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a", tier="Google AI Ultra")
    seed_account(home, fake_upstream, "b")
    # Two: the first 403 is retried without x-goog-user-project, as the reference does.
    fake_upstream.script(forbidden(), forbidden(), account="a@example.test")
    assert gateway().post(GENERATE, json=BODY).status_code == 200
    retried = fake_upstream.calls(":streamGenerateContent")[1]
    assert "x-goog-user-project" not in retried.headers
    saved = read_account(home, "a")
    assert saved["quota"]["is_forbidden"] is True
    assert saved["proxy_disabled"] is True


def test_upstream_401_refreshes_once_and_retries_same_account(
    gateway, home, fake_upstream
):
    seed_account(home, fake_upstream, "a")
    fake_upstream.script(unauthenticated())
    response = gateway().post(GENERATE, json=BODY)
    assert response.status_code == 200
    assert fake_upstream.refresh_count("1//rt-a") == 2
    served = [c.account_email for c in fake_upstream.calls(":streamGenerateContent")]
    assert served == ["a@example.test", "a@example.test"]


def test_upstream_400_is_returned_without_rotation(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    seed_account(home, fake_upstream, "b")
    fake_upstream.script(
        bad_request('Invalid JSON payload received. Unknown name "foo"')
    )
    response = gateway().post(GENERATE, json=BODY)
    assert response.status_code == 400
    assert response.json["error"]["status"] == "INVALID_ARGUMENT"
    assert "Unknown name" in response.json["error"]["message"]
    assert len(fake_upstream.calls(":streamGenerateContent")) == 1


def test_server_errors_on_every_account_become_502(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    seed_account(home, fake_upstream, "b")
    fake_upstream.script(server_error(), server_error(), server_error())
    response = gateway().post(GENERATE, json=BODY)
    assert response.status_code == 502
    assert response.json["error"]["status"] == "INTERNAL"


def test_base_url_fallback_skips_unavailable_host(gateway, home, fake_upstream):
    fake_upstream.add_prefix("/down/v1internal", unavailable())
    seed_account(home, fake_upstream, "a")
    client = gateway(prefixes=("/down/v1internal", "/v1internal"))
    assert client.post(GENERATE, json=BODY).status_code == 200
    paths = [c.path for c in fake_upstream.requests if "Generate" in c.path]
    assert paths == [
        "/down/v1internal:streamGenerateContent",
        "/v1internal:streamGenerateContent",
    ]


def test_token_refreshed_once_under_concurrency(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a", refresh_delay=0.3)
    client = gateway()
    statuses: list[int] = []

    def call() -> None:
        statuses.append(client.post(GENERATE, json=BODY).status_code)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * 20
    assert fake_upstream.refresh_count("1//rt-a") == 1


def test_stream_cut_midway_ends_with_gemini_error(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    chunk = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "partial"}]}}]
    }
    fake_upstream.script(CutStream([chunk, chunk, chunk], after=2))
    response = gateway().post(STREAM + "?alt=sse", json=BODY)
    assert response.status_code == 200
    events = sse_events(response)
    assert [e["candidates"][0]["content"]["parts"][0]["text"] for e in events[:2]] == [
        "partial"
    ] * 2
    assert events[-1]["error"]["status"] in ("UNAVAILABLE", "INTERNAL")
    assert "chat.completion" not in response.get_data(as_text=True)


def test_non_stream_collects_exactly_what_was_streamed(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    chunks = [
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"text": "thinking", "thought": True}],
                    }
                }
            ]
        },
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}]},
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": "lo"}]},
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 3,
                "candidatesTokenCount": 2,
                "totalTokenCount": 5,
            },
        },
    ]
    fake_upstream.script(Stream(chunks))
    response = gateway().post(GENERATE, json=BODY)
    parts = response.json["candidates"][0]["content"]["parts"]
    assert parts == [{"text": "thinking", "thought": True}, {"text": "Hello"}]
    assert response.json["usageMetadata"]["totalTokenCount"] == 5


def test_function_call_signature_remembered_for_replay(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    call = {
        "functionCall": {"id": "call-1", "name": "read_file", "args": {"path": "x"}},
        "thoughtSignature": "sig-remembered-0123456789",
    }
    fake_upstream.script(
        Stream(
            [
                {
                    "candidates": [
                        {
                            "content": {"role": "model", "parts": [call]},
                            "finishReason": "STOP",
                        }
                    ]
                }
            ]
        )
    )
    client = gateway()
    first = client.post(STREAM + "?alt=sse", json=BODY)
    assert first.status_code == 200
    assert "sig-remembered" in first.get_data(as_text=True)
    replay = {
        "contents": [
            BODY["contents"][0],
            {
                "role": "model",
                "parts": [
                    {
                        "functionCall": {
                            "id": "call-1",
                            "name": "read_file",
                            "args": {"path": "x"},
                        }
                    }
                ],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "id": "call-1",
                            "name": "read_file",
                            "response": {"output": "ok"},
                        }
                    }
                ],
            },
        ]
    }
    assert client.post(GENERATE, json=replay).status_code == 200
    sent = fake_upstream.calls(":streamGenerateContent")[-1].json["request"][
        "contents"
    ][1]["parts"][0]
    assert sent["thoughtSignature"] == "sig-remembered-0123456789"


def test_models_list_gemini_and_openai_shapes(gateway, home, fake_upstream):
    seed_account(
        home, fake_upstream, "a", models={"gemini-3-flash": 0.5, "gemini-9-secret": 1.0}
    )
    client = gateway()
    client.post(GENERATE, json=BODY)  # first use fetches quota
    gemini = client.get("/v1beta/models?pageSize=1000").json
    names = [m["name"] for m in gemini["models"]]
    assert "models/gemini-3-flash" in names and "models/gemini-9-secret" in names
    v1_gemini = client.get(
        "/v1/models?pageSize=1000", headers={"x-goog-api-key": "k"}
    ).json
    assert "models" in v1_gemini
    openai = client.get("/v1/models").json
    assert openai["object"] == "list"
    assert {
        "id": "gemini-3-flash",
        "object": "model",
        "created": 1706745600,
        "owned_by": "google",
    } in openai["data"]


def test_models_pagination(gateway):
    client = gateway()
    first = client.get("/v1beta/models?pageSize=2").json
    assert len(first["models"]) == 2
    second = client.get(
        f"/v1beta/models?pageSize=2&pageToken={first['nextPageToken']}"
    ).json
    assert second["models"][0]["name"] != first["models"][0]["name"]
    assert client.get("/v1beta/models?pageSize=x").status_code == 400


@pytest.mark.parametrize(
    ("path", "headers", "check"),
    [
        (
            "/v1beta/models/gemini-3-flash",
            {},
            lambda b: b["name"] == "models/gemini-3-flash",
        ),
        (
            "/v1/models/gemini-3-flash",
            {"x-goog-api-client": "genai"},
            lambda b: "supportedGenerationMethods" in b,
        ),
        ("/v1/models/gemini-3-flash", {}, lambda b: b["object"] == "model"),
    ],
)
def test_get_model(gateway, path, headers, check):
    response = gateway().get(path, headers=headers)
    assert response.status_code == 200
    assert check(response.json)


def test_get_unknown_model_is_404_in_each_shape(gateway):
    client = gateway()
    gemini = client.get("/v1beta/models/nope-1")
    assert gemini.status_code == 404 and gemini.json["error"]["status"] == "NOT_FOUND"
    openai = client.get("/v1/models/nope-1")
    assert (
        openai.status_code == 404 and openai.json["error"]["code"] == "model_not_found"
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (GENERATE, {"contents": []}),
        (GENERATE, {"contents": "hi"}),
        (GENERATE, [1, 2]),
        ("/v1beta/models/gemini-3-flash:fly", BODY),
    ],
)
def test_bad_requests_are_400_invalid_argument(
    gateway, home, fake_upstream, path, body
):
    seed_account(home, fake_upstream, "a")
    response = gateway().post(path, json=body)
    assert response.status_code == 400
    assert response.json["error"]["status"] == "INVALID_ARGUMENT"
    assert fake_upstream.calls(":streamGenerateContent") == []


def test_unknown_invented_model_maps_instead_of_404(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    response = gateway().post(
        "/v1beta/models/gemini-3.8-flash:generateContent", json=BODY
    )
    assert response.status_code == 200
    assert response.headers["X-Mapped-Model"] == "gemini-3-flash"


def test_busy_state_database_never_fails_a_request(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    client = gateway()
    assert client.post(GENERATE, json=BODY).status_code == 200
    holder = sqlite3.connect(home / "state.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # a stuck writer in another process
    try:
        started = time.monotonic()
        fresh = {"contents": [{"role": "user", "parts": [{"text": "a new session"}]}]}
        response = client.post(GENERATE, json=fresh)  # binds a sticky session
        assert response.status_code == 200, response.get_data(as_text=True)
        stream = client.post(STREAM + "?alt=sse", json=BODY)
        assert stream.status_code == 200
        assert sse_events(stream)[-1]["candidates"][0]["finishReason"] == "STOP"
        assert time.monotonic() - started < 20
    finally:
        holder.close()


def test_corrupt_state_database_is_replaced_at_start(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    home.mkdir(parents=True, exist_ok=True)
    (home / "state.db").write_bytes(b"\x00garbage, not SQLite" * 200)
    response = gateway().post(GENERATE, json=BODY)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert any(p.name.startswith("state.db.corrupt-") for p in home.iterdir())


def test_retry_after_http_date_sets_the_cooldown(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    until = email.utils.formatdate(time.time() + 120, usegmt=True)
    body = google_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted.")
    fake_upstream.script(Fault(429, body, {"Retry-After": until}))
    response = gateway({"accounts": {"max_cooldown_seconds": 600}}).post(
        GENERATE, json=BODY
    )
    assert response.status_code == 429
    assert 110 <= int(response.headers["Retry-After"]) <= 121


@pytest.mark.parametrize("body", [b"<html>busy</html>", b'{"totalTokens": 4'])
def test_count_tokens_with_a_broken_upstream_answer_is_502(
    gateway, home, fake_upstream, body
):
    seed_account(home, fake_upstream, "a")
    fake_upstream.script(Fault(200, body), method="countTokens")
    response = gateway().post(
        "/v1beta/models/gemini-3-flash:countTokens",
        json={"contents": [{"parts": [{"text": "one two"}]}]},
    )
    assert response.status_code == 502, response.get_data(as_text=True)
    assert response.json["error"]["status"] == "INTERNAL"


def test_upstream_401_twice_on_one_account_rotates_after_one_refresh(
    gateway, home, fake_upstream
):
    seed_account(home, fake_upstream, "a", tier="Google AI Ultra")
    seed_account(home, fake_upstream, "b", tier="Google AI Pro")
    fake_upstream.script(unauthenticated(), unauthenticated(), account="a@example.test")
    response = gateway().post(GENERATE, json=BODY)
    assert response.status_code == 200
    served = [c.account_email for c in fake_upstream.calls(":streamGenerateContent")]
    assert served == ["a@example.test", "a@example.test", "b@example.test"]
    assert fake_upstream.refresh_count("1//rt-a") == 2  # expired at start + once


def test_upstream_401_retry_stays_on_the_refreshed_account(
    gateway, home, fake_upstream
):
    for name in ("a", "b", "c", "d"):
        seed_account(home, fake_upstream, name)
    client = gateway()
    for round_ in range(12):
        fake_upstream.reset()
        fake_upstream.script(unauthenticated())
        body = {"contents": [{"parts": [{"text": f"r{round_}"}]}]}  # no session
        assert client.post(GENERATE, json=body).status_code == 200
        first, second = (
            c.account_email for c in fake_upstream.calls(":streamGenerateContent")
        )
        assert first == second
