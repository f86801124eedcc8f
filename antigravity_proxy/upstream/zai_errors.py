"""Our request id in z.ai's error answers, which are otherwise relayed as they came.

Every error body the gateway writes names the request (``Exchange.failed``);
z.ai's own error answers are relayed, so they get the id here, where the
gateway's own errors put it: an Anthropic error object
(``{"type": "error", "error": {...}}``) gets the top-level ``request_id``, a
JSON-RPC error object gets ``error.data.request_id``. An id z.ai put in that
same place is kept as ``upstream_request_id`` when it differs, so that z.ai's
support can still trace the call. Any other body (not JSON, empty, JSON of
another shape) comes back unchanged: the Anthropic relay passes it on as z.ai
sent it, and the MCP relay has already wrapped it in a JSON-RPC error
(``zai._mcp_error``). Pure: bytes and an id in, bytes out; the caller decides
which answers are errors (never a 2xx, never a stream).
"""

from __future__ import annotations

from typing import Any

from antigravity_proxy import json_codec


def anthropic_error_with_id(content: bytes, request_id: str) -> bytes:
    """``content`` with ``request_id`` beside the error, if it is Anthropic's error."""
    parsed = _json_object(content)
    if parsed is None or not _is_anthropic_error(parsed):
        return content
    return json_codec.dumps(_with_id(parsed, request_id))


def rpc_error_with_id(content: bytes, request_id: str) -> bytes:
    """``content`` with ``request_id`` in ``error.data``, if it is a JSON-RPC error.

    Why ``upstream_data``: JSON-RPC lets ``data`` be any value; one that is not
    an object has no room for the id, so it moves one level down.
    """
    parsed = _json_object(content)
    if parsed is None or not is_rpc_error_object(parsed):
        return content
    error = parsed["error"]
    data = error.get("data")
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        data = {"upstream_data": data}
    stamped = {**error, "data": _with_id(data, request_id)}
    return json_codec.dumps({**parsed, "error": stamped})


def is_rpc_error(content: bytes) -> bool:
    """``content`` is a JSON-RPC 2.0 error object."""
    parsed = _json_object(content)
    return parsed is not None and is_rpc_error_object(parsed)


def is_rpc_error_object(parsed: dict[str, Any]) -> bool:
    return parsed.get("jsonrpc") == "2.0" and isinstance(parsed.get("error"), dict)


def _is_anthropic_error(parsed: dict[str, Any]) -> bool:
    return parsed.get("type") == "error" and isinstance(parsed.get("error"), dict)


def _with_id(holder: dict[str, Any], request_id: str) -> dict[str, Any]:
    """``holder`` with our ``request_id``; a different one already there is kept."""
    theirs = holder.get("request_id")
    stamped = {**holder, "request_id": request_id}
    if theirs is not None and theirs != request_id:
        stamped["upstream_request_id"] = theirs
    return stamped


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        parsed = json_codec.loads(content)
    except json_codec.JsonError:
        return None
    return parsed if isinstance(parsed, dict) else None
