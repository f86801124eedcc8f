"""Property-based fuzz of every POST route: hostile bodies never make a 5xx.

For each POST route of ``routes.yaml`` (a test checks none is missing), the
fuzzer mutates a valid body (wrong types at any field, huge numbers, deep
nesting, long and control-character strings, inserted and deleted fields),
serialises it badly (duplicate keys, invalid UTF-8, CESU-8, truncation), sends
it with a right or wrong content type, and for the multipart routes builds
malformed forms. Every answer must be below 500, an error must be the route's
protocol error body, no body may carry a traceback, every response header must
be short printable ASCII, and each request must finish in bounded time.
"""

from __future__ import annotations

import json
import time
from typing import Any, Final
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.routing import Map, Rule
from werkzeug.test import Client

from antigravity_proxy.routing import DEFAULT_ROUTES_FILE, load_routes_file
from tests.fuzz.hostile import content_types, encoded, multipart, mutated
from tests.fuzz.seeds import JSON_ROUTES, MULTIPART_ROUTES

SECONDS_PER_REQUEST: Final = 10.0
HEADER_MAX: Final = 1024


def assert_error_shape(protocol: str, status: int, body: Any, text: str) -> None:
    if protocol == "mcp":
        assert body.get("jsonrpc") == "2.0" and "error" in body, text[:300]
        assert isinstance(body["error"].get("code"), int), text[:300]
        return
    if protocol == "anthropic":
        assert body.get("type") == "error", text[:300]
        assert set(body["error"]) == {"type", "message"}, text[:300]
        return
    error = body["error"]
    if protocol == "gemini":
        assert error["code"] == status and error["status"].isupper(), text[:300]
        return
    assert set(error) == {"message", "type", "param", "code"}, text[:300]


def check(response, protocol: str, elapsed: float, what: str) -> None:
    text = response.get_data(as_text=True)
    status = response.status_code
    assert status < 500, f"{what} -> {status} {text[:500]}"
    assert "Traceback" not in text and 'File "' not in text, f"{what}: {text[:500]}"
    assert elapsed < SECONDS_PER_REQUEST, f"{what} took {elapsed:.1f}s"
    for name, value in response.headers.items():
        assert len(value) <= HEADER_MAX, f"{what}: header {name} {len(value)} long"
        assert value.isascii() and value.isprintable(), f"{what}: {name}={value!r}"
    if status >= 400:
        assert_error_shape(protocol, status, json.loads(text), text)


def post(client: Client, url: str, raw: bytes, content_type: str, **headers: str):
    started = time.monotonic()
    headers["Content-Type"] = content_type
    response = client.post(url, data=raw, headers=headers)
    response.get_data()
    return response, time.monotonic() - started


def test_every_post_route_is_fuzzed():
    """A new POST route must get a seed here, or this fails."""
    urls = [*JSON_ROUTES, *MULTIPART_ROUTES]
    fuzzed = Map([Rule(u.split("?")[0], endpoint=u) for u in urls]).bind("x")
    for route in load_routes_file(DEFAULT_ROUTES_FILE):
        if "POST" not in route.methods:  # ANY routes list POST too
            continue
        probe = route.path.replace("<model>", "gemini-3-flash:generateContent")
        probe = probe.replace("gemini-3-flash:generateContent/", "gemini-3-flash/")
        assert fuzzed.test(probe, method="POST"), f"no fuzz seed for {route.path}"


@pytest.mark.parametrize("url", list(JSON_ROUTES))
@given(data=st.data())
def test_fuzz_json_route(fuzz_client, url, data):
    protocol, seed = JSON_ROUTES[url]
    body = data.draw(mutated(seed), label="body")
    raw = data.draw(encoded(body), label="raw")
    content_type = data.draw(content_types, label="content_type")
    response, elapsed = post(fuzz_client, url, raw, content_type)
    check(response, protocol, elapsed, f"POST {url} {raw[:200]!r}")


@pytest.mark.parametrize("url", list(MULTIPART_ROUTES))
@given(data=st.data())
def test_fuzz_multipart_route(fuzz_client, url, data):
    raw, content_type = data.draw(multipart(MULTIPART_ROUTES[url]), label="form")
    response, elapsed = post(fuzz_client, url, raw, content_type)
    check(response, "openai", elapsed, f"POST {url} {content_type} {raw[:300]!r}")


MODEL_IDS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["x" * 70_000, "a\r\nX-Injected: 1", "%0d%0a", "..", "a b"]),
)


@pytest.mark.parametrize(
    "template", ["/v1beta/models/{}:generateContent", "/v1/models/{}/countTokens"]
)
@given(model=MODEL_IDS)
def test_fuzz_gemini_path_model(fuzz_client, template, model):
    url = template.format(quote(model, safe=""))
    raw = json.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    # google-genai's client header: a path no route matches answers in Gemini's
    # format too (``/v1/models/...`` is OpenAI's otherwise).
    client_header = {"X-Goog-Api-Client": "google-genai-sdk/1.0"}
    response, elapsed = post(
        fuzz_client, url, raw.encode(), "application/json", **client_header
    )
    check(response, "gemini", elapsed, f"POST {url[:200]}")
