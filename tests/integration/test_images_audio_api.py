"""Images, audio, detect and warm-up through the WSGI app against the fake upstream."""

from __future__ import annotations

import base64
import io
import wave

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from antigravity_proxy.cli import main
from tests.conftest import write_config
from tests.fakes.cloudcode import (
    Fault,
    Reply,
    bad_request,
    quota_exhausted,
    rate_limited,
    server_error,
)
from tests.upstream_env import read_account, seed_account, upstream_section

IMAGE_MODEL = "gemini-3.1-flash-image"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x01" * 20
JPEG = b"\xff\xd8\xff\xe0" + b"\x02" * 20


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
        out.writeframes(b"\x00\x01" * int(rate * seconds))
    return buffer.getvalue()


def upload(data: bytes, name: str, mime: str = "application/octet-stream"):
    return (io.BytesIO(data), name, mime)


@pytest.fixture
def two_accounts(home, fake_upstream):
    seed_account(home, fake_upstream, "a", tier="Google AI Ultra")
    seed_account(home, fake_upstream, "b", tier="Google AI Pro")


def test_generations_b64_sends_image_gen_envelope(gateway, two_accounts, fake_upstream):
    fake_upstream.script(image_reply())
    response = gateway().post(
        "/v1/images/generations",
        json={"prompt": "a red fox", "size": "1792x1024", "quality": "hd"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["data"] == [{"b64_json": b64(PNG)}]
    assert isinstance(response.json["created"], int)
    assert response.json["usage"]["input_tokens"] == 3
    assert response.headers["X-Mapped-Model"] == IMAGE_MODEL
    call = fake_upstream.calls(":generateContent")[-1]
    assert call.query == {}
    envelope = call.json
    assert (envelope["model"], envelope["requestType"]) == (IMAGE_MODEL, "image_gen")
    config = envelope["request"]["generationConfig"]
    assert config == {
        "candidateCount": 1,
        "imageConfig": {"aspectRatio": "16:9", "imageSize": "4K"},
    }
    parts = envelope["request"]["contents"][0]["parts"]
    assert parts == [{"text": "a red fox"}]


def test_generations_url_is_data_uri_with_sniffed_type(
    gateway, two_accounts, fake_upstream
):
    fake_upstream.script(image_reply(JPEG, "image/png"))
    response = gateway().post(
        "/v1/images/generations",
        json={
            "prompt": "x",
            "response_format": "url",
            "model": "gemini-3-pro-image-4k",
        },
    )
    assert response.status_code == 200
    assert response.json["data"] == [{"url": "data:image/jpeg;base64," + b64(JPEG)}]
    sent = fake_upstream.calls(":generateContent")[-1].json
    assert sent["model"] == "gemini-3-pro-image"
    assert sent["request"]["generationConfig"]["imageConfig"] == {
        "aspectRatio": "1:1",
        "imageSize": "4K",
    }


def test_generations_n3_one_account_out_of_quota_rotates(gateway, home, fake_upstream):
    seed_account(
        home, fake_upstream, "a", tier="Google AI Ultra", models={IMAGE_MODEL: 0}
    )
    seed_account(home, fake_upstream, "b", tier="Google AI Pro")
    fake_upstream.script(
        image_reply(), image_reply(), image_reply(), account="b@example.test"
    )
    response = gateway().post("/v1/images/generations", json={"prompt": "p", "n": 3})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(response.json["data"]) == 3
    assert response.headers["X-Antigravity-Account"] == "b"
    served = [c.account_email for c in fake_upstream.calls(":generateContent")]
    assert served.count("b@example.test") == 3


def test_generations_partial_success_returns_what_worked(
    gateway, two_accounts, fake_upstream
):
    fake_upstream.script(image_reply(), bad_request("nope"), image_reply())
    response = gateway().post("/v1/images/generations", json={"prompt": "p", "n": 3})
    assert response.status_code == 200
    assert len(response.json["data"]) == 2
    assert len(fake_upstream.calls(":generateContent")) == 3


def test_generations_all_quota_is_429_with_retry_after(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a", models={IMAGE_MODEL: 0})
    response = gateway().post("/v1/images/generations", json={"prompt": "p", "n": 2})
    assert response.status_code == 429
    assert response.json["error"]["type"] == "rate_limit_error"
    assert int(response.headers["Retry-After"]) >= 1


def test_generations_without_accounts_is_400_not_retried(gateway):
    response = gateway().post("/v1/images/generations", json={"prompt": "p"})
    assert response.status_code == 400
    assert response.headers["x-should-retry"] == "false"
    assert response.json["error"]["code"] == "no_usable_account"


def test_generations_upstream_failure_is_502(gateway, two_accounts, fake_upstream):
    fake_upstream.script(*[server_error()] * 6)
    response = gateway().post("/v1/images/generations", json={"prompt": "p", "n": 2})
    assert response.status_code == 502
    assert response.json["error"]["type"] == "api_error"


def test_generations_text_only_answer_is_502(gateway, two_accounts, fake_upstream):
    response = gateway().post("/v1/images/generations", json={"prompt": "p"})
    assert response.status_code == 502
    assert "without an image" in response.json["error"]["message"]


def test_generations_rate_limit_rotates(gateway, two_accounts, fake_upstream):
    fake_upstream.script(rate_limited(), account="a@example.test")
    fake_upstream.script(image_reply(), account="b@example.test")
    response = gateway().post("/v1/images/generations", json={"prompt": "p"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "prompt"),
        ({"prompt": "p", "n": 11}, "n"),
        ({"prompt": "p", "size": "wide"}, "size"),
        ({"prompt": "p", "response_format": "png"}, "response_format"),
    ],
)
def test_generations_bad_input_is_openai_400(gateway, body, param):
    response = gateway().post("/v1/images/generations", json=body)
    assert response.status_code == 400
    assert response.json["error"]["type"] == "invalid_request_error"
    assert response.json["error"]["param"] == param


def test_edits_image_and_mask_sent_inline_sniffed(gateway, two_accounts, fake_upstream):
    fake_upstream.script(image_reply())
    response = gateway().post(
        "/v1/images/edits",
        data={
            "prompt": "add a hat",
            "image": upload(JPEG, "photo.png", "image/png"),
            "mask": upload(PNG, "mask.png"),
            "size": "1024x1536",
            "response_format": "url",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["data"][0]["url"].startswith("data:image/png;base64,")
    request = fake_upstream.calls(":generateContent")[-1].json["request"]
    parts = request["contents"][0]["parts"]
    assert parts[0] == {"text": "add a hat"}
    assert parts[1] == {"inlineData": {"mimeType": "image/jpeg", "data": b64(JPEG)}}
    assert parts[3] == {"inlineData": {"mimeType": "image/png", "data": b64(PNG)}}
    assert request["generationConfig"]["imageConfig"] == {"aspectRatio": "2:3"}


def test_edits_several_images_with_brackets(gateway, two_accounts, fake_upstream):
    fake_upstream.script(image_reply(), image_reply())
    response = gateway().post(
        "/v1/images/edits",
        data={
            "prompt": "merge",
            "n": "2",
            "image[]": [upload(PNG, "a.png"), upload(JPEG, "b.jpg")],
        },
    )
    assert response.status_code == 200
    assert len(response.json["data"]) == 2
    parts = fake_upstream.calls(":generateContent")[-1].json["request"]["contents"][0][
        "parts"
    ]
    assert [p["inlineData"]["mimeType"] for p in parts[1:]] == [
        "image/png",
        "image/jpeg",
    ]


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({"prompt": "p"}, "image"),
        ({"image": (io.BytesIO(PNG), "a.png")}, "prompt"),
        (
            {"prompt": "p", "image": (io.BytesIO(b"%PDF-1.4 not an image"), "a.png")},
            "image",
        ),
        (
            {
                "prompt": "p",
                "image": (io.BytesIO(PNG), "a.png"),
                "mask": (io.BytesIO(b"text"), "m.png"),
            },
            "mask",
        ),
    ],
)
def test_edits_bad_uploads_are_400(gateway, data, param):
    response = gateway().post(
        "/v1/images/edits", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert response.json["error"]["param"] == param


def test_edits_json_body_is_400(gateway):
    response = gateway().post("/v1/images/edits", json={"prompt": "p", "image": "x"})
    assert response.status_code == 400
    assert "multipart/form-data" in response.json["error"]["message"]


def test_edits_image_over_limit_is_400(gateway):
    big = PNG + b"\x00" * (15 * 1024 * 1024)
    # Encoded here: the test client spools a large body to a file it never closes.
    image = FileStorage(io.BytesIO(big), filename="big.png")
    boundary, body = encode_multipart({"prompt": "p", "image": image})
    response = gateway().post(
        "/v1/images/edits",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 400
    assert "too large" in response.json["error"]["message"]


def transcribe(client, fmt=None, data=None, name="talk.wav", **fields):
    form = {"file": upload(data or make_wav(), name), "model": "whisper-1", **fields}
    if fmt:
        form["response_format"] = fmt
    return client.post("/v1/audio/transcriptions", data=form)


def test_transcription_json_default(gateway, two_accounts, fake_upstream):
    fake_upstream.script(Reply([{"text": "Hello there."}]))
    response = transcribe(gateway(), language="en", prompt="Kenobi")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["text"] == "Hello there."
    assert response.json["usage"]["type"] == "tokens"
    assert response.headers["X-Mapped-Model"] == "gemini-2.5-flash"
    envelope = fake_upstream.calls(":generateContent")[-1].json
    assert envelope["model"] == "gemini-2.5-flash"
    parts = envelope["request"]["contents"][0]["parts"]
    assert parts[0]["inlineData"]["mimeType"] == "audio/wav"
    assert base64.b64decode(parts[0]["inlineData"]["data"]) == make_wav()
    assert "'en'" in parts[1]["text"] and "Kenobi" in parts[1]["text"]


SEGMENTS_JSON = (
    '{"language": "english", "segments": ['
    '{"start": 0, "end": 0.5, "text": "Hello there."},'
    '{"start": 0.5, "end": 1.0, "text": "General Kenobi."}]}'
)


@pytest.mark.parametrize(
    ("fmt", "mimetype", "expected"),
    [
        ("text", "text/plain", "Hello there. General Kenobi.\n"),
        (
            "srt",
            "text/plain",
            "1\n00:00:00,000 --> 00:00:00,500\nHello there.\n\n"
            "2\n00:00:00,500 --> 00:00:01,000\nGeneral Kenobi.\n\n",
        ),
        (
            "vtt",
            "text/vtt",
            "WEBVTT\n\n00:00:00.000 --> 00:00:00.500\nHello there.\n\n"
            "00:00:00.500 --> 00:00:01.000\nGeneral Kenobi.\n\n",
        ),
    ],
)
def test_transcription_text_formats(
    gateway, two_accounts, fake_upstream, fmt, mimetype, expected
):
    text = SEGMENTS_JSON if fmt != "text" else "Hello there. General Kenobi."
    fake_upstream.script(Reply([{"text": text}]))
    response = transcribe(gateway(), fmt)
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.get_data(as_text=True) == expected


def test_transcription_verbose_json(gateway, two_accounts, fake_upstream):
    fake_upstream.script(Reply([{"text": SEGMENTS_JSON}]))
    response = transcribe(gateway(), "verbose_json")
    assert response.status_code == 200
    body = response.json
    assert (body["task"], body["language"], body["duration"]) == (
        "transcribe",
        "english",
        1.0,
    )
    assert body["text"] == "Hello there. General Kenobi."
    assert [s["end"] for s in body["segments"]] == [0.5, 1.0]
    sent = fake_upstream.calls(":generateContent")[-1].json["request"]
    assert sent["generationConfig"]["responseMimeType"] == "application/json"


def test_transcription_over_limit_is_413(gateway, two_accounts):
    client = gateway({"audio": {"max_bytes": 4000}})
    response = transcribe(client, data=make_wav(1.0))
    assert response.status_code == 413
    assert response.json["error"]["type"] == "invalid_request_error"
    assert response.json["error"]["param"] == "file"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"this is not audio at all", "talk.wav"),
        (PNG, "talk.mp3"),
        (make_wav(), "talk.txt"),
    ],
)
def test_transcription_non_audio_is_400(gateway, data, name):
    response = transcribe(gateway(), data=data, name=name)
    assert response.status_code == 400
    assert response.json["error"]["param"] == "file"
    assert "Supported formats" in response.json["error"]["message"]


def test_transcription_missing_file_is_400(gateway):
    response = gateway().post(
        "/v1/audio/transcriptions",
        data={"model": "whisper-1"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert response.json["error"]["param"] == "file"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            "gpt-4o",
            {
                "model": "gpt-4o",
                "mapped_model": "gemini-2.5-flash",
                "type": "agent",
                "features": {"has_web_search": False, "is_image_gen": False},
            },
        ),
        (
            "gemini-3-flash-online",
            {
                "model": "gemini-3-flash-online",
                "mapped_model": "gemini-3-flash",
                "type": "web_search",
                "features": {"has_web_search": True, "is_image_gen": False},
            },
        ),
        (
            "gemini-3-pro-image-16x9-4k",
            {
                "model": "gemini-3-pro-image-16x9-4k",
                "mapped_model": "gemini-3-pro-image",
                "type": "image_gen",
                "features": {"has_web_search": False, "is_image_gen": True},
                "config": {"aspectRatio": "16:9", "imageSize": "4K"},
            },
        ),
        (
            "gpt-4-turbo",
            {
                "model": "gpt-4-turbo",
                "mapped_model": "gemini-3-flash",
                "type": "agent",
                "features": {"has_web_search": False, "is_image_gen": False},
            },
        ),
        (
            "gpt-3.5-turbo",
            {
                "model": "gpt-3.5-turbo",
                "mapped_model": "wild-gpt",
                "type": "agent",
                "features": {"has_web_search": False, "is_image_gen": False},
            },
        ),
    ],
)
def test_detect_model(gateway, model, expected):
    client = gateway(
        {
            "model_mapping": {
                "gpt-4*": "gemini-3-flash",
                "gpt*": "wild-gpt",
                "gpt-4o": "gemini-2.5-flash",
            }
        }
    )
    response = client.post("/v1/models/detect", json={"model": model})
    assert response.status_code == 200
    assert response.json == expected


@pytest.mark.parametrize("body", [{}, {"model": ""}, {"model": 5}])
def test_detect_model_missing_is_400(gateway, body):
    response = gateway().post("/v1/models/detect", json=body)
    assert response.status_code == 400
    assert response.json["error"]["param"] == "model"


def test_warmup_named_account_by_email(gateway, two_accounts, fake_upstream):
    response = gateway().post(
        "/internal/warmup", json={"email": "B@example.test", "model": "gemini-3-flash"}
    )
    assert response.status_code == 200
    assert response.json == {
        "success": True,
        "message": "Warmup triggered for gemini-3-flash",
    }
    call = fake_upstream.calls(":generateContent")[-1]
    assert call.account_email == "b@example.test"
    assert call.json["request"]["contents"][0]["parts"] == [{"text": "Say hi"}]
    assert response.headers["X-Antigravity-Account"] == "b"


def test_warmup_by_account_id_failure_keeps_upstream_status(
    gateway, two_accounts, fake_upstream
):
    fake_upstream.script(quota_exhausted("60s"), account="a@example.test")
    response = gateway().post("/internal/warmup", json={"account_id": "a"})
    assert response.status_code == 429
    assert response.json["success"] is False
    assert response.json["message"] == "Warmup failed: HTTP 429"
    assert "exhausted" in response.json["error"]
    assert [c.account_email for c in fake_upstream.calls(":generateContent")] == [
        "a@example.test"
    ]


def test_warmup_image_model_asks_text_only(gateway, two_accounts, fake_upstream):
    response = gateway().post(
        "/internal/warmup", json={"account_id": "a", "model": "gemini-3-pro-image"}
    )
    assert response.status_code == 200
    envelope = fake_upstream.calls(":generateContent")[-1].json
    assert envelope["requestType"] == "image_gen"
    assert envelope["request"]["generationConfig"] == {
        "temperature": 0,
        "maxOutputTokens": 10,
        "responseModalities": ["TEXT"],
    }


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"account_id": "zz"}, 404),
        ({"account_id": "../etc"}, 404),
        ({"account_id": 5}, 400),
        ({"email": "nobody@example.test"}, 404),
        ({}, 400),
    ],
)
def test_warmup_unknown_account(gateway, two_accounts, body, status):
    assert gateway().post("/internal/warmup", json=body).status_code == status


def test_warmup_follows_auth_mode(gateway, two_accounts):
    client = gateway({"proxy": {"api_key": "sk-test", "auth_mode": "strict"}})
    denied = client.post("/internal/warmup", json={"account_id": "a"})
    assert denied.status_code == 401
    allowed = client.post(
        "/internal/warmup",
        json={"account_id": "a"},
        headers={"Authorization": "Bearer sk-test"},
    )
    assert allowed.status_code == 200


def test_warmup_disabled_account_is_refused(gateway, home, two_accounts, fake_upstream):
    assert (
        main(
            ["--config", str(_config(home, fake_upstream)), "accounts", "disable", "a"]
        )
        == 0
    )
    response = gateway().post("/internal/warmup", json={"account_id": "a"})
    assert response.status_code == 409
    assert response.json["success"] is False
    assert fake_upstream.calls(":generateContent") == []


def _config(home, fake_upstream, mapping=None):
    data = {
        "proxy": {"api_key": "sk-x"},
        "upstream": upstream_section(fake_upstream.base_url),
    }
    if mapping:
        data["model_mapping"] = mapping
    return write_config(home, data)


def test_cli_accounts_warmup_all_and_one(home, two_accounts, fake_upstream, capsys):
    path = str(_config(home, fake_upstream))
    assert main(["--config", path, "accounts", "warmup"]) == 0
    out = capsys.readouterr().out
    assert "a: Warmup triggered for gemini-3-flash" in out
    assert "b: Warmup triggered for gemini-3-flash" in out
    fake_upstream.script(server_error(), server_error(), account="b@example.test")
    assert main(["--config", path, "accounts", "warmup", "b", "--model", "gpt-4o"]) == 1
    err = capsys.readouterr().err
    assert "b: Warmup failed: HTTP 500" in err
    assert (
        fake_upstream.calls(":generateContent")[-1].json["model"] == "gemini-2.5-flash"
    )
    assert read_account(home, "b")["disabled"] is False


def test_cli_accounts_warmup_no_accounts(home, fake_upstream, capsys):
    assert (
        main(["--config", str(_config(home, fake_upstream)), "accounts", "warmup"]) == 1
    )
    assert "no usable account" in capsys.readouterr().err


def test_cli_models_prints_resolved_mapping(home, two_accounts, fake_upstream, capsys):
    path = str(
        _config(
            home,
            fake_upstream,
            {"gpt-4*": "gemini-3-flash", "gpt*": "x", "my-model": "gemini-3-flash"},
        )
    )
    assert main(["--config", path, "models"]) == 0
    rows = {
        line.split()[0]: line.split()[1:]
        for line in capsys.readouterr().out.splitlines()
    }
    assert rows["MODEL"] == ["MAPPED", "TYPE"]
    assert rows["gpt-4o"] == ["gemini-3-flash", "agent"]
    assert rows["gpt-3.5-turbo"] == ["x", "agent"]
    assert rows["my-model"] == ["gemini-3-flash", "agent"]
    assert rows["gemini-3-pro-image-4k-16x9"] == ["gemini-3-pro-image", "image_gen"]
    assert rows["gpt-4*"] == ["gemini-3-flash", "wildcard"]
    assert rows["claude-opus-4"] == ["claude-opus-4-6-thinking", "agent"]


GARBAGE_ANSWERS = [b"<html>busy</html>", b'{"candidates": [', b"[]", b'"text"']


@pytest.mark.parametrize("body", GARBAGE_ANSWERS)
def test_images_broken_upstream_answer_is_502(
    gateway, two_accounts, fake_upstream, body
):
    fake_upstream.script(Fault(200, body))
    response = gateway().post("/v1/images/generations", json={"prompt": "a fox"})
    assert response.status_code == 502, response.get_data(as_text=True)
    message = response.json["error"]["message"]
    assert message.startswith("upstream generateContent answered ")


@pytest.mark.parametrize("body", GARBAGE_ANSWERS)
def test_transcription_broken_upstream_answer_is_502(
    gateway, two_accounts, fake_upstream, body
):
    fake_upstream.script(Fault(200, body))
    response = transcribe(gateway())
    assert response.status_code == 502, response.get_data(as_text=True)
    message = response.json["error"]["message"]
    assert message.startswith("upstream generateContent answered ")
