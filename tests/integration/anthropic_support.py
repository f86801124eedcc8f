"""Shared helpers of the Anthropic integration tests: bodies, chunks, SSE frames."""

from __future__ import annotations

from typing import Any

from anthropic.lib.streaming._messages import accumulate_event

from antigravity_proxy.sse import SSEDecoder

MESSAGES = "/v1/messages"
COUNT = "/v1/messages/count_tokens"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
THINKING = {"type": "enabled", "budget_tokens": 2048}


def body(text: Any = "hello there gateway", **fields: Any) -> dict[str, Any]:
    return {
        "model": "gemini-3-flash",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": text}],
        **fields,
    }


def chunk(*parts, finish=None, usage=None, grounding=None) -> dict[str, Any]:
    """One upstream chunk (the fake wraps it in ``{"response": ...}``)."""
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if finish:
        candidate["finishReason"] = finish
    if grounding:
        candidate["groundingMetadata"] = grounding
    out: dict[str, Any] = {"candidates": [candidate]}
    if usage:
        out["usageMetadata"] = usage
    return out


def events(response) -> list[tuple[str, dict]]:
    """The named SSE events of a buffered response, JSON-decoded."""
    decoder = SSEDecoder()
    raw = response.get_data()
    return [(e.event, e.json()) for e in decoder.feed(raw) + decoder.flush()]


def sent_request(fake, index=-1) -> dict:
    return fake.calls(":streamGenerateContent")[index].json["request"]


def sent_parts(fake, index=-1) -> list[dict]:
    return [p for c in sent_request(fake, index)["contents"] for p in c["parts"]]


def accumulate(frames: list[tuple[str, dict]]) -> dict:
    """What the official SDK builds from the stream."""
    snapshot, bufs = None, {}
    for name, data in frames:
        if name not in ("ping", "error"):
            snapshot = accumulate_event(
                event=data, current_snapshot=snapshot, json_bufs=bufs
            )
    result = snapshot.to_dict()
    result.pop("stop_details", None)
    return result


def assert_event_grammar(frames: list[tuple[str, dict]]) -> None:
    """Named events equal to their ``type``, blocks opened and closed in order."""
    assert all(name == data["type"] for name, data in frames)
    names = [name for name, _ in frames]
    assert names[:2] == ["message_start", "ping"] and names[-1] == "message_stop"
    assert names[-2] == "message_delta"
    open_index, next_index = None, 0
    for name, data in frames[2:-2]:
        if name == "content_block_start":
            assert open_index is None and data["index"] == next_index
            open_index = next_index
        elif name == "content_block_stop":
            assert data["index"] == open_index
            open_index, next_index = None, next_index + 1
        elif name == "content_block_delta":
            assert data["index"] == open_index
        else:
            assert name == "ping"
    assert open_index is None
