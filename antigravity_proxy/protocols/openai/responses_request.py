"""OpenAI Responses request (``POST /v1/responses``) → Gemini request.

The result is the inner request only; the v1internal envelope is added after
account selection (``upstream.envelope.wrap_request``). ``previous_response_id``
is resolved by the handler, which passes the earlier response's input and output
items as ``ctx.previous_items``; they are prepended here, and
``items_for_storage`` gives the handler the full conversation to store for the
next follow-up. As in the official API, the earlier ``instructions`` are not
carried over.

Mapped: ``instructions``, ``input``, ``tools`` (and ``additional_tools`` input
items), ``tool_choice``, ``max_output_tokens``, ``temperature``, ``top_p``,
``reasoning.effort``/``summary`` (→ ``thinkingConfig``), ``text.format``.
Dropped (accepted by the official API, no upstream equivalent): ``store``,
``stream`` (the handler's concern), ``include``, ``prompt_cache_key``,
``prompt_cache_retention``, ``client_metadata``, ``metadata``,
``text.verbosity``, ``reasoning.context``, ``reasoning.mode``, ``user``,
``safety_identifier``, ``service_tier``, ``truncation``, ``parallel_tool_calls``,
``max_tool_calls``, ``top_logprobs``, ``background``, ``prompt``,
``conversation``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.protocols.openai.generation import (
    effort_budget,
    fitted_budget,
    output_limit,
    safety_settings,
)
from antigravity_proxy.protocols.openai.responses_input import (
    ContentsBuilder,
    item_type,
)
from antigravity_proxy.protocols.openai.responses_tools import (
    ToolSet,
    tool_config,
    tool_set,
)
from antigravity_proxy.protocols.openai.responses_types import (
    Item,
    JSONObject,
    ResponsesContext,
)
from antigravity_proxy.protocols.openai.types import (
    as_list,
    as_object,
    as_str,
    invalid_type,
    invalid_value,
    optional_bool,
    optional_int,
    optional_number,
)
from antigravity_proxy.protocols.schema import clean_schema

log = logging.getLogger(__name__)

BOOL_FIELDS: Final = ("stream", "store", "parallel_tool_calls", "background")
STRING_FIELDS: Final = (
    "instructions",
    "prompt_cache_key",
    "user",
    "safety_identifier",
    "service_tier",
)
OBJECT_FIELDS: Final = ("metadata", "client_metadata", "text", "reasoning")
TRUNCATION_VALUES: Final = ("auto", "disabled")
ENCRYPTED_CONTENT: Final = "reasoning.encrypted_content"


def request_to_upstream(body: Mapping[str, Any], ctx: ResponsesContext) -> JSONObject:
    """The inner Gemini request for a Responses ``body``.

    Raises ``InvalidRequest`` naming the faulty field (``model``, ``input``,
    ``input[3].call_id``, ``tools[2].name``...), as the official API does.
    """
    _validate_top_level(body)
    tools = request_tool_set(body, ctx)
    builder = ContentsBuilder(ctx)
    for item, param in _labelled_items(body, ctx):
        builder.add(item, param)
    if not builder.contents:
        raise InvalidRequest(
            "'input' must contain at least one message or tool output.", param="input"
        )
    request: JSONObject = {}
    system = _system_parts(body, builder.system_parts)
    if system:
        request["systemInstruction"] = {"role": "user", "parts": system}
    if gemini_tools := tools.gemini_tools():
        request["tools"] = gemini_tools
    if (config := tool_config(body.get("tool_choice"), tools)) is not None:
        request["toolConfig"] = config
    if generation := generation_config(body, ctx.upstream_model):
        request["generationConfig"] = generation
    request["safetySettings"] = safety_settings()
    request["contents"] = builder.contents
    return request


def request_tool_set(body: Mapping[str, Any], ctx: ResponsesContext) -> ToolSet:
    """Tools of the body plus those of every ``additional_tools`` input item.

    The stream translator calls it too, to map upstream names back.
    """
    sources: list[tuple[str, object]] = []
    if body.get("tools") is not None:
        sources.append(("tools", body["tools"]))
    for item, param in _labelled_items(body, ctx):
        if isinstance(item, Mapping) and item_type(item) == "additional_tools":
            sources.append((f"{param}.tools", item.get("tools")))
    return tool_set(sources)


def input_items(body: Mapping[str, Any], ctx: ResponsesContext) -> list[Item]:
    """``ctx.previous_items`` followed by this request's input, as items.

    A string ``input`` becomes one user message, as the official API stores it.
    """
    return [item for item, _ in _labelled_items(body, ctx) if isinstance(item, Mapping)]


def items_for_storage(
    body: Mapping[str, Any], ctx: ResponsesContext, output: Sequence[Item]
) -> list[JSONObject]:
    """The conversation to store under this response id for ``previous_response_id``."""
    return [dict(item) for item in [*input_items(body, ctx), *output]]


def wants_encrypted_content(body: Mapping[str, Any]) -> bool:
    """Whether ``include`` has ``reasoning.encrypted_content`` (Codex: always)."""
    include = body.get("include")
    return isinstance(include, list) and ENCRYPTED_CONTENT in include


def _labelled_items(
    body: Mapping[str, Any], ctx: ResponsesContext
) -> list[tuple[object, str]]:
    labelled: list[tuple[object, str]] = [
        (i, "previous_response_id") for i in ctx.previous_items
    ]
    raw = body.get("input")
    if isinstance(raw, str):
        message = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": raw}],
        }
        labelled.append((message, "input"))
    elif isinstance(raw, list):
        labelled.extend((item, f"input[{index}]") for index, item in enumerate(raw))
    return labelled


def _validate_top_level(body: object) -> None:
    """Type checks of the top-level fields, as the official API makes them.

    Why fields the gateway drops are checked too: several are echoed in the
    response object, where a wrong type would break the client's parser instead.
    """
    if not isinstance(body, Mapping):
        raise InvalidRequest("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    raw = body.get("input")
    if raw is not None and not isinstance(raw, str | list):
        raise invalid_type("input", "a string or an array of input items", raw)
    for key in BOOL_FIELDS:
        optional_bool(body, key)
    for key in STRING_FIELDS:
        if body.get(key) is not None:
            as_str(body[key], key)
    for key in OBJECT_FIELDS:
        if body.get(key) is not None:
            as_object(body[key], key)
    _validate_lists(body)


def _validate_lists(body: Mapping[str, Any]) -> None:
    """``include``, ``max_tool_calls`` and ``truncation``."""
    include = body.get("include")
    for index, value in enumerate(as_list(include, "include") if include else []):
        as_str(value, f"include[{index}]")
    optional_int(body, "max_tool_calls", low=1)
    truncation = body.get("truncation")
    if truncation is not None and truncation not in TRUNCATION_VALUES:
        raise invalid_value(
            "truncation", f"{truncation!r}. Supported values are: auto, disabled."
        )


def _system_parts(
    body: Mapping[str, Any], parts: Sequence[JSONObject]
) -> list[JSONObject]:
    instructions = body.get("instructions")
    head = (
        [{"text": instructions}]
        if isinstance(instructions, str) and instructions
        else []
    )
    return [*head, *parts]


def generation_config(body: Mapping[str, Any], upstream_model: str) -> JSONObject:
    """``temperature``, ``top_p``, ``max_output_tokens``, reasoning and text format."""
    config: JSONObject = {}
    temperature = optional_number(body, "temperature", 0.0, 2.0)
    if temperature is not None:
        config["temperature"] = temperature
    top_p = optional_number(body, "top_p", 0.0, 1.0)
    if top_p is not None:
        config["topP"] = top_p
    max_tokens = optional_int(body, "max_output_tokens", low=1)
    if max_tokens is not None:
        config["maxOutputTokens"] = output_limit(max_tokens, upstream_model)
    thinking = thinking_config(body.get("reasoning"), max_tokens, upstream_model)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    config.update(_response_format(body.get("text")))
    return config


def thinking_config(
    reasoning: object, max_tokens: int | None, upstream_model: str
) -> JSONObject | None:
    """``reasoning`` → ``thinkingConfig`` (None: leave the model's default).

    Why: thoughts are only requested (``includeThoughts``) when the client asked
    for a ``summary``, since they come back as reasoning summaries; the budget is
    the chat table's, fitted to the model and to ``max_output_tokens``.
    """
    if reasoning is None:
        return None
    reasoning = as_object(reasoning, "reasoning")
    effort = reasoning.get("effort")
    summary = reasoning.get("summary") or reasoning.get("generate_summary")
    config: JSONObject = {}
    if effort is not None:
        budget = effort_budget(effort, "reasoning.effort")
        config["thinkingBudget"] = fitted_budget(budget, max_tokens, upstream_model)
    if summary is not None or effort is not None:
        config["includeThoughts"] = summary is not None and effort != "none"
    return config or None


def _response_format(text: object) -> JSONObject:
    if text is None:
        return {}
    fmt = text.get("format") if isinstance(text, Mapping) else None
    if not isinstance(fmt, Mapping) or fmt.get("type") in (None, "text"):
        return {}
    if fmt["type"] == "json_object":
        return {"responseMimeType": "application/json"}
    if fmt["type"] != "json_schema":
        raise InvalidRequest(
            f"Invalid value for 'text.format.type': {fmt['type']!r}.",
            param="text.format.type",
        )
    schema = fmt.get("schema")
    if not isinstance(schema, Mapping):
        raise InvalidRequest(
            "Missing required parameter: 'text.format.schema'.",
            param="text.format.schema",
        )
    return {
        "responseMimeType": "application/json",
        "responseSchema": clean_schema(schema),
    }
