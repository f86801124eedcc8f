"""Wire shapes of the OpenAI Chat Completions and legacy Completions translators.

Owns the TypedDicts for what the translators emit (client-facing chunks and objects,
upstream Gemini parts), the frozen ``ChatContext`` carrying everything a translator
must not invent (ids, timestamps, signatures, pre-fetched media), and the few typed
readers used at the JSON boundary, where untrusted request values are checked and
every failure is an ``InvalidRequest`` naming the field (``param``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Required, TypedDict

from antigravity_proxy.errors import InvalidRequest

JsonObject = Mapping[str, Any]
INT32_MAX: Final = 2**31 - 1


@dataclass(frozen=True, slots=True)
class ChatContext:
    """Everything a chat or completions translation needs besides the body.

    :param id: the client-visible id (``chatcmpl-...`` or ``cmpl-...``), also the
        seed of generated tool-call ids.
    :param created: unix seconds shown in every object and chunk.
    :param model: the model name the client asked for, echoed back.
    :param upstream_model: the resolved upstream model id (informational).
    :param signatures: tool_call id -> thoughtSignature, looked up by the handler.
    :param media: http(s) URL -> (mime type, base64 data), pre-fetched by the handler.
    :param include_usage: ``stream_options.include_usage`` of the request.
    :param thinking_budget: the model's default thinking budget, or None to leave
        thinking alone; ``reasoning_effort`` overrides it.
    """

    id: str
    created: int
    model: str
    upstream_model: str = ""
    signatures: Mapping[str, str] = field(default_factory=dict)
    media: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    include_usage: bool = False
    thinking_budget: int | None = None


@dataclass(frozen=True, slots=True)
class RequestView:
    """The request facts a handler needs before translating: routing and streaming."""

    model: str
    stream: bool
    include_usage: bool
    n: int


class GeminiInlineData(TypedDict):
    mimeType: str
    data: str


class GeminiFunctionCall(TypedDict, total=False):
    name: Required[str]
    args: Required[dict[str, Any]]
    id: str


class GeminiFunctionResponse(TypedDict, total=False):
    name: Required[str]
    response: Required[dict[str, Any]]
    id: str


class GeminiPart(TypedDict, total=False):
    text: str
    thought: bool
    inlineData: GeminiInlineData
    functionCall: GeminiFunctionCall
    functionResponse: GeminiFunctionResponse
    thoughtSignature: str


class GeminiContent(TypedDict):
    role: Literal["user", "model"]
    parts: list[GeminiPart]


class FunctionDelta(TypedDict, total=False):
    name: str
    arguments: str


class ToolCallDelta(TypedDict, total=False):
    index: Required[int]
    id: str
    type: Literal["function"]
    function: FunctionDelta


class ChatDelta(TypedDict, total=False):
    role: Literal["assistant"]
    content: str
    reasoning_content: str
    tool_calls: list[ToolCallDelta]


class ChunkChoice(TypedDict):
    index: int
    delta: ChatDelta
    logprobs: None
    finish_reason: str | None


class PromptTokensDetails(TypedDict):
    cached_tokens: int


class CompletionTokensDetails(TypedDict):
    reasoning_tokens: int


class Usage(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails
    completion_tokens_details: CompletionTokensDetails


class ChatCompletionChunk(TypedDict, total=False):
    id: Required[str]
    object: Required[Literal["chat.completion.chunk"]]
    created: Required[int]
    model: Required[str]
    choices: Required[list[ChunkChoice]]
    usage: Usage | None


class ToolCallFunction(TypedDict):
    name: str
    arguments: str


class ToolCall(TypedDict):
    id: str
    type: Literal["function"]
    function: ToolCallFunction


class ChatMessage(TypedDict, total=False):
    role: Required[Literal["assistant"]]
    content: Required[str | None]
    refusal: Required[None]
    reasoning_content: str
    tool_calls: list[ToolCall]


class ChatChoice(TypedDict):
    index: int
    message: ChatMessage
    logprobs: None
    finish_reason: str


class ChatCompletion(TypedDict):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


class TextChoice(TypedDict):
    text: str
    index: int
    logprobs: None
    finish_reason: str | None


class TextCompletion(TypedDict, total=False):
    id: Required[str]
    object: Required[Literal["text_completion"]]
    created: Required[int]
    model: Required[str]
    choices: Required[list[TextChoice]]
    usage: Usage | None


def json_type(value: Any) -> str:
    """The JSON type of ``value`` with its article, as OpenAI's messages name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def invalid_type(param: str, expected: str, value: Any) -> InvalidRequest:
    """OpenAI's wording: ``Invalid type for 'x': expected a string, but got ...``."""
    if value is None:
        return InvalidRequest(f"Missing required parameter: '{param}'.", param=param)
    return InvalidRequest(
        f"Invalid type for '{param}': expected {expected}, "
        f"but got {json_type(value)} instead.",
        param=param,
    )


def as_object(value: Any, param: str) -> JsonObject:
    """``value`` as a JSON object, or InvalidRequest naming ``param``."""
    if not isinstance(value, Mapping):
        raise invalid_type(param, "an object", value)
    return value


def as_list(value: Any, param: str) -> list[Any]:
    """``value`` as a JSON array, or InvalidRequest naming ``param``."""
    if not isinstance(value, list):
        raise invalid_type(param, "an array", value)
    return value


def as_str(value: Any, param: str) -> str:
    """``value`` as a string, or InvalidRequest naming ``param``."""
    if not isinstance(value, str):
        raise invalid_type(param, "a string", value)
    return value


def optional_number(
    body: JsonObject, key: str, low: float, high: float
) -> float | None:
    """A finite number in ``[low, high]`` (booleans are not numbers), or None when
    absent."""
    value = body.get(key)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
    ):
        raise invalid_type(key, "a decimal", value)
    if value < low:
        raise _out_of_range(key, "decimal below minimum", f">= {low:g}", value)
    if value > high:
        raise _out_of_range(key, "decimal above maximum", f"<= {high:g}", value)
    return value


def optional_int(
    body: JsonObject,
    key: str,
    low: int | None = None,
    high: int = INT32_MAX,
    param: str = "",
) -> int | None:
    """An integer in ``[low, high]``, or None when absent; errors name ``param``
    (default ``key``).

    Why a default ceiling: the upstream's integer fields are int32, and a larger
    value would come back as an opaque upstream 400 rather than one naming the field.
    """
    value = body.get(key)
    name = param or key
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type(name, "an integer", value)
    if low is not None and value < low:
        raise _out_of_range(name, "integer below minimum", f">= {low}", value)
    if value > high:
        raise _out_of_range(name, "integer above maximum", f"<= {high}", value)
    return value


def optional_bool(body: JsonObject, key: str, param: str = "") -> bool | None:
    """A boolean, or None when absent; errors name ``param`` (default ``key``)."""
    value = body.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise invalid_type(param or key, "a boolean", value)


def invalid_value(param: str, detail: str) -> InvalidRequest:
    """OpenAI's wording for a well-typed but unacceptable value."""
    return InvalidRequest(f"Invalid value for '{param}': {detail}", param=param)


def unsupported(param: str, reason: str) -> InvalidRequest:
    """The error for a field the official API accepts but the upstream cannot honour,
    in OpenAI's wording for parameters a model does not support."""
    return InvalidRequest(
        f"Unsupported parameter: '{param}' is not supported by this gateway "
        f"({reason}).",
        param=param,
    )


def _out_of_range(key: str, what: str, bound: str, value: Any) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid '{key}': {what} value. Expected a value {bound}, "
        f"but got {value} instead.",
        param=key,
    )
