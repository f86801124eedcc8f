"""`antigravity-proxy accounts ...` against the fake Google and Cloud Code."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
import requests

from antigravity_proxy.accounts.login import LoopbackReceiver, parse_redirect
from antigravity_proxy.accounts.oauth import OAuthError
from antigravity_proxy.cli import main
from antigravity_proxy.config import load_config
from antigravity_proxy.state import SQLiteState
from tests.conftest import write_config
from tests.upstream_env import read_account, seed_account, upstream_section


@pytest.fixture
def cli(home, fake_upstream, capsys):
    config_path = write_config(
        home,
        {
            "proxy": {"api_key": "sk-x"},
            "upstream": upstream_section(fake_upstream.base_url),
        },
    )

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--config", str(config_path), "accounts", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    run.config_path = config_path
    return run


def test_accounts_list_empty_says_what_to_do(cli):
    code, out, _ = cli("list")
    assert code == 0
    assert "antigravity-proxy accounts login" in out


def test_accounts_add_saves_complete_account(cli, home, fake_upstream):
    fake_upstream.add_account(
        "1//rt-new", email="new@example.test", models={"gemini-3-flash": 0.42}
    )
    code, out, _ = cli("add", "--refresh-token", "1//rt-new")
    assert code == 0, out
    assert "new@example.test" in out
    (path,) = (home / "accounts").glob("*.json")
    saved = json.loads(path.read_text())
    assert saved["email"] == "new@example.test"
    assert saved["token"]["refresh_token"] == "1//rt-new"
    assert saved["token"]["project_id"].startswith("proj-")
    assert saved["quota"]["subscription_tier"] == "Google AI Pro"
    assert saved["quota"]["models"][0]["percentage"] == 42
    code, out, _ = cli("list")
    assert "new@example.test" in out and "gemini-3-flash=42%" in out
    assert "1//rt-new" not in out and saved["token"]["access_token"] not in out


def test_accounts_add_revoked_token_writes_nothing(cli, home, fake_upstream):
    fake_upstream.add_account("1//rt-dead", email="dead@example.test")
    fake_upstream.revoke("1//rt-dead")
    code, _, err = cli("add", "--refresh-token", "1//rt-dead")
    assert code == 1
    assert "invalid_grant" in err
    assert not list((home / "accounts").glob("*.json"))


def test_accounts_enable_disable_remove(cli, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    assert cli("disable", "a")[0] == 0
    assert read_account(home, "a")["proxy_disabled"] is True
    assert "no" in cli("list")[1].splitlines()[1]
    assert cli("enable", "a")[0] == 0
    assert read_account(home, "a")["proxy_disabled"] is False
    assert cli("remove", "a")[0] == 0
    assert not (home / "accounts" / "a.json").exists()
    code, _, err = cli("remove", "a")
    assert code == 2 and "no account with id" in err


@pytest.mark.parametrize("bad_id", ["../etc/passwd", ".hidden", "a/b", "x" * 300])
def test_accounts_rejects_path_like_ids(cli, bad_id):
    code, _, err = cli("disable", bad_id)
    assert code == 2
    assert err


def test_accounts_list_shows_cooldowns(cli, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    config = load_config(cli.config_path, env={})
    state = SQLiteState(config.home_dir / "state.db", clock=time.time)
    state.set_cooldown("a:gemini-3-flash", time.time() + 120, "quota_exhausted")
    code, out, _ = cli("list")
    assert code == 0
    assert re.search(
        r"gemini-3-flash \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(quota_exhausted\)", out
    )


def test_accounts_import_manager_folder(cli, home, fake_upstream, tmp_path):
    source = tmp_path / "manager" / "accounts"
    source.mkdir(parents=True)
    raw = {
        "id": "5f0c-aaaa",
        "email": "m@example.test",
        "token": {
            "access_token": "ya29",
            "refresh_token": "1//m",
            "expires_in": 3599,
            "expiry_timestamp": 1,
            "project_id": "p",
        },
        "device_profile": {"kept": True},
    }
    (source / "5f0c-aaaa.json").write_text(json.dumps(raw))
    code, out, _ = cli("import", str(tmp_path / "manager"))
    assert code == 0, out
    assert read_account(home, "5f0c-aaaa")["device_profile"] == {"kept": True}


def test_accounts_import_rejects_bad_folder_writing_nothing(cli, home, tmp_path):
    source = tmp_path / "accounts"
    source.mkdir()
    (source / "good.json").write_text(
        json.dumps(
            {
                "id": "good",
                "email": "g@x",
                "token": {
                    "access_token": "a",
                    "refresh_token": "r",
                    "expires_in": 1,
                    "expiry_timestamp": 1,
                },
            }
        )
    )
    (source / "bad.json").write_text("{not json")
    code, _, err = cli("import", str(source))
    assert code == 2
    assert "bad.json" in err
    assert not (home / "accounts").exists() or not list(
        (home / "accounts").glob("*.json")
    )


def test_accounts_import_refresh_token_list(cli, home, fake_upstream, tmp_path):
    fake_upstream.add_account("1//t1", email="t1@example.test")
    fake_upstream.add_account("1//t2", email="t2@example.test")
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps(["1//t1", {"refresh_token": "1//t2"}]))
    code, out, _ = cli("import", str(tokens))
    assert code == 0, out
    emails = sorted(
        json.loads(p.read_text())["email"] for p in (home / "accounts").glob("*.json")
    )
    assert emails == ["t1@example.test", "t2@example.test"]


def test_accounts_refresh_quota(cli, home, fake_upstream):
    seed_account(home, fake_upstream, "a", models={"claude-sonnet-4-6": 0.25})
    code, out, _ = cli("refresh-quota", "a")
    assert code == 0, out
    assert "claude=25%" in out
    assert read_account(home, "a")["quota"]["models"][0]["name"] == "claude-sonnet-4-6"


def test_loopback_receiver_gets_the_redirect():
    receiver = LoopbackReceiver()
    url = receiver.redirect_uri.replace("localhost", "127.0.0.1") + "?code=abc&state=s1"

    def browser() -> None:
        time.sleep(0.1)
        with requests.get(url, timeout=5) as answer:
            assert "Signed in" in answer.text

    thread = threading.Thread(target=browser)
    thread.start()
    callback = receiver.wait(timeout=10)
    thread.join(5)
    assert (callback.code, callback.state) == ("abc", "s1")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://localhost/cb?error=access_denied", "refused"),
        ("http://localhost/cb?state=x", "no 'code'"),
    ],
)
def test_parse_redirect_errors(url, message):
    with pytest.raises(OAuthError, match=message):
        parse_redirect(url)
