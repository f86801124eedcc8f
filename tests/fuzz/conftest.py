"""Fuzz fixtures: one gateway per module against the loopback fake upstream.

Hypothesis profiles: ``ci`` (the default, what ``make test`` runs: a bounded
number of examples per test, derandomized so a failure reproduces) and ``long``
(``make fuzz``: ``HYPOTHESIS_PROFILE=long``, many more examples, random).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from werkzeug.test import Client

from antigravity_proxy.config import load_config
from antigravity_proxy.wsgi import create_app
from tests.conftest import write_config
from tests.fakes.cloudcode import FakeCloudCode, serve
from tests.upstream_env import seed_account, upstream_section

SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=SLOW_OK,
    database=None,
)
settings.register_profile(
    "long",
    max_examples=3000,
    deadline=None,
    suppress_health_check=SLOW_OK,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory) -> Iterator[Client]:
    home = tmp_path_factory.mktemp("fuzz") / "home"
    fake = FakeCloudCode(draws_images=True)
    with serve(fake) as base:
        fake.base_url = base
        for name in ("a", "b"):
            seed_account(home, fake, name)
        data = {
            "proxy": {"api_key": "sk-fuzz", "auth_mode": "off"},
            "upstream": upstream_section(base),
            "accounts": {"max_cooldown_seconds": 1},
        }
        config = load_config(write_config(home, data), env={})
        yield Client(create_app(config, background=False))
