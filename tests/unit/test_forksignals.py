"""``forksignals``: a signal sent while a worker boots reaches the worker's handler.

Each case forks for real: the child stands in for a booting gunicorn worker (a
stop arrives before its own handlers exist), the parent for the master.
"""

from __future__ import annotations

import os
import signal

from antigravity_proxy import forksignals


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1024):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def test_a_stop_sent_during_boot_waits_for_the_workers_handler():
    read, write = os.pipe()
    forksignals.hold()
    pid = os.fork()
    if pid == 0:  # the booting worker
        try:
            os.close(read)
            os.kill(os.getpid(), signal.SIGTERM)  # the master's stop, too early
            signal.signal(signal.SIGTERM, lambda *_: os.write(write, b"handled"))
            os.write(write, b"booted;")
            forksignals.release()  # as GatewayWorker.init_signals does
        finally:
            os._exit(0)
    os.close(write)
    parent_mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    os.waitpid(pid, 0)
    # Unheld, the default action would have killed the child before "booted".
    assert _read_all(read) == b"booted;handled"
    assert not forksignals.HELD & parent_mask  # the master unblocked at once


def test_without_hold_the_early_stop_kills_the_child_unhandled():
    """The race the module closes, shown: the same child dies before booting."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            os.write(write, b"booted;")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert _read_all(read) == b""
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
