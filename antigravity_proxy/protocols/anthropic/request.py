"""Anthropic Messages request -> the inner Gemini ``GenerateContentRequest``.

Owns validation of the top-level fields, the system instruction, the message
list (roles, merging), tools and ``tool_choice``. Blocks become parts in
``content.py``, ``generationConfig`` is ``generation.py``'s, and the v1internal
envelope is added later by the upstream client.

Tolerated and dropped: ``metadata`` (Claude Code's ``user_id`` is a JSON string;
the handler may use it as a session key), ``context_management``,
``cache_control`` anywhere, ``service_tier``, ``stream`` (the handler's concern),
``container``, ``mcp_servers``, ``thinking.display``,
``tool_choice.disable_parallel_tool_use`` (enforced on the answer by the stream
translator, see ``parallel_tool_use``), the web search tool's options
(``max_uses``, ``allowed_domains``, ``blocked_domains``, ``user_location``:
Google Search takes none) and any unknown top-level key. The
``x-anthropic-billing-header: ...`` system block Claude Code sends first is
dropped: it is billing metadata, not instructions, and its version string would
change the prompt prefix on every client update.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.protocols.anthropic.content import (
    Turns,
    system_texts,
    tool_names,
)
from antigravity_proxy.protocols.anthropic.generation import generation_config
from antigravity_proxy.protocols.anthropic.types import (
    Content,
    FieldError,
    JsonObject,
    MessagesContext,
    Part,
    as_int,
    as_list,
    as_object,
    as_str,
    not_one_of,
    object_error,
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
TOOL_CHOICE_MODE: Final[Mapping[str, str]] = {
    # VALIDATED: text or a call, and any call is checked against its schema.
    "auto": "VALIDATED",
    "any": "ANY",
    "tool": "ANY",
    "none": "NONE",
}


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
    request["generationConfig"] = generation_config(body, max_tokens, contents, ctx)
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


def parallel_tool_use(body: JsonObject) -> bool:
    """False when ``tool_choice.disable_parallel_tool_use`` is true.

    Why the stream enforces it: Gemini has no switch for it, so the translator
    keeps the first ``tool_use`` of an answer and drops any further call
    (Anthropic's promise: at most one, or exactly one for ``any``/``tool``).
    """
    choice = body.get("tool_choice")
    single = (
        choice.get("disable_parallel_tool_use") if isinstance(choice, Mapping) else None
    )
    return single is not True


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
    turns = Turns(ctx, tool_names(messages))
    contents: list[Content] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise object_error(message, f"messages[{i}]")
        try:
            _add_message(message, turns, texts, contents)
        except FieldError as exc:
            raise exc.within(f"messages[{i}]") from None
    if not contents:
        raise InvalidRequest(
            "messages: at least one user or assistant message is required",
            param="messages",
        )
    return [{"text": t} for t in texts], contents


def _add_message(
    message: JsonObject, turns: Turns, texts: list[str], contents: list[Content]
) -> None:
    """One message onto the system ``texts`` or the ``contents``; errors name
    fields relative to the message."""
    role = message.get("role")
    if role == "system":
        texts.extend(system_texts(message.get("content"), "content"))
    elif isinstance(role, str) and role in ROLE_TO_UPSTREAM:
        _append(contents, ROLE_TO_UPSTREAM[role], turns.message_parts(message))
    else:
        raise not_one_of(role, "role", ("user", "assistant", "system"))


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
            search.add(as_str(tool.get("name", "web_search"), f"{param}.name"))
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
    single = choice.get("disable_parallel_tool_use")
    if single is not None and not isinstance(single, bool):
        param = "tool_choice.disable_parallel_tool_use"
        raise InvalidRequest(f"{param}: Input should be a valid boolean", param=param)
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
