"""Headless onboarding (issue 14.3), as a person runs it: the real CLI in a
subprocess against the loopback fake Google OAuth / Cloud Code server."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys

import pytest
import yaml

from antigravity_proxy.accounts.login import headless_reason
from tests.conftest import write_config
from tests.upstream_env import upstream_section


@pytest.fixture
def config_file(home, fake_upstream):
    return write_config(
        home,
        {
            "proxy": {"api_key": "sk-x"},
            "upstream": upstream_section(fake_upstream.base_url),
        },
    )


def saved(home) -> list[dict]:
    return [
        json.loads(p.read_text()) for p in sorted((home / "accounts").glob("*.json"))
    ]


def no_traceback(result) -> None:
    assert "Traceback" not in result.stderr + result.stdout


def test_add_reads_the_token_from_stdin(run_cli, config_file, home, fake_upstream):
    fake_upstream.add_account("1//rt-stdin", email="stdin@example.test")
    result = run_cli(
        "accounts",
        "add",
        "--refresh-token-file",
        "-",
        "--config",
        str(config_file),
        stdin="1//rt-stdin\n",
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"added \S+ \(stdin@example\.test\)\n", result.stdout)
    assert "1//rt-stdin" not in result.stdout + result.stderr
    assert [a["token"]["refresh_token"] for a in saved(home)] == ["1//rt-stdin"]


def test_add_without_flags_reads_piped_stdin(run_cli, config_file, home, fake_upstream):
    fake_upstream.add_account("1//rt-pipe", email="pipe@example.test")
    result = run_cli(
        "accounts", "add", "--config", str(config_file), stdin="1//rt-pipe"
    )
    assert result.returncode == 0, result.stderr
    assert [a["email"] for a in saved(home)] == ["pipe@example.test"]


def test_add_from_a_file_reports_each_token(
    run_cli, config_file, home, fake_upstream, tmp_path
):
    fake_upstream.add_account("1//rt-one", email="one@example.test")
    fake_upstream.add_account("1//rt-dead", email="dead@example.test")
    fake_upstream.revoke("1//rt-dead")
    fake_upstream.add_account("1//rt-three", email="three@example.test")
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("1//rt-one\n1//rt-dead\n\n1//rt-three\n")
    result = run_cli(
        "accounts",
        "add",
        "--refresh-token-file",
        str(tokens),
        "--config",
        str(config_file),
    )
    no_traceback(result)
    assert result.returncode == 1
    assert "(one@example.test)" in result.stdout
    assert "(three@example.test)" in result.stdout
    assert "2 of 3 added, 1 failed" in result.stdout
    assert result.stderr.strip() == (
        "failed: line 2 of tokens.txt: invalid_grant: Token has been expired or revoked."
    )
    assert "1//rt" not in result.stdout + result.stderr
    assert sorted(a["email"] for a in saved(home)) == [
        "one@example.test",
        "three@example.test",
    ]


def test_add_on_the_command_line_still_works_with_a_warning(
    run_cli, config_file, home, fake_upstream
):
    fake_upstream.add_account("1//rt-argv", email="argv@example.test")
    result = run_cli(
        "accounts", "add", "--refresh-token", "1//rt-argv", "--config", str(config_file)
    )
    assert result.returncode == 0, result.stderr
    assert "shell history" in result.stderr and "--refresh-token-file" in result.stderr
    assert [a["email"] for a in saved(home)] == ["argv@example.test"]


def test_add_with_an_empty_input_is_a_clean_error(run_cli, config_file):
    result = run_cli("accounts", "add", "--config", str(config_file), stdin="")
    no_traceback(result)
    assert result.returncode == 2
    assert result.stderr.strip() == "antigravity-proxy: no refresh token in stdin"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def point_oauth_at(config_file, url: str) -> None:
    data = yaml.safe_load(config_file.read_text())
    data["upstream"]["oauth_token_url"] = url
    config_file.write_text(yaml.safe_dump(data))


def test_add_while_google_is_unreachable_saves_and_verifies_on_first_use(
    run_cli, config_file, home, fake_upstream
):
    fake_upstream.add_account("1//rt-later", email="later@example.test")
    good_url = yaml.safe_load(config_file.read_text())["upstream"]["oauth_token_url"]
    point_oauth_at(config_file, f"http://127.0.0.1:{closed_port()}/token")
    config = ["--config", str(config_file)]
    result = run_cli("accounts", "add", *config, stdin="1//rt-later\n")
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r"saved \S+ unverified: Google unreachable \(token endpoint unreachable: "
        r"ConnectionError\); it will be verified on first use\n",
        result.stdout,
    )
    (pending,) = saved(home)
    assert pending["email"].endswith("@pending.invalid")
    assert pending["token"]["refresh_token"] == "1//rt-later"

    point_oauth_at(config_file, good_url)
    verified = run_cli("accounts", "refresh-quota", *config)
    assert verified.returncode == 0, verified.stderr
    (account,) = saved(home)
    assert account["email"] == "later@example.test"
    assert "pending_verification" not in account
    listing = json.loads(run_cli("accounts", "list", "--json", *config).stdout)
    assert [row["email"] for row in listing] == ["later@example.test"]


def test_unreachable_add_of_a_dead_token_is_disabled_on_first_use(
    run_cli, config_file, home, fake_upstream
):
    fake_upstream.add_account("1//rt-gone", email="gone@example.test")
    fake_upstream.revoke("1//rt-gone")
    good_url = yaml.safe_load(config_file.read_text())["upstream"]["oauth_token_url"]
    point_oauth_at(config_file, f"http://127.0.0.1:{closed_port()}/token")
    config = ["--config", str(config_file)]
    assert run_cli("accounts", "add", *config, stdin="1//rt-gone").returncode == 0
    point_oauth_at(config_file, good_url)
    checked = run_cli("accounts", "refresh-quota", *config)
    assert checked.returncode == 1
    assert "invalid_grant" in checked.stderr
    (row,) = json.loads(run_cli("accounts", "list", "--json", *config).stdout)
    assert row["state"] == "no (invalid_grant)" and row["usable"] is False


def test_import_token_list_reports_each_entry(
    run_cli, config_file, home, fake_upstream, tmp_path
):
    fake_upstream.add_account("1//t1", email="t1@example.test")
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps(["1//t1", {"refresh_token": "1//unknown"}]))
    result = run_cli("accounts", "import", str(tokens), "--config", str(config_file))
    no_traceback(result)
    assert result.returncode == 1
    assert "imported" in result.stdout and "(t1@example.test)" in result.stdout
    assert "failed: entry 2 of tokens.json: invalid_grant" in result.stderr
    assert "1 of 2 imported, 1 failed" in result.stdout


# --- login ---------------------------------------------------------------------


def headless_env() -> dict:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("ANTIGRAVITY_PROXY_")
    }
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SSH_CONNECTION"):
        env.pop(name, None)
    return env


def start_login(config_file, *extra: str, stdin=subprocess.PIPE):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "antigravity_proxy.cli",
            "accounts",
            "login",
            "--config",
            str(config_file),
            *extra,
        ],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=headless_env(),
    )


def read_until_state(process) -> tuple[str, str]:
    seen = ""
    for line in process.stdout:
        seen += line
        found = re.search(r"state=([^&\s]+)", line)
        if found:
            return found.group(1), seen
    raise AssertionError(f"no sign-in URL printed:\n{seen}{process.stderr.read()}")


def test_login_without_a_display_switches_to_paste_back(
    config_file, home, fake_upstream
):
    fake_upstream.add_account("1//rt-login", email="login@example.test")
    code = fake_upstream.issue_auth_code("1//rt-login")
    process = start_login(config_file)
    state, printed = read_until_state(process)
    assert "no display ($DISPLAY and $WAYLAND_DISPLAY are unset)" in printed
    assert "paste-back" in printed
    process.stdin.write(
        f"http://localhost:8085/oauth-callback?state={state}&code={code}&scope=x\n"
    )
    process.stdin.flush()
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "signed in:" in out and "(login@example.test)" in out
    assert [a["token"]["refresh_token"] for a in saved(home)] == ["1//rt-login"]


def test_login_state_mismatch_is_refused(config_file, home, fake_upstream):
    fake_upstream.add_account("1//rt-x", email="x@example.test")
    code = fake_upstream.issue_auth_code("1//rt-x")
    process = start_login(config_file, "--no-browser")
    read_until_state(process)
    out, err = process.communicate(
        f"http://localhost/oauth-callback?state=forged&code={code}\n", timeout=30
    )
    assert process.returncode == 1
    assert "state mismatch" in err and "Traceback" not in err
    assert not (home / "accounts").exists() or not saved(home)


def test_login_with_closed_stdin_is_a_clean_error(config_file, home):
    process = start_login(config_file, stdin=subprocess.DEVNULL)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "Traceback" not in err
    assert err.strip() == (
        "antigravity-proxy: the input ended before a URL was pasted: run 'accounts "
        "login' in a terminal, or add the account with 'accounts add "
        "--refresh-token-file PATH'"
    )


def test_login_paste_back_times_out(config_file):
    process = start_login(config_file, "--timeout", "1")
    try:
        assert process.wait(30) == 1  # stdin stays open: nothing is ever pasted
        err = process.stderr.read()
    finally:
        process.stdin.close()
        process.stdout.close()
        process.stderr.close()
    assert "nothing pasted within 1 s" in err and "Traceback" not in err


def test_login_loopback_times_out_with_a_hint(config_file):
    process = start_login(config_file, "--browser", "--timeout", "1")
    out, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "Waiting up to" in out
    assert "no sign-in within 1 s" in err and "--no-browser" in err


@pytest.mark.parametrize(
    ("env", "platform", "headless"),
    [
        ({}, "linux", True),
        ({"DISPLAY": ":0"}, "linux", False),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
        ({"SSH_CONNECTION": "1 2 3 4"}, "linux", True),
        ({"SSH_CONNECTION": "1 2 3 4", "DISPLAY": "localhost:10"}, "linux", False),
        ({}, "darwin", False),
        ({"SSH_CONNECTION": "1 2 3 4"}, "darwin", True),
        ({}, "win32", False),
    ],
)
def test_headless_reason(env, platform, headless):
    assert (headless_reason(env, platform) is not None) is headless
