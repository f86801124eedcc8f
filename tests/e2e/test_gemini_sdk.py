"""The official google-genai SDK against real gunicorn (2 workers) and the fake upstream."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading

import pytest
import requests
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.conftest import API_KEY
from tests.e2e.conftest import sdk_stack
from tests.fakes.cloudcode import CutStream, quota_exhausted
from tests.upstream_env import read_account, seed_account

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One fake upstream and one gateway (2 workers) shared by this module's tests."""
    with sdk_stack(tmp_path_factory.mktemp("gemini-e2e") / "home") as stack:
        yield stack


@pytest.fixture
def fake(stack):
    fake, _ = stack
    fake.reset()
    return fake


@pytest.fixture(params=[None, "v1beta"], ids=["default-api-version", "v1beta"])
def client(stack, request):
    _, gateway = stack
    options = types.HttpOptions(base_url=gateway.base_url, api_version=request.param)
    return genai.Client(api_key=API_KEY, http_options=options)


def test_sdk_generate_content(client, fake):
    response = client.models.generate_content(
        model="gemini-3-flash", contents="hello from the sdk"
    )
    assert response.text == "echo: hello from the sdk"
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.usage_metadata.prompt_token_count == 4


def test_sdk_generate_content_stream(client, fake):
    chunks = list(
        client.models.generate_content_stream(
            model="gemini-3-flash", contents="stream me please"
        )
    )
    assert len(chunks) >= 2
    assert "".join(c.text or "" for c in chunks) == "echo: stream me please"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP


def test_sdk_count_tokens(client, fake):
    result = client.models.count_tokens(
        model="gemini-3-flash", contents="one two three"
    )
    assert result.total_tokens == 3
    assert fake.calls(":countTokens")


def test_sdk_models_list_and_get(client, fake):
    names = [m.name for m in client.models.list(config={"page_size": 10})]
    assert "models/gemini-3-flash" in names
    assert len(names) == len(set(names)) > 10  # pagination walked several pages
    model = client.models.get(model="gemini-3-flash")
    assert model.name == "models/gemini-3-flash"
    assert "generateContent" in model.supported_actions
    with pytest.raises(genai_errors.ClientError) as info:
        client.models.get(model="no-such-model-1")
    assert info.value.code == 404


def test_sdk_function_calling_round_trip(client, fake):
    tool = types.Tool(
        function_declarations=[
            types.FunctionDeclaration(
                name="get_weather",
                description="Weather for a city",
                parameters_json_schema={
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                    "additionalProperties": False,
                },
            )
        ]
    )
    config = types.GenerateContentConfig(
        tools=[tool], automatic_function_calling={"disable": True}
    )
    first = client.models.generate_content(
        model="gemini-3-flash", contents="please call get_weather", config=config
    )
    call = first.function_calls[0]
    assert call.name == "get_weather"
    history = [
        types.Content(role="user", parts=[types.Part(text="please call get_weather")]),
        first.candidates[0].content,
        types.Content(
            role="user",
            parts=[
                types.Part.from_function_response(
                    name="get_weather", response={"temp": 21}
                )
            ],
        ),
    ]
    second = client.models.generate_content(
        model="gemini-3-flash", contents=history, config=config
    )
    assert second.text
    sent = fake.calls(":streamGenerateContent")[-1].json["request"]
    replayed = [p for c in sent["contents"] for p in c["parts"] if "functionCall" in p]
    assert replayed and replayed[0].get("thoughtSignature")
    declared = sent["tools"][0]["functionDeclarations"][0]
    assert "additionalProperties" not in json.dumps(declared)


def test_sdk_wrong_key_is_401(stack):
    _, gateway = stack
    bad = genai.Client(
        api_key="sk-wrong", http_options=types.HttpOptions(base_url=gateway.base_url)
    )
    with pytest.raises(genai_errors.ClientError) as info:
        bad.models.generate_content(model="gemini-3-flash", contents="hi")
    assert info.value.code == 401


def test_rotation_is_invisible_and_shared_by_workers(stack, fake):
    _, gateway = stack
    fake.script(quota_exhausted("200s"), account="ultra@example.test")
    client = genai.Client(
        api_key=API_KEY, http_options=types.HttpOptions(base_url=gateway.base_url)
    )
    for _ in range(8):  # spread over both workers by gunicorn
        assert client.models.generate_content(
            model="gemini-3-flash", contents="rotate me now"
        ).text
    served = [c.account_email for c in fake.calls(":streamGenerateContent")]
    assert served.count("ultra@example.test") == 1, (
        served
    )  # only the first call, which got the 429
    assert served[1:] == ["pro@example.test"] * 8
    listing = subprocess.run(
        [
            sys.executable,
            "-m",
            "antigravity_proxy.cli",
            "--config",
            str(gateway.home / "config.yaml"),
            "accounts",
            "list",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    ultra_row = next(
        line for line in listing.stdout.splitlines() if line.startswith("ultra")
    )
    assert "gemini-3-flash" in ultra_row and "quota_exhausted" in ultra_row.lower()
    assert "ya29" not in listing.stdout


def test_stream_cut_midway_ends_with_gemini_error_event(stack, fake):
    _, gateway = stack
    chunk = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "part"}]}}]
    }
    fake.script(CutStream([chunk, chunk, chunk], after=1))
    with requests.post(
        gateway.base_url
        + "/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse",
        json={"contents": [{"role": "user", "parts": [{"text": "cut this stream"}]}]},
        headers={"x-goog-api-key": API_KEY},
        stream=True,
        timeout=30,
    ) as response:
        assert response.status_code == 200
        events = [
            json.loads(line[6:])
            for line in response.iter_lines(decode_unicode=True)
            if line and line.startswith("data: ")
        ]
    assert events[0]["candidates"][0]["content"]["parts"][0]["text"] == "part"
    assert events[-1]["error"]["code"] in (502, 504)
    assert "choices" not in json.dumps(events)


def test_invalid_grant_account_disabled_on_disk(tmp_path):
    # A gateway of its own with two accounts: the pool's two random picks then
    # always include both, so the better-ranked (Ultra, revoked) is tried first,
    # whatever the module's earlier tests left cooling or sticky.
    accounts = (("revoked", "Google AI Ultra"), ("spare", "Google AI Pro"))
    with sdk_stack(tmp_path / "home", accounts=accounts) as (fake, gateway):
        fake.revoke("1//rt-revoked")
        client = genai.Client(
            api_key=API_KEY, http_options=types.HttpOptions(base_url=gateway.base_url)
        )
        assert client.models.generate_content(
            model="gemini-3-flash", contents="still served"
        ).text
        saved = read_account(gateway.home, "revoked")
        assert saved["disabled"] is True and "invalid_grant" in saved["disabled_reason"]
        called = [r.account_email for r in fake.requests if "GenerateContent" in r.path]
        assert called[-1] == "spare@example.test"  # the account that answered


def test_expired_token_refreshed_once_across_workers(stack, fake):
    _, gateway = stack
    seed_account(
        gateway.home, fake, "slowrefresh", tier="Google AI Ultra", refresh_delay=0.5
    )
    fake.script(quota_exhausted("5s"), account="ultra@example.test")
    statuses: list[int] = []

    def call() -> None:
        with requests.post(
            gateway.base_url + "/v1beta/models/gemini-3-flash:generateContent",
            json={
                "contents": [
                    {"role": "user", "parts": [{"text": "concurrent request here"}]}
                ]
            },
            headers={"x-goog-api-key": API_KEY},
            timeout=30,
        ) as response:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [200] * 20
    served = [c.account_email for c in fake.calls(":streamGenerateContent")]
    assert served.count("slowrefresh@example.test") >= 10  # they did contend for it
    assert fake.refresh_count("1//rt-slowrefresh") == 1


def raw_exchange(gateway, head: bytes, body: bytes, *, half_close: bool = False):
    """Send bytes over a real socket; return (status, body text) or (None, "")."""
    host, port = gateway.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(head + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received and _complete(received):
                break
    if not received:
        return None, ""
    status = int(received.split(b" ", 2)[1])
    return status, received.partition(b"\r\n\r\n")[2].decode(errors="replace")


def _complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return body.endswith(b"0\r\n\r\n")


def request_head(length: str | None, extra: str = "") -> bytes:
    size = f"Content-Length: {length}\r\n" if length is not None else ""
    return (
        "POST /v1beta/models/gemini-3-flash:generateContent HTTP/1.1\r\n"
        "Host: gateway\r\nContent-Type: application/json\r\n"
        f"x-goog-api-key: {API_KEY}\r\nConnection: close\r\n{size}{extra}\r\n"
    ).encode()


def test_chunked_request_body_over_a_real_socket(stack, fake):
    _, gateway = stack
    body = json.dumps({"contents": [{"parts": [{"text": "chunked upload"}]}]})
    encoded = b"".join(
        f"{len(piece):x}\r\n".encode() + piece.encode() + b"\r\n"
        for piece in (body[:10], body[10:25], body[25:])
    )
    status, text = raw_exchange(
        gateway,
        request_head(None, "Transfer-Encoding: chunked\r\n"),
        encoded + b"0\r\n\r\n",
    )
    assert status == 200, text
    assert "echo: chunked upload" in text


@pytest.mark.parametrize(
    ("length", "body"),
    [
        ("4000", b'{"contents": [{"parts": [{"text": "short"}]}]}'),
        ("12", b'{"contents": [{"parts": [{"text": "long"}]}]}'),  # cut short
        (None, b"[" * 50_000 + b"]" * 50_000),  # nesting, sent chunked
    ],
    ids=["longer-than-sent", "shorter-than-sent", "deeply-nested"],
)
def test_lying_or_hostile_bodies_over_a_real_socket(stack, fake, length, body):
    _, gateway = stack
    if length is None:
        head = request_head(None, "Transfer-Encoding: chunked\r\n")
        body = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    else:
        head = request_head(length)
    status, text = raw_exchange(gateway, head, body, half_close=True)
    # gunicorn marks bodies terminated by EOF: a short body that is whole JSON
    # may be served; anything else is a Gemini 4xx. Never a 5xx, never a hang.
    assert status is None or status < 500, text
    if status is not None and status >= 400:
        assert json.loads(text)["error"]["code"] == status
        assert fake.calls(":streamGenerateContent") == []
