"""CORS for browser clients: preflights answered here, ``Allow-Origin`` everywhere.

A preflight (any ``OPTIONS``) never reaches auth: browsers send it without
credentials, and it reveals nothing. The gateway is an API, not a site, so every
origin is allowed, as the reference does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ALLOW_METHODS: Final = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
EXPOSE_HEADERS: Final = "Retry-After, Mcp-Session-Id, X-Request-Id"
MAX_AGE: Final = "3600"


class CorsMiddleware:
    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "OPTIONS":
            return self._preflight(environ, start_response)

        def start_with_cors(status, headers, exc_info=None):  # type: ignore[no-untyped-def]
            headers = [*headers, ("Access-Control-Allow-Origin", "*")]
            headers.append(("Access-Control-Expose-Headers", EXPOSE_HEADERS))
            return start_response(status, headers, exc_info)

        return self.app(environ, start_with_cors)

    def _preflight(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        requested = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "*")
        start_response(
            "204 No Content",
            [
                ("Access-Control-Allow-Origin", "*"),
                ("Access-Control-Allow-Methods", ALLOW_METHODS),
                ("Access-Control-Allow-Headers", requested or "*"),
                ("Access-Control-Max-Age", MAX_AGE),
                ("Content-Length", "0"),
            ],
        )
        return [b""]
