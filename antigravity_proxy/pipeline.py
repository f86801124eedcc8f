"""The request pipeline: handler -> dispatcher -> relay, written once.

A handler parses, plans and translates; then it hands the translated request to
its ``Pipeline``, which sends it through the dispatcher (accounts, retries, every
attempt noted in the request's ``Exchange``), and answers: a stream relayed as it
arrives (``stream``: keep-alive, client-gone, in-band errors, the account's
outcome, all in ``streaming.relay``), or a whole answer read first (``events``,
``fold``, ``unary``). The gateway's own response headers (``X-Mapped-Model``,
``X-Antigravity-Account``) are made here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from antigravity_proxy import streaming
from antigravity_proxy.dispatch import Sent, UpstreamRequest
from antigravity_proxy.errors import GatewayError
from antigravity_proxy.exchange import Exchange, exchange_of
from antigravity_proxy.http import json_response
from antigravity_proxy.protocols.gemini.chunk import Chunk, chunk_from_upstream
from antigravity_proxy.services import Services
from antigravity_proxy.streaming import (
    StreamTranslator,
    Watch,
    collect,
    heartbeat_for,
    relay,
    stream_response,
)
from antigravity_proxy.upstream.cloudcode import json_body

SSE: str = "text/event-stream"


class Pipeline:
    """One request's way to the upstream and back; see the module docstring."""

    def __init__(self, services: Services, request: Request) -> None:
        self.services = services
        self.exchange: Exchange = exchange_of(request.environ)

    def send(self, upstream: UpstreamRequest, client_model: str, stream: bool) -> Sent:
        """Dispatch ``upstream``; the models and delivery are noted first."""
        self.exchange.describe((client_model, upstream.model), stream)
        return self.services.dispatcher.send(upstream, self.exchange)

    def headers(self) -> dict[str, str]:
        """The upstream model and the account(s) that answered."""
        headers = {"X-Mapped-Model": self.exchange.upstream_model}
        if self.exchange.account:
            headers["X-Antigravity-Account"] = self.exchange.account
        return headers

    def stream(
        self,
        sent: Sent,
        translator: StreamTranslator,
        *,
        preamble: Iterable[bytes] = (),
        on_end: Callable[[], None] | None = None,
        mimetype: str = SSE,
    ) -> Response:
        """The translated stream, each frame as it is made (``relay``).

        Only SSE has room for a heartbeat; Gemini's JSON array gets none.
        """
        heartbeat = heartbeat_for(self.exchange.protocol) if mimetype == SSE else None
        watch = self._watch(sent, heartbeat)
        frames = relay(
            sent.response, translator, watch, preamble=preamble, on_end=on_end
        )
        return stream_response(frames, mimetype, self.headers())

    def events(self, sent: Sent) -> list[dict[str, Any]]:
        """Every upstream event, read whole (a non-streaming client)."""
        events = collect(sent.response, self._watch(sent))
        for event in reversed(events):
            usage = chunk_from_upstream(event).usage
            if usage is not None:
                self.exchange.usage.record(usage)
                break
        return events

    def chunks(self, sent: Sent) -> list[Chunk]:
        """Every upstream event, each read once (a non-streaming client)."""
        chunks = [
            chunk_from_upstream(e) for e in collect(sent.response, self._watch(sent))
        ]
        for chunk in reversed(chunks):
            if chunk.usage is not None:
                self.exchange.usage.record(chunk.usage)
                break
        return chunks

    def fold(self, sent: Sent, translator: StreamTranslator) -> None:
        """Feed every upstream event to ``translator``, then finish it.

        Why: the non-streaming answer is the fold of the very events a stream
        would have carried, so both carry the same content.
        """
        for event in collect(sent.response, self._watch(sent)):
            translator.feed(event)
        translator.finish()
        self.exchange.usage.record(translator.usage)

    def unary(self, sent: Sent, method: str) -> Chunk:
        """A non-streamed JSON answer, read; its usage noted."""
        answer = chunk_from_upstream(self.json_answer(sent, method))
        self.exchange.usage.record(answer.usage)
        return answer

    def json_answer(self, sent: Sent, method: str) -> Any:
        """A non-streamed JSON answer; a broken one counts against the account."""
        try:
            answer = json_body(sent.response, method)
        except GatewayError as err:
            self.services.dispatcher.settle(sent, err)
            raise
        self.services.dispatcher.settle(sent, None)
        return answer

    def json(self, body: Any, status: int = 200) -> Response:
        return json_response(body, status, self.headers())

    def _watch(self, sent: Sent, heartbeat: bytes | None = None) -> Watch:
        def settle(failure: GatewayError | None) -> None:
            self.services.dispatcher.settle(sent, failure)

        return Watch(
            self.exchange,
            heartbeat,
            interval=streaming.KEEPALIVE_SECONDS,
            settle=settle,
        )
