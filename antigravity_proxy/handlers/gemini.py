"""Gemini-protocol endpoints (generateContent, streamGenerateContent, countTokens).

Not built yet: each answers 501 in Google's error format until its issue lands.
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from antigravity_proxy.errors import NotImplementedYet
from antigravity_proxy.services import Services


def generate(services: Services, request: Request, model: str) -> Response:
    raise NotImplementedYet("Gemini generation is not implemented yet in this gateway")


def count_tokens(services: Services, request: Request, model: str) -> Response:
    raise NotImplementedYet("Gemini countTokens is not implemented yet in this gateway")
