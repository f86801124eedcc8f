"""Glue shared by the OpenAI handlers: ids, models, conversations, signatures, media.

Translators are pure, so everything they must not invent is made here: the
client-visible ids and timestamps, the upstream model, the thought signatures
remembered from earlier answers (``SharedState``, so every gunicorn worker sees
them) and the images downloaded for ``http(s)`` URLs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeGuard

from antigravity_proxy import signatures
from antigravity_proxy.dispatch import Sent, UpstreamRequest
from antigravity_proxy.errors import NotFoundError
from antigravity_proxy.media import ImageRef
from antigravity_proxy.models import is_image_model, resolve_model
from antigravity_proxy.pipeline import Pipeline
from antigravity_proxy.services import Services
from antigravity_proxy.sessions import session_key
from antigravity_proxy.state import SharedState

SIGNATURE_NAMESPACE: Final = "openai-signature"


def new_id(prefix: str) -> str:
    """``<prefix><32 hex>``: ``chatcmpl-…``, ``cmpl-…``, ``resp_…``."""
    return f"{prefix}{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


def upstream_model_for(services: Services, model: str) -> str:
    """The upstream id; unknown ids are mapped by family, never refused here."""
    return resolve_model(model, services.config.model_mapping)


class Asked(Protocol):
    """What the client asked for: its model name and whether to stream."""

    @property
    def model(self) -> str: ...
    @property
    def stream(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class ClientAsk:
    """``Asked`` for a handler whose parsed view has no such fields."""

    model: str
    stream: bool


def send(
    pipe: Pipeline,
    asked: Asked,
    upstream_model: str,
    inner: Mapping[str, Any],
    session: str | None,
) -> Sent:
    """Dispatch one streaming generation call; an upstream 404 names the model.

    Why 404 becomes ``model_not_found``: every account has been tried by then, and
    the only thing a generation call can miss upstream is the model, which OpenAI
    reports as 404 ``model_not_found`` with ``param: model``.
    """
    request = UpstreamRequest(
        method="streamGenerateContent",
        model=upstream_model,
        inner=inner,
        session=session,
        request_type="image_gen" if is_image_model(upstream_model) else "agent",
    )
    try:
        return pipe.send(request, asked.model, asked.stream)
    except NotFoundError as exc:
        raise NotFoundError(
            f"The model '{asked.model}' does not exist or you do not have access "
            "to it.",
            param="model",
            code="model_not_found",
        ) from exc


def conversation_key(body: Mapping[str, Any], user_texts: Iterable[str]) -> str | None:
    """The conversation's key: ``prompt_cache_key`` when sent, else the first user text.

    Why ``prompt_cache_key`` first: Codex sends one per session, while its first
    user message (the environment context) is the same in every session of a
    directory.
    """
    cache_key = body.get("prompt_cache_key")
    if isinstance(cache_key, str) and cache_key:
        return session_key([f"prompt_cache_key:{cache_key}"])
    return session_key(user_texts)


def remembered_signatures(
    state: SharedState, conversation: str | None, call_ids: Iterable[str]
) -> dict[str, str]:
    """Signatures stored for the tool calls a client replays (clients drop them).

    Scoped by conversation: call ids the upstream invents may repeat.
    """
    return signatures.recall(state, SIGNATURE_NAMESPACE, call_ids, conversation or "-")


def remember_signatures(
    state: SharedState, conversation: str | None, found: Mapping[str, str]
) -> None:
    signatures.remember(state, SIGNATURE_NAMESPACE, found, conversation or "-")


def chat_user_texts(messages: object) -> list[str]:
    """Each user message's text, in order (parts joined by a space)."""
    texts: list[str] = []
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and message.get("role") == "user":
            text = _text_of(message.get("content"), ("text",))
            if text:
                texts.append(text)
    return texts


def chat_call_ids(messages: object) -> list[str]:
    """The ids of every assistant tool call being replayed."""
    ids: list[str] = []
    for message in messages if isinstance(messages, list) else []:
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict) and isinstance(call.get("id"), str):
                ids.append(call["id"])
    return ids


def chat_image_refs(messages: object) -> list[ImageRef]:
    """The ``http(s)`` ``image_url`` parts, named as the translator names them."""
    refs: list[ImageRef] = []
    for i, message in enumerate(messages if isinstance(messages, list) else []):
        content = message.get("content") if isinstance(message, dict) else None
        for j, part in _dict_parts(content):
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else None
            if part.get("type") == "image_url" and _is_http(url):
                refs.append(ImageRef(url, f"messages[{i}].content[{j}].image_url.url"))
    return refs


def responses_image_refs(labelled: Iterable[tuple[object, str]]) -> list[ImageRef]:
    """The ``http(s)`` ``input_image`` parts of Responses items (messages, outputs)."""
    refs: list[ImageRef] = []
    for item, param in labelled:
        if not isinstance(item, dict):
            continue
        for key in ("content", "output"):
            refs += [
                ImageRef(part["image_url"], f"{param}.{key}[{j}].image_url")
                for j, part in _dict_parts(item.get(key))
                if part.get("type") == "input_image" and _is_http(part.get("image_url"))
            ]
    return refs


def responses_user_texts(items: Iterable[object]) -> list[str]:
    texts: list[str] = []
    for item in items:
        if isinstance(item, dict) and item.get("role") == "user":
            text = _text_of(item.get("content"), ("input_text", "text"))
            if text:
                texts.append(text)
    return texts


def responses_call_ids(items: Iterable[object]) -> list[str]:
    return [
        item["call_id"]
        for item in items
        if isinstance(item, dict)
        and item.get("type") in ("function_call", "custom_tool_call")
        and isinstance(item.get("call_id"), str)
    ]


def _text_of(content: object, text_types: tuple[str, ...]) -> str:
    if isinstance(content, str):
        return content
    return " ".join(
        part["text"]
        for _, part in _dict_parts(content)
        if part.get("type") in text_types and isinstance(part.get("text"), str)
    )


def _dict_parts(content: object) -> Iterator[tuple[int, dict[str, Any]]]:
    for index, part in enumerate(content if isinstance(content, list) else []):
        if isinstance(part, dict):
            yield index, part


def _is_http(url: object) -> TypeGuard[str]:
    return isinstance(url, str) and url.startswith(("http://", "https://"))
