"""``generationConfig`` of a Messages request: sampling, limits, thinking, format.

Owns ``max_tokens`` -> ``maxOutputTokens`` (capped per upstream family), the
sampling fields, ``stop_sequences``, ``thinking`` + ``output_config.effort`` ->
``thinkingConfig``, and ``output_config.format`` -> JSON mode. Pure; the rest of
the request is ``request.py``'s.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from antigravity_proxy.protocols.anthropic.types import (
    Content,
    JsonObject,
    MessagesContext,
    as_int,
    as_list,
    as_number,
    as_object,
    as_str,
    not_one_of,
    unknown_tag,
)

# Same scale as the OpenAI translator (Gemini's own low/medium/high = 1k/8k/24k).
THINKING_BUDGET_FROM_EFFORT: Final[Mapping[str, int]] = {
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
    "max": 32768,
}
DEFAULT_EFFORT: Final = "high"
MIN_THINKING_BUDGET: Final = 1024
MAX_OUTPUT_TOKENS: Final = 65536
MAX_OUTPUT_TOKENS_CLAUDE: Final = 64000
MAX_UPSTREAM_STOP_SEQUENCES: Final = 5
SAMPLING_FIELDS: Final = (("temperature", "temperature"), ("top_p", "topP"))
SAMPLING_RANGE: Final = (0.0, 1.0)


def generation_config(
    body: JsonObject, max_tokens: int, contents: list[Content], ctx: MessagesContext
) -> dict[str, Any]:
    """Sampling, stop sequences, output limit, structured output and thinking.

    ``maxOutputTokens`` is capped at what the upstream accepts (64000 for Claude
    models, 65536 otherwise); Gemini keeps at most 5 stop sequences, so extra ones
    are only detected by the stream translator (``ctx.stop_sequences``).
    """
    claude = "claude" in ctx.upstream_model.lower()
    cap = MAX_OUTPUT_TOKENS_CLAUDE if claude else MAX_OUTPUT_TOKENS
    config: dict[str, Any] = {}
    for key, upstream_key in SAMPLING_FIELDS:
        if body.get(key) is not None:
            config[upstream_key] = as_number(body[key], key, *SAMPLING_RANGE)
    if body.get("top_k") is not None:
        config["topK"] = as_int(body["top_k"], "top_k", 0)
    config["maxOutputTokens"] = min(max_tokens, cap)
    stops = _stop_sequences(body.get("stop_sequences"))
    if stops:
        config["stopSequences"] = stops[:MAX_UPSTREAM_STOP_SEQUENCES]
    output = _output_config(body.get("output_config"))
    config.update(output.format)
    thinking = _thinking_config(
        body.get("thinking"), output.effort, min(max_tokens, cap)
    )
    if thinking is not None and not (
        claude and _unsigned_tool_turn(contents, thinking)
    ):
        config["thinkingConfig"] = thinking
    return config


def _stop_sequences(raw: Any) -> list[str]:
    if raw is None:
        return []
    items = as_list(raw, "stop_sequences")
    return [as_str(s, f"stop_sequences[{i}]") for i, s in enumerate(items)]


@dataclass(frozen=True, slots=True)
class _Output:
    effort: str | None
    format: dict[str, Any]


def _output_config(raw: Any) -> _Output:
    """``output_config.effort`` (validated) and ``format`` as JSON mode.

    Why ``responseJsonSchema`` and not ``responseSchema`` + ``clean_schema``: the
    schema is an output contract and goes upstream unchanged, as the OpenAI
    translator does (Gemini CLI uses the same field through this upstream).
    """
    if raw is None:
        return _Output(None, {})
    config = as_object(raw, "output_config")
    effort = config.get("effort")
    if effort is not None and (
        not isinstance(effort, str) or effort not in THINKING_BUDGET_FROM_EFFORT
    ):
        raise not_one_of(
            effort, "output_config.effort", tuple(THINKING_BUDGET_FROM_EFFORT)
        )
    fmt = config.get("format")
    if fmt is None:
        return _Output(effort, {})
    fmt = as_object(fmt, "output_config.format")
    if fmt.get("type") != "json_schema":
        raise unknown_tag(
            fmt.get("type"), "output_config.format.type", ("json_schema",)
        )
    schema = as_object(fmt.get("schema"), "output_config.format.schema")
    return _Output(
        effort,
        {
            "responseMimeType": "application/json",
            "responseJsonSchema": copy.deepcopy(dict(schema)),
        },
    )


def _thinking_config(
    raw: Any, effort: str | None, max_tokens: int
) -> dict[str, Any] | None:
    """``thinking`` as thinkingConfig; absent means the upstream's default.

    Why ``adaptive`` gets a budget from ``output_config.effort`` (default
    ``high``, Anthropic's default effort) rather than the dynamic ``-1``: a fixed
    budget is valid on both Gemini and Claude upstreams, and ``-1`` is not.
    The budget stays below ``max_tokens``, which includes thinking on both sides.
    """
    if raw is None:
        return None
    thinking = as_object(raw, "thinking")
    kind = thinking.get("type")
    if kind == "disabled":
        return {"includeThoughts": False}
    if kind == "enabled":
        param = "thinking.budget_tokens"
        budget = as_int(thinking.get("budget_tokens"), param, MIN_THINKING_BUDGET)
    elif kind == "adaptive":
        budget = THINKING_BUDGET_FROM_EFFORT[effort or DEFAULT_EFFORT]
    else:
        raise unknown_tag(kind, "thinking.type", ("enabled", "adaptive", "disabled"))
    budget = min(budget, max_tokens - 1)
    if budget < 1:
        return {"includeThoughts": False}
    return {"includeThoughts": True, "thinkingBudget": budget}


def _unsigned_tool_turn(contents: list[Content], thinking: Mapping[str, Any]) -> bool:
    """A Claude upstream would reject thinking here: the last model turn calls a
    tool without starting with a signed thinking part (Anthropic requires one when
    thinking is on), so thinking is left off for this request instead of failing.
    """
    if not thinking.get("includeThoughts"):
        return False
    turns = [c["parts"] for c in contents if c["role"] == "model"]
    if not turns or not any("functionCall" in p for p in turns[-1]):
        return False
    first = turns[-1][0]
    return not (first.get("thought") and first.get("thoughtSignature"))
