"""Agent-sized requests: a Claude Code session deep into its work.

Claude Code resends the whole conversation every turn: after an hour that is
hundreds of KB of tool calls and results. Two numbers matter (issue 13):

- added latency of the 684 KB request through the gateway (``POST
  /v1/messages``, 20 tools, 150 ``tool_use``/``tool_result`` pairs) over the
  gateway's own upstream envelope POSTed straight to the fake; goal 5 ms;
  the gateway runs with the bench's usual shape (see ``harness``);
- CPU per request of the gateway's own work on it (strict parse, depth check,
  translation, upstream serialisation) at 100 KB, 700 KB and 3 MB, to show the
  cost grows linearly with the size (printed per MB as well).
"""

from __future__ import annotations

import json
from typing import Any, Final

from antigravity_proxy import json_codec
from antigravity_proxy.protocols.anthropic.request import request_to_upstream
from antigravity_proxy.protocols.anthropic.types import MessagesContext, check_depth
from antigravity_proxy.upstream.envelope import wrap_request
from benchmarks.anthropic_path import HEADERS, MODEL, SYSTEM_PROMPT, agent_steps, tool
from benchmarks.harness import (
    Goal,
    Measurement,
    added_latency,
    direct_sender,
    post_sender,
    report,
    running_stack,
    sequential_latencies,
    translation_cpu,
)

TITLE: Final = "agent requests (Claude Code sessions, /v1/messages)"
PAIRS: Final = 150
TOOLS: Final = 20
HTTP_SIZE: Final = 684_000
CPU_SIZES: Final = (100_000, 700_000, 3_000_000)
ADDED_GOAL: Final = Goal(5.0)
CPU_RUNS: Final = 9
REQUESTS: Final = 60
WARMUP: Final = 5


def run() -> list[Measurement]:
    results: list[Measurement] = []
    for size in CPU_SIZES:
        raw = json.dumps(agent_body(size)).encode()
        note = f"({len(raw) // 1000} KB)"
        cpu = translation_cpu(lambda raw=raw: gateway_work(raw), CPU_RUNS, None, note)
        median = cpu[0].value
        results.append(cpu[0])
        per_mb = median / (len(raw) / 1e6)
        results.append(report("  cpu per MB", per_mb, "ms", None, note))
    with running_stack() as stack:
        raw = json.dumps(agent_body(HTTP_SIZE)).encode()
        gateway = post_sender(stack.gateway_url + "/v1/messages", raw, HEADERS)
        direct = direct_sender(stack, gateway)
        samples = sequential_latencies(
            {"gateway": gateway, "direct": direct}, REQUESTS, WARMUP
        )
        p50, p99 = added_latency(samples, ADDED_GOAL)
        results += [p50, p99]
    return results


def gateway_work(raw: bytes) -> bytes:
    """What the gateway itself does with the body: parse, check, translate, dump."""
    body = json_codec.loads(raw)
    check_depth(body)
    ctx = MessagesContext(
        message_id="msg_bench", id_seed="bench", model=MODEL, upstream_model=MODEL
    )
    inner = request_to_upstream(body, ctx)
    envelope = wrap_request(
        inner,
        project="bench-project",
        model=MODEL,
        request_id="agent/bench/none",
        request_type="agent",
        session_id="bench",
    )
    return json_codec.dumps(envelope)


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
