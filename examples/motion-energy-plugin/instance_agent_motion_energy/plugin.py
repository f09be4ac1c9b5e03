"""How busy a clip is: the mean absolute change between consecutive frames of the motion stream.

It shows each kind of hook a plugin can implement, each taking only the arguments it needs:
``register_tools`` (a tool the offline planner calls too), ``register_caption_sections`` and
``compose_sections`` (a "Motion Energy" section in the caption) and ``register_commands``
(``python -m agent motion-energy CLIP``).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from agent.core.hookspecs import hookimpl
from agent.core.tool import NoArgs, Observation, Tool

SECTION = "Motion Energy"


class MotionEnergy(BaseModel):
    mean_change: float  # mean absolute change per pixel between consecutive frames, 0-255
    word: str


def measure(frames: list[np.ndarray]) -> MotionEnergy:
    if len(frames) < 2:
        return MotionEnergy(mean_change=0.0, word="still")
    changes = [float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16)))) for a, b in zip(frames, frames[1:])]
    value = float(np.mean(changes))
    word = "calm" if value < 4 else "lively" if value < 12 else "busy"
    return MotionEnergy(mean_change=round(value, 2), word=word)


class MeasureMotionEnergy(Tool):
    name = "measure_motion_energy"
    description = "Measure how much the picture changes from frame to frame: calm, lively or busy."
    Args = NoArgs
    version = "1"
    evidence_model = MotionEnergy
    plan = 90  # the offline planner calls it after the built-in measurements

    def run(self, ctx, args) -> Observation:
        energy = measure(ctx.frames.motion.frames)
        return Observation({"motion_energy": energy.word, "mean_change": energy.mean_change}, energy)


@hookimpl
def register_tools():
    return [MeasureMotionEnergy()]


@hookimpl
def register_caption_sections():
    return {SECTION: None}


@hookimpl
def compose_sections(evidence):
    found = evidence.get(MeasureMotionEnergy.name)
    if not found:
        return {}
    return {SECTION: f"The picture is {found['word']} (mean change {found['mean_change']} per pixel between frames)."}


def _command(args) -> int:
    from agent.run.media import FrameStore

    energy = measure(FrameStore(args.video).motion.frames)
    print(f"{args.video}: {energy.word} ({energy.mean_change})")
    return 0


@hookimpl
def register_commands(subparsers):
    cmd = subparsers.add_parser("motion-energy", help="how busy a clip is (from the motion-energy plugin)")
    cmd.add_argument("video")
    cmd.set_defaults(handler=_command)
