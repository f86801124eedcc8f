"""The official openai SDK's images and audio calls against real gunicorn and the fake.

Also detect and warm-up (plain HTTP: the SDK has no such calls) and the wildcard
mapping's most-specific-pattern rule, seen on the wire.
"""

from __future__ import annotations

import base64
import io
import json
import wave

import openai
import pytest
import requests

from tests.conftest import API_KEY
from tests.e2e.conftest import sdk_stack
from tests.fakes.cloudcode import Reply, quota_exhausted

pytestmark = pytest.mark.e2e

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x07" * 24
MASK = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 24
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x03" * 24
AUDIO_LIMIT = 40_000
MAPPING = {
    "gpt-4*": "gemini-3-flash",
    "gpt*": "gemini-2.5-flash",
    "claude-opus-*": "claude-sonnet-4-6",
    "claude-opus*thinking": "claude-opus-4-6-thinking",
    "dall-e-*": "gemini-3-pro-image",
    "dall-e-3*": "gemini-3-pro-image-16x9",
}
SEGMENTS = (
    '{"language": "english", "segments": ['
    '{"start": 0, "end": 0.6, "text": "Hello there."},'
    '{"start": 0.6, "end": 1.0, "text": "General Kenobi."}]}'
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def image_reply(data: bytes = PNG, mime: str = "image/png") -> Reply:
    return Reply([{"inlineData": {"mimeType": mime, "data": b64(data)}}])


def make_wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x10\x00" * int(rate * seconds))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One fake upstream and one gateway (1 worker, 8 threads) for the module."""
    home = tmp_path_factory.mktemp("images-audio-e2e") / "home"
    extra = {"model_mapping": MAPPING, "audio": {"max_bytes": AUDIO_LIMIT}}
    with sdk_stack(home, extra=extra, workers=1) as stack:
        yield stack


@pytest.fixture
def fake(stack):
    fake, _ = stack
    fake.reset()
    return fake


@pytest.fixture
def client(stack):
    _, gateway = stack
    return openai.OpenAI(
        base_url=gateway.base_url + "/v1", api_key=API_KEY, max_retries=0
    )


def post(stack, path: str, body: dict) -> requests.Response:
    _, gateway = stack
    headers = {"Authorization": f"Bearer {API_KEY}"}
    return requests.post(
        gateway.base_url + path, json=body, headers=headers, timeout=10
    )


def test_images_generate_b64_json(client, fake):
    fake.script(image_reply())
    result = client.images.generate(
        model="gemini-3.1-flash-image", prompt="a lighthouse", size="1536x1024"
    )
    assert [d.b64_json for d in result.data] == [b64(PNG)]
    assert result.usage.input_tokens == 2
    sent = fake.calls(":generateContent")[-1].json
    assert (sent["model"], sent["requestType"]) == (
        "gemini-3.1-flash-image",
        "image_gen",
    )
    assert sent["request"]["generationConfig"]["imageConfig"] == {"aspectRatio": "3:2"}


def test_images_generate_url_is_data_uri(client, fake):
    fake.script(image_reply(JPEG))
    result = client.images.generate(
        model="gemini-3.1-flash-image", prompt="x", response_format="url", quality="hd"
    )
    assert result.data[0].url == "data:image/jpeg;base64," + b64(JPEG)
    config = fake.calls(":generateContent")[-1].json["request"]["generationConfig"]
    assert config["imageConfig"] == {"aspectRatio": "1:1", "imageSize": "4K"}


def test_images_generate_n3_with_one_account_failing(client, fake):
    model = "gemini-3-pro-image"
    fake.script(
        *[quota_exhausted("30s", model=model)] * 3, account="ultra@example.test"
    )
    fake.script(*[image_reply()] * 3, account="pro@example.test")
    result = client.images.generate(model=model, prompt="three please", n=3)
    assert len(result.data) == 3
    served = [c.account_email for c in fake.calls(":generateContent")]
    assert served.count("pro@example.test") == 3
    assert "ultra@example.test" in served


def test_images_edit_with_image_and_mask(client, fake):
    fake.script(image_reply())
    result = client.images.edit(
        model="gemini-3.1-flash-image",
        image=("photo.png", JPEG, "image/png"),
        mask=("mask.png", MASK, "image/png"),
        prompt="add a red hat",
    )
    assert result.data[0].b64_json == b64(PNG)
    parts = fake.calls(":generateContent")[-1].json["request"]["contents"][0]["parts"]
    assert parts[0] == {"text": "add a red hat"}
    assert parts[1]["inlineData"] == {"mimeType": "image/jpeg", "data": b64(JPEG)}
    assert parts[-1]["inlineData"] == {"mimeType": "image/png", "data": b64(MASK)}


def test_images_edit_rejects_non_image_and_oversized(client, fake):
    with pytest.raises(openai.BadRequestError) as info:
        client.images.edit(image=("notes.png", b"just text", "image/png"), prompt="x")
    assert info.value.body["param"] == "image"
    big = PNG + b"\x00" * (15 * 1024 * 1024)
    with pytest.raises(openai.BadRequestError) as info:
        client.images.edit(image=("big.png", big, "image/png"), prompt="x")
    assert "too large" in info.value.message
    assert fake.calls(":generateContent") == []


def transcribe(client, fmt: str, data: bytes | None = None, name: str = "talk.wav"):
    return client.audio.transcriptions.create(
        model="whisper-1",
        file=(name, data if data is not None else make_wav(), "audio/wav"),
        response_format=fmt,
        language="en",
    )


def test_transcription_json(client, fake):
    fake.script(Reply([{"text": "Hello there. General Kenobi."}]))
    result = transcribe(client, "json")
    assert result.text == "Hello there. General Kenobi."
    assert result.usage.type == "tokens"
    envelope = fake.calls(":generateContent")[-1].json
    assert envelope["model"] == "gemini-2.5-flash"
    audio = envelope["request"]["contents"][0]["parts"][0]["inlineData"]
    assert audio == {"mimeType": "audio/wav", "data": b64(make_wav())}


def test_transcription_text(client, fake):
    fake.script(Reply([{"text": "Hello there."}]))
    assert transcribe(client, "text") == "Hello there.\n"


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (
            "srt",
            "1\n00:00:00,000 --> 00:00:00,600\nHello there.\n\n"
            "2\n00:00:00,600 --> 00:00:01,000\nGeneral Kenobi.\n\n",
        ),
        (
            "vtt",
            "WEBVTT\n\n00:00:00.000 --> 00:00:00.600\nHello there.\n\n"
            "00:00:00.600 --> 00:00:01.000\nGeneral Kenobi.\n\n",
        ),
    ],
)
def test_transcription_subtitles(client, fake, fmt, expected):
    fake.script(Reply([{"text": SEGMENTS}]))
    assert transcribe(client, fmt) == expected


def test_transcription_verbose_json(client, fake):
    fake.script(Reply([{"text": SEGMENTS}]))
    result = transcribe(client, "verbose_json")
    assert (result.language, result.duration) == ("english", 1.0)
    assert result.text == "Hello there. General Kenobi."
    assert [(s.id, s.start, s.end) for s in result.segments] == [
        (0, 0.0, 0.6),
        (1, 0.6, 1.0),
    ]


def test_transcription_verbose_json_word_timestamps(client, fake):
    words = [
        {"word": "Hello", "start": 0, "end": 0.3},
        {"word": "there.", "start": 0.3, "end": 0.6},
    ]
    fake.script(Reply([{"text": SEGMENTS[:-1] + f', "words": {json.dumps(words)}}}'}]))
    result = client.audio.transcriptions.create(
        model="whisper-1",
        file=("talk.wav", make_wav(), "audio/wav"),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert [(w.word, w.start, w.end) for w in result.words] == [
        ("Hello", 0.0, 0.3),
        ("there.", 0.3, 0.6),
    ]
    assert len(result.segments) == 2
    with pytest.raises(openai.BadRequestError) as info:
        client.audio.transcriptions.create(
            model="whisper-1",
            file=("talk.wav", make_wav(), "audio/wav"),
            timestamp_granularities=["word"],
        )
    assert info.value.body["param"] == "timestamp_granularities[]"


def test_transcription_limits_and_non_audio(client, fake):
    with pytest.raises(openai.APIStatusError) as info:
        transcribe(client, "json", make_wav(3.0))
    assert info.value.status_code == 413
    assert info.value.body["param"] == "file"
    with pytest.raises(openai.BadRequestError) as info:
        transcribe(client, "json", b"%PDF-1.7 definitely not audio", "talk.mp3")
    assert "Supported formats" in info.value.message
    assert fake.calls(":generateContent") == []


@pytest.mark.parametrize(
    ("model", "mapped", "kind"),
    [
        ("claude-sonnet-4-5", "claude-sonnet-4-6", "agent"),
        ("gemini-3-flash-online", "gemini-3-flash", "web_search"),
        ("gemini-3-pro-image-21x9-2k", "gemini-3-pro-image", "image_gen"),
    ],
)
def test_detect_chat_web_search_and_image(stack, model, mapped, kind):
    response = post(stack, "/v1/models/detect", {"model": model})
    assert response.status_code == 200
    body = response.json()
    assert (body["mapped_model"], body["type"]) == (mapped, kind)
    assert body["features"]["has_web_search"] is (kind == "web_search")
    if kind == "image_gen":
        assert body["config"] == {"aspectRatio": "21:9", "imageSize": "2K"}


@pytest.mark.parametrize(
    ("model", "mapped"),
    [
        ("gpt-4.1", "gemini-3-flash"),
        ("gpt-5", "gemini-2.5-flash"),
        ("claude-opus-4-9-thinking", "claude-opus-4-6-thinking"),
        ("claude-opus-4-9", "claude-sonnet-4-6"),
    ],
)
def test_wildcard_mapping_most_specific_wins(stack, model, mapped):
    assert (
        post(stack, "/v1/models/detect", {"model": model}).json()["mapped_model"]
        == mapped
    )


def test_wildcard_mapping_applies_to_image_requests(client, fake):
    fake.script(image_reply(), image_reply())
    client.images.generate(model="dall-e-3", prompt="wide")
    client.images.generate(model="dall-e-2", prompt="square")
    sent = [c.json for c in fake.calls(":generateContent")]
    assert [s["model"] for s in sent] == ["gemini-3-pro-image"] * 2
    ratios = [s["request"]["generationConfig"]["imageConfig"] for s in sent]
    assert ratios == [{"aspectRatio": "16:9"}, {"aspectRatio": "1:1"}]


def test_warmup_named_account(stack, fake):
    response = post(stack, "/internal/warmup", {"account_id": "pro", "model": "gpt-4o"})
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "Warmup triggered for gemini-3-flash",
    }
    call = fake.calls(":generateContent")[-1]
    assert (call.account_email, call.json["model"]) == (
        "pro@example.test",
        "gemini-3-flash",
    )
    _, gateway = stack
    unauthenticated = requests.post(
        gateway.base_url + "/internal/warmup", json={"account_id": "pro"}, timeout=10
    )
    assert unauthenticated.status_code == 401
