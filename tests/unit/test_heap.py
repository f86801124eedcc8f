"""``heap.freeze_startup``: start-up objects leave the collector's generations."""

from __future__ import annotations

import gc

from antigravity_proxy.heap import freeze_startup


def test_freeze_startup_moves_live_objects_to_the_permanent_generation():
    gc.unfreeze()
    try:
        freeze_startup()
        assert gc.get_freeze_count() > 0
        assert gc.get_count()[0] < gc.get_freeze_count()
    finally:
        gc.unfreeze()
