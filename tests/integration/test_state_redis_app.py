"""The gateway on the Redis backend: it serves, reports the backend in
``/healthz``, and keeps answering 200 while the redis-server is killed and
brought back."""

from __future__ import annotations

import time

import pytest

from tests.integration.anthropic_support import MESSAGES, body
from tests.redis_env import redis_state
from tests.upstream_env import seed_account


@pytest.fixture
def client(gateway, home, fake_upstream, own_redis_server, redis_prefix):
    seed_account(home, fake_upstream, "a")
    return gateway({"state": redis_state(own_redis_server, redis_prefix)})


def health_state(client) -> dict:
    response = client.get("/healthz")
    assert response.status_code == 200
    return response.json["state"]


def test_gateway_on_redis_serves_and_reports_it(client, own_redis_server, redis_prefix):
    assert health_state(client) == {"backend": "redis", "ok": True}
    response = client.post(MESSAGES, json=body())
    assert response.status_code == 200, response.get_data(as_text=True)
    with own_redis_server.client() as raw:
        raw.set(f"{redis_prefix}cd", "not a hash")  # a broken record is advisory too
    assert client.post(MESSAGES, json=body()).status_code == 200


def test_gateway_keeps_serving_while_redis_is_down(client, own_redis_server):
    assert client.post(MESSAGES, json=body()).status_code == 200
    own_redis_server.stop()
    for _ in range(5):
        response = client.post(MESSAGES, json=body(stream=True))
        assert response.status_code == 200
        assert b"message_stop" in response.get_data()
        assert client.post(MESSAGES, json=body()).status_code == 200
    assert health_state(client) == {"backend": "redis", "ok": False}
    own_redis_server.start()
    deadline = time.monotonic() + 10
    while health_state(client)["ok"] is False and time.monotonic() < deadline:
        time.sleep(0.2)  # the backoff (1 s) passes, then a ping reconnects
    assert health_state(client) == {"backend": "redis", "ok": True}
    assert client.post(MESSAGES, json=body()).status_code == 200
