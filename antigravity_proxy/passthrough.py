"""The stream lifecycle for answers relayed verbatim (z.ai Messages, z.ai MCP).

``relay``'s guarantees for bytes the gateway does not translate: the upstream's
chunks pass on as they arrive, but a keep-alive (Anthropic ``ping``, else an SSE
comment) is only ever put between two events, a client that leaves during
silence gets the upstream closed at once, and an upstream cut or stall ends the
stream with the protocol's error event (after closing a half-sent event), never
with a short stream that looks complete.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Final, cast

from werkzeug.wrappers import Response

from antigravity_proxy import streaming
from antigravity_proxy.app import ERROR_MODULES
from antigravity_proxy.errors import GatewayError, UpstreamTimeout
from antigravity_proxy.exchange import Ending, Exchange
from antigravity_proxy.sse import encode_event
from antigravity_proxy.streaming import heartbeat_for
from antigravity_proxy.upstream.watch import SILENCE

log = logging.getLogger(__name__)

EVENT_ENDS: Final = (b"\n\n", b"\r\n\r\n", b"\r\r")


def error_event(err: GatewayError, protocol: str) -> bytes:
    """The protocol's in-band error as one SSE event (Anthropic names it)."""
    body = ERROR_MODULES[protocol].error_body(err)
    return encode_event(body, event="error" if protocol == "anthropic" else None)


def watched(response: Response, exchange: Exchange) -> Response:
    """``response`` with its body relayed under the lifecycle above (an event
    stream), or with silence ticks dropped and a cut logged (any other body)."""
    if isinstance(response.response, (list, tuple)):
        return response
    chunks = cast(Iterator[bytes], iter(response.response))
    if response.mimetype == "text/event-stream":
        response.response = relay_raw(chunks, exchange)
    else:
        response.response = _plain(chunks, exchange)
    return response


def _plain(chunks: Iterator[bytes], exchange: Exchange) -> Iterator[bytes]:
    """A body with no room for an error: cut short, the cut is logged."""
    try:
        for chunk in chunks:
            if chunk:
                yield chunk
    except GatewayError as err:
        exchange.end(_ending(err))
        log.warning("relayed answer cut off: %s", err.message)
    finally:
        _close(chunks)


def relay_raw(chunks: Iterator[bytes], exchange: Exchange) -> Iterator[bytes]:
    """Each chunk as it arrives; heartbeats between events, errors at the end.

    ``chunks`` yields ``b""`` for each tick of upstream silence
    (``upstream.watch``) and closes the upstream when it is closed.
    """
    heartbeat = heartbeat_for(exchange.protocol)
    tail, quiet_since = b"\n\n", time.monotonic()
    try:
        for chunk in chunks:
            if chunk is not SILENCE and chunk:
                tail, quiet_since = (tail + chunk)[-4:], time.monotonic()
                yield chunk
            elif exchange.cancelled:
                log.info("client went away during upstream silence")
                return
            elif _between_events(tail) and _due(quiet_since):
                quiet_since = time.monotonic()
                yield heartbeat
        exchange.end(Ending.COMPLETE)
    except GatewayError as err:
        exchange.end(_ending(err))
        exchange.failed(err)
        log.warning("relayed stream ended by an error: %s", err.message)
        closing = b"" if _between_events(tail) else b"\n\n"
        yield closing + error_event(err, exchange.protocol)
    finally:
        _close(chunks)


def _ending(err: GatewayError) -> Ending:
    return Ending.TIMEOUT if isinstance(err, UpstreamTimeout) else Ending.UPSTREAM_CUT


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


def _between_events(tail: bytes) -> bool:
    return tail.endswith(EVENT_ENDS)


def _due(quiet_since: float) -> bool:
    return time.monotonic() - quiet_since >= streaming.KEEPALIVE_SECONDS
