"""Test support for the usage features: seed account files, cooldowns and ledger
rows in a gateway home, and read Prometheus text back."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from antigravity_proxy.state import SQLiteState
from antigravity_proxy.usage.ledger import Ledger
from antigravity_proxy.usage.row import UsageRow

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def write_account(home: Path, name: str, quota: dict[str, int], **raw_extra) -> None:
    raw = {
        "id": name,
        "email": f"{name}@example.test",
        "token": {
            "access_token": "ya29.secret-access-" + name,
            "refresh_token": "1//secret-refresh-" + name,
            "expires_in": 3599,
            "expiry_timestamp": 0,
            "project_id": "proj-" + name,
        },
        "quota": {
            "subscription_tier": "Google AI Pro",
            "models": [
                {"name": model, "percentage": pct, "reset_time": "2030-01-01T00:00:00Z"}
                for model, pct in quota.items()
            ],
            "last_updated": int(time.time()),
        },
        **raw_extra,
    }
    folder = home / "accounts"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(raw))


def seed_box(home: Path, now: float) -> list[UsageRow]:
    """Three accounts (one cooling for claude, one forbidden) and 40 ledger rows.

    Returns the rows written; all are within the last 24 hours.
    """
    write_account(home, "ultra", {"gemini-3-flash": 80, "claude-sonnet-4-6": 55})
    write_account(home, "pro", {"gemini-3-flash": 10, "claude-opus-4-6-thinking": 0})
    write_account(home, "banned", {"gemini-3-flash": 100})
    raw = json.loads((home / "accounts" / "banned.json").read_text())
    raw["quota"]["is_forbidden"] = True
    (home / "accounts" / "banned.json").write_text(json.dumps(raw))
    state = SQLiteState(home / "state.db", clock=time.time)
    state.set_cooldown("pro:claude", now + 240, "quota_exhausted")
    rows = [
        UsageRow(
            ts=now - 3600 * (i % 20) - 30,
            request_id=f"req_seed_{i}",
            route="/v1/messages" if i % 2 else "/v1/chat/completions",
            protocol="anthropic" if i % 2 else "openai",
            client="claude-code" if i % 2 else "openai-python",
            client_model="claude-sonnet-4-6" if i % 2 else "gpt-4o",
            upstream_model="claude-sonnet-4-6-thinking" if i % 2 else "gemini-3-flash",
            account="ultra" if i % 4 < 3 else "pro",
            attempt_reasons=("rate_limited", "ok") if i % 5 == 0 else ("ok",),
            stream=bool(i % 3),
            input_tokens=100 + i,
            output_tokens=10 + i,
            ttfb_ms=40.0 + i,
            duration_ms=300.0 + 20 * i,
        )
        for i in range(38)
    ]
    rows.append(
        UsageRow(
            ts=now - 120,
            request_id="req_failed_429",
            route="/v1/messages",
            protocol="anthropic",
            client="claude-code",
            upstream_model="claude-sonnet-4-6-thinking",
            account="pro",
            attempt_reasons=("rate_limited", "rate_limited"),
            status=429,
            error_kind="rate_limited",
            duration_ms=50.0,
        )
    )
    rows.append(
        UsageRow(
            ts=now - 60,
            request_id="req_cut_stream",
            route="/v1/chat/completions",
            protocol="openai",
            upstream_model="gemini-3-flash",
            account="ultra",
            attempt_reasons=("ok",),
            ending="upstream_cut",
            stream=True,
            input_tokens=7,
            output_tokens=3,
            ttfb_ms=30.0,
            duration_ms=900.0,
        )
    )
    ledger = Ledger(home / "usage.db")
    for row in rows:
        ledger.record(row)
    ledger.close()
    return rows


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Samples of a Prometheus text exposition; fails on a malformed line."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            assert line == "" or line.startswith(("# HELP ", "# TYPE ")), line
            continue
        match = SAMPLE.match(line)
        assert match, f"malformed sample line: {line!r}"
        labels = dict(LABEL.findall(match.group(2) or ""))
        samples.append((match.group(1), labels, float(match.group(3))))
    return samples


def metric_sum(samples, name: str, **labels: str) -> float:
    return sum(
        v
        for n, have, v in samples
        if n == name and all(have.get(k) == w for k, w in labels.items())
    )
