"""OpenAI chat messages and their content parts, as Gemini contents.

Owns ``messages`` -> (``systemInstruction`` parts, ``contents``): roles, content
parts (text, images, audio, files), assistant tool calls with their thought
signatures, tool results linked to their call by ``tool_call_id``, and the merging
of consecutive same-role turns that Gemini requires. Pure: http(s) media must
already be in ``ctx.media``; nothing is fetched here.

Dropped message fields: ``name`` (on system/user/assistant), ``reasoning_content``
(thoughts are not replayed; the signature carries the model's state), ``annotations``
and ``image_url.detail``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from antigravity_proxy import json_codec
from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.protocols.openai.types import (
    ChatContext,
    GeminiContent,
    GeminiFunctionCall,
    GeminiPart,
    JsonObject,
    as_list,
    as_object,
    as_str,
    invalid_type,
    invalid_value,
    unsupported,
)

SKIP_SIGNATURE: Final = "skip_thought_signature_validator"
AUDIO_MIME_FROM_FORMAT: Final[Mapping[str, str]] = {
    "wav": "audio/wav",
    "mp3": "audio/mp3",
}
# OpenAI only accepts PDFs as chat file inputs, so bare base64 file_data is one.
DEFAULT_FILE_MIME: Final = "application/pdf"
PART_TYPES_FOR_ROLE: Final[Mapping[str, frozenset[str]]] = {
    "system": frozenset({"text"}),
    "developer": frozenset({"text"}),
    "user": frozenset({"text", "image_url", "input_audio", "file"}),
    "assistant": frozenset({"text", "refusal"}),
    "tool": frozenset({"text"}),
    "function": frozenset({"text"}),
}
DATA_URL: Final = re.compile(r"data:([^;,]+)(?:;[^;,]*)*;base64,(.+)", re.DOTALL)
MARKDOWN_IMAGE: Final = re.compile(
    r"!\[[^\]]*\]\(data:(image/[\w.+-]+);base64,([A-Za-z0-9+/=\s]+)\)"
)


@dataclass(slots=True)
class _Conversation:
    """What has been built so far while walking the messages in order."""

    ctx: ChatContext
    system: list[GeminiPart] = field(default_factory=list)
    contents: list[GeminiContent] = field(default_factory=list)
    call_names: dict[str, str] = field(default_factory=dict)

    def append(self, role: Literal["user", "model"], parts: list[GeminiPart]) -> None:
        if not parts:
            return
        if self.contents and self.contents[-1]["role"] == role:
            self.contents[-1]["parts"] = [*self.contents[-1]["parts"], *parts]
        else:
            self.contents.append({"role": role, "parts": parts})


def contents_from_messages(
    messages: list[Any], ctx: ChatContext
) -> tuple[list[GeminiPart], list[GeminiContent]]:
    """``messages`` as (system instruction parts, alternating user/model contents).

    Why: Gemini keeps the system prompt apart, wants user and model turns to
    alternate, and wants function results in a user turn, so ``system``/``developer``
    messages are lifted out and same-role neighbours (``tool`` after ``user``...)
    are merged. Messages that produce no part (empty content) are dropped.
    """
    conversation = _Conversation(ctx)
    for index, raw in enumerate(messages):
        param = f"messages[{index}]"
        message = as_object(raw, param)
        role = as_str(message.get("role"), f"{param}.role")
        turn = ROLE_TURNS.get(role)
        if turn is None:
            raise invalid_value(
                f"{param}.role",
                f"{role!r}. Supported values are: {', '.join(ROLE_TURNS)}.",
            )
        turn(conversation, message, param)
    return conversation.system, conversation.contents


def _system_turn(conv: _Conversation, message: JsonObject, param: str) -> None:
    """One text part per system message, kept verbatim (no image split)."""
    text = _joined_text(message, param)
    if text:
        conv.system.append({"text": text})


def _user_turn(conv: _Conversation, message: JsonObject, param: str) -> None:
    conv.append("user", _content_parts(message, param, conv.ctx))


def _assistant_turn(conv: _Conversation, message: JsonObject, param: str) -> None:
    if message.get("audio") is not None:
        raise unsupported(f"{param}.audio", "the upstream keeps no audio answers")
    parts = _content_parts(message, param, conv.ctx)
    refusal = message.get("refusal")
    if refusal is not None and as_str(refusal, f"{param}.refusal"):
        parts.append({"text": refusal})
    calls = message.get("tool_calls")
    for index, raw in enumerate(as_list(calls, f"{param}.tool_calls") if calls else []):
        parts.append(_tool_call_part(conv, raw, f"{param}.tool_calls[{index}]"))
    if message.get("function_call") is not None:
        parts.append(_legacy_call_part(message["function_call"], param))
    conv.append("model", parts)


def _tool_turn(conv: _Conversation, message: JsonObject, param: str) -> None:
    call_id = as_str(message.get("tool_call_id"), f"{param}.tool_call_id")
    name = conv.call_names.get(call_id)
    if name is None:
        raise invalid_value(
            f"{param}.tool_call_id",
            f"{call_id!r}. Messages with role 'tool' must be a response to a "
            "preceding message with 'tool_calls' holding that id.",
        )
    response = {"output": _joined_text(message, param)}
    part: GeminiPart = {
        "functionResponse": {"id": call_id, "name": name, "response": response}
    }
    conv.append("user", [part])


def _function_turn(conv: _Conversation, message: JsonObject, param: str) -> None:
    name = as_str(message.get("name"), f"{param}.name")
    response = {"output": _joined_text(message, param)}
    conv.append("user", [{"functionResponse": {"name": name, "response": response}}])


ROLE_TURNS: Final[Mapping[str, Callable[[_Conversation, JsonObject, str], None]]] = {
    "system": _system_turn,
    "developer": _system_turn,
    "user": _user_turn,
    "assistant": _assistant_turn,
    "tool": _tool_turn,
    "function": _function_turn,
}


def _tool_call_part(conv: _Conversation, raw: Any, param: str) -> GeminiPart:
    """One replayed tool call, signed with the signature the handler found for it.

    Why: Gemini thinking models reject a replayed functionCall without the
    thoughtSignature they emitted; chat clients never send it back, so it comes
    from ``ctx.signatures`` or, failing that, the documented sentinel.
    """
    call = as_object(raw, param)
    call_type = call.get("type", "function")
    if call_type != "function":
        raise unsupported(f"{param}.type", "only function tool calls are")
    call_id = as_str(call.get("id"), f"{param}.id")
    function = as_object(call.get("function"), f"{param}.function")
    name = as_str(function.get("name"), f"{param}.function.name")
    arguments = as_str(function.get("arguments", ""), f"{param}.function.arguments")
    conv.call_names[call_id] = name
    function_call: GeminiFunctionCall = {
        "name": name,
        "args": args_from_arguments(arguments),
        "id": call_id,
    }
    signature = conv.ctx.signatures.get(call_id, SKIP_SIGNATURE)
    return {"functionCall": function_call, "thoughtSignature": signature}


def _legacy_call_part(raw: Any, param: str) -> GeminiPart:
    function = as_object(raw, f"{param}.function_call")
    name = as_str(function.get("name"), f"{param}.function_call.name")
    arguments = as_str(
        function.get("arguments", ""), f"{param}.function_call.arguments"
    )
    return {
        "functionCall": {"name": name, "args": args_from_arguments(arguments)},
        "thoughtSignature": SKIP_SIGNATURE,
    }


def args_from_arguments(arguments: str) -> dict[str, Any]:
    """Tool-call ``arguments`` (a JSON string) as the object Gemini wants.

    Why: OpenAI accepts any string here (models do emit truncated JSON, and clients
    replay it), but Gemini needs an object, so anything that is not a JSON object
    is kept verbatim under ``arguments`` rather than rejected.
    """
    if not arguments.strip():
        return {}
    try:
        value = json_codec.loads(arguments)
    except json_codec.JsonError:
        return {"arguments": arguments}
    return value if isinstance(value, dict) else {"arguments": arguments}


def _joined_text(message: JsonObject, param: str) -> str:
    """A message's text as one string: its text parts joined by newlines."""
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise invalid_type(f"{param}.content", "a string or an array", content)
    return "\n".join(
        as_str(part.get("text"), f"{part_param}.text")
        for part, part_param in _typed_parts(message, param)
    )


def _content_parts(
    message: JsonObject, param: str, ctx: ChatContext
) -> list[GeminiPart]:
    """The Gemini parts of one message's ``content`` (string, array or null)."""
    content = message.get("content")
    if content is None:
        return []
    if isinstance(content, str):
        return _text_parts(content)
    if not isinstance(content, list):
        raise invalid_type(f"{param}.content", "a string or an array", content)
    return [
        gemini_part
        for part, part_param in _typed_parts(message, param)
        for gemini_part in PART_CONVERTERS[part["type"]](part, part_param, ctx)
    ]


def _typed_parts(message: JsonObject, param: str) -> list[tuple[JsonObject, str]]:
    """The content parts with their ``param``, each of a type the role allows.

    Why: an unknown part type silently dropped would change the prompt behind the
    client's back, so it is an error naming the part, as the official API does.
    """
    role = message["role"]
    allowed = PART_TYPES_FOR_ROLE[role]
    parts = []
    for index, raw in enumerate(as_list(message["content"], f"{param}.content")):
        part_param = f"{param}.content[{index}]"
        part = as_object(raw, part_param)
        if part.get("type") not in allowed:
            raise invalid_value(
                f"{part_param}.type",
                f"{part.get('type')!r}. Supported values in '{role}' messages are: "
                f"{', '.join(sorted(allowed))}.",
            )
        parts.append((part, part_param))
    return parts


def _text_parts(text: str) -> list[GeminiPart]:
    """Text, with markdown data-URL images split out as inlineData.

    Why: the chat translator renders upstream images as
    ``![image](data:...;base64,...)``; when the client replays that answer the
    model should see the image again, not a wall of base64.
    """
    parts: list[GeminiPart] = []
    position = 0
    for match in MARKDOWN_IMAGE.finditer(text):
        if text[position : match.start()].strip():
            parts.append({"text": text[position : match.start()]})
        data = "".join(match.group(2).split())
        parts.append({"inlineData": {"mimeType": match.group(1), "data": data}})
        position = match.end()
    if not parts:
        return [{"text": text}] if text else []
    if text[position:].strip():
        parts.append({"text": text[position:]})
    return parts


def _text_part(part: JsonObject, param: str, ctx: ChatContext) -> list[GeminiPart]:
    return _text_parts(as_str(part.get("text"), f"{param}.text"))


def _refusal_part(part: JsonObject, param: str, ctx: ChatContext) -> list[GeminiPart]:
    refusal = as_str(part.get("refusal"), f"{param}.refusal")
    return [{"text": refusal}] if refusal else []


def _image_part(part: JsonObject, param: str, ctx: ChatContext) -> list[GeminiPart]:
    """An ``image_url`` part: data URLs inline, http(s) URLs from ``ctx.media``."""
    url_param = f"{param}.image_url.url"
    url = as_str(
        as_object(part.get("image_url"), f"{param}.image_url").get("url"), url_param
    )
    if url.startswith("data:"):
        return [inline_from_data_url(url, url_param)]
    if not url.startswith(("http://", "https://")):
        raise invalid_value(url_param, "expected a data: URL or an http(s) URL.")
    fetched = ctx.media.get(url)
    if fetched is None:
        raise InvalidRequest(
            f"Failed to download the image at '{url_param}'.", param=url_param
        )
    return [{"inlineData": {"mimeType": fetched[0], "data": fetched[1]}}]


def _audio_part(part: JsonObject, param: str, ctx: ChatContext) -> list[GeminiPart]:
    audio = as_object(part.get("input_audio"), f"{param}.input_audio")
    data = as_str(audio.get("data"), f"{param}.input_audio.data")
    audio_format = audio.get("format")
    mime = (
        AUDIO_MIME_FROM_FORMAT.get(audio_format)
        if isinstance(audio_format, str)
        else None
    )
    if mime is None:
        raise invalid_value(
            f"{param}.input_audio.format",
            f"{audio_format!r}. Supported values are: "
            f"{', '.join(AUDIO_MIME_FROM_FORMAT)}.",
        )
    return [{"inlineData": {"mimeType": mime, "data": data}}]


def _file_part(part: JsonObject, param: str, ctx: ChatContext) -> list[GeminiPart]:
    return [
        file_data_part(as_object(part.get("file"), f"{param}.file"), f"{param}.file")
    ]


def file_data_part(file: JsonObject, param: str) -> GeminiPart:
    """A file given inline (``file_data``) as inlineData; chat ``file`` parts and
    Responses ``input_file`` parts share it.

    Why ``file_id``/``file_url`` are refused: there is no Files API to resolve an
    id, and dropping the file would change the prompt behind the client's back.
    """
    for key in ("file_id", "file_url"):
        if file.get(key) is not None:
            raise unsupported(
                f"{param}.{key}", "there is no Files API; send file_data instead"
            )
    data = as_str(file.get("file_data"), f"{param}.file_data")
    if data.startswith("data:"):
        return inline_from_data_url(data, f"{param}.file_data")
    return {"inlineData": {"mimeType": DEFAULT_FILE_MIME, "data": data}}


PART_CONVERTERS: Final[
    Mapping[str, Callable[[JsonObject, str, ChatContext], list[GeminiPart]]]
] = {
    "text": _text_part,
    "refusal": _refusal_part,
    "image_url": _image_part,
    "input_audio": _audio_part,
    "file": _file_part,
}


def inline_from_data_url(url: str, param: str) -> GeminiPart:
    """A base64 ``data:`` URL as inlineData, or a 400 naming ``param``."""
    match = DATA_URL.fullmatch(url)
    if match is None:
        raise invalid_value(
            param, "expected a base64 data URL (data:<mime>;base64,...)."
        )
    return {"inlineData": {"mimeType": match.group(1), "data": match.group(2)}}
