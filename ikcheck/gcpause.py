"""Pausing Python's cyclic garbage collector around bulk work.

Building hundreds of thousands of small dicts makes the collector rescan every live object again and
again, so time grows faster than the input. Bulk paths (imports, rule evaluation) allocate no reference
cycles worth collecting mid-run, so they pause it and let it run once afterwards."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
