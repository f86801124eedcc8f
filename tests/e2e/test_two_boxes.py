"""Two gateways, one group: separate homes, the same accounts, one real Redis.

Each box is the real ``antigravity-proxy serve`` (gunicorn) with its own home and
its own copy of the account files; both point at one ``redis-server`` and the
loopback fake Cloud Code (and a fake z.ai, for the MCP vision server). What one
box learns or starts, the other must use: a 429's cooldown, a thought signature,
a stored Responses conversation, an MCP session, the quota round, and neither
may lose a request while Redis is killed and restarted under load.
"""

from __future__ import annotations

import itertools
import shutil
import threading
import time
import uuid

import pytest
import requests

from antigravity_proxy.state import POOL_VIEW_SECONDS
from tests.conftest import API_KEY
from tests.e2e.conftest import mcp_initialize, run_gateway
from tests.fakes.cloudcode import FakeCloudCode, Stream, serve
from tests.fakes.cloudcode_steps import quota_exhausted
from tests.fakes.zai import FakeZai
from tests.integration.anthropic_support import WEATHER_TOOL
from tests.redis_env import RedisServer, redis_state
from tests.upstream_env import read_account, seed_account, upstream_section

pytestmark = pytest.mark.e2e

ACCOUNTS = ("a", "b")
GEMINI = {"x-goog-api-key": API_KEY}
ANTHROPIC = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
BEARER = {"Authorization": f"Bearer {API_KEY}"}
MCP = {**BEARER, "Accept": "application/json, text/event-stream"}
VISION = "/mcp/zai-mcp-server/mcp"
INIT = mcp_initialize("two-boxes")
PING = {"jsonrpc": "2.0", "id": "p", "method": "ping"}


class Group:
    def __init__(self, fake, redis, box_a, box_b, started):
        self.fake = fake
        self.redis = redis
        self.a = box_a
        self.b = box_b
        self.started = started


@pytest.fixture(scope="module")
def group(tmp_path_factory):
    """Box A (started first, its quota fill done), then box B; one Redis."""
    root = tmp_path_factory.mktemp("two-boxes")
    (root / "redis").mkdir()
    redis = RedisServer(root / "redis").start()
    fake, zai = FakeCloudCode(), FakeZai()
    try:
        with serve(fake) as base, serve(zai) as zai_base:
            zai.base_url = zai_base
            for name in ACCOUNTS:
                seed_account(root / "a", fake, name)
            shutil.copytree(root / "a" / "accounts", root / "b" / "accounts")
            data = {
                "proxy": {"auth_mode": "strict"},
                "upstream": upstream_section(base),
                "state": redis_state(redis, f"g{uuid.uuid4().hex[:8]}:"),
                "zai": zai.config(mcp={"enabled": True, "vision_enabled": True}),
            }
            started = time.monotonic()
            with run_gateway(root / "a", data, workers=1, threads=8) as box_a:
                wait_for(lambda: quota_calls(fake) == len(ACCOUNTS))
                with run_gateway(root / "b", data, workers=1, threads=8) as box_b:
                    yield Group(fake, redis, box_a, box_b, started)
    finally:
        redis.stop()


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def quota_calls(fake, email: str | None = None) -> int:
    calls = fake.calls(":fetchAvailableModels")
    return sum(1 for c in calls if email is None or c.account_email == email)


def generate(box, text: str, model: str = "gemini-3-flash") -> requests.Response:
    body = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    url = f"{box.base_url}/v1beta/models/{model}:generateContent"
    return requests.post(url, json=body, headers=GEMINI, timeout=30)


def answer_text(response: requests.Response) -> str:
    parts = response.json()["candidates"][0]["content"]["parts"]
    return "".join(part.get("text", "") for part in parts)


def test_quota_round_runs_once_for_the_group(group):
    for box in (group.a, group.b):
        assert generate(box, "hello").status_code == 200
    for name in ACCOUNTS:
        fetched = quota_calls(group.fake, f"{name}@example.test")
        if time.monotonic() - group.started < 28:  # before the first periodic round
            assert fetched == 1
        else:
            assert fetched in (1, 2)  # one periodic round, run by one box
    # Box B's own file got the group's quota with its next edit (a token refresh).
    on_a, on_b = (read_account(box.home, "a")["quota"] for box in (group.a, group.b))
    assert on_b["last_updated"] == on_a["last_updated"]


def test_a_429_on_one_box_rests_the_account_on_the_other(group):
    model = "gemini-3-pro-high"
    group.fake.script(quota_exhausted("600s", model), account="a@example.test")
    for attempt in range(8):  # box A serves until it has met the 429 on a
        assert generate(group.a, f"warm {attempt}", model).status_code == 200
        if group.fake.pending_scripts == 0:
            break
    assert group.fake.pending_scripts == 0
    # The rest is in Redis now (A recorded it before answering); B may still
    # keep a view it read before, but for POOL_VIEW_SECONDS at most.
    time.sleep(POOL_VIEW_SECONDS)
    seen = len(group.fake.calls(":streamGenerateContent"))
    for attempt in range(6):
        assert generate(group.b, f"on b {attempt}", model).status_code == 200
    later = group.fake.calls(":streamGenerateContent")[seen:]
    assert {call.account_email for call in later} == {"b@example.test"}


def test_thought_signature_made_on_one_box_continues_on_the_other(group):
    signature = "sig-two-boxes-0123456789"
    call = {"name": "get_weather", "args": {"city": "Oslo"}, "id": "toolu_2box"}
    thought = {"text": "Hmm.", "thought": True}
    signed = {"functionCall": call, "thoughtSignature": signature}
    group.fake.script(
        Stream(
            [
                {"candidates": [{"content": {"parts": [thought]}}]},
                {
                    "candidates": [
                        {"content": {"parts": [signed]}, "finishReason": "STOP"}
                    ]
                },
            ]
        )
    )
    question = {"role": "user", "content": "weather in Oslo?"}
    body = {
        "model": "gemini-3-flash",
        "max_tokens": 4096,
        "tools": [WEATHER_TOOL],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "messages": [question],
    }
    first = requests.post(
        f"{group.a.base_url}/v1/messages", json=body, headers=ANTHROPIC, timeout=30
    )
    assert first.status_code == 200, first.text
    tool_use = first.json()["content"][-1]
    assert tool_use["type"] == "tool_use"
    blank = {"type": "thinking", "thinking": "Hmm.", "signature": ""}  # Claude Code
    result = {"type": "tool_result", "tool_use_id": tool_use["id"], "content": "snow"}
    body["messages"] = [
        question,
        {"role": "assistant", "content": [blank, tool_use]},
        {"role": "user", "content": [result]},
    ]
    second = requests.post(
        f"{group.b.base_url}/v1/messages", json=body, headers=ANTHROPIC, timeout=30
    )
    assert second.status_code == 200, second.text
    sent = group.fake.calls(":streamGenerateContent")[-1].json["request"]
    parts = [p for content in sent["contents"] for p in content["parts"]]
    replayed = next(p for p in parts if "functionCall" in p)
    assert replayed["thoughtSignature"] == signature


def test_previous_response_id_made_on_one_box_resolves_on_the_other(group):
    url = "/v1/responses"
    first = requests.post(
        group.a.base_url + url,
        json={"model": "gemini-3-flash", "input": "remember the word tangerine"},
        headers=BEARER,
        timeout=30,
    )
    assert first.status_code == 200, first.text
    second = requests.post(
        group.b.base_url + url,
        json={
            "model": "gemini-3-flash",
            "input": "which word?",
            "previous_response_id": first.json()["id"],
        },
        headers=BEARER,
        timeout=30,
    )
    assert second.status_code == 200, second.text
    sent = group.fake.calls(":streamGenerateContent")[-1].json["request"]
    texts = [p.get("text", "") for c in sent["contents"] for p in c["parts"]]
    assert "remember the word tangerine" in texts
    assert texts[-1] == "which word?"


def test_mcp_session_started_on_one_box_continues_on_the_other(group):
    with requests.post(
        group.a.base_url + VISION, json=INIT, headers=MCP, timeout=10
    ) as init:
        assert init.status_code == 200, init.text
        session = init.headers["Mcp-Session-Id"]
    headers = {**MCP, "Mcp-Session-Id": session}
    with requests.post(
        group.b.base_url + VISION, json=PING, headers=headers, timeout=10
    ) as answer:
        assert answer.json() == {"jsonrpc": "2.0", "id": "p", "result": {}}
    with requests.delete(group.b.base_url + VISION, headers=headers, timeout=10) as end:
        assert end.status_code == 200
    with requests.post(
        group.a.base_url + VISION, json=PING, headers=headers, timeout=10
    ) as gone:
        assert gone.status_code == 404


def test_killing_and_restarting_redis_mid_load_loses_no_request(group):
    outcomes: list[tuple[str, int, str]] = []
    stop = threading.Event()
    lock = threading.Lock()
    counter = itertools.count()

    def client(boxes) -> None:
        for box in itertools.cycle(boxes):
            if stop.is_set():
                return
            text = f"question {next(counter)}"
            try:
                response = generate(box, text)
                got = (
                    answer_text(response)
                    if response.status_code == 200
                    else response.text
                )
                outcome = (text, response.status_code, got)
            except requests.RequestException as exc:
                outcome = (text, 0, repr(exc))
            with lock:
                outcomes.append(outcome)

    threads = [
        threading.Thread(target=client, args=(order,))
        for order in [(group.a, group.b), (group.b, group.a)] * 2
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        group.redis.stop()  # killed, as a crash would
        time.sleep(2.0)
        group.redis.start()  # same port, empty (no persistence)
        time.sleep(2.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    wrong = [o for o in outcomes if o[1] != 200 or o[2] != f"echo: {o[0]}"]
    assert len(outcomes) >= 20 and not wrong, (len(outcomes), wrong[:5])
    for box in (group.a, group.b):
        wait_for(lambda box=box: healthz_state(box)["ok"] is True)


def healthz_state(box) -> dict:
    url = box.base_url + "/healthz"
    with requests.get(url, headers=BEARER, timeout=10) as response:
        return response.json()["state"]
