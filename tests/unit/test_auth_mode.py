"""`auth.effective_mode`: where the gateway is bound decides `auto`, from any source."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from antigravity_proxy.auth import effective_mode, is_loopback
from antigravity_proxy.banner import collect, render
from antigravity_proxy.cli import build_parser, serve_config
from antigravity_proxy.wsgi import create_app

EXPOSED = [
    "0.0.0.0",
    "::",
    "[::]",
    "192.168.1.20",
    "10.0.0.5",
    "172.16.4.4",
    "203.0.113.7",
    "fe80::1",
    "2001:db8::1",
    "::ffff:192.168.1.20",
    "my-box.lan",
]
LOOPBACK = [
    "127.0.0.1",
    "127.0.0.2",
    "127.255.255.254",
    "::1",
    "[::1]",
    "::ffff:127.0.0.1",
    "localhost",
    "LOCALHOST",
    "box.localhost",
]


@pytest.mark.parametrize("host", EXPOSED + LOOPBACK)
def test_is_loopback(host):
    assert is_loopback(host) is (host in LOOPBACK)


def test_an_empty_host_is_every_interface():
    assert is_loopback("") is False


def config_from(make_config, source: str, host: str, **proxy):
    """A config whose server.host comes from ``source``, as the CLI builds it."""
    data = {"proxy": {"auth_mode": "auto", "allow_lan_access": False, **proxy}}
    if source == "config":
        data["server"] = {"host": host}
        return make_config(data)
    if source == "env":
        return make_config(data, env={"ANTIGRAVITY_PROXY_HOST": host})
    args = build_parser().parse_args(["serve", "--host", host])
    return serve_config(make_config(data), args)


SOURCES = ["config", "env", "cli"]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("host", EXPOSED)
def test_auto_needs_the_key_on_any_non_loopback_bind(make_config, source, host):
    config = config_from(make_config, source, host)
    assert config.server.host == host
    mode, reason = effective_mode(config)
    assert mode == "all_except_health"
    assert reason == f"auto: bound to {host}, which is not loopback: reachable " + (
        "from the network"
    )


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("host", LOOPBACK)
def test_auto_is_open_on_loopback_only(make_config, source, host):
    config = config_from(make_config, source, host)
    assert effective_mode(config) == ("off", f"auto: bound to {host} only")


def test_cli_host_overrides_a_loopback_config(make_config):
    config = make_config({"server": {"host": "127.0.0.1"}})
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0"])
    assert effective_mode(config)[0] == "off"
    assert effective_mode(serve_config(config, args))[0] == "all_except_health"


def test_allow_lan_access_needs_the_key_even_on_loopback(make_config):
    config = make_config(
        {"server": {"host": "127.0.0.1"}, "proxy": {"allow_lan_access": True}}
    )
    assert effective_mode(config) == (
        "all_except_health",
        "auto: proxy.allow_lan_access is true",
    )


@pytest.mark.parametrize("mode", ["off", "strict", "all_except_health"])
@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_an_explicit_mode_is_kept_and_off_on_the_network_says_so(
    make_config, mode, host
):
    config = make_config({"server": {"host": host}, "proxy": {"auth_mode": mode}})
    found, reason = effective_mode(config)
    assert found == mode
    assert reason.startswith(f"proxy.auth_mode is {mode}")
    warned = "every route is open without a key" in reason
    assert warned is (mode == "off" and host == "0.0.0.0")


@pytest.mark.parametrize(
    ("host", "mode", "text"),
    [
        ("0.0.0.0", "auto", "auth       all_except_health (auto: bound to 0.0.0.0"),
        ("127.0.0.1", "auto", "auth       off (auto: bound to 127.0.0.1 only)"),
        ("0.0.0.0", "off", "every route is open without a key"),
    ],
)
def test_start_up_banner_says_the_mode_and_why(make_config, host, mode, text):
    config = make_config({"server": {"host": host}, "proxy": {"auth_mode": mode}})
    assert text in render(collect(config, show_key=False))


@pytest.mark.parametrize(
    ("listener", "status"),
    [("0.0.0.0", 401), ("::", 401), ("192.168.1.20", 401), ("127.0.0.1", 200)],
)
def test_auto_checks_the_listener_a_request_arrived_on(make_config, listener, status):
    # gunicorn started with its own -b: the config says loopback, the socket not.
    client = Client(create_app(make_config({}), background=False))
    answer = client.get("/v1/models", environ_overrides={"SERVER_NAME": listener})
    assert answer.status_code == status
    health = client.get("/healthz", environ_overrides={"SERVER_NAME": listener})
    assert health.status_code == 200


def test_explicit_off_ignores_the_listener(make_config):
    client = Client(
        create_app(make_config({"proxy": {"auth_mode": "off"}}), background=False)
    )
    answer = client.get("/v1/models", environ_overrides={"SERVER_NAME": "0.0.0.0"})
    assert answer.status_code == 200
