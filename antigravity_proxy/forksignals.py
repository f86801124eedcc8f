"""A signal sent to a worker while it is being born is kept, not lost.

gunicorn's master forks a worker, and the worker installs its own signal
handlers a few steps later (``Worker.init_signals``). In between, the child runs
the master's handlers: a SIGTERM the master forwards then (``serve`` stopped
right after its banner, while a worker boots) lands in the child's copy of the
arbiter's queue and is never acted on, so that worker serves on until the
master's ``graceful_timeout`` kills it, 30 s later.

So the master blocks gunicorn's signals for the fork itself (``hold``, from the
``pre_fork`` hook); the parent unblocks them as soon as ``fork`` returns (an
``os.register_at_fork`` handler), the child once its own handlers are in place
(``release``, from ``GatewayWorker.init_signals``). A signal that arrived in
between is pending, and is delivered to the right handler then.
"""

from __future__ import annotations

import os
import signal
from typing import Final

HELD: Final = frozenset(
    {
        signal.SIGHUP,
        signal.SIGQUIT,
        signal.SIGINT,
        signal.SIGTERM,
        signal.SIGTTIN,
        signal.SIGTTOU,
        signal.SIGUSR1,
        signal.SIGUSR2,
        signal.SIGWINCH,
    }
)
"""gunicorn's arbiter signals: every one the master handles or forwards."""


def hold() -> None:
    """Block ``HELD`` in this thread until the next ``fork`` returns here."""
    signal.pthread_sigmask(signal.SIG_BLOCK, HELD)


def release() -> None:
    """Unblock ``HELD``; any of them that arrived meanwhile is delivered now."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD)


# Every fork's parent unblocks (a no-op unless ``hold`` blocked).
os.register_at_fork(after_in_parent=release)
