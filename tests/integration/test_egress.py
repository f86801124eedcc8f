"""Per-account egress: every call for account A leaves through A's proxy, B's go direct.

The fake upstream records each request's client port; the fake proxies record the
ports they used towards it. A request whose port is one of the proxy's came through
the proxy, so the test needs no cooperation from the code under test.
"""

from __future__ import annotations

import json
import logging
import os

import pytest

from antigravity_proxy.accounts.oauth import OAuthClient
from antigravity_proxy.accounts.onboarding import Onboarding
from antigravity_proxy.services import Services
from tests.fakes import egress
from tests.upstream_env import read_account, seed_account

GENERATE = "/v1beta/models/gemini-3-flash:generateContent"
STREAM = "/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse"
BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
# The gateway streams from the upstream even for a non-streaming client call.
EVERY_KIND = {
    "/token",
    ":loadCodeAssist",
    ":fetchAvailableModels",
    ":streamGenerateContent",
}
SECRET = "s3cret-pass"

# (proxy kind, URL scheme, credentials)
PROXIES = {
    "http": ("http", "http", None),
    "http-auth": ("http", "http", ("alice-proxy", SECRET)),
    "socks5": ("socks5", "socks5", None),
    "socks5h-auth": ("socks5", "socks5h", ("alice-proxy", SECRET)),
}


def set_fields(home, name, **fields):
    """Edit an account file as the gateway does: a new file renamed over it."""
    path = home / "accounts" / f"{name}.json"
    raw = json.loads(path.read_text())
    raw.update(fields)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(raw))
    os.replace(tmp, path)


def kind_of(path: str) -> str:
    return path if path in ("/token", "/userinfo") else ":" + path.rpartition(":")[2]


def through(fake, proxy, email):
    """Kinds of the calls for ``email``: (via the proxy, direct)."""
    ports = proxy.local_ports
    mine = [r for r in fake.requests if r.account_email == email]
    via = {kind_of(r.path) for r in mine if r.peer_port in ports}
    direct = {kind_of(r.path) for r in mine if r.peer_port not in ports}
    return via, direct


def serve_twice(client, fake):
    for path in (GENERATE, STREAM):
        response = client.post(path, json=BODY)
        assert response.status_code == 200, response.get_data(as_text=True)
        response.close()


@pytest.mark.parametrize("which", list(PROXIES))
def test_account_calls_go_through_its_proxy_and_others_go_direct(
    which, gateway, home, fake_upstream
):
    kind, scheme, auth = PROXIES[which]
    seed_account(home, fake_upstream, "a")
    seed_account(home, fake_upstream, "b")
    with egress.running(kind, auth=auth, scheme=scheme) as proxy:
        set_fields(home, "a", proxy_url=proxy.url)
        client = gateway()
        set_fields(home, "b", proxy_disabled=True)
        serve_twice(client, fake_upstream)  # only a can serve
        set_fields(home, "b", proxy_disabled=False)
        set_fields(home, "a", proxy_disabled=True)
        serve_twice(client, fake_upstream)  # only b can serve
    assert through(fake_upstream, proxy, "a@example.test") == (EVERY_KIND, set())
    assert through(fake_upstream, proxy, "b@example.test") == (set(), EVERY_KIND)
    assert proxy.refused == []
    assert {p.user for p in proxy.passages} == {auth[0] if auth else None}
    assert read_account(home, "a")["proxy_url"] == proxy.url  # kept on rewrites


def test_http_proxy_refuses_without_credentials_and_nothing_leaks(
    gateway, home, fake_upstream, caplog
):
    """A proxy that says 407: the account fails, b serves, a never goes direct."""
    seed_account(home, fake_upstream, "a")
    seed_account(home, fake_upstream, "b")
    caplog.set_level(logging.DEBUG)
    with egress.running("http", auth=("alice-proxy", SECRET)) as proxy:
        wrong = proxy.url.replace(SECRET, "wrong-pass")
        set_fields(home, "a", proxy_url=wrong)
        client = gateway()
        for _ in range(4):
            response = client.post(GENERATE, json=BODY)
            assert response.status_code == 200
    assert proxy.refused  # a's refresh was tried through its proxy, and refused
    a_calls = [r for r in fake_upstream.requests if r.account_email == "a@example.test"]
    assert a_calls == []
    assert "wrong-pass" not in caplog.text and SECRET not in caplog.text


def test_unreachable_proxy_never_falls_back_to_direct(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    with egress.running("socks5") as proxy:
        dead = proxy.url
    set_fields(home, "a", proxy_url=dead)
    response = gateway().post(GENERATE, json=BODY)
    assert response.status_code == 503
    assert [r for r in fake_upstream.requests if r.account_email] == []


def test_onboarding_goes_through_the_given_proxy_and_saves_it(
    make_config, home, fake_upstream
):
    fake_upstream.add_account("1//rt-new", email="new@example.test")
    with egress.running("http") as proxy:
        config = make_config(
            {
                "home": str(home),
                "upstream": {
                    "base_urls": [fake_upstream.base_url + "/v1internal"],
                    "oauth_token_url": fake_upstream.base_url + "/token",
                    "userinfo_url": fake_upstream.base_url + "/userinfo",
                },
            }
        )
        services = Services.build(config)
        onboarding = Onboarding(
            services.store,
            OAuthClient.from_config(config),
            services.upstream,
            proxy_url=proxy.url,
        )
        account = onboarding.add_refresh_token("1//rt-new")
    assert account.proxy_url == proxy.url
    via, direct = through(fake_upstream, proxy, "new@example.test")
    assert via == {"/token", "/userinfo", ":loadCodeAssist", ":fetchAvailableModels"}
    assert direct == set()


def test_a_proxy_that_dies_moves_the_request_to_another_account(
    gateway, home, fake_upstream, caplog
):
    """a's token is fresh, so only its Cloud Code call meets the dead proxy."""
    seed_account(home, fake_upstream, "a", tier="Google AI Ultra")
    seed_account(home, fake_upstream, "b", tier="Google AI Pro")
    with egress.running("http") as proxy:
        set_fields(home, "a", proxy_url=proxy.url)
        set_fields(home, "b", proxy_disabled=True)
        client = gateway()
        assert client.post(GENERATE, json=BODY).status_code == 200
    set_fields(home, "b", proxy_disabled=False)
    before = len(fake_upstream.requests)
    # The pool prefers a (higher tier) in 3 of 4 picks: 8 requests try it.
    statuses = [client.post(GENERATE, json=BODY).status_code for _ in range(8)]
    assert statuses == [200] * 8
    assert "a: no answer through its proxy" in caplog.text
    later = fake_upstream.requests[before:]
    assert {r.account_email for r in later if r.account_email} == {"b@example.test"}


def test_a_dead_proxy_on_the_only_account_is_a_502_not_a_direct_call(
    gateway, home, fake_upstream
):
    seed_account(home, fake_upstream, "a")
    with egress.running("http") as proxy:
        set_fields(home, "a", proxy_url=proxy.url)
        client = gateway()
        assert client.post(GENERATE, json=BODY).status_code == 200
    before = len(fake_upstream.requests)
    response = client.post(GENERATE, json=BODY)
    assert response.status_code == 502  # the upstream could not be reached
    assert "unreachable" in response.json["error"]["message"]
    assert fake_upstream.requests[before:] == []


@pytest.mark.parametrize(
    ("no_proxy", "via_environment"),
    [("", True), ("localhost,10.0.0.0/8", True), ("example.test, 127.0.0.0/8", False)],
)
def test_accounts_without_a_proxy_follow_the_environment_and_its_no_proxy(
    monkeypatch, gateway, home, fake_upstream, no_proxy, via_environment
):
    """The environment's proxy serves accounts without their own, unless NO_PROXY
    names the upstream's host (``127.0.0.1``, matched here by a CIDR range)."""
    seed_account(home, fake_upstream, "b")
    with egress.running("http") as proxy:
        for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.setenv("NO_PROXY", no_proxy)
        monkeypatch.setenv("no_proxy", no_proxy)
        serve_twice(gateway(), fake_upstream)
    via, direct = through(fake_upstream, proxy, "b@example.test")
    expected = (EVERY_KIND, set()) if via_environment else (set(), EVERY_KIND)
    assert (via, direct) == expected
