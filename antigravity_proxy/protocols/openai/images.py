"""OpenAI Images API (generations, edits) to Gemini image generation, and back (pure).

A request becomes an ``ImageJob``: the upstream image model, its ``imageConfig``
(``image_config``: from ``size``/``quality``/``image_size`` or the model name's
suffixes) and the prompt. The job becomes one Gemini request, sent ``n`` times
by the handler; each answer's ``inlineData`` parts become the ``data`` items.
Uploaded images are typed by their magic bytes, never by the type a client
declared.

Dropped request fields: ``user``, ``safety_identifier``, ``moderation``,
``background``, ``output_format``, ``output_compression`` (the upstream decides the
encoding; the ``data:`` URI and the sniffed type say which it chose).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from antigravity_proxy.errors import (
    ErrorKind,
    GatewayError,
    InvalidRequest,
    UpstreamError,
)
from antigravity_proxy.protocols.gemini.chunk import Chunk, InlineData, TokenUsage
from antigravity_proxy.protocols.openai.image_config import (
    ImageConfig,
    config_from_fields,
    image_model,
    small_natural,
    text_field,
)
from antigravity_proxy.protocols.openai.types import as_str, invalid_value

MAX_IMAGES: Final = 10
MAX_INPUT_IMAGE_BYTES: Final = 15 * 1024 * 1024
"""All uploaded images of one edit together: the upstream's inline-data limit."""

STYLE_SUFFIX: Final[Mapping[str, str]] = {
    "vivid": ", (vivid colors, dramatic lighting, rich details)",
    "natural": ", (natural lighting, realistic, photorealistic)",
}
RESPONSE_FORMATS: Final = ("b64_json", "url")
IMAGE_MAGIC: Final[Sequence[tuple[bytes, str]]] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
BLOCKED_FINISH: Final = frozenset(
    {"SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "RECITATION"}
)
HARM_CATEGORIES: Final = (
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
)
MASK_NOTE: Final = (
    "The next image is a mask: edit only where it is fully transparent; "
    "keep everything else unchanged."
)


@dataclass(frozen=True, slots=True)
class ImageJob:
    """One images request, validated: what each of the ``n`` upstream calls asks."""

    prompt: str
    n: int
    model: str
    config: ImageConfig
    response_format: str
    revised_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class InlineImage:
    """Image bytes with the type their magic number says (also upstream output)."""

    mime_type: str
    data: bytes


def sniff_image_type(data: bytes) -> str | None:
    """The image type of ``data`` by its magic number (PNG, JPEG, GIF, WEBP)."""
    for magic, mime_type in IMAGE_MAGIC:
        if data.startswith(magic):
            return mime_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_job(
    fields: Mapping[str, Any], mapping: Mapping[str, str], *, default_ratio: str | None
) -> ImageJob:
    """Validate a generations body (JSON) or an edits form (strings) into a job.

    ``default_ratio`` is used when neither ``size`` nor the model name gives one:
    1:1 for generations (the reference's default), none for edits, so an edit
    keeps the shape of the image it edits.
    """
    prompt = as_str(fields.get("prompt"), "prompt")
    if not prompt.strip():
        raise invalid_value("prompt", "the prompt must not be empty.")
    if fields.get("stream") in (True, "true"):
        raise invalid_value("stream", "streaming images is not supported.")
    model, suffix_config = image_model(text_field(fields, "model") or "", mapping)
    params = config_from_fields(fields)
    config = params.over(suffix_config).over(ImageConfig(default_ratio))
    style = _choice(fields, "style", tuple(STYLE_SUFFIX))
    revised = prompt + STYLE_SUFFIX[style] if style else None
    return ImageJob(
        prompt=revised or prompt,
        n=_count(fields.get("n")),
        model=model,
        config=config,
        response_format=_choice(fields, "response_format", RESPONSE_FORMATS)
        or "b64_json",
        revised_prompt=revised,
    )


def job_to_upstream(
    job: ImageJob,
    images: Sequence[InlineImage] = (),
    mask: InlineImage | None = None,
) -> dict[str, Any]:
    """The Gemini request for one image: prompt, input images, then the mask.

    Why ``safetySettings`` OFF: the Images API has no per-category blocking; the
    upstream's own image safety still applies (and is reported as a 400).
    """
    parts: list[dict[str, Any]] = [{"text": job.prompt}]
    parts += [_inline(image) for image in images]
    if mask is not None:
        parts += [{"text": MASK_NOTE}, _inline(mask)]
    config: dict[str, Any] = {"candidateCount": 1}
    image_config = job.config.to_upstream()
    if image_config:
        config["imageConfig"] = image_config
    return {
        "contents": [{"role": "user", "parts": parts}],
        "generationConfig": config,
        "safetySettings": [
            {"category": c, "threshold": "OFF"} for c in HARM_CATEGORIES
        ],
    }


def images_from_upstream(answer: Chunk) -> list[InlineImage]:
    """Every ``inlineData`` image of the first candidate; an error when there is none.

    A candidate stopped by a safety filter is a 400 ``content_policy_violation``
    (OpenAI's answer to a refused prompt); any other answer without an image is
    a 502 quoting what the model said instead.
    """
    parts = answer.first.parts
    found = [_decoded(p.inline_data) for p in parts if p.inline_data and not p.thought]
    images = [image for image in found if image is not None]
    if images:
        return images
    finish = answer.first.finish_reason
    if finish in BLOCKED_FINISH or answer.block_reason is not None:
        raise InvalidRequest(
            f"the upstream refused to draw this prompt ({finish or 'blocked'})",
            code="content_policy_violation",
        )
    said = " ".join(p.text for p in parts if p.text is not None and not p.thought)
    raise UpstreamError(
        "the upstream answered without an image"
        + (f": {said[:200]}" if said.strip() else "")
    )


def images_response(
    created: int,
    images: Sequence[InlineImage],
    job: ImageJob,
    usage: Sequence[TokenUsage] = (),
) -> dict[str, Any]:
    """``{"created", "data": [...], "usage"?}`` in the job's response format."""
    data = [_datum(image, job) for image in images]
    body: dict[str, Any] = {"created": created, "data": data}
    totals = usage_from_upstream(usage)
    if totals is not None:
        body["usage"] = totals
    return body


def usage_from_upstream(counts: Sequence[TokenUsage]) -> dict[str, Any] | None:
    """The images ``usage`` object summed over every successful call's counts."""
    if not counts:
        return None
    prompt = sum(c.prompt_tokens for c in counts)
    output = sum(c.candidates_tokens for c in counts)
    images_in = sum(c.prompt_tokens_of("IMAGE") for c in counts)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "image_tokens": images_in,
            "text_tokens": prompt - images_in,
        },
        "output_tokens": output,
        "total_tokens": sum(c.total_tokens for c in counts) or prompt + output,
    }


def combined_failure(errors: Sequence[GatewayError]) -> GatewayError:
    """The one error to answer when every image failed.

    Why this order: a quota 429 tells the client when to come back, so it wins
    (shortest ``Retry-After``); then "no account" (503); otherwise the first
    error, which is the upstream's (502) or the request's own (4xx).
    """
    for kind in (ErrorKind.RATE_LIMIT, ErrorKind.OVERLOADED):
        chosen = [e for e in errors if e.kind is kind]
        if chosen:
            waits = [e.retry_after for e in chosen if e.retry_after is not None]
            first = chosen[0]
            return GatewayError(
                first.message,
                status=first.status,
                retry_after=min(waits) if waits else None,
                kind=kind,
            )
    return errors[0]


def _choice(fields: Mapping[str, Any], key: str, allowed: Sequence[str]) -> str | None:
    value = text_field(fields, key)
    if value is not None and value not in allowed:
        options = ", ".join(f"'{a}'" for a in allowed)
        raise invalid_value(key, f"'{value}' is not one of {options}.")
    return value


def _count(value: Any) -> int:
    """``n``: an integer (or, from a form, its digits) between 1 and 10."""
    if value is None or value == "":
        return 1
    count = small_natural(value) if isinstance(value, str) else value
    if isinstance(count, bool) or not isinstance(count, int):
        raise invalid_value("n", "expected an integer between 1 and 10.")
    if not 1 <= count <= MAX_IMAGES:
        raise invalid_value("n", f"expected an integer between 1 and {MAX_IMAGES}.")
    return count


def _inline(image: InlineImage) -> dict[str, Any]:
    data = base64.b64encode(image.data).decode("ascii")
    return {"inlineData": {"mimeType": image.mime_type, "data": data}}


def _decoded(inline: InlineData) -> InlineImage | None:
    if not inline.data:
        return None
    try:
        raw = base64.b64decode(inline.data, validate=True)
    except ValueError:
        return None
    return InlineImage(sniff_image_type(raw) or inline.mime_type or "image/png", raw)


def _datum(image: InlineImage, job: ImageJob) -> dict[str, Any]:
    encoded = base64.b64encode(image.data).decode("ascii")
    datum: dict[str, Any] = (
        {"url": f"data:{image.mime_type};base64,{encoded}"}
        if job.response_format == "url"
        else {"b64_json": encoded}
    )
    if job.revised_prompt is not None:
        datum["revised_prompt"] = job.revised_prompt
    return datum
