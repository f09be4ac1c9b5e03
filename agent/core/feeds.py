"""Frame feeds: what a tool asks of the run's one decode pass.

The decode pass knows no tool. A tool that must see frames as they stream past (every frame for the
shot finder, the motion stream for the camera's pair fits) declares a :class:`FrameFeed` in its
``feeds``; the run context hands the feeds of its tools to the frame store before it decodes, and the
pass starts one consumer per feed, pushes it its frames and keeps what ``finish`` returns, under the
feed's name, for the rest of the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Protocol

import numpy as np


class FrameConsumer(Protocol):
    """Fed frames in order while the clip is decoded; ``finish`` returns what it measured."""

    def push(self, image: np.ndarray, t: float) -> None: ...

    def finish(self, times: np.ndarray, duration_s: float) -> Any: ...


@dataclass(frozen=True)
class FrameFeed:
    """One consumer of the decode pass.

    ``frames``: ``"every"`` feeds each decoded frame, BGR, shrunk to ``width`` pixels on its long side
    (before the display rotation; ``times`` are then the times of every frame); ``"motion"`` feeds the
    motion stream's frames (the run's motion rate and width, upright; ``times`` are still those of
    every frame). ``start(fps)`` makes a fresh consumer for one pass, given the clip's frame rate.
    """

    name: str
    start: Callable[[float], FrameConsumer]
    frames: Literal["every", "motion"] = "motion"
    width: int = 160
