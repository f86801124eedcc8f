"""Proxy URLs of accounts: normalised, checked, redacted; sessions that never bypass them."""

from __future__ import annotations

import json
import socket

import pytest
import requests
from requests.utils import select_proxy

from antigravity_proxy.accounts.edits import set_proxy_url
from antigravity_proxy.accounts.files import AccountFiles
from antigravity_proxy.accounts.store import AccountLoadError
from antigravity_proxy.upstream.egress import (
    EnvironmentRoutes,
    ProxyUrlError,
    egress_session,
    normalize_proxy_url,
    prepared,
    proxies_for,
    redact,
    route,
)
from tests.fakes import egress

VALID = [
    ("http://127.0.0.1:3128", "http://127.0.0.1:3128"),
    ("127.0.0.1:7890", "http://127.0.0.1:7890"),
    ("  HTTPS://proxy.example:443/ ", "https://proxy.example:443"),
    ("socks5://u:p@10.0.0.1:1080", "socks5://u:p@10.0.0.1:1080"),
    ("socks5h://[::1]:1080", "socks5h://[::1]:1080"),
    ("http://proxy.example", "http://proxy.example"),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_normalize_proxy_url_accepts(text, expected):
    assert normalize_proxy_url(text) == expected


INVALID = [
    ("", "empty"),
    ("ftp://u:secret@host:21", "scheme must be one of http, https, socks5, socks5h"),
    ("socks4://u:secret@host:1080", "scheme must be one of"),
    ("http://u:secret@host:99999", "invalid port"),
    ("http://u:secret@host:0", "invalid port"),
    ("http://u:secret@host:port", "invalid port"),
    ("http://u:secret@:8080", "no host"),
    ("http://u:secret@host:8080/path", "no path, query or fragment"),
    ("http://u:secret@host:8080?x=1", "no path, query or fragment"),
]


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_normalize_proxy_url_refuses_without_echoing_credentials(text, message):
    with pytest.raises(ProxyUrlError, match=message) as info:
        normalize_proxy_url(text)
    assert "secret" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("", ""),
        ("http://127.0.0.1:3128", "http://127.0.0.1:3128"),
        ("socks5h://user:secret@host:1080", "socks5h://***@host:1080"),
        ("http://token@host:3128", "http://***@host:3128"),
        ("http://u:p@ss@host:3128", "http://***@host:3128"),
    ],
)
def test_redact_hides_credentials(url, shown):
    assert redact(url) == shown


def test_proxies_for_both_schemes_or_none():
    assert proxies_for("") is None
    assert proxies_for("socks5://h:1") == {
        "http": "socks5://h:1",
        "https": "socks5://h:1",
    }


def test_egress_session_ignores_environment_when_proxied(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    with egress.running("http") as proxy, socket.socket() as idle:
        idle.bind(("127.0.0.1", 0))
        idle.listen()
        target = f"http://127.0.0.1:{idle.getsockname()[1]}/x"
        with egress_session(proxy.url) as session:
            with pytest.raises(requests.RequestException):
                session.get(target, timeout=0.5)
        # NO_PROXY names the target, yet the call went to the account's proxy.
        assert [p.request_line for p in proxy.passages] == [f"GET {target} HTTP/1.1"]
    plain = egress_session("")
    assert plain.trust_env and not plain.proxies


def test_fake_http_proxy_tunnels_connect(tmp_path):
    """The fake's CONNECT path (https targets use it; the loopback upstream is http)."""
    with socket.socket() as target:
        target.bind(("127.0.0.1", 0))
        target.listen()
        port = target.getsockname()[1]
        with egress.running("http") as proxy:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
                s.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode())
                assert s.recv(100).startswith(b"HTTP/1.1 200")
                accepted, _ = target.accept()
                with accepted:
                    s.sendall(b"ping")
                    assert accepted.recv(4) == b"ping"
            assert [(p.kind, p.target) for p in proxy.passages] == [
                ("connect", f"127.0.0.1:{port}")
            ]


def write_account(folder, **fields):
    folder.mkdir(parents=True, exist_ok=True)
    raw = {
        "id": "a",
        "email": "a@example.test",
        "token": {
            "access_token": "ya29.x",
            "refresh_token": "1//r",
            "expires_in": 3599,
            "expiry_timestamp": 0,
        },
        **fields,
    }
    (folder / "a.json").write_text(json.dumps(raw))


def test_account_reads_proxy_url_and_hides_it_from_repr(tmp_path):
    write_account(tmp_path, proxy_url="127.0.0.1:7890")
    account = AccountFiles(tmp_path).get("a")
    assert account.proxy_url == "http://127.0.0.1:7890"
    assert "7890" not in repr(account)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (3128, "expected a string"),
        ("ftp://u:secret@h:1", "proxy URL scheme must be one of"),
    ],
)
def test_account_with_unusable_proxy_url_does_not_load(tmp_path, value, message):
    """Failing closed: such an account is skipped, never used without its proxy."""
    write_account(tmp_path, proxy_url=value)
    store = AccountFiles(tmp_path)
    with pytest.raises(AccountLoadError, match=f"field proxy_url: {message}") as info:
        store.get("a")
    assert "secret" not in str(info.value)
    assert store.all() == []


@pytest.mark.parametrize("value", [None, ""])
def test_account_without_proxy_url_goes_direct(tmp_path, value):
    write_account(tmp_path, proxy_url=value)
    assert AccountFiles(tmp_path).get("a").proxy_url == ""


def test_set_proxy_url_sets_and_removes_only_that_field():
    raw = {"id": "a", "custom": 1}
    set_proxy_url(raw, "http://h:1")
    assert raw == {"id": "a", "custom": 1, "proxy_url": "http://h:1"}
    set_proxy_url(raw, "")
    assert raw == {"id": "a", "custom": 1}


HEADER_CASES = [
    {"authorization": "Bearer t", "content-type": "application/json"},
    {"User-Agent": "antigravity/1.0", "x-goog-user-project": "p-1"},
    {"user-agent": "antigravity/1.0", "accept-encoding": "identity"},
    {"Accept": "text/event-stream", "Connection": "close"},
    {},
]


@pytest.mark.parametrize("headers", HEADER_CASES)
@pytest.mark.parametrize("data", [None, b"", b'{"a":1}', "é".encode() * 3000])
@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_prepared_equals_what_session_request_prepares(method, headers, data):
    session = requests.Session()
    session.headers["X-Session-Default"] = "kept"
    url = "https://cloudcode-pa.example.test/v1internal:streamGenerateContent?alt=sse"
    ours = prepared(session, method, url, data, headers)
    theirs = session.prepare_request(
        requests.Request(method, url, data=data, headers=headers)
    )
    assert (ours.method, ours.url, ours.body) == (
        theirs.method,
        theirs.url,
        theirs.body,
    )
    assert dict(ours.headers.lower_items()) == dict(theirs.headers.lower_items())
    assert list(ours.headers.lower_items()) == list(theirs.headers.lower_items())


URL_CASES = [
    "https://cloudcode-pa.example.test/v1internal:streamGenerateContent?alt=sse",
    "https://user:secret@mirror.example.test/v1internal:generateContent",
    "https://bücher.example/v1 internal:x?a=1 2",
    "http://[::1]:8080/v1internal:x",
]


@pytest.mark.parametrize("url", URL_CASES)
def test_prepared_url_and_credentials_match_prepare_every_time(url):
    """The URL's share of ``prepare`` is looked up after the first call: the
    second call must still equal what ``prepare`` makes (credentials included)."""
    expected = requests.PreparedRequest()
    expected.prepare(method="POST", url=url, headers={"a": "b"}, data=b"{}")
    for _ in range(2):
        ours = prepared(requests.Session(), "POST", url, b"{}", {"a": "b"})
        assert ours.url == expected.url
        assert ours.headers.get("Authorization") == expected.headers.get(
            "Authorization"
        )


@pytest.mark.parametrize("url", ["no-scheme.example/x", "http://", "https://a b/"])
def test_prepared_refuses_a_bad_url_every_time(url):
    for _ in range(2):
        with pytest.raises(requests.exceptions.RequestException):
            prepared(requests.Session(), "POST", url, b"", {})


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", " leading"])
def test_prepared_refuses_header_values_that_would_break_the_request(value):
    with pytest.raises(requests.exceptions.InvalidHeader):
        prepared(requests.Session(), "POST", "https://x.test/", b"", {"x-h": value})


def test_prepared_streams_an_iterable_body_chunked():
    ours = prepared(requests.Session(), "POST", "https://x.test/", iter([b"a"]), {})
    assert ours.headers["Transfer-Encoding"] == "chunked"
    assert list(ours.body) == [b"a"]


ENVIRONMENT_CASES = [
    # (environment, url, proxies chosen)
    ({}, "https://cloudcode-pa.googleapis.com/v1internal:x", {}),
    (
        {"HTTPS_PROXY": "http://corp:3128"},
        "https://cloudcode-pa.googleapis.com/v1internal:x",
        {"https": "http://corp:3128"},
    ),
    (
        {"HTTPS_PROXY": "http://corp:3128", "NO_PROXY": "googleapis.com"},
        "https://cloudcode-pa.googleapis.com/v1internal:x",
        {},
    ),
    (
        {"http_proxy": "http://corp:3128", "no_proxy": "10.0.0.0/8,.internal"},
        "http://10.1.2.3:8080/v1internal:x",
        {},
    ),
    (
        {"http_proxy": "http://corp:3128", "no_proxy": "10.0.0.0/8,.internal"},
        "http://u:p@mirror.internal:8080/v1internal:x",
        {},
    ),
    (
        {"http_proxy": "http://corp:3128", "no_proxy": "10.0.0.0/8,.internal"},
        "http://192.168.1.5/v1internal:x",
        {"http": "http://corp:3128"},
    ),
    (
        {"ALL_PROXY": "socks5h://corp:1080", "NO_PROXY": "*"},
        "https://open.bigmodel.cn/api",
        {},
    ),
    (
        {"ALL_PROXY": "socks5h://corp:1080"},
        "https://open.bigmodel.cn/api",
        {"all": "socks5h://corp:1080"},
    ),
]
PROXY_VARIABLES = (
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD",
)  # fmt: skip


def set_environment(monkeypatch, environment):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(("environment", "url", "chosen"), ENVIRONMENT_CASES)
def test_environment_routes_honour_no_proxy_as_requests_does(
    monkeypatch, environment, url, chosen
):
    set_environment(monkeypatch, environment)
    routes = EnvironmentRoutes()
    assert dict(routes.for_url(url)) == chosen
    assert routes.for_url(url) is routes.for_url(url)  # decided once per host
    # The proxy requests would pick reading the environment on every call.
    theirs = requests.Session().merge_environment_settings(url, {}, None, None, None)
    assert select_proxy(url, routes.for_url(url)) == select_proxy(
        url, theirs["proxies"]
    )


def test_environment_routes_remember_a_bounded_number_of_hosts(monkeypatch):
    set_environment(monkeypatch, {"HTTPS_PROXY": "http://corp:3128"})
    routes = EnvironmentRoutes()
    for n in range(EnvironmentRoutes.MAX_HOSTS + 10):
        assert routes.for_url(f"https://h{n}.example/") == routes.proxies
    assert len(routes._by_host) == EnvironmentRoutes.MAX_HOSTS


def test_route_prefers_the_accounts_proxy_over_the_environment(monkeypatch):
    set_environment(monkeypatch, {"HTTPS_PROXY": "http://corp:3128"})
    routes = EnvironmentRoutes()
    url = "https://cloudcode-pa.googleapis.com/x"
    assert route(routes, url, "socks5://own:1") == proxies_for("socks5://own:1")
    assert route(routes, url, "") == {"https": "http://corp:3128"}
