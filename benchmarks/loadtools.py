"""Tools for the capacity and memory benchmarks: a default-settings gateway, many
streams from one thread, a prober and a process-group memory sampler.

``default_gateway`` runs ``antigravity-proxy serve`` with nothing about the server
set but host and port, so what is measured is what a user gets. ``open_streams``
drives hundreds of HTTP/1.0 requests from a single ``selectors`` loop (a thread
per client would measure the client): HTTP/1.0 makes the gateway close each
answer at its end, so a stream is whole when its bytes end with the protocol's
last event. ``MemorySampler`` sums the RSS (and PSS) of the gunicorn master and
all its children from ``/proc``.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

HEALTH_WAIT = 30.0


@dataclass
class Gateway:
    process: subprocess.Popen[bytes]
    url: str
    started_to_healthy: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def default_gateway(home: Path, data: Mapping[str, Any]) -> Iterator[Gateway]:
    """``serve`` with the default server settings; timed from spawn to a 200."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.yaml"
    config.write_text(yaml.safe_dump({"home": str(home), **data}), encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTIGRAVITY_")}
    command = [sys.executable, "-m", "antigravity_proxy.cli", "--config", str(config)]
    command += ["serve", "--host", "127.0.0.1", "--port", str(port)]
    log = open(home / "gateway.log", "wb")  # noqa: SIM115 - closed below
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(process, url)
        yield Gateway(process, url, time.perf_counter() - started)
    finally:
        _stop(process)
        log.close()


def wait_healthy(process: subprocess.Popen[bytes], url: str) -> None:
    """Poll ``url``'s ``/healthz`` until a 200; an exited process or 30 s fails."""
    deadline = time.perf_counter() + HEALTH_WAIT
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server for {url} exited during start-up")
        try:
            with requests.get(url + "/healthz", timeout=1) as reply:
                if reply.status_code == 200:
                    return
        except requests.ConnectionError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url}/healthz never answered 200")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


@dataclass
class StreamResult:
    """One client stream: when it was sent, its first byte, its end and bytes."""

    sent: float = 0.0
    first_byte: float | None = None
    ended: float | None = None
    data: bytearray = field(default_factory=bytearray)
    error: str = ""


def open_streams(
    url: str, request: bytes, count: int, deadline: float
) -> list[StreamResult]:
    """Send ``request`` on ``count`` connections at once; read all until EOF."""
    host, port = url.removeprefix("http://").split(":")
    selector = selectors.DefaultSelector()
    results = [StreamResult() for _ in range(count)]
    for result in results:
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex((host, int(port)))
        selector.register(sock, selectors.EVENT_WRITE, result)
    open_count = count
    while open_count and time.monotonic() < deadline:
        for key, events in selector.select(timeout=0.5):
            if _step(selector, key, events, request):
                open_count -= 1
    for key in list(selector.get_map().values()):
        key.data.error = key.data.error or "unfinished at the deadline"
        selector.unregister(key.fileobj)
        key.fileobj.close()  # type: ignore[union-attr]
    selector.close()
    return results


def _step(
    selector: selectors.BaseSelector,
    key: selectors.SelectorKey,
    events: int,
    request: bytes,
) -> bool:
    """Send the request once writable, then read; True when the stream ended."""
    sock: socket.socket = key.fileobj  # type: ignore[assignment]
    result: StreamResult = key.data
    try:
        if events & selectors.EVENT_WRITE:
            sock.sendall(request)  # small: fits the socket buffer at once
            result.sent = time.monotonic()
            selector.modify(sock, selectors.EVENT_READ, result)
            return False
        data = sock.recv(65536)
    except OSError as exc:
        data, result.error = b"", f"{type(exc).__name__}: {exc}"
    if data:
        if result.first_byte is None:
            result.first_byte = time.monotonic()
        result.data += data
        return False
    result.ended = time.monotonic()
    selector.unregister(sock)
    sock.close()
    return True


class Prober(threading.Thread):
    """Times ``probes`` (name -> one request) in turn until stopped."""

    def __init__(self, probes: Mapping[str, Callable[[requests.Session], None]]):
        super().__init__(daemon=True)
        self.probes = probes
        self.times: dict[str, list[float]] = {name: [] for name in probes}
        self.failures: dict[str, int] = dict.fromkeys(probes, 0)
        self.halt = threading.Event()

    def run(self) -> None:
        with requests.Session() as session:
            while not self.halt.is_set():
                for name, probe in self.probes.items():
                    started = time.perf_counter()
                    try:
                        probe(session)
                        self.times[name].append(time.perf_counter() - started)
                    except requests.RequestException:
                        self.failures[name] += 1
                self.halt.wait(0.05)


class MemorySampler(threading.Thread):
    """Peak summed RSS and PSS (MiB) of a process and its children."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_rss = 0.0
        self.peak_pss = 0.0
        self.halt = threading.Event()

    def sample(self) -> tuple[float, float]:
        pids = [self.pid, *_children(self.pid)]
        rss = sum(_kib(p, "status", "VmRSS:") for p in pids) / 1024
        pss = sum(_kib(p, "smaps_rollup", "Pss:") for p in pids) / 1024
        return rss, pss

    def run(self) -> None:
        while not self.halt.is_set():
            rss, pss = self.sample()
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.halt.wait(self.interval)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in task.read_text().split()]
        except OSError:
            continue
    return found


def _kib(pid: int, name: str, label: str) -> int:
    try:
        text = Path(f"/proc/{pid}/{name}").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(label):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process and its children so far."""
    ticks = 0
    for each in (pid, *_children(pid)):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def worker_pids(pid: int) -> list[int]:
    return _children(pid)


def rss_mib(pid: int) -> float:
    return _kib(pid, "status", "VmRSS:") / 1024


def spread(values: Sequence[float]) -> str:
    """``min-max`` of repeated figures, for the note column."""
    return f"{min(values):.2f}-{max(values):.2f}" if values else "-"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
