"""Issue 12's done-when, under real gunicorn with 2 workers and the fake upstream:
after N requests through each protocol (stream and not), the ledger, ``stats
--json``, ``/metrics`` and the status page's JSON agree on counts and tokens with
what the fake upstream served."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import anthropic
import openai
import pytest
import requests
from google import genai
from google.genai import types

from antigravity_proxy.cli import main as cli_main
from tests.conftest import API_KEY
from tests.e2e.conftest import sdk_stack
from tests.usage_env import metric_sum, parse_metrics

pytestmark = pytest.mark.e2e

N = 3
GENERATION = (":streamGenerateContent", ":generateContent")
KEY = {"x-api-key": API_KEY}


class UsageTap:
    """WSGI wrapper of the fake: what each generation call served, as sent.

    Chunks pass through as they are produced; the usage is read from the bytes
    the fake actually wrote (the last ``usageMetadata`` of the answer).
    """

    def __init__(self, app):
        self.app = app
        self.served: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        if not path.endswith(GENERATION):
            return self.app(environ, start_response)
        seen = {}

        def start(status, headers, exc_info=None):
            seen["status"] = int(status.split()[0])
            return start_response(status, headers, exc_info)

        return self._tap(self.app(environ, start), seen, environ)

    def _tap(self, body, seen, environ):
        data = b""
        try:
            for chunk in body:
                data += chunk
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close:
                close()
        usage = last_usage(data)
        with self.lock:
            self.served.append(
                {
                    "status": seen.get("status"),
                    "bearer": environ.get("HTTP_AUTHORIZATION", ""),
                    "input": usage.get("promptTokenCount", 0),
                    "output": usage.get("candidatesTokenCount", 0),
                }
            )


def last_usage(data: bytes) -> dict:
    usage: dict = {}
    text = data.decode("utf-8", "replace")
    bodies = [
        line[5:].strip() for line in text.splitlines() if line.startswith("data:")
    ]
    for body in bodies or [text]:
        with contextlib.suppress(ValueError):
            found = json.loads(body)
            found = found.get("response", found)
            usage = found.get("usageMetadata", usage)
    return usage


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tap_holder = {}

    def wrap(fake):
        tap_holder["tap"] = UsageTap(fake)
        return tap_holder["tap"]

    home = tmp_path_factory.mktemp("usage") / "home"
    with sdk_stack(home, wrap=wrap, workers=2) as (fake, gateway):
        yield fake, gateway, tap_holder["tap"]


def drive_every_protocol(gateway) -> Counter:
    """N requests per protocol, streamed and not; the routes called, counted."""
    base = gateway.base_url
    oa = openai.OpenAI(base_url=base + "/v1", api_key=API_KEY, max_retries=0)
    an = anthropic.Anthropic(base_url=base, api_key=API_KEY, max_retries=0)
    ge = genai.Client(api_key=API_KEY, http_options=types.HttpOptions(base_url=base))
    text = [{"role": "user", "content": "count the usage please"}]
    for i in range(N):
        oa.chat.completions.create(model="gemini-3-flash", messages=text)
        list(
            oa.chat.completions.create(
                model="gemini-3-flash", messages=text, stream=True
            )
        )
        an.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=text)
        with an.messages.stream(
            model="claude-sonnet-4-6", max_tokens=64, messages=text
        ) as stream:
            stream.get_final_message()
        ge.models.generate_content(model="gemini-3-flash", contents=f"hello {i}")
        list(ge.models.generate_content_stream(model="gemini-3-flash", contents="hi"))
    oa.close()
    an.close()
    return Counter({"openai": 2 * N, "anthropic": 2 * N, "gemini": 2 * N})


def ledger_rows(home: Path, expected: int, timeout: float = 15.0) -> list[dict]:
    """The generation rows, once the workers' writer threads have written them."""
    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(home / "usage.db") as conn:
            conn.row_factory = sqlite3.Row
            rows = [
                dict(r)
                for r in conn.execute(
                    "SELECT * FROM requests WHERE protocol IN "
                    "('openai', 'anthropic', 'gemini') AND route NOT LIKE '%models'"
                )
            ]
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_ledger_stats_metrics_and_status_agree_with_the_upstream(stack, capsys):
    fake, gateway, tap = stack
    by_protocol = drive_every_protocol(gateway)
    served = [s for s in tap.served if s["status"] == 200]
    total = sum(by_protocol.values())
    assert len(served) == total  # one upstream answer per request, no retries
    tokens_in = sum(s["input"] for s in served)
    tokens_out = sum(s["output"] for s in served)
    assert tokens_in > 0 and tokens_out > 0

    rows = ledger_rows(gateway.home, total)
    assert len(rows) == total
    assert Counter(r["protocol"] for r in rows) == by_protocol
    assert sum(r["stream"] for r in rows) == total // 2
    assert sum(r["input_tokens"] for r in rows) == tokens_in
    assert sum(r["output_tokens"] for r in rows) == tokens_out
    assert {r["account"] for r in rows} <= {"ultra", "pro"}
    assert all(r["status"] == 200 and r["ending"] == "complete" for r in rows)
    assert all(r["ttfb_ms"] is not None and r["duration_ms"] > 0 for r in rows)
    per_account = Counter(r["account"] for r in rows)

    code = cli_main(
        ["--config", str(gateway.home / "config.yaml"), "stats", "--json"]
        + ["--by", "account"]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["total"]["requests"] == total
    assert report["total"]["input_tokens"] == tokens_in
    assert report["total"]["output_tokens"] == tokens_out
    assert {g["account"]: g["requests"] for g in report["groups"]} == per_account

    text = requests.get(gateway.base_url + "/metrics", headers=KEY, timeout=10).text
    samples = parse_metrics(text)
    for protocol, count in by_protocol.items():
        assert metric_sum(samples, "antigravity_requests_total", protocol=protocol) == (
            count
        )
    assert metric_sum(samples, "antigravity_tokens_total", kind="input") == tokens_in
    assert metric_sum(samples, "antigravity_tokens_total", kind="output") == tokens_out
    for account, count in per_account.items():
        assert metric_sum(samples, "antigravity_requests_total", account=account) == (
            count
        )
    assert metric_sum(samples, "antigravity_request_duration_seconds_count") == total

    data = requests.get(gateway.base_url + "/status/data", headers=KEY, timeout=10)
    day = data.json()["totals"]["24h"]
    assert (day["requests"], day["input_tokens"], day["output_tokens"]) == (
        total,
        tokens_in,
        tokens_out,
    )
    today = {a["id"]: a["today"].get("requests", 0) for a in data.json()["accounts"]}
    assert {k: v for k, v in today.items() if v} == per_account
