"""Gateway-internal endpoints: health, Claude Code telemetry sink, warm-up, detect."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from antigravity_proxy import __version__
from antigravity_proxy.errors import NotImplementedYet
from antigravity_proxy.http import json_response
from antigravity_proxy.services import Services

DISCARD_CHUNK = 64 * 1024


def healthz(services: Services, request: Request) -> Response:
    return json_response({"status": "ok", "version": __version__})


def event_logging(services: Services, request: Request) -> Response:
    """Claude Code posts telemetry here; accept it and keep nothing.

    The body is drained in chunks through the size-limited stream, never held
    whole, so a large batch costs no memory.
    """
    stream = request.stream
    while stream.read(DISCARD_CHUNK):
        pass
    return json_response({})


def warmup(services: Services, request: Request) -> Response:
    raise NotImplementedYet("POST /internal/warmup is not implemented yet")


def detect_model(services: Services, request: Request) -> Response:
    raise NotImplementedYet("POST /v1/models/detect is not implemented yet")
