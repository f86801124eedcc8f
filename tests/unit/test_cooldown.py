from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from antigravity_proxy.accounts.cooldown import (
    Cooldown,
    Reason,
    cooldown_from_error,
    live_records,
    parse_duration,
)

QUOTA_BODY = json.dumps({"error": {"details": [{"reason": "QUOTA_EXHAUSTED"}]}})
CAPACITY_BODY = json.dumps(
    {"error": {"code": 429, "details": [{"reason": "MODEL_CAPACITY_EXHAUSTED"}]}}
)
BARE_RESOURCE_EXHAUSTED = json.dumps(
    {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
        }
    }
)


def error_body(*details: dict[str, object], **fields: object) -> str:
    return json.dumps({"error": {"code": 429, "details": list(details), **fields}})


def retry_info(delay: str) -> dict[str, object]:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


def error_info(reason: str, reset: str | None = None) -> dict[str, object]:
    metadata = {} if reset is None else {"quotaResetDelay": reset}
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "cloudcode-pa.googleapis.com",
        "metadata": metadata,
    }


def seconds(
    status: int,
    body: str = "",
    headers: Mapping[str, str] | None = None,
    **kwargs: int,
) -> float:
    cooldown = cooldown_from_error(status, headers or {}, body, **kwargs)
    assert cooldown is not None
    return cooldown.seconds


@pytest.mark.parametrize("status", [200, 201, 301, 400, 401, 403, 418, 502])
def test_cooldown_none_for_statuses_that_earn_no_rest(status):
    assert cooldown_from_error(status, {"Retry-After": "30"}, QUOTA_BODY) is None


@pytest.mark.parametrize("failures", range(6))
def test_cooldown_404_is_5s_server_error_and_never_escalates(failures):
    assert cooldown_from_error(404, {}, "Not Found", failures=failures) == Cooldown(
        5, Reason.SERVER_ERROR, "model"
    )


@pytest.mark.parametrize("status", [500, 503, 529])
def test_cooldown_5xx_is_8s_server_error(status):
    assert cooldown_from_error(status, {}, QUOTA_BODY, failures=4) == Cooldown(
        8, Reason.SERVER_ERROR, "model"
    )


def test_cooldown_server_errors_do_not_touch_the_quota_ladder():
    # The failure counter belongs to the caller; five 503s in a row still rest
    # 8 s each, and a first QUOTA_EXHAUSTED afterwards starts the ladder at 60 s.
    assert [seconds(503, failures=n) for n in range(5)] == [8] * 5
    assert cooldown_from_error(429, {}, QUOTA_BODY) == Cooldown(
        60, Reason.QUOTA_EXHAUSTED, "model"
    )


@pytest.mark.parametrize(
    ("failures", "uncapped", "capped"),
    [
        (-1, 60, 60),
        (0, 60, 60),
        (1, 300, 300),
        (2, 1800, 300),
        (3, 7200, 300),
        (9, 7200, 300),
    ],
)
def test_cooldown_quota_ladder_climbs_with_failures_up_to_cap(
    failures, uncapped, capped
):
    assert seconds(429, QUOTA_BODY, failures=failures, max_seconds=7200) == uncapped
    assert seconds(429, QUOTA_BODY, failures=failures) == capped


@pytest.mark.parametrize(("failures", "expected"), [(0, 5), (1, 10), (2, 15), (7, 15)])
def test_cooldown_model_capacity_ladder(failures, expected):
    cooldown = cooldown_from_error(429, {}, CAPACITY_BODY, failures=failures)
    assert cooldown == Cooldown(expected, Reason.MODEL_CAPACITY_EXHAUSTED, "model")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Try again in 2m 30s", 150),
        ("try again in 2m30s.", 150),
        (
            json.dumps(
                {"error": {"details": [{"metadata": {"quotaResetDelay": "42s"}}]}}
            ),
            42,
        ),
        ("Retry After 99 Seconds", 99),
        ("retry after 99 seconds", 99),
        ("RETRY AFTER 99 SECONDS", 99),
        ("Please try again in 12s", 12),
        ("backoff for 17s", 17),
        ("please wait 21s", 21),
        ("Your quota will reset in 33 seconds.", 33),
        ("limited (wait 9s)", 9),
        ("Try again in 0s", 2),
    ],
)
def test_cooldown_reads_explicit_delay_from_body(body, expected):
    assert seconds(429, body) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "30"}, 30),
        ({"retry-after": "30"}, 30),
        ({"RETRY-AFTER": " 45 "}, 45),
        ({"Retry-After": "1"}, 2),
        ({"Retry-After": "0"}, 2),
        ({"Retry-After": "2.2"}, 3),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 60),  # ignored: default
        ({"Retry-After": "-5"}, 60),
        ({"Retry-After": "NaN"}, 60),
        ({"Retry-After": "1e999999999"}, 300),
    ],
)
def test_cooldown_reads_retry_after_header(headers, expected):
    assert seconds(429, QUOTA_BODY, headers, max_seconds=300) == expected


def test_cooldown_retry_after_30_is_within_25_and_30():
    assert 25 < seconds(429, "rate limited", {"Retry-After": "30"}) <= 30


def test_cooldown_header_wins_over_body():
    body = error_body(retry_info("100s"))
    assert seconds(429, body, {"Retry-After": "7"}) == 7


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        ([retry_info("1.203608125s")], 2),
        ([retry_info("3.5s")], 4),
        ([retry_info("42s")], 42),
        ([error_info("QUOTA_EXHAUSTED", "2h1m1s")], 7261),
        ([error_info("QUOTA_EXHAUSTED", "1h30m")], 5400),
        ([error_info("QUOTA_EXHAUSTED", "510.790006ms")], 2),
        ([error_info("QUOTA_EXHAUSTED", "1h16m0.667s")], 4561),
        ([error_info("QUOTA_EXHAUSTED", "10s"), retry_info("20s")], 20),
        ([error_info("QUOTA_EXHAUSTED", "garbage")], 60),
        ([retry_info("soon"), error_info("QUOTA_EXHAUSTED", "15s")], 15),
    ],
)
def test_cooldown_reads_structured_delays_rounded_up(details, expected):
    assert seconds(429, error_body(*details), max_seconds=10_000) == expected


@pytest.mark.parametrize(
    ("retry_after", "expected"), [(7, 7), (1, 2), ("7", 60), (True, 60), (-3, 60)]
)
def test_cooldown_reads_error_retry_after_field(retry_after, expected):
    body = error_body(error_info("QUOTA_EXHAUSTED"), retry_after=retry_after)
    assert seconds(429, body) == expected


@pytest.mark.parametrize("max_seconds", [1, 10, 300])
def test_cooldown_explicit_delay_is_capped(max_seconds):
    body = error_body(retry_info("3600s"))
    assert seconds(429, body, max_seconds=max_seconds) == max_seconds


@pytest.mark.parametrize(
    ("body", "reason", "expected_seconds"),
    [
        (QUOTA_BODY, Reason.QUOTA_EXHAUSTED, 60),
        (error_body(error_info("RATE_LIMIT_EXCEEDED")), Reason.RATE_LIMIT_EXCEEDED, 5),
        (CAPACITY_BODY, Reason.MODEL_CAPACITY_EXHAUSTED, 5),
        (
            "Resource has been exhausted (e.g. check quota). "
            "Quota limit 'Tokens per minute' exceeded.",
            Reason.RATE_LIMIT_EXCEEDED,
            30,
        ),
        (BARE_RESOURCE_EXHAUSTED, Reason.RATE_LIMIT_EXCEEDED, 30),
        ("Too Many Requests", Reason.RATE_LIMIT_EXCEEDED, 5),
        ("rate limited", Reason.RATE_LIMIT_EXCEEDED, 5),
        ("No capacity: MODEL_CAPACITY_EXHAUSTED", Reason.MODEL_CAPACITY_EXHAUSTED, 5),
        ("Quota exceeded for quota metric per day", Reason.QUOTA_EXHAUSTED, 60),
        ("RESOURCE_EXHAUSTED: daily quota reached", Reason.QUOTA_EXHAUSTED, 60),
        ("You have exhausted your capacity", Reason.QUOTA_EXHAUSTED, 60),
        ("something odd happened", Reason.UNKNOWN, 60),
        ("", Reason.UNKNOWN, 60),
        (
            error_body(error_info("SOMETHING_NEW"), message="rate limit"),
            Reason.RATE_LIMIT_EXCEEDED,
            5,
        ),
    ],
)
def test_cooldown_429_reason_and_default(body, reason, expected_seconds):
    cooldown = cooldown_from_error(429, {}, body)
    assert cooldown is not None
    assert (cooldown.reason, cooldown.seconds) == (reason, expected_seconds)
    assert cooldown.scope == "model"  # never the whole account: see blame.py


def test_cooldown_reads_reason_from_any_detail():
    body = error_body(retry_info("3s"), error_info("RATE_LIMIT_EXCEEDED"))
    cooldown = cooldown_from_error(429, {}, body)
    assert cooldown == Cooldown(3, Reason.RATE_LIMIT_EXCEEDED, "model")


def test_cooldown_accepts_error_wrapped_in_array():
    body = json.dumps([{"error": {"details": [retry_info("12s")]}}])
    assert seconds(429, body) == 12


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000,
        "{}",
        "[]",
        "null",
        '{"error": "flat"}',
        '{"error": {"details": 5}}',
    ],
)
def test_cooldown_survives_odd_bodies(body):
    assert cooldown_from_error(429, {}, body) == Cooldown(60, Reason.UNKNOWN, "model")


def test_cooldown_survives_huge_numbers_in_text():
    assert seconds(429, "wait " + "9" * 10_000 + "s", max_seconds=300) == 300


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.5s", 1.5),
        ("200ms", 0.2),
        ("1h16m0.667s", 4560.667),
        ("2h1m1s", 7261),
        ("1h30m", 5400),
        ("510.790006ms", 0.510790006),
        ("1.203608125s", 1.203608125),
        (" 42s ", 42),
        ("0s", 0),
        ("100us", 0.0001),
        ("invalid", None),
        ("", None),
        ("42", None),
        ("-5s", None),
        ("5 s", None),
        ("1d", None),
    ],
)
def test_parse_duration(text, expected):
    result = parse_duration(text)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Tue, 14 Nov 2023 22:15:20 GMT", 120),  # two minutes ahead
        ("Tue, 14 Nov 2023 22:13:20 GMT", 2),  # now: raised to the 2 s floor
        ("Tue, 14 Nov 2023 21:00:00 GMT", 2),  # already past: clock skew
        ("Tue, 14 Nov 2023 22:13:21 GMT", 2),
        ("Wed, 15 Nov 2023 22:13:20 GMT", 300),  # a day ahead: capped
        ("Fri, 31 Dec 9999 23:59:59 GMT", 300),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 2),
        ("Tue, 14 Nov 2023 22:15:20 +0100", 60),  # not GMT: not an HTTP-date
        ("Tue, 99 Nov 2023 22:15:20 GMT", 60),
        ("tomorrow", 60),
    ],
)
def test_cooldown_retry_after_http_date_uses_the_clock(value, expected):
    headers = {"Retry-After": value}
    assert seconds(429, QUOTA_BODY, headers, now=NOW, max_seconds=300) == expected


def test_cooldown_retry_after_http_date_without_clock_is_ignored():
    headers = {"Retry-After": "Tue, 14 Nov 2023 22:15:20 GMT"}
    assert seconds(429, QUOTA_BODY, headers) == 60


def test_live_records_drop_ended_and_impossibly_long_rests():
    records = {
        "ended": (999.0, "x"),
        "ends-now": (1000.0, "x"),
        "running": (1100.0, "x"),
        "at-the-cap": (1301.0, "x"),
        "past-the-cap": (1301.5, "x"),  # written before the clock stepped back
    }
    assert set(live_records(records, 1000.0, 300)) == {"running", "at-the-cap"}
