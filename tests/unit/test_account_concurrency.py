"""The account files under threads: no lost writes, one refresh, no idle rewrites."""

from __future__ import annotations

import threading
from pathlib import Path

from antigravity_proxy.accounts.files import AccountFiles
from antigravity_proxy.accounts.service import AccountPool
from antigravity_proxy.config import Config, UpstreamConfig
from antigravity_proxy.upstream.cloudcode import CloudCodeClient
from tests.fakes.cloudcode import FakeCloudCode, serve
from tests.state_env import sqlite_state
from tests.upstream_env import read_account, seed_account, upstream_section


def run_threads(count: int, target) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def body(index: int) -> None:
        try:
            start.wait(10)
            target(index)
        except BaseException as exc:  # collected, asserted by the caller
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def make_pool(home: Path, base: str) -> AccountPool:
    """One pool as a gunicorn worker builds it: its own store, state and client."""
    section = upstream_section(base)
    upstream = UpstreamConfig(
        **{k: (tuple(v) if isinstance(v, list) else v) for k, v in section.items()}
    )
    state = sqlite_state(home / "state.db")
    return AccountPool(
        Config(home=str(home), upstream=upstream),
        AccountFiles(home / "accounts"),
        state,
        CloudCodeClient(upstream),
    )


def test_store_threads_sharing_and_not_sharing_a_store_lose_no_update(tmp_path):
    fake = FakeCloudCode()
    seed_account(tmp_path, fake, "a")
    shared = AccountFiles(tmp_path / "accounts")

    def bump(index: int) -> None:
        store = shared if index % 2 else AccountFiles(tmp_path / "accounts")
        for _ in range(20):
            store.update("a", lambda raw: raw.update(counter=raw.get("counter", 0) + 1))

    assert run_threads(12, bump) == []
    saved = read_account(tmp_path, "a")
    assert saved["counter"] == 240
    assert saved["unknown_field_kept"] == {"nested": [1, 2]}


def test_store_update_that_changes_nothing_does_not_rewrite(tmp_path):
    fake = FakeCloudCode()
    seed_account(tmp_path, fake, "a")
    path = tmp_path / "accounts" / "a.json"
    before = path.stat()
    AccountFiles(tmp_path / "accounts").update("a", lambda raw: None)
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_pool_workers_and_threads_refresh_once_and_keep_every_write(tmp_path):
    fake = FakeCloudCode()
    with serve(fake) as base:
        seed_account(tmp_path, fake, "a", refresh_delay=0.3)
        pools = [make_pool(tmp_path, base) for _ in range(3)]
        tokens: list[str] = []

        def work(index: int) -> None:
            pool = pools[index % len(pools)]
            if index % 4 == 3:
                pool.refresh_quota(pool.store.get("a"))
            else:
                tokens.append(pool.acquire("gemini-3-flash").access_token)

        assert run_threads(16, work) == []
    assert fake.refresh_count("1//rt-a") == 1
    assert len(set(tokens)) == 1 and tokens[0] != "ya29.stale"
    saved = read_account(tmp_path, "a")
    assert saved["token"]["access_token"] == tokens[0]
    assert saved["token"]["project_id"] == "proj-1"
    assert {m["name"] for m in saved["quota"]["models"]} >= {"gemini-3-flash"}
    assert saved["unknown_field_kept"] == {"nested": [1, 2]}
