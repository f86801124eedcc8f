"""The OpenAI chat path: added latency, stream event delay and translation CPU.

Non-streaming: ``POST /v1/chat/completions`` through the gateway against the
envelope the gateway sent upstream, replayed straight to the fake's
``:streamGenerateContent?alt=sse`` (interleaved, same session and counts).
Streaming: the same request with ``stream: true``; each scripted upstream chunk's
delay is the arrival of the first chat chunk carrying its text minus the fake's
write time. CPU: ``chat_request.request_to_upstream`` on a 500-message agent
conversation (tool calls and ``tool`` results adding up to about 200 KB), timed
with ``time.process_time`` while no stack is running.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final

from antigravity_proxy.protocols.openai.chat_request import request_to_upstream
from antigravity_proxy.protocols.openai.types import ChatContext
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

TITLE: Final = "openai /v1/chat/completions"
MODEL: Final = "gemini-3-flash"
CHAT: Final = "/v1/chat/completions"
MESSAGES: Final = [{"role": "user", "content": "Say hi in 5 words"}]
BODY: Final = {"model": MODEL, "messages": MESSAGES}
STREAM_BODY: Final = {**BODY, "stream": True}

REQUESTS: Final = 200
WARMUP: Final = 20
CPU_RUNS: Final = 15
TRANSLATE_GOAL: Final = Goal(20.0)

CONVERSATION_MESSAGES: Final = 500
TOOL_OUTPUT_BYTES: Final = 200_000
CALLS_PER_TURN: Final = 2
SYSTEM_PROMPT: Final = (
    "You are a coding agent working in a repository. Use the tools to read, "
    "search and change files; explain briefly what you did. " * 40
)
TOOLS: Final = (
    ("read_file", "Read a file of the workspace.", {"path": "string"}),
    ("grep", "Search the workspace.", {"pattern": "string", "path": "string"}),
    ("run_shell", "Run a shell command.", {"command": "string", "timeout": "integer"}),
    ("write_file", "Write a file.", {"path": "string", "content": "string"}),
)


def run() -> list[Measurement]:
    """Time the translation first (nothing else running), then the HTTP path."""
    body = conversation_body()
    note = f"({CONVERSATION_MESSAGES} msgs, {tool_bytes(body) // 1000} KB tool out)"
    ctx = ChatContext(id="chatcmpl-bench", created=1_700_000_000, model=MODEL)
    results = translation_cpu(
        lambda: request_to_upstream(body, ctx), CPU_RUNS, TRANSLATE_GOAL, note
    )
    with running_stack() as stack:
        gateway = post_sender(stack.gateway_url + CHAT, json.dumps(BODY).encode(), {})
        direct = direct_sender(stack, gateway)
        samples = sequential_latencies(
            {"gateway": gateway, "direct": direct}, REQUESTS, WARMUP
        )
        results += added_latency(samples)
        results += event_delays(stack, StreamCall(CHAT, STREAM_BODY))
    return results


def conversation_body() -> dict[str, Any]:
    """A chat body as an agent sends it mid-task: system, tools, 500 messages.

    The history repeats one agent step (user asks, assistant calls two tools,
    two ``tool`` results, assistant answers) and ends on fresh tool results, as
    the request that follows a tool call does.
    """
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT}]
    steps = agent_steps(_output_size())
    while len(messages) < CONVERSATION_MESSAGES:
        messages.append(next(steps))
    return {
        "model": MODEL,
        "messages": messages,
        "tools": [_tool(name, text, props) for name, text, props in TOOLS],
        "temperature": 0.2,
    }


def agent_steps(output_size: int) -> Iterator[dict[str, Any]]:
    """Endless agent steps, one message at a time; call ids are unique."""
    step = 0
    while True:
        yield {"role": "user", "content": f"Step {step}: check module_{step}.py."}
        ids = [f"call_{step}_{i}" for i in range(CALLS_PER_TURN)]
        yield {"role": "assistant", "content": None, "tool_calls": _calls(ids, step)}
        for call_id in ids:
            yield {
                "role": "tool",
                "tool_call_id": call_id,
                "content": tool_output(call_id, output_size),
            }
        yield {"role": "assistant", "content": f"module_{step}.py looks fine. " * 4}
        step += 1


def _calls(ids: list[str], step: int) -> list[dict[str, Any]]:
    arguments = [
        {"path": f"src/module_{step}.py"},
        {"pattern": f"def handler_{step}", "path": "src"},
    ]
    names = ("read_file", "grep")
    return [
        {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)},
        }
        for call_id, name, args in zip(ids, names, arguments, strict=True)
    ]


def tool_output(call_id: str, size: int) -> str:
    """``size`` characters of source-like lines, as a file read returns."""
    line = f"    value = compute_{call_id}(value, step=1)  # keep in sync\n"
    return (line * (size // len(line) + 1))[:size]


def _output_size() -> int:
    """Characters per tool result so that all results add up to the target."""
    step_length = 3 + CALLS_PER_TURN
    results = (CONVERSATION_MESSAGES - 1) * CALLS_PER_TURN // step_length
    return TOOL_OUTPUT_BYTES // results


def tool_bytes(body: dict[str, Any]) -> int:
    """Characters of tool output in ``body`` (ASCII, so also bytes)."""
    return sum(len(m["content"]) for m in body["messages"] if m["role"] == "tool")


def _tool(name: str, description: str, props: dict[str, str]) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {key: {"type": kind} for key, kind in props.items()},
        "required": list(props),
        "additionalProperties": False,
    }
    function = {"name": name, "description": description, "parameters": schema}
    return {"type": "function", "function": function}
