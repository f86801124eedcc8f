"""The Cloud Code ``v1internal`` envelope around a Gemini request and response.

Every protocol translator produces a plain Gemini ``GenerateContentRequest``; the
envelope adds what only the chosen account knows (its project, the per-account
``sessionId``) and is applied after account selection. Responses come back wrapped
in ``{"response": {...}}``; ``unwrap_response`` tolerates a bare body too, as the
upstream sometimes sends one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

REQUEST_KEY_ORDER: Final = (
    "systemInstruction",
    "tools",
    "toolConfig",
    "generationConfig",
    "safetySettings",
    "sessionId",
    "contents",
)
ENVELOPE_USER_AGENT: Final = "antigravity"
"""The envelope's ``userAgent``: the desktop client's value, whatever the header."""
FNV_OFFSET: Final = 0xCBF29CE484222325
FNV_PRIME: Final = 0x100000001B3


def wrap_request(
    inner: Mapping[str, Any],
    *,
    project: str,
    model: str,
    request_id: str,
    request_type: str = "agent",
    session_id: str | None = None,
) -> dict[str, Any]:
    """Wrap a Gemini request for ``generateContent``/``streamGenerateContent``.

    Inner keys are put in a stable order (the reference's) so identical prefixes
    serialise identically, which keeps upstream prompt caching effective.
    """
    request = dict(inner)
    if session_id is not None:
        request.setdefault("sessionId", session_id)
    return {
        "project": project,
        "requestId": request_id,
        "request": _ordered(request),
        "model": model,
        "userAgent": ENVELOPE_USER_AGENT,
        "requestType": request_type,
    }


def wrap_count_tokens(inner: Mapping[str, Any]) -> dict[str, Any]:
    """countTokens takes only ``{"request": ...}``: a ``model`` or ``project`` at the
    top level is rejected upstream with 400 ``Unknown name``."""
    request = {k: v for k, v in inner.items() if k != "safetySettings"}
    return {"request": request}


def unwrap_response(body: Any) -> dict[str, Any]:
    """The inner ``GenerateContentResponse`` of an upstream body or SSE event."""
    if isinstance(body, dict):
        inner = body.get("response")
        if isinstance(inner, dict):
            return inner
        return body
    return {}


def account_session_id(account_id: str) -> str:
    """The upstream ``sessionId`` for an account: FNV-1 64 of its id, signed decimal.

    Why: the desktop client sends a stable per-account id; the upstream uses it to
    group requests, so ours must be stable across restarts and workers.
    """
    value = FNV_OFFSET
    for byte in account_id.encode("utf-8"):
        value = (value * FNV_PRIME) % (1 << 64)
        value ^= byte
    if value >= 1 << 63:
        value -= 1 << 64
    return str(value)


def _ordered(request: dict[str, Any]) -> dict[str, Any]:
    head: dict[str, Any] = {k: request[k] for k in REQUEST_KEY_ORDER if k in request}
    tail = {k: v for k, v in request.items() if k not in head}
    return {**head, **tail}
