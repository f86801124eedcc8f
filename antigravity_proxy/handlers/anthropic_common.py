"""Glue for the Messages handler: what the pure translators must not invent.

Builds the ``MessagesContext`` for one request (the ``msg_…`` id and tool-id seed,
the upstream model, Claude Code's background routing, thought signatures
remembered in the shared store, the stop sequences), the conversation key that
keeps a session on one account, and the upstream call itself with the error
wording Anthropic clients act on.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from antigravity_proxy import json_codec, signatures
from antigravity_proxy.config import Config
from antigravity_proxy.dispatch import Sent, UpstreamRequest
from antigravity_proxy.errors import (
    GatewayError,
    InvalidRequest,
    NotFoundError,
    UpstreamStatus,
)
from antigravity_proxy.handlers.anthropic_history import history_needs
from antigravity_proxy.media import ImageRef, fetch_images
from antigravity_proxy.models import resolve_model
from antigravity_proxy.pipeline import Pipeline
from antigravity_proxy.protocols.anthropic.background import is_background_request
from antigravity_proxy.protocols.anthropic.request import as_model, parallel_tool_use
from antigravity_proxy.protocols.anthropic.types import MessagesContext
from antigravity_proxy.services import Services
from antigravity_proxy.sessions import session_key
from antigravity_proxy.state import SharedState
from antigravity_proxy.upstream.message_text import TextMeaning, says

SIGNATURE_NAMESPACE: Final = "anthropic-signature"
CLAUDE_CODE_BETA: Final = "claude-code-20250219"
PROMPT_TOO_LONG: Final = "prompt is too long"


@dataclass(frozen=True, slots=True)
class Plan:
    """One Messages request, decided: context, conversation key, delivery."""

    ctx: MessagesContext
    session: str | None
    stream: bool


def plan_messages(services: Services, body: Mapping[str, Any]) -> Plan:
    """Everything chosen before translation; cheap checks fail before any I/O."""
    model = as_model(body)
    stream = _stream_flag(body.get("stream"))
    upstream_model = upstream_model_for(services.config, model, body)
    needs = history_needs(body.get("messages"), upstream_model)
    ctx = MessagesContext(
        message_id=f"msg_{uuid.uuid4().hex[:24]}",
        id_seed=uuid.uuid4().hex[:12],
        model=model,
        upstream_model=upstream_model,
        signatures=remembered_signatures(services.state, needs.unsigned_tool_ids),
        stop_sequences=_stop_sequences(body.get("stop_sequences")),
        media=fetched_images(needs.images),
        parallel_tool_use=parallel_tool_use(body),
    )
    return Plan(ctx, conversation_key(body), stream)


def upstream_model_for(config: Config, model: str, body: Mapping[str, Any]) -> str:
    """The upstream model; Claude Code's housekeeping goes to the background model.

    Why: titles, summaries and warm-ups need no frontier model, and on a pool of
    quota-limited accounts they would spend the main model's quota.
    """
    background = config.anthropic.background_model
    if background and is_background_request(body):
        return resolve_model(background, config.model_mapping)
    return resolve_model(model, config.model_mapping)


def send(pipe: Pipeline, plan: Plan, inner: Mapping[str, Any]) -> Sent:
    """Dispatch the streaming generation call, in Anthropic's error wording."""
    upstream_model = plan.ctx.upstream_model
    request = UpstreamRequest(
        method="streamGenerateContent",
        model=upstream_model,
        inner=inner,
        session=plan.session,
        extra_headers=beta_headers(upstream_model),
    )
    try:
        return pipe.send(request, plan.ctx.model, plan.stream)
    except NotFoundError as exc:
        raise NotFoundError(f"model: {plan.ctx.model}", param="model") from exc
    except GatewayError as exc:
        reworded = prompt_too_long(exc)
        if reworded is exc:
            raise
        raise reworded from exc


def beta_headers(upstream_model: str) -> dict[str, str]:
    """``anthropic-beta`` for Claude upstream models, never the client's betas.

    Why: the upstream serves Claude with the betas the Antigravity client sends
    (reference server-upstream-accounts.md §4.3); a client's own betas name
    features this upstream does not offer.
    """
    if "claude" in upstream_model.lower():
        return {"anthropic-beta": CLAUDE_CODE_BETA}
    return {}


def prompt_too_long(err: GatewayError) -> GatewayError:
    """An upstream context-window 400 reworded as Anthropic's "prompt is too long".

    Why: Claude Code recognises exactly this wording (it then compacts the
    conversation) and reads ``N tokens > M maximum`` to know how much to cut.
    The upstream seam (``cloudcode.prompt_too_long_counts``) recognised the
    error; a Claude upstream's message already in Anthropic's wording is kept.
    """
    counts = err.prompt_too_long if isinstance(err, UpstreamStatus) else None
    if counts is None:
        return err
    if says(TextMeaning.ANTHROPIC_WORDING, err.message):
        return InvalidRequest(err.message)
    used, limit = counts
    if used is not None and limit is not None:
        return InvalidRequest(f"{PROMPT_TOO_LONG}: {used} tokens > {limit} maximum")
    return InvalidRequest(f"{PROMPT_TOO_LONG}: {err.message}")


def conversation_key(body: Mapping[str, Any]) -> str | None:
    """``metadata.user_id``'s session, else the first real user text.

    Why ``session_id`` inside ``user_id``: Claude Code sends ``user_id`` as a JSON
    string whose ``device_id`` is the same for every session on a machine; older
    clients send an opaque string, used whole.
    """
    metadata = body.get("metadata")
    user_id = metadata.get("user_id") if isinstance(metadata, Mapping) else None
    if isinstance(user_id, str) and user_id:
        return session_key([f"anthropic-session:{_session_id(user_id)}"])
    return session_key(user_texts(body.get("messages")))


def _session_id(user_id: str) -> str:
    try:
        parsed = json_codec.loads(user_id)
    except json_codec.JsonError:
        return user_id
    session = parsed.get("session_id") if isinstance(parsed, dict) else None
    return session if isinstance(session, str) and session else user_id


def user_texts(messages: Any) -> Iterator[str]:
    """Each text of each user message, in order (one text block at a time)."""
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, Mapping) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            yield content
        for block in _blocks(content):
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                yield block["text"]


def remembered_signatures(state: SharedState, tool_ids: list[str]) -> dict[str, str]:
    """tool_use id -> upstream signature, for the ids the store knows."""
    return signatures.recall(state, SIGNATURE_NAMESPACE, tool_ids)


def remember_signatures(state: SharedState, found: Mapping[str, str]) -> None:
    """Keep each call's signature for clients that replay ``"signature": ""``."""
    signatures.remember(state, SIGNATURE_NAMESPACE, found)


def fetch_url_media(messages: Any) -> dict[str, tuple[str, str]]:
    """The ``url`` images of ``messages``, downloaded (``fetched_images``)."""
    return fetched_images(history_needs(messages, "").images)


def fetched_images(refs: list[ImageRef]) -> dict[str, tuple[str, str]]:
    """URL -> (mime type, base64 data) of ``url`` image sources (public
    addresses only), for the translator.

    Why images only: the guarded fetcher accepts images by their bytes; a
    ``url`` document source was refused up front (``history_needs``), naming
    the field, rather than reported as unreachable.
    """
    fetched = fetch_images(refs)
    return {
        url: (media.mime_type, base64.b64encode(media.data).decode("ascii"))
        for url, media in fetched.items()
    }


def _blocks(content: Any) -> list[dict[str, Any]]:
    """The object blocks of a content list (JSON objects parse as ``dict``)."""
    if not isinstance(content, list):
        return []
    return [block for block in content if isinstance(block, dict)]


def _stream_flag(value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequest("stream: Input should be a valid boolean", param="stream")
    return value


def _stop_sequences(value: Any) -> tuple[str, ...]:
    """The stop sequences as given (``request_to_upstream`` validates them)."""
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))
