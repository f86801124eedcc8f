"""The Gemini ``models`` resource: ``GET /v1beta/models`` and ``/v1beta/models/{id}``.

The reference answers with a thin stub (``inputTokenLimit`` 128000 for every
model, §8.1); we return the official ``Model`` shape with per-family limits taken
from the upstream model an id resolves to, so SDKs that size their context from
``inputTokenLimit``/``outputTokenLimit`` see real numbers. Paging follows the
official API: ``pageSize`` (default 50, at most 1000) and an opaque
``pageToken``; ``nextPageToken`` is omitted on the last page.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from typing import Any, Final

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.models import (
    is_image_model,
    is_thinking_model,
    max_output_tokens,
    resolve_model,
)

METHODS: Final = ["generateContent", "streamGenerateContent", "countTokens"]
DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 1000
GEMINI_INPUT_LIMIT: Final = 1_048_576
CLAUDE_INPUT_LIMIT: Final = 200_000
IMAGE_LIMITS: Final = (65_536, 32_768)
UPPER_WORDS: Final = frozenset({"gpt", "oss"})
_TOKEN_PREFIX: Final = "offset:"


def model_object(model_id: str) -> dict[str, Any]:
    """The official ``Model`` resource for one advertised id."""
    upstream = resolve_model(model_id, {})
    claude = "claude" in upstream
    input_limit, output_limit = _limits(upstream)
    display = _display_name(model_id)
    return {
        "name": f"models/{model_id}",
        "baseModelId": model_id,
        "version": "001",
        "displayName": display,
        "description": f"{display}, served by antigravity-proxy as {upstream}.",
        "inputTokenLimit": input_limit,
        "outputTokenLimit": output_limit,
        "supportedGenerationMethods": list(METHODS),
        "temperature": 1.0,
        "maxTemperature": 1.0 if claude else 2.0,
        "topP": 0.95,
        "topK": 64,
        "thinking": is_thinking_model(upstream),
    }


def list_models(
    ids: Sequence[str], page_size: int | None, page_token: str | None
) -> dict[str, Any]:
    """One page of ``Model`` objects for ``ids`` (in the given order).

    Why: the official API pages with ``pageSize``/``pageToken``; a size of 0 or
    none means the default, a larger one is clamped, a negative one and a token
    we did not issue are 400 ``INVALID_ARGUMENT``.
    """
    size = _page_size(page_size)
    start = _decode_token(page_token) if page_token else 0
    end = start + size
    page: dict[str, Any] = {"models": [model_object(i) for i in ids[start:end]]}
    if end < len(ids):
        page["nextPageToken"] = _encode_token(end)
    return page


def _limits(upstream: str) -> tuple[int, int]:
    if is_image_model(upstream):
        return IMAGE_LIMITS
    if "claude" in upstream:
        return CLAUDE_INPUT_LIMIT, max_output_tokens(upstream)
    return GEMINI_INPUT_LIMIT, max_output_tokens(upstream)


def _display_name(model_id: str) -> str:
    """``claude-opus-4-6-thinking`` → ``Claude Opus 4.6 Thinking``."""
    words: list[str] = []
    for word in model_id.split("-"):
        if words and re.fullmatch(r"\d+", word) and re.fullmatch(r"[\d.]+", words[-1]):
            words[-1] += f".{word}"
        elif word in UPPER_WORDS:
            words.append(word.upper())
        else:
            words.append(word[:1].upper() + word[1:])
    return " ".join(words)


def _page_size(page_size: int | None) -> int:
    if page_size is None or page_size == 0:
        return DEFAULT_PAGE_SIZE
    if page_size < 0:
        raise InvalidRequest("pageSize must not be negative.", param="pageSize")
    return min(page_size, MAX_PAGE_SIZE)


def _encode_token(offset: int) -> str:
    raw = f"{_TOKEN_PREFIX}{offset}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    offset = raw.removeprefix(_TOKEN_PREFIX)
    if not raw.startswith(_TOKEN_PREFIX) or not offset.isdigit():
        raise InvalidRequest("Invalid page token.", param="pageToken")
    return int(offset)
