"""``antigravity-proxy stats`` over a ledger seeded with known rows."""

from __future__ import annotations

import json
import re
import time

import pytest

from antigravity_proxy.cli import main
from antigravity_proxy.usage.ledger import Ledger
from antigravity_proxy.usage.row import UsageRow
from tests.conftest import write_config
from tests.usage_env import seed_box

NOW = time.time()


def row(i: int, **changes) -> UsageRow:
    values = dict(
        ts=NOW - 3600 * (i % 30) - 60,
        request_id=f"req_{i}",
        route="/v1/messages",
        protocol="anthropic",
        client="claude-code" if i % 2 else "codex",
        client_model="claude-sonnet-4-6",
        upstream_model="claude-sonnet-4-6-thinking" if i % 3 else "gemini-3-flash",
        account="ultra" if i % 2 else "pro",
        attempt_reasons=("ok",),
        input_tokens=100,
        output_tokens=10,
        ttfb_ms=80.0,
        duration_ms=400.0,
    )
    values.update(changes)
    return UsageRow(**values)


@pytest.fixture
def stats(tmp_path, capsys):
    home = tmp_path / "home"
    config = write_config(home, {"proxy": {"api_key": "k" * 20}})
    ledger = Ledger(home / "usage.db")
    for i in range(60):  # 30 within the last day, 60 within 30 days... see row()
        ledger.record(row(i))
    ledger.record(row(60, status=429, error_kind="rate_limited", ts=NOW - 600))
    ledger.record(row(61, ts=NOW - 40 * 86400))  # older than --since 30d
    ledger.close()

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--config", str(config), "stats", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_stats_json_totals_and_groups(stats):
    code, out, _ = stats("--since", "30d", "--by", "account", "--by", "model", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["by"] == ["account", "model"]
    assert report["total"]["requests"] == 61
    assert report["total"]["errors"] == 1
    assert report["total"]["input_tokens"] == 6100
    groups = {(g["account"], g["model"]): g["requests"] for g in report["groups"]}
    assert sum(groups.values()) == 61
    assert set(groups) == {
        ("pro", "gemini-3-flash"),
        ("pro", "claude-sonnet-4-6-thinking"),
        ("ultra", "gemini-3-flash"),
        ("ultra", "claude-sonnet-4-6-thinking"),
    }
    assert report["total"]["p50_ms"] == pytest.approx(375.0)  # (250, 500] bucket


def test_stats_since_24h_and_a_date(stats):
    _, out, _ = stats("--json")
    assert json.loads(out)["total"]["requests"] == 49  # ages 0..23 h of 30, +1 error
    day = time.strftime("%Y-%m-%d", time.gmtime(NOW - 45 * 86400))
    _, out, _ = stats("--since", day, "--json")
    assert json.loads(out)["total"]["requests"] == 62


def test_stats_table_is_readable(stats):
    code, out, _ = stats("--since", "7d", "--by", "client,day")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == [
        "CLIENT", "DAY", "REQUESTS", "ERRORS", "TOKENS", "IN", "TOKENS", "OUT",
        "P50", "MS", "P95", "MS",
    ]  # fmt: skip
    assert lines[-1].split()[:2] == ["TOTAL", "61"]
    assert any(line.startswith("claude-code") for line in lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterday"), "expected 24h, 7d, 30d"),
        (("--by", "colour"), "--by 'colour': expected one of"),
    ],
)
def test_stats_rejects_bad_options(stats, args, message):
    code, _, err = stats(*args)
    assert code == 2 and message in err


def test_accounts_list_shows_usage_today_and_cooldown_left(tmp_path, capsys):
    home = tmp_path / "box"
    config = write_config(home, {"proxy": {"api_key": "k" * 20}})
    now = time.time()
    rows = seed_box(home, now)
    today = [r for r in rows if r.ts >= now - now % 86400]
    code = main(["--config", str(config), "accounts", "list", "--json"])
    listing = {a["id"]: a for a in json.loads(capsys.readouterr().out)}
    assert code == 0
    pro = listing["pro"]
    assert pro["today"]["requests"] == sum(1 for r in today if r.account == "pro")
    assert pro["today"]["input_tokens"] == sum(
        r.input_tokens for r in today if r.account == "pro"
    )
    assert pro["last_error"]["status"] == 429
    assert pro["last_error"]["error_kind"] == "rate_limited"
    (cooling,) = pro["cooling_down"]
    assert 200 < cooling["seconds_left"] <= 240
    assert listing["ultra"]["quota"] == {"claude": 55, "gemini-3-flash": 80}
    main(["--config", str(config), "accounts", "list"])
    table = capsys.readouterr().out
    assert "TODAY" in table.splitlines()[0] and "LAST ERROR" in table.splitlines()[0]
    assert re.search(r"claude \S+ \S+ \(quota_exhausted\) [34]m \d+s left", table)
    assert re.search(r"429 rate_limited \d{4}-", table)


def test_stats_without_a_ledger_prints_zeros_and_creates_nothing(tmp_path, capsys):
    home = tmp_path / "empty"
    config = write_config(home, {"proxy": {"api_key": "k" * 20}})
    assert main(["--config", str(config), "stats", "--json", "--by", "model"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["groups"] == [] and report["total"]["requests"] == 0
    assert main(["--config", str(config), "accounts", "list"]) == 0
    assert not (home / "usage.db").exists()
