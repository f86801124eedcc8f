"""Teammate keys under real gunicorn: named in the access log, revoked live, 2 workers."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import requests

from tests.conftest import API_KEY

pytestmark = pytest.mark.e2e

ALICE_KEY = "sk-alice-0123456789abcdef0123"
BOB_KEY = "sk-bob-0123456789abcdef012345"


def status(gw, key: str) -> int:
    with requests.get(
        gw.base_url + "/v1beta/models", headers={"x-goog-api-key": key}, timeout=5
    ) as response:
        return response.status_code


def test_serve_logs_key_names_and_applies_revocation_in_every_worker(gateway_factory):
    team = [{"name": "alice", "key": ALICE_KEY}, {"name": "bob", "key": BOB_KEY}]
    data = {"proxy": {"auth_mode": "strict", "api_keys": team}}
    with gateway_factory(data, workers=2) as gw:
        assert status(gw, ALICE_KEY) == 200
        assert status(gw, BOB_KEY) == 200
        assert status(gw, "sk-nobody-0123456789abcdef") == 401
        revoked = subprocess.run(
            [
                sys.executable,
                "-m",
                "antigravity_proxy.cli",
                "--config",
                str(gw.home / "config.yaml"),
                "keys",
                "revoke",
                "alice",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert revoked.returncode == 0, revoked.stderr
        # Several requests, so both workers are asked at least once (likely).
        assert {status(gw, ALICE_KEY) for _ in range(6)} == {401}
        assert status(gw, BOB_KEY) == 200
    text = gw.log_text()
    assert re.search(r"GET /v1beta/models 200 gemini .* key=alice ", text)
    assert re.search(r"GET /v1beta/models 200 gemini .* key=bob ", text)
    assert re.search(r"GET /v1beta/models 401 gemini .* key=- ", text)
    assert re.search(
        r"GET /healthz 200 internal .* key=main ", text
    )  # the readiness probe
    for secret in (ALICE_KEY, BOB_KEY, API_KEY):
        assert secret not in text
