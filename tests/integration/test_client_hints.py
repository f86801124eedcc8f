"""Errors that tell the client what to do, in each protocol (issue 14 item 4).

"No account" of any kind needs the operator, so it is a 400 the SDKs do not retry
(they retry 408, 409, 429 and 5xx) with ``x-should-retry: false``; every account
cooling down stays 429 with ``Retry-After``. Other dead ends name the cause of
the last failed attempt (token refresh, upstream unreachable, forbidden), never a
secret.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import free_port
from tests.fakes.cloudcode import forbidden, quota_exhausted
from tests.upstream_env import seed_account, upstream_section

HI = [{"role": "user", "content": "hi"}]
REQUESTS = {
    "openai": ("/v1/chat/completions", {"model": "gemini-3-flash", "messages": HI}),
    "anthropic": (
        "/v1/messages",
        {"model": "gemini-3-flash", "max_tokens": 32, "messages": HI, "stream": True},
    ),
    "gemini": (
        "/v1beta/models/gemini-3-flash:generateContent",
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    ),
}
SECRETS = ("1//rt-", "ya29.", "example.test", "sk-test")


def error_of(protocol: str, response) -> tuple[str, str]:
    """(the protocol's error type or status word, the message)."""
    error = response.json["error"]
    if protocol == "gemini":
        return error["status"], error["message"]
    # OpenAI's message ends with the request id (it has no field for it).
    suffix = f" (request id: {response.headers['X-Request-Id']})"
    return error["type"], error["message"].removesuffix(suffix)


def ask(client, protocol: str):
    path, body = REQUESTS[protocol]
    response = client.post(path, json=body)
    text = response.get_data(as_text=True)
    for secret in SECRETS:
        assert secret not in text, text
    return response


NOT_RETRIED = {
    "openai": "invalid_request_error",
    "anthropic": "invalid_request_error",
    "gemini": "FAILED_PRECONDITION",
}
OVERLOADED = {
    "openai": "api_error",
    "anthropic": "overloaded_error",
    "gemini": "UNAVAILABLE",
}
OVERLOADED_STATUS = {"openai": 503, "anthropic": 529, "gemini": 503}


@pytest.mark.parametrize("protocol", REQUESTS)
def test_no_account_configured_is_not_retried(gateway, protocol):
    response = ask(gateway(), protocol)
    assert response.status_code == 400
    assert response.headers["x-should-retry"] == "false"
    kind, message = error_of(protocol, response)
    assert kind == NOT_RETRIED[protocol]
    assert 'run "antigravity-proxy accounts login"' in message


@pytest.mark.parametrize("protocol", REQUESTS)
def test_every_account_disabled_is_not_retried_and_says_why(
    gateway, home, fake_upstream, protocol
):
    seed_account(home, fake_upstream, "a")
    fake_upstream.revoke("1//rt-a")
    response = ask(gateway(), protocol)
    assert response.status_code == 400
    assert response.headers["x-should-retry"] == "false"
    kind, message = error_of(protocol, response)
    assert kind == NOT_RETRIED[protocol]
    assert "accounts enable" in message
    assert "last failure: account a: refresh token rejected (invalid_grant" in message


@pytest.mark.parametrize("protocol", REQUESTS)
def test_token_refresh_failure_is_named(gateway, home, fake_upstream, protocol):
    seed_account(home, fake_upstream, "a")
    upstream = upstream_section(fake_upstream.base_url)
    upstream["oauth_token_url"] = f"http://127.0.0.1:{free_port()}/token"
    response = ask(gateway({"upstream": upstream}), protocol)
    assert response.status_code == OVERLOADED_STATUS[protocol]
    assert "x-should-retry" not in response.headers
    kind, message = error_of(protocol, response)
    assert kind == OVERLOADED[protocol]
    assert message.endswith(
        "last failure: account a: token refresh failed "
        "(token endpoint unreachable: ConnectionError)"
    )


@pytest.mark.parametrize("protocol", REQUESTS)
def test_upstream_unreachable_is_named(gateway, home, fake_upstream, protocol):
    seed_account(home, fake_upstream, "a", project="proj-a")
    upstream = upstream_section(fake_upstream.base_url)
    upstream["base_urls"] = [f"http://127.0.0.1:{free_port()}/v1internal"]
    response = ask(gateway({"upstream": upstream}), protocol)
    assert response.status_code == 502
    _, message = error_of(protocol, response)
    assert "is unreachable (ConnectionError)" in message


@pytest.mark.parametrize("protocol", REQUESTS)
def test_forbidden_is_named_with_what_to_do(gateway, home, fake_upstream, protocol):
    seed_account(home, fake_upstream, "a")
    fake_upstream.script(forbidden(), forbidden())
    response = ask(gateway(), protocol)
    assert response.status_code == OVERLOADED_STATUS[protocol]
    kind, message = error_of(protocol, response)
    assert kind == OVERLOADED[protocol]
    assert "403 forbidden" in message
    assert "antigravity-proxy accounts list" in message
    assert "The caller does not have permission" in message
    # The account is now out of the pool: the next request needs the operator.
    again = ask(gateway(), protocol)
    assert again.status_code == 400
    assert again.headers["x-should-retry"] == "false"


@pytest.mark.parametrize("protocol", REQUESTS)
def test_every_account_cooling_stays_429_with_retry_after(
    gateway, home, fake_upstream, protocol
):
    seed_account(home, fake_upstream, "a")
    fake_upstream.script(quota_exhausted("90s"))
    client = gateway()
    for _ in range(2):  # the quota answer, then the cooling pool
        response = ask(client, protocol)
        assert response.status_code == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 90
        assert "x-should-retry" not in response.headers
