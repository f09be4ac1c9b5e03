"""Running independent per-frame or per-instance work on all the cores the run may use.

OpenCV and NumPy release Python's lock while they compute, so threads are enough. The number of
workers follows OpenCV's own thread setting, which a batch worker lowers to its share of the
machine: one clip per core then runs each clip's work in order, without oversubscribing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

import cv2

T = TypeVar("T")
R = TypeVar("R")


def thread_map(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[fn(x) for x in items]``, computed on OpenCV's number of threads, results in input order."""
    items = list(items)
    workers = min(len(items), max(1, cv2.getNumThreads()))
    if workers <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))
