"""Malformed input against the Gemini routes and the core: never a 500, never a trace.

Table-driven cases (bodies, paths, headers, lying lengths) plus a bounded, seeded
fuzz that mutates a Gemini CLI-shaped body node by node. Every answer must be a
status below 500 (or an upstream-class 502-504 when a mutated request really went
upstream), and every error must be Google's ``{"error": {"code", "message",
"status"}}`` with ``code`` equal to the HTTP status.
"""

from __future__ import annotations

import copy
import io
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.test import Client

from antigravity_proxy.config import load_config
from antigravity_proxy.wsgi import create_app
from tests.conftest import write_config
from tests.fakes.cloudcode import FakeCloudCode, serve
from tests.upstream_env import seed_account, upstream_section

MODEL = "gemini-3-flash"
GENERATE = f"/v1beta/models/{MODEL}:generateContent"
STREAM = f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
COUNT = f"/v1beta/models/{MODEL}:countTokens"
GEMINI_POSTS = [
    GENERATE,
    STREAM,
    COUNT,
    f"/v1beta/models/{MODEL}/countTokens",
    f"/v1/models/{MODEL}:generateContent",
]
VALID = {
    "contents": [{"role": "user", "parts": [{"text": "hello robustness"}]}],
    "systemInstruction": {"parts": [{"text": "be brief"}]},
    "tools": [
        {
            "functionDeclarations": [
                {
                    "name": "read_file",
                    "description": "read",
                    "parametersJsonSchema": {
                        "type": "object",
                        "properties": {"path": {"type": "string"}},
                        "required": ["path"],
                    },
                }
            ]
        }
    ],
    "generationConfig": {
        "temperature": 1,
        "thinkingConfig": {"includeThoughts": True, "thinkingLevel": "HIGH"},
    },
}


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[Client]:
    home = tmp_path_factory.mktemp("robust") / "home"
    fake = FakeCloudCode()
    with serve(fake) as base:
        for name in ("a", "b", "c"):
            seed_account(home, fake, name)
        data = {
            "proxy": {"api_key": "sk-robust", "auth_mode": "off"},
            "upstream": upstream_section(base),
            "accounts": {"max_cooldown_seconds": 1},
        }
        config = load_config(write_config(home, data), env={})
        yield Client(create_app(config, background=False))


def assert_gemini_answer(response, *, upstream_ok: bool = False) -> None:
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text
    limit = 505 if upstream_ok else 500
    assert response.status_code < limit, text[:300]
    assert response.status_code != 500, text[:300]
    if response.status_code >= 400 and response.request.method != "HEAD":
        body = json.loads(text)
        assert set(body) == {"error"}, text[:300]
        assert body["error"]["code"] == response.status_code
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
        assert body["error"]["status"].isupper()


DEEP_LIST = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000


def nested_contents(depth: int) -> bytes:
    """A body that parses (depth under the parser's limit) but nests absurdly."""
    args = "1"
    for _ in range(depth):
        args = '{"k":' + args + "}"
    call = '{"functionCall":{"name":"f","args":' + args + "}}"
    return (
        '{"contents":[{"role":"model","parts":[' + call + "]},"
        '{"role":"user","parts":[{"text":"hi"}]}]}'
    ).encode()


RAW_BODIES = {
    "empty": b"",
    "whitespace": b"  \r\n ",
    "not-json": b"{not json",
    "truncated": json.dumps(VALID).encode()[:-7],
    "utf16-bom": b'\xff\xfe{"contents":1}',
    "invalid-utf8-in-string": b'{"contents":[{"parts":[{"text":"\xff\xfe"}]}]}',
    "overlong-utf8": b'{"contents":[{"parts":[{"text":"\xc0\xaf"}]}]}',
    "lone-surrogate": b'{"contents":[{"parts":[{"text":"\\ud800"}]}]}',
    "low-surrogate": b'{"contents":[{"parts":[{"text":"x\\udfff"}]}]}',
    "nan": b'{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"temperature":NaN}}',
    "infinity": b'{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"topP":-Infinity}}',
    "float-overflow": b'{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"temperature":1e400}}',
    "int-5000-digits": b'{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"seed":'
    + b"9" * 5000
    + b"}}",
    "bare-huge-int": b"1" * 5000,
    "deep-list": DEEP_LIST,
    "deep-object": DEEP_OBJECT,
    "deep-but-parseable": nested_contents(900),
    "array": b"[1,2]",
    "null": b"null",
    "string": b'"x"',
    "number": b"42",
    "duplicate-keys": b'{"contents":[],"contents":"x"}',
    "nul-bytes": b'{"contents":[{"parts":[{"text":"a\\u0000b"}]}]}\x00',
    "trailing-garbage": json.dumps(VALID).encode() + b"}}}",
}


@pytest.mark.parametrize("path", GEMINI_POSTS)
@pytest.mark.parametrize("name", sorted(RAW_BODIES))
def test_gemini_malformed_body_is_a_gemini_4xx(client, path, name):
    response = client.post(path, data=RAW_BODIES[name], content_type="application/json")
    assert_gemini_answer(response)
    if name not in ("nul-bytes",):
        assert 400 <= response.status_code < 500


BAD_SHAPES: list[Any] = [
    {"contents": []},
    {"contents": {}},
    {"contents": [None]},
    {"contents": [{"parts": None}]},
    {"contents": [{"parts": [None]}]},
    {"contents": [{"parts": [1]}]},
    {"contents": [{"parts": []}]},
    {"contents": "hi", "generateContentRequest": 5},
    {**VALID, "tools": {"functionDeclarations": []}},
    {**VALID, "tools": [5]},
    {**VALID, "tools": [{"functionDeclarations": 5}]},
    {**VALID, "tools": [{"functionDeclarations": [5]}]},
    {**VALID, "generationConfig": []},
    {**VALID, "generationConfig": {"thinkingConfig": "HIGH"}},
    {**VALID, "generationConfig": {"thinkingConfig": {"thinkingLevel": "ULTRA"}}},
    {**VALID, "generationConfig": {"thinkingConfig": {"thinkingLevel": ["x"]}}},
]


@pytest.mark.parametrize("path", [GENERATE, STREAM])
@pytest.mark.parametrize("body", BAD_SHAPES, ids=range(len(BAD_SHAPES)))
def test_gemini_invalid_shape_is_400_invalid_argument(client, path, body):
    response = client.post(path, json=body)
    assert_gemini_answer(response)
    assert response.status_code == 400
    assert response.json["error"]["status"] == "INVALID_ARGUMENT"


PATHS = [
    ("POST", "/v1beta/models/:generateContent"),
    ("POST", "/v1beta/models/gemini-3-flash:"),
    ("POST", "/v1beta/models/gemini-3-flash:fly"),
    ("POST", "/v1beta/models/gemini-3-flash:generateContent:x"),
    ("POST", "/v1beta/models/%00:generateContent"),
    ("POST", "/v1beta/models/%ff%fe:generateContent"),
    ("POST", "/v1beta/models/a%2Fb:generateContent"),
    ("POST", "/v1beta/models/" + "m" * 5000 + ":generateContent"),
    ("POST", "/v1beta/models/gemini-3-flash/countTokens/extra"),
    ("POST", "/v1beta/models"),
    ("POST", "/v1beta/"),
    ("POST", "/v1beta"),
    ("GET", "/v1beta/models/%ff"),
    ("GET", "/v1beta/models/" + "m" * 5000),
    ("GET", "/v1beta/models?pageSize=abc"),
    ("GET", "/v1beta/models?pageSize=-3"),
    ("GET", "/v1beta/models?pageSize=" + "9" * 5000),
    ("GET", "/v1beta/models?pageToken=%ff%fe"),
    ("GET", "/v1beta/models?pageToken=b2Zmc2V0Oi0x"),
    ("GET", "/v1beta/models?pageToken=" + "A" * 5000),
    ("PUT", GENERATE),
    ("DELETE", "/v1beta/models"),
    ("PATCH", f"/v1beta/models/{MODEL}"),
    ("TRACE", GENERATE),
    ("BREW", GENERATE),
    ("HEAD", GENERATE),
    ("GET", "/v1beta/models/x/y/z"),
    ("GET", "/v1/models/x/y"),
]


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_gemini_odd_paths_and_methods_answer_in_gemini_format(client, method, path):
    headers = {"x-goog-api-key": "k"}
    response = client.open(
        path, method=method, headers=headers, json=VALID if method == "POST" else None
    )
    assert_gemini_answer(response)


HEADERS = [
    {"Content-Type": "text/plain"},
    {"Content-Type": "application/json; charset=latin-1"},
    {"Content-Type": "multipart/form-data; boundary=x"},
    {"Content-Encoding": "gzip"},
    {"Authorization": "Bearer"},
    {"Authorization": "\u00ff" * 10},
    {"x-goog-api-key": "k" * 65_000},
    {"x-goog-api-client": "\x7f"},
    {"User-Agent": "GeminiCLI-tui/0.61.0/gemini-3.8-flash (linux; x64; terminal)"},
    {"Accept": "application/xml"},
    {"Accept-Encoding": "br, zstd"},
    {"Expect": "100-continue"},
    {"Connection": "Upgrade", "Upgrade": "websocket"},
]


@pytest.mark.parametrize("headers", HEADERS, ids=range(len(HEADERS)))
def test_gemini_odd_headers_never_break_a_valid_request(client, headers):
    response = client.post(GENERATE, data=json.dumps(VALID), headers=headers)
    assert_gemini_answer(response)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("declared", "status"),
    [("5", 400), ("100000", 400), ("-5", 400), ("abc", 400), ("0", 400)],
)
def test_gemini_content_length_lies_are_400(client, declared, status):
    body = json.dumps(VALID).encode()
    response = client.post(
        GENERATE,
        input_stream=io.BytesIO(body),
        content_type="application/json",
        environ_overrides={"CONTENT_LENGTH": declared},
    )
    assert_gemini_answer(response)
    assert response.status_code == status


def test_gemini_chunked_body_is_read_to_its_end(client):
    """gunicorn marks chunked bodies ``wsgi.input_terminated``; they must work."""
    body = json.dumps(VALID).encode()
    response = client.post(
        GENERATE,
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""},
    )
    assert response.status_code == 200, response.get_data(as_text=True)


CORE = [
    ("GET", "/healthz", b"garbage"),
    ("POST", "/v1/api/event_logging", b"\xff\xfe\x00"),
    ("POST", "/v1/api/event_logging/batch", DEEP_LIST),
    ("GET", "/%ff%fe", b""),
    ("GET", "/" + "x" * 8000, b""),
    ("POST", "/v1beta/../healthz", b""),
    ("OPTIONS", "/anything", b""),
    ("POST", "/v1/models/detect", DEEP_OBJECT),
    ("POST", "/internal/warmup", b"[]"),
]


@pytest.mark.parametrize(("method", "path", "body"), CORE, ids=range(len(CORE)))
def test_core_routes_survive_odd_requests(client, method, path, body):
    response = client.open(path, method=method, data=body)
    text = response.get_data(as_text=True)
    assert response.status_code < 500, text[:300]
    assert "Traceback" not in text


MUTATIONS: list[Any] = [
    None,
    True,
    0,
    -1,
    2**63,
    10**30,
    1.5e308,
    "",
    "x" * 3,
    "\u0000",
    "\U0001f600",
    [],
    [None],
    {},
    {"": None},
    {"type": "OBJECT"},
]


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _nodes(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nodes(item, (*path, index))


def _mutated(rng: random.Random) -> Any:
    body = copy.deepcopy(VALID)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _nodes(body) if p]
        if not paths:
            return rng.choice(MUTATIONS)
        *parent_path, key = rng.choice(paths)
        parent = body
        for step in parent_path:
            parent = parent[step]
        parent[key] = copy.deepcopy(rng.choice(MUTATIONS))
    return body


@pytest.mark.parametrize("seed", range(8))
def test_gemini_fuzzed_bodies_never_fail_inside_the_gateway(client, seed):
    rng = random.Random(seed)
    for _ in range(25):
        body = _mutated(rng)
        path = rng.choice(GEMINI_POSTS)
        response = client.post(path, json=body)
        assert_gemini_answer(response, upstream_ok=True)
