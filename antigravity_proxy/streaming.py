"""``relay``: the only generator that does I/O, the third error seam.

It feeds each upstream SSE event to a protocol's stream translator the moment the
event's bytes arrive and yields the translated frames at once; nothing is
collected. It owns the stream's whole life, for every protocol, in the one thread
that serves the request:

- keep-alive: after ``interval`` seconds without a frame it sends the protocol's
  heartbeat (Anthropic's ``ping`` event, an SSE comment elsewhere), so idle
  timeouts of clients and proxies do not cut a model that thinks in silence;
- a client that went away: while the upstream is silent the client's socket is
  watched (``upstream.watch``: it ends the wait when the client closes, else it
  is checked every tick), and the upstream is closed at once;
  a write to a gone client ends the generator (``GeneratorExit``) and the
  ``finally`` closes the upstream too;
- failures after the first byte (an upstream cut, a stall past the read timeout,
  a bug) cannot change the HTTP status any more, so they become the translator's
  in-band error frame and the stream ends; it never just stops;
- the outcome: ``settle`` tells the account pool whether the account delivered
  (a cut counts against it), and the ``Exchange`` learns usage and the ending.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import requests
from werkzeug.wrappers import Response

from antigravity_proxy.errors import (
    ClientGone,
    GatewayError,
    InternalError,
    UpstreamError,
    UpstreamTimeout,
)
from antigravity_proxy.exchange import Ending, Exchange
from antigravity_proxy.http import safe_headers
from antigravity_proxy.protocols.gemini.chunk import TokenUsage
from antigravity_proxy.sse import encode_event
from antigravity_proxy.upstream.cloudcode import iter_events
from antigravity_proxy.upstream.watch import (
    CLIENT_TICK,
    DEFAULT_TICK,
    SILENCE,
    WatchedBody,
)
from antigravity_proxy.upstream.zai import Relayed

log = logging.getLogger(__name__)

STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEPALIVE_SECONDS: Final = 15.0
ANTHROPIC_PING: Final = encode_event({"type": "ping"}, event="ping")
SSE_COMMENT: Final = b": keepalive\n\n"
HEARTBEATS: Final[Mapping[str, bytes]] = {"anthropic": ANTHROPIC_PING}


def heartbeat_for(protocol: str) -> bytes:
    """The protocol's own keep-alive frame: Anthropic pings, others comment."""
    return HEARTBEATS.get(protocol, SSE_COMMENT)


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


Settle = Callable[[GatewayError | None], None]


@dataclass(frozen=True, slots=True)
class Watch:
    """What ``relay`` watches over one stream besides the translation.

    :param exchange: the request's record (usage, ending, client-gone check).
    :param heartbeat: the frame sent after ``interval`` s of silence; None for
        formats that have no room for one (Gemini's JSON array).
    :param settle: told once how the upstream did: None, or the failure that
        counts against its account.
    """

    exchange: Exchange
    heartbeat: bytes | None = None
    interval: float = KEEPALIVE_SECONDS
    settle: Settle | None = None


def relay(
    upstream: requests.Response,
    translator: StreamTranslator,
    watch: Watch,
    *,
    preamble: Iterable[bytes] = (),
    on_end: Callable[[], None] | None = None,
) -> Iterator[bytes]:
    """Translated frames of ``upstream``'s events, each as soon as it arrives.

    The frames one upstream event makes (a block's start and its first delta)
    leave as one write: the server makes a send per item, and an item per frame
    cost a stream a system call and a pass through the WSGI layers per frame.

    ``on_end`` runs however the stream ends (done, failed, client gone), and
    before the final frames are sent: a fast client's next turn, perhaps on
    another worker, must find what this turn learnt (thought signatures).
    """
    exchange = watch.exchange
    failure: GatewayError | None = None
    ending = Ending.CLIENT_GONE  # unless the loop says otherwise
    tail: list[bytes] = []
    try:
        opening = b"".join(preamble)
        if opening:
            yield opening
        body = _watched(upstream, watch)
        yield from _frames(upstream, iter(body), translator, watch)
        tail, ending = translator.finish(), Ending.COMPLETE
    except ClientGone:
        log.info("client went away during upstream silence; upstream closed")
    except GatewayError as err:
        failure, ending = err, _ending_of(err)
        tail = _in_band_error(translator, err, exchange)
    except Exception:
        log.exception("stream failed inside the gateway")
        ending = Ending.UPSTREAM_CUT
        tail = _in_band_error(translator, InternalError("stream failed"), exchange)
    finally:
        if ending is not Ending.COMPLETE:
            upstream.close()
        _settle(watch, translator, failure, ending)
        if on_end is not None:
            on_end()
    try:
        if tail:
            yield b"".join(tail)
        if ending is Ending.COMPLETE:
            body.release()  # after the last frame left, so the client waits not
    finally:
        upstream.close()


def _frames(
    upstream: requests.Response,
    chunks: Iterator[bytes],
    translator: StreamTranslator,
    watch: Watch,
) -> Iterator[bytes]:
    """The translator's frames, with heartbeats and client checks in silence."""
    quiet_since = time.monotonic()
    for event in iter_events(upstream, chunks):
        if event is SILENCE:
            if watch.exchange.cancelled:
                raise ClientGone("the client went away")
            now = time.monotonic()
            if watch.heartbeat is not None and now - quiet_since >= watch.interval:
                quiet_since = now
                yield watch.heartbeat
            continue
        if isinstance(event, dict):
            frames = translator.feed(event)
            if frames:
                quiet_since = time.monotonic()
                yield b"".join(frames)
        if translator.done:
            break  # e.g. a stop sequence matched locally: stop reading early


def _watched(upstream: requests.Response, watch: Watch) -> WatchedBody:
    """The upstream's chunks, silence ticks included; with the client's socket
    watched, ticks are only as frequent as heartbeats need."""
    return WatchedBody(
        upstream,
        client=watch.exchange.client_socket,
        client_tick=min(CLIENT_TICK, max(DEFAULT_TICK, watch.interval / 3)),
    )


def _ending_of(err: GatewayError) -> Ending:
    return Ending.TIMEOUT if isinstance(err, UpstreamTimeout) else Ending.UPSTREAM_CUT


def _in_band_error(
    translator: StreamTranslator, err: GatewayError, exchange: Exchange
) -> list[bytes]:
    log.warning("stream ended by an error after the first byte: %s", err.message)
    exchange.failed(err)
    return translator.error(err)


def _settle(
    watch: Watch,
    translator: StreamTranslator,
    failure: GatewayError | None,
    ending: Ending,
) -> None:
    watch.exchange.usage.record(translator.usage)
    watch.exchange.end(ending)
    if watch.settle is not None:
        watch.settle(failure)


def collect(upstream: requests.Response, watch: Watch) -> list[dict[str, Any]]:
    """Every event of an upstream stream, for a non-streaming client.

    The client is checked while the upstream is silent, as in ``relay``; a cut
    is settled as the account's failure and raised (the status is still free).
    """
    events: list[dict[str, Any]] = []
    try:
        with upstream:
            for event in iter_events(upstream, iter(_watched(upstream, watch))):
                if event is SILENCE and watch.exchange.cancelled:
                    watch.exchange.end(Ending.CLIENT_GONE)
                    raise ClientGone("the client went away")
                if isinstance(event, dict):
                    events.append(event)
    except UpstreamError as err:
        if watch.settle is not None:
            watch.settle(err)
        watch.exchange.end(_ending_of(err))
        raise
    if watch.settle is not None:
        watch.settle(None)
    return events


def relayed_response(answer: Relayed) -> Response:
    """A z.ai answer as it came: status, its relayed headers, its body.

    A body still arriving passes through chunk by chunk (an event stream also
    gets the stream headers); a body read whole is sent as it is.
    """
    headers = {**STREAM_HEADERS, **answer.headers} if answer.stream else answer.headers
    if isinstance(answer.body, bytes):
        return Response(answer.body, status=answer.status, headers=headers)
    return Response(
        answer.body, status=answer.status, headers=headers, direct_passthrough=True
    )


def stream_response(
    frames: Iterator[bytes], mimetype: str, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        frames,
        mimetype=mimetype,
        headers={**STREAM_HEADERS, **safe_headers(headers)},
        direct_passthrough=True,
    )
