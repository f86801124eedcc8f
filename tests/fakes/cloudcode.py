"""Loopback fake of Google OAuth plus the Cloud Code ``v1internal`` API.

``FakeCloudCode`` is a WSGI app answering ``POST /token``, ``GET /userinfo`` and
``POST <prefix>:<method>`` for loadCodeAssist, fetchAvailableModels,
generateContent, streamGenerateContent (SSE, one flushed chunk per event) and
countTokens, for accounts added with ``add_account``; ``serve(app)`` runs it on
``127.0.0.1`` in a daemon thread.  A Cloud Code call is answered in this order: a
prefix registered with an ``always`` fault answers it; then the bearer must be a
valid access token (401 UNAUTHENTICATED); the body is checked (400
INVALID_ARGUMENT); then the first matching scripted step is consumed; then a
generation call on a model whose remaining fraction is 0 gets ``quota_exhausted``;
otherwise the deterministic default answer (``cloudcode_replies``).  Every request
is recorded before it is answered; every SSE stream logs when each event was
written (``time.monotonic``, taken after the server's write and flush returned)
and how it ended: ``complete``, ``cut`` or ``aborted`` (the client went away).
"""

from __future__ import annotations

import datetime
import enum
import itertools
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tests.fakes.cloudcode_bodies import (
    CHECKS,
    GENERATION_METHODS,
    available_models,
    load_code_assist,
)
from tests.fakes.cloudcode_oauth import FakeAccount, TokenBook, token_endpoint, userinfo
from tests.fakes.cloudcode_replies import ReplyMeta, count_tokens, default_reply
from tests.fakes.cloudcode_steps import (
    CutStream,
    Fault,
    Reply,
    Step,
    Stream,
    bad_request,
    capacity_exhausted,
    forbidden,
    google_error,
    not_found,
    quota_exhausted,
    rate_limited,
    server_error,
    unauthenticated,
    unavailable,
)
from tests.fakes.cloudcode_wire import (
    StreamLog,
    fault_response,
    json_response,
    sse_body,
    sse_plan,
    unary_response,
)

# A 1x1 transparent PNG, what an image model's default answer carries.
PNG_B64: Final = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
IMAGE_REPLY: Final = Reply([{"inlineData": {"mimeType": "image/png", "data": PNG_B64}}])

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

DEFAULT_MODELS: Final[Mapping[str, float]] = {
    "gemini-3-flash": 0.8,
    "gemini-3-pro-high": 1.0,
    "claude-sonnet-4-6-thinking": 1.0,
}


class Auto(enum.Enum):
    """Sentinel for "derive this value" (project ``proj-<n>``)."""

    VALUE = "auto"


@dataclass(frozen=True)
class Recorded:
    """One request as received; header names are lower-cased."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    form: dict[str, str]
    account_email: str | None
    at: float
    peer_port: int = 0  # the client's port: tells calls via a proxy (fakes/egress)


@dataclass(frozen=True)
class _Scripted:
    step: Step
    account: str | None
    model: str | None
    method: str | None

    def matches(self, method: str, email: str, model: str | None) -> bool:
        methods = GENERATION_METHODS if self.method is None else {self.method}
        wanted = method in methods and self.account in (None, email)
        return wanted and self.model in (None, model)


@dataclass(frozen=True)
class _Call:
    method: str
    body: Any
    account: FakeAccount
    step: Step | None
    environ: WSGIEnvironment


class FakeCloudCode:
    """Scriptable fake upstream; see the module docstring for the answer order.

    :param prefixes: Cloud Code path prefixes served (``<base><prefix>:<method>``).
    :param expires_in: access token lifetime in seconds.
    :param clients: accepted OAuth ``client_id -> client_secret``; None accepts any
        non-empty pair.
    :param strict_models: answer 404 for a model the account does not list.
    :param draws_images: image models (``-image`` in the id) answer with a PNG
        by default, as the real ones do; off, they echo text like any model.
    """

    def __init__(
        self,
        *,
        prefixes: Sequence[str] = ("/v1internal",),
        expires_in: int = 3599,
        clients: Mapping[str, str] | None = None,
        strict_models: bool = False,
        draws_images: bool = False,
    ) -> None:
        self.book = TokenBook(expires_in)
        self.clients = clients
        self.strict_models = strict_models
        self.draws_images = draws_images
        self._prefixes: dict[str, Fault | None] = dict.fromkeys(prefixes)
        self._lock = threading.Lock()
        self._records: list[Recorded] = []
        self._scripts: list[_Scripted] = []
        self._streams: list[StreamLog] = []
        self._serial = itertools.count(1)
        self._account_count = 0

    def add_account(
        self,
        refresh_token: str,
        *,
        email: str,
        project: str | None | Auto = Auto.VALUE,
        tier: str | None = "Google AI Pro",
        models: Mapping[str, float] | None = None,
        rotate_refresh: bool = False,
        refresh_delay: float = 0.0,
    ) -> FakeAccount:
        """Register an account; ``project`` defaults to ``proj-<n>``."""
        with self._lock:
            self._account_count += 1
            number = self._account_count
        chosen = f"proj-{number}" if isinstance(project, Auto) else project
        account = FakeAccount(
            refresh_token,
            email,
            chosen,
            tier,
            dict(DEFAULT_MODELS if models is None else models),
            rotate_refresh,
            refresh_delay,
        )
        self.book.add(account)
        return account

    def revoke(self, refresh_token: str) -> None:
        """Make a refresh token (and its account's access tokens) invalid."""
        self.book.revoke(refresh_token)

    def issue_auth_code(self, refresh_token: str) -> str:
        """Create a one-time authorization code for the account."""
        return self.book.issue_auth_code(refresh_token)

    def refresh_count(self, refresh_token: str) -> int:
        """Count refresh_token grants that used this refresh token."""
        return self.book.refresh_count(refresh_token)

    def expire_access_tokens(self) -> None:
        """Expire every access token issued so far."""
        self.book.expire_all()

    def add_prefix(self, prefix: str, always: Fault | None = None) -> None:
        """Serve another prefix, optionally answering ``always`` to every call."""
        with self._lock:
            self._prefixes[prefix] = always

    def script(
        self,
        *steps: Step,
        account: str | None = None,
        model: str | None = None,
        method: str | None = None,
    ) -> None:
        """Queue steps for the next matching calls.

        By default steps answer generation calls (stream or not); ``method`` names
        another Cloud Code method (such as ``fetchAvailableModels``), which only
        takes ``Fault`` steps.  ``account`` is an e-mail, ``model`` the envelope's.
        """
        if method is not None and method not in GENERATION_METHODS:
            if not all(isinstance(step, Fault) for step in steps):
                raise ValueError(f"{method} can only be scripted with Fault steps")
        with self._lock:
            self._scripts += [_Scripted(s, account, model, method) for s in steps]

    def reset(self) -> None:
        """Forget scripts, recorded requests and stream logs (not accounts)."""
        with self._lock:
            self._scripts.clear()
            self._records.clear()
            self._streams.clear()

    @property
    def requests(self) -> list[Recorded]:
        """Return a snapshot of every recorded request, oldest first."""
        with self._lock:
            return list(self._records)

    def calls(self, path_suffix: str) -> list[Recorded]:
        """Return recorded requests whose path ends with ``path_suffix``."""
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    @property
    def sent_times(self) -> list[list[float]]:
        """Return, per SSE stream, the monotonic time each event was written."""
        with self._lock:
            return [list(log.times) for log in self._streams]

    @property
    def stream_outcomes(self) -> list[str]:
        """Return, per SSE stream: ``open``, ``complete``, ``cut`` or ``aborted``."""
        with self._lock:
            return [log.outcome for log in self._streams]

    @property
    def stream_closed_at(self) -> list[float | None]:
        """Return, per SSE stream, when the gateway closed it during a pause."""
        with self._lock:
            return [log.closed_at for log in self._streams]

    @property
    def pending_scripts(self) -> int:
        """Return how many scripted steps are still queued."""
        with self._lock:
            return len(self._scripts)

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        request = Request(environ)
        self._record(request)
        return self._dispatch(request)(environ, start_response)

    def _record(self, request: Request) -> None:
        form = request.form.to_dict()
        body = request.get_json(force=True, silent=True)
        email = self.book.email_for(_bearer(request))
        if email is None and "refresh_token" in form:
            email = self.book.email_for_refresh(form["refresh_token"])
        headers = {k.lower(): v for k, v in request.headers.items()}
        recorded = Recorded(
            request.method,
            request.path,
            request.args.to_dict(),
            headers,
            body,
            form,
            email,
            time.monotonic(),
            int(request.environ.get("REMOTE_PORT") or 0),
        )
        with self._lock:
            self._records.append(recorded)

    def _dispatch(self, request: Request) -> Response:
        if request.path == "/token" and request.method == "POST":
            status, body = token_endpoint(self.book, request.form, self.clients)
            return json_response(status, body)
        if request.path == "/userinfo":
            account = self.book.account_for(_bearer(request))
            if account is None:
                return fault_response(unauthenticated())
            return json_response(200, userinfo(account))
        prefix, _, method = request.path.rpartition(":")
        with self._lock:
            known, always = prefix in self._prefixes, self._prefixes.get(prefix)
        if not known or method not in CHECKS or request.method != "POST":
            return fault_response(not_found())
        if always is not None:
            return fault_response(always)
        return self._cloudcode(request, method)

    def _cloudcode(self, request: Request, method: str) -> Response:
        account = self.book.account_for(_bearer(request))
        if account is None:
            return fault_response(unauthenticated())
        body: Any = request.get_json(force=True, silent=True)
        problem = CHECKS[method](body)
        if problem is not None:
            return fault_response(bad_request(problem))
        model = body.get("model") if method in GENERATION_METHODS else None
        step = self._take_step(method, account.email, model)
        call = _Call(method, body, account, step, request.environ)
        if method in GENERATION_METHODS:
            return self._generation(call)
        if isinstance(step, Fault):
            return fault_response(step)
        return json_response(200, _plain_answer(call))

    def _take_step(self, method: str, email: str, model: str | None) -> Step | None:
        with self._lock:
            for index, scripted in enumerate(self._scripts):
                if scripted.matches(method, email, model):
                    return self._scripts.pop(index).step
        return None

    def _generation(self, call: _Call) -> Response:
        model = call.body["model"]
        if self.strict_models and model not in call.account.models:
            return fault_response(not_found())
        step = call.step
        if step is None and call.account.models.get(model) == 0:
            step = quota_exhausted(model=model)
        if isinstance(step, Fault):
            return fault_response(step)
        number = next(self._serial)
        meta = ReplyMeta(model, f"resp-{number}", f"trace-{number}")
        request = call.body["request"]
        if step is None and self.draws_images and "-image" in model:
            step = IMAGE_REPLY
        chosen = default_reply(request) if step is None else step
        if call.method == "streamGenerateContent":
            return self._sse_response(chosen, request, meta, call.environ)
        return unary_response(chosen, request, meta, call.environ)

    def _sse_response(
        self,
        step: Reply | Stream | CutStream,
        request: Mapping[str, Any],
        meta: ReplyMeta,
        environ: WSGIEnvironment,
    ) -> Response:
        log = StreamLog()
        with self._lock:
            self._streams.append(log)
        body = sse_body(sse_plan(step, request, meta, environ), log)
        headers = {
            "Cache-Control": "no-cache",
            "x-cloudaicompanion-trace-id": meta.trace_id,
        }
        return Response(body, mimetype="text/event-stream", headers=headers)


def _plain_answer(call: _Call) -> dict[str, Any]:
    if call.method == "countTokens":
        return {"totalTokens": count_tokens(call.body["request"])}
    if call.method == "loadCodeAssist":
        return load_code_assist(call.account)
    return available_models(call.account, datetime.datetime.now(datetime.UTC))


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class QuietHandler(WSGIRequestHandler):
    """Request handler speaking HTTP/1.1 (chunked streams) without access logs."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Skip the per-request access log line."""


@contextmanager
def serve(app: WSGIApplication) -> Iterator[str]:
    """Serve ``app`` on an ephemeral loopback port; yield its base URL."""
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


__all__ = [
    "Auto",
    "CutStream",
    "FakeAccount",
    "FakeCloudCode",
    "Fault",
    "Recorded",
    "Reply",
    "Stream",
    "bad_request",
    "capacity_exhausted",
    "forbidden",
    "google_error",
    "not_found",
    "quota_exhausted",
    "rate_limited",
    "serve",
    "server_error",
    "unauthenticated",
    "unavailable",
]
