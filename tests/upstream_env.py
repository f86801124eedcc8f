"""Test support: point a gateway config at the fake upstream and seed accounts."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.cloudcode import FakeCloudCode


def upstream_section(base: str, prefixes: tuple[str, ...] = ("/v1internal",)) -> dict:
    return {
        "base_urls": [base + p for p in prefixes],
        "oauth_token_url": base + "/token",
        "userinfo_url": base + "/userinfo",
        "connect_timeout": 5,
        "read_timeout": 30,
    }


def seed_account(
    home: Path,
    fake: FakeCloudCode,
    name: str,
    *,
    models: dict | None = None,
    tier: str = "Google AI Pro",
    project: str | None = None,
    **fake_options,
) -> str:
    """Register ``name`` in the fake and write its account file with an expired token.

    The gateway must refresh before its first call, as with a copied account
    folder (which knows its tier but may lack quota data). Returns the id (= ``name``).
    """
    email = f"{name}@example.test"
    refresh_token = f"1//rt-{name}"
    fake.add_account(
        refresh_token, email=email, models=models, tier=tier, **fake_options
    )
    raw = {
        "id": name,
        "email": email,
        "name": name,
        "token": {
            "access_token": "ya29.stale",
            "refresh_token": refresh_token,
            "expires_in": 3599,
            "expiry_timestamp": 0,
            "project_id": project or "",
        },
        "quota": {"subscription_tier": tier},
        "disabled": False,
        "proxy_disabled": False,
        "created_at": 1,
        "last_used": 1,
        "unknown_field_kept": {"nested": [1, 2]},
    }
    folder = home / "accounts"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(raw, indent=2))
    return name


def read_account(home: Path, name: str) -> dict:
    return json.loads((home / "accounts" / f"{name}.json").read_text())
