"""Atomic writes: a writer killed mid-write never leaves a partial file behind."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time

import pytest

from antigravity_proxy.fsutil import write_atomic

PAYLOADS = [json.dumps({"n": n, "pad": "x" * 400_000}).encode() for n in range(2)]


def _write_forever(path) -> None:
    n = 0
    while True:
        write_atomic(path, PAYLOADS[n % 2])
        n += 1


@pytest.mark.parametrize("delay", [0.05, 0.11, 0.23])
def test_write_atomic_killed_writer_leaves_old_or_new_file(tmp_path, delay):
    path = tmp_path / "account.json"
    write_atomic(path, PAYLOADS[0])
    context = multiprocessing.get_context("fork")
    writer = context.Process(target=_write_forever, args=(path,))
    writer.start()
    time.sleep(delay)
    os.kill(writer.pid, signal.SIGKILL)
    writer.join(10)
    assert path.read_bytes() in PAYLOADS
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_write_atomic_failure_keeps_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "account.json"
    write_atomic(path, b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["account.json"]
