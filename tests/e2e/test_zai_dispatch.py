"""z.ai dispatch of ``/v1/messages`` under real gunicorn (2 workers).

Each mode gets its own gateway, one Google account on the fake Cloud Code and
the fake z.ai: ``exclusive`` sends everything to z.ai (streamed as written,
with the z.ai key only), ``pooled`` alternates z.ai and the account,
``fallback`` uses z.ai only while every Google account is cooling down.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager

import pytest
import requests

from antigravity_proxy.state import POOL_VIEW_SECONDS, SQLiteState
from tests.conftest import API_KEY
from tests.e2e.conftest import run_gateway
from tests.fakes.cloudcode import FakeCloudCode, serve
from tests.fakes.zai import ZAI_KEY, FakeZai
from tests.upstream_env import seed_account, upstream_section

pytestmark = pytest.mark.e2e

HEADERS = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}


def body(model: str = "claude-sonnet-4-5", stream: bool = False) -> dict:
    messages = [{"role": "user", "content": "hello"}]
    return {"model": model, "max_tokens": 64, "messages": messages, "stream": stream}


@contextmanager
def stack(tmp_path, mode: str, **fake_options):
    google, zai = FakeCloudCode(), FakeZai(**fake_options)
    with serve(google) as google_base, serve(zai) as zai_base:
        zai.base_url = zai_base
        home = tmp_path / "home"
        seed_account(home, google, "acct")
        data = {
            "proxy": {"auth_mode": "strict"},
            "upstream": upstream_section(google_base),
            "zai": zai.config(dispatch_mode=mode),
        }
        with run_gateway(home, data, workers=2, threads=4) as gateway:
            yield gateway, google, zai


def post(gateway, path: str = "/v1/messages", **kwargs) -> requests.Response:
    return requests.post(gateway.base_url + path, headers=HEADERS, timeout=20, **kwargs)


def served_by(google: FakeCloudCode, zai: FakeZai) -> tuple[int, int]:
    return len(google.calls(":streamGenerateContent")), len(zai.seen("/api/anthropic"))


def test_exclusive_streams_from_zai_with_the_zai_key(tmp_path):
    with stack(tmp_path, "exclusive", stream_delay=0.3) as (gateway, google, zai):
        with post(gateway, json=body(stream=True), stream=True) as response:
            assert response.headers["Content-Type"].startswith("text/event-stream")
            arrivals = [time.monotonic() for _ in response.iter_content(None)]
        with post(gateway, "/v1/messages/count_tokens", json=body()) as counted:
            assert counted.json() == {"input_tokens": 42}
    assert len(arrivals) >= 3
    assert arrivals[0] < zai.event_times[-1] - 0.4  # streamed, not held back
    assert served_by(google, zai) == (0, 2)
    for record in zai.seen("/api/anthropic"):
        assert record.headers["x-api-key"] == ZAI_KEY
        assert API_KEY not in json.dumps(record.headers)
        assert record.json["model"] == "glm-4.7"


def test_pooled_alternates_zai_and_the_google_account(tmp_path):
    with stack(tmp_path, "pooled") as (gateway, google, zai):
        for expected in [(0, 1), (1, 1), (1, 2), (2, 2)]:
            with post(gateway, json=body()) as response:
                assert response.status_code == 200, response.text
            assert served_by(google, zai) == expected


def test_fallback_uses_zai_only_while_every_account_cools_down(tmp_path):
    with stack(tmp_path, "fallback") as (gateway, google, zai):
        with post(gateway, json=body()) as response:
            assert response.status_code == 200, response.text
        assert served_by(google, zai) == (1, 0)
        state = SQLiteState(gateway.home / "state.db", clock=time.time)
        state.set_cooldown("acct", time.time() + 300, "quota_exhausted")
        time.sleep(POOL_VIEW_SECONDS)  # how long the worker may keep its view
        with post(gateway, json=body()) as response:
            assert response.json()["model"] == "glm-4.7"
        assert served_by(google, zai) == (1, 1)
