"""The model list in Anthropic's shape, with Anthropic's cursor pagination.

``GET /v1/models/claude`` answers with it, and so does ``GET /v1/models`` for an
Anthropic caller (the official SDK's ``models.list()`` calls that path and reads
``display_name``/``created_at``, which OpenAI's shape lacks). A page is
``{"data", "has_more", "first_id", "last_id"}``; ``limit`` (1-1000, default 20),
``after_id`` and ``before_id`` work as in Anthropic's API, over the ids sorted.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any, Final

from werkzeug.wrappers import Request

from antigravity_proxy.errors import InvalidRequest

CREATED_AT: Final = "2024-02-01T00:00:00Z"
DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 1000
VERSION_PART_DIGITS: Final = 2


def is_anthropic_caller(request: Request) -> bool:
    """The Anthropic SDKs (and Claude Code) send ``anthropic-version`` on every call."""
    return "anthropic-version" in request.headers


def model_page(ids: Sequence[str], args: Mapping[str, str]) -> dict[str, Any]:
    """One page of ``ids`` (sorted) as Anthropic's list object."""
    ordered = sorted(ids)
    limit = _limit(args.get("limit"))
    before, after = args.get("before_id"), args.get("after_id")
    if before:
        end = bisect.bisect_left(ordered, before)
        start = max(0, end - limit)
        more = start > 0
    else:
        start = bisect.bisect_right(ordered, after) if after else 0
        end = min(len(ordered), start + limit)
        more = end < len(ordered)
    page = ordered[start:end]
    return {
        "data": [model_object(model_id) for model_id in page],
        "has_more": more,
        "first_id": page[0] if page else None,
        "last_id": page[-1] if page else None,
    }


def model_object(model_id: str) -> dict[str, Any]:
    """``lifecycle`` is sent because the current SDK's ``ModelInfo`` requires it."""
    return {
        "type": "model",
        "id": model_id,
        "display_name": display_name(model_id),
        "created_at": CREATED_AT,
        "lifecycle": "active",
    }


def display_name(model_id: str) -> str:
    """``claude-opus-4-6-thinking`` -> ``Claude Opus 4.6 Thinking``."""
    words: list[str] = []
    for token in model_id.split("-"):
        short_number = token.isdigit() and len(token) <= VERSION_PART_DIGITS
        if short_number and words and words[-1].replace(".", "").isdigit():
            words[-1] = f"{words[-1]}.{token}"
        else:
            words.append(token[:1].upper() + token[1:])
    return " ".join(words)


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidRequest(
            f"limit: Input should be an integer between 1 and {MAX_LIMIT}",
            param="limit",
        )
    return int(raw)
