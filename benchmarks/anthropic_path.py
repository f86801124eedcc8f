"""The Anthropic Messages path: added latency, stream event delay, translation CPU.

Non-streaming: ``POST /v1/messages`` (``x-api-key``, ``anthropic-version``)
through the gateway against the envelope the gateway sent upstream, replayed
straight to the fake's ``:streamGenerateContent?alt=sse`` (interleaved, same
session and counts). Streaming: the same request with ``stream: true``; each
scripted upstream chunk's delay is the arrival of the first event carrying its
text (``message_start`` and ``content_block_start`` arrive with the first) minus
the fake's write time. CPU: ``anthropic.request.request_to_upstream`` on a
500-message Claude Code session (signed thinking, ``tool_use`` and
``tool_result`` blocks adding up to about 200 KB), timed with
``time.process_time`` while no stack is running.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final

from antigravity_proxy.protocols.anthropic.request import request_to_upstream
from antigravity_proxy.protocols.anthropic.signature import encode_signature
from antigravity_proxy.protocols.anthropic.types import MessagesContext
from benchmarks.harness import (
    Goal,
    Measurement,
    StreamCall,
    added_latency,
    direct_sender,
    event_delays,
    post_sender,
    running_stack,
    sequential_latencies,
    translation_cpu,
)

TITLE: Final = "anthropic /v1/messages"
MODEL: Final = "claude-sonnet-4-6"
MESSAGES_PATH: Final = "/v1/messages"
HEADERS: Final = {"x-api-key": "bench-key", "anthropic-version": "2023-06-01"}
BODY: Final = {
    "model": MODEL,
    "max_tokens": 256,
    "messages": [{"role": "user", "content": "Say hi in 5 words"}],
}
STREAM_BODY: Final = {**BODY, "stream": True}

REQUESTS: Final = 200
WARMUP: Final = 20
CPU_RUNS: Final = 15
TRANSLATE_GOAL: Final = Goal(20.0)

CONVERSATION_MESSAGES: Final = 500
TOOL_RESULT_BYTES: Final = 200_000
SYSTEM_PROMPT: Final = (
    "You are Claude Code, an interactive CLI tool that helps users with software "
    "engineering tasks. Use the tools available to you to assist the user. " * 60
)
TOOLS: Final = (
    ("Bash", "Executes a bash command.", {"command": "string", "timeout": "number"}),
    ("Read", "Reads a file.", {"file_path": "string", "offset": "number"}),
    ("Edit", "Edits a file.", {"file_path": "string", "old_string": "string"}),
    ("Grep", "Searches file contents.", {"pattern": "string", "path": "string"}),
    ("Glob", "Finds files by pattern.", {"pattern": "string"}),
    ("Write", "Writes a file.", {"file_path": "string", "content": "string"}),
)


def run() -> list[Measurement]:
    """Time the translation first (nothing else running), then the HTTP path."""
    body = conversation_body()
    note = f"({CONVERSATION_MESSAGES} msgs, {result_bytes(body) // 1000} KB results)"
    ctx = MessagesContext(
        message_id="msg_bench", id_seed="bench", model=MODEL, upstream_model=MODEL
    )
    results = translation_cpu(
        lambda: request_to_upstream(body, ctx), CPU_RUNS, TRANSLATE_GOAL, note
    )
    with running_stack() as stack:
        url = stack.gateway_url + MESSAGES_PATH
        gateway = post_sender(url, json.dumps(BODY).encode(), HEADERS)
        direct = direct_sender(stack, gateway)
        samples = sequential_latencies(
            {"gateway": gateway, "direct": direct}, REQUESTS, WARMUP
        )
        results += added_latency(samples)
        results += event_delays(stack, StreamCall(MESSAGES_PATH, STREAM_BODY, HEADERS))
    return results


def conversation_body() -> dict[str, Any]:
    """A Messages body as Claude Code sends it deep into a session.

    Billing header plus a cached system prompt, six tools, then two user
    messages (a reminder and the task; the translator merges them) and agent
    steps: assistant (signed thinking, a line of text, one ``tool_use``), user
    (its ``tool_result``). It ends on a tool result, with thinking on.
    """
    steps = agent_steps(CONVERSATION_MESSAGES // 2 - 1, TOOL_RESULT_BYTES)
    messages = [
        _user_text("<system-reminder>Today is a weekday.</system-reminder>"),
        _user_text("Refactor every module under src/ to the new logging API."),
    ]
    while len(messages) < CONVERSATION_MESSAGES:
        messages.append(next(steps))
    return {
        "model": MODEL,
        "max_tokens": 32000,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1"},
            {"type": "text", "text": SYSTEM_PROMPT, "cache_control": _ephemeral()},
        ],
        "tools": [tool(name, text, props) for name, text, props in TOOLS],
        "thinking": {"type": "enabled", "budget_tokens": 16000},
        "metadata": {"user_id": json.dumps({"session_id": "bench-session"})},
        "messages": messages,
        "stream": True,
    }


def agent_steps(results: int, total_bytes: int) -> Iterator[dict[str, Any]]:
    """Endless (assistant tool_use, user tool_result) pairs; ids are unique.

    Results are sized so that ``results`` of them add up to ``total_bytes``;
    every other one is a list of text blocks, the rest plain strings (both occur).
    """
    size = total_bytes // results
    step = 0
    while True:
        call_id = f"toolu_bench{step:04d}"
        yield {"role": "assistant", "content": _assistant_blocks(call_id, step)}
        output = tool_output(call_id, size)
        content: Any = [{"type": "text", "text": output}] if step % 2 else output
        result = {"type": "tool_result", "tool_use_id": call_id, "content": content}
        yield {"role": "user", "content": [result]}
        step += 1


def _assistant_blocks(call_id: str, step: int) -> list[dict[str, Any]]:
    signature = encode_signature(f"sig-{call_id}-" + "A" * 200, MODEL, "thought")
    thinking = f"Module {step} next; read it before editing."
    command = f"grep -n 'logging' src/module_{step}.py"
    return [
        {"type": "thinking", "thinking": thinking, "signature": signature},
        {"type": "text", "text": f"Checking module_{step}.py."},
        {
            "type": "tool_use",
            "id": call_id,
            "name": "Bash",
            "input": {"command": command, "description": "Find logging calls"},
        },
    ]


def tool_output(call_id: str, size: int) -> str:
    """``size`` characters of grep-like lines, as a tool returns."""
    line = f"{call_id}:42:    logger.info('step %s', value)  # old API\n"
    return (line * (size // len(line) + 1))[:size]


def result_bytes(body: dict[str, Any]) -> int:
    """Characters of ``tool_result`` content in ``body`` (ASCII, so also bytes)."""
    results = [
        block["content"]
        for message in body["messages"]
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]
    return sum(len(c if isinstance(c, str) else c[0]["text"]) for c in results)


def _user_text(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def _ephemeral() -> dict[str, str]:
    return {"type": "ephemeral"}


def tool(name: str, description: str, props: dict[str, str]) -> dict[str, Any]:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {key: {"type": kind} for key, kind in props.items()},
        "required": list(props)[:1],
        "additionalProperties": False,
    }
    return {"name": name, "description": description, "input_schema": schema}
