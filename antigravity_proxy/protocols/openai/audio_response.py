"""Gemini's answer to a transcription, rendered as OpenAI's formats (pure).

``json`` and ``text`` carry the plain transcript; ``srt``, ``vtt`` and
``verbose_json`` are built from the JSON segments the timed request asked for.
Fields Whisper reports that the upstream has no notion of (token ids, log
probabilities, compression ratio) get neutral values in ``verbose_json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.protocols.gemini.chunk import Chunk, TokenUsage
from antigravity_proxy.protocols.openai.audio import TIMED_FORMATS, TranscriptionJob

NEUTRAL_STATS: Final[Mapping[str, float]] = {
    "avg_logprob": 0.0,
    "compression_ratio": 1.0,
    "no_speech_prob": 0.0,
}


@dataclass(frozen=True, slots=True)
class Segment:
    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    segments: tuple[Segment, ...] = ()
    language: str | None = None
    words: tuple[Word, ...] = ()


def transcript_from_upstream(answer: Chunk, job: TranscriptionJob) -> Transcript:
    """The transcript in the model's answer; segments when a timed format asked.

    Why tolerant: a model that ignores the JSON contract still transcribed the
    audio, so its text becomes one segment spanning the whole file.
    """
    if answer.block_reason is not None:
        raise InvalidRequest(
            f"the upstream refused this audio ({answer.block_reason})",
            code="content_policy_violation",
        )
    parts = answer.first.parts
    text = "".join(p.text for p in parts if p.text is not None and not p.thought)
    text = text.strip()
    if job.response_format not in TIMED_FORMATS:
        return Transcript(text, language=job.language)
    parsed = _json_object(text)
    segments = _segments(parsed.get("segments")) if parsed is not None else ()
    if not segments:
        whole = text if parsed is None else str(parsed.get("text") or "")
        end = job.duration or 0.0
        segments = (Segment(0.0, end, whole.strip()),) if whole.strip() else ()
    spoken = parsed.get("language") if parsed is not None else None
    language = spoken if isinstance(spoken, str) and spoken else job.language
    words = _words(parsed.get("words")) if parsed is not None and job.words else ()
    return Transcript(" ".join(s.text for s in segments), segments, language, words)


def transcription_body(
    transcript: Transcript, job: TranscriptionJob, usage: TokenUsage | None
) -> tuple[str | dict[str, Any], str]:
    """The answer in the job's format, with its MIME type."""
    fmt = job.response_format
    if fmt == "text":
        return transcript.text + "\n", "text/plain"
    if fmt == "srt":
        return srt_from_segments(transcript.segments), "text/plain"
    if fmt == "vtt":
        return vtt_from_segments(transcript.segments), "text/vtt"
    if fmt == "verbose_json":
        return verbose_json(transcript, job), "application/json"
    body: dict[str, Any] = {"text": transcript.text}
    if usage is not None:
        body["usage"] = usage_from_upstream(usage)
    return body, "application/json"


def verbose_json(transcript: Transcript, job: TranscriptionJob) -> dict[str, Any]:
    """Whisper's ``verbose_json``; per-segment statistics the upstream lacks are
    neutral values (logprob 0, compression 1, no-speech 0).

    ``segments`` and ``words`` appear as ``timestamp_granularities[]`` asked
    (segments alone by default), as OpenAI answers.
    """
    ends = [s.end for s in transcript.segments] + [w.end for w in transcript.words]
    duration = job.duration if job.duration is not None else max(ends, default=0.0)
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": transcript.language or "",
        "duration": round(duration, 3),
        "text": transcript.text,
    }
    if "segment" in job.granularities:
        body["segments"] = _verbose_segments(transcript, job)
    if job.words:
        body["words"] = [
            {"word": w.word, "start": w.start, "end": w.end} for w in transcript.words
        ]
    body["usage"] = {"type": "duration", "seconds": round(duration, 3)}
    return body


def _verbose_segments(
    transcript: Transcript, job: TranscriptionJob
) -> list[dict[str, Any]]:
    return [
        {
            "id": index,
            "seek": 0,
            "start": segment.start,
            "end": segment.end,
            "text": segment.text,
            "tokens": [],
            "temperature": job.temperature or 0.0,
            **NEUTRAL_STATS,
        }
        for index, segment in enumerate(transcript.segments)
    ]


def srt_from_segments(segments: Sequence[Segment]) -> str:
    """SubRip: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, blank-line ended."""
    cues = [
        f"{n}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{s.text}\n"
        for n, s in enumerate(segments, start=1)
    ]
    return "\n".join(cues) + ("\n" if cues else "")


def vtt_from_segments(segments: Sequence[Segment]) -> str:
    """WebVTT: the ``WEBVTT`` header, then ``HH:MM:SS.mmm --> ...`` cues."""
    cues = [
        f"{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n{s.text}\n\n"
        for s in segments
    ]
    return "WEBVTT\n\n" + "".join(cues)


def usage_from_upstream(usage: TokenUsage) -> dict[str, Any]:
    """OpenAI's token usage (``type: tokens``) from the upstream's counts."""
    prompt, output = usage.prompt_tokens, usage.candidates_tokens
    audio = usage.prompt_tokens_of("AUDIO")
    return {
        "type": "tokens",
        "input_tokens": prompt,
        "output_tokens": output,
        "total_tokens": prompt + output,
        "input_token_details": {"audio_tokens": audio, "text_tokens": prompt - audio},
    }


def _json_object(text: str) -> dict[str, Any] | None:
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _segments(raw: Any) -> tuple[Segment, ...]:
    found: list[Segment] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            continue
        start = max(0.0, _seconds(item.get("start")))
        end = max(start, _seconds(item.get("end")))
        if item["text"].strip():
            found.append(Segment(round(start, 3), round(end, 3), item["text"].strip()))
    return tuple(found)


def _words(raw: Any) -> tuple[Word, ...]:
    found: list[Word] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("word"), str):
            continue
        start = max(0.0, _seconds(item.get("start")))
        end = max(start, _seconds(item.get("end")))
        if item["word"].strip():
            found.append(Word(item["word"].strip(), round(start, 3), round(end, 3)))
    return tuple(found)


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def _clock(seconds: float, separator: str) -> str:
    millis = int(round(max(0.0, seconds) * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{separator}{millis:03d}"
