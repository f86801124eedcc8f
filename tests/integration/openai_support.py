"""Shared pieces of the OpenAI integration tests: paths, bodies (Codex's among
them, as real-clients.md records them), SSE reading."""

from __future__ import annotations

import json

CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
MODEL = "gemini-3-flash"
PNG_DATA_URL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files with a patch. FREEFORM: do not wrap it in JSON.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"},
}


def chat_body(text: str = "hello there gateway", **extra) -> dict:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}


def data_events(response) -> list:
    """Every ``data:`` payload of an SSE body, JSON-decoded except ``[DONE]``."""
    lines = response.get_data(as_text=True).splitlines()
    payloads = [line[6:] for line in lines if line.startswith("data: ")]
    return [p if p == "[DONE]" else json.loads(p) for p in payloads]


def upstream_requests(fake) -> list[dict]:
    return [c.json["request"] for c in fake.calls(":streamGenerateContent")]


def candidate(parts: list, index: int = 0, finish: str | None = "STOP") -> dict:
    found: dict = {"content": {"role": "model", "parts": parts}, "index": index}
    if finish:
        found["finishReason"] = finish
    return found


# --- Codex CLI 0.169 (real-clients.md) ------------------------------------------

SESSION = "0199a2f4-5b1e-7c3d-9e8f-0a1b2c3d4e5f"
CODEX_HEADERS = {
    "Authorization": "Bearer sk-test",
    "originator": "codex_exec",
    "user-agent": "codex_exec/0.169.0 (Debian 12.0.0; x86_64) dumb (codex_exec; 0.169.0)",
    "session-id": SESSION,
    "thread-id": SESSION,
    "x-client-request-id": SESSION,
    "x-codex-window-id": f"{SESSION}:0",
    "x-codex-beta-features": "remote_compaction_v2",
    "x-codex-turn-metadata": json.dumps({"turn_id": "t1", "sandbox": "read-only"}),
    "accept": "text/event-stream",
}
ENVIRONMENT = (
    "<environment_context>\n  <cwd>/work/project</cwd>\n</environment_context>"
)
EXEC_COMMAND = {
    "type": "function",
    "name": "exec_command",
    "description": "Runs a command in a PTY, returning output or a session ID.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "cmd": {"type": "string", "description": "Shell command to execute."},
            "yield_time_ms": {"type": "number"},
            "workdir": {"type": "string"},
        },
        "required": ["cmd"],
        "additionalProperties": False,
    },
}
NAMESPACE = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "description": "Spawn and message sub-agents.",
    "tools": [
        {
            "type": "function",
            "name": "spawn_agent",
            "strict": False,
            "parameters": {
                "type": "object",
                "properties": {"message": {"type": "string"}},
                "required": ["message"],
            },
        },
        {
            "type": "function",
            "name": "send_input",
            "strict": False,
            "parameters": {"type": "object", "properties": {}},
        },
    ],
}
APPLY_PATCH_GRAMMAR = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Use the `apply_patch` tool to edit files. FREEFORM.",
    "format": {
        "type": "grammar",
        "syntax": "lark",
        "definition": 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF',
    },
}
CODE_MODE_EXEC = {
    "type": "custom",
    "name": "exec",
    "description": "Run JavaScript in the code-mode sandbox.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/s"},
}


def message(role: str, text: str, item_id: str | None = None) -> dict:
    item = {
        "type": "message",
        "role": role,
        "content": [{"type": "input_text", "text": text}],
    }
    if item_id is not None:
        item["id"] = item_id
    return item


def codex_body(prompt: str, **extra) -> dict:
    """The body Codex 0.169 sends for a model it does not know (gemini-3-flash)."""
    body = {
        "model": MODEL,
        "stream": True,
        "store": False,
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": SESSION,
        "client_metadata": {
            "session_id": SESSION,
            "thread_id": SESSION,
            "turn_id": "t1",
            "x-codex-installation-id": "inst-1",
        },
        "input": [
            message(
                "developer",
                "You are a coding agent running in the Codex CLI.",
                "msg_dev1",
            ),
            message(
                "developer",
                "<skills_instructions>none</skills_instructions>",
                "msg_dev2",
            ),
            message("user", ENVIRONMENT, "msg_env"),
            message("user", prompt, "msg_prompt"),
        ],
        "tools": [
            EXEC_COMMAND,
            NAMESPACE,
            {"type": "web_search", "external_web_access": False},
        ],
    }
    return {**body, **extra}
