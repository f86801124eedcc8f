"""``Exchange``: everything the gateway learns about one request, in one object.

The WSGI wrapper (``observer.ExchangeMiddleware``) creates it before routing and
stores it in the environ (``exchange_of``); the handler fills in the protocol and
models, the dispatcher appends one ``Attempt`` per upstream call, the pipeline
records the serving account, the usage the upstream reported and the timings, and
the wrapper finishes it when the last byte has left (or the client went away).

The ``on_finish`` contract, for anything that observes requests (access log, usage
ledger, metrics): append a callable taking the ``Exchange`` to
``exchange.on_finish`` (per request) or to ``FINISH_HOOKS`` (process-wide, e.g. at
start-up). Hooks run exactly once per request, in the worker thread that served it,
after the response is complete, in the order they were added (per-request hooks
first). They must be quick and must not raise; an exception is logged and the next
hook still runs. By then every field is final: read, never write.

Fields, with the unit of each (times are ``time.monotonic()`` seconds unless said):

- ``request_id`` (``X-Request-Id``), ``method``, ``path``, ``user_agent`` (as
  sent, unbounded: escape before logging), ``route`` (the handler's
  dotted name, "" when no route matched), ``protocol`` (openai, anthropic, gemini,
  mcp, internal, "" before routing)
- ``key_name``: the name of the gateway key the request carried (``main`` for
  ``proxy.api_key``, else its ``proxy.api_keys`` name; None without a known key),
  set by the key check (``auth.py``)
- ``client_model`` (as the client sent it), ``upstream_model``, ``stream``
- ``attempts``: every upstream call, in order (``Attempt``); ``account``: the one
  whose answer the client got (None when no upstream answered)
- ``received_at`` (wall clock, ``time.time()``), ``started`` / ``upstream_headers``
  / ``first_byte`` / ``ended`` (monotonic; None until it happened)
- ``usage``: tokens as the upstream reported them (``Usage``), images returned
- ``status`` (the HTTP status sent), ``error_kind`` (``ErrorKind`` value or None)
- ``bytes_in`` (request body bytes the gateway read, chunked framing removed;
  a body refused unread counts 0), ``bytes_out`` (response body sent)
- ``ending``: how it ended (``Ending``)
"""

from __future__ import annotations

import enum
import logging
import re
import socket
import time
import uuid
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final

from antigravity_proxy.errors import GatewayError
from antigravity_proxy.protocols.gemini.chunk import TokenUsage

log = logging.getLogger(__name__)

ENVIRON_KEY: Final = "antigravity_proxy.exchange"
REQUEST_ID_HEADER: Final = "X-Request-Id"
CLIENT_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}")

FinishHook = Callable[["Exchange"], None]
# Process-wide observers, run for every request after its own ``on_finish``.
FINISH_HOOKS: list[FinishHook] = []


class Ending(enum.StrEnum):
    """How a request ended, as the access log and the metrics report it."""

    COMPLETE = "complete"  # the whole answer was sent (an error answer included)
    UPSTREAM_CUT = "upstream_cut"  # the upstream broke off after the first byte
    CLIENT_GONE = "client_gone"  # the client disconnected before the end
    TIMEOUT = "timeout"  # the upstream went silent past its read timeout


@dataclass(frozen=True, slots=True)
class Attempt:
    """One upstream call: which account, where, what came back, how long it took.

    ``status`` is the upstream's HTTP status, 0 when none arrived (network error);
    ``reason`` is ``ok`` or what the pool decided (``rotate``, ``retry``,
    ``backoff``, ``fail``), or the error kind for a network failure.
    """

    account: str
    base_url: str
    status: int
    reason: str
    duration: float


@dataclass(slots=True)
class Usage:
    """Token counts as the upstream reported them (its last report wins)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    thinking_tokens: int = 0
    images: int = 0

    def record(self, usage: TokenUsage | None) -> None:
        """Take the upstream's counts (from ``chunk_from_upstream``); None keeps."""
        if usage is None:
            return
        self.input_tokens = usage.prompt_tokens
        self.output_tokens = usage.candidates_tokens
        self.cached_tokens = usage.cached_tokens
        self.thinking_tokens = usage.thoughts_tokens

    def add(self, usage: TokenUsage | None) -> None:
        """Add the counts of one of several parallel calls (image fan-out)."""
        if usage is None:
            return
        self.input_tokens += usage.prompt_tokens
        self.output_tokens += usage.candidates_tokens
        self.cached_tokens += usage.cached_tokens
        self.thinking_tokens += usage.thoughts_tokens


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


def request_id_from(environ: Mapping[str, Any]) -> str:
    """The client's ``X-Request-Id`` when it has a sane shape, else a new one.

    Why a shape check: the id is echoed in a header and written to log lines, so
    only a bounded token of safe characters is kept.
    """
    sent = environ.get("HTTP_X_REQUEST_ID", "")
    if isinstance(sent, str) and CLIENT_REQUEST_ID.fullmatch(sent):
        return sent
    return new_request_id()


@dataclass(eq=False)
class Exchange:
    """One request, from arrival to its last byte; see the module docstring."""

    request_id: str
    method: str = ""
    path: str = ""
    user_agent: str = ""
    route: str = ""
    protocol: str = ""
    key_name: str | None = None
    client_model: str = ""
    upstream_model: str = ""
    stream: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    account: str | None = None
    received_at: float = field(default_factory=time.time)
    started: float = field(default_factory=time.monotonic)
    upstream_headers: float | None = None
    first_byte: float | None = None
    ended: float | None = None
    usage: Usage = field(default_factory=Usage)
    status: int | None = None
    error_kind: str | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    ending: Ending | None = None
    on_finish: list[FinishHook] = field(default_factory=list)
    client_gone: Callable[[], bool] = field(default=lambda: False, repr=False)
    # The client's connection, when the server exposes it: a stream's silence
    # waits on it too, so a client that leaves is seen without polling.
    client_socket: socket.socket | None = field(default=None, repr=False)
    # A flag only ever raised, never waited on: a plain bool (a threading.Event
    # built a Condition and a lock for every request).
    _cancelled: bool = field(default=False, repr=False)

    @property
    def cancelled(self) -> bool:
        """True once the client is known to be gone: make no further upstream call."""
        if not self._cancelled and self.client_gone():
            self._cancelled = True
        return self._cancelled

    def cancel(self) -> None:
        self._cancelled = True

    def describe(self, models: tuple[str, str], stream: bool) -> None:
        """The client's model, the upstream model and whether it streams."""
        self.client_model, self.upstream_model = models
        self.stream = stream

    def served_by(self, account: str) -> None:
        """The upstream answered with a 2xx on ``account`` (headers arrived)."""
        self.account = account
        self.upstream_headers = time.monotonic()

    def failed(self, err: GatewayError) -> None:
        """``err`` is what the client gets: noted here, and it names this request.

        Why here: every error a client sees (a response, an in-band stream
        error, a relayed stream's error event) is rendered after this call,
        so the protocol's body can carry the id (``errors.request_id``).
        """
        self.error_kind = err.kind.value
        err.request_id = self.request_id

    def end(self, ending: Ending) -> None:
        """Say how the answer ended; the first word counts (a cut beats complete)."""
        if self.ending is None:
            self.ending = ending

    def duration(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def ttfb(self) -> float | None:
        return None if self.first_byte is None else self.first_byte - self.started

    def finish(self) -> None:
        """Close the record and run the ``on_finish`` hooks; only the first call
        counts."""
        if self.ended is not None:
            return
        self.ended = time.monotonic()
        if self.ending is None:
            self.ending = Ending.COMPLETE
        for hook in [*self.on_finish, *FINISH_HOOKS]:
            try:
                hook(self)
            except Exception:
                log.exception("on_finish hook failed [%s]", self.request_id)


def exchange_of(environ: MutableMapping[str, Any]) -> Exchange:
    """The request's ``Exchange``; one is made when no wrapper made it (tests that
    call a handler directly), and then nobody finishes it."""
    found = environ.get(ENVIRON_KEY)
    if isinstance(found, Exchange):
        return found
    exchange = Exchange(request_id_from(environ))
    environ[ENVIRON_KEY] = exchange
    return exchange
