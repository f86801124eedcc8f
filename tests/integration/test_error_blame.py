"""Every upstream error status, through the WSGI app, in all three protocols.

For each status of ``accounts/blame.STATUS_RULES`` (and a few unlisted ones) a pool
of three accounts all answering it: how many upstream calls the request costs
(the verdict), what rests afterwards (never a whole account), and what each
protocol's client sees. Then the class of issue 10 item 1: a request the upstream
cannot serve, repeated between healthy requests, must not fail one healthy one.
"""

from __future__ import annotations

import time

import pytest
from werkzeug.test import Client

from antigravity_proxy import dispatch
from antigravity_proxy.config import load_config
from antigravity_proxy.state import SQLiteState
from antigravity_proxy.wsgi import create_app
from tests.conftest import write_config
from tests.fakes.cloudcode import (
    FakeCloudCode,
    Fault,
    bad_request,
    forbidden,
    google_error,
    not_found,
    rate_limited,
    serve,
    server_error,
    unauthenticated,
    unavailable,
)
from tests.upstream_env import read_account, seed_account, upstream_section

GOOD = "gemini-3-flash"
BAD = "no-such-model-xyz"
ACCOUNTS = ("a", "b", "c")


def request_for(protocol: str, model: str) -> tuple[str, dict]:
    text = [{"role": "user", "content": "hello there"}]
    if protocol == "openai":
        return "/v1/chat/completions", {"model": model, "messages": text}
    if protocol == "anthropic":
        return "/v1/messages", {"model": model, "max_tokens": 64, "messages": text}
    body = {"contents": [{"role": "user", "parts": [{"text": "hello there"}]}]}
    return f"/v1beta/models/{model}:generateContent", body


def error_status_text(protocol: str, body: dict) -> str:
    """The protocol's own error type, which also proves the body's shape."""
    if protocol == "anthropic":
        assert body["type"] == "error"
        return body["error"]["type"]
    if protocol == "openai":
        assert set(body["error"]) == {"message", "type", "param", "code"}
        return body["error"]["type"]
    assert isinstance(body["error"]["code"], int)
    return body["error"]["status"]


def cooldown_keys(home) -> set[str]:
    return set(SQLiteState(home / "state.db", clock=time.time).active_cooldowns())


def generation_calls(fake: FakeCloudCode) -> list[str]:
    return [c.account_email.split("@")[0] for c in fake.calls("enerateContent")]


@pytest.fixture(autouse=True)
def no_backoff_sleep(monkeypatch):
    monkeypatch.setattr(dispatch, "BACKOFF_BASE", 0.0)


@pytest.fixture
def pool3(gateway, home, fake_upstream):
    for name in ACCOUNTS:
        seed_account(home, fake_upstream, name)
    return gateway()


# status → (fault, upstream calls for one request when every account answers it,
#           what rests afterwards, client status and error type per protocol)
ERROR_TYPES = {
    400: ("invalid_request_error", "invalid_request_error", "INVALID_ARGUMENT"),
    404: ("invalid_request_error", "not_found_error", "NOT_FOUND"),
    413: ("invalid_request_error", "request_too_large", "INVALID_ARGUMENT"),
    429: ("rate_limit_error", "rate_limit_error", "RESOURCE_EXHAUSTED"),
    502: ("api_error", "api_error", "INTERNAL"),
    503: ("api_error", "overloaded_error", "UNAVAILABLE"),
    504: ("api_error", "api_error", "DEADLINE_EXCEEDED"),
}
PROTOCOLS = ("openai", "anthropic", "gemini")
# Anthropic documents 529 for overloaded.
ANTHROPIC_STATUS = {503: 529}


def fault(code: int, status: str, message: str) -> Fault:
    return Fault(code, google_error(code, status, message))


CASES = [
    # upstream status, fault, calls, pairs rest, client status
    (400, bad_request("Unknown name"), 1, False, 400),
    (401, unauthenticated(), 3, False, 503),
    (403, forbidden(), 3, False, 503),
    (404, not_found(), 2, False, 404),
    (413, fault(413, "INVALID_ARGUMENT", "too large"), 1, False, 413),
    (429, rate_limited(), 3, True, 429),
    (500, server_error(), 3, False, 502),
    (503, unavailable(), 3, True, 503),
    (529, fault(529, "UNAVAILABLE", "overloaded"), 3, True, 503),
    (409, fault(409, "ABORTED", "conflict"), 1, False, 502),
    (502, fault(502, "UNAVAILABLE", "bad gateway"), 1, False, 502),
    (504, fault(504, "DEADLINE_EXCEEDED", "slow"), 1, False, 504),
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("status", "fault", "calls", "rests", "client_status"),
    CASES,
    ids=[str(case[0]) for case in CASES],
)
def test_every_status_verdict_rest_and_client_error(
    pool3, home, fake_upstream, protocol, status, fault, calls, rests, client_status
):
    # 403 is asked twice per account: once more without x-goog-user-project.
    fake_upstream.script(*[fault] * 12)
    path, body = request_for(protocol, GOOD)
    response = pool3.post(path, json=body)
    expected = client_status
    if protocol == "anthropic":
        expected = ANTHROPIC_STATUS.get(client_status, client_status)
    assert response.status_code == expected, response.get_data(as_text=True)
    kinds = ERROR_TYPES[client_status]
    assert (
        error_status_text(protocol, response.json) == kinds[PROTOCOLS.index(protocol)]
    )
    tried = generation_calls(fake_upstream)
    if status == 403:
        tried = tried[::2]
    assert len(tried) == calls, tried
    if status == 401:
        assert tried[0] == tried[1] != tried[2]  # refreshed and retried once
    keys = cooldown_keys(home)
    assert all(":" in key for key in keys), f"an account-wide rest: {keys}"
    if rests:
        assert keys == {f"{name}:{GOOD}" for name in set(tried)}
    else:
        assert keys == set()
    if status == 429:
        assert int(response.headers["Retry-After"]) >= 1


def test_forbidden_marks_only_the_account_that_answered_it(pool3, home, fake_upstream):
    # Whichever account is asked first answers 403 (twice: once more without
    # x-goog-user-project); the next one serves.
    fake_upstream.script(forbidden(), forbidden())
    path, body = request_for("gemini", GOOD)
    assert pool3.post(path, json=body).status_code == 200
    first, *_, served = generation_calls(fake_upstream)
    assert first != served
    for name in ACCOUNTS:
        assert read_account(home, name)["proxy_disabled"] is (name == first)
    assert cooldown_keys(home) == set()


@pytest.mark.parametrize(
    ("fault", "reason"),
    [(not_found(), "SERVER_ERROR"), (server_error(), "SERVER_ERROR")],
)
def test_a_suspect_account_rests_for_that_model_only_once_another_serves(
    pool3, home, fake_upstream, fault, reason
):
    fake_upstream.script(fault)  # the first account asked; the next one serves
    path, body = request_for("openai", GOOD)
    first = generation_calls(fake_upstream)
    response = pool3.post(path, json=body)
    assert response.status_code == 200
    tried = generation_calls(fake_upstream)[len(first) :]
    assert len(tried) == 2 and tried[0] != tried[1]
    records = SQLiteState(home / "state.db", clock=time.time).active_cooldowns()
    assert set(records) == {f"{tried[0]}:{GOOD}"}
    assert records[f"{tried[0]}:{GOOD}"][1] == reason


@pytest.fixture
def strict_upstream():
    """An upstream that answers 404 for a model the account does not list."""
    fake = FakeCloudCode(strict_models=True)
    with serve(fake) as base:
        fake.base_url = base
        yield fake


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unknown_model_never_locks_out_healthy_requests(
    home, strict_upstream, protocol
):
    for name in ACCOUNTS:
        seed_account(home, strict_upstream, name)
    data = {
        "proxy": {"api_key": "sk-test", "auth_mode": "off"},
        "upstream": upstream_section(strict_upstream.base_url),
    }
    config = load_config(write_config(home, data), env={})
    client = Client(create_app(config, background=False))
    good_failures = []
    for round_ in range(12):
        before = len(generation_calls(strict_upstream))
        path, body = request_for(protocol, BAD)
        bad = client.post(path, json=body)
        assert bad.status_code == 404, bad.get_data(as_text=True)
        error_status_text(protocol, bad.json)
        assert len(generation_calls(strict_upstream)) - before == 2
        path, body = request_for(protocol, GOOD)
        good = client.post(path, json=body)
        if good.status_code != 200:
            good_failures.append(
                (round_, good.status_code, good.get_data(as_text=True))
            )
    assert good_failures == []
    assert cooldown_keys(home) == set()
