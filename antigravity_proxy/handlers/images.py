"""OpenAI Images endpoints: `/v1/images/generations` (JSON), `/edits` (multipart).

Thin glue: validate into an ``ImageJob`` (pure, ``protocols/openai/images``), send
it ``n`` times through the dispatcher, each call on its own account choice and
with its own retries, and answer with every image that came back. The ``n``
calls run on a small per-process thread pool; a partial success is a success,
and only when every call failed does the client get an error (the most useful
one: a quota 429 with ``Retry-After``, else 503 no account, else the upstream's).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Request, Response

from antigravity_proxy.dispatch import UpstreamRequest
from antigravity_proxy.errors import GatewayError, InvalidRequest
from antigravity_proxy.http import read_form, read_json_object
from antigravity_proxy.observer import bind_request_id
from antigravity_proxy.pipeline import Pipeline
from antigravity_proxy.protocols.gemini.chunk import (
    TokenUsage,
    chunk_from_upstream,
)
from antigravity_proxy.protocols.openai.images import (
    MAX_IMAGES,
    MAX_INPUT_IMAGE_BYTES,
    ImageJob,
    InlineImage,
    combined_failure,
    image_job,
    images_from_upstream,
    images_response,
    job_to_upstream,
    sniff_image_type,
)
from antigravity_proxy.services import Services

log = logging.getLogger(__name__)

IMAGE_FIELD: Final = re.compile(r"image(\[\d*\])?")
MEBIBYTE: Final = 1024 * 1024

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Generated:
    """The images of one successful upstream call."""

    images: list[InlineImage]
    usage: TokenUsage | None
    account: str


def generations(services: Services, request: Request) -> Response:
    body = read_json_object(request)
    job = image_job(body, services.config.model_mapping, default_ratio="1:1")
    pipe = Pipeline(services, request)
    return _respond(pipe, _asked(body, job), job, job_to_upstream(job))


def edits(services: Services, request: Request) -> Response:
    """Edit uploaded images: ``image`` (or ``image[]``, several), ``mask``, ``prompt``.

    Each upload is typed by its magic bytes: a client's declared type is often
    ``application/octet-stream``, and a non-image must fail here (400) rather
    than as an opaque upstream error.
    """
    with request:  # closes the uploads' spooled temporary files
        fields = read_form(request)
        job = image_job(fields, services.config.model_mapping, default_ratio=None)
        images, mask = _uploaded_images(request)
    pipe = Pipeline(services, request)
    return _respond(pipe, _asked(fields, job), job, job_to_upstream(job, images, mask))


def _asked(body: Mapping[str, Any], job: ImageJob) -> str:
    """The model the client named (the default one when it named none)."""
    model = body.get("model")
    return model if isinstance(model, str) and model else job.model


def _respond(
    pipe: Pipeline, asked: str, job: ImageJob, inner: dict[str, Any]
) -> Response:
    outcomes = _generate_all(pipe, asked, job, inner)
    done = [o for o in outcomes if isinstance(o, Generated)]
    failed = [o for o in outcomes if isinstance(o, GatewayError)]
    if not done:
        raise combined_failure(failed)
    if failed:
        log.warning(
            "images: %d of %d calls failed: %s", len(failed), job.n, failed[0].message
        )
    images = [image for outcome in done for image in outcome.images]
    usage = [o.usage for o in done if o.usage is not None]
    body = images_response(int(time.time()), images, job, usage)
    exchange = pipe.exchange
    exchange.account = ",".join(dict.fromkeys(o.account for o in done))
    for one in usage:
        exchange.usage.add(one)
    exchange.usage.images = len(images)
    return pipe.json(body)


def _generate_all(
    pipe: Pipeline, asked: str, job: ImageJob, inner: dict[str, Any]
) -> list[Generated | GatewayError]:
    """``job.n`` calls, in parallel past the first; none once the client left."""
    if job.n == 1:
        return [_attempt(pipe, asked, job.model, inner)]
    pool = _pool()
    futures = [
        pool.submit(_attempt, pipe, asked, job.model, inner) for _ in range(job.n)
    ]
    return [future.result() for future in futures]


def _attempt(
    pipe: Pipeline, asked: str, model: str, inner: dict[str, Any]
) -> Generated | GatewayError:
    """One image call; a ``GatewayError`` is a result (others still count)."""
    bind_request_id(pipe.exchange.request_id)
    try:
        upstream = UpstreamRequest(
            method="generateContent",
            model=model,
            inner=inner,
            stream=False,
            request_type="image_gen",
        )
        sent = pipe.send(upstream, asked, False)
        answer = chunk_from_upstream(pipe.json_answer(sent, "generateContent"))
        return Generated(
            images_from_upstream(answer), answer.usage, sent.lease.account.id
        )
    except GatewayError as err:
        return err


def _pool() -> ThreadPoolExecutor:
    """The process's image-call pool, made on first use (after gunicorn's fork)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=MAX_IMAGES, thread_name_prefix="images"
            )
        return _executor


def _uploaded_images(request: Request) -> tuple[list[InlineImage], InlineImage | None]:
    uploads = [s for name, s in request.files.items(multi=True) if _is_image(name)]
    if not uploads:
        raise InvalidRequest("Missing required parameter: 'image'.", param="image")
    budget = MAX_INPUT_IMAGE_BYTES
    images: list[InlineImage] = []
    for storage in uploads:
        images.append(_read_image(storage, "image", budget))
        budget -= len(images[-1].data)
    mask_upload = request.files.get("mask")
    mask = _read_image(mask_upload, "mask", budget) if mask_upload else None
    return images, mask


def _is_image(field: str) -> bool:
    return IMAGE_FIELD.fullmatch(field) is not None


def _read_image(storage: FileStorage, param: str, budget: int) -> InlineImage:
    data = storage.stream.read(max(budget, 0) + 1)
    if len(data) > budget:
        limit = MAX_INPUT_IMAGE_BYTES // MEBIBYTE
        raise InvalidRequest(
            f"'{param}' is too large: the images of one edit may total {limit} MiB",
            param=param,
        )
    mime_type = sniff_image_type(data)
    if mime_type is None:
        name = storage.filename or "the upload"
        raise InvalidRequest(
            f"Invalid image file for '{param}' ({name}): "
            "expected a PNG, JPEG, WEBP or GIF image",
            param=param,
            code="invalid_image_format",
        )
    return InlineImage(mime_type, data)
