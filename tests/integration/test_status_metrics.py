"""``GET /metrics``, the status page shell and ``GET /status/data`` over a seeded
box (werkzeug Client; the browser test is in tests/e2e/test_status_page.py)."""

from __future__ import annotations

import time

import pytest

from antigravity_proxy.routing import DEFAULT_ROUTES_FILE
from tests.conftest import API_KEY
from tests.usage_env import metric_sum, parse_metrics, seed_box

KEY = {"x-api-key": API_KEY}


@pytest.fixture
def box(make_client, tmp_path):
    now = time.time()
    rows = seed_box(tmp_path / "home", now)
    client = make_client({"proxy": {"auth_mode": "strict"}})
    return client, rows


@pytest.mark.parametrize("path", ["/", "/status"])
def test_shell_is_open_and_says_nothing_about_the_box(box, path):
    client, _ = box
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'id="login-form"' in page
    for secret in ("ultra", "example.test", "req_seed", API_KEY, "secret"):
        assert secret not in page
    assert "https://" not in page and "http://" not in page.replace(
        "http://www.w3.org/2000/svg", ""
    )  # no CDN: the box may be offline
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/status/data"), ("GET", "/metrics"), ("POST", "/"), ("GET", "//status")],
)
def test_data_and_metrics_need_the_key(box, method, path):
    client, _ = box
    response = client.open(path, method=method)
    assert response.status_code in (401, 404, 405)
    assert "ultra" not in response.get_data(as_text=True)


def test_key_in_the_query_string_is_not_accepted(box):
    client, _ = box
    assert client.get(f"/status/data?key={API_KEY}").status_code == 401


def test_status_data_matches_the_ledger(box):
    client, rows = box
    response = client.get("/status/data", headers=KEY)
    assert response.status_code == 200
    data = response.get_json()
    accounts = {a["id"]: a for a in data["accounts"]}
    assert accounts["ultra"]["email"] == "ultra@example.test"
    assert accounts["ultra"]["state"] == "ready"
    assert accounts["pro"]["state"] == "cooling"
    (cooldown,) = accounts["pro"]["cooldowns"]
    assert cooldown["group"] == "claude" and 200 < cooldown["seconds_left"] <= 240
    assert accounts["banned"]["state"] == "forbidden" and accounts["banned"]["reason"]
    quota = {q["group"]: q["fraction"] for q in accounts["ultra"]["quota"]}
    assert quota == {"claude": 0.55, "gemini-3-flash": 0.8}
    totals = data["totals"]["24h"]
    assert totals["requests"] == len(rows)
    assert totals["errors"] == 2
    assert totals["input_tokens"] == sum(r.input_tokens for r in rows)
    chart = data["charts"]["24h"]
    assert len(chart["hours"]) == 24 and len(data["charts"]["7d"]["hours"]) == 168
    assert sum(chart["requests"]) == len(rows) and sum(chart["errors"]) == 2
    by_model = chart["by_model"]
    assert sum(sum(s["requests"]) for s in by_model.values()) == len(rows)
    assert sum(sum(s["tokens"]) for s in chart["by_account"].values()) == sum(
        r.input_tokens + r.output_tokens for r in rows
    )
    failed = [f["request_id"] for f in data["failures"]]
    assert failed[:2] == ["req_cut_stream", "req_failed_429"]
    text = response.get_data(as_text=True)
    assert "secret" not in text and "ya29" not in text  # tokens never


def test_metrics_agree_with_the_ledger(box):
    client, rows = box
    response = client.get("/metrics", headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = parse_metrics(response.get_data(as_text=True))
    assert metric_sum(samples, "antigravity_requests_total") == len(rows)
    assert metric_sum(samples, "antigravity_requests_total", status="429") == 1
    assert metric_sum(samples, "antigravity_request_errors_total") == 2
    assert metric_sum(samples, "antigravity_tokens_total", kind="input") == sum(
        r.input_tokens for r in rows
    )
    assert metric_sum(
        samples, "antigravity_tokens_total", kind="output", account="pro"
    ) == sum(r.output_tokens for r in rows if r.account == "pro")
    assert metric_sum(
        samples, "antigravity_request_duration_seconds_bucket", le="+Inf"
    ) == len(rows)
    assert metric_sum(samples, "antigravity_request_duration_seconds_count") == len(
        rows
    )
    assert metric_sum(
        samples, "antigravity_request_duration_seconds_sum"
    ) == pytest.approx(sum(r.duration_ms for r in rows) / 1000)
    assert metric_sum(samples, "antigravity_time_to_first_byte_seconds_count") == sum(
        1 for r in rows if r.ttfb_ms is not None
    )
    retried = sum(1 for r in rows if r.attempt_reasons[0] == "rate_limited")
    assert metric_sum(
        samples, "antigravity_rotations_total", reason="rate_limited"
    ) == (retried)
    assert metric_sum(samples, "antigravity_upstream_attempts_total") == sum(
        r.attempts for r in rows
    )
    assert metric_sum(samples, "antigravity_accounts", state="ready") == 1
    assert metric_sum(samples, "antigravity_accounts", state="cooling") == 1
    assert metric_sum(samples, "antigravity_accounts", state="forbidden") == 1
    assert metric_sum(samples, "antigravity_accounts", state="disabled") == 0
    assert (
        metric_sum(
            samples, "antigravity_account_quota_fraction", account="pro", group="claude"
        )
        == 0
    )
    assert (
        metric_sum(samples, "antigravity_account_cooldown_seconds", account="pro") > 200
    )
    assert metric_sum(samples, "antigravity_streams_open") == 0


def test_histogram_buckets_are_cumulative(box):
    client, _ = box
    samples = parse_metrics(client.get("/metrics", headers=KEY).get_data(as_text=True))
    series: dict[tuple, list[float]] = {}
    for name, labels, value in samples:
        if name.endswith("_bucket"):
            key = (name, labels["protocol"], labels["model"])
            series.setdefault(key, []).append(value)
    assert series
    for values in series.values():
        assert values == sorted(values)


def test_metrics_route_can_be_switched_off(make_client, tmp_path):
    routes = tmp_path / "routes.yaml"
    text = DEFAULT_ROUTES_FILE.read_text().replace(
        "handler: antigravity_proxy.handlers.status.metrics,",
        "handler: antigravity_proxy.handlers.status.metrics, enabled: false,",
    )
    routes.write_text(text)
    client = make_client({"routes_file": str(routes), "proxy": {"auth_mode": "off"}})
    assert client.get("/metrics").status_code == 404
