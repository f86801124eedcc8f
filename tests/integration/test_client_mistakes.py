"""Issue 10 item 6: client mistakes are 400s in the client's protocol, never 500s.

Each class is tested on every route it can reach: raw surrogate bytes (CESU-8)
on every generation route, non-string tags where a translator branches, parts
without a name in multipart forms, and client text echoed into headers.
"""

from __future__ import annotations

import json

import pytest

from antigravity_proxy.http import header_text
from tests.fuzz.seeds import ANTHROPIC, CHAT, COMPLETION, GEMINI, IMAGES, RESPONSES
from tests.upstream_env import seed_account

GENERATION_ROUTES = {
    "/v1/chat/completions": ("openai", CHAT),
    "/v1/completions": ("openai", COMPLETION),
    "/v1/responses": ("openai", RESPONSES),
    "/responses": ("openai", RESPONSES),
    "/responses/compact": ("openai", RESPONSES),
    "/v1/images/generations": ("openai", IMAGES),
    "/v1/messages": ("anthropic", ANTHROPIC),
    "/v1/messages/count_tokens": ("anthropic", ANTHROPIC),
    "/v1beta/models/gemini-3-flash:generateContent": ("gemini", GEMINI),
    "/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse": ("gemini", GEMINI),
    "/v1beta/models/gemini-3-flash:countTokens": ("gemini", GEMINI),
    "/v1/models/gemini-3-flash:generateContent": ("gemini", GEMINI),
}
CESU8 = (b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xed\xa0\xbd\xed\xb8\x80")


@pytest.fixture
def client(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    return gateway()


def assert_client_error(response, protocol: str, status: int = 400) -> dict:
    text = response.get_data(as_text=True)
    assert response.status_code == status, text[:300]
    body = json.loads(text)
    if protocol == "anthropic":
        assert body["type"] == "error"
        assert body["error"]["type"] == "invalid_request_error"
    elif protocol == "gemini":
        assert body["error"]["status"] == "INVALID_ARGUMENT"
    else:
        assert body["error"]["type"] == "invalid_request_error"
    return body


def with_text(seed: dict, marker: str) -> bytes:
    """``seed`` serialised with its first prompt text replaced by ``marker``."""
    raw = json.dumps(seed)
    for text in ('"weather?"', '"Say hi"', '"a cat"'):
        raw = raw.replace(text, json.dumps(marker), 1)
    assert marker in raw
    return raw.encode()


@pytest.mark.parametrize("url", list(GENERATION_ROUTES))
@pytest.mark.parametrize("bad", CESU8, ids=["high", "low", "pair"])
def test_raw_surrogate_bytes_are_a_400(client, fake_upstream, url, bad):
    protocol, seed = GENERATION_ROUTES[url]
    raw = with_text(seed, "MARK").replace(b"MARK", b"a" + bad + b"b")
    response = client.post(url, data=raw, content_type="application/json")
    body = assert_client_error(response, protocol)
    assert "surrogate" in json.dumps(body) or "UTF-8" in json.dumps(body)
    assert fake_upstream.calls("GenerateContent") == []


TAG_CASES = {
    "responses content part": (
        "/v1/responses",
        {"model": "gemini-3-flash", "input": [{"role": "user", "content": [{}]}]},
        ("input", 0, "content", 0, "type"),
    ),
    "responses tool": (
        "/v1/responses",
        {"model": "gemini-3-flash", "input": "hi", "tools": [{"name": "f"}]},
        ("tools", 0, "type"),
    ),
    "responses namespace tool": (
        "/v1/responses",
        {
            "model": "gemini-3-flash",
            "input": "hi",
            "tools": [{"type": "namespace", "name": "n", "tools": [{"name": "f"}]}],
        },
        ("tools", 0, "tools", 0, "type"),
    ),
    "chat content part": (
        "/v1/chat/completions",
        {"model": "gemini-3-flash", "messages": [{"role": "user", "content": [{}]}]},
        ("messages", 0, "content", 0, "type"),
    ),
    "anthropic block": (
        "/v1/messages",
        {
            "model": "gemini-3-flash",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": [{}]}],
        },
        ("messages", 0, "content", 0, "type"),
    ),
    "gemini function name": (
        "/v1beta/models/gemini-3-flash:generateContent",
        {
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "tools": [{"functionDeclarations": [{}]}],
        },
        ("tools", 0, "functionDeclarations", 0, "name"),
    ),
}


@pytest.mark.parametrize("case", list(TAG_CASES))
@pytest.mark.parametrize("value", [[], ["text"], {}, {"a": 1}, 7])
def test_non_string_tag_is_a_400_naming_it(client, case, value):
    url, body, path = TAG_CASES[case]
    node = body
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    protocol = next(p for u, (p, _) in GENERATION_ROUTES.items() if u == url)
    result = assert_client_error(client.post(url, json=body), protocol)
    named = ".".join(str(p) for p in path)
    assert "Invalid type for" in json.dumps(result)
    assert path[-1] in json.dumps(result), named


NAMELESS = (
    b'--zz\r\nContent-Disposition: form-data; name="prompt"\r\n\r\ndraw\r\n'
    b'--zz\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'
    b'--zz\r\nContent-Disposition: form-data; filename="a.png"\r\n'
    b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\r\n--zz--\r\n"
)
NO_DISPOSITION = (
    b'--zz\r\nContent-Disposition: form-data; name="prompt"\r\n\r\ndraw\r\n'
    b"--zz\r\nContent-Type: text/plain\r\n\r\nfoo\r\n--zz--\r\n"
)


@pytest.mark.parametrize("url", ["/v1/images/edits", "/v1/audio/transcriptions"])
@pytest.mark.parametrize("raw", [NAMELESS, NO_DISPOSITION], ids=["file", "field"])
def test_multipart_part_without_name_is_a_400(client, url, raw):
    response = client.post(
        url, data=raw, content_type="multipart/form-data; boundary=zz"
    )
    body = assert_client_error(response, "openai")
    assert "Content-Disposition" in body["error"]["message"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("gemini-3-flash", "gemini-3-flash"),
        ("a\r\nX-Injected: 1", "a%0D%0AX-Injected: 1"),
        ("\x00\x7f\x1b", "%00%7F%1B"),
        ("100%", "100%25"),
        ("caf\u00e9", "caf%C3%A9"),
        ("x" * 300, "x" * 253 + "..."),
    ],
)
def test_header_text_escapes_and_bounds(value, expected):
    assert header_text(value) == expected


def test_every_header_is_safe_whatever_the_model_maps_to(gateway, home, fake_upstream):
    """A mapping that echoes client text into ``X-Mapped-Model`` stays one header."""
    seed_account(home, fake_upstream, "a")
    client = gateway({"model_mapping": {"evil*": "gemini-3-flash\r\nX-Injected: 1"}})
    body = {"model": "evil-1", "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/v1/chat/completions", json=body)
    for name, value in response.headers.items():
        assert value.isascii() and value.isprintable(), (name, value)
        assert len(value) <= 256
    assert "X-Injected" not in response.headers
