"""z.ai MCP endpoints under real gunicorn (2 workers) against a loopback fake z.ai.

The official ``mcp`` SDK client drives all three endpoints; raw ``requests``
checks the pass-through timing, the key substitution, the GET stream and that a
vision session opened on one worker is served by the other.
"""

from __future__ import annotations

import json
import os
import signal
import time
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
import requests
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import API_KEY
from tests.e2e.conftest import mcp_initialize, run_gateway
from tests.fakes.cloudcode import serve
from tests.fakes.zai import ZAI_KEY, FakeZai

pytestmark = pytest.mark.e2e

MCP_ON = {
    "enabled": True,
    "web_search_enabled": True,
    "web_reader_enabled": True,
    "vision_enabled": True,
}
AUTH = {"Authorization": f"Bearer {API_KEY}"}
ACCEPT = {**AUTH, "Accept": "application/json, text/event-stream"}
INIT = mcp_initialize("e2e")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One fake z.ai and one gateway (2 workers, key required) for the module."""
    home = tmp_path_factory.mktemp("zai-e2e") / "home"
    shots = home.parent / "shots"
    shots.mkdir()
    (shots / "screen.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    (home.parent / "secret.png").write_bytes(b"\x89PNG secret")
    fake = FakeZai()
    with serve(fake) as base:
        fake.base_url = base
        zai = fake.config(mcp={**MCP_ON, "allowed_dirs": [str(shots)]})
        data = {"proxy": {"auth_mode": "strict"}, "zai": zai}
        with run_gateway(home, data, workers=2, threads=4) as gateway:
            yield fake, gateway, shots


@pytest.fixture
def fake(stack):
    fake, _, _ = stack
    fake.records.clear()
    fake.event_times.clear()
    fake.mcp_progress, fake.stream_delay = 0, 0.0
    return fake


@pytest.fixture
def gateway(stack):
    return stack[1]


async def sdk_session(url: str, tool: str, arguments: dict):
    """initialize → list_tools → call_tool with the official client."""
    timeout = httpx2.Timeout(30, read=300)  # the SDK's own defaults for MCP
    async with httpx2.AsyncClient(headers=AUTH, timeout=timeout) as http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                tools = await session.list_tools()
                result = await session.call_tool(tool, arguments)
    return init, tools, result


@pytest.mark.parametrize("server", ["web_search_prime", "web_reader"])
def test_sdk_through_the_zai_mcp_proxies(gateway, fake, server):
    url = f"{gateway.base_url}/mcp/{server}/mcp"
    init, tools, result = anyio.run(sdk_session, url, server, {"q": "cats"})
    assert init.server_info.name == f"fake-{server}"
    assert [t.name for t in tools.tools] == [server]
    assert result.content[0].text == f"{server}: {{'q': 'cats'}}"
    seen = fake.seen(f"/api/mcp/{server}/mcp")
    assert {r.method for r in seen} >= {"POST", "DELETE"}
    for record in seen:  # the fake sees only the z.ai key, never the gateway's
        assert record.headers["authorization"] == f"Bearer {ZAI_KEY}"
        assert API_KEY not in json.dumps(record.headers)


def test_sdk_against_the_builtin_vision_server(stack, fake):
    _, gateway, shots = stack
    url = f"{gateway.base_url}/mcp/zai-mcp-server/mcp"
    arguments = {"image_source": str(shots / "screen.png"), "prompt": "describe"}
    init, tools, result = anyio.run(sdk_session, url, "analyze_image", arguments)
    assert init.protocol_version == "2025-11-25"
    assert init.server_info.name == "zai-mcp-server"
    assert len(tools.tools) == 8
    assert result.is_error is False
    assert result.content[0].text == "I see a cat"
    (vision,) = fake.seen("/api/paas/v4/chat/completions")
    assert vision.headers["authorization"] == f"Bearer {ZAI_KEY}"
    image = vision.json["messages"][1]["content"][0]["image_url"]["url"]
    assert image.startswith("data:image/png;base64,")


def test_sdk_vision_refuses_a_path_outside_allowed_dirs(stack, fake):
    _, gateway, shots = stack
    url = f"{gateway.base_url}/mcp/zai-mcp-server/mcp"
    for source in (str(shots.parent / "secret.png"), "/etc/passwd"):
        arguments = {"image_source": source, "prompt": "describe"}
        _, _, result = anyio.run(sdk_session, url, "analyze_image", arguments)
        assert result.is_error is True
        assert "outside the allowed directories" in result.content[0].text
    assert fake.seen("/api/paas/v4") == []


def event_arrivals(response: requests.Response) -> list[tuple[float, dict]]:
    """Each SSE event of ``response`` with the time its last byte arrived."""
    arrivals, buffer = [], b""
    for chunk in response.iter_content(chunk_size=None):
        buffer += chunk
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            data = event.decode().split("data: ", 1)[1]
            arrivals.append((time.monotonic(), json.loads(data)))
    return arrivals


def test_mcp_proxy_streams_each_event_as_it_is_written(gateway, fake):
    url = f"{gateway.base_url}/mcp/web_search_prime/mcp"
    with requests.post(url, json=INIT, headers=ACCEPT, timeout=10) as init:
        session = init.headers["Mcp-Session-Id"]
    fake.mcp_progress, fake.stream_delay = 3, 0.3
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call"}
    call["params"] = {"name": "web_search_prime", "arguments": {}}
    headers = {**ACCEPT, "Mcp-Session-Id": session}
    with requests.post(url, json=call, headers=headers, stream=True, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        arrivals = event_arrivals(r)
    assert [m.get("method", "result") for _, m in arrivals] == [
        *["notifications/progress"] * 3,
        "result",
    ]
    delays = [
        got - sent for (got, _), sent in zip(arrivals, fake.event_times, strict=True)
    ]
    assert max(delays) < 0.15, delays
    assert arrivals[0][0] < fake.event_times[-1] - 0.6  # not held back to the end


def test_mcp_proxy_relays_a_chunked_upload(gateway, fake):
    url = f"{gateway.base_url}/mcp/web_reader/mcp"
    chunks = iter([json.dumps(INIT)[:20].encode(), json.dumps(INIT)[20:].encode()])
    headers = {**ACCEPT, "Content-Type": "application/json"}
    with requests.post(url, data=chunks, headers=headers, timeout=10) as response:
        assert response.json()["result"]["serverInfo"]["name"] == "fake-web_reader"
    (seen,) = fake.seen("/api/mcp/web_reader/mcp")
    assert seen.json == INIT


def test_vision_session_continues_on_the_other_worker(gateway, fake):
    url = f"{gateway.base_url}/mcp/zai-mcp-server/mcp"
    first, second = worker_pids(gateway.process.pid)
    fresh = {**ACCEPT, "Connection": "close"}
    with only_worker(second, stopped=first):
        with requests.post(url, json=INIT, headers=fresh, timeout=10) as init:
            session = init.headers["Mcp-Session-Id"]
    headers = {**fresh, "Mcp-Session-Id": session}
    ping = {"jsonrpc": "2.0", "id": "p", "method": "ping"}
    with only_worker(first, stopped=second):
        with requests.post(url, json=ping, headers=headers, timeout=10) as answer:
            assert answer.json() == {"jsonrpc": "2.0", "id": "p", "result": {}}
        with requests.delete(url, headers=headers, timeout=10) as ended:
            assert ended.status_code == 200
    with requests.post(url, json=ping, headers=headers, timeout=10) as gone:
        assert gone.status_code == 404


def test_vision_get_stream_ends_when_the_session_ends(gateway):
    url = f"{gateway.base_url}/mcp/zai-mcp-server/mcp"
    with requests.post(url, json=INIT, headers=ACCEPT, timeout=10) as init:
        headers = {**AUTH, "Mcp-Session-Id": init.headers["Mcp-Session-Id"]}
    stream_headers = {**headers, "Accept": "text/event-stream"}
    with requests.get(url, headers=stream_headers, stream=True, timeout=10) as stream:
        chunks = stream.iter_content(chunk_size=None)
        assert next(chunks) == b": stream open\n\n"
        with requests.delete(url, headers=headers, timeout=10) as ended:
            assert ended.status_code == 200
        started = time.monotonic()
        assert b"".join(chunks) in (b"", b": keepalive\n\n")
        assert time.monotonic() - started < 3


def test_disabled_mcp_endpoints_are_404(tmp_path):
    fake = FakeZai()
    with serve(fake) as base:
        fake.base_url = base
        data = {"proxy": {"auth_mode": "off"}, "zai": fake.config()}
        with run_gateway(tmp_path / "home", data) as gateway:
            for server in ("web_search_prime", "web_reader", "zai-mcp-server"):
                url = f"{gateway.base_url}/mcp/{server}/mcp"
                with requests.post(url, json=INIT, timeout=10) as response:
                    assert response.status_code == 404
                    assert response.json()["error"]["code"] == -32601
    assert fake.records == []


@contextmanager
def only_worker(serving: int, *, stopped: int):
    """Only ``serving`` can accept while ``stopped`` is paused (SIGSTOP)."""
    os.kill(stopped, signal.SIGSTOP)
    try:
        yield serving
    finally:
        os.kill(stopped, signal.SIGCONT)


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers: the processes whose parent is the master."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            children.append(int(stat.parent.name))
    return sorted(children)
