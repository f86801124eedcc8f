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
from typing import Final

from benchmarks.harness import (
    GATEWAY_THREADS,
    Goal,
    Measurement,
    Send,
    StreamCall,
    added_latency,
    concurrent_load,
    direct_request,
    event_delays,
    floor_latency,
    get_sender,
    percentile,
    post_sender,
    report,
    running_stack,
    sequential_latencies,
)
from benchmarks.passthrough import running_passthrough

TITLE: Final = "gemini generateContent / streamGenerateContent"
MODEL: Final = "gemini-3-flash"
GENERATE: Final = f"/v1beta/models/{MODEL}:generateContent"
STREAM: Final = f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
HEALTH: Final = "/healthz"
BODY: Final = {"contents": [{"role": "user", "parts": [{"text": "Say hi in 5 words"}]}]}

REQUESTS: Final = 300
WARMUP: Final = 30
CONCURRENCY: Final = 16
LOAD_SECONDS: Final = 5.0
THROUGHPUT_GOAL: Final = Goal(0.6, higher_is_better=True)  # issue 13, goal 3


def run() -> list[Measurement]:
    """Start the stack, measure every number of this path, stop the stack."""
    with running_stack() as stack:
        body = json.dumps(BODY).encode()
        gateway = post_sender(stack.gateway_url + GENERATE, body, {})
        call = direct_request(stack, gateway)
        direct = post_sender(call.url, call.data, call.headers)
        hop = get_sender(stack.gateway_url + HEALTH)
        auth = call.headers["Authorization"]
        with running_passthrough(call.url, auth, GATEWAY_THREADS) as floor_url:
            floor = post_sender(floor_url, call.data, {})
            found = latencies(gateway, direct, hop, floor)
        return [
            *found,
            *throughput(gateway, direct),
            *event_delays(stack, StreamCall(STREAM, BODY)),
        ]


def latencies(gateway: Send, direct: Send, hop: Send, floor: Send) -> list[Measurement]:
    """Added p50/p99 (gateway - direct), the ``/healthz`` p50 and the floor.

    ``hop``, measured in the same interleaved loop, shows how much of the added
    time is the client-to-gunicorn round trip alone; ``floor`` (a bare
    pass-through proxy on the same stack, ``benchmarks/passthrough.py``) what
    any gateway built on gunicorn and ``requests`` adds at the least, so the
    gateway's own work is its added p50 minus the floor's.
    """
    sends = {"gateway": gateway, "direct": direct, "hop": hop, "floor": floor}
    samples = sequential_latencies(sends, REQUESTS, WARMUP)
    hop_p50 = percentile(samples["hop"], 0.50) * 1000
    return [
        *added_latency(samples),
        report("/healthz p50", hop_p50, "ms", None, "(gunicorn hop only)"),
        *floor_latency(samples),
    ]


def throughput(gateway: Send, direct: Send) -> list[Measurement]:
    """Requests per second through the gateway at concurrency 16, and as a
    fraction of the direct call's (the goal)."""
    through = concurrent_load(gateway, CONCURRENCY, LOAD_SECONDS)
    bare = concurrent_load(direct, CONCURRENCY, LOAD_SECONDS)
    failed = through.failed + bare.failed
    note = f"(direct {bare.per_second:.0f}/s" + (
        f", {failed} failed)" if failed else ")"
    )
    ratio = through.per_second / bare.per_second if bare.per_second else 0.0
    return [
        report(f"req/s at c={CONCURRENCY}", through.per_second, "req/s", None, note),
        report("  of direct", ratio, "x", THROUGHPUT_GOAL),
    ]
