"""Responses ``input`` items → Gemini ``contents`` and system instruction parts.

One ``ContentsBuilder`` walks the conversation (earlier response items first, then
this request's items) in order and keeps what later items need: the upstream name
of every call (a ``functionResponse`` must name its function) and the thought
signatures read back from reasoning items (``responses_signature``). Consecutive
items of one role are merged into one content, so the parallel calls of one turn
and their outputs each sit in a single content as Gemini requires.

Rules: ``system``/``developer`` messages before the first conversation item form
the system instruction; later ones become user text (keeping their position).
A call's signature comes from the replayed ``encrypted_content``, else
``ctx.signatures``, else the sentinel ``skip_thought_signature_validator`` (Gemini
models only). An output whose call is not in the history becomes user text.

Dropped: item ``id``/``status``/``phase``, reasoning ``summary``/``content`` (the
upstream rejects replayed thoughts), foreign ``encrypted_content``, image
``detail``, file ``filename``, and the item types ``item_reference``,
``compaction``, ``web_search_call``, ``file_search_call``, ``computer_call*``,
``image_generation_call``, ``code_interpreter_call``, ``local_shell_call*``,
``mcp_*``, ``tool_search_*`` and any unknown type.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.protocols.openai.content import (
    SKIP_SIGNATURE,
    args_from_arguments,
    file_data_part,
    inline_from_data_url,
)
from antigravity_proxy.protocols.openai.responses_signature import decode_signature
from antigravity_proxy.protocols.openai.responses_tools import upstream_name
from antigravity_proxy.protocols.openai.responses_types import (
    Item,
    JSONObject,
    ResponsesContext,
)
from antigravity_proxy.protocols.openai.types import as_object, as_str, invalid_value

log = logging.getLogger(__name__)

ROLE_FROM_CLIENT: Final[Mapping[str, str]] = {
    "user": "user",
    "assistant": "model",
    "system": "system",
    "developer": "system",
}
TEXT_PART_TYPES: Final = frozenset({"input_text", "output_text", "text"})


def item_type(item: Item) -> str:
    """An item's type; a bare ``{"role", "content"}`` is a message (easy input)."""
    kind = item.get("type")
    if isinstance(kind, str):
        return kind
    return "message" if "role" in item else ""


class ContentsBuilder:
    """Accumulates ``contents`` and system parts from items fed in order.

    :param ctx: supplies fetched media, stored signatures and the upstream model.
    """

    def __init__(self, ctx: ResponsesContext) -> None:
        self.contents: list[JSONObject] = []
        self.system_parts: list[JSONObject] = []
        self._ctx = ctx
        self._call_names: dict[str, str] = {}
        self._call_signatures: dict[str, str] = {}
        self._text_signature: str | None = None
        self._started = False
        self._handlers: Mapping[str, Callable[[Item, str], None]] = {
            "message": self._message,
            "function_call": self._function_call,
            "custom_tool_call": self._custom_tool_call,
            "function_call_output": self._call_output,
            "custom_tool_call_output": self._call_output,
            "reasoning": self._reasoning,
        }

    def add(self, item: object, param: str) -> None:
        """Translate one input item; ``param`` names it in validation errors."""
        if not isinstance(item, Mapping):
            raise InvalidRequest(f"'{param}' must be an object.", param=param)
        handler = self._handlers.get(item_type(item))
        if handler is None:
            log.debug("input item %s of type %r skipped", param, item.get("type"))
            return
        handler(item, param)

    def _message(self, item: Item, param: str) -> None:
        role = ROLE_FROM_CLIENT.get(str(item.get("role")))
        if role is None:
            raise InvalidRequest(
                f"Invalid value for '{param}.role'.", param=f"{param}.role"
            )
        parts = self._message_parts(item.get("content"), f"{param}.content")
        if role == "system" and not self._started:
            self.system_parts.extend(parts)
            return
        if role == "model" and parts and self._text_signature:
            parts[0] = {**parts[0], "thoughtSignature": self._text_signature}
            self._text_signature = None
        self._append("model" if role == "model" else "user", parts)

    def _message_parts(self, content: object, param: str) -> list[JSONObject]:
        if isinstance(content, str):
            return [{"text": content}] if content else []
        if not isinstance(content, list):
            raise InvalidRequest(
                f"'{param}' must be a string or an array.", param=param
            )
        parts: list[JSONObject] = []
        for index, block in enumerate(content):
            part = self._content_part(block, f"{param}[{index}]")
            if part is not None:
                parts.append(part)
        return parts

    def _content_part(self, block: object, param: str) -> JSONObject | None:
        """One content part; an unknown type is a 400 naming it, as in chat.

        Why not skipped: a dropped part (a PDF, an image) silently changes the
        prompt; unknown *items* are skipped instead, because Codex sends item
        types (``additional_tools``...) that carry no conversation.
        """
        block = as_object(block, param)
        kind = block.get("type")
        if kind in TEXT_PART_TYPES:
            text = as_str(block.get("text"), f"{param}.text")
            return {"text": text} if text else None
        if kind == "refusal":
            return {"text": as_str(block.get("refusal"), f"{param}.refusal")}
        if kind == "input_image":
            return image_part(block, self._ctx, param)
        if kind == "input_file":
            return dict(file_data_part(block, param))
        raise invalid_value(
            f"{param}.type",
            f"{kind!r}. Supported values are: input_text, output_text, refusal, "
            "input_image, input_file.",
        )

    def _function_call(self, item: Item, param: str) -> None:
        arguments = item.get("arguments", "")
        if not isinstance(arguments, str):
            raise InvalidRequest(
                f"'{param}.arguments' must be a string.", param=f"{param}.arguments"
            )
        self._call(item, param, args_from_arguments(arguments))

    def _custom_tool_call(self, item: Item, param: str) -> None:
        value = item.get("input", "")
        if not isinstance(value, str):
            raise InvalidRequest(
                f"'{param}.input' must be a string.", param=f"{param}.input"
            )
        self._call(item, param, {"input": value})

    def _call(self, item: Item, param: str, args: JSONObject) -> None:
        name = _required_str(item, "name", param)
        call_id = _required_str(item, "call_id", param)
        namespace = item.get("namespace")
        flat = upstream_name(name, namespace if isinstance(namespace, str) else None)
        self._call_names[call_id] = flat
        part: JSONObject = {"functionCall": {"name": flat, "args": args, "id": call_id}}
        signature = self._signature_for(call_id)
        if signature is not None:
            part["thoughtSignature"] = signature
        self._append("model", [part])

    def _signature_for(self, call_id: str) -> str | None:
        found = self._call_signatures.get(call_id) or self._ctx.signatures.get(call_id)
        if found is None and self._text_signature is not None:
            found, self._text_signature = self._text_signature, None
        if found is None and "gemini" in self._ctx.upstream_model.lower():
            return SKIP_SIGNATURE
        return found

    def _call_output(self, item: Item, param: str) -> None:
        call_id = _required_str(item, "call_id", param)
        text, images = self._output_content(item.get("output"), f"{param}.output")
        name = self._call_names.get(call_id)
        if name is None:
            log.info("output %s for unknown call %r sent as text", param, call_id)
            self._append(
                "user", [{"text": f"[output of tool call {call_id}]\n{text}"}, *images]
            )
            return
        response = {"name": name, "response": {"output": text}, "id": call_id}
        self._append("user", [{"functionResponse": response}, *images])

    def _output_content(
        self, output: object, param: str
    ) -> tuple[str, list[JSONObject]]:
        if isinstance(output, str):
            return output, []
        if not isinstance(output, list):
            return json.dumps(output, ensure_ascii=False), []
        texts: list[str] = []
        images: list[JSONObject] = []
        for index, block in enumerate(output):
            part = self._content_part(block, f"{param}[{index}]")
            if part is None:
                continue
            if "text" in part:
                texts.append(part["text"])
            else:
                images.append(part)
        return "\n".join(texts), images

    def _reasoning(self, item: Item, param: str) -> None:
        carrier = decode_signature(item.get("encrypted_content"))
        if carrier is None or carrier.model not in ("", self._ctx.upstream_model):
            return
        for call_id in carrier.call_ids:
            self._call_signatures[call_id] = carrier.signature
        if not carrier.call_ids:
            self._text_signature = carrier.signature

    def _append(self, role: str, parts: Sequence[JSONObject]) -> None:
        if not parts:
            return
        self._started = True
        if self.contents and self.contents[-1]["role"] == role:
            self.contents[-1]["parts"].extend(parts)
        else:
            self.contents.append({"role": role, "parts": list(parts)})


def image_part(
    block: Mapping[str, Any], ctx: ResponsesContext, param: str
) -> JSONObject:
    """An ``input_image`` → ``inlineData`` (data URL, or bytes the handler fetched).

    Why http(s) URLs need ``ctx.media``: v1internal does not fetch URLs and this
    module does no I/O, so the handler downloads them first; without the bytes the
    request cannot be served and is rejected.
    """
    url = block.get("image_url")
    if not isinstance(url, str) or not url:
        raise InvalidRequest(
            f"'{param}.image_url' must be a data URL or an http(s) URL.",
            param=f"{param}.image_url",
        )
    if url.startswith("data:"):
        return dict(inline_from_data_url(url, f"{param}.image_url"))
    media = ctx.media.get(url)
    if media is None:
        raise InvalidRequest(
            f"Could not load image from '{param}.image_url'.",
            param=f"{param}.image_url",
        )
    data = base64.b64encode(media.data).decode("ascii")
    return {"inlineData": {"mimeType": media.mime_type, "data": data}}


def _required_str(item: Item, key: str, param: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(
            f"Missing required parameter: '{param}.{key}'.", param=f"{param}.{key}"
        )
    return value
