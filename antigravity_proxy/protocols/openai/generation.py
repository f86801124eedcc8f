"""``generationConfig`` pieces shared by chat, legacy completions and Responses.

Owns what the three OpenAI request translators map the same way: reasoning effort
to a thinking budget (one table, fitted to the model and to the output limit), the
output-token ceiling of the model, the seed range, and the safety settings. The
protocol-specific parts (which field holds the effort, when thoughts are shown)
stay with each translator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from antigravity_proxy.models import max_output_tokens, thinking_budget_cap
from antigravity_proxy.protocols.openai.types import invalid_value

HARM_CATEGORIES: Final = (
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
)
# Gemini's own OpenAI-compatible endpoint: none turns thinking off, low/medium/high
# = 1k/8k/24k; minimal and the larger efforts extend the same scale.
THINKING_BUDGET_FROM_EFFORT: Final[Mapping[str, int]] = {
    "none": 0,
    "minimal": 512,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
    "max": 32768,
}
MIN_THINKING_BUDGET: Final = 512
INT32_SPAN: Final = 2**32


def safety_settings() -> list[dict[str, str]]:
    """Every harm category with threshold ``OFF``, as a fresh list.

    Why ``OFF``: OpenAI applies no per-category filter the client can configure,
    and the upstream's defaults would block answers OpenAI returns (the reference
    proxy sends the same four).
    """
    return [{"category": c, "threshold": "OFF"} for c in HARM_CATEGORIES]


def effort_budget(effort: object, param: str) -> int:
    """The thinking budget of a reasoning ``effort``, or a 400 naming ``param``."""
    if isinstance(effort, str) and effort in THINKING_BUDGET_FROM_EFFORT:
        return THINKING_BUDGET_FROM_EFFORT[effort]
    supported = ", ".join(THINKING_BUDGET_FROM_EFFORT)
    raise invalid_value(param, f"{effort!r}. Supported values are: {supported}.")


def fitted_budget(budget: int, max_tokens: int | None, upstream_model: str) -> int:
    """``budget`` within the model's thinking ceiling and below ``max_tokens``.

    Why: the upstream rejects a budget above the model's ceiling, and OpenAI's
    output limits count reasoning, so a budget that reaches the limit would leave
    no room for the answer; it then gets half the limit, never under the smallest
    budget every thinking model accepts. Zero (thinking off) stays zero.
    """
    budget = min(budget, thinking_budget_cap(upstream_model))
    if budget > 0 and max_tokens is not None and budget >= max_tokens:
        budget = max(MIN_THINKING_BUDGET, max_tokens // 2)
    return budget


def output_limit(max_tokens: int | None, upstream_model: str) -> int | None:
    """The client's output limit, capped at the model's ceiling.

    Why capped, not refused: clients send generous limits (64k, 100k) written for
    other models; the upstream refuses any value above its ceiling.
    """
    if max_tokens is None:
        return None
    return min(max_tokens, max_output_tokens(upstream_model))


def upstream_seed(seed: int | None) -> int | None:
    """An OpenAI seed (64-bit) folded into the upstream's int32 range.

    Why folded: the seed only has to repeat a sample for the same value, and
    folding keeps distinct small seeds distinct while no value fails upstream.
    """
    if seed is None:
        return None
    return (seed + INT32_SPAN // 2) % INT32_SPAN - INT32_SPAN // 2
