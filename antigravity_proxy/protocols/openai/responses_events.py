"""Builders of Responses output items, usage, the response object and SSE frames.

Shapes follow the official ``openai.types.responses`` models (``Response``,
``ResponseOutputMessage``, ``ResponseReasoningItem``, ``ResponseFunctionToolCall``,
``ResponseCustomToolCall``, ``ResponseUsage``); the stream translator decides
when to build them. Every frame is ``event: <type>`` + ``data: <json>`` whose
JSON carries ``type`` and ``sequence_number``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from antigravity_proxy.protocols.gemini.chunk import TokenUsage
from antigravity_proxy.protocols.openai.responses_tools import ToolRef
from antigravity_proxy.protocols.openai.responses_types import (
    JSONObject,
    OutputText,
    ResponsesContext,
    Usage,
)
from antigravity_proxy.sse import encode_event

DEFAULT_TEXT_FORMAT: Final[Mapping[str, str]] = {"type": "text"}
Event = tuple[str, JSONObject]


def frame(event: str, sequence_number: int, fields: Mapping[str, Any]) -> bytes:
    """One SSE frame: ``event: <type>`` and the event JSON."""
    data = {"type": event, **fields, "sequence_number": sequence_number}
    return encode_event(data, event=event)


def output_text(text: str) -> OutputText:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, status: str, text: str | None) -> JSONObject:
    """An assistant message; ``text`` None gives the empty content of ``added``."""
    content = [] if text is None else [output_text(text)]
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def reasoning_item(item_id: str, text: str, extra: Mapping[str, Any]) -> JSONObject:
    """A reasoning item with one summary part (none when ``text`` is empty)."""
    summary = [{"type": "summary_text", "text": text}] if text else []
    return {"id": item_id, "type": "reasoning", "summary": summary, **extra}


def function_call_item(
    item_id: str, ref: ToolRef, call_id: str, arguments: str, status: str
) -> JSONObject:
    item: JSONObject = {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id,
        "name": ref.name,
    }
    if ref.namespace is not None:
        item["namespace"] = ref.namespace
    return item


def custom_tool_call_item(
    item_id: str, ref: ToolRef, call_id: str, text: str
) -> JSONObject:
    item: JSONObject = {
        "id": item_id,
        "type": "custom_tool_call",
        "call_id": call_id,
        "name": ref.name,
        "input": text,
    }
    if ref.namespace is not None:
        item["namespace"] = ref.namespace
    return item


def message_done_events(index: int, item: Mapping[str, Any]) -> list[Event]:
    """Events closing a message whose final ``item`` is given."""
    text = item["content"][0]["text"]
    at = {"item_id": item["id"], "output_index": index, "content_index": 0}
    return [
        ("response.output_text.done", {**at, "text": text, "logprobs": []}),
        ("response.content_part.done", {**at, "part": output_text(text)}),
        ("response.output_item.done", {"output_index": index, "item": item}),
    ]


def reasoning_done_events(index: int, item: Mapping[str, Any]) -> list[Event]:
    """Events closing a reasoning item (summary events only when it has text)."""
    at = {"item_id": item["id"], "output_index": index, "summary_index": 0}
    done: list[Event] = []
    for part in item["summary"]:
        done.append(
            ("response.reasoning_summary_text.done", {**at, "text": part["text"]})
        )
        done.append(("response.reasoning_summary_part.done", {**at, "part": part}))
    return [*done, ("response.output_item.done", {"output_index": index, "item": item})]


def call_events(index: int, added: JSONObject, done: JSONObject) -> list[Event]:
    """The whole life of a function or custom tool call item (Gemini sends it whole)."""
    at = {"item_id": done["id"], "output_index": index}
    if done["type"] == "custom_tool_call":
        kind, key = "response.custom_tool_call_input", "input"
    else:
        kind, key = "response.function_call_arguments", "arguments"
    return [
        ("response.output_item.added", {"output_index": index, "item": added}),
        (f"{kind}.delta", {**at, "delta": done[key]}),
        (f"{kind}.done", {**at, key: done[key]}),
        ("response.output_item.done", {"output_index": index, "item": done}),
    ]


def interrupted_item(item: Mapping[str, Any], text: str) -> JSONObject:
    """An item left open by a failure: its text so far, status ``incomplete``."""
    if item.get("type") == "message":
        return message_item(str(item["id"]), "incomplete", text)
    return {**reasoning_item(str(item["id"]), text, {}), "status": "incomplete"}


def usage_from_upstream(usage: TokenUsage) -> Usage:
    """The upstream's token counts → Responses ``usage`` (reference §4.3).

    Why thoughts are added to ``output_tokens``: the official count includes
    reasoning tokens and reports them again in ``reasoning_tokens``; Gemini's
    ``candidatesTokenCount`` excludes them. ``toolUsePromptTokenCount`` (search
    results fed back) is input. Gemini reports no cache writes, so
    ``cache_write_tokens`` (required by the current official model) is 0.
    """
    prompt = usage.prompt_tokens + usage.tool_use_prompt_tokens
    thoughts = usage.thoughts_tokens
    output = usage.candidates_tokens + thoughts
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": 0,
        },
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": thoughts},
        "total_tokens": usage.total_tokens or prompt + output,
    }


def response_object_skeleton(
    ctx: ResponsesContext, body: Mapping[str, Any]
) -> JSONObject:
    """The response object with its echo fields; status, output, usage to fill.

    Echoed as the official object does, defaults included; ``completed_at`` is
    left out (optional) because translators have no clock.
    """
    return {
        "id": ctx.response_id,
        "object": "response",
        "created_at": ctx.created_at,
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "model": ctx.model,
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": _reasoning_echo(body.get("reasoning")),
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": _text_echo(body.get("text")),
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": list(body.get("tools") or []),
        "top_logprobs": 0,
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": None,
        "user": body.get("user"),
        "metadata": dict(body.get("metadata") or {}),
    }


def _reasoning_echo(reasoning: object) -> JSONObject:
    given = reasoning if isinstance(reasoning, Mapping) else {}
    return {"effort": given.get("effort"), "summary": given.get("summary")}


def _text_echo(text: object) -> JSONObject:
    given = text if isinstance(text, Mapping) else {}
    return {
        "format": given.get("format", DEFAULT_TEXT_FORMAT),
        "verbosity": given.get("verbosity", "medium"),
    }
