"""Integration fixtures: the WSGI app against the loopback fake Cloud Code."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from werkzeug.test import Client

from antigravity_proxy.config import load_config
from antigravity_proxy.wsgi import create_app
from tests.conftest import write_config
from tests.fakes.cloudcode import FakeCloudCode, serve
from tests.upstream_env import upstream_section


@pytest.fixture
def fake_upstream():
    fake = FakeCloudCode()
    with serve(fake) as base:
        fake.base_url = base
        yield fake


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def gateway(home, fake_upstream):
    """Build a Werkzeug client for a gateway wired to the fake (call with extras)."""

    def make(extra: dict | None = None, prefixes=("/v1internal",)) -> Client:
        data = {
            "proxy": {"api_key": "sk-test", "auth_mode": "off"},
            "upstream": upstream_section(fake_upstream.base_url, prefixes),
            **(extra or {}),
        }
        config = load_config(write_config(home, data), env={})
        return Client(create_app(config, background=False))

    return make


@pytest.fixture
def run_cli(tmp_path):
    """Run the CLI in a clean environment whose ``$HOME`` is a temporary dir."""

    def run(*args: str, env: dict | None = None, stdin: str | None = None):
        child_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("ANTIGRAVITY_PROXY_")
        }
        child_env["HOME"] = str(tmp_path / "user")
        child_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "antigravity_proxy.cli", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=child_env,
            input=stdin,
        )

    return run
