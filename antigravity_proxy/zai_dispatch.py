"""Which Anthropic requests go to z.ai, and under which model name.

``use_zai`` applies ``zai.dispatch_mode`` (reference §5.5): ``off``; ``exclusive``
(every Anthropic request); ``fallback`` (only when no Google account can serve the
model right now); ``pooled`` (z.ai is one more member of the rotation next to the
Google accounts: slot ``n % (google + 1) == 0`` of a round-robin counter).
``model_for_zai`` maps the client's model to a z.ai model. Both are pure; the
counter and the account pool are passed in.

How the Anthropic handler wires it (``handlers/anthropic.py``)::

    from antigravity_proxy.zai_dispatch import SharedRoundRobin, use_zai

    def messages(services, request):
        body = read_json_object(request)          # the handler's own parsing
        rotation = SharedRoundRobin(services.state)
        model = str(body.get("model", ""))
        if use_zai(services.config, services.pool, model, rotation):
            answer = services.zai.anthropic(
                "/v1/messages", read_body(request),
                request.headers, stream=body.get("stream") is True,
            )
            return relayed_response(answer)
        ...                                       # the Google path

    def count_tokens(services, request):
        ...
        if use_zai(services.config, services.pool, str(body.get("model", "")), None):
            answer = services.zai.anthropic(
                "/v1/messages/count_tokens", read_body(request),
                request.headers, stream=False,
            )
            return relayed_response(answer)

``model`` is the client's model name as sent; the Google-side model whose
cooldowns matter is resolved here with the gateway's own ``model_mapping``.
``ZaiClient.anthropic`` sends the body bytes as received except for the model
name, so the handler passes the raw body. ``count_tokens`` passes no
counter: counting must not advance the rotation, and in ``pooled`` mode z.ai
counts (it gives a real count at no quota cost).
"""

from __future__ import annotations

from typing import Final, Protocol

from antigravity_proxy.config import Config, ZaiConfig
from antigravity_proxy.models import resolve_model
from antigravity_proxy.state import SharedState

COUNTER_NAMESPACE: Final = "zai-dispatch"
COUNTER_KEY: Final = "pooled"
COUNTER_TTL: Final = 30 * 24 * 3600.0
ZAI_PREFIX: Final = "zai:"


class GooglePool(Protocol):
    def available_count(self, model: str) -> int: ...


class RoundRobin(Protocol):
    def next(self) -> int: ...


class SharedRoundRobin:
    """The ``pooled`` rotation counter, kept in the state shared by all workers.

    Why shared: with several gunicorn workers (or boxes) a per-process counter
    would send two consecutive requests to z.ai whenever they land on different
    workers. The increment is atomic, so simultaneous requests take distinct
    slots.
    """

    def __init__(self, state: SharedState) -> None:
        self.state = state

    def next(self) -> int:
        return self.state.incr(COUNTER_NAMESPACE, COUNTER_KEY, COUNTER_TTL) - 1


def zai_ready(zai: ZaiConfig) -> bool:
    """z.ai may serve: enabled, a key set and a dispatch mode other than ``off``."""
    return zai.enabled and bool(zai.api_key.strip()) and zai.dispatch_mode != "off"


def use_zai(
    config: Config, pool: GooglePool, model: str, counter: RoundRobin | None
) -> bool:
    """Whether this Anthropic request goes to z.ai rather than a Google account.

    Why z.ai-native names (``glm-*``, ``zai:*``) always go to z.ai once it may
    serve: no Google account can serve them, so rotating them to Google would
    only produce an error.
    """
    zai = config.zai
    if not zai_ready(zai):
        return False
    if zai.dispatch_mode == "exclusive" or is_zai_model(model):
        return True
    google = pool.available_count(resolve_model(model, config.model_mapping))
    if zai.dispatch_mode == "fallback":
        return google == 0
    if counter is None:
        return True
    return counter.next() % (google + 1) == 0


def is_zai_model(model: str) -> bool:
    lowered = model.lower()
    return lowered.startswith(("glm-", ZAI_PREFIX))


def model_for_zai(zai: ZaiConfig, model: str) -> str:
    """The z.ai model for a client's model name (reference §5.5).

    ``zai.model_mapping`` (exact, then lower-case), then a ``zai:`` prefix is
    stripped, ``glm-*`` and other non-Claude names pass unchanged, and Claude
    names go by family: ``opus`` and ``haiku`` to their models, the rest to
    ``sonnet``.
    """
    mapping = zai.model_mapping
    if model in mapping:
        return mapping[model]
    lowered = model.lower()
    if lowered in mapping:
        return mapping[lowered]
    if lowered.startswith(ZAI_PREFIX):
        model, lowered = model[len(ZAI_PREFIX) :], lowered[len(ZAI_PREFIX) :]
    if not lowered.startswith("claude-"):
        return model
    if "opus" in lowered:
        return zai.models.opus
    if "haiku" in lowered:
        return zai.models.haiku
    return zai.models.sonnet
