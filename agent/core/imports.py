"""A function whose module is imported when the function is first called.

Used where start-up time matters and the module is heavy: the built-in chat backends (LangChain,
about a second) and the CLI's commands (a command imports only what it runs: ``validate`` does not
import the caption graph). Everything else imports at module top.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, Callable


def on_first_use(module: str, function: str) -> Callable[..., Any]:
    """``module.function``, with ``module`` imported when it is first called."""
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(import_module(module), function)(*args, **kwargs)

    call.__qualname__ = call.__name__ = f"{module}.{function}"
    return call
