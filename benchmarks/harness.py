"""Shared benchmark machinery: the stack under test, timing loops and the report line.

``running_stack`` starts the loopback fake Cloud Code in this process, seeds two
accounts and runs the real ``antigravity-proxy serve`` (gunicorn, one gthread
worker) against it; both are stopped when the block ends. Latencies use
``time.perf_counter``; stream event times use ``time.monotonic`` because that is
the clock the fake stamps its writes with (same process, same clock). Every
client thread has its own ``requests.Session``, as a real client would. Also
here: what every client path measures the same way (added latency against the
gateway's own upstream envelope replayed to the fake, the delay of scripted
stream events, the CPU time of a translation).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import requests

from tests.e2e.conftest import run_gateway
from tests.fakes.cloudcode import FakeCloudCode, Stream, serve
from tests.upstream_env import read_account, seed_account, upstream_section

ACCOUNTS: Final = ("bench-a", "bench-b")
GATEWAY_THREADS: Final = 16
TIMEOUT: Final = 30.0
# The fake accepts any non-empty client pair when it is built without ``clients``.
OAUTH_CLIENT: Final = {"client_id": "bench-client", "client_secret": "bench-secret"}
UPSTREAM_STREAM: Final = "/v1internal:streamGenerateContent?alt=sse"

Send = Callable[[requests.Session], None]


@dataclass(frozen=True)
class Goal:
    """A target a measurement should stay below (or above, for throughput)."""

    limit: float
    higher_is_better: bool = False

    def met(self, value: float) -> bool:
        return value > self.limit if self.higher_is_better else value < self.limit

    def describe(self, unit: str) -> str:
        return f"{'>' if self.higher_is_better else '<'} {self.limit:g} {unit}"


ADDED_P50_GOAL: Final = Goal(1.0)  # issue 13, goal 3 (small requests)
EVENT_DELAY_GOAL: Final = Goal(10.0)
STREAMS: Final = 3
EVENT_GAP: Final = 0.1
# One unique text per scripted stream event, so each can be found on arrival.
CHUNK_TEXTS: Final = (*(f"word{i} " for i in range(9)), "end.")


@dataclass(frozen=True)
class Measurement:
    """One printed number; ``met`` is None when it has no goal."""

    name: str
    value: float
    unit: str
    goal: Goal | None
    met: bool | None


@dataclass(frozen=True)
class Stack:
    """The running fake and gateway; ``refresh_tokens`` maps e-mail to token.

    ``gateway_pid`` is the ``serve`` process (gunicorn's arbiter), when known.
    """

    fake: FakeCloudCode
    fake_url: str
    gateway_url: str
    refresh_tokens: Mapping[str, str]
    gateway_pid: int | None = None


@dataclass(frozen=True)
class StreamCall:
    """A streaming request to the gateway: path (with query), JSON body, headers."""

    path: str
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadResult:
    """What a fixed-duration concurrent load achieved."""

    completed: int
    failed: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0


@contextmanager
def running_stack(extra_config: Mapping[str, Any] | None = None) -> Iterator[Stack]:
    """Fake upstream + seeded accounts + the gateway (auth off); all stopped after."""
    fake = FakeCloudCode()
    with tempfile.TemporaryDirectory(prefix="agp-bench-") as tmp, serve(fake) as url:
        home = Path(tmp) / "home"
        tokens = seeded(home, fake)
        data = {
            "proxy": {"auth_mode": "off"},
            "upstream": upstream_section(url),
            **(extra_config or {}),
        }
        with run_gateway(home, data, workers=1, threads=GATEWAY_THREADS) as gateway:
            yield Stack(fake, url, gateway.base_url, tokens, gateway.process.pid)


def seeded(
    home: Path, fake: FakeCloudCode, names: Sequence[str] = ACCOUNTS
) -> dict[str, str]:
    """Seed the accounts ``names`` into ``home``; their refresh tokens by e-mail."""
    tokens = {}
    for name in names:
        seed_account(home, fake, name)
        account = read_account(home, name)
        tokens[account["email"]] = account["token"]["refresh_token"]
    return tokens


def access_token(session: requests.Session, stack: Stack, email: str) -> str:
    """A fresh access token for a seeded account, from the fake's ``/token``."""
    form = {
        "grant_type": "refresh_token",
        "refresh_token": stack.refresh_tokens[email],
        **OAUTH_CLIENT,
    }
    with session.post(stack.fake_url + "/token", data=form, timeout=TIMEOUT) as reply:
        reply.raise_for_status()
        token: str = reply.json()["access_token"]
    return token


def post_sender(url: str, data: bytes, headers: Mapping[str, str]) -> Send:
    """A ``Send`` that POSTs ``data`` and reads the whole answer, which must be 2xx."""
    fixed = {"Content-Type": "application/json", **headers}

    def send(session: requests.Session) -> None:
        with session.post(url, data=data, headers=fixed, timeout=TIMEOUT) as reply:
            reply.raise_for_status()
            _ = reply.content

    return send


def get_sender(url: str) -> Send:
    """A ``Send`` that GETs ``url`` and reads the whole answer, which must be 2xx."""

    def send(session: requests.Session) -> None:
        with session.get(url, timeout=TIMEOUT) as reply:
            reply.raise_for_status()
            _ = reply.content

    return send


@dataclass(frozen=True)
class DirectCall:
    """The gateway's own upstream request, ready to replay: URL, bytes, headers."""

    url: str
    data: bytes
    headers: Mapping[str, str]


def direct_request(stack: Stack, gateway: Send) -> DirectCall:
    """The gateway's upstream envelope for ``gateway``'s request, with a token.

    One request through the gateway records the exact envelope (project, model,
    session id) it sends upstream; replaying those bytes with a token for the
    same account asks the fake for the identical answer.
    """
    with requests.Session() as session:
        gateway(session)
        sent = stack.fake.calls(":streamGenerateContent")[-1]
        if sent.account_email is None:
            raise RuntimeError("the gateway's upstream call carried no known token")
        token = access_token(session, stack, sent.account_email)
    data = json.dumps(sent.json).encode()
    headers = {"Authorization": f"Bearer {token}"}
    return DirectCall(stack.fake_url + UPSTREAM_STREAM, data, headers)


def direct_sender(stack: Stack, gateway: Send) -> Send:
    """A ``Send`` POSTing the gateway's own upstream envelope straight to the fake."""
    call = direct_request(stack, gateway)
    return post_sender(call.url, call.data, call.headers)


def sequential_latencies(
    sends: Mapping[str, Send], count: int, warmup: int
) -> dict[str, list[float]]:
    """Seconds per request for each path, interleaved on one session.

    Why interleaved: alternating the paths request by request spreads any drift
    (CPU frequency, a background task) evenly over both, so their difference is
    the gateway's cost rather than the machine's mood.
    """
    samples: dict[str, list[float]] = {name: [] for name in sends}
    with requests.Session() as session:
        for _ in range(warmup):
            for send in sends.values():
                send(session)
        for _ in range(count):
            for name, send in sends.items():
                samples[name].append(_timed(send, session))
    return samples


def _timed(send: Send, session: requests.Session) -> float:
    start = time.perf_counter()
    send(session)
    return time.perf_counter() - start


def added_latency(
    samples: Mapping[str, Sequence[float]], goal: Goal | None = None
) -> list[Measurement]:
    """p50 and p99 of ``samples["gateway"]`` minus ``samples["direct"]``, reported.

    The note gives the ratio gateway / direct at the same percentile; the p50 is
    judged against ``ADDED_P50_GOAL``.
    """
    results = []
    for label, fraction in (("p50", 0.50), ("p99", 0.99)):
        via = percentile(samples["gateway"], fraction) * 1000
        bare = percentile(samples["direct"], fraction) * 1000
        note = f"(gateway {via / bare:.2f}x direct {bare:.2f} ms)"
        judged = (goal or ADDED_P50_GOAL) if label == "p50" else None
        results.append(report(f"added latency {label}", via - bare, "ms", judged, note))
    return results


def floor_latency(samples: Mapping[str, Sequence[float]]) -> list[Measurement]:
    """The floor's added p50 (``samples["floor"]`` minus ``["direct"]``) and the
    gateway's p50 over it: its own work (``benchmarks/passthrough.py``)."""
    p50 = {name: percentile(samples[name], 0.50) * 1000 for name in samples}
    return [
        report("floor added p50", p50["floor"] - p50["direct"], "ms", None,
               "(bare pass-through proxy)"),
        report("over floor p50", p50["gateway"] - p50["floor"], "ms", None,
               "(the gateway's own work)"),
    ]  # fmt: skip


def concurrent_load(send: Send, concurrency: int, seconds: float) -> LoadResult:
    """Run ``send`` in a closed loop on ``concurrency`` threads for ``seconds``.

    Each thread warms its own session up with one request, then all start
    together at a barrier; failures (transport errors, non-2xx) are counted.
    """
    counts: list[tuple[int, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(concurrency + 1, timeout=TIMEOUT)

    def worker() -> None:
        with requests.Session() as session:
            _closed_loop(send, session, 1, 0.0)
            barrier.wait()
            done = _closed_loop(send, session, 0, time.perf_counter() + seconds)
        with lock:
            counts.append(done)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return LoadResult(sum(c for c, _ in counts), sum(f for _, f in counts), elapsed)


def _closed_loop(
    send: Send, session: requests.Session, minimum: int, until: float
) -> tuple[int, int]:
    """Send at least ``minimum`` times and until ``until``: (completed, failed)."""
    completed = failed = 0
    while completed + failed < minimum or time.perf_counter() < until:
        try:
            send(session)
            completed += 1
        except requests.RequestException:
            failed += 1
    return completed, failed


def sse_arrivals(response: requests.Response) -> Iterator[tuple[float, bytes]]:
    """``(time.monotonic() at arrival, event text)`` for each SSE event received.

    A small splitter, not a full decoder: events end at a blank line, CRLF and LF
    both count, and a CR/LF pair split across reads is rejoined before matching.
    """
    buffer = b""
    for chunk in response.iter_content(chunk_size=None):
        arrived = time.monotonic()
        buffer = (buffer + chunk).replace(b"\r\n", b"\n")
        while b"\n\n" in buffer:
            event, _, buffer = buffer.partition(b"\n\n")
            yield arrived, event


def event_delays(stack: Stack, call: StreamCall) -> list[Measurement]:
    """Max and median delay from the fake writing an event to the client reading it.

    The fake sends ``CHUNK_TEXTS`` as chunks ``EVENT_GAP`` apart, ``STREAMS`` times.
    """
    delays: list[float] = []
    with requests.Session() as session:
        for _ in range(STREAMS):
            delays += stream_delays(stack, session, call)
    note = f"({len(delays)} events, {STREAMS} streams)"
    return [
        report("event delay max", max(delays) * 1000, "ms", EVENT_DELAY_GOAL, note),
        report("event delay median", statistics.median(delays) * 1000, "ms"),
    ]


def stream_delays(
    stack: Stack, session: requests.Session, call: StreamCall
) -> list[float]:
    """Seconds from each scripted chunk's write at the fake to its arrival here.

    Why match by text rather than by position: a client protocol may frame one
    upstream chunk as several events (Anthropic's ``message_start`` and
    ``content_block_start`` come with the first delta) or add its own at the end
    (``[DONE]``); the first event carrying a chunk's unique text is its arrival.
    """
    before = len(stack.fake.sent_times)
    stack.fake.script(Stream(scripted_chunks(CHUNK_TEXTS), delay=EVENT_GAP))
    url = stack.gateway_url + call.path
    with session.post(
        url, json=call.body, headers=call.headers, stream=True, timeout=TIMEOUT
    ) as response:
        response.raise_for_status()
        arrivals = list(sse_arrivals(response))
    sent = stack.fake.sent_times[before]
    if len(sent) != len(CHUNK_TEXTS):
        raise RuntimeError(f"fake sent {len(sent)} events, not {len(CHUNK_TEXTS)}")
    return [
        first_arrival(arrivals, text) - wrote
        for text, wrote in zip(CHUNK_TEXTS, sent, strict=True)
    ]


def first_arrival(arrivals: Sequence[tuple[float, bytes]], text: str) -> float:
    """Arrival time of the first event containing ``text``."""
    marker = text.encode()
    for arrived, event in arrivals:
        if marker in event:
            return arrived
    raise RuntimeError(f"no event carried {text!r}")


def scripted_chunks(texts: Sequence[str]) -> Sequence[Mapping[str, Any]]:
    """One Gemini text chunk per text; the last one finishes and carries usage."""
    *head, tail = [_text_chunk(text) for text in texts]
    candidate = {**tail["candidates"][0], "finishReason": "STOP"}
    usage = {"promptTokenCount": 5, "candidatesTokenCount": len(texts)}
    return [*head, {"candidates": [candidate], "usageMetadata": usage}]


def _text_chunk(text: str) -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}}]}


def translation_cpu(
    translate: Callable[[], object], repeat: int, goal: Goal | None, note: str
) -> list[Measurement]:
    """Median and best CPU milliseconds of ``translate()`` over ``repeat`` runs.

    Why ``time.process_time``: it counts this process's CPU only, so a busy
    neighbour does not inflate it; run it with no stack up, as nothing else here
    may then burn CPU. One untimed call first warms caches and imports.
    """
    translate()
    times = [_cpu_ms(translate) for _ in range(repeat)]
    return [
        report("translate cpu median", statistics.median(times), "ms", goal, note),
        report("translate cpu best", min(times), "ms", None, f"({repeat} runs)"),
    ]


def _cpu_ms(translate: Callable[[], object]) -> float:
    start = time.process_time()
    translate()
    return (time.process_time() - start) * 1000


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile (``fraction`` in 0..1) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def report(
    name: str, value: float, unit: str, goal: Goal | None = None, note: str = ""
) -> Measurement:
    """Print one aligned result line (goal and verdict included) and return it."""
    met = None if goal is None else goal.met(value)
    target = "" if goal is None else f"goal {goal.describe(unit)}"
    verdict = {None: "", True: "met", False: "MISSED"}[met]
    line = f"  {name:<22}{value:>9.2f} {unit:<6}{note:<34}{target:<16}{verdict}"
    print(line.rstrip(), flush=True)
    return Measurement(name, value, unit, goal, met)


def machine_summary() -> str:
    """One line naming the interpreter, the CPU count and the gateway's shape."""
    python = sys.version.split()[0]
    cpus = os.cpu_count() or 0
    return (
        f"python {python}, {cpus} CPUs, gunicorn 1 worker x {GATEWAY_THREADS} threads"
    )
