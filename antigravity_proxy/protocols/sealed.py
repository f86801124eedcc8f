"""The gateway's own opaque tokens: ``agp1.`` + base64url of a small JSON object.

Clients carry upstream thought signatures back to us inside fields they treat as
opaque (Anthropic ``thinking.signature``, Responses ``encrypted_content``), so a
replayed conversation restores them without server state. Anything that does not
decode as one of ours (another backend's blob, an empty string) is ``None``,
never an error: such values turn up legitimately after a provider switch.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any, Final

from antigravity_proxy import json_codec

PREFIX: Final = "agp1."


def seal(payload: Mapping[str, Any]) -> str:
    raw = json.dumps(dict(payload), separators=(",", ":"), ensure_ascii=False)
    encoded = base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii")
    return PREFIX + encoded.rstrip("=")


def unseal(value: object) -> dict[str, Any] | None:
    """The JSON object inside one of our tokens, else ``None``."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return None
    body = value[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        payload: Any = json_codec.loads(raw)
    except (binascii.Error, json_codec.JsonError):
        return None
    return payload if isinstance(payload, dict) else None
