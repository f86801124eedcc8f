"""The Gemini path: added latency, throughput and stream event delay of the gateway.

Non-streaming: ``POST /v1beta/models/gemini-3-flash:generateContent`` through the
gateway (which calls the upstream's ``streamGenerateContent?alt=sse`` and merges)
against the very envelope the gateway sent, POSTed straight to the fake's
``:streamGenerateContent?alt=sse`` with a bearer from the fake's ``/token``. Both
paths use the same session, warm-up and request count, interleaved. Streaming:
the fake sends 10 events 100 ms apart; each event's delay is the client's arrival
time minus the fake's write time.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from typing import Any, Final

import requests

from benchmarks.harness import (
    TIMEOUT,
    Goal,
    Measurement,
    Send,
    Stack,
    access_token,
    concurrent_load,
    get_sender,
    percentile,
    post_sender,
    report,
    running_stack,
    sequential_latencies,
    sse_arrivals,
)
from tests.fakes.cloudcode import Stream

TITLE: Final = "gemini generateContent / streamGenerateContent"
MODEL: Final = "gemini-3-flash"
GENERATE: Final = f"/v1beta/models/{MODEL}:generateContent"
STREAM: Final = f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
HEALTH: Final = "/healthz"
UPSTREAM_STREAM: Final = "/v1internal:streamGenerateContent?alt=sse"
BODY: Final = {"contents": [{"role": "user", "parts": [{"text": "Say hi in 5 words"}]}]}

REQUESTS: Final = 300
WARMUP: Final = 30
CONCURRENCY: Final = 16
LOAD_SECONDS: Final = 5.0
STREAMS: Final = 3
EVENTS: Final = 10
EVENT_GAP: Final = 0.1

ADDED_P50_GOAL: Final = Goal(2.0)
EVENT_DELAY_GOAL: Final = Goal(10.0)


def run() -> list[Measurement]:
    """Start the stack, measure every number of this path, stop the stack."""
    with running_stack() as stack:
        body = json.dumps(BODY).encode()
        gateway = post_sender(stack.gateway_url + GENERATE, body, {})
        direct = direct_sender(stack, gateway)
        hop = get_sender(stack.gateway_url + HEALTH)
        return [
            *added_latency(gateway, direct, hop),
            throughput(gateway, direct),
            *event_delays(stack),
        ]


def direct_sender(stack: Stack, gateway: Send) -> Send:
    """A ``Send`` replaying the gateway's own upstream envelope to the fake.

    One request through the gateway records the exact envelope (project, model,
    session id) it sends upstream; the direct path POSTs those bytes with a token
    for the same account, so both paths ask the fake for the identical answer.
    """
    with requests.Session() as session:
        gateway(session)
        sent = stack.fake.calls(":streamGenerateContent")[-1]
        if sent.account_email is None:
            raise RuntimeError("the gateway's upstream call carried no known token")
        token = access_token(session, stack, sent.account_email)
    data = json.dumps(sent.json).encode()
    headers = {"Authorization": f"Bearer {token}"}
    return post_sender(stack.fake_url + UPSTREAM_STREAM, data, headers)


def added_latency(gateway: Send, direct: Send, hop: Send) -> list[Measurement]:
    """p50 and p99 of (gateway - direct), each with its ratio to the direct time.

    ``hop`` (the gateway's ``/healthz``, measured in the same loop) shows how much
    of the added time is the client-to-gunicorn round trip alone.
    """
    sends = {"gateway": gateway, "direct": direct, "hop": hop}
    samples = sequential_latencies(sends, REQUESTS, WARMUP)
    results = []
    for label, fraction in (("p50", 0.50), ("p99", 0.99)):
        via = percentile(samples["gateway"], fraction) * 1000
        bare = percentile(samples["direct"], fraction) * 1000
        note = f"(gateway {via / bare:.2f}x direct {bare:.2f} ms)"
        goal = ADDED_P50_GOAL if label == "p50" else None
        results.append(report(f"added latency {label}", via - bare, "ms", goal, note))
    hop_p50 = percentile(samples["hop"], 0.50) * 1000
    results.append(report("/healthz p50", hop_p50, "ms", None, "(gunicorn hop only)"))
    return results


def throughput(gateway: Send, direct: Send) -> Measurement:
    """Requests per second through the gateway at concurrency 16 (direct for scale)."""
    through = concurrent_load(gateway, CONCURRENCY, LOAD_SECONDS)
    bare = concurrent_load(direct, CONCURRENCY, LOAD_SECONDS)
    failed = through.failed + bare.failed
    note = f"(direct {bare.per_second:.0f}/s" + (
        f", {failed} failed)" if failed else ")"
    )
    return report(f"req/s at c={CONCURRENCY}", through.per_second, "req/s", None, note)


def event_delays(stack: Stack) -> list[Measurement]:
    """Max and median delay from the fake writing an event to the client reading it."""
    delays: list[float] = []
    with requests.Session() as session:
        for _ in range(STREAMS):
            delays += stream_delays(stack, session)
    note = f"({len(delays)} events, {STREAMS} streams)"
    return [
        report("event delay max", max(delays) * 1000, "ms", EVENT_DELAY_GOAL, note),
        report("event delay median", statistics.median(delays) * 1000, "ms"),
    ]


def stream_delays(stack: Stack, session: requests.Session) -> list[float]:
    """Seconds from each scripted event's write at the fake to its arrival here."""
    before = len(stack.fake.sent_times)
    stack.fake.script(Stream(scripted_chunks(EVENTS), delay=EVENT_GAP))
    url = stack.gateway_url + STREAM
    with session.post(url, json=BODY, stream=True, timeout=TIMEOUT) as response:
        response.raise_for_status()
        arrivals = [at for at, _ in sse_arrivals(response)]
    sent = stack.fake.sent_times[before]
    if len(arrivals) != len(sent):
        raise RuntimeError(f"fake sent {len(sent)} events, client got {len(arrivals)}")
    return [got - wrote for got, wrote in zip(arrivals, sent, strict=True)]


def scripted_chunks(count: int) -> Sequence[Mapping[str, Any]]:
    """``count`` text chunks; the last one finishes and carries usage."""
    chunks = [_text_chunk(f"word{i} ") for i in range(count - 1)]
    usage = {"promptTokenCount": 5, "candidatesTokenCount": count}
    return [*chunks, {**_text_chunk("end.", "STOP"), "usageMetadata": usage}]


def _text_chunk(text: str, finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {
        "content": {"role": "model", "parts": [{"text": text}]}
    }
    if finish is not None:
        candidate["finishReason"] = finish
    return {"candidates": [candidate]}
