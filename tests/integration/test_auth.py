"""The auth wrapper: 4 modes x 4 key carriers x (health, protected) x (none, wrong, right)."""

from __future__ import annotations

import itertools

import pytest

from tests.conftest import API_KEY

MODES = ["off", "strict", "all_except_health", "auto"]
CARRIERS = ["bearer", "x-api-key", "x-goog-api-key", "query"]
KEYS = {"none": None, "wrong": "sk-wrong", "right": API_KEY}
# (path, method, protocol of the route); the query carrier is a Gemini convention.
TARGETS = {
    "health": ("/healthz", "GET"),
    "protected": ("/v1beta/models/gemini-3-flash:generateContent", "POST"),
}


def present(carrier: str, key: str | None) -> tuple[dict, str]:
    if key is None:
        return {}, ""
    return {
        "bearer": ({"Authorization": f"Bearer {key}"}, ""),
        "x-api-key": ({"x-api-key": key}, ""),
        "x-goog-api-key": ({"x-goog-api-key": key}, ""),
        "query": ({}, f"key={key}"),
    }[carrier]


def expected_open(mode: str, carrier: str, target: str, key: str) -> bool:
    if mode in ("off", "auto"):  # auto without LAN access = off
        return True
    # `?key=` is honoured on Gemini routes only; /healthz is not one.
    if key == "right" and (carrier != "query" or target == "protected"):
        return True
    return mode == "all_except_health" and target == "health"


CASES = list(itertools.product(MODES, CARRIERS, TARGETS, KEYS))


@pytest.mark.parametrize(("mode", "carrier", "target", "key"), CASES)
def test_auth_matrix(make_client, mode, carrier, target, key):
    client = make_client({"proxy": {"auth_mode": mode}})
    path, method = TARGETS[target]
    headers, query = present(carrier, KEYS[key])
    response = client.open(
        path, method=method, headers=headers, query_string=query, json={}
    )
    if expected_open(mode, carrier, target, key):
        assert response.status_code != 401
    else:
        assert response.status_code == 401
        if target == "protected":
            assert response.json["error"]["status"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("mode", ["strict", "all_except_health"])
def test_auth_lan_auto_behaves_as_all_except_health(make_client, mode):
    client = make_client({"proxy": {"auth_mode": "auto", "allow_lan_access": True}})
    assert client.get("/healthz").status_code == 200
    assert client.get("/v1beta/models").status_code == 401


@pytest.mark.parametrize(
    ("path", "method", "body_check"),
    [
        (
            "/v1/chat/completions",
            "POST",
            lambda b: (
                b["error"]["code"] == "invalid_api_key"
                and b["error"]["type"] == "invalid_request_error"
            ),
        ),
        (
            "/v1/messages",
            "POST",
            lambda b: (
                {k: v for k, v in b.items() if k != "request_id"}
                == {
                    "type": "error",
                    "error": {
                        "type": "authentication_error",
                        "message": "invalid x-api-key",
                    },
                }
                and b["request_id"].startswith("req_")
            ),
        ),
        (
            "/v1beta/models",
            "GET",
            lambda b: (
                b["error"]["code"] == 401 and b["error"]["status"] == "UNAUTHENTICATED"
            ),
        ),
        (
            "/mcp/web_reader/mcp",
            "POST",
            lambda b: b["jsonrpc"] == "2.0" and b["error"]["code"] == -32001,
        ),
    ],
)
def test_auth_401_in_route_protocol(make_client, path, method, body_check):
    client = make_client({"proxy": {"auth_mode": "strict"}})
    response = client.open(
        path, method=method, headers={"x-api-key": "sk-nope"}, json={}
    )
    assert response.status_code == 401
    assert body_check(response.json)
    assert response.headers["X-Request-Id"].startswith("req_")
    assert API_KEY not in response.get_data(as_text=True)


def test_auth_any_carrier_with_right_key_passes_even_if_another_is_wrong(make_client):
    client = make_client({"proxy": {"auth_mode": "strict"}})
    headers = {"Authorization": "Bearer sk-wrong", "x-api-key": API_KEY}
    assert client.get("/healthz", headers=headers).status_code == 200


def test_auth_query_key_only_on_gemini_routes(make_client):
    client = make_client({"proxy": {"auth_mode": "strict"}})
    assert (
        client.get("/v1beta/models", query_string=f"key={API_KEY}").status_code != 401
    )
    assert client.get("/healthz", query_string=f"key={API_KEY}").status_code == 401
    assert (
        client.post("/v1/messages", query_string=f"key={API_KEY}", json={}).status_code
        == 401
    )


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("//healthz", "GET"),
        ("///healthz", "GET"),
        ("/healthz/", "GET"),
        ("/HEALTHZ", "GET"),
        ("/healthz", "HEAD"),
        ("/healthz/../v1/messages", "POST"),
        ("/./healthz", "GET"),
    ],
)
def test_auth_path_tricks_never_skip_the_key(make_client, path, method):
    client = make_client({"proxy": {"auth_mode": "all_except_health"}})
    response = client.open(path, method=method, environ_overrides={"PATH_INFO": path})
    assert response.status_code == 401


def test_auth_percent_encoded_health_path_routes_to_health_only(make_client):
    client = make_client({"proxy": {"auth_mode": "all_except_health"}})
    response = client.get("/%68ealthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"


@pytest.mark.parametrize("mode", MODES)
def test_auth_options_preflight_passes_without_key(make_client, mode):
    client = make_client({"proxy": {"auth_mode": mode}})
    response = client.options(
        "/v1/messages",
        headers={
            "Origin": "http://example.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Headers"] == "x-api-key, content-type"
    assert response.headers["Access-Control-Max-Age"] == "3600"


@pytest.mark.parametrize("key", [None, API_KEY])
def test_cors_header_on_every_response(make_client, key):
    client = make_client({"proxy": {"auth_mode": "strict"}})
    headers = {"x-api-key": key} if key else {}
    response = client.get("/healthz", headers=headers)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
