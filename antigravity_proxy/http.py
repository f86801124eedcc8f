"""Request and response bodies: the one place handlers parse and emit JSON.

Reading goes through Werkzeug's limited stream, so a body over
``proxy.max_body_bytes`` fails as 413 before it is read whole, and malformed JSON
is a 400 in the client's protocol rather than a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from antigravity_proxy.errors import InvalidRequest, RequestTooLarge


def read_body(request: Request) -> bytes:
    """The raw body, or ``RequestTooLarge`` past the configured limit."""
    try:
        return request.get_data(cache=True)
    except RequestEntityTooLarge as exc:
        raise RequestTooLarge(
            "request body is larger than the gateway accepts"
        ) from exc


def read_json(request: Request) -> Any:
    """The body parsed as JSON; ``InvalidRequest`` when it is empty or malformed."""
    raw = read_body(request)
    if not raw.strip():
        raise InvalidRequest("request body is empty; expected a JSON object")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from exc


def read_json_object(request: Request) -> dict[str, Any]:
    body = read_json(request)
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_response(
    value: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        dumps(value),
        status=status,
        headers=dict(headers or {}),
        mimetype="application/json",
    )
