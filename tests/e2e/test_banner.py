"""The start-up banner, read from the log of a real ``antigravity-proxy serve``."""

from __future__ import annotations

import json
import re
import time

import pytest

from antigravity_proxy.state import SQLiteState
from tests.conftest import API_KEY
from tests.e2e.conftest import run_gateway
from tests.fakes.cloudcode import FakeCloudCode, serve
from tests.upstream_env import seed_account, upstream_section

pytestmark = pytest.mark.e2e


def banner_of(log: str) -> str:
    start = log.index("antigravity-proxy ")
    end = log.index("google-genai", start)
    return log[start : log.index("\n", end)]


@pytest.fixture
def stack(tmp_path):
    fake = FakeCloudCode()
    with serve(fake) as base:
        yield fake, base, tmp_path / "home"


def test_banner_says_where_everything_is_and_how_to_connect(stack):
    fake, base, home = stack
    seed_account(home, fake, "ready")
    seed_account(home, fake, "off")
    path = home / "accounts" / "off.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "disabled": True}))
    seed_account(home, fake, "hot")
    state = SQLiteState(home / "state.db", clock=time.time)
    state.set_cooldown("hot:gemini-3-flash", time.time() + 600, "quota_exhausted")
    state.close()
    data = {
        "proxy": {"auth_mode": "all_except_health"},
        "upstream": upstream_section(base),
    }
    with run_gateway(home, data) as gw:
        banner = banner_of(gw.log_text())
    url = gw.base_url
    assert f"is listening on {url} (bound to 127.0.0.1)" in banner
    assert f"config     {home / 'config.yaml'}\n" in banner
    assert f"data dir   {home}\n" in banner
    assert (
        "auth       all_except_health (proxy.auth_mode is all_except_health); "
        in banner
    )
    assert "only this machine can connect" in banner
    assert (
        f"API key    proxy.api_key in {home / 'config.yaml'}; print it: grep" in banner
    )
    assert "accounts   1 ready, 1 cooling down, 1 disabled\n" in banner
    assert f"ANTHROPIC_BASE_URL={url} ANTHROPIC_API_KEY=$AGP_KEY claude" in banner
    assert f'base_url = "{url}/v1"' in banner and 'env_key = "AGP_KEY"' in banner
    assert f"GOOGLE_GEMINI_BASE_URL={url} GEMINI_API_KEY=$AGP_KEY gemini" in banner
    assert f'OpenAI(base_url="{url}/v1"' in banner
    assert "export AGP_KEY=<the API key>" in banner
    assert API_KEY not in gw.log_text()


def test_banner_shows_the_key_only_with_show_key(stack):
    fake, base, home = stack
    data = {"proxy": {"auth_mode": "strict"}, "upstream": upstream_section(base)}
    with run_gateway(home, data, args=("--show-key",)) as gw:
        banner = banner_of(gw.log_text())
    assert f"API key    {API_KEY} (from proxy.api_key in " in banner
    assert f"export AGP_KEY={API_KEY}" in banner
    assert "0 ready, 0 cooling down, 0 disabled; add one: " in banner
    assert re.search(r"add one: \S*antigravity-proxy accounts login", banner)


def test_banner_names_the_env_var_holding_the_key(stack):
    fake, base, home = stack
    data = {"proxy": {"auth_mode": "strict"}, "upstream": upstream_section(base)}
    env = {"ANTIGRAVITY_PROXY_API_KEY": API_KEY}
    with run_gateway(home, data, env=env) as gw:
        banner = banner_of(gw.log_text())
    assert (
        "API key    from $ANTIGRAVITY_PROXY_API_KEY (serve --show-key prints it)"
        in banner
    )
    assert API_KEY not in gw.log_text()


def test_make_demo_gets_a_first_answer_through_the_loopback_fake():
    """README's first screen promises `make demo` answers without a Google account."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "tests.fakes.demo", "--once"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "added " in result.stdout and "(demo@example.test)" in result.stdout
    assert "answer: 'echo: Say hello'" in result.stdout
    assert "accounts   1 ready, 0 cooling down, 0 disabled" in result.stderr


def test_serve_creates_a_missing_config_and_says_so(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from tests.e2e.conftest import free_port

    path = tmp_path / "new" / "config.yaml"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("ANTIGRAVITY_PROXY_")
    }
    env.update(HOME=str(tmp_path), ANTIGRAVITY_PROXY_HOME=str(tmp_path / "data"))
    command = [sys.executable, "-m", "antigravity_proxy.cli", "serve"]
    process = subprocess.Popen(
        [*command, "--config", str(path), "--port", str(free_port())],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    seen = ""
    try:
        for line in process.stderr:
            seen += line
            if "google-genai" in line:
                break
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)
        process.stderr.close()
    assert (
        f"antigravity-proxy: created {path} with the defaults and a new API key" in seen
    )
    assert f"config     {path} (created now with the defaults)" in seen
    assert f"data dir   {tmp_path / 'data'}" in seen
    assert path.exists()
