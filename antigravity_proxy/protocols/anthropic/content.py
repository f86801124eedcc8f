"""Anthropic content blocks -> Gemini parts, one message at a time.

Owns the block table (``text``, ``image``, ``document``, ``tool_use``,
``tool_result``, ``thinking``, ``redacted_thinking`` and the server-tool history
blocks), media sources, tool results, and the replay of thought signatures onto
the parts the upstream validates. Unknown block types are an ``InvalidRequest``
naming the block (``messages[2].content[0].type``), as Anthropic answers.

Dropped on the way: ``cache_control`` and ``citations`` on every block, a
document's ``title``/``context``/``citations``, ``redacted_thinking`` (Anthropic's
encrypted reasoning; no upstream can read it), ``server_tool_use`` and
``web_search_tool_result`` history (the upstream ran the search itself and keeps
no such parts), thinking blocks whose signature is empty or not ours (see
``Turns.thinking``), and empty text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from antigravity_proxy.protocols.anthropic.signature import (
    SKIP_SIGNATURE,
    ThinkingSignature,
    decode_signature,
)
from antigravity_proxy.protocols.anthropic.types import (
    FieldError,
    JsonObject,
    MessagesContext,
    Part,
    as_list,
    as_object,
    as_str,
    object_error,
    unknown_tag,
)

IMAGE_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
PDF_TYPE: Final = "application/pdf"
RESULT_BLOCK_TYPES: Final = ("text", "image", "document")


def tool_names(messages: list[Any]) -> dict[str, str]:
    """tool_use id -> name for every well-formed ``tool_use`` block in history."""
    contents = [m.get("content") for m in messages if isinstance(m, dict)]
    calls = [
        block
        for content in contents
        if isinstance(content, list)
        for block in content
        if isinstance(block, dict) and block.get("type") == "tool_use"
    ]
    return {
        call["id"]: call["name"]
        for call in calls
        if isinstance(call.get("id"), str) and isinstance(call.get("name"), str)
    }


def system_texts(content: Any, param: str) -> list[str]:
    """The texts of a ``system`` value or ``role: system`` message content."""
    if isinstance(content, str):
        return [content] if content else []
    texts: list[str] = []
    for j, block in enumerate(as_list(content, param)):
        where = f"{param}[{j}]"
        block = as_object(block, where)
        if block.get("type") != "text":
            raise unknown_tag(block.get("type"), f"{where}.type", ("text",))
        text = as_str(block.get("text"), f"{where}.text")
        if text:
            texts.append(text)
    return texts


def media_part(block: JsonObject, ctx: MessagesContext) -> Part:
    """An ``image`` or ``document`` block as one part (inlineData or text).

    Errors name the field relative to the block (``source.media_type``).
    Why ``url`` sources need ``ctx.media``: the translator never does I/O; the
    handler fetches the URLs beforehand, and a URL it could not fetch is the
    client's error, as Anthropic reports an unreachable URL.
    """
    is_image = block.get("type") == "image"
    source = as_object(block.get("source"), "source")
    kind = source.get("type")
    if kind == "base64":
        mime = as_str(source.get("media_type"), "source.media_type")
        allowed = IMAGE_TYPES if is_image else frozenset({PDF_TYPE})
        if mime not in allowed:
            detail = f"unsupported media type {mime!r}"
            raise FieldError("source.media_type", detail)
        data = as_str(source.get("data"), "source.data")
        return {"inlineData": {"mimeType": mime, "data": data}}
    if kind == "url":
        return _fetched(as_str(source.get("url"), "source.url"), ctx)
    if kind == "text" and not is_image:
        return {"text": as_str(source.get("data"), "source.data")}
    expected = ("base64", "url") if is_image else ("base64", "text", "url")
    raise unknown_tag(kind, "source.type", expected)


def _fetched(url: str, ctx: MessagesContext) -> Part:
    found = ctx.media.get(url)
    if found is None:
        raise FieldError("source.url", f"could not fetch {url!r}")
    mime, data = found
    return {"inlineData": {"mimeType": mime, "data": data}}


class Turns:
    """Parts of each message in turn, plus the signature waiting for its part.

    A thinking block with our signature for ``call`` or ``text`` does not become a
    part: its signature goes onto the next ``functionCall`` (or text) part of the
    same message, where the upstream issued it. ``signed`` records that this
    message already carries a signature (on a call or a thought part): Gemini
    signs only the first of parallel calls, so later ones need none. One object
    serves a whole conversation; ``message_parts`` starts each message afresh.

    :param ctx: the translation context (upstream model, cached signatures, media).
    :param tool_names: tool_use id -> tool name over the whole history, because a
        ``functionResponse`` must carry the name of the call it answers.
    """

    __slots__ = ("ctx", "tool_names", "parts", "pending", "signed", "result_media")

    def __init__(self, ctx: MessagesContext, tool_names: Mapping[str, str]) -> None:
        self.ctx = ctx
        self.tool_names = tool_names
        self.parts: list[Part] = []
        self.pending: ThinkingSignature | None = None
        self.signed = False
        self.result_media: list[Part] = []

    def message_parts(self, message: JsonObject) -> list[Part]:
        """The Gemini parts of one ``user`` or ``assistant`` message.

        Errors name the field relative to the message (``content[0].type``).
        """
        content = message.get("content")
        if isinstance(content, str):
            return [{"text": content}] if content else []
        self.parts, self.pending, self.signed = [], None, False
        for j, block in enumerate(as_list(content, "content")):
            if not isinstance(block, dict):
                raise object_error(block, f"content[{j}]")
            try:
                self.add(block)
            except FieldError as exc:
                raise exc.within(f"content[{j}]") from None
        self.flush_media()
        return self.parts

    def add(self, block: JsonObject) -> None:
        kind = block.get("type")
        handler = BLOCK_HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise unknown_tag(kind, "type", tuple(BLOCK_HANDLERS))
        if kind != "tool_result":
            self.flush_media()
        handler(self, block)

    def flush_media(self) -> None:
        """Media of consecutive tool results, after all their function responses.

        Why: the upstream pairs a turn's calls with a contiguous run of
        ``functionResponse`` parts; images inside results follow that run.
        """
        if self.result_media:
            self.parts.extend(self.result_media)
            self.result_media = []

    def text(self, block: JsonObject) -> None:
        text = as_str(block.get("text"), "text")
        if not text:
            return
        part: Part = {"text": text}
        if self.pending is not None and self.pending.placement == "text":
            part["thoughtSignature"] = self.pending.signature
            self.pending = None
        self.parts.append(part)

    def media(self, block: JsonObject) -> None:
        self.parts.append(media_part(block, self.ctx))

    def thinking(self, block: JsonObject) -> None:
        """Replay our own signed thinking; drop the rest.

        Why drop rather than send as plain text: the upstream rejects thought
        parts without a valid signature, and reasoning replayed as visible model
        text would read as something the model said (Anthropic itself strips
        earlier turns' thinking from the context). Signatures issued by another
        upstream model are as useless as foreign ones. A signature goes back on
        the kind of part that carried it: a thought part keeps its text (Claude
        models check the text against it); for a call or text part the thought
        text is not needed and is dropped.
        """
        text = as_str(block.get("thinking"), "thinking")
        found = decode_signature(block.get("signature"))
        if found is None or found.model != self.ctx.upstream_model:
            return
        if found.placement == "thought":
            part = {"text": text, "thought": True, "thoughtSignature": found.signature}
            self.parts.append(part)
            self.signed = True
        else:
            self.pending = found

    def redacted(self, block: JsonObject) -> None:
        as_str(block.get("data"), "data")

    def server_tool(self, block: JsonObject) -> None:
        """Server-tool history (web search) has no upstream part; dropped."""

    def tool_use(self, block: JsonObject) -> None:
        call_id = as_str(block.get("id"), "id")
        name = as_str(block.get("name"), "name")
        # A shallow copy: the upstream body shares the client's nested values,
        # which nothing mutates, instead of copying a long history twice.
        args = dict(as_object(block.get("input"), "input"))
        part: Part = {"functionCall": {"name": name, "args": args, "id": call_id}}
        signature = self._call_signature(call_id)
        if signature is not None:
            part["thoughtSignature"] = signature
            self.signed = True
        self.parts.append(part)

    def _call_signature(self, call_id: str) -> str | None:
        """History's own signature, else the handler's cache, else the sentinel."""
        if self.pending is not None and self.pending.placement == "call":
            signature, self.pending = self.pending.signature, None
            return signature
        cached = self.ctx.signatures.get(call_id)
        if cached:
            return cached
        return None if self.signed else SKIP_SIGNATURE

    def tool_result(self, block: JsonObject) -> None:
        """A ``tool_result`` as a ``functionResponse`` plus its media parts.

        Why ``output``/``error``: Gemini's documented keys for a function's result
        and failure, so ``is_error`` reaches the model instead of being lost.
        """
        call_id = as_str(block.get("tool_use_id"), "tool_use_id")
        text, media = _result_content(block.get("content"), self.ctx)
        key = "error" if block.get("is_error") is True else "output"
        name = self.tool_names.get(call_id, call_id)
        response = {"name": name, "id": call_id, "response": {key: text}}
        self.parts.append({"functionResponse": response})
        if media:
            self.result_media.extend(media)


def _result_content(content: Any, ctx: MessagesContext) -> tuple[str, list[Part]]:
    """A tool result's text (blocks joined by newlines) and its media parts."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    media: list[Part] = []
    for k, block in enumerate(as_list(content, "content")):
        if not isinstance(block, dict):
            raise object_error(block, f"content[{k}]")
        try:
            _result_block(block, texts, media, ctx)
        except FieldError as exc:
            raise exc.within(f"content[{k}]") from None
    return "\n".join(texts), media


def _result_block(
    block: JsonObject, texts: list[str], media: list[Part], ctx: MessagesContext
) -> None:
    """One block of a tool result, onto its ``texts`` or its ``media``."""
    kind = block.get("type")
    if kind == "text":
        texts.append(as_str(block.get("text"), "text"))
        return
    if kind not in RESULT_BLOCK_TYPES:
        raise unknown_tag(kind, "type", RESULT_BLOCK_TYPES)
    part = media_part(block, ctx)
    if "text" in part:
        texts.append(part["text"])
    else:
        media.append(part)


BLOCK_HANDLERS: Final[Mapping[str, Callable[[Turns, JsonObject], None]]] = {
    "text": Turns.text,
    "image": Turns.media,
    "document": Turns.media,
    "tool_use": Turns.tool_use,
    "tool_result": Turns.tool_result,
    "thinking": Turns.thinking,
    "redacted_thinking": Turns.redacted,
    "server_tool_use": Turns.server_tool,
    "web_search_tool_result": Turns.server_tool,
}
