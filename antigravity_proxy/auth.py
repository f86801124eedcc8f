"""The gateway key check: a WSGI wrapper around the dispatcher.

Modes (``proxy.auth_mode``): ``off`` lets everything through; ``strict`` wants the
key everywhere, ``/healthz`` included; ``all_except_health`` exempts exactly
``GET /healthz``; ``auto`` is ``all_except_health`` whenever the gateway may be
reachable from another machine, else ``off``: `effective_mode` decides that, once,
from where the gateway is bound (``server.host`` after the config file,
``ANTIGRAVITY_PROXY_HOST`` and ``serve --host``) and ``allow_lan_access``, and
says why. Only a loopback bind (``127.0.0.0/8``, ``::1``, ``localhost``) lets
``auto`` go without a key. Under ``auto`` every request also checks the listener it
arrived on (``SERVER_NAME``, which gunicorn sets from the bound socket), so a
``gunicorn -b 0.0.0.0:…`` the config does not know about still needs the key.
The decision uses the *routed* endpoint (the Werkzeug match
the dispatcher will use), never the raw path, so ``//healthz``, ``/healthz/``,
``HEAD /healthz`` or case tricks cannot reach a protected handler without the key.
In every mode, ``GET /`` and ``GET /status`` (the status page's static HTML shell,
which shows nothing until the key is entered) are open.

The key may come in ``Authorization: Bearer``, ``x-api-key``, ``x-goog-api-key``, or
the ``key`` query parameter on Gemini routes; any one carrying an accepted key
passes. Accepted are ``proxy.api_key`` (named ``main``) and every named key of
``proxy.api_keys`` (the `KeyRing`). Comparison is constant-time. A key is never
logged and never forwarded; its *name* is put in the WSGI environ under
`KEY_NAME_ENVIRON` (``antigravity_proxy.key_name``) for the access log and the
usage records, in every auth mode, whenever a presented key is one of ours,
and on the request's ``Exchange`` (``key_name``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl

from antigravity_proxy.apikeys import KeyRing
from antigravity_proxy.app import Gateway, Match, error_response
from antigravity_proxy.config import Config
from antigravity_proxy.errors import AuthError
from antigravity_proxy.exchange import exchange_of

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

HEALTH_HANDLER: Final = "antigravity_proxy.handlers.internal.healthz"
HEALTH_PATH: Final = "/healthz"
KEY_NAME_ENVIRON: Final = "antigravity_proxy.key_name"
"""The environ key holding the name of the key the request authenticated with."""
# The status page's HTML shell holds nothing about the box; its data route
# (``/status/data``) needs the key like every other route.
SHELL_HANDLER: Final = "antigravity_proxy.handlers.status.status_page"
SHELL_PATHS: Final = frozenset({"/", "/status"})
AUTH_MESSAGES: Final = {
    "openai": (
        "Incorrect API key provided. "
        "Pass the gateway key as 'Authorization: Bearer <key>'."
    ),
    "anthropic": "invalid x-api-key",
    "gemini": "API key not valid. Please pass a valid API key.",
}


def effective_mode(config: Config) -> tuple[str, str]:
    """The auth mode in force and why, in words fit for the start-up log.

    ``auto`` needs the key (``all_except_health``) unless the gateway is bound to
    loopback only and ``allow_lan_access`` is off. An explicit mode is kept as
    written; ``off`` on a non-loopback bind says so, loudly.
    """
    host = config.server.host
    exposed = not is_loopback(host)
    where = f"bound to {host}" + (
        ", which is not loopback: reachable from the network" if exposed else ""
    )
    mode = config.proxy.auth_mode
    if mode != "auto":
        reason = f"proxy.auth_mode is {mode}"
        if mode == "off" and exposed:
            reason += f"; {where}, and every route is open without a key"
        return mode, reason
    if exposed:
        return "all_except_health", f"auto: {where}"
    if config.proxy.allow_lan_access:
        return "all_except_health", "auto: proxy.allow_lan_access is true"
    return "off", f"auto: {where} only"


def is_loopback(host: str) -> bool:
    """Whether a bind address only accepts connections from this machine.

    IP literals by their address (IPv4-mapped IPv6 included); ``localhost`` and
    ``*.localhost`` by name (RFC 6761); any other name may resolve anywhere, so
    it counts as exposed, as do ``0.0.0.0`` and ``::`` (every interface).
    """
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class AuthMiddleware:
    """Reject requests without the gateway key, in the route's own error format.

    :param mode: the mode in force (`effective_mode`).
    :param watch_listener: ``auto`` resolved to ``off``: still require the key on a
        request that arrived on a non-loopback listener.
    """

    def __init__(
        self,
        gateway: Gateway,
        keys: KeyRing,
        mode: str,
        *,
        watch_listener: bool = False,
    ) -> None:
        self.gateway = gateway
        self.keys = keys
        self.mode = mode
        self.watch_listener = watch_listener

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        match = self.gateway.match(environ)
        name = self._key_name(match, environ)
        if name is not None:
            environ[KEY_NAME_ENVIRON] = name
            exchange_of(environ).key_name = name
        elif self._requires_key(match, environ):
            protocol = self.gateway.protocol_of(match, environ)
            message = AUTH_MESSAGES.get(protocol, "missing or invalid API key")
            exchange = exchange_of(environ)
            exchange.protocol = protocol
            response = error_response(AuthError(message), protocol, exchange)
            return response(environ, start_response)
        return self.gateway(environ, start_response)

    def _requires_key(self, match: Match, environ: WSGIEnvironment) -> bool:
        if _is_shell(match, environ):
            return False
        if self.mode == "off" and not self._on_exposed_listener(environ):
            return False
        if self.mode == "strict":
            return True
        # Werkzeug ignores leading slashes when matching, so `//healthz` would
        # route to health; only the canonical path is exempt.
        is_health = (
            match.route is not None
            and match.route.handler == HEALTH_HANDLER
            and environ.get("REQUEST_METHOD") == "GET"
            and environ.get("PATH_INFO") == HEALTH_PATH
        )
        return not is_health

    def _on_exposed_listener(self, environ: WSGIEnvironment) -> bool:
        # Only an IP literal counts: some servers fill SERVER_NAME from the Host
        # header, and a name there proves nothing either way.
        if not self.watch_listener:
            return False
        listener = str(environ.get("SERVER_NAME", "")).strip("[]")
        try:
            ipaddress.ip_address(listener)
        except ValueError:
            return False
        return not is_loopback(listener)

    def _key_name(self, match: Match, environ: WSGIEnvironment) -> str | None:
        """The name of the accepted key the request carries, if any."""
        allow_query = match.route is not None and match.route.protocol == "gemini"
        allow_query = (
            allow_query or self.gateway.protocol_of(match, environ) == "gemini"
        )
        return self.keys.identify(_presented_keys(environ, allow_query))


def _is_shell(match: Match, environ: WSGIEnvironment) -> bool:
    """The status page's static shell, at its canonical paths, by GET only."""
    return (
        match.route is not None
        and match.route.handler == SHELL_HANDLER
        and environ.get("REQUEST_METHOD") == "GET"
        and environ.get("PATH_INFO") in SHELL_PATHS
    )


def _presented_keys(environ: WSGIEnvironment, allow_query: bool) -> Iterator[str]:
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        yield token.strip()
    for header in ("HTTP_X_API_KEY", "HTTP_X_GOOG_API_KEY"):
        value = environ.get(header, "").strip()
        if value:
            yield value
    if allow_query:
        for name, value in parse_qsl(environ.get("QUERY_STRING", "")):
            if name == "key" and value:
                yield value
