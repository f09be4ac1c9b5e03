"""Instance-aware structured video captions (InstanceCap JSON).

``agent.caption(path, **settings)`` captions one clip and ``agent.caption_many(paths, **settings)`` a
batch (see :mod:`agent.api`); ``python -m agent`` is the command line.
"""

from __future__ import annotations

from typing import Any

__all__ = ["caption", "caption_many"]


def __getattr__(name: str) -> Any:  # the API loads the run services only when it is used
    if name in __all__:
        from agent import api

        return getattr(api, name)
    raise AttributeError(f"module 'agent' has no attribute {name!r}")
