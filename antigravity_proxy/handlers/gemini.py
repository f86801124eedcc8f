"""Gemini-protocol endpoints: generateContent, streamGenerateContent, countTokens.

Thin glue: translate (pure), send through the dispatcher (accounts, retries),
relay or collect. The upstream is always asked to stream, so the non-streaming
answer is the merge of exactly what a stream would have carried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from werkzeug.wrappers import Request, Response

from antigravity_proxy import signatures
from antigravity_proxy.dispatch import Sent, UpstreamRequest
from antigravity_proxy.http import read_json_object
from antigravity_proxy.models import is_image_model, resolve_model
from antigravity_proxy.pipeline import Pipeline
from antigravity_proxy.protocols.gemini.keys import camel_keys
from antigravity_proxy.protocols.gemini.request import (
    GeminiContext,
    count_tokens_to_upstream,
    parse_model_method,
    request_to_upstream,
)
from antigravity_proxy.protocols.gemini.response import merge_read, response_to_client
from antigravity_proxy.protocols.gemini.shapes import GENERATE_SHAPE
from antigravity_proxy.protocols.gemini.stream import GeminiStreamTranslator
from antigravity_proxy.protocols.shape import check_shape
from antigravity_proxy.services import Services
from antigravity_proxy.sessions import gemini_user_texts, session_key
from antigravity_proxy.state import SharedState
from antigravity_proxy.upstream.envelope import unwrap_response

SIGNATURE_NAMESPACE: Final = "gemini-signature"


def generate(services: Services, request: Request, model: str) -> Response:
    name, method = parse_model_method(model)
    body = read_gemini_body(request)
    pipe = Pipeline(services, request)
    if method == "countTokens":
        return _count_tokens(pipe, services, name, body)
    upstream_model = resolve_model(name, services.config.model_mapping)
    ctx = GeminiContext(upstream_model, remembered_signatures(services.state, body))
    upstream = UpstreamRequest(
        method="streamGenerateContent",
        model=upstream_model,
        inner=request_to_upstream(body, ctx),
        session=session_key(gemini_user_texts(body)),
        request_type="image_gen" if is_image_model(upstream_model) else "agent",
    )
    stream = method == "streamGenerateContent"
    sent = pipe.send(upstream, name, stream)
    if stream:
        return _stream(services, request, pipe, sent)
    chunks = pipe.chunks(sent)
    found: dict[str, str] = {}
    for chunk in chunks:
        found.update(chunk.signatures)
    remember_signatures(services.state, found)
    return pipe.json(response_to_client(merge_read(chunks)))


def count_tokens(services: Services, request: Request, model: str) -> Response:
    name, _ = parse_model_method(model)
    body = read_gemini_body(request)
    return _count_tokens(Pipeline(services, request), services, name, body)


def read_gemini_body(request: Request) -> dict[str, Any]:
    """The body with camelCase keys (clients send either), shape checked."""
    body: dict[str, Any] = camel_keys(read_json_object(request))
    check_shape(body, GENERATE_SHAPE)
    return body


def _stream(
    services: Services, request: Request, pipe: Pipeline, sent: Sent
) -> Response:
    sse = request.args.get("alt") == "sse"
    translator = GeminiStreamTranslator(sse=sse)

    def on_end() -> None:
        remember_signatures(services.state, translator.signatures)

    mimetype = "text/event-stream" if sse else "application/json"
    return pipe.stream(sent, translator, on_end=on_end, mimetype=mimetype)


def _count_tokens(
    pipe: Pipeline, services: Services, name: str, body: dict[str, Any]
) -> Response:
    """A real count from the upstream's countTokens, never a local estimate."""
    upstream_model = resolve_model(name, services.config.model_mapping)
    inner = count_tokens_to_upstream(body, GeminiContext(upstream_model))
    upstream = UpstreamRequest(
        method="countTokens", model=upstream_model, inner=inner, stream=False
    )
    sent = pipe.send(upstream, name, False)
    answer = unwrap_response(pipe.json_answer(sent, "countTokens"))
    total = answer.get("totalTokens")
    result: dict[str, Any] = {"totalTokens": total if isinstance(total, int) else 0}
    for key in ("cachedContentTokenCount", "promptTokensDetails"):
        if key in answer:
            result[key] = answer[key]
    return pipe.json(result)


def remembered_signatures(
    state: SharedState, body: Mapping[str, Any]
) -> dict[str, str]:
    """Signatures stored for the function calls a client replays without one."""
    return signatures.recall(state, SIGNATURE_NAMESPACE, _unsigned_call_ids(body))


def remember_signatures(state: SharedState, found: Mapping[str, str]) -> None:
    signatures.remember(state, SIGNATURE_NAMESPACE, found)


def _unsigned_call_ids(body: Mapping[str, Any]) -> list[str]:
    ids: list[str] = []
    contents = body.get("contents")
    for content in contents if isinstance(contents, list) else []:
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else []:
            call = part.get("functionCall") if isinstance(part, dict) else None
            if not isinstance(call, dict) or part.get("thoughtSignature"):
                continue
            key = call.get("id") or call.get("name")
            if isinstance(key, str) and key:
                ids.append(key)
    return ids
