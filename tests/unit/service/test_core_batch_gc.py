"""batch_gc: the collector is tuned for a batch and put back exactly as it was afterwards."""

from __future__ import annotations

import gc

import pytest

from oligotrial.service.batch import BATCH_THRESHOLDS, batch_gc


def test_batch_gc_freezes_the_heap_raises_thresholds_and_restores_them():
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with batch_gc():
        assert gc.get_threshold() == BATCH_THRESHOLDS
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_batch_gc_restores_after_an_error():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), batch_gc():
        raise RuntimeError("a record failed")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_cyclic_garbage_made_during_a_batch_is_still_collected():
    class Node:
        pass

    with batch_gc():
        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
        assert gc.collect() >= 2
