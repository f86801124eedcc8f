"""Conversation keys for sticky account selection.

A conversation that stays on one account keeps hitting that account's upstream
prompt cache. The key is derived from the first real user text, which stays the
same as the conversation grows; injected reminders are not real user text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Final

MIN_TEXT: Final = 10
NOISE_MARKERS: Final = ("<system-reminder>",)


def session_key(user_texts: Iterable[str]) -> str | None:
    """``sid-`` + 16 hex of SHA-256 of the first qualifying user text, or None."""
    for text in user_texts:
        stripped = text.strip()
        if len(stripped) > MIN_TEXT and not any(m in stripped for m in NOISE_MARKERS):
            digest = hashlib.sha256(stripped.encode("utf-8")).hexdigest()
            return f"sid-{digest[:16]}"
    return None


def gemini_user_texts(body: object) -> list[str]:
    """Each user turn's text parts joined with a space, in order."""
    contents = body.get("contents") if isinstance(body, dict) else None
    texts: list[str] = []
    for content in contents if isinstance(contents, list) else []:
        if not isinstance(content, dict) or content.get("role", "user") != "user":
            continue
        parts = content.get("parts")
        words = [
            p["text"]
            for p in (parts if isinstance(parts, list) else [])
            if isinstance(p, dict) and isinstance(p.get("text"), str)
        ]
        if words:
            texts.append(" ".join(words))
    return texts
