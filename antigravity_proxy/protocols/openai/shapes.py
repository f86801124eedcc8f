"""The JSON kinds the OpenAI translators rely on, checked before they run.

One table per endpoint family (``protocols.shape`` explains the rule syntax).
Listed are the fields a translator branches on or iterates: tags and roles
(looked up in tables, so a list there was a ``TypeError``), the arrays walked,
and the objects read key by key. Field values the translators check themselves
with a message of their own (numbers and their ranges) are left to them.
"""

from __future__ import annotations

from typing import Final

from antigravity_proxy.protocols.shape import Shape

CHAT_SHAPE: Final = Shape.of(
    {
        "model": "string",
        "messages": "array",
        "messages[]": "object",
        "messages[].role": "string",
        "messages[].name": "string",
        "messages[].content": "string|array",
        "messages[].content[].type": "string",
        "messages[].tool_calls": "array",
        "messages[].tool_calls[].type": "string",
        "messages[].tool_calls[].function": "object",
        "tools": "array",
        "tools[].type": "string",
        "tools[].function": "object",
        "tool_choice": "string|object",
        "tool_choice.type": "string",
        "response_format": "object",
        "response_format.type": "string",
        "reasoning_effort": "string",
        "stop": "string|array",
        "stream_options": "object",
        "prompt_cache_key": "string",
    }
)
COMPLETIONS_SHAPE: Final = Shape.of(
    {
        "model": "string",
        "prompt": "string|array",
        "stop": "string|array",
        "stream_options": "object",
    }
)
RESPONSES_SHAPE: Final = Shape.of(
    {
        "model": "string",
        "input": "string|array",
        "input[]": "object",
        "input[].type": "string",
        "input[].role": "string",
        "input[].content": "string|array",
        "input[].content[].type": "string",
        "input[].summary": "array",
        "input[].call_id": "string",
        "input[].name": "string",
        "instructions": "string",
        "previous_response_id": "string",
        "prompt_cache_key": "string",
        "tools": "array",
        "tools[]": "object",
        "tools[].type": "string",
        "tools[].name": "string",
        "tools[].tools": "array",
        "tools[].tools[].type": "string",
        "tool_choice": "string|object",
        "tool_choice.type": "string",
        "reasoning": "object",
        "reasoning.effort": "string",
        "reasoning.summary": "string",
        "text": "object",
        "text.format": "object",
        "text.format.type": "string",
        "include": "array",
        "include[]": "string",
        "truncation": "string",
        "metadata": "object",
    }
)
