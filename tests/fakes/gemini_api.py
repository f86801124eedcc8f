"""The public Gemini API's shape on top of the fake Cloud Code, for peer gateways.

Other gateways (LiteLLM's ``gemini/`` provider) cannot speak ``v1internal``; this
WSGI app answers ``POST /v1beta/models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse`` with the fake's own answers unwrapped (no
``{"response": ..., "traceId": ...}`` envelope), and passes every other path to
the wrapped ``FakeCloudCode`` unchanged.  The key comes as ``?key=`` or
``x-goog-api-key`` (any non-empty one is accepted; none is a 403).  Scripted
steps queued with ``fake.script`` answer these calls too (steps scoped to an
account never match: a key names none), so a scripted ``Stream`` paces events
here as on the Cloud Code path; each stream's write times are in ``sent_times``.
Requests are recorded in ``requests`` (path, query, body) before they are
answered, as the fake records its own.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from werkzeug.wrappers import Request, Response

from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.cloudcode_replies import ReplyMeta, default_reply, merge_chunks
from tests.fakes.cloudcode_replies import reply_chunks as _reply_chunks
from tests.fakes.cloudcode_steps import (
    Fault,
    Reply,
    Stream,
    bad_request,
    forbidden,
    not_found,
)
from tests.fakes.cloudcode_wire import (
    SsePlan,
    StreamLog,
    fault_response,
    json_response,
    sse_body,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

ROUTE: Final = re.compile(
    r"/v1beta/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)"
)


@dataclass(frozen=True)
class ApiCall:
    """One Gemini API request as received."""

    path: str
    query: dict[str, str]
    json: Any


class GeminiApi:
    """WSGI app: Gemini API generation routes, the rest to ``fake``."""

    def __init__(self, fake: FakeCloudCode) -> None:
        self.fake = fake
        self._lock = threading.Lock()
        self._calls: list[ApiCall] = []
        self._streams: list[StreamLog] = []
        self._serial = itertools.count(1)

    @property
    def requests(self) -> list[ApiCall]:
        """Return a snapshot of the Gemini API requests, oldest first."""
        with self._lock:
            return list(self._calls)

    @property
    def sent_times(self) -> list[list[float]]:
        """Return, per SSE stream of this surface, when each event was written."""
        with self._lock:
            return [list(log.times) for log in self._streams]

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        request = Request(environ)
        match = ROUTE.fullmatch(request.path)
        if match is None:
            return self.fake(environ, start_response)
        response = self._answer(request, match["model"], match["method"])
        return response(environ, start_response)

    def _answer(self, request: Request, model: str, method: str) -> Response:
        body = request.get_json(force=True, silent=True)
        with self._lock:
            self._calls.append(ApiCall(request.path, request.args.to_dict(), body))
        if request.method != "POST":
            return fault_response(not_found())
        if not (request.args.get("key") or request.headers.get("x-goog-api-key")):
            return fault_response(forbidden())
        if not isinstance(body, dict) or not isinstance(body.get("contents"), list):
            return fault_response(bad_request("contents must be a list"))
        step = self.fake._take_step(method, "", model)  # noqa: SLF001 (same package)
        if isinstance(step, Fault):
            return fault_response(step)
        if step is not None and not isinstance(step, Reply | Stream):
            return fault_response(bad_request("cut streams are not served here"))
        number = next(self._serial)
        meta = ReplyMeta(model, f"resp-{number}", f"trace-{number}")
        chosen = default_reply(body) if step is None else step
        chunks = chunks_of(chosen, body, meta)
        if method == "generateContent":
            return json_response(200, merge_chunks(chunks))
        if request.args.get("alt") != "sse":
            return fault_response(bad_request("only alt=sse streams are served here"))
        return self._sse(chosen, chunks)

    def _sse(self, step: Reply | Stream, chunks: list[Mapping[str, Any]]) -> Response:
        events = [b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks]
        plan = SsePlan(events)
        if isinstance(step, Stream):
            plan = SsePlan(events, step.delay, step.initial_delay)
        log = StreamLog()
        with self._lock:
            self._streams.append(log)
        headers = {"Cache-Control": "no-cache"}
        return Response(
            sse_body(plan, log), mimetype="text/event-stream", headers=headers
        )


def chunks_of(
    step: Reply | Stream, body: Mapping[str, Any], meta: ReplyMeta
) -> list[Mapping[str, Any]]:
    """The unwrapped response chunks of a step (a Stream's ``bytes`` are dropped)."""
    if isinstance(step, Reply):
        return list(_reply_chunks(step, body, meta))
    return [c for c in step.chunks if isinstance(c, Mapping)]
