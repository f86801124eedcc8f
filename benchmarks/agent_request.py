"""Agent-sized requests: a Claude Code session deep into its work.

Claude Code resends the whole conversation every turn: after an hour that is
hundreds of KB of tool calls and results. Two numbers matter (issue 13):

- added latency of the 684 KB request through the gateway (``POST
  /v1/messages``, 20 tools, 150 ``tool_use``/``tool_result`` pairs) over the
  gateway's own upstream envelope POSTed straight to the fake; goal 5 ms;
  the gateway runs with the bench's usual shape (see ``harness``);
- the gateway's CPU per request at 100 KB, 700 KB and 3 MB (goal 4: cost grows
  linearly, not worse). Measured where the work happens: the gunicorn worker's
  own CPU time (user + system, all its threads, from ``/proc``) over a run of
  sequential requests, divided by their count, so a busy neighbour on a shared
  machine does not inflate it the way it inflates wall-clock time. Judged: the
  marginal cost per MB from 700 KB to 3 MB over that from 100 KB to 700 KB
  (1.0 is exactly linear; the fixed cost of a request cancels out).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

import requests

from benchmarks.anthropic_path import HEADERS, MODEL, SYSTEM_PROMPT, agent_steps, tool
from benchmarks.harness import (
    GATEWAY_THREADS,
    Goal,
    Measurement,
    Send,
    Stack,
    added_latency,
    direct_request,
    floor_latency,
    post_sender,
    report,
    running_stack,
    sequential_latencies,
)
from benchmarks.loadtools import worker_pids
from benchmarks.passthrough import running_passthrough

TITLE: Final = "agent requests (Claude Code sessions, /v1/messages)"
PAIRS: Final = 150
TOOLS: Final = 20
HTTP_SIZE: Final = 684_000
CPU_SIZES: Final = (100_000, 700_000, 3_000_000)
ADDED_GOAL: Final = Goal(5.0)
LINEAR_GOAL: Final = Goal(1.25)
CPU_WARMUP: Final = 3
CPU_BUDGET: Final = 1.5
"""Worker CPU seconds to spend per size: ``/proc`` counts in clock ticks (10 ms)."""
CPU_MIN_REQUESTS: Final = 10
CPU_MAX_REQUESTS: Final = 600
REQUESTS: Final = 60
WARMUP: Final = 5


def run() -> list[Measurement]:
    with running_stack() as stack:
        results = request_cpu(stack)
        raw = json.dumps(agent_body(HTTP_SIZE)).encode()
        gateway = post_sender(stack.gateway_url + "/v1/messages", raw, HEADERS)
        call = direct_request(stack, gateway)
        direct = post_sender(call.url, call.data, call.headers)
        auth = call.headers["Authorization"]
        with running_passthrough(call.url, auth, GATEWAY_THREADS) as floor_url:
            floor = post_sender(floor_url, call.data, {})
            sends = {"gateway": gateway, "direct": direct, "floor": floor}
            samples = sequential_latencies(sends, REQUESTS, WARMUP)
        results += added_latency(samples, ADDED_GOAL)
        results += floor_latency(samples)
    return results


def request_cpu(stack: Stack) -> list[Measurement]:
    """Worker CPU ms per request at each of ``CPU_SIZES``, and its linearity."""
    if stack.gateway_pid is None:
        raise RuntimeError("the gateway's process id is needed to read its CPU time")
    workers = worker_pids(stack.gateway_pid)
    results, points = [], []
    for size in CPU_SIZES:
        raw = json.dumps(agent_body(size)).encode()
        send = post_sender(stack.gateway_url + "/v1/messages", raw, HEADERS)
        cpu_ms, count = worker_cpu_per_request(stack, send, workers)
        note = f"({len(raw) // 1000} KB, {count} requests)"
        results.append(report("cpu per request", cpu_ms, "ms", None, note))
        points.append((len(raw) / 1e6, cpu_ms))
    (s1, c1), (s2, c2), (s3, c3) = points
    low, high = (c2 - c1) / (s2 - s1), (c3 - c2) / (s3 - s2)
    note = f"({high:.1f} vs {low:.1f} ms per MB)"
    results.append(report("growth vs linear", high / low, "x", LINEAR_GOAL, note))
    return results


def worker_cpu_per_request(
    stack: Stack, send: Send, workers: list[int]
) -> tuple[float, int]:
    """Worker CPU milliseconds per ``send``, over enough requests to be exact.

    Requests are sent one at a time until the workers spent ``CPU_BUDGET``
    seconds (at least ``CPU_MIN_REQUESTS``); the fake forgets what it recorded
    as it goes, so multi-megabyte bodies do not pile up in this process.
    """
    with requests.Session() as session:
        for _ in range(CPU_WARMUP):
            send(session)
        start = cpu_seconds(workers)
        count = 0
        while count < CPU_MIN_REQUESTS or (
            cpu_seconds(workers) - start < CPU_BUDGET and count < CPU_MAX_REQUESTS
        ):
            send(session)
            stack.fake.reset()
            count += 1
        spent = cpu_seconds(workers) - start
    return spent * 1000 / count, count


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` (every thread, live or finished)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def agent_body(size: int) -> dict[str, Any]:
    """A non-streaming Messages body of about ``size`` bytes in all.

    The session grows with the size (150 tool call pairs at 684 KB, as measured
    from Claude Code); tool results fill what the rest of it (system prompt,
    tools, signed thinking, calls) leaves of ``size``.
    """
    pairs = max(10, round(PAIRS * size / HTTP_SIZE))
    frame = len(json.dumps(_body(pairs, 0)))
    return _body(pairs, max(pairs, size - frame))


def _body(pairs: int, result_bytes: int) -> dict[str, Any]:
    steps = agent_steps(pairs, result_bytes)
    messages = [{"role": "user", "content": "Refactor every module to the new API."}]
    for _ in range(2 * pairs):
        messages.append(next(steps))
    return {
        "model": MODEL,
        "max_tokens": 32000,
        "system": [{"type": "text", "text": SYSTEM_PROMPT}],
        "tools": [tool(f"Tool{i}", "A tool. " * 30, _PROPS) for i in range(TOOLS)],
        "thinking": {"type": "enabled", "budget_tokens": 16000},
        "metadata": {"user_id": json.dumps({"session_id": "agent-bench"})},
        "messages": messages,
    }


_PROPS: Final = {"path": "string", "limit": "number", "pattern": "string"}
