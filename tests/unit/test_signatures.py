"""The remembered-signature store: namespaces and conversation scopes stay apart."""

from __future__ import annotations

from antigravity_proxy import signatures
from antigravity_proxy.state import SQLiteState


def test_signatures_recall_what_was_remembered_only(tmp_path):
    state = SQLiteState(tmp_path / "state.db", clock=lambda: 100.0)
    signatures.remember(state, "gemini", {"call-1": "sig-a"})
    signatures.remember(state, "openai", {"call-1": "sig-b"}, scope="conv-1")
    assert signatures.recall(state, "gemini", ["call-1", "call-2"]) == {
        "call-1": "sig-a"
    }
    assert signatures.recall(state, "openai", ["call-1"], scope="conv-1") == {
        "call-1": "sig-b"
    }
    assert signatures.recall(state, "openai", ["call-1"], scope="conv-2") == {}
    assert signatures.recall(state, "openai", ["call-1"]) == {}
