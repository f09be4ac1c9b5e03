"""Calling a plugin's function with only the options it names, as pluggy does for hooks: a condition
reader that takes ``depth_convention`` gets it, a format writer that takes ``sections`` gets them, and
one that names neither is called with its positional arguments alone."""

from __future__ import annotations

import inspect
from typing import Any, Callable


def call_naming(fn: Callable[..., Any], *args: Any, **offered: Any) -> Any:
    """``fn(*args, **the offered options its signature names)``."""
    try:
        names = set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # a builtin or a callable without a signature: positional only
        names = set()
    return fn(*args, **{k: v for k, v in offered.items() if k in names})
