"""The JSON kinds the Anthropic translators rely on, checked before they run.

``protocols.shape`` explains the rule syntax. Listed are the fields the
translators branch on or iterate (block tags, roles, tool and thinking types,
the arrays walked); the ranges of numbers stay with the translators.
"""

from __future__ import annotations

from typing import Final

from antigravity_proxy.protocols.shape import Shape

MESSAGES_SHAPE: Final = Shape.of(
    {
        "model": "string",
        "messages": "array",
        "messages[]": "object",
        "messages[].role": "string",
        "messages[].content": "string|array",
        "messages[].content[]": "object",
        "messages[].content[].type": "string",
        "messages[].content[].source": "object",
        "messages[].content[].source.type": "string",
        "messages[].content[].content": "string|array",
        "messages[].content[].content[].type": "string",
        "system": "string|array",
        "system[].type": "string",
        "tools": "array",
        "tools[]": "object",
        "tools[].type": "string",
        "tools[].name": "string",
        "tool_choice": "object",
        "tool_choice.type": "string",
        "thinking": "object",
        "thinking.type": "string",
        "output_config": "object",
        "output_config.effort": "string",
        "metadata": "object",
        "metadata.user_id": "string",
        "stop_sequences": "array",
        "stop_sequences[]": "string",
    }
)
