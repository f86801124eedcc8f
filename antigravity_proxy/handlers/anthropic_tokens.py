"""``POST /v1/messages/count_tokens``: a real count, cached, shared, never failing.

Claude Code sends dozens of identical counts in its first second. The answer is
the upstream's ``countTokens`` for the translated request; it is cached in the
shared store under a hash of that translation (every worker sees it), and
concurrent identical requests in one process share a single upstream call
(``SingleFlight``). When no account can serve, the local estimate of
``background.estimate_tokens`` is returned instead of an error, and so it is
when the upstream fails on its side: a context meter that errors is worse than
one that is a few percent off. The upstream call goes through the request's
``Pipeline``, so its attempts and serving account are in the ``Exchange``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

from antigravity_proxy.dispatch import UpstreamRequest
from antigravity_proxy.errors import ErrorKind, GatewayError
from antigravity_proxy.handlers.anthropic_common import fetch_url_media
from antigravity_proxy.models import resolve_model
from antigravity_proxy.pipeline import Pipeline
from antigravity_proxy.protocols.anthropic.background import estimate_tokens
from antigravity_proxy.protocols.anthropic.request import (
    as_model,
    count_tokens_to_upstream,
)
from antigravity_proxy.protocols.anthropic.response import count_tokens_from_upstream
from antigravity_proxy.protocols.anthropic.types import MessagesContext
from antigravity_proxy.upstream.envelope import unwrap_response

log = logging.getLogger(__name__)

COUNT_NAMESPACE: Final = "anthropic-count-tokens"
COUNT_TTL: Final = 3600.0
# No account could take the call, or the upstream failed on its side (5xx, cut,
# timeout): answer with the estimate instead. The client's own mistakes (400,
# 404 model) were found by the translation or are the upstream's verdict.
ESTIMATE_ON: Final = frozenset(
    {
        ErrorKind.OVERLOADED,
        ErrorKind.FAILED_PRECONDITION,
        ErrorKind.RATE_LIMIT,
        ErrorKind.UPSTREAM,
        ErrorKind.TIMEOUT,
    }
)


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value = 0
        self.error: BaseException | None = None


class SingleFlight:
    """Concurrent calls with the same key share one execution and its outcome."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}

    def run(self, key: str, work: Callable[[], int]) -> int:
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value
        try:
            flight.value = work()
            return flight.value
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()


# One per worker process: the in-flight calls of this process.
FLIGHTS: Final = SingleFlight()


def input_tokens(pipe: Pipeline, body: Mapping[str, Any]) -> int:
    """The request's input tokens: cache, else upstream, else the estimate."""
    model = as_model(body)
    upstream_model = resolve_model(model, pipe.services.config.model_mapping)
    pipe.exchange.describe((model, upstream_model), False)
    ctx = MessagesContext(
        message_id="",
        id_seed="",
        model=model,
        upstream_model=upstream_model,
        media=fetch_url_media(body.get("messages")),
    )
    inner = count_tokens_to_upstream(body, ctx)
    key = cache_key(inner)
    try:
        return FLIGHTS.run(key, lambda: _cached_count(pipe, upstream_model, inner))
    except GatewayError as err:
        if err.kind not in ESTIMATE_ON:
            raise
        log.info("count_tokens estimated locally: %s", err.message)
        return estimate_tokens(body)


def cache_key(inner: Mapping[str, Any]) -> str:
    """SHA-256 of the translated request (it names the upstream model)."""
    text = json.dumps(inner, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _cached_count(pipe: Pipeline, upstream_model: str, inner: Mapping[str, Any]) -> int:
    state = pipe.services.state
    key = cache_key(inner)
    cached = state.get(COUNT_NAMESPACE, key)
    if cached is not None and cached.isdigit():
        return int(cached)
    count = _upstream_count(pipe, upstream_model, inner)
    state.put(COUNT_NAMESPACE, key, str(count), COUNT_TTL)
    return count


def _upstream_count(
    pipe: Pipeline, upstream_model: str, inner: Mapping[str, Any]
) -> int:
    request = UpstreamRequest(
        method="countTokens", model=upstream_model, inner=inner, stream=False
    )
    sent = pipe.send(request, pipe.exchange.client_model, stream=False)
    answer = pipe.json_answer(sent, "countTokens")
    return count_tokens_from_upstream(unwrap_response(answer))["input_tokens"]
