"""The WSGI dispatcher: a Werkzeug ``Map`` built from the route table.

It owns the second of the three error seams: a ``GatewayError``, a routing miss
(404/405) or an unexpected exception (logged with its traceback) becomes the error
body of the matched route's protocol, or of the path prefix when nothing matched.
Nothing here knows a protocol's body format; ``protocols/<p>/errors.py`` does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

from werkzeug.exceptions import (
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
)
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.wrappers import Request, Response

from antigravity_proxy import errors
from antigravity_proxy.exchange import Exchange, exchange_of
from antigravity_proxy.http import GatewayRequest, json_response, sized_body
from antigravity_proxy.protocols.anthropic import errors as anthropic_errors
from antigravity_proxy.protocols.gemini import errors as gemini_errors
from antigravity_proxy.protocols.mcp import errors as mcp_errors
from antigravity_proxy.protocols.openai import errors as openai_errors
from antigravity_proxy.routing import Handler, Route
from antigravity_proxy.services import Services

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

ERROR_MODULES: Final[Mapping[str, ModuleType]] = {
    "openai": openai_errors,
    "anthropic": anthropic_errors,
    "gemini": gemini_errors,
    "mcp": mcp_errors,
    "internal": openai_errors,
}
MATCH_KEY: Final = "antigravity_proxy.match"
GEMINI_CLIENT_HEADERS: Final = ("HTTP_X_GOOG_API_KEY", "HTTP_X_GOOG_API_CLIENT")


class MatchingRule(Rule):
    """A Werkzeug ``Rule`` whose URL builders are compiled on first use.

    Why: Werkzeug compiles two URL builders per rule (Python source, parsed and
    compiled) when the map is built, about 35 ms of each worker's start-up for
    the 32 routes on the 2-core build box. The gateway matches URLs and never
    builds one, so the builders are compiled only if a URL is built.
    """

    def _compile_builder(
        self, append_unknown: bool = True
    ) -> Callable[..., tuple[str, str]]:
        compiled: list[Callable[..., tuple[str, str]]] = []

        def build(rule: Rule, *args: Any, **kwargs: Any) -> tuple[str, str]:
            if not compiled:
                compiled.append(Rule._compile_builder(rule, append_unknown))
            return compiled[0](rule, *args, **kwargs)

        return build


@dataclass(frozen=True, slots=True)
class Match:
    """The routing decision for one request, shared by auth and dispatch."""

    route: Route | None
    args: Mapping[str, Any]
    error: errors.GatewayError | None
    allowed: tuple[str, ...] = ()


def is_gemini_caller(environ: WSGIEnvironment) -> bool:
    """Gemini SDKs and CLIs identify themselves by their key or client header."""
    if any(environ.get(name) for name in GEMINI_CLIENT_HEADERS):
        return True
    query = environ.get("QUERY_STRING", "")
    return "key=" in query and any(n == "key" for n, _ in parse_qsl(query))


def protocol_for_path(path: str, environ: WSGIEnvironment) -> str:
    """The protocol whose error format a path uses when no route matched it."""
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path == "/v1beta" or path.startswith("/v1beta/"):
        return "gemini"
    if path.startswith("/mcp/"):
        return "mcp"
    if path.startswith("/v1/models") and is_gemini_caller(environ):
        return "gemini"
    return "openai"


def error_response(
    err: errors.GatewayError, protocol: str, exchange: Exchange
) -> Response:
    """``err`` as ``protocol``'s error body; noted in the request's ``exchange``
    (which puts the request id in the body)."""
    exchange.failed(err)
    module = ERROR_MODULES[protocol]
    headers = dict(err.response_headers)
    if err.retry_after is not None:
        headers["Retry-After"] = str(err.retry_after)
    if err.should_retry is not None:
        headers["x-should-retry"] = "true" if err.should_retry else "false"
    return json_response(module.error_body(err), module.error_status(err), headers)


class Gateway:
    """Dispatch to the handler of the matched route; render every failure."""

    def __init__(
        self,
        routes: Sequence[Route],
        handlers: Mapping[str, Handler],
        services: Services,
    ) -> None:
        self.routes = [r for r in routes if r.enabled]
        self.handlers = handlers
        self.services = services
        self.max_body = services.config.proxy.max_body_bytes
        self.url_map = Map(
            [MatchingRule(r.path, methods=r.methods, endpoint=r) for r in self.routes],
            merge_slashes=False,
        )

    def match(self, environ: WSGIEnvironment) -> Match:
        """Route once per request; the result is cached in the environ."""
        cached = environ.get(MATCH_KEY)
        if isinstance(cached, Match):
            return cached
        result = self._match(environ)
        environ[MATCH_KEY] = result
        return result

    def protocol_of(self, match: Match, environ: WSGIEnvironment) -> str:
        if match.route is None:
            return protocol_for_path(environ.get("PATH_INFO", "/"), environ)
        route = match.route
        if route.protocol == "openai" and route.path.startswith("/v1/models"):
            if is_gemini_caller(environ):
                return "gemini"
            if environ.get("HTTP_ANTHROPIC_VERSION"):
                return "anthropic"
        return route.protocol

    def protocol_for_target(self, method: str, path: str) -> str:
        """The protocol of the route ``method path`` names, headers unknown.

        Why: a request the server refused while reading its headers is still
        answered in the error format of the route its request line named.
        """
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "gateway",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
        }
        return self.protocol_of(self._match(environ), environ)

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        match = self.match(environ)
        response = self._respond(match, environ)
        return response(environ, start_response)

    def _match(self, environ: WSGIEnvironment) -> Match:
        adapter = self.url_map.bind_to_environ(environ)
        # No route is a WebSocket rule; an `Upgrade: websocket` request must still
        # reach its HTTP handler (GET /v1/responses answers 426 so Codex falls
        # back to HTTP) instead of Werkzeug's WebSocket mismatch error.
        adapter.websocket = False
        try:
            route, args = adapter.match()
        except MethodNotAllowed as exc:
            methods = tuple(exc.valid_methods or ())
            err = errors.MethodNotAllowed(
                f"method {environ.get('REQUEST_METHOD')} is not allowed here; "
                f"allowed: {', '.join(methods)}"
            )
            return Match(None, {}, err, methods)
        except (NotFound, RequestRedirect):
            path = environ.get("PATH_INFO", "/")
            return Match(None, {}, errors.NotFoundError(f"no route for {path}"))
        return Match(route, args, None)

    def _respond(self, match: Match, environ: WSGIEnvironment) -> Response:
        protocol = self.protocol_of(match, environ)
        exchange = exchange_of(environ)
        exchange.protocol = protocol
        if match.route is None:
            assert match.error is not None
            response = error_response(match.error, protocol, exchange)
            if match.allowed:
                response.headers["Allow"] = ", ".join(match.allowed)
            return response
        declared = _declared_length(environ)
        if declared is not None and declared > self.max_body:
            too_large = errors.RequestTooLarge(
                f"request body of {declared} bytes exceeds the limit of {self.max_body}"
            )
            return _closing(error_response(too_large, protocol, exchange))
        try:
            spool = sized_body(environ, self.max_body)
        except (errors.RequestTooLarge, errors.InvalidRequest) as err:
            return _closing(error_response(err, protocol, exchange))
        exchange.route = match.route.handler
        try:
            return self._call_handler(match, environ, protocol, exchange)
        finally:
            # Handlers have read the whole body (or forwarded it) on return.
            if spool is not None:
                spool.close()

    def _call_handler(
        self,
        match: Match,
        environ: WSGIEnvironment,
        protocol: str,
        exchange: Exchange,
    ) -> Response:
        request = GatewayRequest(environ)
        request.max_content_length = self.max_body
        response = self._handled(match, request, protocol, exchange)
        # Multipart uploads spill to temporary files; release them once the
        # response (possibly a stream, possibly an error) is done.
        response.call_on_close(request.close)
        return response

    def _handled(
        self, match: Match, request: Request, protocol: str, exchange: Exchange
    ) -> Response:
        assert match.route is not None
        try:
            handler = self.handlers[match.route.handler]
            response: Response = handler(self.services, request, **match.args)
            return response
        except errors.GatewayError as err:
            return error_response(err, protocol, exchange)
        except RequestEntityTooLarge:
            too_large = errors.RequestTooLarge(
                "request body exceeds the gateway's limit"
            )
            return _closing(error_response(too_large, protocol, exchange))
        except HTTPException as exc:
            return error_response(_from_werkzeug(exc), protocol, exchange)
        except RecursionError:
            # A body that parsed yet nests deeper than a translator can walk.
            log.warning("request to %s nests too deeply", match.route.handler)
            nested = errors.InvalidRequest("request JSON nests too deeply")
            return error_response(nested, protocol, exchange)
        except Exception:
            log.exception("unhandled error in %s", match.route.handler)
            internal = errors.InternalError("internal gateway error")
            return error_response(internal, protocol, exchange)


def _declared_length(environ: WSGIEnvironment) -> int | None:
    try:
        return int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def _closing(response: Response) -> Response:
    """The unread body makes the connection unusable for another request."""
    response.headers["Connection"] = "close"
    return response


def _from_werkzeug(exc: HTTPException) -> errors.GatewayError:
    kind = errors.KIND_FROM_STATUS.get(exc.code or 500, errors.ErrorKind.INTERNAL)
    return errors.GatewayError(exc.description or exc.name, status=exc.code, kind=kind)
