"""Every Anthropic error status and type, through the WSGI app and the fake."""

from __future__ import annotations

import pytest

from tests.fakes.cloudcode import (
    bad_request,
    not_found,
    quota_exhausted,
    server_error,
)
from tests.integration.anthropic_support import MESSAGES, body
from tests.upstream_env import seed_account


@pytest.fixture
def client(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    return gateway()


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


def test_no_account_is_a_400_not_retried_even_when_streaming(gateway):
    response = gateway().post(MESSAGES, json=body(stream=True))
    assert response.status_code == 400
    assert response.headers["x-should-retry"] == "false"
    assert response.mimetype == "application/json"
    assert response.json["error"]["type"] == "invalid_request_error"


def test_upstream_failures_are_api_error(client, fake_upstream):
    fake_upstream.script(server_error(), server_error(), server_error())
    response = client.post(MESSAGES, json=body())
    assert response.status_code == 502  # as in every protocol; 500 is our own bug
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
        "request_id": response.headers["X-Request-Id"],
    }


@pytest.mark.parametrize(
    ("upstream", "message"),
    [
        (
            "The input token count (1200000) exceeds the maximum number of tokens "
            "allowed (1048576).",
            "prompt is too long: 1200000 tokens > 1048576 maximum",
        ),
        (
            "prompt is too long: 208310 tokens > 200000 maximum",
            "prompt is too long: 208310 tokens > 200000 maximum",
        ),
        ("Request has too many tokens", "prompt is too long: Request has too many"),
    ],
)
def test_prompt_too_long(client, fake_upstream, upstream, message):
    fake_upstream.script(bad_request(upstream))
    response = client.post(MESSAGES, json=body(stream=True))
    assert response.status_code == 400
    error = response.json["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith(message)


def test_other_upstream_400_keeps_its_message(client, fake_upstream):
    fake_upstream.script(bad_request("Invalid value at 'contents[0]'"))
    response = client.post(MESSAGES, json=body())
    assert response.status_code == 400
    assert response.json["error"]["message"] == "Invalid value at 'contents[0]'"
