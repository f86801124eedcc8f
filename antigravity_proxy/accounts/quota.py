"""Per-model quota: parsing Cloud Code's quota answers and matching them to models.

This module owns the meaning of the two upstream calls that describe an account
(``fetchAvailableModels`` for per-model quota, ``loadCodeAssist`` for the project
and subscription tier), the ``quota`` object they become in an account file (the
Antigravity-Manager format), and the grouping of model ids into quota buckets.
Everything here is pure: JSON values in, frozen values or fresh dicts out, no I/O,
no clock (``now`` is a parameter), and garbage in the upstream answers is skipped
rather than raised, because a half-understood quota is better than no account.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

KEPT_MODEL_PREFIXES: Final[tuple[str, ...]] = (
    "gemini",
    "claude",
    "gpt",
    "image",
    "imagen",
)
"""Upstream model ids worth storing; the rest are internal models (``chat_…``)."""

_RESTRICTED_SUFFIX: Final = " (Restricted)"
_DECIMAL_INT: Final = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True, slots=True)
class ModelQuota:
    """What is left of one model's quota on one account.

    :param name: the upstream model id (``claude-sonnet-4-6-thinking``).
    :param percentage: remaining quota, 0-100.
    :param reset_time: RFC 3339 time the quota refills, or None when unknown.
    """

    name: str
    percentage: int
    reset_time: str | None = None
    display_name: str | None = None
    max_output_tokens: int | None = None
    supports_images: bool | None = None
    supports_thinking: bool | None = None


@dataclass(frozen=True, slots=True)
class QuotaSnapshot:
    """One ``fetchAvailableModels`` answer: the kept models and the renames."""

    models: tuple[ModelQuota, ...]
    forwarding_rules: dict[str, str]


def parse_available_models(body: object) -> QuotaSnapshot:
    """Read a ``fetchAvailableModels`` response into a `QuotaSnapshot`.

    Only models carrying ``quotaInfo`` have a quota; the others are skipped, as
    are ids outside `KEPT_MODEL_PREFIXES` and entries that are not objects.
    ``deprecatedModelIds`` (``{old: {"newModelId": new}}``) become forwarding rules.
    """
    if not isinstance(body, Mapping):
        return QuotaSnapshot(models=(), forwarding_rules={})
    models = body.get("models")
    parsed: list[ModelQuota] = []
    if isinstance(models, Mapping):
        for name, info in models.items():
            quota = _model_from_upstream(name, info)
            if quota is not None:
                parsed.append(quota)
    return QuotaSnapshot(
        models=tuple(parsed),
        forwarding_rules=_forwarding_rules(body.get("deprecatedModelIds")),
    )


def _model_from_upstream(name: object, info: object) -> ModelQuota | None:
    if not isinstance(name, str) or not is_kept_model(name):
        return None
    if not isinstance(info, Mapping):
        return None
    quota_info = info.get("quotaInfo")
    if not isinstance(quota_info, Mapping):
        return None
    return ModelQuota(
        name=name,
        percentage=_percentage(quota_info.get("remainingFraction", 0.0)),
        reset_time=_str_or_none(quota_info.get("resetTime")),
        display_name=_str_or_none(info.get("displayName")),
        max_output_tokens=_int_or_none(info.get("maxOutputTokens")),
        supports_images=_bool_or_none(info.get("supportsImages")),
        supports_thinking=_bool_or_none(info.get("supportsThinking")),
    )


def _percentage(fraction: object) -> int:
    # An absent remainingFraction defaults to 0.0 above: the upstream speaks
    # proto3 JSON, which omits fields holding their zero value, so "quotaInfo
    # without remainingFraction" is how an exhausted model looks on the wire.
    if isinstance(fraction, bool) or not isinstance(fraction, int | float):
        return 0
    if not math.isfinite(fraction):
        return 0
    return math.floor(min(max(fraction, 0.0), 1.0) * 100)


def _forwarding_rules(deprecated: object) -> dict[str, str]:
    if not isinstance(deprecated, Mapping):
        return {}
    rules: dict[str, str] = {}
    for old, entry in deprecated.items():
        new = entry.get("newModelId") if isinstance(entry, Mapping) else None
        if isinstance(old, str) and isinstance(new, str) and new:
            rules[old] = new
    return rules


def is_kept_model(name: str) -> bool:
    """Whether an upstream model id is one whose quota is worth storing."""
    return name.lower().startswith(KEPT_MODEL_PREFIXES)


def quota_to_raw(
    snapshot: QuotaSnapshot, previous_quota: Mapping[str, Any] | None, now: int
) -> dict[str, Any]:
    """Build the ``quota`` object of an account file from a fresh snapshot.

    Fields this module does not own (``subscription_tier``, ``is_forbidden``,
    ``quota_groups``, anything unknown) are carried over from ``previous_quota``;
    ``models``, ``model_forwarding_rules`` and ``last_updated`` are replaced.
    ``reset_time`` is written as ``""`` when unknown because Antigravity-Manager
    declares it a non-optional string and would refuse to load a null.
    """
    raw: dict[str, Any] = dict(previous_quota) if previous_quota else {}
    raw["models"] = [_model_to_raw(model) for model in snapshot.models]
    raw["model_forwarding_rules"] = dict(snapshot.forwarding_rules)
    raw["last_updated"] = now
    raw.setdefault("is_forbidden", False)
    return raw


def _model_to_raw(model: ModelQuota) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": model.name,
        "percentage": model.percentage,
        "reset_time": model.reset_time or "",
    }
    optional = {
        "display_name": model.display_name,
        "max_output_tokens": model.max_output_tokens,
        "supports_images": model.supports_images,
        "supports_thinking": model.supports_thinking,
    }
    raw.update({key: value for key, value in optional.items() if value is not None})
    return raw


def models_from_raw(quota: object) -> tuple[ModelQuota, ...]:
    """Read ``quota.models`` of an account file, skipping malformed entries."""
    if not isinstance(quota, Mapping):
        return ()
    entries = quota.get("models")
    if not isinstance(entries, list):
        return ()
    return tuple(model for model in map(_model_from_raw, entries) if model is not None)


def _model_from_raw(entry: object) -> ModelQuota | None:
    if not isinstance(entry, Mapping):
        return None
    name = entry.get("name")
    percentage = _int_or_none(entry.get("percentage"))
    if not isinstance(name, str) or not name or percentage is None:
        return None
    return ModelQuota(
        name=name,
        percentage=max(0, min(100, percentage)),
        reset_time=_str_or_none(entry.get("reset_time")),
        display_name=_str_or_none(entry.get("display_name")),
        max_output_tokens=_int_or_none(entry.get("max_output_tokens")),
        supports_images=_bool_or_none(entry.get("supports_images")),
        supports_thinking=_bool_or_none(entry.get("supports_thinking")),
    )


def parse_load_code_assist(body: object) -> tuple[str | None, str | None]:
    """Read ``(project_id, subscription_tier)`` from a ``loadCodeAssist`` answer.

    ``cloudaicompanionProject`` is a plain string for most accounts but an object
    ``{"id": …, "name": …}`` for some. The tier prefers ``paidTier`` (it reflects
    what the account pays for better than ``currentTier``); an account with
    ``ineligibleTiers`` gets its default allowed tier marked ``(Restricted)``.
    """
    if not isinstance(body, Mapping):
        return None, None
    return _project_id(body.get("cloudaicompanionProject")), _tier(body)


def _project_id(project: object) -> str | None:
    if isinstance(project, Mapping):
        project = project.get("id")
    return project if isinstance(project, str) and project else None


def _tier(body: Mapping[str, Any]) -> str | None:
    paid = _tier_label(body.get("paidTier"))
    if paid is not None:
        return paid
    if not body.get("ineligibleTiers"):
        return _tier_label(body.get("currentTier"))
    allowed = body.get("allowedTiers")
    for tier in allowed if isinstance(allowed, list) else []:
        if isinstance(tier, Mapping) and (
            tier.get("isDefault") or tier.get("is_default")
        ):
            label = _tier_label(tier)
            return None if label is None else label + _RESTRICTED_SUFFIX
    return None


def _tier_label(tier: object) -> str | None:
    if not isinstance(tier, Mapping):
        return None
    return _str_or_none(tier.get("name")) or _str_or_none(tier.get("id"))


@functools.lru_cache(maxsize=1024)
def model_group(name: str) -> str | None:
    """The quota bucket a model id belongs to, or None for an ungrouped id.

    Cached: picking an account asks it for every quota entry of every account
    on each request, about the same few dozen names.

    Mirrors Antigravity-Manager's ``normalize_to_standard_id``: the upstream
    shares one quota between the variants of a family (``gemini-3-pro-low`` and
    ``-high``; every Claude model), so quotas are matched by group, checked in
    this order because ``gemini-3.1-flash-image`` contains both ``image`` and
    ``flash``.
    """
    lowered = name.lower()
    if "image" in lowered:
        return "gemini-3.1-flash-image" if "flash" in lowered else "gemini-3-pro-image"
    if "flash" in lowered:
        return "gemini-3-flash"
    if "pro" in lowered:
        return "gemini-3-pro-high"
    if any(word in lowered for word in ("claude", "opus", "sonnet", "haiku")):
        return "claude"
    return None


def quota_for_model(models: Iterable[ModelQuota], model: str) -> ModelQuota | None:
    """The quota that governs ``model``: its own entry, else its group's best.

    An exact id match (case-insensitive) wins; otherwise the entry with the most
    quota left among the models of the same `model_group` stands in, since the
    upstream shares quota within a group. None when nothing matches.
    """
    candidates = tuple(models)
    wanted = model.lower()
    for quota in candidates:
        if quota.name.lower() == wanted:
            return quota
    group = model_group(model)
    if group is None:
        return None
    same_group = [quota for quota in candidates if model_group(quota.name) == group]
    return max(same_group, key=lambda quota: quota.percentage, default=None)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _DECIMAL_INT.fullmatch(value.strip()):
        # proto3 JSON renders int64 fields (maxOutputTokens) as strings.
        return int(value)
    return None


def _bool_or_none(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


@functools.lru_cache(maxsize=1024)
def reset_timestamp(text: str | None) -> float | None:
    """A quota ``reset_time`` (RFC 3339) as unix seconds; without an offset, UTC.

    Cached: each request's account pick reads every account's reset time, and
    those change only when the quota is refreshed.

    Why UTC: the upstream writes ``...Z``, but a hand-edited or foreign account
    file may drop the offset, and local time would shift the ranking by hours.
    """
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=parsed.tzinfo or UTC).timestamp()
    except (ValueError, OverflowError):
        return None
