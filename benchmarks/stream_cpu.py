"""Stream CPU: the gateway's own CPU for one Anthropic stream, in-process.

The WSGI app (``create_app``) serves ``STREAMS`` streaming ``POST /v1/messages``
one after another, called directly, against the fake upstream in a forked
process of its own (``capacity.wide_fake``): each answer is ``CHUNK_TEXTS``,
sent back to back. Each stream is timed with ``time.thread_time`` (this thread's
CPU only, so neither the fake nor other jobs on a shared box count): up to its
first byte (request parsing, the account pick, the upstream call, the response's
start) and whole (every event translated, the end, the usage and access log).

Why: the capacity hold's first byte waits for CPU on a small box, and its own
figures swing with whatever else the box runs; this is the steadier figure for
comparing two revisions of the stream path. Not included: the server (gunicorn's
parsing and writes) and the cost of waking once per event when events are spread
out, both of which the capacity hold's "gateway CPU per stream" does include.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import yaml
from werkzeug.test import EnvironBuilder

from antigravity_proxy.config import load_config
from antigravity_proxy.wsgi import create_app
from benchmarks.capacity import ACCOUNTS, STREAM_BODY, STREAM_MODEL, wide_fake
from benchmarks.harness import (
    CHUNK_TEXTS,
    Measurement,
    report,
    scripted_chunks,
    seeded,
)
from tests.fakes.cloudcode import FakeCloudCode, Stream
from tests.upstream_env import upstream_section

TITLE: Final = "stream CPU (in-process, one Anthropic stream)"
STREAMS: Final = 300
WARM_UP: Final = 30
HEADERS: Final = {"Content-Type": "application/json", "anthropic-version": "2023-06-01"}


def run() -> list[Measurement]:
    fake = FakeCloudCode()
    with tempfile.TemporaryDirectory(prefix="agp-cpu-") as tmp:
        home = Path(tmp) / "home"
        seeded(home, fake, ACCOUNTS)
        for _ in range(WARM_UP + STREAMS):
            fake.script(Stream(scripted_chunks(CHUNK_TEXTS)), model=STREAM_MODEL)
        with wide_fake(fake) as url:
            app = _app(home, url)
            for _ in range(WARM_UP):
                _one(app)
            timings = [_one(app) for _ in range(STREAMS)]
    note = f"(median of {STREAMS}, thread CPU)"
    return [
        report("to first byte", _median_ms(t[0] for t in timings), "ms", None, note),
        report("whole stream", _median_ms(t[1] for t in timings), "ms", None, note),
    ]


def _app(home: Path, url: str) -> Any:
    data = {"home": str(home), "proxy": {"auth_mode": "off"}}
    data["upstream"] = upstream_section(url)
    path = home / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return create_app(load_config(path, env={}), background=False)


def _one(app: Any) -> tuple[float, float]:
    """Thread CPU seconds of one stream: to its first byte, and whole."""
    environ = EnvironBuilder(
        path="/v1/messages", method="POST", data=STREAM_BODY, headers=HEADERS
    ).get_environ()
    started = time.thread_time()
    body = app(environ, lambda status, headers, exc_info=None: None)
    chunks = iter(body)
    first = next(chunks)
    first_byte = time.thread_time() - started
    rest = b"".join(chunks)
    body.close()
    whole = time.thread_time() - started
    if b"message_stop" not in first + rest:
        raise RuntimeError("a benchmark stream did not end with message_stop")
    return first_byte, whole


def _median_ms(values: Iterable[float]) -> float:
    return statistics.median(values) * 1000
