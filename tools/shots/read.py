"""What the tools read of the run's shots: the shot finder's result, fed by the decode pass
(:data:`tools.shots.finder.SHOT_FEED`), against the run's motion stream and sampled frames."""

from __future__ import annotations

import numpy as np

from tools.shots.finder import SHOT_FEED
from tools.shots.spans import Shots


def clip_shots(ctx) -> Shots:
    """The run's shots (found during the decode pass)."""
    return ctx.frames.streamed(SHOT_FEED)


def motion_shots(ctx) -> np.ndarray:
    """Shot number of each frame of the run's motion stream (a frame in a transition: the nearer shot)."""
    shots, motion = ctx.frames.streamed(SHOT_FEED), ctx.frames.motion
    return np.array([shots.shot_of(i) for i in motion.indices], dtype=int)


def motion_in_transition(ctx) -> np.ndarray:
    """Whether each motion frame lies in a transition (a camera fit must not use it)."""
    shots, motion = ctx.frames.streamed(SHOT_FEED), ctx.frames.motion
    return np.array([shots.in_transition(i) for i in motion.indices], dtype=bool)


def sample_shots(ctx) -> list[int]:
    """Shot number of each sampled frame."""
    shots = ctx.frames.streamed(SHOT_FEED)
    return [shots.shot_of(f.index) for f in ctx.frames.sampled]


def cut_times(ctx) -> list[float]:
    """When each shot after the first starts, in seconds."""
    return ctx.frames.streamed(SHOT_FEED).starts_s()[1:]
