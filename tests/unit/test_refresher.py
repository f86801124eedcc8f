"""The background quota refresher: once per box per interval, failures isolated."""

from __future__ import annotations

from antigravity_proxy.accounts.files import AccountFiles
from antigravity_proxy.accounts.onboarding import is_pending, pending_raw
from antigravity_proxy.accounts.refresher import QuotaRefresher
from antigravity_proxy.accounts.service import AccountPool
from antigravity_proxy.accounts.store import AccountNotFound
from antigravity_proxy.config import Config, UpstreamConfig
from antigravity_proxy.upstream.cloudcode import CloudCodeClient
from tests.fakes.cloudcode import FakeCloudCode, serve
from tests.state_env import sqlite_state
from tests.upstream_env import read_account, seed_account, upstream_section


def make_pool(home, base) -> AccountPool:
    upstream = UpstreamConfig(
        **{
            k: (tuple(v) if isinstance(v, list) else v)
            for k, v in upstream_section(base).items()
        }
    )
    config = Config(home=str(home), upstream=upstream)
    state = sqlite_state(home / "state.db")
    return AccountPool(
        config, AccountFiles(home / "accounts"), state, CloudCodeClient(upstream)
    )


def test_refresher_fills_missing_quota_once_per_box(tmp_path):
    fake = FakeCloudCode()
    with serve(fake) as base:
        seed_account(tmp_path, fake, "a", models={"gemini-3-flash": 0.3})
        seed_account(tmp_path, fake, "b")
        fake.revoke("1//rt-b")
        first = QuotaRefresher(make_pool(tmp_path, base), interval_minutes=15)
        second = QuotaRefresher(make_pool(tmp_path, base), interval_minutes=15)
        assert first.fill_missing() == 1  # b fails (revoked) without stopping a
        assert second.fill_missing() == 0  # the lease is taken
        assert read_account(tmp_path, "a")["quota"]["models"][0]["percentage"] == 30
        assert read_account(tmp_path, "b")["disabled"] is True


def test_refresher_periodic_round_uses_a_lease(tmp_path):
    fake = FakeCloudCode()
    with serve(fake) as base:
        seed_account(tmp_path, fake, "a")
        one = QuotaRefresher(make_pool(tmp_path, base), interval_minutes=15)
        two = QuotaRefresher(make_pool(tmp_path, base), interval_minutes=15)
        assert one.run_once() == 1
        assert two.run_once() == 0
        assert len(fake.calls(":fetchAvailableModels")) == 1


class VanishingStore(AccountFiles):
    """A store in which account ``a`` is removed between listing and updating."""

    def update(self, account_id, mutate):
        if account_id == "a":
            raise AccountNotFound(account_id)
        return super().update(account_id, mutate)


def test_refresher_round_survives_an_account_removed_mid_round(tmp_path):
    fake = FakeCloudCode()
    with serve(fake) as base:
        seed_account(tmp_path, fake, "a")
        seed_account(tmp_path, fake, "b")
        pool = make_pool(tmp_path, base)
        pool.store = VanishingStore(tmp_path / "accounts")
        assert QuotaRefresher(pool, interval_minutes=15).run_once() == 1
        assert read_account(tmp_path, "b")["quota"]["models"]


def test_refresher_learns_the_email_of_an_account_saved_while_offline(tmp_path):
    """`accounts add` while Google was unreachable saves a pending account; the
    start-up fill verifies its token and puts the real email in."""
    fake = FakeCloudCode()
    with serve(fake) as base:
        seed_account(tmp_path, fake, "known")
        fake.add_account("1//rt-offline", email="offline@example.test")
        fake.add_account("1//rt-twin", email="known@example.test")
        pool = make_pool(tmp_path, base)
        for token in ("1//rt-offline", "1//rt-twin"):
            pool.store.create(pending_raw(token, 0))
        assert sum(is_pending(a) for a in pool.store.all()) == 2
        assert QuotaRefresher(pool, interval_minutes=15).fill_missing() == 3
        emails = sorted(a.email for a in pool.store.all())
        assert emails == ["known@example.test", "offline@example.test"]
        assert read_account(tmp_path, "known")["token"]["refresh_token"] == "1//rt-twin"
