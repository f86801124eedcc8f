"""``proxy.max_body_bytes`` under real gunicorn: sized and chunked, every route kind.

A body of ``limit - 1`` or ``limit`` bytes is served; ``limit + 1`` is 413 in the
route's protocol format, whether the client framed it with ``Content-Length`` or
``Transfer-Encoding: chunked``, and for a huge chunked body the gateway stops
reading at the limit instead of taking it all in.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import socket
import threading
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.e2e.conftest import sdk_stack
from tests.fakes.cloudcode import Reply, Step

pytestmark = pytest.mark.e2e

LIMIT = 40_000
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x07" * 24
CHUNK = 4096


def wav(seconds: float = 0.25, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x10\x00" * int(rate * seconds))
    return buffer.getvalue()


def json_body(value: dict[str, Any]) -> Callable[[int], tuple[bytes, str]]:
    """Valid JSON of exactly ``size`` bytes: the object, then spaces."""

    def build(size: int) -> tuple[bytes, str]:
        data = json.dumps(value).encode()
        return data + b" " * (size - len(data)), "application/json"

    return build


def multipart(
    fields: dict[str, str], name: str, filename: str, data: bytes, mime: str
) -> Callable[[int], tuple[bytes, str]]:
    """A multipart form of exactly ``size`` bytes; the file carries the padding."""

    def encode(pad: int) -> tuple[bytes, str]:
        upload = FileStorage(io.BytesIO(data + b"\x00" * pad), filename, name, mime)
        boundary, body = encode_multipart({**fields, name: upload}, "agp-boundary")
        return body, f"multipart/form-data; boundary={boundary}"

    def build(size: int) -> tuple[bytes, str]:
        empty, _ = encode(0)
        return encode(size - len(empty))

    return build


@dataclass(frozen=True)
class RouteKind:
    name: str
    path: str
    body: Callable[[int], tuple[bytes, str]]
    too_large: Callable[[dict[str, Any]], bool]
    reply: Step | None = None


def openai_error(body: dict[str, Any]) -> bool:
    error = body["error"]
    return error["type"] == "invalid_request_error" and "limit" in error["message"]


def anthropic_error(body: dict[str, Any]) -> bool:
    return body["type"] == "error" and body["error"]["type"] == "request_too_large"


def gemini_error(body: dict[str, Any]) -> bool:
    return body["error"]["code"] == 413 and bool(body["error"]["status"])


CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
ROUTES = [
    RouteKind("openai-chat", "/v1/chat/completions", json_body(CHAT), openai_error),
    RouteKind(
        "openai-responses",
        "/v1/responses",
        json_body({"model": "gpt-4o", "input": "hi"}),
        openai_error,
    ),
    RouteKind(
        "anthropic-messages",
        "/v1/messages",
        json_body(
            {
                "model": "claude-sonnet-4-5",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": "hi"}],
            }
        ),
        anthropic_error,
    ),
    RouteKind(
        "gemini-generate",
        "/v1beta/models/gemini-2.5-flash:generateContent",
        json_body({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        gemini_error,
    ),
    RouteKind(
        "images-edits",
        "/v1/images/edits",
        multipart(
            {"prompt": "a cat", "model": "dall-e-2", "response_format": "b64_json"},
            "image",
            "cat.png",
            PNG,
            "image/png",
        ),
        openai_error,
        Reply([{"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]),
    ),
    RouteKind(
        "audio-transcriptions",
        "/v1/audio/transcriptions",
        multipart({"model": "whisper-1"}, "file", "talk.wav", wav(), "audio/wav"),
        openai_error,
        Reply([{"text": "Hello there."}]),
    ),
]


def chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def send(base_url: str, path: str, body: bytes, mime: str, chunked: bool):
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    headers = {"Content-Type": mime, "Connection": "close"}
    try:
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
            conn.request("POST", path, chunks(body), headers, encode_chunked=True)
        else:
            conn.request("POST", path, body, headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    extra = {
        "proxy": {"auth_mode": "off", "max_body_bytes": LIMIT},
        "audio": {"max_bytes": LIMIT},
    }
    home = tmp_path_factory.mktemp("limit") / "home"
    with sdk_stack(home, extra=extra, workers=1) as (fake, gateway):
        yield fake, gateway


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_body_at_the_limit_is_served_and_past_it_is_413(stack, route, framing):
    fake, gateway = stack
    chunked = framing == "chunked"
    for size in (LIMIT - 1, LIMIT):
        body, mime = route.body(size)
        assert len(body) == size
        if route.reply is not None:
            fake.script(route.reply)
        status, answer = send(gateway.base_url, route.path, body, mime, chunked)
        assert status == 200, (size, answer[:300])
    body, mime = route.body(LIMIT + 1)
    before = len(fake.calls("GenerateContent"))
    status, answer = send(gateway.base_url, route.path, body, mime, chunked)
    assert status == 413, answer[:300]
    assert route.too_large(json.loads(answer))
    after = len(fake.calls("GenerateContent"))
    assert after == before, "an oversized body reached the upstream"
    fake.reset()


def test_huge_chunked_body_is_refused_without_reading_it(stack):
    """64 MiB offered chunked; the gateway answers 413 and stops reading."""
    _, gateway = stack
    host, port = gateway.base_url.removeprefix("http://").split(":")
    offered = 64 << 20
    sent = 0
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        piece = b"%x\r\n" % (1 << 16) + b" " * (1 << 16) + b"\r\n"

        def pump() -> None:
            nonlocal sent
            try:
                while sent < offered:
                    sock.sendall(piece)
                    sent += 1 << 16
            except OSError:
                pass

        pumper = threading.Thread(target=pump, daemon=True)
        pumper.start()
        started = time.monotonic()
        reply = b""
        while b"\r\n\r\n" not in reply and time.monotonic() - started < 15:
            data = sock.recv(65536)
            if not data:
                break
            reply += data
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        pumper.join(10)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    # The kernel buffers a few MiB on each side of a loopback socket; the rest
    # was never taken.
    assert sent < offered // 2, sent


@pytest.mark.parametrize(
    "framing", [b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n"]
)
def test_broken_chunked_framing_is_400_in_the_protocol(stack, framing):
    _, gateway = stack
    host, port = gateway.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(
            b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
            b"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + framing
        )
        reply = b""
        while data := sock.recv(65536):
            reply += data
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), reply[:300]
    assert json.loads(body)["error"]["type"] == "invalid_request_error"
