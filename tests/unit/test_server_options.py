"""``gunicorn_options``: every value passes gunicorn's own validators.

Why: gunicorn validates a setting only when it is set, at start-up; a wrong
type (a float where it wants an int) stops ``serve`` on a fresh config.
"""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from gunicorn.config import Config as GunicornConfig

from antigravity_proxy.config import Config, ServerConfig, load_config
from antigravity_proxy.config_template import DEFAULT_TEMPLATE
from antigravity_proxy.server import before_fork, gunicorn_options


def from_template(tmp_path) -> Config:
    path = tmp_path / "config.yaml"
    path.write_text(DEFAULT_TEMPLATE.format(api_key="sk-x"), encoding="utf-8")
    return load_config(path, env={})


@pytest.mark.parametrize("source", ["defaults", "template", "odd values"])
def test_every_option_is_accepted_by_gunicorn(tmp_path, source):
    config = Config()
    if source == "template":
        config = from_template(tmp_path)
    elif source == "odd values":
        server = ServerConfig(
            workers=3, threads=7, header_timeout=0.5, body_timeout=2.5, keepalive=0
        )
        config = dataclasses.replace(config, server=server)
    settings = GunicornConfig()
    for key, value in gunicorn_options(config).items():
        settings.set(key, value)
    assert settings.worker_class_str == "antigravity_proxy.worker.GatewayWorker"
    assert settings.threads == config.server.threads
    assert settings.keepalive == config.server.keepalive
    assert settings.worker_connections >= 2 * config.server.threads


def test_the_template_states_the_server_defaults():
    written = yaml.safe_load(DEFAULT_TEMPLATE.format(api_key="sk-x"))["server"]
    defaults = dataclasses.asdict(ServerConfig())
    assert {k: defaults[k] for k in written} == written


def test_no_control_socket_and_a_pre_fork_freeze():
    """No gunicornc socket at the per-user path every gunicorn shares; the master
    freezes its objects and holds its signals before each fork (``before_fork``)."""
    settings = GunicornConfig()
    for key, value in gunicorn_options(Config()).items():
        settings.set(key, value)
    assert settings.control_socket_disable is True
    assert settings.pre_fork is before_fork
