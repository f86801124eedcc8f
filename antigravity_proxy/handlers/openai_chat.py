"""OpenAI ``POST /v1/chat/completions`` and legacy ``POST /v1/completions``.

Thin glue: validate, download URL images, translate (pure), send through the
dispatcher (accounts, retries), then relay or collect. The upstream is always
asked to stream; the non-streaming answer is the fold of exactly the chunks a
stream would have carried. Upstream is called before the ``Response`` exists, so
a failure before the first byte is a real HTTP status in OpenAI's error format;
after it, the translator writes an error chunk and ``data: [DONE]``.
"""

from __future__ import annotations

import base64
from typing import Any

from werkzeug.wrappers import Request, Response

from antigravity_proxy.handlers.openai_common import (
    chat_call_ids,
    chat_image_refs,
    chat_user_texts,
    conversation_key,
    new_id,
    now,
    remember_signatures,
    remembered_signatures,
    send,
    upstream_model_for,
)
from antigravity_proxy.http import read_json_object
from antigravity_proxy.media import fetch_images
from antigravity_proxy.pipeline import Pipeline
from antigravity_proxy.protocols.openai import completions as legacy
from antigravity_proxy.protocols.openai.chat_request import (
    parse_chat_request,
    request_to_upstream,
)
from antigravity_proxy.protocols.openai.chat_response import collect_from_upstream
from antigravity_proxy.protocols.openai.chat_stream import ChatStreamTranslator
from antigravity_proxy.protocols.openai.shapes import CHAT_SHAPE, COMPLETIONS_SHAPE
from antigravity_proxy.protocols.openai.types import ChatContext
from antigravity_proxy.services import Services


def chat_completions(services: Services, request: Request) -> Response:
    body = read_json_object(request, CHAT_SHAPE)
    view = parse_chat_request(body)
    messages = body["messages"]
    upstream_model = upstream_model_for(services, view.model)
    conversation = conversation_key(body, chat_user_texts(messages))
    ctx = ChatContext(
        id=new_id("chatcmpl-"),
        created=now(),
        model=view.model,
        upstream_model=upstream_model,
        signatures=remembered_signatures(
            services.state, conversation, chat_call_ids(messages)
        ),
        media=_chat_media(messages),
        include_usage=view.include_usage,
    )
    inner = request_to_upstream(body, ctx)
    pipe = Pipeline(services, request)
    sent = send(pipe, view, upstream_model, inner, conversation)
    if view.stream:
        translator = ChatStreamTranslator(ctx)

        def on_end() -> None:
            remember_signatures(services.state, conversation, translator.signatures)

        return pipe.stream(sent, translator, on_end=on_end)
    completion, signatures = collect_from_upstream(pipe.events(sent), ctx)
    remember_signatures(services.state, conversation, signatures)
    return pipe.json(completion)


def completions(services: Services, request: Request) -> Response:
    """Legacy completions: one prompt as one user turn, ``text_completion`` out."""
    body = read_json_object(request, COMPLETIONS_SHAPE)
    view = legacy.parse_completion_request(body)
    upstream_model = upstream_model_for(services, view.model)
    ctx = ChatContext(
        id=new_id("cmpl-"),
        created=now(),
        model=view.model,
        upstream_model=upstream_model,
        include_usage=view.include_usage,
    )
    inner = legacy.request_to_upstream(body, ctx)
    conversation = conversation_key(body, [legacy.prompt_of(body)])
    pipe = Pipeline(services, request)
    sent = send(pipe, view, upstream_model, inner, conversation)
    if view.stream:
        return pipe.stream(sent, legacy.CompletionStreamTranslator(ctx))
    return pipe.json(legacy.response_from_upstream(pipe.events(sent), ctx))


def _chat_media(messages: Any) -> dict[str, tuple[str, str]]:
    """Downloaded ``http(s)`` images as the chat translator takes them (base64)."""
    fetched = fetch_images(chat_image_refs(messages))
    return {
        url: (media.mime_type, base64.b64encode(media.data).decode("ascii"))
        for url, media in fetched.items()
    }
