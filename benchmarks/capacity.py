"""Capacity with ``serve``'s default settings: start-up, and 1,000 streams at once.

Start-up: ``antigravity-proxy serve`` spawned until its first 200 on ``/healthz``
(``STARTS`` times; the range is printed). Hold: ``STREAMS`` Anthropic streaming
requests sent at once from one ``selectors`` loop; the fake answers each with
``len(CHUNK_TEXTS)`` chunks ``STREAM_GAP`` apart (about ten seconds per stream).
During the hold a prober times ``/healthz`` and a short non-stream Gemini
``generateContent`` (a real round trip to the fake, unscripted model) in turn,
and ``/proc`` is sampled for the process group's memory. A stream is intact when
every scripted text arrived, in order, followed by ``message_stop``.

The fake listens with a 4096-deep backlog here (the stock test server's 128
would measure the fake's accept queue, not the gateway) and runs in a forked
process of its own, scripted before the fork: sharing the bench's interpreter
(one GIL with the 1,000-socket client loop, the prober and a thread per fake
stream), it answered the gateway's upstream calls slowly enough that at one
second into the hold a third of the gateway's started streams were still
waiting for the fake's response headers.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import requests
from werkzeug.serving import make_server

from benchmarks.harness import (
    CHUNK_TEXTS,
    Goal,
    Measurement,
    percentile,
    report,
    scripted_chunks,
    seeded,
)
from benchmarks.loadtools import (
    MemorySampler,
    Prober,
    StreamResult,
    cpu_seconds,
    default_gateway,
    median,
    open_streams,
    spread,
)
from tests.fakes.cloudcode import FakeCloudCode, QuietHandler, Stream
from tests.upstream_env import upstream_section

TITLE: Final = "capacity (serve defaults, 1,000 streams)"
STREAMS: Final = 1000
STREAM_GAP: Final = 1.0
STARTS: Final = 3
HOLD_LIMIT: Final = 90.0
STREAM_MODEL: Final = "claude-sonnet-4-6"
PROBE_MODEL: Final = "gemini-2.5-flash"
ACCOUNTS: Final = ("cap-a", "cap-b", "cap-c")

START_GOAL: Final = Goal(1.0)
FIRST_BYTE_GOAL: Final = Goal(1.0)
PROBE_GOAL: Final = Goal(100.0)
MEMORY_GOAL: Final = Goal(250.0)
INTACT_GOAL: Final = Goal(STREAMS - 1, higher_is_better=True)

STREAM_REQUEST: Final = (
    b"POST /v1/messages HTTP/1.0\r\nHost: bench\r\nContent-Type: application/json\r\n"
    b"anthropic-version: 2023-06-01\r\nContent-Length: %d\r\n\r\n%s"
)
STREAM_BODY: Final = (
    b'{"model": "claude-sonnet-4-6", "max_tokens": 64, "stream": true,'
    b' "messages": [{"role": "user", "content": "count to ten"}]}'
)
PROBE_BODY: Final = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@contextmanager
def wide_fake(fake: FakeCloudCode) -> Iterator[str]:
    """``fake``, as scripted so far, served from a forked process; its URL."""
    server = make_server(
        "127.0.0.1", 0, fake, threaded=True, request_handler=QuietHandler
    )
    server.socket.listen(4096)
    child = multiprocessing.get_context("fork").Process(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    child.start()
    server.server_close()  # the child listens; the parent's copy goes
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        child.terminate()
        child.join(10)


def run() -> list[Measurement]:
    fake = FakeCloudCode()
    with tempfile.TemporaryDirectory(prefix="agp-cap-") as tmp:
        home = Path(tmp) / "home"
        seeded(home, fake, ACCOUNTS)
        for _ in range(STREAMS):
            fake.script(
                Stream(scripted_chunks(CHUNK_TEXTS), delay=STREAM_GAP),
                model=STREAM_MODEL,
            )
        with wide_fake(fake) as url:
            return _measure(home, url)


def _measure(home: Path, url: str) -> list[Measurement]:
    """Start-up times, then the hold, against the fake at ``url``."""
    data = {"proxy": {"auth_mode": "off"}, "upstream": upstream_section(url)}
    starts = []
    for _ in range(STARTS - 1):
        with default_gateway(home, data) as gateway:
            starts.append(gateway.started_to_healthy)
    with default_gateway(home, data) as gateway:
        starts.append(gateway.started_to_healthy)
        note = f"(median of {STARTS}: {spread(starts)} s)"
        start = report("serve to /healthz 200", median(starts), "s", START_GOAL, note)
        return [start, *hold(gateway.url, gateway.process.pid)]


def hold(url: str, pid: int) -> list[Measurement]:
    """``STREAMS`` streams at once, probed and sampled; the figures reported.

    The fake must have ``STREAMS`` streams scripted for ``STREAM_MODEL``.
    """
    memory = MemorySampler(pid)
    idle_rss, _ = memory.sample()
    prober = Prober({"healthz": _get(url + "/healthz"), "short": _short(url)})
    memory.start()
    prober.start()
    cpu_before = cpu_seconds(pid)
    try:
        request = STREAM_REQUEST % (len(STREAM_BODY), STREAM_BODY)
        streams = open_streams(url, request, STREAMS, time.monotonic() + HOLD_LIMIT)
    finally:
        prober.halt.set()
        memory.halt.set()
        prober.join(10)
        memory.join(10)
    cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000 / STREAMS
    return [*_figures(streams, prober, memory, idle_rss), _cpu_figure(cpu_ms, prober)]


def _cpu_figure(cpu_ms: float, prober: Prober) -> Measurement:
    """The gateway's CPU (all its processes) over the hold, per stream.

    Why: on a box this small the first byte waits for CPU; this is the figure
    that has to fall for the first byte to come sooner. The prober's requests
    are counted in it too (noted, a small share).
    """
    probes = sum(len(times) for times in prober.times.values())
    note = f"(hold total / {STREAMS}; {probes} probes included)"
    return report("gateway CPU per stream", cpu_ms, "ms", None, note)


def _figures(
    streams: Sequence[StreamResult],
    prober: Prober,
    memory: MemorySampler,
    idle_rss: float,
) -> list[Measurement]:
    intact = [s for s in streams if _intact(s)]
    waits = [s.first_byte - s.sent for s in streams if s.first_byte is not None]
    errors = {s.error for s in streams if s.error}
    note = f"(of {STREAMS}; {'; '.join(sorted(errors))[:60]})" if errors else ""
    per_stream = (memory.peak_rss - idle_rss) * 1024 / STREAMS
    health, short = prober.times["healthz"], prober.times["short"]
    failed = sum(prober.failures.values())
    return [
        report("streams intact", len(intact), "", INTACT_GOAL, note),
        report("first byte p50", percentile(waits, 0.5), "s", FIRST_BYTE_GOAL),
        report("first byte p99", percentile(waits, 0.99), "s"),
        report(
            "/healthz p99 in hold",
            percentile(health, 0.99) * 1000,
            "ms",
            PROBE_GOAL,
            f"({len(health)} probes, {failed} failed)",
        ),
        report(
            "short req p99 in hold", percentile(short, 0.99) * 1000, "ms", PROBE_GOAL
        ),
        report(
            "group RSS peak",
            memory.peak_rss,
            "MiB",
            MEMORY_GOAL,
            f"(PSS {memory.peak_pss:.0f}, idle RSS {idle_rss:.0f})",
        ),
        report("RSS per stream", per_stream, "KiB"),
    ]


def _intact(stream: StreamResult) -> bool:
    text = bytes(stream.data)
    if b" 200 " not in text[:16] or stream.ended is None:
        return False
    position = 0
    for chunk in CHUNK_TEXTS:
        position = text.find(chunk.encode(), position)
        if position < 0:
            return False
    return text.find(b"message_stop", position) > 0


def _get(url: str):  # type: ignore[no-untyped-def]
    def probe(session: requests.Session) -> None:
        with session.get(url, timeout=30) as reply:
            reply.raise_for_status()

    return probe


def _short(url: str):  # type: ignore[no-untyped-def]
    path = f"{url}/v1beta/models/{PROBE_MODEL}:generateContent"

    def probe(session: requests.Session) -> None:
        with session.post(path, json=PROBE_BODY, timeout=30) as reply:
            reply.raise_for_status()
            _ = reply.content

    return probe
