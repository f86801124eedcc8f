"""The dispatcher: health, telemetry sink, and every failure in its protocol's format."""

from __future__ import annotations

import io

import pytest
from werkzeug.test import Client

from antigravity_proxy import __version__
from antigravity_proxy.routing import DEFAULT_ROUTES_FILE
from antigravity_proxy.wsgi import create_app


def test_healthz_reports_version(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "version": __version__,
        "state": {"backend": "sqlite", "ok": True},
    }
    assert response.mimetype == "application/json"


@pytest.mark.parametrize(
    "path", ["/v1/api/event_logging", "/v1/api/event_logging/batch"]
)
def test_event_logging_accepts_and_discards(client, path):
    response = client.post(path, data=b'{"events": [' + b'{"a":1},' * 5000 + b"{}]}")
    assert response.status_code == 200
    assert response.json == {}


NOT_FOUND = [
    ("/v1/nothing", "openai", lambda b: b["error"]["type"] == "invalid_request_error"),
    (
        "/v1/messages/nothing",
        "anthropic",
        lambda b: b["error"]["type"] == "not_found_error",
    ),
    (
        "/v1beta/nothing",
        "gemini",
        lambda b: b["error"]["status"] == "NOT_FOUND" and b["error"]["code"] == 404,
    ),
    ("/mcp/nothing/mcp", "mcp", lambda b: b["error"]["code"] == -32601),
]


@pytest.mark.parametrize(
    ("path", "protocol", "check"), NOT_FOUND, ids=[c[1] for c in NOT_FOUND]
)
def test_unknown_path_is_404_in_path_protocol(client, path, protocol, check):
    response = client.post(path, json={})
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert check(response.json)


def test_v1_models_paths_use_gemini_errors_for_gemini_callers(client):
    response = client.get(
        "/v1/models/x/y", headers={"x-goog-api-client": "google-genai-sdk/1"}
    )
    assert response.status_code == 404
    assert response.json["error"]["status"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("method", "path", "check"),
    [
        ("DELETE", "/v1/messages", lambda b: b["type"] == "error"),
        (
            "GET",
            "/v1/chat/completions",
            lambda b: b["error"]["type"] == "invalid_request_error",
        ),
        ("PUT", "/v1beta/models", lambda b: b["error"]["code"] == 405),
    ],
)
def test_wrong_method_is_405_with_allow_header(client, method, path, check):
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"] or "GET" in response.headers["Allow"]
    assert check(response.json)


def test_declared_oversized_body_is_413_before_reading(make_client):
    client = make_client({"proxy": {"auth_mode": "off", "max_body_bytes": 1000}})

    class Unreadable(io.BytesIO):
        def read(self, size=-1):
            raise AssertionError("the body must not be read")

        readline = read

    response = client.post(
        "/v1/messages",
        input_stream=Unreadable(),
        content_type="application/json",
        environ_overrides={"CONTENT_LENGTH": "5000"},
    )
    assert response.status_code == 413
    assert response.json["error"]["type"] == "request_too_large"


def test_chunked_oversized_body_is_413(make_client, tmp_path):
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        "- {method: POST, path: /echo, handler: tests.integration.boom_handlers.echo_json, protocol: openai}\n"
    )
    client = make_client(
        {
            "proxy": {"auth_mode": "off", "max_body_bytes": 100},
            "routes_file": str(routes),
        }
    )
    body = b'{"pad": "' + b"x" * 500 + b'"}'
    response = client.post(
        "/echo", input_stream=io.BytesIO(body), headers={"Transfer-Encoding": "chunked"}
    )
    assert response.status_code == 413
    assert response.json["error"]["message"]


def test_malformed_json_is_400_in_protocol(make_client, tmp_path):
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        "- {method: POST, path: /echo, handler: tests.integration.boom_handlers.echo_json, protocol: anthropic}\n"
    )
    client = make_client({"proxy": {"auth_mode": "off"}, "routes_file": str(routes)})
    response = client.post("/echo", data=b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]["type"] == "invalid_request_error"
    assert client.post("/echo", json=[1]).status_code == 400
    assert client.post("/echo", json={"a": 1}).json == {"a": 1}


def test_unexpected_exception_is_500_without_traceback(make_client, tmp_path, caplog):
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        "- {method: GET, path: /crash, handler: tests.integration.boom_handlers.crash, protocol: gemini}\n"
    )
    client = make_client({"proxy": {"auth_mode": "off"}, "routes_file": str(routes)})
    response = client.get("/crash")
    assert response.status_code == 500
    assert response.json == {
        "error": {
            "code": 500,
            "message": "internal gateway error",
            "status": "INTERNAL",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.RequestInfo",
                    "requestId": response.headers["X-Request-Id"],
                }
            ],
        }
    }
    assert "secret internals" not in response.get_data(as_text=True)
    assert "secret internals must not leak" in caplog.text


def test_disabled_route_is_404(make_client, tmp_path):
    text = DEFAULT_ROUTES_FILE.read_text().replace(
        "handler: antigravity_proxy.handlers.internal.healthz,          protocol: internal}",
        "handler: antigravity_proxy.handlers.internal.healthz,          protocol: internal, enabled: false}",
    )
    assert "enabled: false" in text
    routes = tmp_path / "routes.yaml"
    routes.write_text(text)
    client = make_client({"proxy": {"auth_mode": "off"}, "routes_file": str(routes)})
    response = client.get("/healthz")
    assert response.status_code == 404
    rid = response.headers["X-Request-Id"]
    assert (
        response.json["error"]["message"]
        == f"no route for /healthz (request id: {rid})"
    )


@pytest.mark.parametrize(
    ("protocol", "check"),
    [
        ("openai", lambda b: b["error"]["code"] == "not_implemented"),
        ("anthropic", lambda b: b["error"]["type"] == "api_error"),
        ("gemini", lambda b: b["error"]["status"] == "UNIMPLEMENTED"),
        ("mcp", lambda b: b["error"]["code"] == -32603),
    ],
)
def test_pending_handler_answers_501_in_protocol(
    make_client, tmp_path, protocol, check
):
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        f"- {{method: POST, path: /later, handler: tests.integration.boom_handlers.pending, protocol: {protocol}}}\n"
    )
    client = make_client({"proxy": {"auth_mode": "off"}, "routes_file": str(routes)})
    response = client.post("/later", json={})
    assert response.status_code == 501
    assert check(response.json)


def test_create_app_with_default_routes_file(make_config):
    app = create_app(make_config({"proxy": {"auth_mode": "off"}}), background=False)
    assert Client(app).get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("query", "gemini"),
    [
        ("key=k", True),
        ("alt=json&key=k", True),
        ("monkey=1", False),
        ("apikey=x", False),
    ],
)
def test_v1_models_gemini_shape_needs_the_key_parameter_itself(client, query, gemini):
    response = client.get("/v1/models", query_string=query)
    assert response.status_code == 200
    assert ("models" in response.json) is gemini
    assert ("data" in response.json) is not gemini
