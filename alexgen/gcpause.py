"""Pausing the cyclic garbage collector while alexgen builds many objects and no garbage cycles."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["without_gc_pauses"]


@contextmanager
def without_gc_pauses() -> Iterator[None]:
    """Build without the cyclic collector: building makes no garbage cycles, and the collector's passes over
    the growing heap made a 10,000-layer analysis 1.5x slower (174 vs 117 ms). Afterwards the objects made
    meanwhile join the oldest generation unscanned (freeze, then unfreeze), rather than in one young collection
    over all of them on the next allocation."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.enable()
            gc.unfreeze()
