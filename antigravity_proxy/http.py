"""Request and response bodies: the one place handlers parse and emit JSON.

Reading goes through Werkzeug's limited stream, so a body over
``proxy.max_body_bytes`` fails as 400/413 in the client's protocol before it is
read whole. Parsing is strict JSON (RFC 8259), as Google's and OpenAI's front ends
are: ``NaN``/``Infinity`` literals, numbers that overflow a double, lone UTF-16
surrogates, invalid UTF-8 and nesting past 1024 levels are all 400s
(``json_codec``), never a 500 or a body that cannot be re-encoded for the
upstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from antigravity_proxy import json_codec
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
    return loads_strict(raw)


def loads_strict(raw: bytes) -> Any:
    """Parse a client's JSON; anything Python accepts but JSON does not is a 400.

    Why strict: ``NaN``, out-of-range numbers and lone surrogates cannot be sent
    on to the upstream, and are not JSON (``json_codec`` says which was found).
    """
    try:
        return json_codec.loads(raw)
    except json_codec.JsonError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from exc


def read_json_object(request: Request) -> dict[str, Any]:
    body = read_json(request)
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


def dumps(value: Any) -> str:
    return json_codec.dumps(value).decode("utf-8")


def json_response(
    value: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json_codec.dumps(value),
        status=status,
        headers=dict(headers or {}),
        mimetype="application/json",
    )
