"""Request facts a Messages handler needs before choosing an account or model.

Owns ``is_background_request`` (Claude Code's housekeeping calls: warm-up,
quota probe, session titles, short summaries, which the handler may route to a
cheaper model) and ``estimate_tokens`` (a local ``count_tokens`` answer for when
no account can ask the upstream). Both are pure and never raise on odd bodies:
validation belongs to ``request.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

# Lower-case phrases of Claude Code's background prompts (reference §5.9), and
# of Claude Code 2.1's own: its session title ("Generate a concise, sentence-case
# title (3-7 words)...") and session name ("Generate a short kebab-case name").
BACKGROUND_KEYWORDS: Final = (
    "this is a system message",
    "write a 5-10 word title",
    "generate a title for",
    "generate a concise title",
    "sentence-case title",
    "kebab-case name",
    "conversation title",
    "isnewtopic",
    "summarize this coding conversation",
    "in under 50 characters",
)
WARMUP: Final = "warmup"
PROBES: Final = frozenset({"quota"})
SYSTEM_REMINDER: Final = "<system-reminder>"
BILLING_HEADER: Final = "x-anthropic-billing-header:"
MAX_TASK_BYTES: Final = 800
CHECKED_CHARS: Final = 500
CHARS_PER_TOKEN: Final = 4
MESSAGE_OVERHEAD: Final = 4
BLOCK_OVERHEAD: Final = 3
TOOL_OVERHEAD: Final = 8
IMAGE_TOKENS: Final = 1600
PDF_BYTES_PER_TOKEN: Final = 50


def is_background_request(body: Any) -> bool:
    """True for Claude Code's housekeeping requests, not a user's task.

    Looked at: the last user message's last text that is not a
    ``<system-reminder>`` (Claude Code puts context in those; a main turn always
    has one), when it is short (≤ 800 bytes): a ``Warmup`` start, the ``quota``
    probe, or a title/summary phrase in its first 500 characters; and the start
    of the system prompt, where title requests put their instructions. A user
    message carrying tool results is a tool loop, never background.
    """
    if not isinstance(body, Mapping):
        return False
    task = _last_task_text(body.get("messages"))
    if task is not None:
        lowered = task.lower()
        if lowered.startswith(WARMUP) or lowered in PROBES:
            return True
        if len(task.encode("utf-8")) <= MAX_TASK_BYTES and _has_keyword(lowered):
            return True
    return _has_keyword(_system_head(body.get("system")).lower())


def estimate_tokens(body: Any) -> int:
    """A local estimate of the input tokens of ``system`` + ``tools`` + ``messages``.

    Why not a constant: clients (Claude Code's context meter, auto-compaction)
    act on this number. Text is counted at about 4 characters per token plus a
    few tokens per message, block and tool; an image counts 1600 tokens (an
    Anthropic image near the size limit); a PDF about one token per 50 bytes.
    """
    if not isinstance(body, Mapping):
        return 0
    tokens = math.ceil(_chars(body.get("system")) / CHARS_PER_TOKEN)
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else []:
        tokens += TOOL_OVERHEAD + math.ceil(_chars(tool) / CHARS_PER_TOKEN)
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else []:
        tokens += MESSAGE_OVERHEAD + _message_tokens(message)
    return tokens


def _last_task_text(messages: Any) -> str | None:
    # From the end: a long session's history need not be walked for its tail.
    users = (
        m
        for m in reversed(messages if isinstance(messages, list) else [])
        if isinstance(m, Mapping) and m.get("role") == "user"
    )
    last = next(users, None)
    if last is None:
        return None
    content = last.get("content")
    if isinstance(content, str):
        return content.strip()
    blocks = (
        [b for b in content if isinstance(b, Mapping)]
        if isinstance(content, list)
        else []
    )
    if any(b.get("type") == "tool_result" for b in blocks):
        return None
    texts = [
        b["text"].strip()
        for b in blocks
        if b.get("type") == "text" and isinstance(b.get("text"), str)
    ]
    texts = [t for t in texts if t and SYSTEM_REMINDER not in t]
    return texts[-1] if texts else None


def _system_head(system: Any) -> str:
    if isinstance(system, str):
        return system[:CHECKED_CHARS]
    texts = [
        b["text"]
        for b in (system if isinstance(system, list) else [])
        if isinstance(b, Mapping) and isinstance(b.get("text"), str)
    ]
    texts = [t for t in texts if not t.startswith(BILLING_HEADER)]
    return "\n".join(texts)[:CHECKED_CHARS]


def _has_keyword(lowered: str) -> bool:
    head = lowered[:CHECKED_CHARS]
    return any(keyword in head for keyword in BACKGROUND_KEYWORDS)


def _message_tokens(message: Any) -> int:
    content = message.get("content") if isinstance(message, Mapping) else None
    if not isinstance(content, list):
        return math.ceil(_chars(content) / CHARS_PER_TOKEN)
    return sum(BLOCK_OVERHEAD + _block_tokens(block) for block in content)


def _block_tokens(block: Any) -> int:
    """Media by size rule, anything else (including tool results) by its text."""
    if not isinstance(block, Mapping):
        return 0
    if block.get("type") == "image":
        return IMAGE_TOKENS
    source = block.get("source")
    if block.get("type") == "document" and isinstance(source, Mapping):
        data = source.get("data")
        if source.get("type") == "base64" and isinstance(data, str):
            return max(IMAGE_TOKENS, len(data) * 3 // 4 // PDF_BYTES_PER_TOKEN)
    content = block.get("content")
    if block.get("type") == "tool_result" and isinstance(content, list):
        inner = sum(_block_tokens(item) for item in content)
        return inner + math.ceil(_chars(block.get("tool_use_id")) / CHARS_PER_TOKEN)
    return math.ceil(_chars(block) / CHARS_PER_TOKEN)


def _chars(value: Any) -> int:
    """Characters of a JSON value's keys and scalars (structure, not serialization)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Mapping):
        return sum(len(str(k)) + _chars(v) for k, v in value.items())
    if isinstance(value, list):
        return sum(_chars(v) for v in value)
    if value is None:
        return 0
    return len(str(value))
