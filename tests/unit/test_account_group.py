"""Two boxes, one group: token refresh and quota rounds once, results shared."""

from __future__ import annotations

import time
from contextlib import contextmanager

from antigravity_proxy.accounts.edits import set_token
from antigravity_proxy.accounts.files import AccountFiles
from antigravity_proxy.accounts.marks import SharedMarks
from antigravity_proxy.accounts.refresher import QuotaRefresher
from antigravity_proxy.accounts.service import AccountPool
from antigravity_proxy.accounts.tokens import (
    WAIT_SECONDS,
    TokenRefresh,
    is_fresh,
    lease_name,
)
from antigravity_proxy.config import Config, UpstreamConfig
from antigravity_proxy.upstream.cloudcode import CloudCodeClient
from tests.fakes.cloudcode import FakeCloudCode, serve
from tests.state_env import sqlite_state
from tests.upstream_env import read_account, seed_account, upstream_section

REFRESH_TOKEN = "1//rt-a"


class Waits:
    """A monotonic clock that only ``sleep`` moves, with a hook per sleep."""

    def __init__(self, on_sleep=None) -> None:
        self.now = 0.0
        self.slept = 0
        self.on_sleep = on_sleep

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += 1
        if self.on_sleep is not None:
            self.on_sleep(self.slept)


def box(tmp_path, name, base, state) -> AccountPool:
    upstream = UpstreamConfig(
        **{
            k: (tuple(v) if isinstance(v, list) else v)
            for k, v in upstream_section(base).items()
        }
    )
    config = Config(home=str(tmp_path / name), upstream=upstream)
    store = SharedMarks(AccountFiles(tmp_path / name / "accounts"), state)
    return AccountPool(config, store, state, CloudCodeClient(upstream))


def group(tmp_path, fake, base):
    state = sqlite_state(tmp_path / "group" / "state.db")
    for name in ("box-a", "box-b"):
        seed_account(tmp_path / name, fake, "a", project="p-a")
    return box(tmp_path, "box-a", base, state), box(tmp_path, "box-b", base, state)


def waiting_refresh(pool: AccountPool, waits: Waits) -> TokenRefresh:
    return TokenRefresh(
        pool.store,
        pool.state,
        pool.oauth,
        monotonic=waits.monotonic,
        sleep=waits.sleep,
    )


def test_token_refreshed_by_one_box_serves_the_other(tmp_path):
    fake = FakeCloudCode()
    with serve(fake) as base:
        box_a, box_b = group(tmp_path, fake, base)
        first = box_a.lease_for("a")
        second = box_b.lease_for("a")
        assert first.access_token != "ya29.stale"
        assert second.access_token == first.access_token
        assert fake.refresh_count(REFRESH_TOKEN) == 1
        on_b = read_account(tmp_path / "box-b", "a")["token"]
        assert on_b["access_token"] == "ya29.stale"  # box B's file was not needed


@contextmanager
def lease_taken(tmp_path):
    """A group on the fake, and box B's account ``a`` whose refresh lease is taken.

    Yields ``(fake, box_a, box_b, stale)``. The boxes share one state, so the
    lease is the group's, whichever box took it.
    """
    fake = FakeCloudCode()
    with serve(fake) as base:
        box_a, box_b = group(tmp_path, fake, base)
        assert box_a.state is box_b.state
        stale = box_b.store.get("a")
        assert box_b.state.claim(lease_name(stale), 30)
        yield fake, box_a, box_b, stale


def test_a_box_waits_for_the_lease_holder_and_reuses_its_token(tmp_path):
    with lease_taken(tmp_path) as (fake, box_a, box_b, stale):  # box A refreshes

        def box_a_finishes(slept: int) -> None:
            if slept == 3:
                now = int(time.time())
                box_a.store.update("a", lambda raw: set_token(raw, "ya29.A", 3599, now))

        waits = Waits(box_a_finishes)
        fresh = waiting_refresh(box_b, waits).refresh(stale, force=False)
        assert fresh.access_token == "ya29.A"
        assert waits.slept == 3
        assert fake.refresh_count(REFRESH_TOKEN) == 0


def test_a_lease_holder_that_never_finishes_costs_at_most_the_wait(tmp_path):
    with lease_taken(tmp_path) as (fake, _, box_b, stale):  # a box that died
        waits = Waits()
        fresh = waiting_refresh(box_b, waits).refresh(stale, force=False)
        assert is_fresh(fresh, time.time())
        assert WAIT_SECONDS <= waits.now < WAIT_SECONDS + 0.2
        assert fake.refresh_count(REFRESH_TOKEN) == 1


def test_forced_refresh_replaces_a_rejected_shared_token(tmp_path):
    fake = FakeCloudCode()
    with serve(fake) as base:
        box_a, box_b = group(tmp_path, fake, base)
        box_b.lease_for("a")  # box B's file now holds a fresh token too
        rejected = box_a.lease_for("a").account  # box A reuses it
        fake.expire_access_tokens()
        waits = Waits()
        fresh = waiting_refresh(box_a, waits).refresh(rejected, force=True)
        assert fresh.access_token != rejected.access_token
        assert fake.refresh_count(REFRESH_TOKEN) == 2
        assert box_b.store.get("a").access_token == fresh.access_token
        assert waits.slept == 0  # the new token's lease was free


def test_forced_refresh_skips_an_older_token_from_the_file(tmp_path):
    fake = FakeCloudCode()
    with serve(fake) as base:
        box_a, box_b = group(tmp_path, fake, base)
        now = int(time.time())
        box_a.store.inner.update(
            "a", lambda raw: set_token(raw, "ya29.old", 3599, now - 60)
        )
        box_b.store.update("a", lambda raw: set_token(raw, "ya29.new", 3599, now))
        rejected = box_a.store.get("a")
        assert rejected.access_token == "ya29.new"
        fresh = waiting_refresh(box_a, Waits()).refresh(rejected, force=True)
        assert fresh.access_token not in ("ya29.old", "ya29.new")
        assert fake.refresh_count(REFRESH_TOKEN) == 1


def test_quota_round_runs_once_for_the_group_and_both_boxes_see_it(tmp_path):
    fake = FakeCloudCode()
    with serve(fake) as base:
        box_a, box_b = group(tmp_path, fake, base)
        assert QuotaRefresher(box_a, interval_minutes=15).run_once() == 1
        assert QuotaRefresher(box_b, interval_minutes=15).run_once() == 0
        assert len(fake.calls(":fetchAvailableModels")) == 1
        seen = box_b.store.all()[0]
        assert seen.quota_last_updated is not None and seen.quota_models
        assert "last_updated" not in read_account(tmp_path / "box-b", "a")["quota"]
