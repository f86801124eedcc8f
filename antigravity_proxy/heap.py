"""``freeze_startup``: keep what start-up built out of every later garbage collection.

Why: a worker holds tens of thousands of long-lived objects (modules, routes,
config, sessions) that the cyclic collector would otherwise walk in every full
collection, and an agent-sized request (hundreds of KB of parsed history) makes
full collections come every few requests: about 2 ms of CPU per such request
on the 2-core build machine, measured in-process. ``gc.freeze`` moves them to
the permanent generation, so a collection walks only what requests made. The
collection first makes sure no garbage is frozen along with them.

``server.before_fork`` (gunicorn's ``pre_fork`` hook) does the same in the master
before each fork. A worker then inherits the master's objects (every module,
imported once there) already frozen: its own start-up collection walks only what
the worker built, and no collection in a worker writes to the master's objects,
so their pages stay shared with it. On the build box a worker's collection took
40-50 ms right after the fork (walking, and copying, every inherited page); the
master's takes 20-30 ms, once, and a worker's then well under 1 ms.
"""

from __future__ import annotations

import gc


def freeze_startup() -> None:
    """Collect once, then freeze every object alive now (call after start-up)."""
    gc.collect()
    gc.freeze()
