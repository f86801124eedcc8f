"""Worker memory after big and odd requests: does a worker give it back?

``serve`` with its default settings; ``ROUNDS`` rounds of a fixed mix sent by
``CONCURRENCY`` clients: large JSON bodies (sized and chunked), bodies over
``proxy.max_body_bytes`` (413), large multipart uploads, malformed and deeply
nested JSON. The workers' RSS (per worker) is printed before, once settled
(idle ``SETTLE`` seconds) after the first half of the rounds, and again after
the second half. Bounded means the second half adds nothing: its growth must
stay below ``GROWTH_GOAL`` MiB per worker. The group's peak is printed too.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

import requests

from antigravity_proxy.config import ServerConfig
from benchmarks.harness import Goal, Measurement, report
from benchmarks.loadtools import MemorySampler, default_gateway, rss_mib, worker_pids
from tests.fakes.cloudcode import FakeCloudCode, serve
from tests.upstream_env import seed_account, upstream_section

TITLE: Final = "memory (serve defaults, big and odd requests)"
LIMIT: Final = 32 * 1024 * 1024
ROUNDS: Final = 6
CONCURRENCY: Final = 4
SETTLE: Final = 3.0
GROWTH_GOAL: Final = Goal(16.0)
BOOT_WAIT: Final = 10.0
BOOT_SETTLE: Final = 1.0

Send = Callable[[requests.Session, str], None]


def _post(path: str, data: bytes | list[bytes], **headers: str) -> Send:
    """A list of pieces goes up chunked (``requests`` sends an iterator so)."""

    def send(session: requests.Session, url: str) -> None:
        body = data if isinstance(data, bytes) else iter(data)
        with session.post(url + path, data=body, headers=headers, timeout=120) as r:
            _ = r.content

    return send


def _chunks(data: bytes, size: int = 1 << 20) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _messages(size: int) -> bytes:
    text = "x" * 1000
    turns = [f'{{"role": "user", "content": "{text}"}}' for _ in range(size // 1030)]
    return (
        '{"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": ['
        + ",".join(turns)
        + "]}"
    ).encode()


def _multipart(size: int) -> tuple[bytes, str]:
    boundary = "agp-bench"
    wav = b"RIFF" + b"\x00" * size
    parts = io.BytesIO()
    parts.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n'
        f"whisper-1\r\n--{boundary}\r\nContent-Disposition: form-data; "
        f'name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n'.encode()
    )
    parts.write(wav + f"\r\n--{boundary}--\r\n".encode())
    return parts.getvalue(), f"multipart/form-data; boundary={boundary}"


def mix() -> list[Send]:
    """One round: what a hostile or merely careless client population sends."""
    json_type = {"Content-Type": "application/json"}
    big = _messages(20 << 20)
    over = b'{"pad": "' + b"y" * (LIMIT + 1024) + b'"}'
    form, form_type = _multipart(12 << 20)
    deep = b"[" * 50_000 + b"]" * 50_000
    return [
        _post("/v1/messages/count_tokens", big, **json_type),
        _post("/v1/messages/count_tokens", _chunks(big), **json_type),
        _post("/v1/chat/completions", over, **json_type),
        _post("/v1/chat/completions", _chunks(over), **json_type),
        _post("/v1/audio/transcriptions", form, **{"Content-Type": form_type}),
        _post("/v1/responses", b'{"input": ' + b'"z' * (8 << 20), **json_type),
        _post("/v1/messages", deep, **json_type),
    ]


def run() -> list[Measurement]:
    fake = FakeCloudCode()
    with tempfile.TemporaryDirectory(prefix="agp-mem-") as tmp, serve(fake) as url:
        home = Path(tmp) / "home"
        seed_account(home, fake, "mem-a")
        data = {
            "proxy": {"auth_mode": "off", "max_body_bytes": LIMIT},
            "upstream": upstream_section(url),
        }
        with default_gateway(home, data) as gateway:
            return _measure(gateway.url, gateway.process.pid)


def _measure(url: str, pid: int) -> list[Measurement]:
    workers = _all_workers(pid)
    before = _workers_rss(pid) / workers
    sampler = MemorySampler(pid)
    sampler.start()
    started = time.perf_counter()
    first = _load_and_settle(url, pid, ROUNDS // 2) / workers
    second = _load_and_settle(url, pid, ROUNDS - ROUNDS // 2) / workers
    seconds = time.perf_counter() - started
    sampler.halt.set()
    sampler.join(5)
    count = len(mix()) * ROUNDS
    note = f"({count} requests in {seconds:.0f} s, {workers} workers)"
    return [
        report("worker RSS before", before, "MiB"),
        report("group RSS peak", sampler.peak_rss, "MiB", None, note),
        report("worker RSS settled", first - before, "MiB+", None, "(first half)"),
        report("second half growth", second - first, "MiB", GROWTH_GOAL),
    ]


def _all_workers(pid: int) -> int:
    """Wait for every default worker, booted; how many there are.

    Why: ``/healthz`` answers as soon as the first worker is up, and gunicorn
    forks the next up to 0.1 s later: counted then, one worker's RSS was the
    "before" of two.
    """
    deadline = time.monotonic() + BOOT_WAIT
    while len(worker_pids(pid)) < ServerConfig().workers:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    time.sleep(BOOT_SETTLE)  # the last one forked may still be in create_app
    return len(worker_pids(pid))


def _load_and_settle(url: str, pid: int, rounds: int) -> float:
    """Send ``rounds`` rounds of the mix, idle ``SETTLE`` s; the workers' RSS."""
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(lambda send: _send(send, url), mix() * rounds))
    time.sleep(SETTLE)
    return _workers_rss(pid)


def _send(send: Send, url: str) -> None:
    with requests.Session() as session:
        try:
            send(session, url)
        except requests.RequestException:
            pass  # a refused upload may end in a reset; the memory is the point


def _workers_rss(pid: int) -> float:
    return sum(rss_mib(worker) for worker in worker_pids(pid))
