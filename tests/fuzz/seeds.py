"""One valid body per POST route: the starting points the fuzzer mutates.

Each seed uses as many of its protocol's fields as a real client would send
(tools, images, tool calls and results, thinking, structured output), so a
mutation at any path reaches the code that reads that field.
"""

from __future__ import annotations

from typing import Any, Final

from tests.integration.openai_support import (
    APPLY_PATCH_GRAMMAR,
    EXEC_COMMAND,
    NAMESPACE,
    PNG_DATA_URL,
    codex_body,
)

MODEL: Final = "gemini-3-flash"
PNG_B64: Final = PNG_DATA_URL.split(",", 1)[1]
SCHEMA: Final = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city"],
}

CHAT: Final[dict[str, Any]] = {
    "model": MODEL,
    "messages": [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "weather?"},
                {"type": "image_url", "image_url": {"url": PNG_DATA_URL}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"P"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {"name": "get_weather", "parameters": SCHEMA},
        }
    ],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "response_format": {
        "type": "json_schema",
        "json_schema": {"name": "w", "schema": SCHEMA},
    },
    "temperature": 0.5,
    "top_p": 0.9,
    "max_tokens": 50,
    "stop": ["END"],
    "reasoning_effort": "low",
    "stream": False,
    "stream_options": {"include_usage": True},
    "n": 1,
}
COMPLETION: Final[dict[str, Any]] = {
    "model": MODEL,
    "prompt": ["Say hi"],
    "max_tokens": 20,
    "n": 1,
    "stop": "\n",
    "temperature": 0.1,
    "suffix": "",
}
RESPONSES: Final[dict[str, Any]] = {
    **{k: v for k, v in codex_body("weather?").items() if k != "stream"},
    "tools": [EXEC_COMMAND, APPLY_PATCH_GRAMMAR, NAMESPACE],
    "reasoning": {"effort": "low", "summary": "auto"},
    "text": {"format": {"type": "json_schema", "name": "w", "schema": SCHEMA}},
    "max_output_tokens": 100,
    "metadata": {"k": "v"},
    "instructions": "Be brief.",
    "store": True,
}
RESPONSES["input"] = [
    *RESPONSES["input"],
    {
        "role": "user",
        "content": [
            {"type": "input_text", "text": "look"},
            {"type": "input_image", "image_url": PNG_DATA_URL},
        ],
    },
    {"type": "reasoning", "summary": [], "content": None, "encrypted_content": "x"},
    {
        "type": "function_call",
        "name": "exec_command",
        "arguments": '{"cmd":"ls"}',
        "call_id": "call_9",
    },
    {"type": "function_call_output", "call_id": "call_9", "output": "a.txt"},
]
IMAGES: Final[dict[str, Any]] = {
    "model": "gemini-3-pro-image",
    "prompt": "a cat",
    "n": 1,
    "size": "1024x1024",
    "quality": "hd",
    "style": "vivid",
    "response_format": "b64_json",
}
ANTHROPIC: Final[dict[str, Any]] = {
    "model": MODEL,
    "max_tokens": 1024,
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "x"}}],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "weather?"},
                {
                    "type": "image",
                    "source": {
                        "type": "base64",
                        "media_type": "image/png",
                        "data": PNG_B64,
                    },
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hm", "signature": "sig"},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "P"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "sunny"}],
                }
            ],
        },
    ],
    "tools": [
        {"name": "get_weather", "description": "w", "input_schema": SCHEMA},
        {"type": "web_search_20250305", "name": "web_search"},
    ],
    "tool_choice": {"type": "auto"},
    "thinking": {"type": "enabled", "budget_tokens": 2048},
    "temperature": 1,
    "stop_sequences": ["END"],
    "metadata": {"user_id": '{"session_id":"s1","device_id":"d"}'},
    "stream": False,
}
GEMINI: Final[dict[str, Any]] = {
    "contents": [
        {
            "role": "user",
            "parts": [
                {"text": "weather?"},
                {"inlineData": {"mimeType": "image/png", "data": PNG_B64}},
            ],
        },
        {
            "role": "model",
            "parts": [{"functionCall": {"name": "get_weather", "args": {"c": "P"}}}],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "get_weather",
                        "response": {"output": "sunny"},
                    }
                }
            ],
        },
    ],
    "systemInstruction": {"parts": [{"text": "be brief"}]},
    "tools": [
        {"functionDeclarations": [{"name": "get_weather", "parameters": SCHEMA}]},
        {"googleSearch": {}},
    ],
    "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    "generationConfig": {
        "temperature": 1,
        "maxOutputTokens": 100,
        "stopSequences": ["END"],
        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024},
        "responseMimeType": "application/json",
        "responseSchema": SCHEMA,
    },
    "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "OFF"}],
}
WARMUP: Final[dict[str, Any]] = {"model": MODEL}
DETECT: Final[dict[str, Any]] = {"model": MODEL}
EVENT_LOGGING: Final[dict[str, Any]] = {"events": [{"event_type": "x", "data": {}}]}
MCP: Final[dict[str, Any]] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "web_search_prime", "arguments": {"search_query": "x"}},
}

JSON_ROUTES: Final[dict[str, tuple[str, dict[str, Any]]]] = {
    "/v1/chat/completions": ("openai", CHAT),
    "/v1/completions": ("openai", COMPLETION),
    "/v1/responses": ("openai", RESPONSES),
    "/responses": ("openai", RESPONSES),
    "/responses/compact": ("openai", RESPONSES),
    "/v1/images/generations": ("openai", IMAGES),
    "/v1/messages": ("anthropic", ANTHROPIC),
    "/v1/messages/count_tokens": ("anthropic", ANTHROPIC),
    f"/v1beta/models/{MODEL}:generateContent": ("gemini", GEMINI),
    f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse": ("gemini", GEMINI),
    f"/v1beta/models/{MODEL}:countTokens": ("gemini", GEMINI),
    f"/v1beta/models/{MODEL}/countTokens": ("gemini", GEMINI),
    f"/v1/models/{MODEL}:generateContent": ("gemini", GEMINI),
    f"/v1/models/{MODEL}/countTokens": ("gemini", GEMINI),
    "/internal/warmup": ("openai", WARMUP),
    "/v1/models/detect": ("openai", DETECT),
    "/v1/api/event_logging": ("anthropic", EVENT_LOGGING),
    "/v1/api/event_logging/batch": ("anthropic", EVENT_LOGGING),
    "/mcp/web_search_prime/mcp": ("mcp", MCP),
    "/mcp/web_reader/mcp": ("mcp", MCP),
    "/mcp/zai-mcp-server/mcp": ("mcp", MCP),
}
MULTIPART_ROUTES: Final[dict[str, dict[str, str]]] = {
    "/v1/images/edits": {"model": "gemini-3-pro-image", "prompt": "a hat", "n": "1"},
    "/v1/audio/transcriptions": {"model": "whisper-1", "response_format": "json"},
}
