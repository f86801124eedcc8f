"""Thought signatures remembered in the shared state, per protocol.

Gemini thinking models reject a replayed tool call without the signature they
attached to it, and many clients drop or blank it (chat clients never send it
back; Claude Code echoes ``""``). Each protocol's handler keeps the signatures it
streamed here, keyed by tool-call id (and optionally a conversation scope, for
ids the upstream invents and may repeat), and looks them up for a replay. They
live in the shared state so the next turn may land on any worker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from antigravity_proxy.state import SharedState

TTL: Final = 24 * 3600.0


def recall(
    state: SharedState,
    namespace: str,
    call_ids: Iterable[str],
    scope: str | None = None,
) -> dict[str, str]:
    """call id -> signature, for the ids the store knows."""
    keys = {_key(scope, call_id): call_id for call_id in call_ids}
    if not keys:
        return {}
    stored = state.get_many(namespace, list(keys))
    return {keys[key]: value for key, value in stored.items() if value}


def remember(
    state: SharedState,
    namespace: str,
    signatures: Mapping[str, str],
    scope: str | None = None,
) -> None:
    for call_id, signature in signatures.items():
        state.put(namespace, _key(scope, call_id), signature, TTL)


def _key(scope: str | None, call_id: str) -> str:
    return call_id if scope is None else f"{scope}/{call_id}"
