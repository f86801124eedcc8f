"""Clock edge cases of the account service: reset times, cooldowns after a clock step."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from antigravity_proxy.accounts.files import AccountFiles
from antigravity_proxy.accounts.quota import reset_timestamp
from antigravity_proxy.accounts.service import AccountPool
from antigravity_proxy.config import Config
from antigravity_proxy.upstream.cloudcode import CloudCodeClient
from tests.fakes.cloudcode import FakeCloudCode
from tests.state_env import sqlite_state
from tests.upstream_env import seed_account


@pytest.fixture
def far_from_utc(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-31T12:00:00Z", 1738324800.0),
        ("2025-01-31T12:00:00", 1738324800.0),  # no offset: UTC, not local time
        ("2025-01-31T13:00:00+01:00", 1738324800.0),
        ("2025-01-31T12:00:00.123456789Z", 1738324800.123456),
        ("0001-01-01T00:00:00", -62135596800.0),
        ("9999-12-31T23:59:59Z", 253402300799.0),
        ("2025-13-01T00:00:00Z", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_reset_time_parsing_is_timezone_independent(far_from_utc, text, expected):
    assert reset_timestamp(text) == expected


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_pool(home: Path, clock: Clock) -> AccountPool:
    config = Config(home=str(home))
    state = sqlite_state(home / "state.db", clock)
    return AccountPool(
        config,
        AccountFiles(home / "accounts"),
        state,
        CloudCodeClient(config.upstream),
        clock=clock,
    )


def test_cooldown_outliving_the_cap_after_a_clock_step_back_is_ignored(tmp_path):
    seed_account(tmp_path, FakeCloudCode(), "a")
    clock = Clock(1_800_000_000.0)
    pool = make_pool(tmp_path, clock)
    pool.state.set_cooldown("a", clock.now + 120, "RATE_LIMIT_EXCEEDED")
    assert pool.available_count("gemini-3-flash") == 0
    assert pool.seconds_until_free("gemini-3-flash") == 120
    clock.now -= 86_400  # the host clock stepped back a day (VM restore, NTP)
    assert pool.available_count("gemini-3-flash") == 1
    assert pool.seconds_until_free("gemini-3-flash") is None


def test_cooldown_within_the_cap_still_counts_after_a_small_step_back(tmp_path):
    seed_account(tmp_path, FakeCloudCode(), "a")
    clock = Clock(1_800_000_000.0)
    pool = make_pool(tmp_path, clock)
    pool.state.set_cooldown("a", clock.now + 100, "RATE_LIMIT_EXCEEDED")
    clock.now -= 150  # 250 s left, under the 300 s cap: a real rest
    assert pool.available_count("gemini-3-flash") == 0
    assert pool.seconds_until_free("gemini-3-flash") == 250
