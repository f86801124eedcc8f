"""OpenAI audio transcription requests to a Gemini prompt with inline audio (pure).

The upload becomes one ``inlineData`` part (typed by its magic bytes) plus an
instruction naming the language and the client's ``prompt``. The timed formats
(``srt``, ``vtt``, ``verbose_json``) ask the model for JSON segments with start
and end seconds; ``json`` and ``text`` ask for the plain transcript. The answer
is rendered by ``audio_response``.

``timestamp_granularities[]`` picks what ``verbose_json`` carries: ``segment``
(the default), ``word`` (the model is also asked for each word's times), or both.

Dropped request fields: ``include[]`` (no logprobs upstream),
``chunking_strategy``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.models import resolve_model
from antigravity_proxy.protocols.openai.types import invalid_value, unsupported

DEFAULT_AUDIO_MODEL: Final = "gemini-2.5-flash"
OPENAI_AUDIO_MODELS: Final = frozenset(
    "whisper-1 gpt-transcribe gpt-4o-transcribe gpt-4o-mini-transcribe "
    "gpt-4o-mini-transcribe-2025-12-15 gpt-4o-transcribe-diarize".split()
)
EXTENSIONS: Final = tuple(
    "flac m4a mp3 mp4 mpeg mpga oga ogg wav webm aiff aif".split()
)
RESPONSE_FORMATS: Final = ("json", "text", "srt", "vtt", "verbose_json")
TIMED_FORMATS: Final = frozenset({"srt", "vtt", "verbose_json"})
M4A_BRANDS: Final = (b"M4A", b"M4B", b"M4P")
GRANULARITIES: Final = ("segment", "word")
GRANULARITY_PARAM: Final = "timestamp_granularities[]"
SEGMENT_FIELDS: Final[Mapping[str, str]] = {
    "start": "number",
    "end": "number",
    "text": "string",
}
WORD_FIELDS: Final[Mapping[str, str]] = {
    "word": "string",
    "start": "number",
    "end": "number",
}
PLAIN_ANSWER: Final = (
    "Answer with the transcript text only: no title, labels, timestamps or comments."
)
TIMED_ANSWER: Final = (
    "Answer in JSON: `language`, the spoken language's English name in lower case "
    "(for example english), and `segments`, the transcript split into consecutive "
    "sentences or phrases of at most 30 seconds, each with `start` and `end` in "
    "seconds from the beginning of the audio and its `text`."
)
WORDS_ANSWER: Final = (
    "Also give `words`: every spoken word in order, each with its `word` and its "
    "`start` and `end` in seconds."
)


@dataclass(frozen=True, slots=True)
class TranscriptionJob:
    """One transcription request, validated.

    :param duration: seconds, when the container says (WAV); None otherwise.
    :param granularities: what ``verbose_json`` carries (``segment``, ``word``).
    """

    model: str
    response_format: str
    mime_type: str
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None
    duration: float | None = None
    granularities: frozenset[str] = frozenset({"segment"})

    @property
    def words(self) -> bool:
        return "word" in self.granularities


def sniff_audio_type(data: bytes, extension: str = "") -> str | None:
    """The Gemini MIME type of ``data`` by its magic bytes; None if not audio.

    ``extension`` only decides between readings of one container: an MP4 with an
    audio brand or named ``.m4a`` is AAC audio, any other MP4 is a video.
    """
    head = data[:12]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if head[4:8] == b"ftyp":
        audio = head[8:11] in M4A_BRANDS or extension == "m4a"
        return "audio/aac" if audio else "video/mp4"
    simple = {b"OggS": "audio/ogg", b"fLaC": "audio/flac"}.get(head[:4])
    if simple is not None:
        return simple
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "audio/webm"
    if head[:3] == b"ID3":
        return "audio/mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # MPEG frame sync; layer bits 00 mark an ADTS (AAC) stream instead.
        return "audio/aac" if head[1] & 0x06 == 0 else "audio/mp3"
    return None


def audio_model(requested: str, mapping: Mapping[str, str]) -> str:
    """The upstream model for the client's ``model`` (``model_mapping`` applies).

    OpenAI's own transcription models (``whisper-1``...) are served by
    ``gemini-2.5-flash`` unless ``model_mapping`` names them.
    """
    mapped = resolve_model(requested, mapping)
    if mapped == requested and requested in OPENAI_AUDIO_MODELS:
        return DEFAULT_AUDIO_MODEL
    return mapped


def transcription_job(
    fields: Mapping[str, str],
    filename: str,
    data: bytes,
    mapping: Mapping[str, str],
    granularities: Sequence[str] = (),
) -> TranscriptionJob:
    """Validate the form fields and the upload into a job (``InvalidRequest``).

    ``granularities`` are the form's ``timestamp_granularities[]`` values (a
    list, unlike the other fields).
    """
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    if extension and extension not in EXTENSIONS:
        raise _not_audio(f"'.{extension}' is not a supported audio file type")
    mime_type = sniff_audio_type(data, extension)
    if mime_type is None:
        raise _not_audio("the file content is not a recognised audio format")
    if fields.get("stream", "false").lower() == "true":
        raise unsupported("stream", "transcripts are returned whole")
    response_format = _response_format(fields.get("response_format") or "json")
    return TranscriptionJob(
        model=audio_model(fields.get("model") or "whisper-1", mapping),
        response_format=response_format,
        mime_type=mime_type,
        language=fields.get("language") or None,
        prompt=fields.get("prompt") or None,
        temperature=_temperature(fields.get("temperature")),
        duration=wav_duration(data) if mime_type == "audio/wav" else None,
        granularities=_granularities(granularities, response_format),
    )


def job_to_upstream(job: TranscriptionJob, data: bytes) -> dict[str, Any]:
    """The Gemini request: the audio, then the instruction (media first, as advised)."""
    audio = {
        "inlineData": {
            "mimeType": job.mime_type,
            "data": base64.b64encode(data).decode("ascii"),
        }
    }
    config: dict[str, Any] = {}
    if job.temperature is not None:
        config["temperature"] = job.temperature
    if job.response_format in TIMED_FORMATS:
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = timed_schema(job.words)
    request: dict[str, Any] = {
        "contents": [{"role": "user", "parts": [audio, {"text": instruction(job)}]}]
    }
    if config:
        request["generationConfig"] = config
    return request


def timed_schema(words: bool) -> dict[str, Any]:
    """The JSON the timed formats ask for: language and segments (and words)."""
    lists = {"segments": SEGMENT_FIELDS, **({"words": WORD_FIELDS} if words else {})}
    properties: dict[str, Any] = {"language": {"type": "string"}}
    for name, fields in lists.items():
        item = {k: {"type": v} for k, v in fields.items()}
        properties[name] = {
            "type": "array",
            "items": {"type": "object", "properties": item, "required": [*fields]},
        }
    return {"type": "object", "properties": properties, "required": [*properties]}


def instruction(job: TranscriptionJob) -> str:
    """What the model is asked: transcribe, in this language, with this context."""
    lines = ["Transcribe the speech in this audio verbatim."]
    if job.language:
        lines.append(
            f"The speech is in the language with ISO-639-1 code '{job.language}'; "
            "write the transcript in that language."
        )
    if job.prompt:
        lines.append(
            "Context for spelling and style (do not transcribe it): " + job.prompt
        )
    timed = job.response_format in TIMED_FORMATS
    lines.append(TIMED_ANSWER if timed else PLAIN_ANSWER)
    if timed and job.words:
        lines.append(WORDS_ANSWER)
    return "\n".join(lines)


def wav_duration(data: bytes) -> float | None:
    """Seconds of sound in a RIFF/WAVE file: ``data`` chunk size / byte rate."""
    position, byte_rate, size = 12, 0, None
    while position + 8 <= len(data) and size is None:
        chunk, length = data[position : position + 4], _le(data, position + 4, 4)
        body = position + 8
        if chunk == b"fmt " and length >= 12:
            byte_rate = _le(data, body + 8, 4)
        elif chunk == b"data":
            size = min(length, len(data) - body)
        position = body + length + (length & 1)
    if not byte_rate or size is None:
        return None
    return size / byte_rate


def _le(data: bytes, offset: int, width: int) -> int:
    return int.from_bytes(data[offset : offset + width], "little")


def _not_audio(reason: str) -> InvalidRequest:
    formats = ", ".join(EXTENSIONS)
    return InvalidRequest(
        f"Invalid file format: {reason}. Supported formats: {formats}.",
        param="file",
    )


def _response_format(value: str) -> str:
    if value not in RESPONSE_FORMATS:
        options = ", ".join(f"'{f}'" for f in RESPONSE_FORMATS)
        raise invalid_value("response_format", f"'{value}' is not one of {options}.")
    return value


def _granularities(values: Sequence[str], response_format: str) -> frozenset[str]:
    """``timestamp_granularities[]``; OpenAI refuses ``word`` outside verbose_json."""
    chosen = frozenset(values) or frozenset({"segment"})
    unknown = sorted(chosen - set(GRANULARITIES))
    if unknown:
        raise invalid_value(
            GRANULARITY_PARAM, f"'{unknown[0][:40]}' is not one of 'segment', 'word'."
        )
    if "word" in chosen and response_format != "verbose_json":
        raise invalid_value(
            GRANULARITY_PARAM, "word timestamps need response_format 'verbose_json'."
        )
    return chosen


def _temperature(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:
        raise invalid_value("temperature", f"'{value}' is not a number from 0 to 1.")
    return number
