"""``heap.freeze_startup``: start-up objects leave the collector's generations."""

from __future__ import annotations

import gc

from antigravity_proxy import forksignals
from antigravity_proxy.heap import freeze_startup
from antigravity_proxy.server import before_fork


def test_freeze_startup_moves_live_objects_to_the_permanent_generation():
    gc.unfreeze()
    try:
        freeze_startup()
        assert gc.get_freeze_count() > 0
        assert gc.get_count()[0] < gc.get_freeze_count()
    finally:
        gc.unfreeze()


def test_pre_fork_hook_takes_the_masters_objects_out_of_every_collection():
    """What a worker inherits from the master is frozen: its collections skip it."""
    gc.unfreeze()
    built_by_master = [{"module": "state"}]
    try:
        before_fork(server=None, worker=None)
        assert all(obj is not built_by_master for obj in gc.get_objects())
    finally:
        forksignals.release()
        gc.unfreeze()
    assert any(obj is built_by_master for obj in gc.get_objects())
