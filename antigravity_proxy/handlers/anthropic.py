"""Anthropic-protocol endpoints: Messages, count_tokens and the model list.

Thin glue: plan (ids, models, signatures: ``anthropic_common``), translate
(pure), send through the dispatcher (accounts, retries), then relay or collect.
The upstream is called before the ``Response`` exists, so a failure before the
first byte is a real status with Anthropic's error body; after it, the stream
translator writes ``event: error``. The upstream is always asked to stream, and
the non-streaming answer is the stream translator's own fold of the same events,
so both carry the same message, signatures included.
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from antigravity_proxy.exchange import exchange_of
from antigravity_proxy.handlers.anthropic_common import (
    plan_messages,
    remember_signatures,
    send,
)
from antigravity_proxy.handlers.anthropic_models import model_page
from antigravity_proxy.handlers.anthropic_tokens import input_tokens
from antigravity_proxy.handlers.models import available_models
from antigravity_proxy.http import json_response, read_body, read_json_object
from antigravity_proxy.passthrough import watched
from antigravity_proxy.pipeline import Pipeline
from antigravity_proxy.protocols.anthropic.request import request_to_upstream
from antigravity_proxy.protocols.anthropic.shapes import MESSAGES_SHAPE
from antigravity_proxy.protocols.anthropic.stream import MessagesStreamTranslator
from antigravity_proxy.protocols.anthropic.types import check_depth
from antigravity_proxy.services import Services
from antigravity_proxy.streaming import relayed_response
from antigravity_proxy.upstream.zai_errors import anthropic_error_with_id
from antigravity_proxy.zai_dispatch import SharedRoundRobin, use_zai


def messages(services: Services, request: Request) -> Response:
    """``POST /v1/messages``; Claude Code's ``?beta=true`` changes nothing."""
    body = read_json_object(request, MESSAGES_SHAPE)
    counter = SharedRoundRobin(services.state)
    if use_zai(services.config, services.pool, _model_name(body), counter):
        stream = body.get("stream") is True
        return _to_zai(services, request, "/v1/messages", stream, _model_name(body))
    check_depth(body)
    plan = plan_messages(services, body)
    inner = request_to_upstream(body, plan.ctx)
    pipe = Pipeline(services, request)
    sent = send(pipe, plan, inner)
    translator = MessagesStreamTranslator(plan.ctx)

    def remember() -> None:
        remember_signatures(services.state, translator.signatures)

    if plan.stream:
        return pipe.stream(
            sent, translator, preamble=translator.start(), on_end=remember
        )
    pipe.fold(sent, translator)
    remember()
    return pipe.json(translator.message())


def count_tokens(services: Services, request: Request) -> Response:
    """``POST /v1/messages/count_tokens``: ``{"input_tokens": N}``.

    Counted by z.ai whenever z.ai could serve the request (no rotation step).
    """
    body = read_json_object(request, MESSAGES_SHAPE)
    if use_zai(services.config, services.pool, _model_name(body), None):
        path = "/v1/messages/count_tokens"
        return _to_zai(services, request, path, False, _model_name(body))
    check_depth(body)
    pipe = Pipeline(services, request)
    return pipe.json({"input_tokens": input_tokens(pipe, body)})


def list_models(services: Services, request: Request) -> Response:
    """``GET /v1/models/claude``: every served model, in Anthropic's list shape."""
    return json_response(model_page(available_models(services), request.args))


def _model_name(body: dict[str, object]) -> str:
    model = body.get("model")
    return model if isinstance(model, str) else ""


def _to_zai(
    services: Services, request: Request, path: str, stream: bool, model: str
) -> Response:
    """The request as the client sent it, relayed to z.ai with the z.ai key.

    z.ai's error answer gets this request's id, as the gateway's own errors do.
    """
    query = request.query_string.decode("latin-1")
    target = f"{path}?{query}" if query else path
    exchange = exchange_of(request.environ)
    exchange.describe((model, ""), stream)
    answer = services.zai.anthropic(
        target, read_body(request), request.headers, stream
    ).error_stamped(anthropic_error_with_id, exchange.request_id)
    exchange.upstream_model = answer.headers.get("X-Mapped-Model", "")
    exchange.account = "z.ai"
    return watched(relayed_response(answer), exchange)
