"""OpenAI-protocol endpoints not built yet: images and audio.

Each answers 501 in OpenAI's error format until its issue lands. Chat and legacy
completions live in ``openai_chat``, the Responses API in ``openai_responses``,
model listings in ``models``.
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from antigravity_proxy.errors import NotImplementedYet
from antigravity_proxy.services import Services


def _pending(what: str) -> NotImplementedYet:
    return NotImplementedYet(f"{what} is not implemented yet in this gateway")


def image_generations(services: Services, request: Request) -> Response:
    raise _pending("POST /v1/images/generations")


def image_edits(services: Services, request: Request) -> Response:
    raise _pending("POST /v1/images/edits")


def audio_transcriptions(services: Services, request: Request) -> Response:
    raise _pending("POST /v1/audio/transcriptions")
