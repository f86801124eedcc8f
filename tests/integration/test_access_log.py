"""One access line per request, the request id on every line, text or JSON."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest

from antigravity_proxy.cli import build_parser
from antigravity_proxy.config import Config, LoggingConfig
from antigravity_proxy.logsetup import HANDLER, logging_dict
from antigravity_proxy.server import gunicorn_options
from tests.fakes.cloudcode_steps import Reply, rate_limited
from tests.upstream_env import seed_account

USAGE = {"promptTokenCount": 11, "candidatesTokenCount": 4, "totalTokenCount": 15}
CHAT = {"model": "gemini-3-flash", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def captured():
    """The gateway's logging (text) into a buffer; returns a reader and a switch."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)

    def install(fmt: str = "text") -> None:
        config = logging_dict("info", fmt)
        config["handlers"][HANDLER]["stream"] = stream
        logging.config.dictConfig(config)

    install()
    yield stream, install
    root.handlers[:], root.level = saved


@pytest.fixture
def client(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    seed_account(home, fake_upstream, "b")
    return gateway()


def _post(client, path, body, headers=None):
    response = client.post(path, json=body, headers=headers or {})
    response.get_data()
    response.close()
    return response


def _access_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if " access: " in line]


def test_one_access_line_per_request_with_every_field(client, fake_upstream, captured):
    stream, _ = captured
    fake_upstream.script(rate_limited(), Reply([{"text": "yo"}], usage=USAGE))
    response = _post(client, "/v1/chat/completions", CHAT)
    (line,) = _access_lines(stream.getvalue())
    rid = response.headers["X-Request-Id"]
    account = response.headers["X-Antigravity-Account"]
    assert f"INFO [{rid}] access: POST /v1/chat/completions 200 openai " in line
    assert "model=gemini-3-flash->gemini-3-flash " in line
    assert f"account={account} attempts=2 tokens=11/4 ttfb=" in line
    assert line.endswith(" ending=complete")


def test_every_log_line_of_a_request_names_its_id(client, fake_upstream, captured):
    stream, _ = captured
    fake_upstream.script(rate_limited(), Reply([{"text": "yo"}]))
    response = _post(client, "/v1/chat/completions", CHAT, {"X-Request-Id": "mine-1"})
    assert response.headers["X-Request-Id"] == "mine-1"
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    about = [line for line in lines if "[mine-1]" in line]
    # the rotation note of the dispatcher and the access line at least
    assert any("attempt 1 on account" in line for line in about), lines
    assert len(_access_lines("\n".join(about))) == 1
    unmarked = [line for line in lines if "[-]" in line and "access:" in line]
    assert unmarked == []


def test_errors_and_401s_get_an_access_line(make_client, captured):
    stream, _ = captured
    client = make_client({"proxy": {"auth_mode": "strict"}})
    _post(client, "/v1/messages", {})
    _post(make_client({"proxy": {"auth_mode": "off"}}), "/v1/messages", {})
    lines = _access_lines(stream.getvalue())
    assert [line.split(" access: ")[1].split(" model=")[0] for line in lines] == [
        "POST /v1/messages 401 anthropic",
        "POST /v1/messages 400 anthropic",
    ]


def test_json_lines(client, fake_upstream, captured):
    stream, install = captured
    install("json")
    fake_upstream.script(Reply([{"text": "yo"}], usage=USAGE))
    response = _post(client, "/v1/messages", {**CHAT, "max_tokens": 9})
    (entry,) = [
        json.loads(line)
        for line in stream.getvalue().splitlines()
        if json.loads(line)["logger"] == "access"
    ]
    assert entry["request_id"] == response.headers["X-Request-Id"]
    assert entry["level"] == "INFO" and entry["ts"].endswith("Z")
    assert {k: entry[k] for k in ("method", "path", "status", "protocol")} == {
        "method": "POST",
        "path": "/v1/messages",
        "status": 200,
        "protocol": "anthropic",
    }
    assert entry["client_model"] == entry["upstream_model"] == "gemini-3-flash"
    assert entry["account"] == response.headers["X-Antigravity-Account"]
    assert (entry["tokens_in"], entry["tokens_out"], entry["attempts"]) == (11, 4, 1)
    assert entry["ending"] == "complete" and entry["duration_ms"] >= 0


def test_client_text_is_escaped_and_secrets_stay_out(make_client, captured):
    stream, _ = captured
    client = make_client({"proxy": {"auth_mode": "off"}})
    forged = {"PATH_INFO": "/v1/x\r\nforged: 1"}
    client.get("/", environ_overrides=forged).close()
    client.get("/v1beta/models", query_string="key=sk-secret").close()
    text = stream.getvalue()
    line = _access_lines(text)[0]
    assert "GET /v1/x\\r\\nforged: 1 404 openai " in line, line
    assert "\nforged" not in text and "sk-secret" not in text


def test_level_and_format_reach_gunicorn():
    config = Config(logging=LoggingConfig(level="warning", format="json"))
    options = gunicorn_options(config)
    assert options["loglevel"] == "warning" and options["accesslog"] is None
    formatter = options["logconfig_dict"]["formatters"]["gateway"]
    assert formatter["json_lines"] is True
    assert options["logconfig_dict"]["root"]["level"] == "WARNING"


def test_serve_log_level_flag():
    args = build_parser().parse_args(["serve", "--log-level", "debug"])
    assert args.log_level == "debug"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--log-level", "chatty"])
