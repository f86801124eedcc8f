"""The account proxy from the command line: add/login --proxy-url, set-proxy, list."""

from __future__ import annotations

import json

import pytest

from tests.conftest import write_config
from tests.fakes import egress
from tests.integration.test_egress import through
from tests.integration.test_onboarding_cli import read_until_state, start_login
from tests.upstream_env import read_account, seed_account, upstream_section

SECRET = "s3cret-pass"


@pytest.fixture
def config_file(home, fake_upstream):
    return write_config(
        home,
        {
            "proxy": {"api_key": "sk-x"},
            "upstream": upstream_section(fake_upstream.base_url),
        },
    )


def test_add_with_proxy_url_onboards_through_it_and_saves_it(
    run_cli, config_file, home, fake_upstream
):
    fake_upstream.add_account("1//rt-p", email="p@example.test")
    with egress.running("socks5", auth=("bob", SECRET), scheme="socks5h") as proxy:
        result = run_cli(
            "accounts",
            "add",
            "--refresh-token-file",
            "-",
            "--proxy-url",
            proxy.url,
            "--config",
            str(config_file),
            stdin="1//rt-p\n",
        )
    assert result.returncode == 0, result.stderr
    (saved,) = [json.loads(p.read_text()) for p in (home / "accounts").glob("*.json")]
    assert saved["proxy_url"] == proxy.url
    via, direct = through(fake_upstream, proxy, "p@example.test")
    assert via == {"/token", "/userinfo", ":loadCodeAssist", ":fetchAvailableModels"}
    assert direct == set()
    assert SECRET not in result.stdout + result.stderr


def test_login_with_proxy_url_exchanges_the_code_through_it(
    config_file, home, fake_upstream
):
    fake_upstream.add_account("1//rt-l", email="l@example.test")
    code = fake_upstream.issue_auth_code("1//rt-l")
    with egress.running("http") as proxy:
        process = start_login(config_file, "--no-browser", "--proxy-url", proxy.url)
        state, _ = read_until_state(process)
        out, err = process.communicate(
            f"http://localhost:8085/oauth-callback?state={state}&code={code}\n",
            timeout=30,
        )
    assert process.returncode == 0, err
    token_calls = [r for r in fake_upstream.requests if r.path == "/token"]
    assert token_calls and all(r.peer_port in proxy.local_ports for r in token_calls)
    via, direct = through(fake_upstream, proxy, "l@example.test")
    assert direct == set() and "/userinfo" in via
    (saved,) = [json.loads(p.read_text()) for p in (home / "accounts").glob("*.json")]
    assert saved["proxy_url"] == proxy.url


def test_set_proxy_by_email_then_none_and_list_never_shows_credentials(
    run_cli, config_file, home, fake_upstream
):
    seed_account(home, fake_upstream, "a")
    url = f"socks5://bob:{SECRET}@127.0.0.1:1080"
    result = run_cli(
        "accounts", "set-proxy", "A@example.test", url, "--config", str(config_file)
    )
    assert result.returncode == 0, result.stderr
    assert "calls now go through socks5://***@127.0.0.1:1080" in result.stdout
    assert read_account(home, "a")["proxy_url"] == url
    assert read_account(home, "a")["unknown_field_kept"] == {"nested": [1, 2]}
    listed = run_cli("accounts", "list", "--config", str(config_file))
    assert "socks5://***@127.0.0.1:1080" in listed.stdout
    as_json = json.loads(
        run_cli("accounts", "list", "--json", "--config", str(config_file)).stdout
    )
    assert as_json[0]["proxy"] == "socks5://***@127.0.0.1:1080"
    assert SECRET not in result.stdout + listed.stdout + json.dumps(as_json)

    result = run_cli("accounts", "set-proxy", "a", "none", "--config", str(config_file))
    assert result.returncode == 0, result.stderr
    assert "calls now go direct" in result.stdout
    assert "proxy_url" not in read_account(home, "a")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            f"ftp://bob:{SECRET}@h:21",
            "scheme must be one of http, https, socks5, socks5h",
        ),
        (f"http://bob:{SECRET}@h:99999", "invalid port"),
    ],
)
def test_set_proxy_refuses_a_bad_url_without_echoing_it(
    run_cli, config_file, home, fake_upstream, url, message
):
    seed_account(home, fake_upstream, "a")
    result = run_cli("accounts", "set-proxy", "a", url, "--config", str(config_file))
    assert result.returncode == 2
    assert message in result.stderr and SECRET not in result.stderr
    assert "proxy_url" not in read_account(home, "a")


def test_set_proxy_unknown_account_is_a_clean_error(run_cli, config_file):
    result = run_cli(
        "accounts",
        "set-proxy",
        "nobody@example.test",
        "none",
        "--config",
        str(config_file),
    )
    assert result.returncode == 2
    assert "no account with id or email nobody@example.test" in result.stderr
    assert "Traceback" not in result.stderr
