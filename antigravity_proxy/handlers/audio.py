"""OpenAI ``/v1/audio/transcriptions``: a multipart upload transcribed by Gemini.

Thin glue: check the upload (size against ``audio.max_bytes``, type by magic
bytes), translate (pure, ``protocols/openai/audio``), one non-streaming
``generateContent`` through the dispatcher, render the chosen format.
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from antigravity_proxy.dispatch import UpstreamRequest
from antigravity_proxy.errors import InvalidRequest, RequestTooLarge
from antigravity_proxy.http import read_form, safe_headers
from antigravity_proxy.pipeline import Pipeline
from antigravity_proxy.protocols.openai.audio import (
    GRANULARITY_PARAM,
    job_to_upstream,
    transcription_job,
)
from antigravity_proxy.protocols.openai.audio_response import (
    transcript_from_upstream,
    transcription_body,
)
from antigravity_proxy.services import Services


def transcriptions(services: Services, request: Request) -> Response:
    with request:  # closes the upload's spooled temporary file
        fields = read_form(request)
        granularities = request.form.getlist(GRANULARITY_PARAM)
        filename, data = _upload(request, services.config.audio.max_bytes)
    mapping = services.config.model_mapping
    job = transcription_job(fields, filename, data, mapping, granularities)
    upstream = UpstreamRequest(
        method="generateContent",
        model=job.model,
        inner=job_to_upstream(job, data),
        stream=False,
    )
    pipe = Pipeline(services, request)
    sent = pipe.send(upstream, fields.get("model") or job.model, False)
    answer = pipe.unary(sent, "generateContent")
    body, mimetype = transcription_body(
        transcript_from_upstream(answer, job), job, answer.usage
    )
    if isinstance(body, dict):
        return pipe.json(body)
    return Response(body, headers=safe_headers(pipe.headers()), mimetype=mimetype)


def _upload(request: Request, limit: int) -> tuple[str, bytes]:
    """The ``file`` upload's name and bytes; 413 past ``audio.max_bytes``."""
    upload = request.files.get("file")
    if upload is None:
        raise InvalidRequest("Missing required parameter: 'file'.", param="file")
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise RequestTooLarge(
            f"the audio file is larger than {limit} bytes (audio.max_bytes), "
            "the most the upstream accepts inline",
            param="file",
        )
    if not data:
        raise InvalidRequest("the audio file is empty", param="file")
    return upload.filename or "", data
