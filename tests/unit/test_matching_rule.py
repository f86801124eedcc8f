"""``app.MatchingRule``: matches as Werkzeug's ``Rule`` does; builds URLs only on demand."""

from __future__ import annotations

import pytest
from werkzeug.routing import Map, Rule

from antigravity_proxy.app import MatchingRule

PATHS = ("/v1/messages", "/v1beta/models/<model>", "/v1/files/<path:name>")


def adapters():
    return [
        Map([cls(p, methods=["POST"], endpoint=p) for p in PATHS]).bind("gw")
        for cls in (Rule, MatchingRule)
    ]


@pytest.mark.parametrize(
    "path", ["/v1/messages", "/v1beta/models/gemini-2.5-pro", "/v1/files/a/b.txt"]
)
def test_matches_what_a_werkzeug_rule_matches(path):
    plain, matching = adapters()
    assert matching.match(path, "POST") == plain.match(path, "POST")


@pytest.mark.parametrize(
    ("endpoint", "values"),
    [
        ("/v1/messages", {}),
        ("/v1beta/models/<model>", {"model": "gemini 2.5"}),
        ("/v1/files/<path:name>", {"name": "a/b", "extra": "x y"}),
    ],
)
def test_builds_the_same_url_when_asked(endpoint, values):
    plain, matching = adapters()
    for _ in range(2):  # compiled on the first build, reused on the second
        assert matching.build(endpoint, values, "POST") == plain.build(
            endpoint, values, "POST"
        )
