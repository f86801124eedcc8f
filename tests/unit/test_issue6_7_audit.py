"""Audit of issues 6 and 7: the pure helpers behind the fixes, table-driven."""

from __future__ import annotations

import json

import pytest

from antigravity_proxy.mcp.sources import SourceError, public_https_url
from antigravity_proxy.protocols.gemini.chunk import (
    chunk_from_upstream,
    usage_from_metadata,
)
from antigravity_proxy.protocols.openai.audio import TranscriptionJob
from antigravity_proxy.protocols.openai.audio_response import (
    Word,
    transcript_from_upstream,
    usage_from_upstream,
    verbose_json,
)
from antigravity_proxy.protocols.openai.image_config import (
    aspect_ratio_for_size,
    small_natural,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1024", 1024),
        (" 7 ", 7),
        ("0", 0),
        ("999999", 999999),
        ("1000000", None),
        ("²", None),
        ("١٢", None),
        ("-1", None),
        ("+1", None),
        ("1.0", None),
        ("", None),
        ("1" * 5000, None),
    ],
)
def test_small_natural_accepts_only_short_ascii_digits(text, expected):
    assert small_natural(text) == expected


@pytest.mark.parametrize(
    ("size", "ratio"),
    [
        ("1024x1024", "1:1"),
        ("1536x1024", "3:2"),
        ("16:9", "16:9"),
        ("1920X1080", "16:9"),
        ("²x1", None),
        ("1" + "0" * 400 + "x1", None),
        ("1" * 5000 + "x1", None),
        ("0x5", None),
        ("5x0", None),
        ("x", None),
    ],
)
def test_aspect_ratio_for_size_never_raises(size, ratio):
    assert aspect_ratio_for_size(size) == ratio


@pytest.mark.parametrize(
    "url",
    [
        "https://127.1/a.png",
        "https://2130706433/a.png",
        "https://0x7f000001/a.png",
        "https://0177.0.0.1/a.png",
        "https://10.0.0.1./a.png",
        "https://[::ffff:10.0.0.1]/a.png",
        "https://[64:ff9b::7f00:1]/a.png",
        "https://foo.localhost/a.png",
        "https://[::1/a.png",
        "https://:443/a.png",
    ],
)
def test_public_https_url_refuses_non_public_hosts(url):
    with pytest.raises(SourceError):
        public_https_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a.png",
        "https://8.8.8.8/a.png",
        "https://[2001:4860:4860::8888]/a.png",
        "https://cdn.example.com:8443/x?y=1",
        "https://1.example/a.png",
    ],
)
def test_public_https_url_keeps_public_hosts(url):
    assert public_https_url(url) == url


def test_transcription_usage_ignores_malformed_modality_counts():
    meta = {
        "promptTokenCount": 10,
        "candidatesTokenCount": 2,
        "promptTokensDetails": [
            {"modality": "AUDIO", "tokenCount": "7"},
            {"modality": "AUDIO", "tokenCount": 6},
            "junk",
        ],
    }
    usage = usage_from_upstream(usage_from_metadata(meta))
    assert usage["input_token_details"] == {"audio_tokens": 6, "text_tokens": 4}


def word_job(granularities: frozenset[str]) -> TranscriptionJob:
    return TranscriptionJob(
        "gemini-2.5-flash", "verbose_json", "audio/wav", granularities=granularities
    )


def test_transcript_words_skip_malformed_entries_and_clamp_times():
    words = [
        {"word": "one", "start": 2, "end": 1},
        {"word": "  ", "start": 0, "end": 1},
        {"word": 5, "start": 0, "end": 1},
        "two",
        {"word": "three", "start": -4, "end": True},
    ]
    text = json.dumps({"language": "english", "segments": [], "words": words})
    answer = chunk_from_upstream(
        {"candidates": [{"content": {"parts": [{"text": text}]}}]}
    )
    transcript = transcript_from_upstream(answer, word_job(frozenset({"word"})))
    assert transcript.words == (Word("one", 2.0, 2.0), Word("three", 0.0, 0.0))
    body = verbose_json(transcript, word_job(frozenset({"word"})))
    assert "segments" not in body and body["duration"] == 2.0
    plain = transcript_from_upstream(answer, word_job(frozenset({"segment"})))
    assert plain.words == ()
    assert "words" not in verbose_json(plain, word_job(frozenset({"segment"})))
