"""Model listings (OpenAI and Gemini shapes).

Not built yet: each answers 501 until the upstream/account pool issue lands.
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from antigravity_proxy.errors import NotImplementedYet
from antigravity_proxy.services import Services


def list_models(services: Services, request: Request) -> Response:
    raise NotImplementedYet("model listing is not implemented yet in this gateway")


def get_model(services: Services, request: Request, model: str) -> Response:
    raise NotImplementedYet("model lookup is not implemented yet in this gateway")
