"""OpenAI-protocol endpoints (chat, completions, Responses, images, audio, models).

Not built yet: each answers 501 in OpenAI's error format until its issue lands.
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from antigravity_proxy.errors import NotImplementedYet
from antigravity_proxy.services import Services


def _pending(what: str) -> NotImplementedYet:
    return NotImplementedYet(f"{what} is not implemented yet in this gateway")


def chat_completions(services: Services, request: Request) -> Response:
    raise _pending("POST /v1/chat/completions")


def completions(services: Services, request: Request) -> Response:
    raise _pending("POST /v1/completions")


def responses(services: Services, request: Request) -> Response:
    raise _pending("POST /v1/responses")


def responses_websocket(services: Services, request: Request) -> Response:
    raise _pending("GET /v1/responses")


def image_generations(services: Services, request: Request) -> Response:
    raise _pending("POST /v1/images/generations")


def image_edits(services: Services, request: Request) -> Response:
    raise _pending("POST /v1/images/edits")


def audio_transcriptions(services: Services, request: Request) -> Response:
    raise _pending("POST /v1/audio/transcriptions")
