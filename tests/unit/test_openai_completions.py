"""Legacy OpenAI completions <-> Gemini: golden cases plus the behaviours around them.

Layout as in ``test_openai_chat_mapping.py``: each directory of
``tests/golden/openai_completions`` holds ``request.json`` (and ``context.json``),
then ``upstream_request.json`` or ``error.json``, and for answer cases
``upstream_stream.json`` -> ``stream.sse`` and ``response.json``.
``UPDATE_GOLDEN=1`` rewrites the expected files.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from openai.types import Completion as SDKCompletion

from antigravity_proxy.errors import InvalidRequest, UpstreamUnavailable
from antigravity_proxy.protocols.openai.completions import (
    CompletionStreamTranslator,
    completion_from_chunks,
    parse_completion_request,
    request_to_upstream,
    response_from_upstream,
)
from antigravity_proxy.protocols.openai.errors import error_body
from antigravity_proxy.protocols.openai.types import ChatContext
from antigravity_proxy.sse import SSEDecoder
from tests.golden_files import check_json, check_text, load

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "openai_completions"
CASES = sorted(path for path in GOLDEN.iterdir() if path.is_dir())
REQUEST_CASES = [
    pytest.param(c, id=c.name) for c in CASES if not c.name.startswith("error_")
]
ERROR_CASES = [pytest.param(c, id=c.name) for c in CASES if c.name.startswith("error_")]
STREAM_CASES = [
    pytest.param(c, id=c.name) for c in CASES if (c / "upstream_stream.json").exists()
]


def context_for(case):
    body = load(case / "request.json")
    extra = load(case / "context.json") if (case / "context.json").exists() else {}
    include_usage = False
    if (case / "upstream_stream.json").exists():
        include_usage = parse_completion_request(body).include_usage
    return ChatContext(
        id="cmpl-golden",
        created=1700000000,
        model=body.get("model", "m") if isinstance(body, dict) else "m",
        include_usage=include_usage,
        thinking_budget=extra.get("thinking_budget"),
    )


def stream_bytes(case, ctx):
    translator = CompletionStreamTranslator(ctx)
    frames = [
        f
        for chunk in load(case / "upstream_stream.json")
        for f in translator.feed(chunk)
    ]
    return b"".join(frames + translator.finish())


def sse_chunks(raw):
    decoder = SSEDecoder()
    events = decoder.feed(raw) + decoder.flush()
    assert events[-1].data == "[DONE]"
    return [json.loads(event.data) for event in events[:-1]]


@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_to_upstream_matches_golden(case):
    body = load(case / "request.json")
    before = copy.deepcopy(body)
    check_json(
        case / "upstream_request.json", request_to_upstream(body, context_for(case))
    )
    assert body == before


@pytest.mark.parametrize("case", ERROR_CASES)
def test_request_to_upstream_rejects_golden(case):
    with pytest.raises(InvalidRequest) as info:
        request_to_upstream(load(case / "request.json"), context_for(case))
    actual = {"status": info.value.status, "body": error_body(info.value)}
    check_json(case / "error.json", actual)
    assert actual["body"]["error"]["param"]


@pytest.mark.parametrize("case", STREAM_CASES)
def test_stream_matches_golden(case):
    raw = stream_bytes(case, context_for(case))
    check_text(case / "stream.sse", raw.decode("utf-8"))


@pytest.mark.parametrize("case", STREAM_CASES)
def test_response_matches_golden(case):
    actual = response_from_upstream(
        load(case / "upstream_stream.json"), context_for(case)
    )
    check_json(case / "response.json", actual)
    # Only whole objects: the SDK model rejects the null finish_reason that
    # OpenAI's own stream chunks carry.
    SDKCompletion.model_validate(actual)


@pytest.mark.parametrize("case", STREAM_CASES)
def test_response_equals_fold_of_streamed_chunks(case):
    ctx = context_for(case)
    folded = completion_from_chunks(sse_chunks((case / "stream.sse").read_bytes()), ctx)
    expected = load(case / "response.json")
    if not ctx.include_usage:
        folded.pop("usage")
        expected.pop("usage")
    assert folded == expected


def test_thoughts_are_not_text_but_count_as_completion_tokens():
    case = GOLDEN / "string_prompt"
    response = response_from_upstream(
        load(case / "upstream_stream.json"), context_for(case)
    )
    assert response["choices"][0]["text"] == " there was a fox."
    assert response["usage"]["completion_tokens"] == 11


def test_usage_is_null_on_every_chunk_but_the_last_when_included():
    case = GOLDEN / "list_of_one_n_2_include_usage"
    chunks = sse_chunks(stream_bytes(case, context_for(case)))
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 11


def test_error_after_first_byte_is_an_error_event_then_done():
    translator = CompletionStreamTranslator(
        ChatContext(id="cmpl-e", created=1, model="m")
    )
    assert translator.feed({"candidates": [{"content": {"parts": [{"text": "a"}]}}]})
    frames = translator.error(UpstreamUnavailable("upstream unreachable"))
    assert frames[-1] == b"data: [DONE]\n\n"
    assert sse_chunks(b"".join(frames))[0]["error"]["message"] == "upstream unreachable"
    assert translator.finish() == []
    assert translator.error(UpstreamUnavailable("again")) == []
    assert (
        translator.feed({"candidates": [{"content": {"parts": [{"text": "b"}]}}]}) == []
    )


def test_finished_choice_ignores_later_candidates():
    ctx = ChatContext(id="cmpl-l", created=1, model="m")
    done = {
        "candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"}]
    }
    late = {
        "candidates": [{"content": {"parts": [{"text": "b"}]}, "finishReason": "STOP"}]
    }
    assert response_from_upstream([done, late], ctx)["choices"][0]["text"] == "a"


def test_parse_completion_request_gives_the_handler_its_facts():
    view = parse_completion_request(
        {"model": "m", "prompt": "x", "n": 2, "stream": True}
    )
    assert (view.model, view.stream, view.include_usage, view.n) == (
        "m",
        True,
        False,
        2,
    )


def test_finish_chunks_twice_is_empty():
    translator = CompletionStreamTranslator(
        ChatContext(id="cmpl-f", created=1, model="m")
    )
    assert len(translator.finish_chunks()) == 1
    assert translator.finish_chunks() == []
