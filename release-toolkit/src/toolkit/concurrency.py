"""Running many independent calls at once (uploads, downloads, imports, copies); the first failure is re-raised
and, after a failure or an interruption, what has not started is not started."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_CONCURRENCY = 16


def run_concurrently(items: Iterable[T], work: Callable[[T], R], concurrency: int = DEFAULT_CONCURRENCY,
                     on_done: Callable[[T, R], None] | None = None) -> list[R]:
    """Apply ``work`` to every item on ``concurrency`` threads (1: one at a time), in item order."""
    items = list(items)
    if concurrency <= 1:
        results = []
        for item in items:
            results.append(work(item))
            if on_done:
                on_done(item, results[-1])
        return results

    def run(item: T) -> R:
        result = work(item)
        if on_done:
            on_done(item, result)
        return result

    pool = ThreadPoolExecutor(max_workers=concurrency)
    try:
        return list(pool.map(run, items))
    finally:  # after a failure or an interruption, what has not started is not started
        pool.shutdown(wait=True, cancel_futures=True)
