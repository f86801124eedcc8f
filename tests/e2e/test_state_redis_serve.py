"""Real gunicorn (two workers) on a password-protected Redis: requests keep
flowing while the redis-server is killed and restarted under load, the workers
use it again once it is back, and the password never reaches the log."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import API_KEY
from tests.e2e.conftest import sdk_stack
from tests.redis_env import RedisServer, redis_state

pytestmark = pytest.mark.e2e

HEADERS = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
BODY = {
    "model": "gemini-3-flash",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hello"}],
}


def one_request(base: str, stream: bool) -> int:
    with requests.post(
        base + "/v1/messages",
        json={**BODY, "stream": stream},
        headers=HEADERS,
        timeout=30,
    ) as response:
        response.content  # noqa: B018 - read the whole answer (a stream too)
        return response.status_code


def state_health(base: str) -> dict:
    with requests.get(base + "/healthz", headers=HEADERS, timeout=5) as response:
        assert response.status_code == 200
        return response.json()["state"]


@pytest.fixture
def locked_server(tmp_path):
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(workdir, password="s3cret-e2e").start()
    yield server
    server.stop()


def test_gunicorn_on_redis_loses_no_request_when_redis_dies(
    tmp_path, locked_server, redis_prefix
):
    extra = {"state": redis_state(locked_server, redis_prefix)}
    with sdk_stack(tmp_path / "home", extra=extra, workers=2) as (fake, gateway):
        base = gateway.base_url
        assert state_health(base) == {"backend": "redis", "ok": True}
        statuses: list[int] = []
        stop = threading.Event()

        def load() -> None:
            with ThreadPoolExecutor(4) as pool:
                while not stop.is_set():
                    batch = [
                        pool.submit(one_request, base, i % 2 == 0) for i in range(4)
                    ]
                    statuses.extend(f.result() for f in batch)

        driver = threading.Thread(target=load)
        driver.start()
        try:
            time.sleep(1.0)
            locked_server.stop()
            time.sleep(2.0)
            locked_server.start()
            time.sleep(2.0)
        finally:
            stop.set()
            driver.join(60)
        assert len(statuses) > 20
        assert set(statuses) == {200}
        deadline = time.monotonic() + 10
        while not state_health(base)["ok"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert state_health(base) == {"backend": "redis", "ok": True}
        log = gateway.log_text()
        assert "unavailable" in log
        assert (
            f"state      redis at redis://***@127.0.0.1:{locked_server.port}/0" in log
        )
        assert "s3cret" not in log  # the URL's password is never logged
