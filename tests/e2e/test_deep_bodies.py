"""Deep JSON under real gunicorn: a pool thread's stack (``server.thread_stack_kib``)
must hold whatever nesting the parsers and translators accept, on every route.

A worker that overflows its C stack dies with SIGSEGV, taking every open stream
with it; the client must instead get an answer (a 4xx for nesting past what the
gateway accepts) and the worker must still serve the next request.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.e2e

ROUTES = [
    "/v1/chat/completions",
    "/v1/responses",
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1beta/models/gemini-2.5-flash:generateContent",
    "/v1/models/detect",
]


def nested(depth: int) -> bytes:
    """A valid body whose ``messages``/``contents``/``input`` nest ``depth`` deep."""
    inner = b"[" * depth + b"]" * depth
    return (
        b'{"model": "gpt-4o", "max_tokens": 8, "messages": '
        + inner
        + b', "contents": '
        + inner
        + b', "input": '
        + inner
        + b"}"
    )


@pytest.mark.parametrize("depth", [500, 990, 5000, 200_000])
def test_deep_nesting_is_answered_and_the_worker_survives(gateway_factory, depth):
    with gateway_factory({"proxy": {"auth_mode": "off"}}, workers=1, threads=4) as gw:
        pid_before = worker_pid(gw)
        for route in ROUTES:
            with requests.post(
                gw.base_url + route,
                data=nested(depth),
                headers={"Content-Type": "application/json"},
                timeout=30,
            ) as reply:
                assert reply.status_code < 500, (route, depth, reply.text[:200])
        with requests.get(gw.base_url + "/healthz", timeout=10) as health:
            assert health.status_code == 200
        assert worker_pid(gw) == pid_before, "a worker died"
        assert "SIGSEGV" not in gw.log_text() and "Worker (pid" not in gw.log_text()


def worker_pid(gw) -> int:
    children = Path(f"/proc/{gw.process.pid}/task/{gw.process.pid}/children")
    return int(children.read_text().split()[0])
