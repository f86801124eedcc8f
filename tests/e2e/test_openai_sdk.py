"""The official ``openai`` SDK against real gunicorn (2 workers) and the fake upstream."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import openai
import pytest
from pydantic import BaseModel

from tests.conftest import API_KEY
from tests.e2e.conftest import sdk_stack
from tests.fakes.cloudcode import FakeCloudCode, Stream, quota_exhausted
from tests.fakes.cloudcode_replies import default_reply

pytestmark = pytest.mark.e2e

MODEL = "gemini-3-flash"
PNG_DATA_URL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4"
    "2mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


class WorkerLog:
    """WSGI wrapper of the fake: which gunicorn worker made each generation call.

    Looked up while the call is in progress, so the worker's socket is open.
    """

    def __init__(self, app: FakeCloudCode) -> None:
        self.app = app
        self.master: int | None = None
        self.workers: list[int] = []

    def __call__(self, environ, start_response):
        if self.master and environ["PATH_INFO"].endswith(":streamGenerateContent"):
            port = int(environ["REMOTE_PORT"])
            self.workers.append(upstream_worker(port, worker_pids(self.master)))
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One fake upstream and one gateway (2 workers) shared by this module's tests."""
    home = tmp_path_factory.mktemp("openai-e2e") / "home"
    logs: list[WorkerLog] = []

    def wrap(fake: FakeCloudCode) -> WorkerLog:
        logs.append(WorkerLog(fake))
        return logs[0]

    with sdk_stack(home, wrap=wrap, threads=4) as (fake, gateway):
        logs[0].master = gateway.process.pid
        yield fake, gateway, logs[0]


@pytest.fixture
def fake(stack):
    fake, _, _ = stack
    fake.reset()
    return fake


@pytest.fixture
def client(stack):
    _, gateway, _ = stack
    with openai.OpenAI(
        base_url=gateway.base_url + "/v1", api_key=API_KEY, max_retries=0
    ) as sdk:
        yield sdk


def upstream_requests(fake) -> list[dict]:
    return [c.json["request"] for c in fake.calls(":streamGenerateContent")]


def test_sdk_chat(client, fake):
    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hello from the sdk"}]
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "echo: hello from the sdk"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens == 4
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_sdk_chat_stream_with_usage(client, fake):
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "stream me please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    with stream:
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream me please"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == 3


def test_sdk_tool_call_round_trip_on_thinking_model(client, fake):
    messages: list = [{"role": "user", "content": "please call get_weather for Rome"}]
    first = client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER_TOOL]
    )
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "x"}
    signature = default_reply(upstream_requests(fake)[0]).parts[1]["thoughtSignature"]
    messages.append(first.choices[0].message)
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "25C"})
    second = client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER_TOOL]
    )
    assert "25C" in second.choices[0].message.content
    replayed = upstream_requests(fake)[1]["contents"][1]["parts"][0]
    assert replayed["functionCall"]["id"] == call.id
    assert replayed["thoughtSignature"] == signature


def test_sdk_vision_data_url(client, fake):
    content = [
        {"type": "text", "text": "describe this image"},
        {"type": "image_url", "image_url": {"url": PNG_DATA_URL}},
    ]
    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": content}]
    )
    assert completion.choices[0].message.content == "echo: describe this image"
    parts = upstream_requests(fake)[0]["contents"][0]["parts"]
    assert parts[1]["inlineData"]["mimeType"] == "image/png"


class Echo(BaseModel):
    echo: str


def test_sdk_json_schema_output(client, fake):
    completion = client.chat.completions.parse(
        model=MODEL,
        messages=[{"role": "user", "content": "structured please"}],
        response_format=Echo,
    )
    assert completion.choices[0].message.parsed == Echo(echo="structured please")
    config = upstream_requests(fake)[0]["generationConfig"]
    assert config["responseJsonSchema"]["properties"] == {
        "echo": {"title": "Echo", "type": "string"}
    }


def test_sdk_n_2(client, fake):
    def candidate(text, index):
        parts = [{"text": text}]
        return {
            "content": {"role": "model", "parts": parts},
            "index": index,
            "finishReason": "STOP",
        }

    fake.script(Stream([{"candidates": [candidate("one", 0), candidate("two", 1)]}]))
    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "two answers"}], n=2
    )
    assert [c.message.content for c in completion.choices] == ["one", "two"]


def test_sdk_legacy_completions(client, fake):
    completion = client.completions.create(model=MODEL, prompt="once upon a time")
    assert completion.choices[0].text == "echo: once upon a time"
    assert completion.choices[0].finish_reason == "stop"
    stream = client.completions.create(
        model=MODEL, prompt="once upon a time", stream=True
    )
    with stream:
        text = "".join(c.choices[0].text for c in stream if c.choices)
    assert text == "echo: once upon a time"


def test_sdk_responses_create(client, fake):
    response = client.responses.create(
        model=MODEL, input="answer briefly", instructions="You are terse."
    )
    assert response.status == "completed"
    assert response.output_text == "echo: answer briefly"
    assert response.usage.input_tokens == 5


def test_sdk_responses_stream(client, fake):
    stream = client.responses.create(model=MODEL, input="stream it", stream=True)
    with stream:
        events = list(stream)
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert "response.output_item.done" in types
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "echo: stream it"
    assert events[-1].response.output_text == "echo: stream it"


def test_sdk_previous_response_id_served_by_the_other_worker(stack, client, fake):
    _, gateway, log = stack
    stream = client.responses.create(
        model=MODEL, input="the secret is tulip", stream=True
    )
    with stream:
        first = next(e for e in stream if e.type == "response.completed").response
    first_worker = log.workers[-1]
    # Only the other worker can accept while this one is stopped.
    os.kill(first_worker, signal.SIGSTOP)
    try:
        with openai.OpenAI(
            base_url=gateway.base_url + "/v1", api_key=API_KEY, max_retries=0
        ) as fresh:
            second = fresh.responses.create(
                model=MODEL, input="what is the secret", previous_response_id=first.id
            )
    finally:
        os.kill(first_worker, signal.SIGCONT)
    assert log.workers[-1] != first_worker
    assert second.previous_response_id == first.id
    assert second.output_text == "echo: what is the secret"
    assert upstream_requests(fake)[-1]["contents"] == [
        {"role": "user", "parts": [{"text": "the secret is tulip"}]},
        {"role": "model", "parts": [{"text": "echo: the secret is tulip"}]},
        {"role": "user", "parts": [{"text": "what is the secret"}]},
    ]


def test_sdk_models_list(client):
    ids = [m.id for m in client.models.list()]
    assert MODEL in ids and "gpt-4o" in ids


def test_sdk_bad_request_is_bad_request_error(client, fake):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=[])
    assert info.value.status_code == 400
    assert info.value.body["param"] == "messages"


def test_sdk_wrong_key_is_authentication_error(stack):
    _, gateway, _ = stack
    with openai.OpenAI(
        base_url=gateway.base_url + "/v1", api_key="sk-wrong", max_retries=0
    ) as bad:
        with pytest.raises(openai.AuthenticationError) as info:
            bad.models.list()
    assert info.value.code == "invalid_api_key"


def test_sdk_rate_limited_is_rate_limit_error(client, fake):
    model = "claude-sonnet-4-6-thinking"  # its own quota group: other tests unaffected
    exhausted = quota_exhausted("300s", model=model)
    fake.script(exhausted, exhausted, model=model)
    with pytest.raises(openai.RateLimitError) as info:
        client.responses.create(model=model, input="anyone there")
    assert info.value.status_code == 429
    assert int(info.value.response.headers["Retry-After"]) >= 1


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


def upstream_worker(port: int, workers: list[int]) -> int:
    """The worker owning the socket that called the fake from ``port`` (keep-alive
    keeps it open after the call)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no worker owns the upstream connection from port {port}")
