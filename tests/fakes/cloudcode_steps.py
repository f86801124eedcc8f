"""Scripted steps for the fake Cloud Code upstream: what one call answers.

A test queues steps with ``FakeCloudCode.script(...)``; each generation call pops
the first matching one.  ``Fault`` is any fixed JSON answer (usually a Google RPC
error, built by the constructors below, which mirror the bodies the real
``v1internal`` API sends); ``Reply`` is a finished answer made of parts;
``Stream`` is an explicit list of inner ``GenerateContentResponse`` chunks sent
``delay`` seconds apart; ``CutStream`` sends ``after`` chunks and then drops the
TCP connection without terminating the chunked body.  ``bytes`` chunks in a
``Stream`` are written verbatim, for malformed SSE or ``: ping`` heartbeats.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

TYPE_PREFIX = "type.googleapis.com/google.rpc."
DURATION_PART = re.compile(r"([\d.]+)(ms|h|m|s)")
UNIT_SECONDS: Mapping[str, float] = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}

Chunk: TypeAlias = Mapping[str, Any] | bytes


@dataclass(frozen=True)
class Fault:
    """A fixed JSON answer: ``status``, ``body_json`` and extra ``headers``."""

    status: int
    body_json: Any
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """A complete answer; streamed as one chunk per part, the last one finishing.

    ``usage`` of None means computed from the request and the parts (see
    ``cloudcode_replies.usage_for``).
    """

    parts: Sequence[Mapping[str, Any]]
    finish_reason: str = "STOP"
    usage: Mapping[str, int] | None = None


@dataclass(frozen=True)
class Stream:
    """Explicit chunks, wrapped as ``{"response": chunk}``, ``delay`` s apart."""

    chunks: Sequence[Chunk]
    delay: float = 0.0
    initial_delay: float = 0.0


@dataclass(frozen=True)
class CutStream:
    """Send ``chunks[:after]`` then break the connection mid-body."""

    chunks: Sequence[Chunk]
    after: int
    delay: float = 0.0


Step: TypeAlias = Fault | Reply | Stream | CutStream


def google_error(
    code: int, status: str, message: str, details: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """Build a Google RPC error body ``{"error": {code, message, status, ...}}``."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = [dict(d) for d in details]
    return {"error": error}


def error_info(reason: str, metadata: Mapping[str, str]) -> dict[str, Any]:
    """Build a ``google.rpc.ErrorInfo`` detail."""
    return {
        "@type": TYPE_PREFIX + "ErrorInfo",
        "reason": reason,
        "domain": "cloudcode-pa.googleapis.com",
        "metadata": dict(metadata),
    }


def duration_seconds(text: str) -> float:
    """Parse a Go-style duration such as ``1h2m3.5s`` or ``510ms`` into seconds."""
    parts = DURATION_PART.findall(text)
    if not parts:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(number) * UNIT_SECONDS[unit] for number, unit in parts)


def proto_duration(seconds: float) -> str:
    """Render seconds the way protobuf JSON renders a Duration (``"42s"``)."""
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"


def quota_exhausted(reset_delay: str = "42s", model: str = "gemini-3-flash") -> Fault:
    """429 RESOURCE_EXHAUSTED, reason QUOTA_EXHAUSTED, with quotaResetDelay.

    The real API puts ErrorInfo first (the Rust client reads ``details[0]``) and
    adds a RetryInfo with the same delay as a protobuf Duration.
    """
    info = error_info(
        "QUOTA_EXHAUSTED", {"quotaResetDelay": reset_delay, "model": model}
    )
    retry = {
        "@type": TYPE_PREFIX + "RetryInfo",
        "retryDelay": proto_duration(duration_seconds(reset_delay)),
    }
    message = (
        "You have exhausted your capacity on this model. "
        f"Your quota will reset after {reset_delay}."
    )
    return Fault(429, google_error(429, "RESOURCE_EXHAUSTED", message, [info, retry]))


def rate_limited(retry_after: int | None = None) -> Fault:
    """429 RESOURCE_EXHAUSTED, reason RATE_LIMIT_EXCEEDED (optional Retry-After)."""
    info = error_info("RATE_LIMIT_EXCEEDED", {})
    body = google_error(
        429,
        "RESOURCE_EXHAUSTED",
        "Resource has been exhausted (e.g. check quota).",
        [info],
    )
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return Fault(429, body, headers)


def capacity_exhausted(model: str = "gemini-3-flash") -> Fault:
    """429 RESOURCE_EXHAUSTED, reason MODEL_CAPACITY_EXHAUSTED."""
    info = error_info("MODEL_CAPACITY_EXHAUSTED", {"model": model})
    message = f"No capacity available for model {model} on the server"
    return Fault(429, google_error(429, "RESOURCE_EXHAUSTED", message, [info]))


def forbidden(validation_url: str | None = None) -> Fault:
    """403 PERMISSION_DENIED; with ``validation_url``, a VALIDATION_REQUIRED one."""
    if validation_url is None:
        message = "The caller does not have permission"
        return Fault(403, google_error(403, "PERMISSION_DENIED", message))
    info = error_info("VALIDATION_REQUIRED", {"validation_url": validation_url})
    message = f"Please verify your account to continue: {validation_url}"
    return Fault(403, google_error(403, "PERMISSION_DENIED", message, [info]))


def unauthenticated() -> Fault:
    """401 UNAUTHENTICATED, as sent for a missing, unknown or expired token."""
    message = (
        "Request had invalid authentication credentials. Expected OAuth 2 access "
        "token, login cookie or other valid authentication credential."
    )
    return Fault(401, google_error(401, "UNAUTHENTICATED", message))


def bad_request(message: str) -> Fault:
    """400 INVALID_ARGUMENT with ``message``."""
    return Fault(400, google_error(400, "INVALID_ARGUMENT", message))


def unavailable() -> Fault:
    """503 UNAVAILABLE."""
    message = "The service is currently unavailable."
    return Fault(503, google_error(503, "UNAVAILABLE", message))


def server_error() -> Fault:
    """500 INTERNAL."""
    message = "Internal error encountered."
    return Fault(500, google_error(500, "INTERNAL", message))


def not_found() -> Fault:
    """404 NOT_FOUND."""
    message = "Requested entity was not found."
    return Fault(404, google_error(404, "NOT_FOUND", message))
