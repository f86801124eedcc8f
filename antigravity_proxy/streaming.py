"""``relay``: the only generator that does I/O, the third error seam.

It feeds each upstream SSE event to a protocol's stream translator the moment the
event's bytes arrive and yields the translated frames at once; nothing is
collected. A failure after the first byte cannot change the HTTP status any more,
so it becomes the translator's in-band error frame and the stream ends. The
upstream response is closed whatever happens, including a client that goes away
(gunicorn closes the iterator, which raises ``GeneratorExit`` at the ``yield``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

import requests
from werkzeug.wrappers import Response

from antigravity_proxy.errors import GatewayError
from antigravity_proxy.http import safe_headers
from antigravity_proxy.protocols.gemini.chunk import TokenUsage
from antigravity_proxy.upstream.cloudcode import iter_events

log = logging.getLogger(__name__)

STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class StreamTranslator(Protocol):
    """What every protocol's stream translator offers ``relay`` and the pipeline.

    ``feed`` takes one upstream event (read with ``chunk_from_upstream``);
    ``usage`` is the last token count the upstream reported (None until one
    came); ``signatures`` maps the ids the client saw to the thought signatures
    to remember; ``done`` turns true once the translator wants no more upstream
    events (its stream is closed, or it ended early, as on a stop sequence).
    """

    @property
    def usage(self) -> TokenUsage | None: ...
    @property
    def signatures(self) -> Mapping[str, str]: ...
    @property
    def done(self) -> bool: ...
    def feed(self, chunk: Mapping[str, Any]) -> list[bytes]: ...
    def finish(self) -> list[bytes]: ...
    def error(self, err: GatewayError) -> list[bytes]: ...


def relay(
    upstream: requests.Response,
    translator: StreamTranslator,
    *,
    preamble: Iterable[bytes] = (),
    on_end: Callable[[], None] | None = None,
) -> Iterator[bytes]:
    """Translated frames of ``upstream``'s events, each as soon as it arrives.

    ``on_end`` runs however the stream ends (done, failed, client gone), and
    before the final frames are sent: a fast client's next turn, perhaps on
    another worker, must find what this turn learnt (thought signatures).
    """
    try:
        yield from preamble
        for event in iter_events(upstream):
            if isinstance(event, dict):
                yield from translator.feed(event)
            if translator.done:
                break  # e.g. a stop sequence matched locally: stop reading early
        tail = translator.finish()
    except GatewayError as err:
        log.warning("upstream stream failed mid-way: %s", err.message)
        tail = translator.error(err)
    finally:
        upstream.close()
        if on_end is not None:
            on_end()
    yield from tail


def collect(upstream: requests.Response) -> list[dict[str, Any]]:
    """Every event of an upstream stream, for a non-streaming client."""
    with upstream:
        return [event for event in iter_events(upstream) if isinstance(event, dict)]


def stream_response(
    frames: Iterator[bytes], mimetype: str, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        frames,
        mimetype=mimetype,
        headers={**STREAM_HEADERS, **safe_headers(headers)},
        direct_passthrough=True,
    )
