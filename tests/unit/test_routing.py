"""routes.yaml: the shipped table, and every way a broken file is reported."""

from __future__ import annotations

import pytest

from antigravity_proxy.routing import (
    DEFAULT_ROUTES_FILE,
    RouteError,
    load_routes,
    load_routes_file,
    resolve_handler,
    resolve_handlers,
)

REQUIRED_ROUTES = [
    ("GET", "/v1/models"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    ("POST", "/v1/responses"),
    ("POST", "/v1/images/generations"),
    ("POST", "/v1/images/edits"),
    ("POST", "/v1/audio/transcriptions"),
    ("POST", "/v1/messages"),
    ("POST", "/v1/messages/count_tokens"),
    ("GET", "/v1/models/claude"),
    ("GET", "/v1beta/models"),
    ("GET", "/v1beta/models/<model>"),
    ("POST", "/v1beta/models/<model>"),
    ("POST", "/v1beta/models/<model>/countTokens"),
    ("POST", "/internal/warmup"),
    ("POST", "/v1/api/event_logging"),
    ("POST", "/v1/api/event_logging/batch"),
    ("GET", "/healthz"),
    ("POST", "/v1/models/detect"),
]
MCP_PATHS = [
    "/mcp/web_search_prime/mcp",
    "/mcp/web_reader/mcp",
    "/mcp/zai-mcp-server/mcp",
]


def shipped_table():
    return {
        (m, r.path): r for r in load_routes_file(DEFAULT_ROUTES_FILE) for m in r.methods
    }


@pytest.mark.parametrize(("method", "path"), REQUIRED_ROUTES)
def test_routes_file_has_reference_route(method, path):
    assert (method, path) in shipped_table()


@pytest.mark.parametrize("path", MCP_PATHS)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_routes_file_mcp_routes_accept_any_method(path, method):
    assert shipped_table()[(method, path)].protocol == "mcp"


def test_routes_file_every_handler_resolves():
    routes = load_routes_file(DEFAULT_ROUTES_FILE)
    handlers = resolve_handlers(routes)
    assert set(handlers) == {r.handler for r in routes}
    assert all(callable(h) for h in handlers.values())


ENTRY = "{method: GET, path: /x, handler: antigravity_proxy.handlers.internal.healthz, protocol: internal}"

BROKEN = [
    ("malformed yaml", "- {method: GET, path: [", "not valid YAML"),
    ("not a list", "path: /x", "non-empty list"),
    ("empty", "", "non-empty list"),
    ("entry not a mapping", "- just a string", "entry 1: expected a mapping"),
    (
        "unknown key",
        "- {method: GET, path: /x, handler: a.b, protocol: openai, color: red}",
        "entry 1 (/x): unknown key 'color'",
    ),
    (
        "bad path",
        "- {method: GET, path: x, handler: a.b, protocol: openai}",
        "'path' must be",
    ),
    (
        "no handler",
        "- {method: GET, path: /x, protocol: openai}",
        "entry 1 (/x): 'handler'",
    ),
    (
        "unknown protocol",
        "- {method: GET, path: /x, handler: a.b, protocol: soap}",
        "entry 1 (/x): unknown protocol 'soap'",
    ),
    (
        "unknown method",
        "- {method: FETCH, path: /x, handler: a.b, protocol: openai}",
        "entry 1 (/x): unknown method 'FETCH'",
    ),
    (
        "enabled not bool",
        "- {method: GET, path: /x, handler: a.b, protocol: openai, enabled: yes please}",
        "'enabled' must be true or false",
    ),
    (
        "duplicate",
        f"- {ENTRY}\n- {ENTRY}",
        "entry 2 (/x): duplicate GET /x, already defined by entry 1",
    ),
    (
        "duplicate via ANY",
        f"- {ENTRY}\n- {{method: ANY, path: /x, handler: a.b, protocol: mcp}}",
        "duplicate GET /x",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"), [(t, m) for _, t, m in BROKEN], ids=[c[0] for c in BROKEN]
)
def test_load_routes_rejects_broken_file_naming_the_entry(text, message):
    with pytest.raises(RouteError) as info:
        load_routes(text)
    assert message in str(info.value)


def test_load_routes_parses_methods_and_enabled():
    routes = load_routes(
        "- {method: [get, POST], path: /a, handler: m.f, protocol: openai, enabled: false}\n"
        "- {method: ANY, path: /b, handler: m.g, protocol: mcp}"
    )
    assert routes[0].methods == ("GET", "POST")
    assert routes[0].enabled is False
    assert routes[1].methods == ("GET", "POST", "PUT", "PATCH", "DELETE")
    assert routes[1].enabled is True


@pytest.mark.parametrize(
    ("dotted", "message"),
    [
        ("nodots", "expected a dotted name"),
        (
            "antigravity_proxy.no_such_module.f",
            "cannot import antigravity_proxy.no_such_module",
        ),
        ("antigravity_proxy.handlers.internal.nope", "has no function 'nope'"),
    ],
)
def test_resolve_handler_names_what_failed(dotted, message):
    with pytest.raises(RouteError) as info:
        resolve_handler(dotted)
    assert message in str(info.value)
    assert dotted in str(info.value)
