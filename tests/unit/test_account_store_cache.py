"""The parsed-file cache never serves a stale account after another writer's update."""

from __future__ import annotations

import json

from antigravity_proxy.accounts.edits import disable
from antigravity_proxy.accounts.store import AccountStore

RAW = {
    "id": "a",
    "email": "a@x",
    "token": {
        "access_token": "t1",
        "refresh_token": "r",
        "expires_in": 1,
        "expiry_timestamp": 1,
    },
}


def test_store_cache_sees_updates_from_another_instance(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(RAW))
    reader, writer = AccountStore(tmp_path), AccountStore(tmp_path)
    assert reader.get("a").disabled is False
    writer.update("a", lambda raw: disable(raw, "invalid_grant: x", 5))
    assert reader.get("a").disabled is True
    assert reader.get("a") is reader.get("a")  # unchanged file: served from the cache


def test_store_cache_sees_same_size_rewrite(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(RAW))
    store = AccountStore(tmp_path)
    assert store.get("a").access_token == "t1"
    store.update("a", lambda raw: raw["token"].update(access_token="t2"))
    assert store.get("a").access_token == "t2"
