"""Upstream Gemini stream → OpenAI Responses events (and the final response object).

``ResponsesStreamTranslator`` is fed one upstream SSE event at a time and returns
the encoded Responses frames at once (nothing is buffered): ``response.created``
and ``response.in_progress`` from ``start()``; per output item
``output_item.added``, its deltas, ``output_item.done`` (Codex takes the final
items only from there); then ``response.completed`` or ``response.incomplete`` from
``finish()``, or ``response.failed`` from ``error()``. The non-streaming answer is
``response_object()`` of the same translator, so both carry the same output.

Items: thought parts → a ``reasoning`` item with one summary part; text → a
``message`` with one ``output_text`` part; ``functionCall`` → ``function_call``, or
``custom_tool_call`` for bridged custom tools, under the client's name and
namespace. A thoughtSignature is kept per call (``signatures``) and, when the
client includes ``reasoning.encrypted_content``, carried by the reasoning item
before the part it signs (a reasoning item with an empty summary when there was
no thought text) so that replaying the items restores it.

Dropped: candidates other than the first, ``inlineData``/``executableCode``/
``codeExecutionResult`` parts, ``groundingMetadata``, ``citationMetadata``,
safety ratings, ``modelVersion``, ``responseId``, and a text part's signature
that arrives once the message is already open (text signatures are optional).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from antigravity_proxy.errors import ErrorKind, GatewayError
from antigravity_proxy.protocols.gemini.chunk import (
    Chunk,
    FunctionCall,
    Part,
    TokenUsage,
    chunk_from_upstream,
)
from antigravity_proxy.protocols.openai import responses_events as events
from antigravity_proxy.protocols.openai.chat_stream import finish_reason_from_upstream
from antigravity_proxy.protocols.openai.errors import message_of
from antigravity_proxy.protocols.openai.responses_events import (
    response_object_skeleton,
    usage_from_upstream,
)
from antigravity_proxy.protocols.openai.responses_request import (
    items_for_storage,
    request_tool_set,
    wants_encrypted_content,
)
from antigravity_proxy.protocols.openai.responses_signature import encode_signature
from antigravity_proxy.protocols.openai.responses_tools import (
    ToolRef,
    custom_input,
    function_arguments,
)
from antigravity_proxy.protocols.openai.responses_types import (
    IncompleteDetails,
    IncompleteReason,
    JSONObject,
    ResponseError,
    ResponsesContext,
    Usage,
)

# From the chat finish reason, so both APIs read one upstream table.
INCOMPLETE_REASON: Final[Mapping[str, IncompleteReason]] = {
    "length": "max_output_tokens",
    "content_filter": "content_filter",
}
ERROR_CODE: Final[Mapping[ErrorKind, str]] = {
    ErrorKind.RATE_LIMIT: "rate_limit_exceeded",
    ErrorKind.INVALID_REQUEST: "invalid_prompt",
}
DEFAULT_ERROR_CODE: Final = "server_error"
NO_FINISH_MESSAGE: Final = "The upstream stream ended without a finish reason."
NO_USAGE: Final = TokenUsage()


@dataclass(slots=True)
class _OpenItem:
    """The output item currently receiving deltas."""

    kind: str
    index: int
    item_id: str
    text: list[str] = field(default_factory=list)


class ResponsesStreamTranslator:
    """Translate one upstream stream into Responses events, part by part.

    :param ctx: ids, timestamps, client model name and the encrypted_content flag.
    :param request_body: the client's request (echo fields and tool names).
    """

    def __init__(self, ctx: ResponsesContext, request_body: Mapping[str, Any]) -> None:
        self._ctx = ctx
        self._body = request_body
        self._tools = request_tool_set(request_body, ctx)
        self._encrypted = ctx.include_encrypted or wants_encrypted_content(request_body)
        self._sequence = 0
        self._output: list[JSONObject] = []
        self._open: _OpenItem | None = None
        self._pending_signature: str | None = None
        self.signatures: dict[str, str] = {}
        self.usage: TokenUsage | None = None
        self.done = False
        self._finish_reason: str | None = None
        self._status = "in_progress"
        self._error: ResponseError | None = None
        self._incomplete: IncompleteDetails | None = None
        self._calls = 0

    def start(self) -> list[bytes]:
        """``response.created`` and ``response.in_progress``."""
        return [
            self._frame("response.created", response=self.response_object()),
            self._frame("response.in_progress", response=self.response_object()),
        ]

    def feed(self, chunk: Mapping[str, Any]) -> list[bytes]:
        """Frames for one upstream event (wrapped in ``{"response": ...}`` or bare)."""
        if self.done:
            return []
        read = chunk_from_upstream(chunk)
        frames = [frame for part in read.first.parts for frame in self._part(part)]
        self._note_finish(read)
        self.usage = read.usage or self.usage
        return frames

    def finish(self) -> list[bytes]:
        """Close the open item and send the terminal event."""
        if self.done:
            return []
        frames = self._close_open()
        if self._finish_reason is None:
            return frames + self._fail(DEFAULT_ERROR_CODE, NO_FINISH_MESSAGE)
        reason = INCOMPLETE_REASON.get(finish_reason_from_upstream(self._finish_reason))
        self._status = "completed" if reason is None else "incomplete"
        self._incomplete = None if reason is None else {"reason": reason}
        self.done = True
        event = f"response.{self._status}"
        return [*frames, self._frame(event, response=self.response_object())]

    def error(self, err: GatewayError) -> list[bytes]:
        """``response.failed`` for a failure after the first byte."""
        if self.done:
            return []
        return self._fail(ERROR_CODE.get(err.kind, DEFAULT_ERROR_CODE), message_of(err))

    def response_object(self) -> JSONObject:
        """The response as it stands (the final one after ``finish()``)."""
        response = response_object_skeleton(self._ctx, self._body)
        response["status"] = self._status
        response["error"] = self._error
        response["incomplete_details"] = self._incomplete
        response["output"] = list(self._output)
        response["usage"] = self._final_usage() if self.done else None
        return response

    def _final_usage(self) -> Usage | None:
        """The usage seen; zeros for a finished answer that reported none."""
        if self.usage is None:
            return None if self._status == "failed" else usage_from_upstream(NO_USAGE)
        return usage_from_upstream(self.usage)

    def items_for_storage(self) -> list[JSONObject]:
        """Input and output items to store for a ``previous_response_id`` follow-up."""
        return items_for_storage(self._body, self._ctx, self._output)

    def _part(self, part: Part) -> list[bytes]:
        if part.function_call is not None:
            return self._function_call(part.function_call, part.signature)
        if part.text is None:
            return []
        if part.thought:
            return self._thought(part.text, part.signature)
        return self._text(part.text, part.signature)

    def _thought(self, text: str, signature: str) -> list[bytes]:
        if signature:
            self._pending_signature = signature
        if not text:
            return []
        frames: list[bytes] = []
        if self._open is None or self._open.kind != "reasoning":
            frames.extend(self._close_open())
            frames.extend(self._open_reasoning())
        assert self._open is not None
        at = self._at(summary_index=0)
        if not self._open.text:
            part = {"type": "summary_text", "text": ""}
            frames.append(
                self._frame("response.reasoning_summary_part.added", **at, part=part)
            )
        self._open.text.append(text)
        frames.append(
            self._frame("response.reasoning_summary_text.delta", **at, delta=text)
        )
        return frames

    def _text(self, text: str, signature: str) -> list[bytes]:
        frames: list[bytes] = []
        if self._open is None or self._open.kind != "message":
            frames.extend(self._sign(signature, []))
            if text:
                frames.extend(self._open_message())
        if text:
            assert self._open is not None
            self._open.text.append(text)
            delta = self._at(content_index=0)
            frames.append(
                self._frame(
                    "response.output_text.delta", **delta, delta=text, logprobs=[]
                )
            )
        return frames

    def _function_call(self, call: FunctionCall, signature: str) -> list[bytes]:
        call_id = call.id or self._ctx.item_id("call", self._calls)
        self._calls += 1
        frames = self._close_message()
        frames.extend(self._sign(signature, [call_id]))
        ref = self._tools.ref(call.name)
        return frames + self._call_item(ref, call_id, call.args)

    def _sign(self, signature: str, call_ids: list[str]) -> list[bytes]:
        """Close an open reasoning item with the signature, or emit a carrier item."""
        found = signature or self._pending_signature
        self._pending_signature = None
        if found is not None:
            for call_id in call_ids:
                self.signatures[call_id] = found
        if self._open is not None and self._open.kind == "reasoning":
            return self._close_open(found, call_ids)
        if found is None or not self._encrypted:
            return []
        frames = self._open_reasoning()
        return frames + self._close_open(found, call_ids)

    def _open_reasoning(self) -> list[bytes]:
        index = len(self._output)
        item_id = self._ctx.item_id("rs", index)
        self._open = _OpenItem("reasoning", index, item_id)
        item: JSONObject = {"id": item_id, "type": "reasoning", "summary": []}
        self._output.append(item)
        return [
            self._frame("response.output_item.added", output_index=index, item=item)
        ]

    def _open_message(self) -> list[bytes]:
        index = len(self._output)
        item_id = self._ctx.item_id("msg", index)
        self._open = _OpenItem("message", index, item_id)
        item = events.message_item(item_id, "in_progress", None)
        self._output.append(item)
        part = events.output_text("")
        return [
            self._frame("response.output_item.added", output_index=index, item=item),
            self._frame(
                "response.content_part.added", **self._at(content_index=0), part=part
            ),
        ]

    def _close_message(self) -> list[bytes]:
        if self._open is not None and self._open.kind == "message":
            return self._close_open()
        return []

    def _close_open(
        self, signature: str | None = None, call_ids: list[str] | None = None
    ) -> list[bytes]:
        opened, self._open = self._open, None
        if opened is None:
            return []
        text = "".join(opened.text)
        if opened.kind == "message":
            item = events.message_item(opened.item_id, "completed", text)
            self._output[opened.index] = item
            return self._emit(events.message_done_events(opened.index, item))
        extra = self._encrypted_content(signature, call_ids or [])
        item = events.reasoning_item(opened.item_id, text, extra)
        self._output[opened.index] = item
        return self._emit(events.reasoning_done_events(opened.index, item))

    def _encrypted_content(
        self, signature: str | None, call_ids: list[str]
    ) -> dict[str, Any]:
        """A reasoning item's ``encrypted_content`` key (absent unless included)."""
        if not self._encrypted:
            return {}
        if signature is None:
            return {"encrypted_content": None}
        encoded = encode_signature(signature, call_ids, self._ctx.upstream_model)
        return {"encrypted_content": encoded}

    def _call_item(
        self, ref: ToolRef, call_id: str, args: Mapping[str, Any]
    ) -> list[bytes]:
        index = len(self._output)
        if ref.custom:
            item_id = self._ctx.item_id("ctc", index)
            added = events.custom_tool_call_item(item_id, ref, call_id, "")
            done = events.custom_tool_call_item(
                item_id, ref, call_id, custom_input(args)
            )
        else:
            item_id = self._ctx.item_id("fc", index)
            arguments = function_arguments(args)
            added = events.function_call_item(item_id, ref, call_id, "", "in_progress")
            done = events.function_call_item(
                item_id, ref, call_id, arguments, "completed"
            )
        self._output.append(done)
        return self._emit(events.call_events(index, added, done))

    def _note_finish(self, chunk: Chunk) -> None:
        if chunk.first.finish_reason is not None:
            self._finish_reason = chunk.first.finish_reason
        if chunk.block_reason is not None:
            self._finish_reason = "SAFETY"

    def _fail(self, code: str, message: str) -> list[bytes]:
        opened, self._open = self._open, None
        if opened is not None:
            self._output[opened.index] = events.interrupted_item(
                self._output[opened.index], "".join(opened.text)
            )
        self._status = "failed"
        self._error = {"code": code, "message": message}
        self.done = True
        return [self._frame("response.failed", response=self.response_object())]

    def _at(self, **extra: int) -> dict[str, Any]:
        assert self._open is not None
        return {
            "item_id": self._open.item_id,
            "output_index": self._open.index,
            **extra,
        }

    def _emit(self, pending: list[events.Event]) -> list[bytes]:
        return [self._frame(event, **fields) for event, fields in pending]

    def _frame(self, event: str, **fields: Any) -> bytes:
        frame = events.frame(event, self._sequence, fields)
        self._sequence += 1
        return frame


def response_from_upstream(
    chunks: Iterable[Mapping[str, Any]],
    ctx: ResponsesContext,
    request_body: Mapping[str, Any],
) -> JSONObject:
    """The non-streaming response object for a whole upstream answer.

    Why through the stream translator: the collected answer must equal what the
    stream would have carried, so both come from one state machine.
    """
    translator = ResponsesStreamTranslator(ctx, request_body)
    translator.start()
    for chunk in chunks:
        translator.feed(chunk)
    translator.finish()
    return translator.response_object()
