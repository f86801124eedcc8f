"""``GatewayWorker.notify``: the master hears from the worker often enough, no more."""

from __future__ import annotations

import pytest

from antigravity_proxy import worker as worker_module
from antigravity_proxy.worker import GatewayWorker


class CountedTmp:
    def __init__(self) -> None:
        self.beats = 0

    def notify(self) -> None:
        self.beats += 1


def beats_at(monkeypatch, timeout: float, moments: list[float]) -> list[int]:
    """The heartbeat count after ``notify`` at each moment (monotonic seconds)."""
    gw = GatewayWorker.__new__(GatewayWorker)
    gw.timeout = timeout
    gw.tmp = CountedTmp()
    gw.last_heartbeat = float("-inf")
    counts = []
    for moment in moments:
        monkeypatch.setattr(worker_module.time, "monotonic", lambda m=moment: m)
        gw.notify()
        counts.append(gw.tmp.beats)
    return counts


@pytest.mark.parametrize(
    ("timeout", "moments", "expected"),
    [
        # gunicorn passes half of ``timeout`` (120 s -> 60): a beat a second at most
        (60.0, [10.0, 10.2, 10.9, 11.0, 11.5, 12.1], [1, 1, 1, 2, 2, 3]),
        # a short timeout beats at a quarter of it, well inside the master's limit
        (2.0, [0.0, 0.4, 0.5, 0.9, 1.0], [1, 1, 2, 2, 3]),
        # no timeout (0): the master never checks; a beat a second is plenty
        (0, [5.0, 5.5, 6.0], [1, 1, 2]),
    ],
)
def test_heartbeat_is_rate_limited(monkeypatch, timeout, moments, expected):
    assert beats_at(monkeypatch, timeout, moments) == expected


def test_first_call_always_beats(monkeypatch):
    assert beats_at(monkeypatch, 60.0, [0.0]) == [1]
