"""Shared helpers for the benchmarks: timing (best of N), memory, table printing."""

from __future__ import annotations

import gc
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def best_of(n: int, fn, *args, **kwargs) -> tuple[float, object]:
    """The fastest of n runs (the least disturbed by other load), and the last result."""
    best, result = float("inf"), None
    for _ in range(n):
        gc.collect()
        t = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t)
    return best, result


def best_of_interleaved(n: int, contenders: dict[str, tuple]) -> tuple[dict[str, float], dict[str, object]]:
    """The fastest of n runs of each contender, taking turns (A, B, C, A, B, C, …) so that a slow
    spell of the machine hits them alike; and each one's last result. contenders: name -> (fn, *args)."""
    best = {name: float("inf") for name in contenders}
    results: dict[str, object] = {}
    for _ in range(n):
        for name, (fn, *args) in contenders.items():
            results.pop(name, None)  # freeing the previous run's result is not part of this run
            gc.collect()
            t = time.perf_counter()
            out = fn(*args)
            best[name] = min(best[name], time.perf_counter() - t)
            results[name] = out
    return best, results


def growth(n: int, small: list, large) -> float:
    """time(large) / time(small), where the small runs (callables, k of them, together as much work as
    the large one) are timed together against the large run, best of n, taking turns. Both then span the
    same seconds: timed alone, a short run can catch a quiet moment of the machine that a long run cannot,
    which biased the ratio upwards by as much as a fifth on these machines."""
    t, _ = best_of_interleaved(n, {"small": (lambda: [fn() for fn in small],), "large": (large,)})
    return t["large"] / (t["small"] / len(small))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in r] for r in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
