"""Wire rendering of the fake Cloud Code upstream: JSON answers and SSE streams.

An SSE answer is a generator that Werkzeug's server writes and flushes one
chunked-encoding chunk per event; it sleeps between events for slow streams,
logs the write time of each event in a ``StreamLog``, and for a cut stream shuts
the client socket down (``environ["werkzeug.socket"]``) after the last event it
was allowed to send, so the chunked body never terminates and the client sees a
transport error.  A generateContent answer merges the same chunks into one
``{"response": ..., "traceId": ...}`` envelope.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from tests.fakes.cloudcode_replies import (
    ReplyMeta,
    envelope,
    merge_chunks,
    reply_chunks,
    sse_event,
)
from tests.fakes.cloudcode_steps import CutStream, Fault, Reply, Stream

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


@dataclass
class StreamLog:
    """When each event of one SSE stream was written, and how it ended."""

    times: list[float] = field(default_factory=list)
    outcome: str = "open"
    # When the gateway was seen closing the connection during a pause.
    closed_at: float | None = None


@dataclass(frozen=True)
class SsePlan:
    """What one SSE stream writes: events, pacing, and whether to cut after."""

    events: Sequence[bytes]
    delay: float = 0.0
    initial_delay: float = 0.0
    cut: socket.socket | None = None
    peer: socket.socket | None = None


def sse_plan(
    step: Reply | Stream | CutStream,
    request: Mapping[str, Any],
    meta: ReplyMeta,
    environ: WSGIEnvironment,
) -> SsePlan:
    """Turn a step into encoded events; a cut needs the client socket."""
    if isinstance(step, Reply):
        return SsePlan([sse_event(c, meta) for c in reply_chunks(step, request, meta)])
    if isinstance(step, Stream):
        events = [sse_event(c, meta) for c in step.chunks]
        peer = environ.get("werkzeug.socket")
        return SsePlan(events, step.delay, step.initial_delay, peer=peer)
    events = [sse_event(c, meta) for c in step.chunks[: step.after]]
    return SsePlan(events, step.delay, cut=environ["werkzeug.socket"])


def sse_body(plan: SsePlan, log: StreamLog) -> Iterator[bytes]:
    """Yield events one by one, pacing them and logging each write.

    Werkzeug writes and flushes each yielded item as one chunk before asking for
    the next, so the time taken after ``yield`` returns is the write time.
    """
    try:
        for index, event in enumerate(plan.events):
            if not pause(plan.delay if index else plan.initial_delay, plan.peer):
                log.closed_at = time.monotonic()
                return
            yield event
            log.times.append(time.monotonic())
        if plan.cut is not None:
            log.outcome = "cut"
            cut_connection(plan.cut)
        log.outcome = "complete"
    finally:
        if log.outcome == "open":
            log.outcome = "aborted"


def pause(seconds: float, peer: socket.socket | None) -> bool:
    """Sleep ``seconds``; False as soon as ``peer`` closes its end meanwhile.

    Why watch: a silent stream only notices a gone reader at its next write; the
    tests measure how fast the gateway closes the upstream during silence.
    """
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if peer is None:
            time.sleep(left)
            return True
        poller = select.poll()  # select refuses descriptors past 1024
        try:
            poller.register(peer, select.POLLIN)
            readable = poller.poll(left * 1000)
            if readable and peer.recv(1, socket.MSG_PEEK) == b"":
                return False
        except OSError:
            return False
        if readable:
            time.sleep(min(left, 0.01))
    return True


def cut_connection(sock: socket.socket) -> None:
    """Shut the client socket down mid-response and tell Werkzeug it dropped.

    Raising ``ConnectionResetError`` makes Werkzeug treat the request as a dropped
    connection: it neither writes the terminating ``0`` chunk nor logs a traceback.
    """
    sock.shutdown(socket.SHUT_RDWR)
    raise ConnectionResetError("fake upstream cut the connection")


def cut_now(sock: socket.socket) -> Iterator[bytes]:
    """Drop the connection before any byte of the response is written."""
    cut_connection(sock)
    yield b""


def unary_response(
    step: Reply | Stream | CutStream,
    request: Mapping[str, Any],
    meta: ReplyMeta,
    environ: WSGIEnvironment,
) -> Response:
    """Answer generateContent: merge the step's chunks into one envelope."""
    if isinstance(step, CutStream):
        return Response(cut_now(environ["werkzeug.socket"]))
    if isinstance(step, Stream):
        time.sleep(step.initial_delay + step.delay * max(0, len(step.chunks) - 1))
        merged = merge_chunks(step.chunks)
    else:
        merged = merge_chunks(reply_chunks(step, request, meta))
    headers = {"x-cloudaicompanion-trace-id": meta.trace_id}
    return json_response(200, envelope(merged, meta), headers)


def json_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> Response:
    """Render a JSON answer the way Google does (UTF-8 charset)."""
    return Response(
        json.dumps(body),
        status=status,
        headers=dict(headers or {}),
        content_type="application/json; charset=UTF-8",
    )


def fault_response(fault: Fault) -> Response:
    """Render a Fault step; a ``bytes`` body is sent verbatim (broken answers)."""
    if isinstance(fault.body_json, bytes):
        return Response(
            fault.body_json,
            status=fault.status,
            headers=dict(fault.headers),
            content_type="application/json; charset=UTF-8",
        )
    return json_response(fault.status, fault.body_json, fault.headers)
