"""OpenAI audio transcription translation (pure): sniffing, jobs, answers, formats."""

from __future__ import annotations

import base64
import io
import json
import wave

import pytest

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.protocols.gemini.chunk import (
    Chunk,
    chunk_from_upstream,
    usage_from_metadata,
)
from antigravity_proxy.protocols.openai.audio import (
    DEFAULT_AUDIO_MODEL,
    PLAIN_ANSWER,
    TIMED_ANSWER,
    TranscriptionJob,
    audio_model,
    instruction,
    job_to_upstream,
    sniff_audio_type,
    transcription_job,
    wav_duration,
)
from antigravity_proxy.protocols.openai.audio_response import (
    Segment,
    Transcript,
    srt_from_segments,
    transcript_from_upstream,
    transcription_body,
    usage_from_upstream,
    vtt_from_segments,
)


def make_wav(seconds: float = 1.5, rate: int = 8000, channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * channels * int(rate * seconds))
    return buffer.getvalue()


WAV = make_wav()
SEGMENTS = (
    Segment(0.0, 1.25, "Hello there."),
    Segment(1.25, 3725.5, "General Kenobi."),
)


def job(fmt: str = "json", **extra) -> TranscriptionJob:
    return TranscriptionJob("gemini-2.5-flash", fmt, "audio/wav", **extra)


def reply(text: str, **extra) -> Chunk:
    return chunk_from_upstream(
        {"candidates": [{"content": {"parts": [{"text": text}]}}], **extra}
    )


@pytest.mark.parametrize(
    ("data", "extension", "mime"),
    [
        (WAV, "", "audio/wav"),
        (b"FORM\x00\x00\x00\x10AIFFCOMM", "", "audio/aiff"),
        (b"FORM\x00\x00\x00\x10AIFCCOMM", "aif", "audio/aiff"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00", "", "audio/aac"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00", "m4a", "audio/aac"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00", "mp4", "video/mp4"),
        (b"OggS\x00\x02" + b"\x00" * 8, "", "audio/ogg"),
        (b"fLaC\x00\x00\x00\x22", "", "audio/flac"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", "webm", "audio/webm"),
        (b"ID3\x04\x00\x00\x00\x00", "mp3", "audio/mp3"),
        (b"\xff\xfb\x90\x64\x00", "", "audio/mp3"),
        (b"\xff\xf3\x90\x64\x00", "mpga", "audio/mp3"),
        (b"\xff\xf1\x50\x80\x00", "", "audio/aac"),
        (b"\x89PNG\r\n\x1a\n", "mp3", None),
        (b"just some text", "wav", None),
        (b"", "", None),
        (b"\xff", "", None),
    ],
)
def test_sniff_audio_type(data, extension, mime):
    assert sniff_audio_type(data, extension) == mime


@pytest.mark.parametrize(
    ("requested", "mapping", "upstream"),
    [
        ("whisper-1", {}, DEFAULT_AUDIO_MODEL),
        ("gpt-4o-transcribe", {}, DEFAULT_AUDIO_MODEL),
        ("whisper-1", {"whisper-1": "gemini-3-flash"}, "gemini-3-flash"),
        ("whisper-1", {"whisper*": "gemini-3-flash"}, "gemini-3-flash"),
        ("gemini-3-flash", {}, "gemini-3-flash"),
        ("gpt-4o", {}, "gemini-2.5-flash"),
    ],
)
def test_audio_model_mapping(requested, mapping, upstream):
    assert audio_model(requested, mapping) == upstream


def test_wav_duration_from_header():
    assert wav_duration(make_wav(2.0, 16000, 2)) == pytest.approx(2.0)
    assert wav_duration(WAV[:44] + WAV[44:1044]) == pytest.approx(1000 / 16000)
    assert wav_duration(b"RIFF\x00\x00\x00\x00WAVE") is None


def test_transcription_job_from_form():
    fields = {
        "model": "whisper-1",
        "response_format": "srt",
        "language": "de",
        "prompt": "Names: Kenobi",
        "temperature": "0.2",
    }
    built = transcription_job(fields, "talk.WAV", WAV, {})
    assert built == TranscriptionJob(
        model=DEFAULT_AUDIO_MODEL,
        response_format="srt",
        mime_type="audio/wav",
        language="de",
        prompt="Names: Kenobi",
        temperature=0.2,
        duration=pytest.approx(1.5),
    )
    default = transcription_job({}, "blob", WAV, {})
    assert (default.response_format, default.model, default.language) == (
        "json",
        DEFAULT_AUDIO_MODEL,
        None,
    )


@pytest.mark.parametrize(
    ("fields", "filename", "data", "param"),
    [
        ({}, "notes.txt", WAV, "file"),
        ({}, "a.mp3", b"plain text, not audio", "file"),
        ({}, "", b"\x89PNG\r\n\x1a\n0000", "file"),
        ({"response_format": "diarized_json"}, "a.wav", WAV, "response_format"),
        ({"temperature": "hot"}, "a.wav", WAV, "temperature"),
        ({"temperature": "1.5"}, "a.wav", WAV, "temperature"),
        ({"stream": "true"}, "a.wav", WAV, "stream"),
    ],
)
def test_transcription_job_bad_input(fields, filename, data, param):
    with pytest.raises(InvalidRequest) as caught:
        transcription_job(fields, filename, data, {})
    assert caught.value.param == param
    assert caught.value.status == 400


def test_job_to_upstream_plain():
    inner = job_to_upstream(job(temperature=0.0), b"RIFFdata")
    assert inner == {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {
                        "inlineData": {
                            "mimeType": "audio/wav",
                            "data": base64.b64encode(b"RIFFdata").decode(),
                        }
                    },
                    {
                        "text": "Transcribe the speech in this audio verbatim.\n"
                        + PLAIN_ANSWER
                    },
                ],
            }
        ],
        "generationConfig": {"temperature": 0.0},
    }


def test_job_to_upstream_timed_asks_for_json_segments():
    inner = job_to_upstream(job("vtt", language="fr", prompt="Kenobi"), b"x")
    assert inner["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": {
            "type": "object",
            "properties": {
                "language": {"type": "string"},
                "segments": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "start": {"type": "number"},
                            "end": {"type": "number"},
                            "text": {"type": "string"},
                        },
                        "required": ["start", "end", "text"],
                    },
                },
            },
            "required": ["language", "segments"],
        },
    }
    text = inner["contents"][0]["parts"][1]["text"]
    assert "'fr'" in text and "do not transcribe it): Kenobi" in text
    assert text.endswith(TIMED_ANSWER)
    assert "generationConfig" not in job_to_upstream(job(), b"x")


def test_instruction_lines():
    assert instruction(job()) == (
        "Transcribe the speech in this audio verbatim.\n" + PLAIN_ANSWER
    )


def test_transcript_from_upstream_plain_skips_thoughts():
    answer = {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"text": "hmm", "thought": True},
                        {"text": " Hello "},
                        {"text": "world. "},
                    ]
                }
            }
        ]
    }
    got = transcript_from_upstream(chunk_from_upstream(answer), job("text"))
    assert got == Transcript("Hello world.")


def test_transcript_from_upstream_timed_segments_cleaned():
    payload = {
        "language": "english",
        "segments": [
            {"start": 0, "end": 1.25, "text": " Hello there. "},
            {"start": -3, "end": -4, "text": "Odd."},
            {"start": 2, "end": 3, "text": "   "},
            {"start": "x", "end": 5, "text": "Late."},
            "junk",
        ],
    }
    got = transcript_from_upstream(reply(json.dumps(payload)), job("srt"))
    assert got == Transcript(
        "Hello there. Odd. Late.",
        (
            Segment(0.0, 1.25, "Hello there."),
            Segment(0.0, 0.0, "Odd."),
            Segment(0.0, 5.0, "Late."),
        ),
        "english",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Just words, no JSON.", "Just words, no JSON."),
        ('```json\n{"language": "english", "segments": []}\n```', ""),
        ('{"text": "From a text field."}', "From a text field."),
    ],
)
def test_transcript_from_upstream_timed_fallback_one_segment(text, expected):
    got = transcript_from_upstream(reply(text), job("vtt", duration=4.0, language="en"))
    assert got.text == expected
    assert got.segments == ((Segment(0.0, 4.0, expected),) if expected else ())


def test_transcript_from_upstream_blocked_prompt():
    with pytest.raises(InvalidRequest) as caught:
        blocked = {"promptFeedback": {"blockReason": "OTHER"}}
        transcript_from_upstream(chunk_from_upstream(blocked), job())
    assert caught.value.code == "content_policy_violation"


def test_srt_and_vtt_rendering():
    assert srt_from_segments(SEGMENTS) == (
        "1\n00:00:00,000 --> 00:00:01,250\nHello there.\n\n"
        "2\n00:00:01,250 --> 01:02:05,500\nGeneral Kenobi.\n\n"
    )
    assert vtt_from_segments(SEGMENTS) == (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:01.250\nHello there.\n\n"
        "00:00:01.250 --> 01:02:05.500\nGeneral Kenobi.\n\n"
    )
    assert srt_from_segments(()) == ""
    assert vtt_from_segments(()) == "WEBVTT\n\n"


USAGE = usage_from_metadata(
    {
        "promptTokenCount": 60,
        "candidatesTokenCount": 5,
        "promptTokensDetails": [
            {"modality": "AUDIO", "tokenCount": 48},
            {"modality": "TEXT", "tokenCount": 12},
        ],
    }
)


def test_transcription_body_each_format():
    transcript = Transcript("Hello there. General Kenobi.", SEGMENTS, "english")
    assert transcription_body(transcript, job(), USAGE) == (
        {
            "text": "Hello there. General Kenobi.",
            "usage": {
                "type": "tokens",
                "input_tokens": 60,
                "output_tokens": 5,
                "total_tokens": 65,
                "input_token_details": {"audio_tokens": 48, "text_tokens": 12},
            },
        },
        "application/json",
    )
    assert transcription_body(transcript, job(), None) == (
        {"text": "Hello there. General Kenobi."},
        "application/json",
    )
    assert transcription_body(transcript, job("text"), USAGE) == (
        "Hello there. General Kenobi.\n",
        "text/plain",
    )
    assert transcription_body(transcript, job("srt"), None)[1] == "text/plain"
    assert transcription_body(transcript, job("vtt"), None)[1] == "text/vtt"


def test_verbose_json_shape():
    transcript = Transcript("Hello there.", SEGMENTS[:1], "english")
    body, mime = transcription_body(
        transcript, job("verbose_json", temperature=0.3, duration=1.5), None
    )
    assert mime == "application/json"
    assert body == {
        "task": "transcribe",
        "language": "english",
        "duration": 1.5,
        "text": "Hello there.",
        "segments": [
            {
                "id": 0,
                "seek": 0,
                "start": 0.0,
                "end": 1.25,
                "text": "Hello there.",
                "tokens": [],
                "temperature": 0.3,
                "avg_logprob": 0.0,
                "compression_ratio": 1.0,
                "no_speech_prob": 0.0,
            }
        ],
        "usage": {"type": "duration", "seconds": 1.5},
    }
    no_duration, _ = transcription_body(
        Transcript("x", SEGMENTS), job("verbose_json"), None
    )
    assert no_duration["duration"] == 3725.5
    assert no_duration["language"] == ""


def test_usage_from_upstream_missing_counts_are_zero():
    usage = usage_from_upstream(usage_from_metadata({"promptTokenCount": 3}))
    assert usage == {
        "type": "tokens",
        "input_tokens": 3,
        "output_tokens": 0,
        "total_tokens": 3,
        "input_token_details": {"audio_tokens": 0, "text_tokens": 3},
    }
