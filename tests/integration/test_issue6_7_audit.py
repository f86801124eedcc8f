"""Audit of issues 6 and 7: bad input never 500s, and the z.ai key stays put.

Table-driven malformed bodies against the images, audio, detect and warm-up
routes (every answer a 4xx OpenAI error) and against the vision MCP server
(every answer a 4xx JSON-RPC error); the vision tools' local-file and URL
policy; the z.ai key never following a redirect off z.ai, the gateway key
never reaching z.ai; warm-up answers carrying no account secrets.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass, field

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import Client, encode_multipart
from werkzeug.wrappers import Request, Response

from antigravity_proxy.config import load_config
from antigravity_proxy.wsgi import create_app
from tests.conftest import API_KEY, write_config
from tests.fakes.cloudcode import (
    FakeCloudCode,
    Reply,
    not_found,
    quota_exhausted,
    serve,
)
from tests.fakes.zai import ZAI_KEY, FakeZai
from tests.upstream_env import seed_account, upstream_section

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x01" * 20
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40
VISION = "/mcp/zai-mcp-server/mcp"
MCP_ON = {
    "enabled": True,
    "web_search_enabled": True,
    "web_reader_enabled": True,
    "vision_enabled": True,
}
ACCEPT = {"Accept": "application/json, text/event-stream"}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}},
}
DEEP = "[" * 100_000
HUGE_INT = "1" * 5000


@dataclass
class Recorder:
    """A loopback WSGI app that records every request and answers ``reply``."""

    reply: Response | None = None
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        request = Request(environ)
        request.get_data()
        with self._lock:
            headers = {k.lower(): v for k, v in request.headers.items()}
            self.seen.append((request.method, request.full_path, headers))
        reply = self.reply or Response('{"ok": true}', mimetype="application/json")
        return reply(environ, start_response)


@pytest.fixture
def fake_zai():
    fake = FakeZai()
    with serve(fake) as base:
        fake.base_url = base
        yield fake


@pytest.fixture
def app_for(tmp_path):
    """A Werkzeug client for a gateway with the given config sections."""

    def make(**sections) -> Client:
        data = {"proxy": {"api_key": API_KEY, "auth_mode": "off"}, **sections}
        config = load_config(write_config(tmp_path / "home", data), env={})
        return Client(create_app(config, background=False))

    return make


@pytest.fixture
def vision(app_for, fake_zai, tmp_path):
    allowed = tmp_path / "shots"
    allowed.mkdir()
    (allowed / "a.png").write_bytes(PNG)
    return app_for(zai=fake_zai.config(mcp={**MCP_ON, "allowed_dirs": [str(allowed)]}))


def assert_openai_4xx(response) -> None:
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    error = response.json["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]


def assert_rpc_4xx(response) -> None:
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    body = response.json
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    assert isinstance(body["error"]["code"], int)
    assert isinstance(body["error"]["message"], str)


# --- OpenAI routes: malformed JSON bodies ------------------------------------

JSON_CASES = [
    ("/v1/images/generations", "", None),
    ("/v1/images/generations", "{", None),
    ("/v1/images/generations", "[]", None),
    ("/v1/images/generations", '"x"', None),
    ("/v1/images/generations", b"\xff\xfe{", None),
    ("/v1/images/generations", {}, "prompt"),
    ("/v1/images/generations", {"prompt": 5}, "prompt"),
    ("/v1/images/generations", {"prompt": "  "}, "prompt"),
    ("/v1/images/generations", {"prompt": "x", "n": 0}, "n"),
    ("/v1/images/generations", {"prompt": "x", "n": 11}, "n"),
    ("/v1/images/generations", {"prompt": "x", "n": 2.5}, "n"),
    ("/v1/images/generations", {"prompt": "x", "n": True}, "n"),
    ("/v1/images/generations", {"prompt": "x", "n": "²"}, "n"),
    ("/v1/images/generations", {"prompt": "x", "n": HUGE_INT}, "n"),
    ("/v1/images/generations", {"prompt": "x", "n": [1]}, "n"),
    ("/v1/images/generations", {"prompt": "x", "size": "²x1"}, "size"),
    ("/v1/images/generations", {"prompt": "x", "size": "1" + "0" * 400 + "x1"}, "size"),
    ("/v1/images/generations", {"prompt": "x", "size": HUGE_INT + "x1"}, "size"),
    ("/v1/images/generations", {"prompt": "x", "size": "0x0"}, "size"),
    ("/v1/images/generations", {"prompt": "x", "size": "-1x5"}, "size"),
    ("/v1/images/generations", {"prompt": "x", "size": "x"}, "size"),
    ("/v1/images/generations", {"prompt": "x", "size": 1024}, "size"),
    ("/v1/images/generations", {"prompt": "x", "aspect_ratio": "٣:٢x"}, "aspect_ratio"),
    ("/v1/images/generations", {"prompt": "x", "quality": "ultra"}, "quality"),
    ("/v1/images/generations", {"prompt": "x", "quality": {}}, "quality"),
    ("/v1/images/generations", {"prompt": "x", "image_size": "8K"}, "image_size"),
    ("/v1/images/generations", {"prompt": "x", "style": "noir"}, "style"),
    ("/v1/images/generations", {"prompt": "x", "response_format": "png"}, None),
    ("/v1/images/generations", {"prompt": "x", "model": ["a"]}, "model"),
    ("/v1/images/generations", {"prompt": "x", "stream": True}, "stream"),
    ("/v1/models/detect", "", None),
    ("/v1/models/detect", "nope", None),
    ("/v1/models/detect", "[1]", None),
    ("/v1/models/detect", {"model": None}, "model"),
    ("/v1/models/detect", {"model": {"id": "x"}}, "model"),
    ("/internal/warmup", "", None),
    ("/internal/warmup", "{]", None),
    ("/internal/warmup", "null", None),
    ("/internal/warmup", {"account_id": ["a"]}, None),
    ("/internal/warmup", {"email": 7}, None),
    ("/internal/warmup", {"account_id": "a\x00b"}, "account_id"),
    ("/internal/warmup", {"account_id": "x" * 5000}, "account_id"),
    ("/internal/warmup", {"account_id": "../../etc/passwd"}, "account_id"),
    ("/internal/warmup", {"email": "nobody@example.test"}, "email"),
    ("/v1/images/generations", DEEP, None),
    ("/v1/models/detect", HUGE_INT, None),
    ("/internal/warmup", DEEP, None),
]


@pytest.mark.parametrize(("path", "body", "param"), JSON_CASES)
def test_json_routes_answer_bad_input_with_an_openai_4xx(app_for, path, body, param):
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    response = app_for().post(path, data=raw, content_type="application/json")
    assert_openai_4xx(response)
    if param is not None:
        assert response.json["error"]["param"] == param


# --- OpenAI routes: malformed multipart bodies --------------------------------


def form(fields: dict) -> dict:
    boundary, data = encode_multipart(fields)
    return {"data": data, "content_type": f"multipart/form-data; boundary={boundary}"}


def file(data: bytes, name: str = "f.png") -> FileStorage:
    return FileStorage(io.BytesIO(data), name, content_type="application/octet-stream")


MULTIPART_CASES = [
    ("/v1/images/edits", {"data": b"x", "content_type": "multipart/form-data"}),
    (
        "/v1/images/edits",
        {"data": b"garbage", "content_type": "multipart/form-data; boundary=b"},
    ),
    (
        "/v1/images/edits",
        {
            "data": b'--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nhi',
            "content_type": "multipart/form-data; boundary=b",
        },
    ),
    (
        "/v1/images/edits",
        {"data": b"prompt=x", "content_type": "application/x-www-form-urlencoded"},
    ),
    ("/v1/images/edits", {"data": b"{}", "content_type": "text/plain"}),
    ("/v1/images/edits", form({"prompt": "x"})),
    ("/v1/images/edits", form({"prompt": "x", "image": "not a file"})),
    ("/v1/images/edits", form({"image": file(PNG)})),
    ("/v1/images/edits", form({"prompt": "x", "image": file(b"")})),
    ("/v1/images/edits", form({"prompt": "x", "image": file(b"GIF8")})),
    ("/v1/images/edits", form({"prompt": "x", "image[]": file(b"%PDF-1.4")})),
    (
        "/v1/images/edits",
        form({"prompt": "x", "image": file(PNG), "mask": file(b"no")}),
    ),
    ("/v1/images/edits", form({"prompt": "x", "image": file(PNG), "n": "²"})),
    ("/v1/images/edits", form({"prompt": "x", "image": file(PNG), "n": "-1"})),
    ("/v1/images/edits", form({"prompt": "x", "image": file(PNG), "size": "²x²"})),
    (
        "/v1/images/edits",
        form({"prompt": "x", "image": file(PNG), "size": HUGE_INT + "x1"}),
    ),
    ("/v1/images/edits", form({"prompt": "x", "image": file(PNG), "quality": "x"})),
    ("/v1/audio/transcriptions", {"data": b"", "content_type": "multipart/form-data"}),
    (
        "/v1/audio/transcriptions",
        {"data": b"\x00" * 64, "content_type": "multipart/form-data; boundary=\x00"},
    ),
    ("/v1/audio/transcriptions", {"data": b"{}", "content_type": "application/json"}),
    ("/v1/audio/transcriptions", form({"model": "whisper-1"})),
    ("/v1/audio/transcriptions", form({"file": "text, not a file"})),
    ("/v1/audio/transcriptions", form({"file": file(b"", "a.wav")})),
    ("/v1/audio/transcriptions", form({"file": file(b"hello", "a.wav")})),
    ("/v1/audio/transcriptions", form({"file": file(WAV, "a.exe")})),
    ("/v1/audio/transcriptions", form({"file": file(WAV, "a.wav.exe")})),
    (
        "/v1/audio/transcriptions",
        form({"file": file(WAV, "a.wav"), "response_format": "xml"}),
    ),
    (
        "/v1/audio/transcriptions",
        form({"file": file(WAV, "a.wav"), "temperature": "nan"}),
    ),
    (
        "/v1/audio/transcriptions",
        form({"file": file(WAV, "a.wav"), "temperature": "²"}),
    ),
    (
        "/v1/audio/transcriptions",
        form({"file": file(WAV, "a.wav"), "temperature": "9"}),
    ),
    ("/v1/audio/transcriptions", form({"file": file(WAV, "a.wav"), "stream": "TRUE"})),
]


@pytest.mark.parametrize(("path", "request_args"), MULTIPART_CASES)
def test_multipart_routes_answer_bad_input_with_an_openai_4xx(
    app_for, path, request_args
):
    response = app_for().post(path, **request_args)
    assert_openai_4xx(response)


# --- the vision MCP server: malformed JSON-RPC ---------------------------------


def open_session(client: Client) -> dict[str, str]:
    init = client.post(VISION, json=INIT, headers=ACCEPT)
    assert init.status_code == 200, init.get_data(as_text=True)
    return {**ACCEPT, "Mcp-Session-Id": init.headers["Mcp-Session-Id"]}


RPC_CASES = [
    ("", {}),
    ("{", {}),
    (b"\xff\xfe", {}),
    (DEEP, {}),
    (HUGE_INT, {}),
    ('{"jsonrpc": "2.0", "id": ' + HUGE_INT + ', "method": "ping"}', {}),
    ("null", {}),
    ("[]", {}),
    ('[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]', {}),
    ('{"jsonrpc": "1.0", "id": 1, "method": "ping"}', {}),
    ('{"jsonrpc": "2.0", "id": 1.5, "method": "ping"}', {}),
    ('{"jsonrpc": "2.0", "id": null, "method": "ping"}', {}),
    ('{"jsonrpc": "2.0", "id": true, "method": "ping"}', {}),
    ('{"jsonrpc": "2.0", "id": 1, "method": 5}', {}),
    ('{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": []}', {}),
    ('{"jsonrpc": "2.0", "id": 1}', {}),
    ('{"jsonrpc": "2.0", "id": 1, "method": "ping"}', {}),
    ('{"jsonrpc": "2.0", "id": 1, "method": "ping"}', {"Mcp-Session-Id": "nope"}),
    ('{"jsonrpc": "2.0", "id": 1, "method": "ping"}', {"Mcp-Session-Id": "\u00e9" * 3}),
    (json.dumps(INIT), {"Origin": "http://[::1"}),
    (json.dumps(INIT), {"Origin": "http://evil.example"}),
    (json.dumps(INIT), {"Origin": "null"}),
    (json.dumps(INIT), {"Origin": "http://localhost.evil.example"}),
]


@pytest.mark.parametrize(("body", "headers"), RPC_CASES)
def test_vision_server_answers_bad_json_rpc_with_a_4xx_rpc_error(vision, body, headers):
    response = vision.post(
        VISION, data=body, content_type="application/json", headers=headers
    )
    assert_rpc_4xx(response)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_vision_server_refuses_a_malformed_origin_on_every_method(vision, method):
    headers = {**open_session(vision), "Origin": "http://[::1"}
    assert_rpc_4xx(vision.open(VISION, method=method, headers=headers))


@pytest.mark.parametrize("path", ["/mcp/web_search_prime/mcp", "/mcp/web_reader/mcp"])
def test_mcp_proxies_refuse_a_malformed_origin(app_for, fake_zai, path):
    client = app_for(zai=fake_zai.config(mcp=MCP_ON))
    response = client.post(path, json=INIT, headers={"Origin": "http://[::1"})
    assert_rpc_4xx(response)
    assert fake_zai.records == []


def call_tool(client: Client, arguments: dict, name: str = "analyze_image"):
    headers = open_session(client)
    message = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    response = client.post(VISION, json=message, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["id"] == 7
    return response.json["result"]


TOOL_ARGUMENT_CASES = [
    {},
    {"image_source": 5, "prompt": "x"},
    {"image_source": "", "prompt": "x"},
    {"image_source": "https://example.com/a.png"},
    {"image_source": "https://example.com/a.png", "prompt": ["x"]},
]


@pytest.mark.parametrize("arguments", TOOL_ARGUMENT_CASES)
def test_vision_bad_tool_arguments_are_tool_errors(vision, fake_zai, arguments):
    result = call_tool(vision, arguments)
    assert result["isError"] is True
    assert fake_zai.seen("/api/paas") == []


# --- the vision tools' sources ---------------------------------------------------


def refused(client: Client, fake: FakeZai, source: str, kind: str = "image") -> str:
    name, key = (
        ("analyze_video", "video_source")
        if kind == "video"
        else (
            "analyze_image",
            "image_source",
        )
    )
    result = call_tool(client, {key: source, "prompt": "describe"}, name)
    assert result["isError"] is True, result
    assert fake.seen("/api/paas") == []
    return result["content"][0]["text"]


def test_vision_refuses_a_path_with_a_nul_byte(vision, fake_zai, tmp_path):
    text = refused(vision, fake_zai, str(tmp_path / "shots" / "a.png\x00.txt"))
    assert "\x00" not in text


def test_vision_refuses_local_paths_that_escape(vision, fake_zai, tmp_path):
    shots = tmp_path / "shots"
    outside = tmp_path / "secret.png"
    outside.write_bytes(PNG + b"top secret")
    (shots / "link.png").symlink_to(outside)
    (shots / "dirlink").symlink_to(tmp_path)
    (shots / "folder.png").mkdir()
    (shots / "huge.png").write_bytes(PNG + b"\x00" * (5 * 1024 * 1024))
    (shots / "empty.gif").write_bytes(b"GIF89a")
    for source in (
        str(outside),
        str(shots / "link.png"),
        str(shots / "dirlink" / "secret.png"),
        str(shots / ".." / "secret.png"),
        f"file://{shots / 'a.png'}",
        "shots/a.png",
        "~/a.png",
        str(shots / "folder.png"),
        str(shots / "huge.png"),
        str(shots / "empty.gif"),
        str(shots / "missing.png"),
        "/proc/self/environ",
        "/dev/zero",
    ):
        text = refused(vision, fake_zai, source)
        assert "top secret" not in text
    refused(vision, fake_zai, str(shots / "a.png"), kind="video")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/a.png",
        "HTTPS://127.0.0.2:8443/a.png",
        "https://localhost/a.png",
        "https://LOCALHOST./a.png",
        "https://[::1]/a.png",
        "https://[::ffff:127.0.0.1]/a.png",
        "https://10.1.2.3/a.png",
        "https://192.168.0.1/a.png",
        "https://169.254.169.254/latest/meta-data",
        "https://0.0.0.0/a.png",
        "https://[fe80::1]/a.png",
        "https://",
        "https:///a.png",
        "https://user@/a.png",
        "https://[::1/a.png",
        "http://example.com/a.png",
        "ftp://example.com/a.png",
        "data:text/html;base64,PGI+",
        "data:image/png,notbase64",
    ],
)
def test_vision_refuses_urls_naming_non_public_hosts(vision, fake_zai, url):
    refused(vision, fake_zai, url)


def test_vision_passes_public_https_and_data_urls_to_zai(vision, fake_zai):
    for url in ("https://example.com/a.png", "data:image/png;base64,iVBORw0KGgo="):
        result = call_tool(vision, {"image_source": url, "prompt": "describe"})
        assert result["isError"] is False
        sent = fake_zai.seen("/api/paas")[-1].json
        assert sent["messages"][1]["content"][0]["image_url"]["url"] == url


# --- keys: z.ai's never leaves z.ai, the gateway's never reaches it ---------------


@pytest.fixture
def redirect_pair():
    """``(z.ai that redirects everything elsewhere, the elsewhere host)``."""
    elsewhere = Recorder()
    with serve(elsewhere) as elsewhere_base:
        zai_host = Recorder(
            Response(status=307, headers={"Location": elsewhere_base + "/stolen"})
        )
        with serve(zai_host) as zai_base:
            yield zai_base, zai_host, elsewhere


def zai_section(base: str, **extra) -> dict:
    return {
        "enabled": True,
        "api_key": ZAI_KEY,
        "base_url": base + "/api/anthropic",
        "mcp_base_url": base + "/api/mcp",
        "vision_base_url": base + "/api/paas/v4",
        **extra,
    }


def test_zai_key_never_follows_a_redirect_off_zai(app_for, redirect_pair, tmp_path):
    base, zai_host, elsewhere = redirect_pair
    allowed = tmp_path / "shots"
    allowed.mkdir()
    client = app_for(
        zai=zai_section(
            base, dispatch_mode="exclusive", mcp={**MCP_ON, "allowed_dirs": []}
        )
    )
    message = {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": []}
    for headers in ({"x-api-key": API_KEY}, {"Authorization": f"Bearer {API_KEY}"}):
        for stream in (False, True):
            body = {**message, "stream": stream}
            client.post("/v1/messages", json=body, headers=headers)
        client.post("/v1/messages/count_tokens", json=message, headers=headers)
    for path in ("/mcp/web_search_prime/mcp", "/mcp/web_reader/mcp"):
        client.post(path, json=INIT, headers=ACCEPT)
    result = call_tool(
        client, {"image_source": "https://example.com/a.png", "prompt": "x"}
    )
    assert result["isError"] is True
    assert len(zai_host.seen) == 9
    assert elsewhere.seen == []


def test_gateway_key_in_the_query_never_reaches_zai(app_for):
    zai_host = Recorder(Response('{"type": "message"}', mimetype="application/json"))
    with serve(zai_host) as base:
        client = app_for(zai=zai_section(base, dispatch_mode="exclusive"))
        message = {"model": "glm-4.7", "max_tokens": 8, "messages": []}
        response = client.post(f"/v1/messages?beta=true&key={API_KEY}", json=message)
    assert response.status_code == 200
    ((method, path, headers),) = zai_host.seen
    assert path == "/api/anthropic/v1/messages?beta=true"
    assert API_KEY not in json.dumps(headers)


def test_zai_errors_and_logs_never_show_the_zai_key(app_for, caplog):
    caplog.set_level("DEBUG")
    with serve(Recorder(Response("no", status=500))) as base:
        client = app_for(zai=zai_section(base, dispatch_mode="exclusive", mcp=MCP_ON))
        unreachable = app_for(
            zai=zai_section("http://127.0.0.1:9", dispatch_mode="exclusive", mcp=MCP_ON)
        )
        answers = [
            client.post("/v1/messages", json={"model": "glm-4.7", "messages": []}),
            unreachable.post("/v1/messages", json={"model": "glm-4.7"}),
            unreachable.post("/mcp/web_reader/mcp", json=INIT),
            call_tool(client, {"image_source": "https://e.example/a", "prompt": "x"}),
            call_tool(
                unreachable, {"image_source": "https://e.example/a", "prompt": "x"}
            ),
        ]
    texts = [
        a.get_data(as_text=True) if hasattr(a, "get_data") else json.dumps(a)
        for a in answers
    ]
    assert all(ZAI_KEY not in text for text in texts)
    assert ZAI_KEY not in caplog.text


# --- warm-up shows nothing of an account's secrets -----------------------------------


@pytest.fixture
def fake_upstream():
    fake = FakeCloudCode()
    with serve(fake) as base:
        fake.base_url = base
        yield fake


def test_warmup_answers_never_carry_account_secrets(app_for, fake_upstream, tmp_path):
    home = tmp_path / "home"
    seed_account(home, fake_upstream, "a")
    seed_account(home, fake_upstream, "b")
    fake_upstream.script(quota_exhausted("60s"), account="a@example.test")
    fake_upstream.script(not_found(), account="b@example.test")
    client = app_for(upstream=upstream_section(fake_upstream.base_url))
    answers = [
        client.post("/internal/warmup", json={"account_id": "a"}),
        client.post("/internal/warmup", json={"email": "B@example.test"}),
        client.post("/internal/warmup", json={"account_id": "b"}),
    ]
    assert [a.status_code for a in answers] == [429, 404, 200]
    for answer in answers:
        text = answer.get_data(as_text=True) + json.dumps(dict(answer.headers))
        for secret in ("1//rt-", "ya29.", "proj-", "example.test"):
            assert secret not in text, text


# --- transcription word timestamps (OpenAI timestamp_granularities[]) ---------------

WORDS_JSON = json.dumps(
    {
        "language": "english",
        "segments": [{"start": 0, "end": 1.0, "text": "Hello there."}],
        "words": [
            {"word": "Hello", "start": 0, "end": 0.4},
            {"word": "there.", "start": 0.4, "end": 1.0},
        ],
    }
)


@pytest.fixture
def audio_client(app_for, fake_upstream, tmp_path):
    seed_account(tmp_path / "home", fake_upstream, "a")
    return app_for(upstream=upstream_section(fake_upstream.base_url))


def transcribe(client: Client, fmt: str, granularities: list[str]):
    boundary, data = encode_multipart(
        {
            "file": file(WAV, "talk.wav"),
            "model": "whisper-1",
            "response_format": fmt,
            "timestamp_granularities[]": granularities,
        }
    )
    return client.post(
        "/v1/audio/transcriptions",
        data=data,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


@pytest.mark.parametrize(
    ("granularities", "keys"),
    [
        (["word"], {"words"}),
        (["word", "segment"], {"words", "segments"}),
        (["segment"], {"segments"}),
        ([], {"segments"}),
    ],
)
def test_transcription_verbose_json_word_timestamps(
    audio_client, fake_upstream, granularities, keys
):
    fake_upstream.script(Reply([{"text": WORDS_JSON}]))
    response = transcribe(audio_client, "verbose_json", granularities)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    assert {"words", "segments"} & set(body) == keys
    if "words" in keys:
        assert body["words"] == [
            {"word": "Hello", "start": 0.0, "end": 0.4},
            {"word": "there.", "start": 0.4, "end": 1.0},
        ]
    schema = fake_upstream.calls(":generateContent")[-1].json["request"][
        "generationConfig"
    ]["responseJsonSchema"]
    assert ("words" in schema["properties"]) is ("word" in granularities)


@pytest.mark.parametrize(
    ("fmt", "granularities"),
    [("json", ["word"]), ("srt", ["word"]), ("verbose_json", ["letter"])],
)
def test_transcription_word_timestamps_need_verbose_json(
    audio_client, fake_upstream, fmt, granularities
):
    response = transcribe(audio_client, fmt, granularities)
    assert_openai_4xx(response)
    assert response.json["error"]["param"] == "timestamp_granularities[]"
    assert fake_upstream.calls(":generateContent") == []
