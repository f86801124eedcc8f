"""Exchange: usage from upstream reports, the on_finish contract, request ids."""

from __future__ import annotations

import logging

import pytest

from antigravity_proxy import exchange as exchange_mod
from antigravity_proxy.exchange import (
    Ending,
    Exchange,
    Usage,
    exchange_of,
    request_id_from,
)
from antigravity_proxy.protocols.gemini.chunk import usage_from_metadata


def test_usage_takes_the_upstream_counts_and_later_reports_win():
    usage = Usage()
    usage.record(usage_from_metadata({"promptTokenCount": 10}))
    usage.record(None)
    assert usage.input_tokens == 10
    usage.record(
        usage_from_metadata(
            {
                "promptTokenCount": 12,
                "candidatesTokenCount": 7,
                "cachedContentTokenCount": 4,
                "thoughtsTokenCount": 3,
                "totalTokenCount": 26,
            }
        )
    )
    assert usage == Usage(12, 7, 4, 3, 0)


def test_usage_add_sums_parallel_calls():
    usage = Usage()
    usage.add(usage_from_metadata({"promptTokenCount": 5, "candidatesTokenCount": 2}))
    usage.add(usage_from_metadata({"promptTokenCount": 5, "thoughtsTokenCount": 1}))
    usage.add(None)
    assert usage == Usage(10, 2, 0, 1, 0)


def test_finish_runs_each_hook_once_in_order_then_the_global_ones(monkeypatch):
    seen: list[tuple[str, Ending | None, bool]] = []
    monkeypatch.setattr(
        exchange_mod,
        "FINISH_HOOKS",
        [lambda ex: seen.append(("global", ex.ending, ex.ended is not None))],
    )
    ex = Exchange("req_1")
    ex.on_finish.append(lambda e: seen.append(("first", e.ending, True)))
    ex.on_finish.append(lambda e: seen.append(("second", e.ending, True)))
    ex.finish()
    ex.finish()
    assert seen == [
        ("first", Ending.COMPLETE, True),
        ("second", Ending.COMPLETE, True),
        ("global", Ending.COMPLETE, True),
    ]


def test_a_failing_hook_is_logged_and_the_next_still_runs(caplog):
    ran = []
    ex = Exchange("req_2")
    ex.on_finish.append(lambda e: 1 / 0)
    ex.on_finish.append(lambda e: ran.append(e.request_id))
    with caplog.at_level(logging.ERROR):
        ex.finish()
    assert ran == ["req_2"]
    assert "on_finish hook failed [req_2]" in caplog.text


def test_the_first_ending_counts():
    ex = Exchange("req_3")
    ex.end(Ending.UPSTREAM_CUT)
    ex.end(Ending.CLIENT_GONE)
    ex.finish()
    assert ex.ending is Ending.UPSTREAM_CUT
    assert ex.duration() >= 0 and ex.ttfb() is None


def test_cancelled_follows_the_client_watch():
    gone = [False]
    ex = Exchange("req_4", client_gone=lambda: gone[0])
    assert not ex.cancelled
    gone[0] = True
    assert ex.cancelled
    gone[0] = False
    assert ex.cancelled  # once gone, gone


def test_exchange_of_makes_one_when_no_wrapper_did():
    environ: dict = {"HTTP_X_REQUEST_ID": "keep-me"}
    first = exchange_of(environ)
    assert first.request_id == "keep-me" and exchange_of(environ) is first


@pytest.mark.parametrize(
    "sent,kept",
    [("abc", True), ("A" * 128, True), ("A" * 129, False), ("x y", False), ("", False)],
)
def test_request_id_shape(sent, kept):
    rid = request_id_from({"HTTP_X_REQUEST_ID": sent})
    assert (rid == sent) is kept
