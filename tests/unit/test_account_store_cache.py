"""The parsed-file cache never serves a stale account after another writer's update."""

from __future__ import annotations

import json

from antigravity_proxy.accounts.edits import disable
from antigravity_proxy.accounts.files import AccountFiles

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
    reader, writer = AccountFiles(tmp_path), AccountFiles(tmp_path)
    assert reader.get("a").disabled is False
    writer.update("a", lambda raw: disable(raw, "invalid_grant: x", 5))
    assert reader.get("a").disabled is True
    assert reader.get("a") is reader.get("a")  # unchanged file: served from the cache


def test_store_cache_sees_same_size_rewrite(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(RAW))
    store = AccountFiles(tmp_path)
    assert store.get("a").access_token == "t1"
    store.update("a", lambda raw: raw["token"].update(access_token="t2"))
    assert store.get("a").access_token == "t2"


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_store_all_snapshot_follows_every_kind_of_change(tmp_path):
    """Writes, new and removed files show at once; a hand edit within a second."""
    (tmp_path / "a.json").write_text(json.dumps(RAW))
    ticks = Ticks()
    reader = AccountFiles(tmp_path, monotonic=ticks)
    writer = AccountFiles(tmp_path)
    assert [a.disabled for a in reader.all()] == [False]
    writer.update("a", lambda raw: disable(raw, "invalid_grant: x", 5))
    assert [a.disabled for a in reader.all()] == [True]
    (tmp_path / "b.json").write_text(json.dumps({**RAW, "id": "b", "email": "b@x"}))
    assert [a.id for a in reader.all()] == ["a", "b"]
    (tmp_path / "b.json").unlink()
    assert [a.id for a in reader.all()] == ["a"]
    edited = {**RAW, "token": {**RAW["token"], "access_token": "by-hand-longer"}}
    (tmp_path / "a.json").write_text(json.dumps(edited))  # in place: dir unchanged
    ticks.now += 1.01
    assert [a.access_token for a in reader.all()] == ["by-hand-longer"]


def test_store_all_of_a_missing_directory_is_empty(tmp_path):
    assert AccountFiles(tmp_path / "absent").all() == []
