"""The shared state's cost per request: the Redis backend beside SQLite.

Two gateways run side by side against one loopback fake Cloud Code, each with
the same two accounts in its own home: one on the default SQLite ``state.db``,
one on a real ``redis-server`` started here on a free loopback port (with
``SharedMarks`` over its account files, as a group of boxes runs). The same small
non-streaming Gemini request goes to each, interleaved with the gateway's own
upstream envelope replayed straight to the fake; each backend's added latency is
its time minus the direct one, and the goal is on the difference of the p50s.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Final

from benchmarks.harness import (
    GATEWAY_THREADS,
    Goal,
    Measurement,
    Stack,
    direct_sender,
    percentile,
    post_sender,
    report,
    seeded,
    sequential_latencies,
)
from tests.e2e.conftest import run_gateway
from tests.fakes.cloudcode import FakeCloudCode, serve
from tests.redis_env import RedisServer, redis_state
from tests.upstream_env import upstream_section

TITLE: Final = "state backend: redis beside sqlite (gemini generateContent)"
GENERATE: Final = "/v1beta/models/gemini-3-flash:generateContent"
BODY: Final = {"contents": [{"role": "user", "parts": [{"text": "Say hi in 5 words"}]}]}
REQUESTS: Final = 300
WARMUP: Final = 30
REDIS_EXTRA_GOAL: Final = Goal(0.5)


def run() -> list[Measurement]:
    """Start both gateways and Redis, measure, stop everything."""
    with two_stacks() as (sqlite_url, redis_url, stack):
        body = json.dumps(BODY).encode()
        sends = {
            "sqlite": post_sender(sqlite_url + GENERATE, body, {}),
            "redis": post_sender(redis_url + GENERATE, body, {}),
        }
        sends["direct"] = direct_sender(stack, sends["sqlite"])
        samples = sequential_latencies(sends, REQUESTS, WARMUP)
    return added(samples)


def added(samples: dict[str, list[float]]) -> list[Measurement]:
    """Each backend's added p50 (p99 in the note), then redis minus sqlite."""
    bare = percentile(samples["direct"], 0.5) * 1000
    p50 = {}
    results = []
    for name in ("sqlite", "redis"):
        p50[name] = percentile(samples[name], 0.5) * 1000 - bare
        p99 = percentile(samples[name], 0.99) - percentile(samples["direct"], 0.99)
        note = f"(p99 {p99 * 1000:.2f} ms, direct {bare:.2f} ms)"
        results.append(report(f"{name} added p50", p50[name], "ms", None, note))
    extra = p50["redis"] - p50["sqlite"]
    results.append(report("redis extra p50", extra, "ms", REDIS_EXTRA_GOAL))
    return results


@contextmanager
def two_stacks() -> Iterator[tuple[str, str, Stack]]:
    """(sqlite gateway URL, redis gateway URL, the sqlite one's ``Stack``)."""
    fake = FakeCloudCode()
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="agp-")))
        fake_url = stack.enter_context(serve(fake))
        (root / "redis").mkdir()
        server = RedisServer(root / "redis").start()
        stack.callback(server.stop)
        tokens = seeded(root / "sqlite", fake)
        shutil.copytree(root / "sqlite" / "accounts", root / "redis" / "accounts")
        base = {"proxy": {"auth_mode": "off"}, "upstream": upstream_section(fake_url)}
        prefix = f"bench{uuid.uuid4().hex[:6]}:"
        on_redis = {**base, "state": redis_state(server, prefix)}
        options = {"workers": 1, "threads": GATEWAY_THREADS}
        lite = stack.enter_context(run_gateway(root / "sqlite", base, **options))
        red = stack.enter_context(run_gateway(root / "redis", on_redis, **options))
        yield lite.base_url, red.base_url, Stack(fake, fake_url, lite.base_url, tokens)
