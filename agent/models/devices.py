"""Where models run and how long they stay loaded: one copy of each model per process (a batch
worker loads each model once), and the device picked for ``--device auto``."""

from __future__ import annotations

import threading
from typing import Callable, TypeVar

T = TypeVar("T")

_LOADED: dict[tuple, object] = {}
_LOADING = threading.RLock()


def keep_loaded(key: tuple, build: Callable[[], T]) -> T:
    """``build()`` once per process and ``key`` (a batch worker loads each model once); the first
    caller builds it while the others wait. A build that raises stores nothing."""
    with _LOADING:
        if key not in _LOADED:
            _LOADED[key] = build()
        return _LOADED[key]  # type: ignore[return-value]


def pick_device(preference: str = "auto") -> str:
    if preference != "auto":
        return preference
    try:
        import torch
    except ImportError:
        return "cpu"  # without torch no neural model runs; the caller's own import says what to install

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"
