"""Wire types of the OpenAI Responses API and the context its translators receive.

The TypedDicts describe the JSON the translators read and write (the official
``openai.types.responses`` shapes, trimmed to what the gateway uses). Everything a
translator would otherwise take from the clock, a random source or a store arrives
in ``ResponsesContext``, so one request always translates to the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Required, TypedDict

JSONObject = dict[str, Any]
Item = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class FetchedMedia:
    """Bytes the handler downloaded for an ``http(s)`` image URL of the request."""

    mime_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ResponsesContext:
    """What a Responses translation needs beyond the request body.

    :param response_id: the ``resp_...`` id given to the client.
    :param created_at: unix seconds, echoed as ``created_at``.
    :param model: the model name the client asked for (echoed back).
    :param upstream_model: the Cloud Code model serving the request.
    :param id_seed: makes output item ids unique: ``{prefix}_{id_seed}_{n}``.
    :param signatures: call_id → thoughtSignature known to the handler's store.
    :param media: URL → fetched bytes for ``http(s)`` image URLs.
    :param previous_items: input + output items of ``previous_response_id``.
    :param include_encrypted: the client asked for ``reasoning.encrypted_content``.
    """

    response_id: str
    created_at: int
    model: str
    upstream_model: str
    id_seed: str
    signatures: Mapping[str, str] = field(default_factory=dict)
    media: Mapping[str, FetchedMedia] = field(default_factory=dict)
    previous_items: Sequence[Item] = ()
    include_encrypted: bool = False

    def item_id(self, prefix: str, number: int) -> str:
        """A deterministic output item id, e.g. ``msg_<seed>_3``."""
        return f"{prefix}_{self.id_seed}_{number}"


class InputText(TypedDict, total=False):
    type: Required[Literal["input_text", "output_text"]]
    text: Required[str]


class InputImage(TypedDict, total=False):
    type: Required[Literal["input_image"]]
    image_url: str | None
    file_id: str | None
    detail: str


class MessageItem(TypedDict, total=False):
    type: Literal["message"]
    id: str
    role: Required[Literal["user", "assistant", "system", "developer"]]
    content: Required[str | list[Mapping[str, Any]]]
    status: str


class FunctionCallItem(TypedDict, total=False):
    type: Required[Literal["function_call"]]
    id: str
    call_id: Required[str]
    name: Required[str]
    namespace: str
    arguments: Required[str]
    status: Literal["in_progress", "completed", "incomplete"]


class CustomToolCallItem(TypedDict, total=False):
    type: Required[Literal["custom_tool_call"]]
    id: str
    call_id: Required[str]
    name: Required[str]
    namespace: str
    input: Required[str]


class SummaryText(TypedDict):
    type: Literal["summary_text"]
    text: str


class ReasoningItem(TypedDict, total=False):
    type: Required[Literal["reasoning"]]
    id: Required[str]
    summary: Required[list[SummaryText]]
    encrypted_content: str | None


class OutputText(TypedDict):
    type: Literal["output_text"]
    text: str
    annotations: list[Any]
    logprobs: list[Any]


class OutputMessage(TypedDict):
    type: Literal["message"]
    id: str
    role: Literal["assistant"]
    status: Literal["in_progress", "completed", "incomplete"]
    content: list[OutputText]


class InputTokensDetails(TypedDict):
    cached_tokens: int
    cache_write_tokens: int


class OutputTokensDetails(TypedDict):
    reasoning_tokens: int


class Usage(TypedDict):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class ResponseError(TypedDict):
    code: str
    message: str


IncompleteReason = Literal["max_output_tokens", "content_filter"]


class IncompleteDetails(TypedDict):
    reason: IncompleteReason


class ResponsesRequest(TypedDict, total=False):
    """``POST /v1/responses`` body (fields the gateway reads or echoes)."""

    model: Required[str]
    input: str | list[Item]
    instructions: str | None
    tools: list[Item]
    tool_choice: str | Item
    parallel_tool_calls: bool
    max_output_tokens: int | None
    reasoning: Mapping[str, Any] | None
    text: Mapping[str, Any]
    temperature: float | None
    top_p: float | None
    previous_response_id: str | None
    include: list[str]
    store: bool
    stream: bool
    metadata: Mapping[str, str] | None
