"""``/v1/messages/count_tokens`` and the Anthropic model list, through the WSGI app."""

from __future__ import annotations

import threading
import time

import pytest

from antigravity_proxy.handlers.anthropic_tokens import SingleFlight
from antigravity_proxy.protocols.anthropic.background import estimate_tokens
from tests.fakes.cloudcode import Fault, server_error, unavailable
from tests.integration.anthropic_support import COUNT, WEATHER_TOOL, body
from tests.upstream_env import seed_account


@pytest.fixture
def client(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    return gateway()


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


@pytest.mark.parametrize("fault", [server_error, unavailable])
def test_count_tokens_estimates_when_the_upstream_fails(client, fake_upstream, fault):
    fake_upstream.script(*[fault()] * 3, method="countTokens")
    request = body("the upstream is down today")
    response = client.post(COUNT, json=request)
    assert response.status_code == 200
    assert response.json == {"input_tokens": estimate_tokens(request)}
    assert len(fake_upstream.calls(":countTokens")) >= 1


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


@pytest.mark.parametrize("answer", [b"<html>busy</html>", b"[]", b'{"totalTokens": 4'])
def test_count_tokens_estimates_when_the_answer_is_garbage(
    client, fake_upstream, answer
):
    fake_upstream.script(Fault(200, answer), method="countTokens")
    request = body("a broken answer today")
    response = client.post(COUNT, json=request)
    assert response.status_code == 200
    assert response.json == {"input_tokens": estimate_tokens(request)}
