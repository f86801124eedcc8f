"""Integration fixtures: the WSGI app against the loopback fake Cloud Code."""

from __future__ import annotations

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
