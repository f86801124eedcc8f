"""Shared fixtures: a config in a temporary home, the WSGI app, a Werkzeug client."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from werkzeug.middleware.lint import LintMiddleware
from werkzeug.test import Client

from antigravity_proxy.config import load_config
from antigravity_proxy.wsgi import create_app

# A real redis-server for the shared-state tests (tests/redis_env.py).
pytest_plugins = ["tests.redis_env"]

API_KEY = "sk-test-0123456789abcdef0123456789abcdef"


def write_config(home: Path, data: dict) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.yaml"
    path.write_text(yaml.safe_dump({"home": str(home), **data}), encoding="utf-8")
    return path


@pytest.fixture
def make_config(tmp_path):
    """Build a Config from a dict written to a temporary config file."""

    def make(data: dict | None = None, env: dict | None = None):
        data = dict(data or {})
        data.setdefault("proxy", {}).setdefault("api_key", API_KEY)
        path = write_config(tmp_path / "home", data)
        return load_config(path, env=env or {})

    return make


@pytest.fixture
def make_client(make_config):
    def make(data: dict | None = None) -> Client:
        app = create_app(make_config(data), background=False)
        return Client(LintMiddleware(app))

    return make


@pytest.fixture
def client(make_client) -> Client:
    return make_client({"proxy": {"auth_mode": "off"}})
