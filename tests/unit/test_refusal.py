"""``refusal``: gunicorn's parse errors as the route's protocol error, whole."""

from __future__ import annotations

import json

import pytest
from gunicorn.http import errors as parse

from antigravity_proxy import exchange as exchange_mod
from antigravity_proxy.errors import ErrorKind
from antigravity_proxy.intake import Intake, request_target
from antigravity_proxy.refusal import Refusals, error_from_parse, response_bytes

# (gunicorn's exception, status, kind)
PARSE_CASES = [
    (parse.InvalidHeader("CONTENT-TYPE"), 400, ErrorKind.INVALID_REQUEST),
    (parse.InvalidHeaderName("Bad Name"), 400, ErrorKind.INVALID_REQUEST),
    (parse.ObsoleteFolding("X-A"), 400, ErrorKind.INVALID_REQUEST),
    (parse.InvalidRequestLine("x"), 400, ErrorKind.INVALID_REQUEST),
    (parse.InvalidRequestMethod("get"), 400, ErrorKind.INVALID_REQUEST),
    (parse.InvalidHTTPVersion("HTTP/9"), 400, ErrorKind.INVALID_REQUEST),
    (parse.InvalidChunkSize(b"zz"), 400, ErrorKind.INVALID_REQUEST),
    (parse.ChunkMissingTerminator(b"xx"), 400, ErrorKind.INVALID_REQUEST),
    (parse.InvalidChunkExtension("bad"), 400, ErrorKind.INVALID_REQUEST),
    (parse.InvalidSchemeHeaders(), 400, ErrorKind.INVALID_REQUEST),
    (parse.InvalidProxyLine("x"), 400, ErrorKind.INVALID_REQUEST),
    (parse.LimitRequestLine(9000, 4094), 414, ErrorKind.TOO_LARGE),
    (
        parse.LimitRequestHeaders("limit request headers fields"),
        431,
        ErrorKind.TOO_LARGE,
    ),
    (parse.UnsupportedTransferCoding("br"), 501, ErrorKind.NOT_IMPLEMENTED),
    (parse.ExpectationFailed("x"), 417, ErrorKind.INVALID_REQUEST),
    (parse.ForbiddenProxyRequest("1.2.3.4"), 403, ErrorKind.PERMISSION),
]


@pytest.mark.parametrize(
    ("exc", "status", "kind"),
    PARSE_CASES,
    ids=[type(c[0]).__name__ for c in PARSE_CASES],
)
def test_every_parse_error_is_the_clients_with_gunicorns_status(exc, status, kind):
    err = error_from_parse(exc)
    assert err is not None
    assert (err.status, err.kind) == (status, kind)


@pytest.mark.parametrize(
    "exc",
    [
        parse.InvalidResponseHeader("X-Bad"),
        parse.InvalidResponseHeaderName("Bad Name"),
        RuntimeError("boom"),
        parse.NoMoreData(b""),
    ],
    ids=["response-header", "response-header-name", "bug", "no-more-data"],
)
def test_application_faults_are_no_client_mistake(exc):
    assert error_from_parse(exc) is None


def test_only_a_header_name_is_echoed_never_a_value():
    named = error_from_parse(parse.InvalidHeader("CONTENT-TYPE"))
    assert named is not None and named.message.endswith("(header content-type)")
    line = error_from_parse(parse.InvalidHeader("x-goog-api-key: secret\x01"))
    assert line is not None and "secret" not in line.message
    assert line.message == "a request header is malformed"


def _parsed(data: bytes) -> tuple[int, dict[str, str], dict]:
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    assert int(headers["Content-Length"]) == len(body)
    return int(status_line.split()[1]), headers, json.loads(body)


@pytest.mark.parametrize(
    ("target", "protocol"),
    [
        (("POST", "/v1/messages"), "anthropic"),
        (("POST", "/v1beta/models/m:generateContent"), "gemini"),
        (("POST", "/mcp/web_reader/mcp"), "mcp"),
        (("POST", "/v1/chat/completions"), "openai"),
        (None, "openai"),
    ],
)
def test_the_answer_is_the_protocols_body_with_the_request_id(target, protocol):
    seen: list = []
    refusals = Refusals(on_finish=[seen.append])  # path prefixes decide
    status, headers, body = _parsed(
        refusals.answer(parse.InvalidHeader("CONTENT-TYPE"), target)
    )
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert headers["Connection"] == "close"
    (exchange,) = seen
    assert headers["X-Request-Id"] == exchange.request_id
    assert (exchange.protocol, exchange.status) == (protocol, 400)
    assert exchange.error_kind == "invalid_request"
    assert exchange.request_id in json.dumps(body)


def test_a_route_table_decides_the_protocol():
    calls: list = []

    def protocol_for(method: str, path: str) -> str:
        calls.append((method, path))
        return "gemini"

    data = Refusals(protocol_for).answer(parse.InvalidHeader("A"), ("POST", "/v1/x"))
    assert calls == [("POST", "/v1/x")]
    assert _parsed(data)[2]["error"]["status"] == "INVALID_ARGUMENT"


def test_an_application_fault_is_a_500_without_a_second_access_line(monkeypatch):
    hooks: list = []
    monkeypatch.setattr(exchange_mod, "FINISH_HOOKS", [hooks.append])
    seen: list = []
    data = Refusals(on_finish=[seen.append]).answer(
        parse.InvalidResponseHeader("X"), ("POST", "/v1/messages")
    )
    status, _, body = _parsed(data)
    assert (status, body["error"]["type"]) == (500, "api_error")
    assert seen == [] and hooks == []


def test_response_bytes_names_an_unknown_status():
    assert response_bytes(599, b"{}", "req_1").startswith(b"HTTP/1.1 599 Error\r\n")


@pytest.mark.parametrize(
    ("head", "target"),
    [
        (b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n\r\n", ("POST", "/v1/messages")),
        (
            b"\r\nGET /v1beta/models/a%3Ab?key=k HTTP/1.1\r\n\r\n",
            ("GET", "/v1beta/models/a:b"),
        ),
        (b"GET http://h:1/v1/models#f HTTP/1.1\r\n\r\n", ("GET", "/v1/models")),
        (b"GET http://[::1/x HTTP/1.1\r\n\r\n", None),
        (b"GET * HTTP/1.1\r\n\r\n", None),
        (b"GET  / HTTP/1.1\r\n\r\n", None),
        (b"G\x01T / HTTP/1.1\r\n\r\n", None),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", None),
    ],
    ids=[
        "origin",
        "decoded-no-query",
        "absolute",
        "bad-url",
        "asterisk",
        "two-spaces",
        "bad-method",
        "too-long",
    ],
)
def test_request_target(head, target):
    assert request_target(head) == target


def test_the_intake_reads_the_target_of_each_head():
    intake = Intake(100)
    assert intake.target is None
    intake.feed(b"POST /v1/messages HTTP/1.1\r\nX-Bad: \x01\r\n")
    assert intake.target is None
    intake.feed(b"\r\n")
    assert intake.target == ("POST", "/v1/messages")
