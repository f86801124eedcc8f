"""The start-up banner's text (pure ``render``) and its account counts."""

from __future__ import annotations

import dataclasses

import pytest

from antigravity_proxy.accounts.onboarding import pending_raw
from antigravity_proxy.accounts.store import account_from_raw
from antigravity_proxy.banner import (
    AccountCounts,
    BannerFacts,
    count_accounts,
    is_loopback,
    render,
    state_line,
)

FACTS = BannerFacts(
    config_path="/srv/agp/config.yaml",
    config_created=False,
    data_dir="/srv/agp",
    host="127.0.0.1",
    url="http://127.0.0.1:8045",
    exposed=False,
    auth_mode="off",
    auth_reason="auto: proxy.allow_lan_access is false",
    key_source="proxy.api_key in /srv/agp/config.yaml",
    key=None,
    accounts=AccountCounts(ready=2),
    command=".venv/bin/antigravity-proxy",
)


@pytest.mark.parametrize(
    ("changes", "present", "absent"),
    [
        (
            {},
            [
                "auth       off (auto: proxy.allow_lan_access is false); only this "
                "machine can connect",
                "export AGP_KEY=anything   # auth is off",
                "accounts   2 ready, 0 cooling down, 0 disabled\n",
            ],
            ["add one", "created now", "sk-"],
        ),
        (
            {
                "host": "0.0.0.0",
                "url": "http://192.168.1.20:8045",
                "exposed": True,
                "auth_mode": "all_except_health",
                "auth_reason": "auto: proxy.allow_lan_access is true",
            },
            [
                "is listening on http://192.168.1.20:8045 (bound to 0.0.0.0)",
                "reachable from the LAN at http://192.168.1.20:8045",
                "ANTHROPIC_BASE_URL=http://192.168.1.20:8045 ANTHROPIC_API_KEY=$AGP_KEY",
                "export AGP_KEY=<the API key>",
            ],
            ["only this machine"],
        ),
        (
            {"key": "sk-secret", "auth_mode": "strict"},
            ["API key    sk-secret (from proxy.api_key in", "export AGP_KEY=sk-secret"],
            ["grep api_key"],
        ),
        (
            {
                "accounts": AccountCounts(disabled=1, unverified=1),
                "config_created": True,
            },
            [
                "0 ready, 0 cooling down, 1 disabled (1 unverified, checked on first "
                "use); add one: .venv/bin/antigravity-proxy accounts login",
                "/srv/agp/config.yaml (created now with the defaults)",
            ],
            [],
        ),
    ],
    ids=["loopback", "lan", "show-key", "no-usable-account"],
)
def test_render(changes, present, absent):
    text = render(dataclasses.replace(FACTS, **changes))
    for needle in present:
        assert needle in text
    for needle in absent:
        assert needle not in text
    assert text.count("\n") == 21  # one screen, whatever the case


def account(raw_id: str, **extra):
    raw = {
        "id": raw_id,
        "email": f"{raw_id}@example.test",
        "token": {
            "access_token": "a",
            "refresh_token": "r",
            "expires_in": 1,
            "expiry_timestamp": 1,
        },
        **extra,
    }
    return account_from_raw(raw)


def test_count_accounts():
    pending = account_from_raw({**pending_raw("1//t", 0), "id": "p"})
    accounts = [
        account("a"),
        account("b", disabled=True),
        account("c"),
        account("cc"),
        pending,
    ]
    cooldowns = {"c:gemini-3-flash": (1e12, "quota"), "zz": (1e12, "x")}
    assert count_accounts(accounts, cooldowns, 0) == AccountCounts(
        ready=3, cooling=1, disabled=1, unverified=1
    )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.2", False),
        ("box.lan", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_banner_names_the_shared_state_with_the_url_redacted(make_config):
    url = "rediss://:s3cret@cache.internal:6380/0"
    redis_config = make_config({"state": {"url": url, "prefix": "team:"}})
    line = state_line(redis_config)
    assert line == "redis at rediss://***@cache.internal:6380/0 (keys team:*)"
    assert state_line(make_config()).startswith("sqlite ")
    text = render(dataclasses.replace(FACTS, state=line))
    assert "  state      redis at rediss://***@cache.internal:6380/0" in text
    assert "state " not in render(FACTS)
