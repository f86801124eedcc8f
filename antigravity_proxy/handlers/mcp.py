"""MCP endpoints (z.ai reverse proxies and the built-in vision server).

Not built yet: each answers 501 as a JSON-RPC error until its issue lands.
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from antigravity_proxy.errors import NotImplementedYet
from antigravity_proxy.services import Services


def web_search_prime(services: Services, request: Request) -> Response:
    raise NotImplementedYet("the web_search_prime MCP endpoint is not implemented yet")


def web_reader(services: Services, request: Request) -> Response:
    raise NotImplementedYet("the web_reader MCP endpoint is not implemented yet")


def zai_mcp_server(services: Services, request: Request) -> Response:
    raise NotImplementedYet("the zai-mcp-server MCP endpoint is not implemented yet")
