"""Thought signatures carried in a reasoning item's ``encrypted_content``.

Gemini thinking models reject a replayed ``functionCall`` part without the
``thoughtSignature`` the model attached to it. Responses clients such as Codex run
with ``store: false`` and replay the reasoning items they received, including
``encrypted_content``; so the gateway puts the signature there and reads it back on
the next turn, which needs no server state. The payload is ours, not encrypted:
``agp1.`` + base64url (unpadded) of ``{"sig", "call_ids", "model"}``. Anything
else in ``encrypted_content`` (another provider's blob, garbage) decodes to None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from antigravity_proxy.protocols.sealed import seal, unseal


@dataclass(frozen=True, slots=True)
class SignatureCarrier:
    """A decoded ``encrypted_content``: one signature and the calls it belongs to.

    ``call_ids`` is empty when the signature came on a text part; it then belongs
    to the next model part of the replayed history.
    """

    signature: str
    call_ids: tuple[str, ...]
    model: str


def encode_signature(signature: str, call_ids: Sequence[str], model: str) -> str:
    """The ``encrypted_content`` string carrying ``signature``."""
    payload = {"sig": signature, "call_ids": list(call_ids), "model": model}
    return seal(payload)


def decode_signature(value: object) -> SignatureCarrier | None:
    """The carrier inside ``value``, or None when it is not one of ours.

    Why None rather than an error: clients replay reasoning items produced by other
    backends (OpenAI's own encrypted blobs) after a model switch; those are useless
    to Gemini but must not fail the request.
    """
    return _carrier(unseal(value))


def _carrier(payload: Any) -> SignatureCarrier | None:
    if not isinstance(payload, dict):
        return None
    signature = payload.get("sig")
    call_ids = payload.get("call_ids", [])
    model = payload.get("model", "")
    if not isinstance(signature, str) or not signature:
        return None
    if not isinstance(call_ids, list) or not all(isinstance(c, str) for c in call_ids):
        return None
    if not isinstance(model, str):
        return None
    return SignatureCarrier(signature, tuple(call_ids), model)
