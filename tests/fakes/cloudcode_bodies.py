"""Request checks and account-derived answers of the fake Cloud Code upstream.

Each ``check_*`` returns None for an acceptable body or the message of the 400
INVALID_ARGUMENT the fake answers; they are only as strict as the behaviour the
gateway must respect (``countTokens`` accepts nothing but ``{"request": {...}}``,
as the real API rejects top-level ``model``/``project`` with ``Unknown name``).
``load_code_assist`` and ``available_models`` render an account's project, tier
and per-model remaining quota fraction.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any, Final

from tests.fakes.cloudcode_oauth import FakeAccount

GENERATION_METHODS: Final = frozenset({"generateContent", "streamGenerateContent"})
TIER_IDS: Final[Mapping[str, str]] = {
    "Google AI Pro": "g1-pro-tier",
    "Google AI Ultra": "g1-ultra-tier",
}
FREE_TIER: Final[Mapping[str, Any]] = {
    "id": "free-tier",
    "name": "Antigravity",
    "description": "Antigravity free tier",
}
DEPRECATED_MODEL_IDS: Final[Mapping[str, Any]] = {
    "gemini-2.5-flash-thinking": {"newModelId": "gemini-3-flash"},
}
RESET_AFTER: Final = datetime.timedelta(hours=5)


def check_generation(body: Any) -> str | None:
    """Require ``project``, ``model`` and ``request.contents`` in the envelope."""
    if not isinstance(body, dict):
        return "Invalid JSON payload received. Expected an object."
    for key in ("project", "model"):
        if not isinstance(body.get(key), str) or not body[key]:
            return f"Invalid JSON payload received. Missing required field {key!r}."
    request = body.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("contents"), list):
        return "Invalid JSON payload received. Missing request.contents."
    return None


def check_count_tokens(body: Any) -> str | None:
    """Accept only ``{"request": {...}}``; name the first unknown key otherwise."""
    if not isinstance(body, dict):
        return "Invalid JSON payload received. Expected an object."
    for key in body:
        if key != "request":
            prefix = "Invalid JSON payload received."
            return f'{prefix} Unknown name "{key}": Cannot find field.'
    if not isinstance(body.get("request"), dict):
        return "Invalid JSON payload received. Missing required field 'request'."
    return None


def check_load_code_assist(body: Any) -> str | None:
    """Require a ``metadata`` object (the client sends ``ideType``)."""
    if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
        return "Invalid JSON payload received. Missing required field 'metadata'."
    return None


def check_object(body: Any) -> str | None:
    """Require any JSON object (``fetchAvailableModels`` takes ``{}``)."""
    if not isinstance(body, dict):
        return "Invalid JSON payload received. Expected an object."
    return None


CHECKS: Final[Mapping[str, Callable[[Any], str | None]]] = {
    "generateContent": check_generation,
    "streamGenerateContent": check_generation,
    "countTokens": check_count_tokens,
    "loadCodeAssist": check_load_code_assist,
    "fetchAvailableModels": check_object,
}


def tier_body(tier: str) -> dict[str, Any]:
    """Render a paid tier name as ``{"id", "name"}``."""
    fallback = tier.lower().replace(" ", "-") + "-tier"
    return {"id": TIER_IDS.get(tier, fallback), "name": tier}


def load_code_assist(account: FakeAccount) -> dict[str, Any]:
    """Answer ``loadCodeAssist``: project (if any), current and paid tier."""
    body: dict[str, Any] = {
        "currentTier": dict(FREE_TIER),
        "allowedTiers": [{**FREE_TIER, "isDefault": True}],
    }
    if account.project is not None:
        body["cloudaicompanionProject"] = account.project
    if account.tier is not None:
        body["paidTier"] = tier_body(account.tier)
    return body


def display_name(model_id: str) -> str:
    """Turn ``gemini-3-flash`` into ``Gemini 3 Flash``."""
    return " ".join(word.capitalize() for word in model_id.split("-"))


def reset_time(now: datetime.datetime) -> str:
    """Render the quota reset time (now + 5 h) as RFC 3339 with ``Z``."""
    return (now + RESET_AFTER).strftime("%Y-%m-%dT%H:%M:%SZ")


def model_entry(model_id: str, fraction: float, reset: str) -> dict[str, Any]:
    """Render one ``fetchAvailableModels`` model entry."""
    return {
        "displayName": display_name(model_id),
        "quotaInfo": {"remainingFraction": fraction, "resetTime": reset},
        "maxTokens": 1048576,
        "maxOutputTokens": 65536,
        "supportsImages": True,
        "supportsThinking": "thinking" in model_id or model_id.startswith("gemini-3"),
        "recommended": True,
    }


def available_models(account: FakeAccount, now: datetime.datetime) -> dict[str, Any]:
    """Answer ``fetchAvailableModels`` from the account's model fractions."""
    reset = reset_time(now)
    models = {m: model_entry(m, f, reset) for m, f in account.models.items()}
    return {"models": models, "deprecatedModelIds": dict(DEPRECATED_MODEL_IDS)}
