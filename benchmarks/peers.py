"""``python -m benchmarks.peers`` (``make bench-peers``): the gateway beside LiteLLM.

Both gateways run at once against the one loopback fake (``peer_stack``) and are
driven with the same protocol and bytes: the small request and the streams are
OpenAI ``POST /v1/chat/completions`` (LiteLLM's native surface), the 684 KB
Claude Code request is Anthropic ``POST /v1/messages`` (both serve it). Each
gateway's "direct" is the exact upstream request it sent, recorded by the fake
and replayed straight to it: the gateway's Cloud Code envelope to
``v1internal:streamGenerateContent?alt=sse``, LiteLLM's Gemini API call to
``/v1beta/models/...``; added latency is a gateway's time minus its own direct.
All four paths are interleaved request by request on one session (see
``harness.sequential_latencies``). Printed: one table, a column per gateway
plus the direct calls (Cloud Code / Gemini API), the goal of issue 13 beside
each gateway figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import requests

from benchmarks.agent_request import HTTP_SIZE, agent_body
from benchmarks.anthropic_path import HEADERS as ANTHROPIC_HEADERS
from benchmarks.harness import (
    CHUNK_TEXTS,
    EVENT_GAP,
    TIMEOUT,
    Send,
    Stack,
    access_token,
    concurrent_load,
    first_arrival,
    machine_summary,
    percentile,
    post_sender,
    scripted_chunks,
    sequential_latencies,
    sse_arrivals,
)
from benchmarks.peer_stack import API_KEY, PeerStack, peer_stack, tree_rss_mb
from tests.fakes.cloudcode import Stream

CHAT: Final = "/v1/chat/completions"
MESSAGES: Final = "/v1/messages"
UPSTREAM_STREAM: Final = "/v1internal:streamGenerateContent?alt=sse"
SMALL: Final = {
    "model": "gemini-3-flash",
    "messages": [{"role": "user", "content": "Say hi in 5 words"}],
}
LITELLM_HEADERS: Final = {"Authorization": "Bearer bench-client-key"}
REQUESTS: Final = 200
WARMUP: Final = 20
AGENT_REQUESTS: Final = 30
AGENT_WARMUP: Final = 3
CONCURRENCY: Final = 16
LOAD_SECONDS: Final = 4.0
STREAMS: Final = 3
DEFAULT_LITELLM: Final = Path(".bench/litellm/bin/litellm")


@dataclass(frozen=True)
class Call:
    """One request: URL, body bytes, headers."""

    url: str
    data: bytes
    headers: Mapping[str, str]

    def sender(self) -> Send:
        return post_sender(self.url, self.data, self.headers)


@dataclass(frozen=True)
class Row:
    """One table line: label, gateway, LiteLLM, direct (text), goal (text)."""

    label: str
    gateway: float
    litellm: float
    direct: str
    goal: str = ""


def gateway_replay(stack: PeerStack) -> Call:
    """The gateway's last upstream call, replayed to the fake with a fresh token."""
    sent = stack.fake.calls(":streamGenerateContent")[-1]
    if sent.account_email is None:
        raise RuntimeError("the gateway's upstream call carried no known token")
    shim = Stack(stack.fake, stack.fake_url, stack.gateway_url, stack.refresh_tokens)
    with requests.Session() as session:
        token = access_token(session, shim, sent.account_email)
    data = json.dumps(sent.json).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    return Call(stack.fake_url + UPSTREAM_STREAM, data, headers)


def litellm_replay(stack: PeerStack) -> Call:
    """LiteLLM's last Gemini API call (path, query, body, key), replayed to the fake."""
    sent = stack.api.requests[-1]
    query = "&".join(f"{k}={v}" for k, v in sent.query.items())
    url = stack.fake_url + sent.path + (f"?{query}" if query else "")
    headers = {"Content-Type": "application/json", "x-goog-api-key": API_KEY}
    return Call(url, json.dumps(sent.json).encode(), headers)


def four_paths(stack: PeerStack, path: str, body: Mapping[str, Any]) -> dict[str, Call]:
    """Gateway, LiteLLM and each one's direct replay for one client request."""
    data = json.dumps(body).encode()
    extra = ANTHROPIC_HEADERS if path == MESSAGES else {}
    json_type = {"Content-Type": "application/json"}
    gateway = Call(stack.gateway_url + path, data, {**json_type, **extra})
    litellm = Call(stack.litellm_url + path, data, {**json_type, **LITELLM_HEADERS})
    with requests.Session() as session:
        gateway.sender()(session)
        cc_direct = gateway_replay(stack)
        litellm.sender()(session)
        api_direct = litellm_replay(stack)
    return {"gateway": gateway, "litellm": litellm, "cc": cc_direct, "api": api_direct}


def latency_rows(
    label: str, calls: Mapping[str, Call], count: int, warmup: int, goal: str
) -> list[Row]:
    """Added p50 (and p99 for the small request) of both gateways over their direct."""
    sends = {name: call.sender() for name, call in calls.items()}
    samples = sequential_latencies(sends, count, warmup)
    rows = []
    for name, fraction in (("p50", 0.5), ("p99", 0.99)):
        ms = {k: percentile(v, fraction) * 1000 for k, v in samples.items()}
        rows.append(
            Row(
                f"{label} added {name} ms",
                ms["gateway"] - ms["cc"],
                ms["litellm"] - ms["api"],
                f"{ms['cc']:.2f} / {ms['api']:.2f}",
                goal if name == "p50" else "",
            )
        )
    return rows


def throughput_row(calls: Mapping[str, Call]) -> Row:
    """Requests per second at c=16 of each gateway as a ratio of its direct."""
    rates = {}
    for name, call in calls.items():
        load = concurrent_load(call.sender(), CONCURRENCY, LOAD_SECONDS)
        if load.failed:
            print(f"  note: {name} had {load.failed} failed requests under load")
        rates[name] = load.per_second
    return Row(
        f"req/s at c={CONCURRENCY} / direct",
        rates["gateway"] / rates["cc"],
        rates["litellm"] / rates["api"],
        f"{rates['cc']:.0f} / {rates['api']:.0f} req/s",
        ">= 0.6",
    )


def stream_timings(
    call: Call, sent_times: Callable[[], list[list[float]]], script: Callable[[], None]
) -> tuple[float, list[float]]:
    """First scripted event's arrival after the request, and every event's delay.

    The delay of an event is its arrival here minus its write at the fake (one
    process, one ``time.monotonic`` clock); arrival is that of the first client
    event carrying the chunk's unique text, whatever the framing.
    """
    before = len(sent_times())
    script()
    with requests.Session() as session:
        start = time.monotonic()
        with session.post(
            call.url, data=call.data, headers=call.headers, stream=True, timeout=TIMEOUT
        ) as response:
            response.raise_for_status()
            arrivals = list(sse_arrivals(response))
    sent = sent_times()[before]
    first = first_arrival(arrivals, CHUNK_TEXTS[0]) - start
    delays = [
        first_arrival(arrivals, text) - wrote
        for text, wrote in zip(CHUNK_TEXTS, sent, strict=True)
    ]
    return first, delays


def stream_rows(stack: PeerStack) -> list[Row]:
    """First event after the request (p50) and event delay median / max."""
    calls = four_paths(stack, CHAT, {**SMALL, "stream": True})
    sources = {
        "gateway": stack.fake,
        "cc": stack.fake,
        "litellm": stack.api,
        "api": stack.api,
    }

    def script() -> None:
        stack.fake.script(Stream(scripted_chunks(CHUNK_TEXTS), delay=EVENT_GAP))

    firsts: dict[str, list[float]] = {}
    delays: dict[str, list[float]] = {}
    for name, call in calls.items():
        source = sources[name]
        for _ in range(STREAMS):
            first, each = stream_timings(call, lambda s=source: s.sent_times, script)
            firsts.setdefault(name, []).append(first * 1000)
            delays.setdefault(name, []).extend(d * 1000 for d in each)
    return [
        _stream_row("stream first event p50 ms", firsts, statistics.median, ""),
        _stream_row("event delay median ms", delays, statistics.median, ""),
        _stream_row("event delay max ms", delays, max, "< 10"),
    ]


def _stream_row(
    label: str,
    values: Mapping[str, Sequence[float]],
    pick: Callable[[Sequence[float]], float],
    goal: str,
) -> Row:
    direct = f"{pick(values['cc']):.2f} / {pick(values['api']):.2f}"
    return Row(label, pick(values["gateway"]), pick(values["litellm"]), direct, goal)


def rss_row(label: str, stack: PeerStack, goal: str) -> Row:
    gateway = tree_rss_mb(stack.gateway_pid)
    litellm = tree_rss_mb(stack.litellm_pid)
    return Row(label, gateway, litellm, "-", goal)


def measure(litellm: Path) -> list[Row]:
    """Start the stack, run every measurement in a fixed order, stop the stack."""
    with peer_stack(litellm) as stack:
        rows = [rss_row("RSS idle MB (process tree)", stack, "<= 60 per worker")]
        small = four_paths(stack, CHAT, SMALL)
        rows += latency_rows("small", small, REQUESTS, WARMUP, "<= 1.0")
        rows.append(throughput_row(small))
        rows += stream_rows(stack)
        agent = four_paths(stack, MESSAGES, agent_body(HTTP_SIZE))
        size = f"{len(agent['gateway'].data) // 1000} KB"
        rows += latency_rows(
            f"agent {size}", agent, AGENT_REQUESTS, AGENT_WARMUP, "<= 5.0"
        )[:1]
        rows.append(rss_row("RSS after runs MB", stack, "<= 250"))
    return rows


def table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table (also readable as plain text)."""
    lines = [
        "| measure | antigravity-proxy | LiteLLM | direct (Cloud Code / Gemini API) "
        "| goal (issue 13) |",
        "|---|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.label} | {row.gateway:.2f} | {row.litellm:.2f} | {row.direct} "
            f"| {row.goal} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--litellm", type=Path, default=DEFAULT_LITELLM)
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"antigravity-proxy vs LiteLLM ({machine_summary()})", flush=True)
    print(f"LiteLLM: {litellm_version(args.litellm)}, 1 uvicorn worker", flush=True)
    rows = measure(args.litellm)
    print(table(rows))
    print(f"{time.perf_counter() - started:.1f} s")


def litellm_version(binary: Path) -> str:
    """The installed LiteLLM version, read from its environment's metadata."""
    site = sorted(binary.parent.parent.glob("lib/python*/site-packages"))
    for folder in site:
        for info in folder.glob("litellm-*.dist-info"):
            return info.name.removesuffix(".dist-info").replace("-", " ")
    return "version unknown"


if __name__ == "__main__":
    main()
