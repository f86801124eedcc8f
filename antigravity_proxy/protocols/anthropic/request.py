"""Anthropic Messages request -> the inner Gemini ``GenerateContentRequest``.

Owns validation of the top-level fields, the system instruction, the message
list (roles, merging), tools and ``tool_choice``, and ``generationConfig``
(sampling, stop sequences, thinking, structured output). Blocks become parts in
``content.py``; the v1internal envelope is added later by the upstream client.

Tolerated and dropped: ``metadata`` (Claude Code's ``user_id`` is a JSON string;
the handler may use it as a session key), ``context_management``,
``cache_control`` anywhere, ``service_tier``, ``stream`` (the handler's concern),
``container``, ``mcp_servers``, ``thinking.display``,
``tool_choice.disable_parallel_tool_use`` (Gemini has no such switch), the
web search tool's options (``max_uses``, ``allowed_domains``,
``blocked_domains``, ``user_location``: Google Search takes none) and any
unknown top-level key. The ``x-anthropic-billing-header: ...`` system block Claude
Code sends first is dropped: it is billing metadata, not instructions, and its
version string would change the prompt prefix on every client update.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.protocols.anthropic.content import (
    Replay,
    message_parts,
    system_texts,
    tool_names,
)
from antigravity_proxy.protocols.anthropic.types import (
    Content,
    JsonObject,
    MessagesContext,
    Part,
    as_int,
    as_list,
    as_number,
    as_object,
    as_str,
    not_one_of,
    unknown_tag,
)
from antigravity_proxy.protocols.schema import clean_schema

BILLING_HEADER: Final = "x-anthropic-billing-header:"
ROLE_TO_UPSTREAM: Final[Mapping[str, str]] = {"user": "user", "assistant": "model"}
HARM_CATEGORIES: Final = (
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
)
# Same scale as the OpenAI translator (Gemini's own low/medium/high = 1k/8k/24k).
THINKING_BUDGET_FROM_EFFORT: Final[Mapping[str, int]] = {
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
    "max": 32768,
}
DEFAULT_EFFORT: Final = "high"
MIN_THINKING_BUDGET: Final = 1024
MAX_OUTPUT_TOKENS: Final = 65536
MAX_OUTPUT_TOKENS_CLAUDE: Final = 64000
MAX_UPSTREAM_STOP_SEQUENCES: Final = 5
TOOL_CHOICE_MODE: Final[Mapping[str, str]] = {
    # VALIDATED: text or a call, and any call is checked against its schema.
    "auto": "VALIDATED",
    "any": "ANY",
    "tool": "ANY",
    "none": "NONE",
}
SAMPLING_FIELDS: Final = (("temperature", "temperature"), ("top_p", "topP"))
SAMPLING_RANGE: Final = (0.0, 1.0)


@dataclass(frozen=True, slots=True)
class _Tools:
    declarations: list[dict[str, Any]]
    search_names: frozenset[str]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(d["name"] for d in self.declarations)


def request_to_upstream(body: Any, ctx: MessagesContext) -> dict[str, Any]:
    """The inner Gemini request for a Messages ``body``.

    Why ``safetySettings`` are all ``OFF``: Anthropic has no per-category blocking
    a client could expect; refusals come from the model itself (``refusal``).
    """
    body = as_object(body, "body")
    as_model(body)
    max_tokens = as_int(body.get("max_tokens"), "max_tokens", 1)
    system, contents = conversation(body, ctx)
    tools = _tools(body.get("tools"))
    request: dict[str, Any] = {}
    if system:
        request["systemInstruction"] = {"role": "user", "parts": system}
    request.update(_tool_fields(tools, body.get("tool_choice")))
    request["generationConfig"] = _generation_config(body, max_tokens, contents, ctx)
    request["safetySettings"] = [
        {"category": category, "threshold": "OFF"} for category in HARM_CATEGORIES
    ]
    request["contents"] = contents
    return request


def count_tokens_to_upstream(body: Any, ctx: MessagesContext) -> dict[str, Any]:
    """The inner ``countTokens`` request for a ``/v1/messages/count_tokens`` body.

    Why system and tools become leading contents: the upstream's countTokens takes
    only ``model`` + ``contents`` (Gemini CLI's ``toCountTokenRequest``), while
    Anthropic's count includes the system prompt and tool definitions.
    """
    body = as_object(body, "body")
    as_model(body)
    system, contents = conversation(body, ctx)
    tools = _tools(body.get("tools"))
    prefix: list[Content] = []
    if system:
        prefix.append({"role": "user", "parts": system})
    if tools.declarations:
        text = json.dumps(tools.declarations, ensure_ascii=False, sort_keys=True)
        prefix.append({"role": "user", "parts": [{"text": text}]})
    return {"model": f"models/{ctx.upstream_model}", "contents": prefix + contents}


def as_model(body: JsonObject) -> str:
    """The required ``model``: a non-empty string."""
    model = as_str(body.get("model"), "model")
    if not model:
        raise InvalidRequest(
            "model: String should have at least 1 character", param="model"
        )
    return model


def conversation(
    body: JsonObject, ctx: MessagesContext
) -> tuple[list[Part], list[Content]]:
    """System instruction parts and ``contents`` for ``system`` + ``messages``.

    Why ``role: "system"`` messages join the system instruction: Gemini has one
    place for instructions with system authority, and Claude Code sends such a
    message last (mid-conversation system). Folding keeps its authority; the cost
    is that its position in the conversation is lost.
    Why consecutive same-role messages are merged: Claude upstreams require
    alternating roles, and Gemini pairs a model turn's calls with the next turn.
    """
    texts = _system(body.get("system"))
    messages = as_list(_required(body, "messages"), "messages")
    if not messages:
        raise InvalidRequest(
            "messages: at least one message is required", param="messages"
        )
    replay = Replay(ctx, tool_names(messages))
    contents: list[Content] = []
    for i, raw in enumerate(messages):
        param = f"messages[{i}]"
        message = as_object(raw, param)
        role = message.get("role")
        if role == "system":
            texts.extend(system_texts(message.get("content"), f"{param}.content"))
        elif isinstance(role, str) and role in ROLE_TO_UPSTREAM:
            _append(
                contents, ROLE_TO_UPSTREAM[role], message_parts(message, param, replay)
            )
        else:
            raise not_one_of(role, f"{param}.role", ("user", "assistant", "system"))
    if not contents:
        raise InvalidRequest(
            "messages: at least one user or assistant message is required",
            param="messages",
        )
    return [{"text": t} for t in texts], contents


def _system(raw: Any) -> list[str]:
    """The ``system`` texts minus Claude Code's billing header."""
    texts = [] if raw is None else system_texts(raw, "system")
    return [t for t in texts if not t.startswith(BILLING_HEADER)]


def _required(body: JsonObject, key: str) -> Any:
    if body.get(key) is None:
        raise InvalidRequest(f"{key}: Field required", param=key)
    return body[key]


def _append(contents: list[Content], role: str, parts: list[Part]) -> None:
    """Add a turn, merging it into the previous one of the same role."""
    if not parts:
        return
    if contents and contents[-1]["role"] == role:
        contents[-1] = {"role": role, "parts": [*contents[-1]["parts"], *parts]}
    else:
        contents.append({"role": role, "parts": parts})


def _tools(raw: Any) -> _Tools:
    """Custom tools as declarations; ``web_search_*`` server tools noted by name."""
    declarations: list[dict[str, Any]] = []
    search: set[str] = set()
    for i, tool in enumerate([] if raw is None else as_list(raw, "tools")):
        param = f"tools[{i}]"
        tool = as_object(tool, param)
        kind = tool.get("type")
        if isinstance(kind, str) and kind.startswith("web_search_"):
            search.add(str(tool.get("name", "web_search")))
        elif kind is None or kind == "custom":
            declarations.append(_declaration(tool, param))
        else:
            raise unknown_tag(kind, f"{param}.type", ("custom", "web_search_20250305"))
    return _Tools(declarations, frozenset(search))


def _declaration(tool: JsonObject, param: str) -> dict[str, Any]:
    """A custom tool as a function declaration (``cache_control`` dropped)."""
    out: dict[str, Any] = {"name": as_str(tool.get("name"), f"{param}.name")}
    description = tool.get("description")
    if description is not None:
        out["description"] = as_str(description, f"{param}.description")
    schema = as_object(tool.get("input_schema"), f"{param}.input_schema")
    out["parameters"] = clean_schema(schema)
    return out


def _tool_fields(tools: _Tools, raw_choice: Any) -> dict[str, Any]:
    """``tools`` and ``toolConfig`` from the declarations and ``tool_choice``.

    Why search and declarations never go together: v1internal rejects
    ``googleSearch`` next to function declarations, so declarations win, unless
    ``tool_choice`` forces the search tool (Claude Code's WebSearch request),
    where only ``googleSearch`` is sent and nothing can be forced upstream.
    """
    choice = (
        {"type": "auto"} if raw_choice is None else as_object(raw_choice, "tool_choice")
    )
    kind = choice.get("type")
    if not isinstance(kind, str) or kind not in TOOL_CHOICE_MODE:
        raise unknown_tag(kind, "tool_choice.type", tuple(TOOL_CHOICE_MODE))
    forced = as_str(choice.get("name"), "tool_choice.name") if kind == "tool" else None
    if forced is not None and forced in tools.search_names:
        return {"tools": [{"googleSearch": {}}]}
    if forced is not None and forced not in tools.names:
        raise InvalidRequest(
            f"tool_choice.name: Tool '{forced}' not found in tools",
            param="tool_choice.name",
        )
    if not tools.declarations:
        return {"tools": [{"googleSearch": {}}]} if tools.search_names else {}
    config: dict[str, Any] = {"mode": TOOL_CHOICE_MODE[kind]}
    if forced is not None:
        config["allowedFunctionNames"] = [forced]
    return {
        "tools": [{"functionDeclarations": tools.declarations}],
        "toolConfig": {"functionCallingConfig": config},
    }


def _generation_config(
    body: JsonObject, max_tokens: int, contents: list[Content], ctx: MessagesContext
) -> dict[str, Any]:
    """Sampling, stop sequences, output limit, structured output and thinking.

    ``maxOutputTokens`` is capped at what the upstream accepts (64000 for Claude
    models, 65536 otherwise); Gemini keeps at most 5 stop sequences, so extra ones
    are only detected by the stream translator (``ctx.stop_sequences``).
    """
    claude = "claude" in ctx.upstream_model.lower()
    cap = MAX_OUTPUT_TOKENS_CLAUDE if claude else MAX_OUTPUT_TOKENS
    config: dict[str, Any] = {}
    for key, upstream_key in SAMPLING_FIELDS:
        if body.get(key) is not None:
            config[upstream_key] = as_number(body[key], key, *SAMPLING_RANGE)
    if body.get("top_k") is not None:
        config["topK"] = as_int(body["top_k"], "top_k", 0)
    config["maxOutputTokens"] = min(max_tokens, cap)
    stops = _stop_sequences(body.get("stop_sequences"))
    if stops:
        config["stopSequences"] = stops[:MAX_UPSTREAM_STOP_SEQUENCES]
    output = _output_config(body.get("output_config"))
    config.update(output.format)
    thinking = _thinking_config(
        body.get("thinking"), output.effort, min(max_tokens, cap)
    )
    if thinking is not None and not (
        claude and _unsigned_tool_turn(contents, thinking)
    ):
        config["thinkingConfig"] = thinking
    return config


def _stop_sequences(raw: Any) -> list[str]:
    if raw is None:
        return []
    items = as_list(raw, "stop_sequences")
    return [as_str(s, f"stop_sequences[{i}]") for i, s in enumerate(items)]


@dataclass(frozen=True, slots=True)
class _Output:
    effort: str | None
    format: dict[str, Any]


def _output_config(raw: Any) -> _Output:
    """``output_config.effort`` (validated) and ``format`` as JSON mode.

    Why ``responseJsonSchema`` and not ``responseSchema`` + ``clean_schema``: the
    schema is an output contract and goes upstream unchanged, as the OpenAI
    translator does (Gemini CLI uses the same field through this upstream).
    """
    if raw is None:
        return _Output(None, {})
    config = as_object(raw, "output_config")
    effort = config.get("effort")
    if effort is not None and effort not in THINKING_BUDGET_FROM_EFFORT:
        raise not_one_of(
            effort, "output_config.effort", tuple(THINKING_BUDGET_FROM_EFFORT)
        )
    fmt = config.get("format")
    if fmt is None:
        return _Output(effort, {})
    fmt = as_object(fmt, "output_config.format")
    if fmt.get("type") != "json_schema":
        raise unknown_tag(
            fmt.get("type"), "output_config.format.type", ("json_schema",)
        )
    schema = as_object(fmt.get("schema"), "output_config.format.schema")
    return _Output(
        effort,
        {
            "responseMimeType": "application/json",
            "responseJsonSchema": copy.deepcopy(dict(schema)),
        },
    )


def _thinking_config(
    raw: Any, effort: str | None, max_tokens: int
) -> dict[str, Any] | None:
    """``thinking`` as thinkingConfig; absent means the upstream's default.

    Why ``adaptive`` gets a budget from ``output_config.effort`` (default
    ``high``, Anthropic's default effort) rather than the dynamic ``-1``: a fixed
    budget is valid on both Gemini and Claude upstreams, and ``-1`` is not.
    The budget stays below ``max_tokens``, which includes thinking on both sides.
    """
    if raw is None:
        return None
    thinking = as_object(raw, "thinking")
    kind = thinking.get("type")
    if kind == "disabled":
        return {"includeThoughts": False}
    if kind == "enabled":
        param = "thinking.budget_tokens"
        budget = as_int(thinking.get("budget_tokens"), param, MIN_THINKING_BUDGET)
    elif kind == "adaptive":
        budget = THINKING_BUDGET_FROM_EFFORT[effort or DEFAULT_EFFORT]
    else:
        raise unknown_tag(kind, "thinking.type", ("enabled", "adaptive", "disabled"))
    budget = min(budget, max_tokens - 1)
    if budget < 1:
        return {"includeThoughts": False}
    return {"includeThoughts": True, "thinkingBudget": budget}


def _unsigned_tool_turn(contents: list[Content], thinking: Mapping[str, Any]) -> bool:
    """A Claude upstream would reject thinking here: the last model turn calls a
    tool without starting with a signed thinking part (Anthropic requires one when
    thinking is on), so thinking is left off for this request instead of failing.
    """
    if not thinking.get("includeThoughts"):
        return False
    turns = [c["parts"] for c in contents if c["role"] == "model"]
    if not turns or not any("functionCall" in p for p in turns[-1]):
        return False
    first = turns[-1][0]
    return not (first.get("thought") and first.get("thoughtSignature"))
