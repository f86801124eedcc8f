"""The upstream client against `responses` stubs: base fallback, typed errors."""

from __future__ import annotations

import json

import pytest
import requests
import responses
import urllib3
from responses import matchers

from antigravity_proxy.config import UpstreamConfig
from antigravity_proxy.errors import (
    UpstreamError,
    UpstreamStatus,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from antigravity_proxy.upstream.cloudcode import (
    CloudCodeClient,
    client_version,
    iter_events,
    json_body,
    prompt_too_long_counts,
)

BASES = (
    "http://a.test/v1internal",
    "http://b.test/v1internal",
    "http://c.test/v1internal",
)


def client() -> CloudCodeClient:
    return CloudCodeClient(
        UpstreamConfig(base_urls=BASES, user_agent="Antigravity/9.1.0 (X11)")
    )


@responses.activate
@pytest.mark.parametrize("status", [404, 408, 500, 502, 503])
def test_call_tries_next_base_on_status(status):
    responses.post(
        f"{BASES[0]}:generateContent", status=status, json={"error": {"message": "x"}}
    )
    responses.post(f"{BASES[1]}:generateContent", json={"response": {"ok": True}})
    with client().call("generateContent", {"a": 1}, "tok", proxy_url="") as answer:
        assert answer.json() == {"response": {"ok": True}}
    assert [c.request.url for c in responses.calls] == [
        f"{BASES[0]}:generateContent",
        f"{BASES[1]}:generateContent",
    ]


@responses.activate
@pytest.mark.parametrize("status", [400, 401, 429])
def test_call_returns_account_errors_at_once(status):
    body = {"error": {"code": status, "message": "upstream says no", "status": "X"}}
    responses.post(f"{BASES[0]}:generateContent", status=status, json=body)
    with pytest.raises(UpstreamStatus) as info:
        client().call("generateContent", {}, "tok", proxy_url="")
    assert info.value.upstream_status == status
    assert info.value.message == "upstream says no"
    assert json.loads(info.value.body) == body
    assert len(responses.calls) == 1


@responses.activate
def test_call_network_errors_fall_through_then_raise_typed():
    for base in BASES:
        responses.post(
            f"{base}:generateContent", body=requests.ConnectionError("refused")
        )
    with pytest.raises(UpstreamUnavailable) as info:
        client().call("generateContent", {}, "tok", proxy_url="")
    assert isinstance(info.value.__cause__, requests.ConnectionError)
    assert len(responses.calls) == 3


@responses.activate
def test_call_timeout_is_upstream_timeout():
    for base in BASES:
        responses.post(f"{base}:countTokens", body=requests.ReadTimeout("slow"))
    with pytest.raises(UpstreamTimeout) as info:
        client().call("countTokens", {}, "tok", proxy_url="")
    assert info.value.status == 504


@responses.activate
def test_call_last_base_status_is_raised():
    for base in BASES:
        responses.post(
            f"{base}:generateContent", status=503, json={"error": {"message": "busy"}}
        )
    with pytest.raises(UpstreamStatus) as info:
        client().call("generateContent", {}, "tok", proxy_url="")
    assert info.value.upstream_status == 503
    assert info.value.status == 503


@responses.activate
def test_call_sends_headers_and_stream_query():
    responses.post(
        f"{BASES[0]}:streamGenerateContent",
        body="data: {}\n\n",
        match=[
            matchers.query_param_matcher({"alt": "sse"}),
            matchers.header_matcher(
                {
                    "Authorization": "Bearer tok",
                    "User-Agent": "Antigravity/9.1.0 (X11)",
                    "x-client-name": "antigravity",
                    "x-client-version": "9.1.0",
                    "x-goog-user-project": "proj-1",
                }
            ),
            matchers.json_params_matcher({"project": "proj-1"}),
        ],
    )
    client().call(
        "streamGenerateContent",
        {"project": "proj-1"},
        "tok",
        proxy_url="",
        project="proj-1",
        stream=True,
    ).close()


@responses.activate
def test_call_403_retries_without_user_project_header():
    responses.post(
        f"{BASES[0]}:generateContent",
        status=403,
        json={"error": {"message": "no"}},
        match=[matchers.header_matcher({"x-goog-user-project": "proj-1"})],
    )
    responses.post(f"{BASES[0]}:generateContent", json={"ok": 1})
    with client().call(
        "generateContent", {}, "tok", proxy_url="", project="proj-1"
    ) as answer:
        assert answer.json() == {"ok": 1}
    assert "x-goog-user-project" not in responses.calls[1].request.headers


@responses.activate
def test_call_placeholder_project_sends_no_user_project():
    responses.post(f"{BASES[0]}:generateContent", json={})
    client().call(
        "generateContent", {}, "tok", proxy_url="", project="test-project"
    ).close()
    assert "x-goog-user-project" not in responses.calls[0].request.headers


@responses.activate
def test_iter_events_parses_and_skips_done_and_garbage():
    stream = 'data: {"a":1}\r\n\r\ndata: not json\n\ndata: [DONE]\n\ndata: {"b":2}'
    responses.post(f"{BASES[0]}:streamGenerateContent", body=stream)
    with client().call(
        "streamGenerateContent", {}, "tok", proxy_url="", stream=True
    ) as answer:
        assert list(iter_events(answer)) == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"<html>", "with invalid JSON"),
        (b"", "with invalid JSON"),
        (b'{"cut": ', "with invalid JSON"),
        (b"\xff\xfe{", "with invalid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "with invalid JSON"),
        (b"[]", "JSON list, not an object"),
        (b'"text"', "JSON str, not an object"),
        (b"null", "JSON NoneType, not an object"),
    ],
)
@responses.activate
def test_json_body_garbage_is_a_clear_upstream_error(body, said):
    responses.post(f"{BASES[0]}:loadCodeAssist", body=body)
    with pytest.raises(UpstreamError) as info:
        client().call_json("loadCodeAssist", {}, "tok", proxy_url="")
    assert not isinstance(info.value, UpstreamStatus)
    assert info.value.status == 502
    assert info.value.message == f"upstream loadCodeAssist answered {said}"


@responses.activate
def test_json_body_reads_a_json_object_in_any_utf_encoding():
    responses.post(f"{BASES[0]}:loadCodeAssist", body='{"a": "é"}'.encode("utf-16"))
    assert client().call_json("loadCodeAssist", {}, "tok", proxy_url="") == {"a": "é"}


class CutStream:
    """A raw body that breaks after the headers, as a dropped connection does."""

    def stream(self, *args, **kwargs):
        raise urllib3.exceptions.ProtocolError("connection broken")
        yield b""  # pragma: no cover  (makes this a generator)

    def close(self):
        pass


def test_json_body_cut_mid_read_is_unavailable():
    response = requests.Response()
    response.status_code = 200
    response.raw = CutStream()
    with pytest.raises(UpstreamUnavailable) as info:
        json_body(response, "countTokens")
    assert info.value.message == "upstream countTokens answer was cut off"


@pytest.mark.parametrize(
    ("agent", "version"),
    [
        ("Antigravity/4.3.0 (X11)", "4.3.0"),
        ("Antigravity/1.2", "1.2"),
        ("custom", "4.3.0"),
    ],
)
def test_client_version_from_user_agent(agent, version):
    assert client_version(agent) == version


@pytest.mark.parametrize(
    ("message", "counts"),
    [
        (
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            (1200000, 1048576),
        ),
        ("prompt is too long: 210000 tokens > 200000 maximum", (210000, 200000)),
        ("Request had too many tokens", (None, None)),
        ("Invalid JSON payload received.", None),
    ],
)
def test_prompt_too_long_counts(message, counts):
    assert prompt_too_long_counts(message) == counts


@responses.activate
def test_status_error_marks_prompt_too_long_only_for_400():
    body = {
        "error": {"code": 400, "message": "prompt is too long: 5 tokens > 4 maximum"}
    }
    responses.post(f"{BASES[0]}:generateContent", status=400, json=body)
    with pytest.raises(UpstreamStatus) as info:
        client().call("generateContent", {}, "tok", proxy_url="")
    assert info.value.prompt_too_long == (5, 4)
