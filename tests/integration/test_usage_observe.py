"""The usage ledger's hook on the request pipeline: which requests become rows,
with what, and the count of streams open."""

from __future__ import annotations

from werkzeug.test import Client
from werkzeug.wrappers import Response

from antigravity_proxy.exchange import exchange_of
from antigravity_proxy.observer import ExchangeMiddleware
from antigravity_proxy.usage import schema
from antigravity_proxy.usage.ledger import Ledger
from antigravity_proxy.usage.observe import UsageMiddleware
from antigravity_proxy.wsgi import create_app
from tests.conftest import API_KEY


def rows(home) -> list[tuple]:
    conn = schema.connect(home / "usage.db")
    return conn.execute(
        "SELECT request_id, route, protocol, client, status FROM requests ORDER BY id"
    ).fetchall()


def test_requests_become_rows_but_observation_routes_do_not(make_config, tmp_path):
    config = make_config({"proxy": {"auth_mode": "strict"}})
    app = create_app(config, background=False)
    client = Client(app, use_cookies=False)
    key = {"x-api-key": API_KEY}
    client.get(
        "/v1/models", headers={**key, "User-Agent": "OpenAI/Python 1.99"}, buffered=True
    )
    client.get(
        "/v1/models", headers={"X-Request-Id": "req-no-key"}, buffered=True
    )  # 401
    client.get(
        "/nowhere", headers={**key, "User-Agent": "curl/8.5.0"}, buffered=True
    )  # 404
    client.post(
        "/v1/messages", headers=key, data="{", buffered=True
    )  # 400 invalid JSON
    client.get("/healthz", headers=key, buffered=True)
    client.get("/metrics", headers=key, buffered=True)
    client.get("/status", buffered=True)
    client.get("/status/data", headers=key, buffered=True)
    client.get("/status/data", buffered=True)  # 401
    client.get("/favicon.ico", buffered=True)
    client.options("/v1/models", buffered=True)
    ledger = find_ledger(app)
    ledger.flush()
    got = rows(tmp_path / "home")
    assert [(r[1], r[2], r[3], r[4]) for r in got] == [
        ("/v1/models", "openai", "openai-python", 200),
        ("/v1/models", "openai", "unknown", 401),
        ("/nowhere", "openai", "curl", 404),
        ("/v1/messages", "anthropic", "unknown", 400),
    ]
    assert got[1][0] == "req-no-key"


def find_ledger(app) -> Ledger:
    layer = app
    while not isinstance(layer, UsageMiddleware):
        layer = layer.app
    return layer.ledger


def test_streams_open_are_counted_until_the_body_closes(tmp_path):
    ledger = Ledger(tmp_path / "usage.db")

    def streaming(environ, start_response):
        exchange_of(environ).stream = True
        return Response(iter([b"a", b"b"]))(environ, start_response)

    client = Client(ExchangeMiddleware(UsageMiddleware(streaming, ledger)))
    response = client.get("/v1/chat/completions", buffered=False)
    assert ledger.streams_open == 1
    assert response.get_data() == b"ab"
    response.close()
    assert ledger.streams_open == 0
    ledger.flush()
    assert len(rows(tmp_path)) == 1
