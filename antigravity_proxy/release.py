"""``MemoryRelease``: give memory a worker no longer uses back to the system.

Why: after large or odd requests a worker's RSS stayed hundreds of MiB above
where it started (33 → ~700 MB after 11,000 fuzzed requests). Two things held
it: garbage in reference cycles (an exception's traceback keeps the frames that
held a request body alive until a full collection, which may not come for a long
time) and glibc's allocator, which keeps freed heap pages and raises its mmap
threshold after large frees. So after a burst of request bytes (and now and then
after any traffic) the worker's main loop runs a full ``gc.collect()`` and
``malloc_trim(0)``: the first frees the cycles, the second returns the free
pages. Both cost milliseconds, hence at most once per ``min_gap`` seconds.
"""

from __future__ import annotations

import ctypes
import gc
import time
from collections.abc import Callable
from typing import Final

# Request bytes received since the last release that make the next one due.
BURST_BYTES: Final = 8 * 1024 * 1024
MIN_GAP: Final = 1.0
IDLE_GAP: Final = 60.0


def malloc_trim() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)``; None where the C library has none (musl, macOS).

    Looked up among the symbols the process already loaded (``CDLL(None)``):
    ``ctypes.util.find_library`` runs ``ldconfig -p`` in a subprocess, about
    20 ms of every worker's start-up.
    """
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is None:
        return None
    return lambda: trim(0)


class MemoryRelease:
    """Counts request bytes; ``maybe_release`` runs the release when due."""

    def __init__(
        self,
        trim: Callable[[], object] | None = None,
        collect: Callable[[], object] = gc.collect,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.trim = trim
        self.collect = collect
        self.clock = clock
        self.bytes = 0
        self.requests = 0
        self.last = clock()
        self.releases = 0

    def count(self, size: int) -> None:
        self.bytes += size
        self.requests += 1

    def due(self) -> bool:
        gap = self.clock() - self.last
        if self.bytes >= BURST_BYTES:
            return gap >= MIN_GAP
        return self.requests > 0 and gap >= IDLE_GAP

    def maybe_release(self) -> bool:
        if not self.due():
            return False
        self.collect()
        if self.trim is not None:
            self.trim()
        self.bytes = self.requests = 0
        self.last = self.clock()
        self.releases += 1
        return True
