"""OpenAI ``POST /v1/chat/completions`` bodies, as the inner Gemini request.

Owns request validation (every failure an ``InvalidRequest`` naming ``param``, in
the official API's wording), tools and ``tool_choice``, and ``generationConfig``
(sampling, JSON output, reasoning effort). Messages are ``content.py``'s; the
envelope (project, model, sessionId) is added later by ``upstream.envelope``.

Dropped fields, accepted because the official API accepts them and ignoring them
changes nothing the client can check: ``user``, ``store``, ``metadata``,
``logit_bias``, ``service_tier``, ``safety_identifier``, ``prompt_cache_key``,
``prompt_cache_retention``, ``verbosity``, ``prediction``, ``parallel_tool_calls``
(Gemini has no switch), ``logprobs: false``, ``tools[].function.strict``.
Unknown fields are ignored too, so OpenAI-compatible extras do not break clients.
Rejected as unsupported: ``logprobs: true``, ``top_logprobs``, ``audio``,
``modalities`` other than text, ``web_search_options``, non-function tools.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.protocols.openai.content import contents_from_messages
from antigravity_proxy.protocols.openai.generation import (
    effort_budget,
    fitted_budget,
    output_limit,
    safety_settings,
    upstream_seed,
)
from antigravity_proxy.protocols.openai.types import (
    ChatContext,
    JsonObject,
    RequestView,
    as_list,
    as_object,
    as_str,
    invalid_type,
    invalid_value,
    optional_bool,
    optional_int,
    optional_number,
    unsupported,
)
from antigravity_proxy.protocols.schema import clean_schema

NUMBER_FIELDS: Final = (
    ("temperature", "temperature", 0.0, 2.0),
    ("top_p", "topP", 0.0, 1.0),
    ("presence_penalty", "presencePenalty", -2.0, 2.0),
    ("frequency_penalty", "frequencyPenalty", -2.0, 2.0),
)
MAX_STOP_SEQUENCES: Final = 4
MAX_CHOICES: Final = 128
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
TOOL_CHOICE_MODE: Final[Mapping[str, str]] = {
    "none": "NONE",
    "auto": "AUTO",
    "required": "ANY",
}
# VALIDATED: the model may answer in text, but any call is one of the allowed names.
ALLOWED_TOOLS_MODE: Final[Mapping[str, str]] = {"auto": "VALIDATED", "required": "ANY"}
UNSUPPORTED_WHEN_SET: Final[Mapping[str, str]] = {
    "top_logprobs": "the upstream returns no log probabilities",
    "audio": "the upstream answers in text only",
    "web_search_options": "use a search-enabled model instead",
}


def parse_chat_request(body: Any) -> RequestView:
    """Validate the fields a handler needs before translating (model, streaming, n)."""
    request = as_object(body, "body")
    messages = as_list(request.get("messages"), "messages")
    if not messages:
        raise InvalidRequest(
            "Invalid 'messages': empty array. Expected an array with minimum length "
            "1, but got an empty array instead.",
            param="messages",
        )
    return view_of(request)


def view_of(request: JsonObject) -> RequestView:
    """``model``, ``stream``, ``stream_options`` and ``n``, shared with completions."""
    model = as_str(request.get("model"), "model")
    stream = bool(optional_bool(request, "stream"))
    options = request.get("stream_options")
    include_usage = False
    if options is not None:
        if not stream:
            raise InvalidRequest(
                "The 'stream_options' parameter is only allowed when 'stream' is "
                "enabled.",
                param="stream_options",
            )
        options = as_object(options, "stream_options")
        include_usage = bool(
            optional_bool(options, "include_usage", "stream_options.include_usage")
        )
    n = optional_int(request, "n", low=1, high=MAX_CHOICES)
    return RequestView(model, stream, include_usage, 1 if n is None else n)


def request_to_upstream(body: Any, ctx: ChatContext) -> dict[str, Any]:
    """The inner Gemini ``GenerateContentRequest`` for a chat completions body."""
    view = parse_chat_request(body)
    _reject_unsupported(body)
    system, contents = contents_from_messages(body["messages"], ctx)
    if not contents:
        raise invalid_value(
            "messages", "expected at least one user, assistant or tool message."
        )
    declarations = _declarations(body)
    request: dict[str, Any] = {}
    if system:
        request["systemInstruction"] = {"parts": system}
    if declarations:
        request["tools"] = [{"functionDeclarations": declarations}]
    tool_config = _tool_config(body, {d["name"] for d in declarations})
    if tool_config is not None:
        request["toolConfig"] = tool_config
    config = {
        **sampling_config(body, view.n, ctx.upstream_model),
        **_response_format(body),
    }
    thinking = _thinking_config(body, ctx)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    if config:
        request["generationConfig"] = config
    request["safetySettings"] = safety_settings()
    request["contents"] = contents
    return request


def sampling_config(body: JsonObject, n: int, upstream_model: str) -> dict[str, Any]:
    """``generationConfig`` sampling fields shared by chat and legacy completions.

    ``top_k`` is not OpenAI's but common in compatible clients, so it is honoured.
    """
    config: dict[str, Any] = {}
    for key, target, low, high in NUMBER_FIELDS:
        value = optional_number(body, key, low, high)
        if value is not None:
            config[target] = value
    seed = optional_int(body, "seed", low=INT64_MIN, high=INT64_MAX)
    stops = _stop_sequences(body.get("stop"))
    optional = {
        "topK": optional_int(body, "top_k", low=1),
        "maxOutputTokens": output_limit(max_tokens_of(body), upstream_model),
        "candidateCount": n if n > 1 else None,
        "stopSequences": stops or None,
        "seed": upstream_seed(seed),
    }
    config.update({k: v for k, v in optional.items() if v is not None})
    return config


def max_tokens_of(body: JsonObject) -> int | None:
    """The client's output limit (reasoning included), as asked.

    Why ``max_completion_tokens`` wins over ``max_tokens``: OpenAI deprecated the
    latter for it, and both count reasoning tokens, as ``maxOutputTokens`` does.
    """
    max_tokens = optional_int(body, "max_completion_tokens", low=1)
    if max_tokens is None:
        max_tokens = optional_int(body, "max_tokens", low=1)
    return max_tokens


def _stop_sequences(stop: Any) -> list[str]:
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop] if stop else []
    if not isinstance(stop, list):
        raise invalid_type("stop", "a string or an array of strings", stop)
    if len(stop) > MAX_STOP_SEQUENCES:
        raise InvalidRequest(
            f"Invalid 'stop': array too long. Expected an array with maximum length "
            f"{MAX_STOP_SEQUENCES}, but got an array with length {len(stop)} instead.",
            param="stop",
        )
    return [as_str(s, f"stop[{i}]") for i, s in enumerate(stop) if s != ""]


def _reject_unsupported(body: JsonObject) -> None:
    optional_bool(body, "parallel_tool_calls")
    if optional_bool(body, "logprobs"):
        raise unsupported("logprobs", "the upstream returns no log probabilities")
    for key, what in UNSUPPORTED_WHEN_SET.items():
        if body.get(key) is not None:
            raise unsupported(key, what)
    modalities = body.get("modalities")
    if modalities is not None and any(
        m != "text" for m in as_list(modalities, "modalities")
    ):
        raise unsupported("modalities", "the upstream answers in text only")


def _declarations(body: JsonObject) -> list[dict[str, Any]]:
    """``tools`` (or the legacy ``functions``) as Gemini functionDeclarations.

    Why ``clean_schema``: the upstream validates ``parameters`` against Google's
    OpenAPI subset and rejects the whole request on an unknown keyword.
    """
    tools = body.get("tools")
    if tools is not None:
        return [
            _tool_declaration(t, f"tools[{i}]")
            for i, t in enumerate(as_list(tools, "tools"))
        ]
    functions = body.get("functions")
    if functions is None:
        return []
    return [
        _function_declaration(as_object(f, f"functions[{i}]"), f"functions[{i}]")
        for i, f in enumerate(as_list(functions, "functions"))
    ]


def _tool_declaration(raw: Any, param: str) -> dict[str, Any]:
    tool = as_object(raw, param)
    if tool.get("type") != "function":
        raise unsupported(f"{param}.type", "only function tools are")
    function = as_object(tool.get("function"), f"{param}.function")
    return _function_declaration(function, f"{param}.function")


def _function_declaration(function: JsonObject, param: str) -> dict[str, Any]:
    declaration: dict[str, Any] = {
        "name": as_str(function.get("name"), f"{param}.name")
    }
    description = function.get("description")
    if description is not None:
        declaration["description"] = as_str(description, f"{param}.description")
    parameters = function.get("parameters")
    if parameters is not None:
        declaration["parameters"] = clean_schema(
            as_object(parameters, f"{param}.parameters")
        )
    return declaration


def _tool_config(body: JsonObject, names: set[str]) -> dict[str, Any] | None:
    """``tool_choice`` (or the legacy ``function_call``) as Gemini's toolConfig.

    Why no toolConfig when absent: Gemini's default is AUTO, OpenAI's is ``auto``
    when tools are present.
    """
    key = "tool_choice" if "tool_choice" in body else "function_call"
    choice = body.get(key)
    if choice is None or (not names and choice in ("none", "auto")):
        return None
    if not names:
        raise invalid_value(key, f"'{key}' is only allowed when tools are specified.")
    if isinstance(choice, str):
        if choice not in TOOL_CHOICE_MODE:
            raise invalid_value(
                key, f"{choice!r}. Supported values are: none, auto, required."
            )
        return _calling_config(TOOL_CHOICE_MODE[choice], [])
    choice = as_object(choice, key)
    if key == "function_call":
        return _calling_config("ANY", [_chosen_name(choice, names, key)])
    if choice.get("type") == "allowed_tools":
        return _allowed_tools(
            as_object(choice.get("allowed_tools"), f"{key}.allowed_tools"), names
        )
    if choice.get("type") != "function":
        raise invalid_value(
            f"{key}.type",
            f"{choice.get('type')!r}. Supported values are: function, allowed_tools.",
        )
    function = as_object(choice.get("function"), f"{key}.function")
    return _calling_config("ANY", [_chosen_name(function, names, f"{key}.function")])


def _allowed_tools(allowed: JsonObject, names: set[str]) -> dict[str, Any]:
    param = "tool_choice.allowed_tools"
    mode = allowed.get("mode")
    if not isinstance(mode, str) or mode not in ALLOWED_TOOLS_MODE:
        raise invalid_value(
            f"{param}.mode", f"{mode!r}. Supported values are: auto, required."
        )
    chosen = []
    for index, raw in enumerate(as_list(allowed.get("tools"), f"{param}.tools")):
        tool_param = f"{param}.tools[{index}]"
        tool = as_object(raw, tool_param)
        function = as_object(tool.get("function"), f"{tool_param}.function")
        chosen.append(_chosen_name(function, names, f"{tool_param}.function"))
    return _calling_config(ALLOWED_TOOLS_MODE[mode], chosen)


def _chosen_name(function: JsonObject, names: set[str], param: str) -> str:
    name = as_str(function.get("name"), f"{param}.name")
    if name not in names:
        raise invalid_value(
            f"{param}.name", f"no function named {name!r} is in 'tools'."
        )
    return name


def _calling_config(mode: str, names: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {"mode": mode}
    if names:
        config["allowedFunctionNames"] = names
    return {"functionCallingConfig": config}


def _response_format(body: JsonObject) -> dict[str, Any]:
    """``response_format`` as ``responseMimeType`` (+ ``responseJsonSchema``).

    Why ``responseJsonSchema`` and not ``responseSchema`` + ``clean_schema``: the
    client's schema is an output contract, so it goes upstream unchanged. The JSON
    Schema field takes what strict OpenAI schemas need (``additionalProperties:
    false``, ``["string", "null"]`` types, ``$ref``), which ``responseSchema``
    rejects or ``clean_schema`` folds into descriptions; Gemini CLI sends
    ``responseJsonSchema`` through the same upstream (real-clients.md).
    """
    fmt = body.get("response_format")
    if fmt is None:
        return {}
    fmt = as_object(fmt, "response_format")
    kind = fmt.get("type")
    if kind == "text":
        return {}
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    if kind != "json_schema":
        raise invalid_value(
            "response_format.type",
            f"{kind!r}. Supported values are: text, json_object, json_schema.",
        )
    spec = as_object(fmt.get("json_schema"), "response_format.json_schema")
    as_str(spec.get("name"), "response_format.json_schema.name")
    schema = spec.get("schema")
    out: dict[str, Any] = {"responseMimeType": "application/json"}
    if schema is not None:
        out["responseJsonSchema"] = copy.deepcopy(
            dict(as_object(schema, "response_format.json_schema.schema"))
        )
    return out


def _thinking_config(body: JsonObject, ctx: ChatContext) -> dict[str, Any] | None:
    """``reasoning_effort`` (else the model's default budget) as thinkingConfig.

    Why ``includeThoughts``: without it Gemini thinks silently and the client
    gets no ``reasoning_content``; a zero budget turns thinking off instead.
    """
    effort = body.get("reasoning_effort")
    if effort is None:
        budget = ctx.thinking_budget
    else:
        budget = effort_budget(effort, "reasoning_effort")
    if budget is None:
        return None
    budget = fitted_budget(budget, max_tokens_of(body), ctx.upstream_model)
    return {"includeThoughts": budget != 0, "thinkingBudget": budget}
