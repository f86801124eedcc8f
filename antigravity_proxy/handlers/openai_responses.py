"""OpenAI Responses API: ``POST /v1/responses`` (also ``/responses`` and
``/responses/compact``, the paths Codex uses) and the WebSocket refusal on
``GET /v1/responses``.

Thin glue around the pure translators. What the handler owns: the ``resp_`` id
and timestamp, ``previous_response_id`` (the earlier conversation is kept in the
shared state store, so a follow-up finds it whichever gunicorn worker serves it),
the signatures remembered for replayed calls, and URL images. Streaming emits the
official event sequence; the non-streaming answer is the same translator's final
``response`` object, so both carry the same output.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Final

from werkzeug.wrappers import Request, Response

from antigravity_proxy.errors import InvalidRequest, MethodNotAllowed
from antigravity_proxy.handlers.openai_common import (
    ClientAsk,
    conversation_key,
    new_id,
    now,
    remember_signatures,
    remembered_signatures,
    responses_call_ids,
    responses_image_refs,
    responses_user_texts,
    send,
    upstream_model_for,
)
from antigravity_proxy.http import dumps, read_json_object
from antigravity_proxy.media import fetch_images
from antigravity_proxy.pipeline import Pipeline
from antigravity_proxy.protocols.openai.responses_request import (
    request_to_upstream,
    wants_encrypted_content,
)
from antigravity_proxy.protocols.openai.responses_stream import (
    ResponsesStreamTranslator,
)
from antigravity_proxy.protocols.openai.responses_types import Item, ResponsesContext
from antigravity_proxy.protocols.openai.shapes import RESPONSES_SHAPE
from antigravity_proxy.protocols.openai.types import optional_bool
from antigravity_proxy.services import Services
from antigravity_proxy.state import SharedState

RESPONSE_NAMESPACE: Final = "openai-response"
RESPONSE_TTL: Final = 24 * 3600.0
KEPT_STATUSES: Final = frozenset({"completed", "incomplete"})
NOT_STORED: Final = "not_stored"

log = logging.getLogger(__name__)


def responses(services: Services, request: Request) -> Response:
    body = read_json_object(request, RESPONSES_SHAPE)
    stream = bool(optional_bool(body, "stream"))
    ctx, conversation = _context(services, body)
    inner = request_to_upstream(body, ctx)
    pipe = Pipeline(services, request)
    asked = ClientAsk(ctx.model, stream)
    sent = send(pipe, asked, ctx.upstream_model, inner, conversation)
    translator = ResponsesStreamTranslator(ctx, body)
    keep = _Keeper(services, conversation, ctx.response_id, body, translator)
    if stream:
        return pipe.stream(sent, translator, preamble=translator.start(), on_end=keep)
    translator.start()
    pipe.fold(sent, translator)
    keep()
    return pipe.json(translator.response_object())


def responses_websocket(services: Services, request: Request) -> Response:
    """``GET /v1/responses``: the Responses WebSocket transport is not offered.

    Why 426 at once: Codex tries the WebSocket transport first and falls back to
    HTTP (``POST /v1/responses``) when the upgrade is refused with 426 Upgrade
    Required; anything slower or vaguer costs every Codex session a retry.
    """
    if "websocket" in request.headers.get("Upgrade", "").lower():
        raise InvalidRequest(
            "WebSocket transport is not supported by this gateway; "
            "use POST /v1/responses (HTTP streaming).",
            status=426,
            code="websocket_not_supported",
        )
    raise MethodNotAllowed(
        "method GET is not allowed here; allowed: POST",
        response_headers={"Allow": "POST"},
    )


def previous_items(state: SharedState, body: Mapping[str, Any]) -> list[Item]:
    """The stored conversation of ``previous_response_id`` (empty when not sent).

    Why 400 for an unknown id: the official API answers 400
    ``previous_response_not_found``, also for responses created with
    ``store: false``, which are never kept.
    """
    previous_id = body.get("previous_response_id")
    if previous_id is None:
        return []
    if not isinstance(previous_id, str) or not previous_id:
        raise InvalidRequest(
            "Invalid type for 'previous_response_id': expected a string.",
            param="previous_response_id",
        )
    stored = state.get(RESPONSE_NAMESPACE, previous_id)
    shown = previous_id[:80]
    if stored is None:
        raise InvalidRequest(
            f"Previous response with id '{shown}' not found.",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    items: list[Item] | dict[str, str] = json.loads(stored)
    if isinstance(items, dict):
        raise InvalidRequest(
            f"Previous response with id '{shown}' was not stored: "
            f"{items.get(NOT_STORED)}.",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    return items


def _context(
    services: Services, body: Mapping[str, Any]
) -> tuple[ResponsesContext, str | None]:
    """The translation context (ids, stored history, signatures, images) and the
    conversation key used for sticky accounts and the signature cache."""
    model = _model(body)
    previous = previous_items(services.state, body)
    items = [*previous, *_input_items(body)]
    conversation = conversation_key(body, responses_user_texts(items))
    response_id = new_id("resp_")
    ctx = ResponsesContext(
        response_id=response_id,
        created_at=now(),
        model=model,
        upstream_model=upstream_model_for(services, model),
        id_seed=response_id.removeprefix("resp_"),
        signatures=remembered_signatures(
            services.state, conversation, responses_call_ids(items)
        ),
        media=fetch_images(responses_image_refs(_labelled(body, previous))),
        previous_items=previous,
        include_encrypted=wants_encrypted_content(body),
    )
    return ctx, conversation


class _Keeper:
    """Runs once the answer ended: remember signatures, store the conversation.

    A failed response is not stored (OpenAI cannot continue from one either);
    ``store: false`` (Codex) stores nothing but the signatures. A conversation
    over ``openai.responses_store_max_response_bytes`` leaves a small note
    instead, so continuing from it is a 400 that says why; the total is bounded
    by ``openai.responses_store_max_total_bytes`` (oldest evicted first).
    """

    def __init__(
        self,
        services: Services,
        conversation: str | None,
        response_id: str,
        body: Mapping[str, Any],
        translator: ResponsesStreamTranslator,
    ) -> None:
        self.state = services.state
        self.limits = services.config.openai
        self.conversation = conversation
        self.response_id = response_id
        self.store = body.get("store") is not False
        self.translator = translator

    def __call__(self) -> None:
        translator = self.translator
        remember_signatures(self.state, self.conversation, translator.signatures)
        status = translator.response_object()["status"]
        if self.store and status in KEPT_STATUSES:
            self._keep(dumps(translator.items_for_storage()))

    def _keep(self, value: str) -> None:
        size = len(value.encode("utf-8"))
        limit = self.limits.responses_store_max_response_bytes
        if size > limit:
            log.info("response %s not stored: %d bytes", self.response_id, size)
            reason = (
                f"its conversation is {size} bytes, more than "
                f"openai.responses_store_max_response_bytes ({limit})"
            )
            note = dumps({NOT_STORED: reason})
            self.state.put(RESPONSE_NAMESPACE, self.response_id, note, RESPONSE_TTL)
            return
        total = self.limits.responses_store_max_total_bytes
        self.state.put_bounded(
            RESPONSE_NAMESPACE, self.response_id, value, RESPONSE_TTL, total
        )


def _model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    return model


def _input_items(body: Mapping[str, Any]) -> list[object]:
    raw = body.get("input")
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    return list(raw) if isinstance(raw, list) else []


def _labelled(
    body: Mapping[str, Any], previous: list[Item]
) -> list[tuple[object, str]]:
    """Items with the name the translator gives them in errors."""
    labelled: list[tuple[object, str]] = [
        (item, "previous_response_id") for item in previous
    ]
    raw = body.get("input")
    if isinstance(raw, list):
        labelled += [(item, f"input[{i}]") for i, item in enumerate(raw)]
    return labelled
