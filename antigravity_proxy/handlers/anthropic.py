"""Anthropic-protocol endpoints (Messages, count_tokens, model list).

Not built yet: each answers 501 in Anthropic's error format until its issue lands.
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from antigravity_proxy.errors import NotImplementedYet
from antigravity_proxy.services import Services


def messages(services: Services, request: Request) -> Response:
    raise NotImplementedYet("POST /v1/messages is not implemented yet in this gateway")


def count_tokens(services: Services, request: Request) -> Response:
    raise NotImplementedYet("POST /v1/messages/count_tokens is not implemented yet")


def list_models(services: Services, request: Request) -> Response:
    raise NotImplementedYet("GET /v1/models/claude is not implemented yet")
