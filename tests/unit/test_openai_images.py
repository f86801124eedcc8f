"""OpenAI Images translation (pure): image config, jobs, upstream requests, answers."""

from __future__ import annotations

import base64

import pytest

from antigravity_proxy.errors import (
    ErrorKind,
    InvalidRequest,
    Overloaded,
    RateLimited,
    UpstreamError,
)
from antigravity_proxy.protocols.gemini.chunk import (
    chunk_from_upstream,
    usage_from_metadata,
)
from antigravity_proxy.protocols.openai.image_config import (
    DEFAULT_IMAGE_MODEL,
    ImageConfig,
    aspect_ratio_for_size,
    image_model,
    split_image_suffixes,
)
from antigravity_proxy.protocols.openai.images import (
    MASK_NOTE,
    InlineImage,
    combined_failure,
    image_job,
    images_from_upstream,
    images_response,
    job_to_upstream,
    sniff_image_type,
    usage_from_upstream,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 8
GIF = b"GIF89a" + b"\x00" * 16


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("size", "ratio"),
    [
        ("1920x1080", "16:9"),
        ("1080x1920", "9:16"),
        ("1024x1024", "1:1"),
        ("600x800", "3:4"),
        ("800x600", "4:3"),
        ("1280x720", "16:9"),
        ("720x1280", "9:16"),
        ("2560x1080", "21:9"),
        ("1500x1000", "3:2"),
        ("1000x1500", "2:3"),
        ("1250x1000", "5:4"),
        ("1000x1250", "4:5"),
        ("1536x1024", "3:2"),
        ("1792x1024", "16:9"),
        ("256x256", "1:1"),
        ("21:9", "21:9"),
        ("16:9", "16:9"),
        ("1:1", "1:1"),
        ("16:10", "3:2"),
        ("1850x1000", "16:9"),
        ("4000x1000", "21:9"),
        (" 1024X768 ", "4:3"),
    ],
)
def test_aspect_ratio_for_size_nearest_supported(size, ratio):
    assert aspect_ratio_for_size(size) == ratio


@pytest.mark.parametrize("size", ["", "big", "0x100", "100x0", "1024", "x", "-1x5"])
def test_aspect_ratio_for_size_invalid_is_none(size):
    assert aspect_ratio_for_size(size) is None


@pytest.mark.parametrize(
    ("model", "clean", "config"),
    [
        ("gemini-3-pro-image-2k", "gemini-3-pro-image", ImageConfig(None, "2K")),
        ("gemini-3-pro-image-21x9", "gemini-3-pro-image", ImageConfig("21:9")),
        ("gemini-3-pro-image-2k-21x9", "gemini-3-pro-image", ImageConfig("21:9", "2K")),
        ("gemini-3-pro-image-4k-21x9", "gemini-3-pro-image", ImageConfig("21:9", "4K")),
        ("gemini-3-pro-image-4k-16x9", "gemini-3-pro-image", ImageConfig("16:9", "4K")),
        ("gemini-3-pro-image-16-9-hd", "gemini-3-pro-image", ImageConfig("16:9", "4K")),
        ("gemini-3-pro-image-21-9-4k", "gemini-3-pro-image", ImageConfig("21:9", "4K")),
        ("gemini-3-pro-image-standard", "gemini-3-pro-image", ImageConfig()),
        ("gemini-3-pro-image-medium", "gemini-3-pro-image", ImageConfig()),
        ("Gemini-3-Pro-Image-9x16", "gemini-3-pro-image", ImageConfig("9:16")),
        ("gemini-3.1-flash-image", "gemini-3.1-flash-image", ImageConfig()),
    ],
)
def test_split_image_suffixes_any_order(model, clean, config):
    assert split_image_suffixes(model) == (clean, config)


@pytest.mark.parametrize(
    ("requested", "mapping", "upstream", "config"),
    [
        (
            "gemini-3-pro-image-16x9-4k",
            {},
            "gemini-3-pro-image",
            ImageConfig("16:9", "4K"),
        ),
        ("gemini-3.1-flash-image", {}, "gemini-3.1-flash-image", ImageConfig()),
        ("gemini-3-pro-image-preview", {}, "gemini-3-pro-image", ImageConfig()),
        ("dall-e-3", {}, DEFAULT_IMAGE_MODEL, ImageConfig()),
        ("gpt-image-1", {}, DEFAULT_IMAGE_MODEL, ImageConfig()),
        ("", {}, DEFAULT_IMAGE_MODEL, ImageConfig()),
        (
            "dall-e-3",
            {"dall-e-3": "gemini-3-pro-image-16x9"},
            "gemini-3-pro-image",
            ImageConfig("16:9"),
        ),
        (
            "dall-e-3-4k",
            {"dall-e-*": "gemini-3-pro-image-1x1"},
            "gemini-3-pro-image",
            ImageConfig("1:1", "4K"),
        ),
        (
            "img-9x16",
            {"img-*": "gemini-3-pro-image-16x9"},
            "gemini-3-pro-image",
            ImageConfig("16:9"),
        ),
    ],
)
def test_image_model_mapping_then_suffixes(requested, mapping, upstream, config):
    assert image_model(requested, mapping) == (upstream, config)


@pytest.mark.parametrize(
    ("fields", "config"),
    [
        ({}, ImageConfig("1:1")),
        ({"quality": "hd"}, ImageConfig("1:1", "4K")),
        ({"quality": "medium"}, ImageConfig("1:1", "2K")),
        ({"quality": "standard"}, ImageConfig("1:1", "1K")),
        ({"quality": "high"}, ImageConfig("1:1", "4K")),
        ({"quality": "low"}, ImageConfig("1:1", "1K")),
        ({"quality": "auto"}, ImageConfig("1:1")),
        ({"size": "1920x1080", "quality": "hd"}, ImageConfig("16:9", "4K")),
        ({"size": "auto"}, ImageConfig("1:1")),
        ({"image_size": "2k", "quality": "hd"}, ImageConfig("1:1", "2K")),
        ({"imageSize": "4K"}, ImageConfig("1:1", "4K")),
        ({"model": "gemini-3-pro-image-4k-21x9"}, ImageConfig("21:9", "4K")),
        (
            {
                "model": "gemini-3-pro-image-4k-21x9",
                "size": "1024x1024",
                "quality": "medium",
            },
            ImageConfig("1:1", "2K"),
        ),
        (
            {"model": "gemini-3-pro-image-2k", "image_size": "1K", "quality": "hd"},
            ImageConfig("1:1", "1K"),
        ),
        ({"aspect_ratio": "3:4", "size": "1024x1024"}, ImageConfig("3:4")),
    ],
)
def test_image_job_config_params_override_suffixes(fields, config):
    job = image_job({"prompt": "a cat", **fields}, {}, default_ratio="1:1")
    assert job.config == config


def test_image_job_edit_default_leaves_ratio_open():
    job = image_job({"prompt": "x"}, {}, default_ratio=None)
    assert job.config == ImageConfig()
    assert job_to_upstream(job)["generationConfig"] == {"candidateCount": 1}


def test_image_job_defaults_and_form_strings():
    job = image_job(
        {"prompt": "a fox", "n": "3", "response_format": "url"}, {}, default_ratio=None
    )
    assert (job.n, job.response_format, job.model) == (3, "url", DEFAULT_IMAGE_MODEL)
    assert job.revised_prompt is None and job.prompt == "a fox"
    assert (
        image_job({"prompt": "a"}, {}, default_ratio=None).response_format == "b64_json"
    )


def test_image_job_style_revises_prompt():
    job = image_job({"prompt": "a fox", "style": "natural"}, {}, default_ratio=None)
    assert job.prompt == "a fox, (natural lighting, realistic, photorealistic)"
    assert job.revised_prompt == job.prompt


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({}, "prompt"),
        ({"prompt": 5}, "prompt"),
        ({"prompt": "  "}, "prompt"),
        ({"prompt": "a", "n": 0}, "n"),
        ({"prompt": "a", "n": 11}, "n"),
        ({"prompt": "a", "n": "two"}, "n"),
        ({"prompt": "a", "n": True}, "n"),
        ({"prompt": "a", "n": 1.5}, "n"),
        ({"prompt": "a", "size": "huge"}, "size"),
        ({"prompt": "a", "aspect_ratio": "0:1"}, "aspect_ratio"),
        ({"prompt": "a", "quality": "ultra"}, "quality"),
        ({"prompt": "a", "image_size": "8K"}, "image_size"),
        ({"prompt": "a", "response_format": "png"}, "response_format"),
        ({"prompt": "a", "style": "gothic"}, "style"),
        ({"prompt": "a", "model": 3}, "model"),
        ({"prompt": "a", "stream": True}, "stream"),
    ],
)
def test_image_job_bad_input_names_param(fields, param):
    with pytest.raises(InvalidRequest) as caught:
        image_job(fields, {}, default_ratio="1:1")
    assert caught.value.param == param
    assert caught.value.status == 400


def test_job_to_upstream_generation_exact():
    job = image_job(
        {"prompt": "a red fox", "size": "1792x1024", "quality": "hd"},
        {},
        default_ratio="1:1",
    )
    assert job_to_upstream(job) == {
        "contents": [{"role": "user", "parts": [{"text": "a red fox"}]}],
        "generationConfig": {
            "candidateCount": 1,
            "imageConfig": {"aspectRatio": "16:9", "imageSize": "4K"},
        },
        "safetySettings": [
            {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "OFF"},
            {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "OFF"},
            {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "threshold": "OFF"},
            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "OFF"},
        ],
    }


def test_job_to_upstream_edit_parts_order():
    job = image_job({"prompt": "add a hat"}, {}, default_ratio=None)
    inner = job_to_upstream(
        job,
        [InlineImage("image/png", PNG), InlineImage("image/jpeg", JPEG)],
        InlineImage("image/png", PNG),
    )
    parts = inner["contents"][0]["parts"]
    assert parts == [
        {"text": "add a hat"},
        {"inlineData": {"mimeType": "image/png", "data": b64(PNG)}},
        {"inlineData": {"mimeType": "image/jpeg", "data": b64(JPEG)}},
        {"text": MASK_NOTE},
        {"inlineData": {"mimeType": "image/png", "data": b64(PNG)}},
    ]


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (WEBP, "image/webp"),
        (GIF, "image/gif"),
        (b"GIF87a....", "image/gif"),
        (b"hello world", None),
        (b"", None),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
    ],
)
def test_sniff_image_type(data, mime):
    assert sniff_image_type(data) == mime


def answer(*parts, finish="STOP", **extra):
    return {
        "candidates": [
            {"content": {"role": "model", "parts": list(parts)}, "finishReason": finish}
        ],
        **extra,
    }


def test_images_from_upstream_every_inline_image_sniffed():
    found = images_from_upstream(
        chunk_from_upstream(
            answer(
                {"text": "here you go"},
                {"inlineData": {"mimeType": "image/png", "data": b64(JPEG)}},
                {"inlineData": {"mimeType": "image/png", "data": b64(PNG)}},
                {
                    "inlineData": {"mimeType": "image/png", "data": b64(PNG)},
                    "thought": True,
                },
                {"inlineData": {"data": b64(b"unknown bytes")}},
            )
        )
    )
    assert found == [
        InlineImage("image/jpeg", JPEG),
        InlineImage("image/png", PNG),
        InlineImage("image/png", b"unknown bytes"),
    ]


@pytest.mark.parametrize(
    "reply",
    [
        answer({"text": "I drew nothing"}, finish="IMAGE_SAFETY"),
        answer(finish="SAFETY"),
        {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}},
    ],
)
def test_images_from_upstream_refusal_is_content_policy_400(reply):
    with pytest.raises(InvalidRequest) as caught:
        images_from_upstream(chunk_from_upstream(reply))
    assert caught.value.code == "content_policy_violation"


@pytest.mark.parametrize(
    "reply",
    [
        answer({"text": "sorry, only words"}),
        {},
        {"candidates": []},
        answer({"inlineData": {"mimeType": "image/png", "data": "%%%not base64"}}),
        answer({"inlineData": {"mimeType": "image/png", "data": ""}}),
    ],
)
def test_images_from_upstream_no_image_is_upstream_error(reply):
    with pytest.raises(UpstreamError) as caught:
        images_from_upstream(chunk_from_upstream(reply))
    assert caught.value.status == 502


def test_images_response_b64_url_and_usage():
    job = image_job(
        {"prompt": "p", "response_format": "url", "style": "vivid"},
        {},
        default_ratio=None,
    )
    body = images_response(
        1700000000,
        [InlineImage("image/jpeg", JPEG)],
        job,
        [
            usage_from_metadata(
                {
                    "promptTokenCount": 4,
                    "candidatesTokenCount": 1290,
                    "totalTokenCount": 1294,
                }
            )
        ],
    )
    assert body == {
        "created": 1700000000,
        "data": [
            {"url": "data:image/jpeg;base64," + b64(JPEG), "revised_prompt": job.prompt}
        ],
        "usage": {
            "input_tokens": 4,
            "input_tokens_details": {"image_tokens": 0, "text_tokens": 4},
            "output_tokens": 1290,
            "total_tokens": 1294,
        },
    }
    plain = image_job({"prompt": "p"}, {}, default_ratio=None)
    assert images_response(1, [InlineImage("image/png", PNG)], plain) == {
        "created": 1,
        "data": [{"b64_json": b64(PNG)}],
    }


def test_usage_from_upstream_sums_calls_and_image_tokens():
    metas = [
        {
            "promptTokenCount": 300,
            "candidatesTokenCount": 10,
            "promptTokensDetails": [
                {"modality": "TEXT", "tokenCount": 42},
                {"modality": "IMAGE", "tokenCount": 258},
            ],
        },
        {"promptTokenCount": 300, "candidatesTokenCount": 20},
    ]
    assert usage_from_upstream([usage_from_metadata(m) for m in metas]) == {
        "input_tokens": 600,
        "input_tokens_details": {"image_tokens": 258, "text_tokens": 342},
        "output_tokens": 30,
        "total_tokens": 630,
    }
    assert usage_from_upstream([]) is None


def test_combined_failure_prefers_quota_then_no_account_then_first():
    quota_a = RateLimited("quota a", retry_after=40)
    quota_b = RateLimited("quota b", retry_after=12)
    none = Overloaded("no account")
    upstream = UpstreamError("boom")
    chosen = combined_failure([upstream, quota_a, none, quota_b])
    assert (chosen.kind, chosen.status, chosen.retry_after) == (
        ErrorKind.RATE_LIMIT,
        429,
        12,
    )
    chosen = combined_failure([upstream, none])
    assert (chosen.kind, chosen.status) == (ErrorKind.OVERLOADED, 503)
    assert combined_failure([upstream, InvalidRequest("bad")]) is upstream
