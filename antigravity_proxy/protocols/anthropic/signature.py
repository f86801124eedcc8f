"""Thought signatures carried in the ``signature`` of our ``thinking`` blocks.

Gemini thinking models reject a replayed ``functionCall`` part without the
``thoughtSignature`` the model attached to it, and Claude models behind the same
upstream reject a thinking part whose signature does not match its text. Anthropic
clients keep exactly one opaque field across turns, ``thinking.signature``, and
replay it verbatim (Claude Code does), so the gateway puts the upstream signature
there and reads it back on the next turn: no server state. The payload is ours,
not encrypted: ``agp1.`` + base64url (unpadded) of ``{"sig", "model", "on"}``,
where ``on`` says which upstream part carried it (``thought``, ``call`` or
``text``), so replay puts it back on the same kind of part. Anything else (an
empty string, Anthropic's own signatures, garbage) decodes to None.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Final

from antigravity_proxy.protocols.sealed import seal, unseal

SKIP_SIGNATURE: Final = "skip_thought_signature_validator"
PLACEMENTS: Final = frozenset({"thought", "call", "text"})
# Memory bound of the decode cache: at most this many tokens of at most this size.
DECODED_CACHE_SIZE: Final = 1024
CACHED_TOKEN_CHARS: Final = 16384


@dataclass(frozen=True, slots=True)
class ThinkingSignature:
    """A decoded signature: the upstream value, its model, and its part kind."""

    signature: str
    model: str
    placement: str


def encode_signature(signature: str, model: str, placement: str) -> str:
    """The ``thinking.signature`` string carrying an upstream ``signature``."""
    payload = {"sig": signature, "model": model, "on": placement}
    return seal(payload)


def decode_signature(value: object) -> ThinkingSignature | None:
    """The signature inside ``value``, or None when it is not one of ours.

    Why None rather than an error: Claude Code echoes ``"signature": ""`` for
    blocks streamed without a signature, and history may hold blocks from
    Anthropic itself after a provider switch; neither may fail the request.
    """
    if not isinstance(value, str):
        return None
    if len(value) > CACHED_TOKEN_CHARS:
        return _decoded.__wrapped__(value)
    return _decoded(value)


@functools.lru_cache(maxsize=DECODED_CACHE_SIZE)
def _decoded(value: str) -> ThinkingSignature | None:
    """Memoised: a long session replays the same signed blocks on every turn,
    and the planner and the translator both read each one."""
    # A forged token nesting past the parser's limit is refused by ``unseal``
    # (json_codec stops at 1024 levels), never a RecursionError.
    return _signature(unseal(value))


def _signature(payload: Any) -> ThinkingSignature | None:
    if not isinstance(payload, dict):
        return None
    signature = payload.get("sig")
    model = payload.get("model")
    placement = payload.get("on")
    if not isinstance(signature, str) or not signature:
        return None
    if not isinstance(model, str) or placement not in PLACEMENTS:
        return None
    return ThinkingSignature(signature, model, str(placement))
