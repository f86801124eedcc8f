"""Legacy OpenAI ``POST /v1/completions``: request, stream and answer translation.

Owns the ``text_completion`` protocol on top of the chat translator's pieces: the
prompt becomes one user turn, sampling fields map as for chat, and upstream events
become ``text_completion`` objects (``choices[].text``, ``index``, ``logprobs:
null``, ``finish_reason``). Thought parts are not part of ``text`` (the legacy
protocol has no place for them) but their tokens are counted in ``usage``.

Rejected as unsupported rather than answered wrongly: several prompts in one
request (the upstream produces one candidate set per request), token-array
prompts, a non-empty ``suffix``, ``echo: true``, non-null ``logprobs``,
``best_of`` > 1. Dropped: ``user``, ``logit_bias``, ``best_of: 1``; no default
``max_tokens`` of 16 is applied (clients of a gateway do not expect it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.protocols.gemini.chunk import Candidate, Part, TokenUsage
from antigravity_proxy.protocols.openai.chat_request import sampling_config, view_of
from antigravity_proxy.protocols.openai.chat_stream import (
    DEFAULT_FINISH_REASON,
    CandidateStream,
    finish_reason_from_upstream,
    image_markdown,
    usage_from_upstream,
)
from antigravity_proxy.protocols.openai.generation import safety_settings
from antigravity_proxy.protocols.openai.types import (
    ChatContext,
    JsonObject,
    RequestView,
    TextChoice,
    TextCompletion,
    Usage,
    as_object,
    invalid_type,
    invalid_value,
    optional_bool,
    optional_int,
    unsupported,
)


def parse_completion_request(body: Any) -> RequestView:
    """Validate the fields a handler needs before translating (model, streaming, n)."""
    request = as_object(body, "body")
    prompt_of(request)
    return view_of(request)


def request_to_upstream(body: Any, ctx: ChatContext) -> dict[str, Any]:
    """The inner Gemini ``GenerateContentRequest`` for a legacy completions body."""
    view = parse_completion_request(body)
    _reject_unsupported(body)
    config = sampling_config(body, view.n, ctx.upstream_model)
    if ctx.thinking_budget is not None:
        config["thinkingConfig"] = {"thinkingBudget": ctx.thinking_budget}
    request: dict[str, Any] = {"generationConfig": config} if config else {}
    request["safetySettings"] = safety_settings()
    request["contents"] = [{"role": "user", "parts": [{"text": prompt_of(body)}]}]
    return request


def prompt_of(body: JsonObject) -> str:
    """The one prompt: a non-empty string, or a list holding exactly one.

    Why a longer list is refused: OpenAI answers each prompt with its own ``n``
    choices (indexes ``prompt * n + i``); the upstream answers one conversation
    per request, so the handler would have to fan out. Better an honest 400.
    """
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        if len(prompt) != 1:
            raise InvalidRequest(
                f"'prompt' holds {len(prompt)} prompts; this gateway completes one "
                "prompt per request. Send each prompt in its own request.",
                param="prompt",
            )
        if not isinstance(prompt[0], str):
            raise unsupported("prompt", "send the prompt as text, not token ids")
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise invalid_type("prompt", "a string or an array of strings", prompt)
    if not prompt:
        raise invalid_value("prompt", "expected a non-empty string.")
    return prompt


def _reject_unsupported(body: JsonObject) -> None:
    if body.get("suffix") not in (None, ""):
        raise unsupported("suffix", "the upstream cannot insert text")
    if optional_bool(body, "echo"):
        raise unsupported("echo", "the prompt is not echoed")
    if body.get("logprobs") is not None:
        raise unsupported("logprobs", "the upstream returns no log probabilities")
    best_of = optional_int(body, "best_of", low=1)
    if best_of is not None and best_of > 1:
        raise unsupported("best_of", "use n and pick on the client")


@dataclass(slots=True)
class _Choice:
    finished: bool = False


class CompletionStreamTranslator(CandidateStream[TextCompletion]):
    """Feeds upstream events in, gets ``text_completion`` chunk frames out.

    :param ctx: ids, model name and ``include_usage`` of this response.
    """

    def __init__(self, ctx: ChatContext) -> None:
        super().__init__(ctx)
        self._choices: dict[int, _Choice] = {}

    def _on_prompt_blocked(self) -> list[TextCompletion]:
        return self._finished(0, "content_filter")

    def _close_choices(self) -> list[TextCompletion]:
        indexes = sorted(self._choices) or [0]
        return [c for i in indexes for c in self._finished(i, DEFAULT_FINISH_REASON)]

    def _usage_chunk(self, usage: Usage) -> TextCompletion:
        return self._chunk([], usage)

    def _on_candidate(self, candidate: Candidate) -> list[TextCompletion]:
        index = candidate.index
        if self._choices.setdefault(index, _Choice()).finished:
            return []
        text = "".join(_text_of(part) for part in candidate.parts)
        out = [self._text(index, text, None)] if text else []
        if candidate.finish_reason is not None:
            reason = finish_reason_from_upstream(candidate.finish_reason)
            out += self._finished(index, reason)
        return out

    def _finished(self, index: int, reason: str) -> list[TextCompletion]:
        choice = self._choices.setdefault(index, _Choice())
        if choice.finished:
            return []
        choice.finished = True
        return [self._text(index, "", reason)]

    def _text(self, index: int, text: str, reason: str | None) -> TextCompletion:
        return self._chunk(
            [{"text": text, "index": index, "logprobs": None, "finish_reason": reason}]
        )

    def _chunk(
        self, choices: list[TextChoice], usage: Usage | None = None
    ) -> TextCompletion:
        chunk: TextCompletion = {
            "id": self._ctx.id,
            "object": "text_completion",
            "created": self._ctx.created,
            "model": self._ctx.model,
            "choices": choices,
        }
        if self._ctx.include_usage:
            chunk["usage"] = usage
        return chunk


def _text_of(part: Part) -> str:
    """The visible text of one part: text or an image, never a thought or a call."""
    if part.thought:
        return ""
    if part.inline_data is not None:
        return image_markdown(part.inline_data)
    return part.text or ""


def response_from_upstream(
    chunks: Iterable[Mapping[str, Any]], ctx: ChatContext
) -> TextCompletion:
    """The ``text_completion`` for a list of upstream stream events: the fold of
    the chunks the stream translator would have sent, so both answers agree."""
    translator = CompletionStreamTranslator(replace(ctx, include_usage=True))
    emitted = [out for chunk in chunks for out in translator.feed_chunks(chunk)]
    return completion_from_chunks([*emitted, *translator.finish_chunks()], ctx)


def completion_from_chunks(
    chunks: Iterable[Mapping[str, Any]], ctx: ChatContext
) -> TextCompletion:
    """Fold ``text_completion`` chunks (ours, or parsed SSE) into one answer."""
    texts: dict[int, list[str]] = {}
    reasons: dict[int, str] = {}
    usage: Usage | None = None
    for chunk in chunks:
        usage = chunk.get("usage") or usage
        for choice in chunk["choices"]:
            texts.setdefault(choice["index"], []).append(choice["text"])
            if choice.get("finish_reason"):
                reasons[choice["index"]] = choice["finish_reason"]
    choices: list[TextChoice] = [
        {
            "text": "".join(texts[index]),
            "index": index,
            "logprobs": None,
            "finish_reason": reasons.get(index, DEFAULT_FINISH_REASON),
        }
        for index in sorted(texts)
    ]
    return {
        "id": ctx.id,
        "object": "text_completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": choices,
        "usage": usage or usage_from_upstream(TokenUsage()),
    }
