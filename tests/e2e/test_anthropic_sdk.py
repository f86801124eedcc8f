"""The official anthropic SDK against real gunicorn (2 workers) and the fake upstream."""

from __future__ import annotations

import base64
import datetime

import anthropic
import pytest

from tests.conftest import API_KEY
from tests.e2e.conftest import sdk_stack
from tests.fakes.cloudcode import Stream, quota_exhausted
from tests.fakes.cloudcode import unavailable as upstream_unavailable
from tests.integration.anthropic_support import WEATHER_TOOL

pytestmark = pytest.mark.e2e

MODEL = "gemini-3-flash"
WEATHER = {
    **WEATHER_TOOL,
    "input_schema": {**WEATHER_TOOL["input_schema"], "additionalProperties": False},
}
THINKING = {"type": "enabled", "budget_tokens": 2048}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One fake upstream and one gateway (2 workers) shared by this module's tests."""
    with sdk_stack(tmp_path_factory.mktemp("anthropic-e2e") / "home") as stack:
        yield stack


@pytest.fixture
def fake(stack):
    fake, _ = stack
    fake.reset()
    return fake


@pytest.fixture
def client(stack):
    _, gateway = stack
    with anthropic.Anthropic(
        base_url=gateway.base_url, api_key=API_KEY, max_retries=0
    ) as client:
        yield client


def upstream_parts(fake) -> list[dict]:
    request = fake.calls(":streamGenerateContent")[-1].json["request"]
    return [p for c in request["contents"] for p in c["parts"]]


def test_sdk_messages_create(client, fake):
    message = client.messages.create(
        model=MODEL,
        max_tokens=256,
        messages=[{"role": "user", "content": "hello from the sdk"}],
    )
    assert message.id.startswith("msg_")
    assert message.content[0].text == "echo: hello from the sdk"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 4


def test_sdk_stream_helper_event_order(client, fake):
    with client.messages.stream(
        model=MODEL,
        max_tokens=256,
        messages=[{"role": "user", "content": "stream me please"}],
    ) as stream:
        raw = [e.type for e in stream if e.type not in ("text", "content_block")]
        final = stream.get_final_message()
    deltas = raw.count("content_block_delta")
    assert deltas >= 2
    assert raw == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * deltas,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert final.content[0].text == "echo: stream me please"
    assert final.stop_reason == "end_turn"


def test_sdk_tool_use_round_trip(client, fake):
    question = {"role": "user", "content": "please call get_weather"}
    first = client.messages.create(
        model=MODEL, max_tokens=256, tools=[WEATHER], messages=[question]
    )
    assert first.stop_reason == "tool_use"
    call = first.content[-1]
    assert call.type == "tool_use" and call.name == "get_weather"
    assert call.input == {"city": "x"}
    result = {"type": "tool_result", "tool_use_id": call.id, "content": "21 C"}
    second = client.messages.create(
        model=MODEL,
        max_tokens=256,
        tools=[WEATHER],
        messages=[
            question,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [result]},
        ],
    )
    assert second.content[0].text.startswith("echo: get_weather -> ")
    assert '"21 C"' in second.content[0].text
    sent = upstream_parts(fake)
    declared = fake.calls(":streamGenerateContent")[-1].json["request"]["tools"]
    assert "additionalProperties" not in str(declared)
    assert sent[-1]["functionResponse"]["name"] == "get_weather"


def script_thinking_call(fake, call: dict, signature: str) -> None:
    """An upstream turn: an unsigned thought, then a signed call."""
    thought = {"text": "Hmm.", "thought": True}
    signed = {"functionCall": call, "thoughtSignature": signature}
    fake.script(
        Stream(
            [
                {"candidates": [{"content": {"parts": [thought]}}]},
                {
                    "candidates": [
                        {"content": {"parts": [signed]}, "finishReason": "STOP"}
                    ]
                },
            ]
        )
    )


@pytest.mark.parametrize("replay", ["signature", "blank"])
def test_sdk_thinking_tool_conversation_carries_signature(client, fake, replay):
    signature = f"sig-e2e-{replay}-0123456789"
    call = {
        "name": "get_weather",
        "args": {"city": "Oslo"},
        "id": f"toolu_e2e_{replay}",
    }
    script_thinking_call(fake, call, signature)
    question = {"role": "user", "content": "weather in Oslo?"}
    options = {
        "model": MODEL,
        "max_tokens": 4096,
        "tools": [WEATHER],
        "thinking": THINKING,
    }
    with client.messages.stream(messages=[question], **options) as stream:
        first = stream.get_final_message()
    thinking, tool_use = first.content
    assert thinking.type == "thinking" and thinking.signature.startswith("agp1.")
    replayed = first.content
    if replay == "blank":
        replayed = [{"type": "thinking", "thinking": "Hmm.", "signature": ""}, tool_use]
    result = {"type": "tool_result", "tool_use_id": tool_use.id, "content": "snow"}
    for _ in range(2):  # two calls: with 2 workers, the store is read across them
        client.messages.create(
            messages=[
                question,
                {"role": "assistant", "content": replayed},
                {"role": "user", "content": [result]},
            ],
            **options,
        )
        replayed_call = next(p for p in upstream_parts(fake) if "functionCall" in p)
        assert replayed_call["thoughtSignature"] == signature


def test_sdk_image_and_pdf(client, fake):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nimage bytes").decode()
    pdf = base64.b64encode(b"%PDF-1.7 document bytes").decode()
    message = client.messages.create(
        model=MODEL,
        max_tokens=256,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": png,
                        },
                    },
                    {
                        "type": "document",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": pdf,
                        },
                    },
                    {"type": "text", "text": "what are these"},
                ],
            }
        ],
    )
    assert message.content[0].text == "echo: what are these"
    assert upstream_parts(fake)[:2] == [
        {"inlineData": {"mimeType": "image/png", "data": png}},
        {"inlineData": {"mimeType": "application/pdf", "data": pdf}},
    ]


def test_sdk_count_tokens(client, fake):
    request = {
        "model": MODEL,
        "system": "be short",
        "messages": [{"role": "user", "content": "count these five words"}],
    }
    assert client.messages.count_tokens(**request).input_tokens == 6
    assert client.messages.count_tokens(**request).input_tokens == 6
    assert len(fake.calls(":countTokens")) == 1  # the second came from the cache


def test_sdk_models_list(client, fake):
    first = client.models.list(limit=5)
    assert len(first.data) == 5 and first.has_more
    models = list(client.models.list(limit=5))  # the SDK walks every page
    ids = [m.id for m in models]
    assert len(ids) == len(set(ids)) > 10 and "gemini-3-flash" in ids
    flash = next(m for m in models if m.id == "gemini-3-flash")
    assert flash.display_name == "Gemini 3 Flash" and flash.type == "model"
    assert flash.created_at == datetime.datetime(2024, 2, 1, tzinfo=datetime.UTC)
    assert client.models.retrieve("gemini-3-flash").display_name == "Gemini 3 Flash"


def test_sdk_bad_request_error(client, fake):
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(
            model=MODEL,
            max_tokens=256,
            messages=[{"role": "user", "content": [{"type": "video", "url": "x"}]}],
        )
    assert info.value.status_code == 400
    assert info.value.body["error"]["type"] == "invalid_request_error"
    assert "messages[0].content[0].type" in info.value.message


def test_sdk_authentication_error(stack):
    _, gateway = stack
    with anthropic.Anthropic(
        base_url=gateway.base_url, api_key="sk-wrong", max_retries=0
    ) as bad:
        with pytest.raises(anthropic.AuthenticationError) as info:
            bad.messages.create(
                model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
    assert info.value.body["error"]["type"] == "authentication_error"


def test_sdk_rate_limit_error(client, fake):
    fake.script(quota_exhausted("60s"), quota_exhausted("60s"))
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(
            model="gemini-3-pro-high",  # its own quota group: other tests unaffected
            max_tokens=16,
            messages=[{"role": "user", "content": "rate limit me"}],
        )
    assert int(info.value.response.headers["retry-after"]) >= 1
    assert info.value.body["error"]["type"] == "rate_limit_error"


def test_sdk_overloaded_error(client, fake):
    fake.script(*[upstream_unavailable()] * 3)
    with pytest.raises(anthropic.OverloadedError) as info:
        client.messages.create(
            model="gemini-3-pro-image",  # its own quota group: other tests unaffected
            max_tokens=16,
            messages=[{"role": "user", "content": "overload me"}],
        )
    assert info.value.status_code == 529
    assert info.value.body["error"]["type"] == "overloaded_error"
