"""Settings for long batch jobs (screening a registry, re-deriving endpoints for a trial).

A batch allocates millions of short-lived objects (outcomes, reasons, result rows) next to a
large, long-lived heap (protocols, compiled rules, pydantic validators). With CPython's default
collection threshold (700 allocations) the cyclic collector runs every few records and each
older-generation pass walks that long-lived heap again. ``batch_gc`` moves what exists into the
permanent generation (``gc.freeze``, CPython >= 3.7) and raises the thresholds while the batch
runs, then restores them; reference counting still frees every acyclic object at once, and the
collector still runs, only less often.

Reference: Python documentation, ``gc.freeze`` and ``gc.set_threshold``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

BATCH_THRESHOLDS = (20_000, 50, 100)


@contextmanager
def batch_gc(thresholds: tuple[int, int, int] = BATCH_THRESHOLDS) -> Iterator[None]:
    """Run the body with the long-lived heap frozen and higher collection thresholds."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


__all__ = ["BATCH_THRESHOLDS", "batch_gc"]
