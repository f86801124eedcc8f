"""MCP endpoints: the z.ai reverse proxies and the built-in vision server.

Thin glue. ``web_search_prime`` and ``web_reader`` relay any method to z.ai's
hosted MCP servers (``upstream/zai.py``); ``zai_mcp_server`` is the built-in
vision server (``antigravity_proxy/mcp``). Each endpoint answers 404 while it is
disabled in the config (``zai.mcp.enabled`` and its own flag) and 400 while
z.ai has no key, both as JSON-RPC error bodies (``protocols/mcp/errors.py``).
z.ai's own error answers get the request id in ``error.data`` as those do.
"""

from __future__ import annotations

from typing import Final

from werkzeug.wrappers import Request, Response

from antigravity_proxy.config import Config
from antigravity_proxy.errors import InvalidRequest, NotFoundError
from antigravity_proxy.exchange import exchange_of
from antigravity_proxy.mcp.server import VisionServer, check_origin
from antigravity_proxy.mcp.sessions import SessionStore
from antigravity_proxy.passthrough import watched
from antigravity_proxy.services import Services
from antigravity_proxy.streaming import relayed_response
from antigravity_proxy.upstream.zai import Upload
from antigravity_proxy.upstream.zai_errors import rpc_error_with_id

# handler name -> (endpoint name, its own switch under ``zai.mcp``)
ENDPOINTS: Final = {
    "web_search_prime": ("web_search_prime", "web_search_enabled"),
    "web_reader": ("web_reader", "web_reader_enabled"),
    "zai_mcp_server": ("zai-mcp-server", "vision_enabled"),
}


def disabled_reason(config: Config, handler: str) -> str | None:
    """Why the endpoint of ``handler`` (a name above) answers 404, or ``None``."""
    if not config.zai.mcp.enabled:
        return "zai.mcp.enabled is false"
    switch = ENDPOINTS[handler][1]
    if not getattr(config.zai.mcp, switch):
        return f"zai.mcp.{switch} is false"
    return None


def web_search_prime(services: Services, request: Request) -> Response:
    _require(services.config, "web_search_prime")
    return _proxy(services, "web_search_prime", request)


def web_reader(services: Services, request: Request) -> Response:
    _require(services.config, "web_reader")
    return _proxy(services, "web_reader", request)


def zai_mcp_server(services: Services, request: Request) -> Response:
    config = services.config
    _require(config, "zai_mcp_server")
    server = VisionServer(config, SessionStore(services.state), services.zai)
    return server.respond(request)


def _require(config: Config, handler: str) -> None:
    reason = disabled_reason(config, handler)
    if reason:
        name = ENDPOINTS[handler][0]
        raise NotFoundError(
            f"the {name} MCP endpoint is disabled in the config ({reason})"
        )
    if not (config.zai.enabled and config.zai.api_key.strip()):
        raise InvalidRequest("z.ai is not configured: set zai.enabled and zai.api_key")


def _proxy(services: Services, server: str, request: Request) -> Response:
    check_origin(services.config, request)
    length = request.content_length
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    body = Upload(request.stream, length) if length or chunked else None
    exchange = exchange_of(request.environ)
    answer = services.zai.mcp(
        server, request.method, request.headers, body
    ).error_stamped(rpc_error_with_id, exchange.request_id)
    return watched(relayed_response(answer), exchange)
