"""Model names: which upstream model serves a client's model id, and what it can do.

Every protocol resolves the client's ``model`` here, in one order: the configured
``model_mapping`` (exact key, then ``*`` wildcards), the built-in table of the
reference (server-upstream-accounts.md §5.9, plus the ``-preview`` aliases its
request config folds), and finally a family fallback for ids that clients invent
(Gemini CLI sends ``gemini-3.8-flash``; Claude Code sends ``claude-opus-4-8``).
The module also owns the small per-model tables the translators share: the
thinking-budget cap and the output-token ceiling (reference §2 "Spec defaults").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from antigravity_proxy.errors import InvalidRequest

_SONNET: Final = "claude-sonnet-4-6"
_SONNET_THINKING: Final = "claude-sonnet-4-6-thinking"
_OPUS: Final = "claude-opus-4-6-thinking"
_FLASH_25: Final = "gemini-2.5-flash"
_O_SERIES: Final = re.compile(r"o[1-9](-[a-z0-9.-]+)?")
_NOT_CHAT: Final = (
    "image",
    "dall-e",
    "whisper",
    "tts",
    "audio",
    "embedding",
    "transcribe",
)

BUILTIN_MODEL_MAP: Final[Mapping[str, str]] = {
    **dict.fromkeys(
        (
            "claude-sonnet-4-6",
            "claude-sonnet-4-5",
            "claude-3-5-sonnet-20241022",
            "claude-3-5-sonnet-20240620",
            "claude-haiku-4",
            "claude-3-haiku-20240307",
            "claude-haiku-4-5-20251001",
        ),
        _SONNET,
    ),
    **dict.fromkeys(
        (
            "claude-sonnet-4-6-thinking",
            "claude-sonnet-4-5-thinking",
            "claude-sonnet-4-5-20250929",
        ),
        _SONNET_THINKING,
    ),
    **dict.fromkeys(
        (
            "claude-opus-4",
            "claude-opus-4-5-thinking",
            "claude-opus-4-5-20251101",
            "claude-opus-4-6-thinking",
            "claude-opus-4-6",
            "claude-opus-4.6-thinking",
            "claude-opus-4.6",
            "claude-opus-4-6-20260201",
        ),
        _OPUS,
    ),
    **dict.fromkeys(
        (
            "gpt-4",
            "gpt-4-turbo",
            "gpt-4-turbo-preview",
            "gpt-4-0125-preview",
            "gpt-4-1106-preview",
            "gpt-4-0613",
            "gpt-4o",
            "gpt-4o-2024-05-13",
            "gpt-4o-2024-08-06",
            "gpt-4o-mini",
            "gpt-4o-mini-2024-07-18",
            "gpt-3.5-turbo",
            "gpt-3.5-turbo-16k",
            "gpt-3.5-turbo-0125",
            "gpt-3.5-turbo-1106",
            "gpt-3.5-turbo-0613",
            "gemini-2.5-flash-lite",
            "internal-background-task",
        ),
        _FLASH_25,
    ),
    "gemini-3.1-pro-high": "gemini-pro-agent",
    "gemini-3-pro-high": "gemini-pro-agent",
    "gemini-3.1-pro": "gemini-3.1-pro-preview",
    "gemini-3.1-pro-preview": "gemini-3.1-pro-preview",
    "gemini-3-pro": "gemini-3-pro-preview",
    "gemini-3-pro-preview": "gemini-3-pro-preview",
    "gemini-3-flash-preview": "gemini-3-flash",
    "gemini-3-pro-image-preview": "gemini-3-pro-image",
    **{
        name: name
        for name in (
            "gemini-2.5-flash-thinking",
            "gemini-3.1-pro-low",
            "gemini-3-pro-low",
            "gemini-2.5-flash",
            "gemini-3-flash",
            "gemini-3-pro-image",
        )
    },
}

ADVERTISED_EXTRAS: Final = (
    "gemini-2.0-flash-exp",
    "gemini-2.5-flash",
    "gemini-3-flash",
    "gemini-3.1-pro-high",
    "gemini-3.1-pro-low",
)
IMAGE_SIZES: Final = ("", "-2k", "-4k")
IMAGE_RATIOS: Final = ("", "-1x1", "-4x3", "-3x4", "-16x9", "-9x16", "-21x9")

THINKING_BUDGET_CAP: Final[Mapping[str, int]] = {
    "gemini-2.0-flash": 24576,
    "gemini-2.5-flash": 32768,
    "gemini-3-flash": 32768,
    "gemini-3-pro-high": 49152,
    "gemini-3.1-pro-preview": 49152,
    "gemini-pro-agent": 49152,
    "claude-sonnet-4-6": 32768,
    "claude-sonnet-4-6-thinking": 32768,
    "claude-opus-4-6-thinking": 32768,
    "gpt-oss-120b-medium": 0,
}
DEFAULT_THINKING_BUDGET_CAP: Final = 24576

MAX_OUTPUT_TOKENS: Final[Mapping[str, int]] = {
    "gemini-2.0-flash": 65535,
    "gemini-2.5-flash": 65535,
    "gemini-3-flash": 65536,
    "gemini-3-pro-high": 65536,
    "gemini-3.1-pro-preview": 65536,
    "gemini-pro-agent": 65536,
    "claude-sonnet-4-6": 64000,
    "claude-sonnet-4-6-thinking": 64000,
    "claude-opus-4-6-thinking": 64000,
    "gpt-oss-120b-medium": 32768,
}
DEFAULT_MAX_OUTPUT_TOKENS: Final = 65535

MODEL_ID_MAX: Final = 128
# Letters, digits and the punctuation real ids use: ``gemini-3.1-pro``,
# ``models/gemini-2.5-flash``, ``ft:gpt-4o:org:x``, ``claude-opus-4-8[1m]``.
MODEL_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+\[\]-]*")

_THINKING_GEMINI: Final = re.compile(r"^gemini-(2\.5|[3-9])[.\d]*-|^gemini-pro-agent$")


def resolve_model(name: str, mapping: Mapping[str, str]) -> str:
    """The upstream model id serving the client's model ``name``.

    Order: ``mapping`` exact key; ``mapping`` wildcard keys (the pattern with the
    most non-``*`` characters wins, then the longer pattern, then the lexically
    smaller one, so the choice never depends on dict order); the built-in table;
    then a family fallback, because clients invent ids faster than the table
    grows and an unknown id is a 404 upstream:

    * ``claude-*`` with ``opus`` → ``claude-opus-4-6-thinking`` (the only Opus
      upstream); with ``sonnet``/``haiku`` → ``claude-sonnet-4-6``, or
      ``claude-sonnet-4-6-thinking`` when the id ends in ``-thinking``;
    * ``gemini-*`` image ids → ``gemini-3-pro-image`` when they say ``pro``, else
      ``gemini-3.1-flash-image``; ``flash-lite`` → ``gemini-2.5-flash`` (the
      lightest text model served); ``flash`` → ``gemini-3-flash``; ``pro`` → the
      route of ``gemini-3.1-pro-high`` (``gemini-pro-agent``);
    * OpenAI chat ids the table does not know (``gpt-5.1-codex``, Codex's default
      ``gpt-6.1-sol``, ``o3``, ``o4-mini``, ``chatgpt-4o-latest``) →
      ``gemini-3-flash``: the served model with the most quota, as real-clients.md
      asks for a fallback; ``gpt-oss-*`` (an upstream id) and image, audio,
      embedding ids are left alone;
    * anything else (``claude-instant-1``, ``gemini-embedding``) passes through.
    """
    check_model_id(name)
    if name in mapping:
        return mapping[name]
    pattern = _best_wildcard(name, mapping)
    if pattern is not None:
        return mapping[pattern]
    if name in BUILTIN_MODEL_MAP:
        return BUILTIN_MODEL_MAP[name]
    return _family_fallback(name)


def check_model_id(name: str) -> str:
    """``name`` when it is a sane model id; else a 400 naming ``model``.

    Why: the id reaches log lines, cooldown keys in ``state.db`` and the
    ``X-Mapped-Model`` header; a 10 MB id or one holding CR/LF must stop here.
    At most ``MODEL_ID_MAX`` characters of ``MODEL_ID``'s alphabet; the empty
    id passes (each protocol answers a missing model in its own words).
    """
    if not name or (len(name) <= MODEL_ID_MAX and MODEL_ID.fullmatch(name)):
        return name
    shown = ascii(name[:40]) + ("..." if len(name) > 40 else "")
    raise InvalidRequest(
        f"Invalid model id {shown}: a model id is 1 to {MODEL_ID_MAX} letters, "
        "digits and . _ - : / @ + [ ] characters, starting with a letter or digit.",
        param="model",
        code="invalid_model",
    )


def builtin_model_ids() -> list[str]:
    """The ids the gateway advertises without account data (reference §5.8 item 2).

    Built-in table keys, ``gemini-3-pro-image`` with every size/ratio suffix, and
    the listed extras; sorted and deduplicated. Custom mapping keys and per-account
    quota models are added by the caller, which knows them.
    """
    images = {
        f"gemini-3-pro-image{size}{ratio}"
        for size in IMAGE_SIZES
        for ratio in IMAGE_RATIOS
    }
    return sorted({*BUILTIN_MODEL_MAP, *images, *ADVERTISED_EXTRAS})


def is_image_model(name: str) -> bool:
    """Whether ``name`` (client or upstream id) is an image-generation model."""
    return "-image" in name.lower()


def is_thinking_model(upstream_model: str) -> bool:
    """Whether the upstream model thinks (emits thought parts and signatures).

    Gemini 2.5 and later text models think; so does the pro agent route and any id
    carrying ``thinking``. Image models and plain Claude ids do not.
    """
    lowered = upstream_model.lower()
    if is_image_model(lowered):
        return False
    if "thinking" in lowered:
        return True
    return _THINKING_GEMINI.search(lowered) is not None


def thinking_budget_cap(upstream_model: str) -> int:
    """The largest ``thinkingBudget`` the upstream accepts for the model."""
    return THINKING_BUDGET_CAP.get(upstream_model, DEFAULT_THINKING_BUDGET_CAP)


def max_output_tokens(upstream_model: str) -> int:
    """The largest ``maxOutputTokens`` the upstream accepts for the model."""
    return MAX_OUTPUT_TOKENS.get(upstream_model, DEFAULT_MAX_OUTPUT_TOKENS)


def wildcard_match(pattern: str, name: str) -> bool:
    """Whether ``name`` matches ``pattern`` (``*`` = any run, case-sensitive)."""
    regex = ".*".join(re.escape(piece) for piece in pattern.split("*"))
    return re.fullmatch(regex, name, flags=re.DOTALL) is not None


def _best_wildcard(name: str, mapping: Mapping[str, str]) -> str | None:
    candidates = [key for key in mapping if "*" in key and wildcard_match(key, name)]
    if not candidates:
        return None
    return min(candidates, key=lambda key: (-len(key.replace("*", "")), -len(key), key))


def _family_fallback(name: str) -> str:
    lowered = name.lower()
    if lowered.startswith("claude-"):
        return _claude_family(lowered) or name
    if lowered.startswith("gemini-"):
        return _gemini_family(lowered) or name
    if _is_openai_chat_id(lowered):
        return "gemini-3-flash"
    return name


def _is_openai_chat_id(lowered: str) -> bool:
    if lowered.startswith("gpt-oss") or any(w in lowered for w in _NOT_CHAT):
        return False
    return lowered.startswith(("gpt-", "chatgpt-", "codex-")) or bool(
        _O_SERIES.fullmatch(lowered)
    )


def _claude_family(lowered: str) -> str | None:
    if "opus" in lowered:
        return _OPUS
    if "sonnet" in lowered or "haiku" in lowered:
        return _SONNET_THINKING if lowered.endswith("-thinking") else _SONNET
    return None


def _gemini_family(lowered: str) -> str | None:
    if is_image_model(lowered):
        return "gemini-3-pro-image" if "pro" in lowered else "gemini-3.1-flash-image"
    if "flash-lite" in lowered:
        return _FLASH_25
    if "flash" in lowered:
        return "gemini-3-flash"
    if "pro" in lowered:
        return BUILTIN_MODEL_MAP["gemini-3.1-pro-high"]
    return None
